//! `log_format`: an app's own access log format string (nginx `log_format`, Apache
//! `LogFormat`), compiled into the pattern of a line recipe's one `[[regex.rule]]`.
//!
//! The recipe declares, in `[log_format]`, its syntax and the variables it knows, each with
//! the pattern that matches it; those patterns carry the recipe's own named captures
//! (`$status` -> `(?P<status>...)`), so its `[mapping]` reads a custom format unchanged.
//! Any other variable is matched and skipped: up to the first character of the literal
//! text after it (as prometheus-nginxlog-exporter reads a format), with Apache's `\"`
//! escapes allowed inside. Two variables with nothing between them cannot be told apart,
//! so such a format is refused, naming the variable.

use std::collections::BTreeMap;

use regex::Regex;

use crate::parse::{ErrorKind, RecipeError};
use serde::Deserialize;

/// `[log_format]` in a recipe, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// `"nginx"` (`$name`, `${name}`) or `"apache"` (`%h`, `%>s`, `%{Referer}i`).
    pub syntax: String,
    /// The variables the recipe knows (nginx: the name without `$`; Apache: the directive
    /// without `%` and without a `<`/`>` modifier, `s`, `{ms}T`), each with its pattern.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Nginx,
    Apache,
}

/// A recipe's `[log_format]`, checked.
#[derive(Debug, Clone)]
pub struct LogFormat {
    syntax: Syntax,
    variables: BTreeMap<String, String>,
}

/// Why a format string cannot be compiled; shown after `sources.NAME.log_format: `.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    #[error("{0}: a variable without a name")]
    NoName(String),
    #[error("{0}: no closing `}}`")]
    Unclosed(String),
    #[error("{0}: not an Apache LogFormat directive (%h, %>s, %{{Referer}}i ...)")]
    NotADirective(String),
    #[error(
        "{0} is followed directly by {1}: with nothing between them, where one ends cannot \
         be told; put the text the app writes between them"
    )]
    Adjacent(String, String),
    #[error("the format names no variable")]
    NoVariable,
    #[error("recipe {0:?} has no [log_format]: its pattern is fixed (nginx_access and apache_access have one)")]
    NotDeclared(String),
    /// The recipe's own patterns did not fit together (a recipe bug, found by `check`).
    #[error("the recipe's [log_format] patterns make a bad recipe: {0}")]
    Recipe(String),
}

/// One piece of a format string.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// As written (`$status`, `%>s`) and its key among the recipe's variables.
    Var {
        written: String,
        key: String,
    },
}

impl LogFormat {
    /// Checks a recipe's `[log_format]`: a known syntax, and each pattern valid alone.
    pub fn new(options: Options) -> Result<LogFormat, RecipeError> {
        let syntax = match options.syntax.as_str() {
            "nginx" => Syntax::Nginx,
            "apache" => Syntax::Apache,
            other => {
                return Err(RecipeError::new(
                    ErrorKind::UnknownName,
                    format!("{other:?}; expected \"nginx\" or \"apache\""),
                )
                .at("log_format.syntax"))
            }
        };
        for (name, pattern) in &options.variables {
            Regex::new(pattern).map_err(|e| {
                RecipeError::new(ErrorKind::Pattern, e.to_string())
                    .at(format!("log_format.variables.{name}"))
            })?;
        }
        Ok(LogFormat {
            syntax,
            variables: options.variables,
        })
    }

    /// The anchored pattern that reads lines written in `format`.
    pub fn compile(&self, format: &str) -> Result<String, FormatError> {
        let pieces = match self.syntax {
            Syntax::Nginx => nginx_pieces(format)?,
            Syntax::Apache => apache_pieces(format)?,
        };
        if !pieces.iter().any(|p| matches!(p, Piece::Var { .. })) {
            return Err(FormatError::NoVariable);
        }
        let mut pattern = String::from("^");
        let mut captured: Vec<String> = Vec::new();
        let mut rest = pieces.iter().peekable();
        while let Some(piece) = rest.next() {
            let (written, key) = match piece {
                Piece::Text(text) => {
                    pattern.push_str(&regex::escape(text));
                    continue;
                }
                Piece::Var { written, key } => (written, key),
            };
            let next = rest.peek();
            if let Some(Piece::Var { written: other, .. }) = next {
                return Err(FormatError::Adjacent(written.clone(), other.clone()));
            }
            let known = self.variables.get(key).filter(|p| {
                // A variable written twice: its captures are taken by the first.
                let names = capture_names(p);
                !names.iter().any(|n| captured.contains(n))
            });
            match known {
                Some(p) => {
                    captured.extend(capture_names(p));
                    pattern.push_str(&format!("(?:{p})"));
                }
                None => {
                    let until = match next {
                        Some(Piece::Text(t)) => t.chars().next(),
                        _ => None,
                    };
                    pattern.push_str(&self.skip(until));
                }
            }
        }
        pattern.push('$');
        Ok(pattern)
    }

    /// What an unknown variable matches: anything up to `until` (the character after it),
    /// or to the end of the line. Apache writes a quote inside a field as `\"`.
    fn skip(&self, until: Option<char>) -> String {
        match (until, self.syntax) {
            (None, _) => ".*".into(),
            (Some(c), Syntax::Nginx) => format!("[^{}]*", class_escape(c)),
            (Some(c), Syntax::Apache) => format!("(?:[^{}\\\\]|\\\\.)*", class_escape(c)),
        }
    }
}

/// The named captures of a (valid) pattern.
fn capture_names(pattern: &str) -> Vec<String> {
    Regex::new(pattern).map_or_else(
        |_| Vec::new(),
        |r| r.capture_names().flatten().map(str::to_string).collect(),
    )
}

/// `c` as a member of a regex character class (escaped where it would mean something
/// there: `]`, `\`, `^`, `-`, and `[`, `&`, `~` of the class set operations).
fn class_escape(c: char) -> String {
    if "]\\^-[&~".contains(c) {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

/// `$name` and `${name}` (letters, digits, `_`); any other text is literal.
fn nginx_pieces(format: &str) -> Result<Vec<Piece>, FormatError> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = format.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c != '$' {
            text.push(c);
            continue;
        }
        let braced = chars.next_if(|(_, c)| *c == '{').is_some();
        let mut name = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| c.is_ascii_alphanumeric() || *c == '_') {
            name.push(c);
        }
        let written = if braced {
            format!("${{{name}")
        } else {
            format!("${name}")
        };
        if name.is_empty() {
            return Err(FormatError::NoName(written));
        }
        if braced && chars.next_if(|(_, c)| *c == '}').is_none() {
            return Err(FormatError::Unclosed(written));
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Var {
            written: format!("${name}"),
            key: name,
        });
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// `%%`, and `%[<>][{arg}]X` (X a letter); any other text is literal. A directive with a
/// status condition (`%400,501{User-agent}i`) may be written as `-`: it is matched and
/// skipped whatever its letter.
fn apache_pieces(format: &str) -> Result<Vec<Piece>, FormatError> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            text.push(c);
            continue;
        }
        if chars.next_if_eq(&'%').is_some() {
            text.push('%');
            continue;
        }
        let mut written = String::from("%");
        let mut conditional = false;
        while let Some(c) = chars.next_if(|c| c.is_ascii_digit() || *c == ',' || *c == '!') {
            written.push(c);
            conditional = true;
        }
        let modifier = chars.next_if(|c| *c == '<' || *c == '>');
        written.extend(modifier);
        let mut key = String::new();
        if chars.next_if_eq(&'{').is_some() {
            key.push('{');
            loop {
                match chars.next() {
                    Some('}') => break,
                    Some(c) => key.push(c),
                    None => return Err(FormatError::Unclosed(format!("{written}{key}"))),
                }
            }
            key.push('}');
        }
        match chars.next_if(char::is_ascii_alphabetic) {
            Some(letter) => key.push(letter),
            None => {
                let next: String = chars.peek().map(char::to_string).unwrap_or_default();
                return Err(FormatError::NotADirective(format!("{written}{key}{next}")));
            }
        }
        written.push_str(&key);
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        if conditional {
            key = format!("(conditional){key}");
        }
        pieces.push(Piece::Var { written, key });
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

#[cfg(test)]
mod tests;
