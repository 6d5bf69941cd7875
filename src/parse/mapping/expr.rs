//! `value = "bytes_out - bytes_body"`: arithmetic a rule does on a record, over its own
//! value (`value`), its labels (a log line's captures, a row's label fields) and numbers,
//! with `+ - * /` and parentheses. What logs write in two places (a response's size with and
//! without its header, a session's start and end) becomes the one number a metric counts.

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    Number(f64),
    /// `value` (the record's own) or a label's name.
    Name(String),
    Negate(Box<Expr>),
    Binary(Box<Expr>, Op, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

/// The longest expression a recipe may write: enough for any sum of captures, and a bound
/// on the recursion of the parser below.
const MAX_LEN: usize = 256;

impl Expr {
    pub(super) fn parse(text: &str) -> Result<Expr, String> {
        if text.len() > MAX_LEN {
            return Err(format!("longer than {MAX_LEN} characters"));
        }
        let tokens = tokens(text)?;
        let mut at = 0;
        let e = sum(&tokens, &mut at)?;
        match tokens.get(at) {
            None => Ok(e),
            Some(t) => Err(format!("unexpected {t} in {text:?}")),
        }
    }

    /// The names it reads, each once, in order.
    pub(super) fn names(&self, out: &mut Vec<String>) {
        match self {
            Expr::Number(_) => {}
            Expr::Name(n) => {
                if !out.contains(n) {
                    out.push(n.clone());
                }
            }
            Expr::Negate(e) => e.names(out),
            Expr::Binary(a, _, b) => {
                a.names(out);
                b.names(out);
            }
        }
    }

    /// Its value, `name` giving each name's; `Err` names what could not be read.
    pub(super) fn eval(
        &self,
        name: &mut dyn FnMut(&str) -> Result<f64, String>,
    ) -> Result<f64, String> {
        Ok(match self {
            Expr::Number(n) => *n,
            Expr::Name(n) => name(n)?,
            Expr::Negate(e) => -e.eval(name)?,
            Expr::Binary(a, op, b) => {
                let (a, b) = (a.eval(name)?, b.eval(name)?);
                match op {
                    Op::Add => a + b,
                    Op::Sub => a - b,
                    Op::Mul => a * b,
                    Op::Div if b == 0.0 => return Err("division by zero".into()),
                    Op::Div => a / b,
                }
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Name(String),
    Op(char),
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Number(n) => write!(f, "{n}"),
            Token::Name(n) => write!(f, "{n:?}"),
            Token::Op(c) => write!(f, "'{c}'"),
        }
    }
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            ' ' | '\t' => {}
            '+' | '-' | '*' | '/' | '(' | ')' => out.push(Token::Op(c)),
            '0'..='9' | '.' => {
                let mut n = String::from(c);
                while let Some((_, d)) =
                    chars.next_if(|(_, d)| d.is_ascii_digit() || *d == '.' || *d == 'e')
                {
                    n.push(d);
                }
                let v = crate::parse::number::parse(&n)
                    .ok_or_else(|| format!("{n:?} is not a number"))?;
                out.push(Token::Number(v));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut n = String::from(c);
                while let Some((_, d)) =
                    chars.next_if(|(_, d)| d.is_ascii_alphanumeric() || *d == '_')
                {
                    n.push(d);
                }
                out.push(Token::Name(n));
            }
            c => {
                return Err(format!(
                    "unexpected {c:?} in {text:?} (names, numbers, + - * / and parentheses)"
                ))
            }
        }
    }
    Ok(out)
}

fn sum(t: &[Token], at: &mut usize) -> Result<Expr, String> {
    let mut e = product(t, at)?;
    while let Some(Token::Op(c @ ('+' | '-'))) = t.get(*at) {
        let op = if *c == '+' { Op::Add } else { Op::Sub };
        *at += 1;
        e = Expr::Binary(Box::new(e), op, Box::new(product(t, at)?));
    }
    Ok(e)
}

fn product(t: &[Token], at: &mut usize) -> Result<Expr, String> {
    let mut e = unary(t, at)?;
    while let Some(Token::Op(c @ ('*' | '/'))) = t.get(*at) {
        let op = if *c == '*' { Op::Mul } else { Op::Div };
        *at += 1;
        e = Expr::Binary(Box::new(e), op, Box::new(unary(t, at)?));
    }
    Ok(e)
}

fn unary(t: &[Token], at: &mut usize) -> Result<Expr, String> {
    let token = t.get(*at).cloned();
    *at += 1;
    match token {
        Some(Token::Op('-')) => Ok(Expr::Negate(Box::new(unary(t, at)?))),
        Some(Token::Number(n)) => Ok(Expr::Number(n)),
        Some(Token::Name(n)) => Ok(Expr::Name(n)),
        Some(Token::Op('(')) => {
            let e = sum(t, at)?;
            match t.get(*at) {
                Some(Token::Op(')')) => {
                    *at += 1;
                    Ok(e)
                }
                _ => Err("a '(' is not closed".into()),
            }
        }
        Some(other) => Err(format!("unexpected {other}")),
        None => Err("ends where a name or number belongs".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::Expr;

    fn eval(text: &str, vars: &[(&str, f64)]) -> Result<f64, String> {
        Expr::parse(text)?.eval(&mut |n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| *v)
                .ok_or_else(|| format!("no {n}"))
        })
    }

    #[test]
    fn arithmetic_over_names_and_numbers() {
        let v = [("bytes_out", 700.0), ("bytes_body", 612.0), ("value", 3.0)];
        assert_eq!(eval("bytes_out - bytes_body", &v), Ok(88.0));
        assert_eq!(eval("value * 2 + 1", &v), Ok(7.0));
        assert_eq!(eval("(bytes_out - bytes_body) / 8", &v), Ok(11.0));
        assert_eq!(eval("-value + 1e3", &v), Ok(997.0));
        assert_eq!(eval("value / 0", &v), Err("division by zero".into()));
        let mut names = Vec::new();
        Expr::parse("a - b + a * 2").unwrap().names(&mut names);
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn bad_expressions_say_where() {
        assert_eq!(
            Expr::parse("a -"),
            Err("ends where a name or number belongs".into())
        );
        assert_eq!(Expr::parse("(a - b"), Err("a '(' is not closed".into()));
        assert_eq!(
            Expr::parse("a b"),
            Err("unexpected \"b\" in \"a b\"".into())
        );
        assert!(Expr::parse("a % b").unwrap_err().contains("unexpected '%'"));
        assert!(Expr::parse(&"(".repeat(300))
            .unwrap_err()
            .contains("longer than"));
    }
}
