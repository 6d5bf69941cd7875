//! RESP, Redis' reply protocol: one reply parsed from the bytes read so far (resumably, so a
//! reply that arrives in many pieces is parsed once), and written as the text lines a recipe
//! reads.
//!
//! A bulk string (`INFO`'s text) is written as it is. Any other reply is written as
//! `key:value` lines, the shape of `INFO`'s own lines: an integer or status (`SLOWLOG LEN`'s
//! `:3`) as `value:3`; a reply that is an array of an even number of strings (`CONFIG GET`'s,
//! `HGETALL`'s) as one line per pair (`io-threads:1`); any other array by position, nested
//! arrays (always by position) joined by dots (`SLOWLOG GET 1`: `0.0:12`, `0.2:15`). The server's text is kept to one line, so a
//! value cannot add lines of its own (a key written into the slow log).
// Reply bytes are the app's: an index or slice that can panic is a crash on its data.
#![warn(clippy::indexing_slicing)]

/// Longest RESP header, status or error line taken (`-WRONGPASS invalid username-password
/// pair or user is disabled.` is 62 bytes); past it the reply is not RESP.
pub const LINE_LIMIT: usize = 1024;
/// Arrays nested deeper than this are refused (`SLOWLOG GET` nests 2).
const MAX_DEPTH: usize = 8;
/// Elements of one reply, nested ones included: bounds the memory a reply's tree takes
/// (`CONFIG GET *` has about 400, `SLOWLOG GET 128` some thousands).
pub const MAX_ELEMENTS: usize = 100_000;

/// One reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `+OK`
    Status(String),
    /// `-ERR ...`, as the server wrote it (without the `-`).
    Error(String),
    Integer(i64),
    /// `$<len>`; `$-1` is `None`.
    Bulk(Option<Vec<u8>>),
    /// `*<n>`; `*-1` is `None`.
    Array(Option<Vec<Value>>),
}

/// Why a reply cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RespError {
    #[error("reply does not start with a RESP header")]
    NoHeader,
    #[error("expected a RESP reply, got {0}")]
    NotResp(String),
    #[error("RESP arrays nested more than {MAX_DEPTH} deep")]
    TooDeep,
    #[error("RESP reply of more than {MAX_ELEMENTS} elements")]
    TooMany,
}

/// An array being filled: elements still to come, those read.
#[derive(Debug)]
struct Open {
    left: usize,
    items: Vec<Value>,
}

/// Parses one reply out of bytes that arrive in pieces: [`Parser::advance`] takes what has
/// arrived, returns the reply once it is whole, and otherwise resumes where it stopped.
#[derive(Debug, Default)]
pub struct Parser {
    /// Where the next element starts in the buffer.
    pub pos: usize,
    open: Vec<Open>,
    elements: usize,
}

/// One element: a whole scalar, or an array's header.
enum Item {
    Value(Value),
    Array(usize),
}

impl Parser {
    /// The reply, once `buf` (from [`Parser::pos`] on, as it was left) holds all of it; `None`
    /// while more bytes are needed.
    pub fn advance(&mut self, buf: &[u8]) -> Result<Option<Value>, RespError> {
        loop {
            let Some((item, used)) = item(buf.get(self.pos..).unwrap_or_default())? else {
                return Ok(None);
            };
            self.pos += used;
            self.elements += 1;
            if self.elements > MAX_ELEMENTS {
                return Err(RespError::TooMany);
            }
            let mut value = match item {
                Item::Array(n) if n > 0 => {
                    if self.open.len() >= MAX_DEPTH {
                        return Err(RespError::TooDeep);
                    }
                    let items = Vec::with_capacity(n.min(1024));
                    self.open.push(Open { left: n, items });
                    continue;
                }
                Item::Array(_) => Value::Array(Some(Vec::new())),
                Item::Value(v) => v,
            };
            // A finished element fills its array, which may finish its own.
            loop {
                let Some(open) = self.open.last_mut() else {
                    return Ok(Some(value));
                };
                open.items.push(value);
                open.left -= 1;
                if open.left > 0 {
                    break;
                }
                let done = self.open.pop().map(|o| o.items).unwrap_or_default();
                value = Value::Array(Some(done));
            }
        }
    }
}

/// The element at the start of `buf` and its length, or `None` when it is not all there.
fn item(buf: &[u8]) -> Result<Option<(Item, usize)>, RespError> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() > LINE_LIMIT {
            return Err(RespError::NoHeader);
        }
        return Ok(None);
    };
    if end > LINE_LIMIT {
        return Err(RespError::NoHeader);
    }
    let line = String::from_utf8_lossy(buf.get(..end).unwrap_or_default());
    let after = end + 2;
    let bad = || RespError::NotResp(crate::text::excerpt(&line));
    let (kind, rest) = line.split_at_checked(1).ok_or_else(bad)?;
    let length = |rest: &str| -> Result<Option<usize>, RespError> {
        match rest {
            "-1" => Ok(None),
            n => n.parse().map(Some).map_err(|_| bad()),
        }
    };
    let item = match kind {
        "+" => Item::Value(Value::Status(rest.to_string())),
        "-" => Item::Value(Value::Error(rest.to_string())),
        ":" => Item::Value(Value::Integer(rest.parse().map_err(|_| bad())?)),
        "*" => match length(rest)? {
            Some(n) => Item::Array(n),
            None => Item::Value(Value::Array(None)),
        },
        "$" => match length(rest)? {
            None => Item::Value(Value::Bulk(None)),
            Some(n) => {
                let total = after.checked_add(n).and_then(|t| t.checked_add(2));
                let Some(payload) = total.and_then(|t| buf.get(after..t)) else {
                    return Ok(None);
                };
                let (payload, crlf) = payload.split_at(n);
                if crlf != b"\r\n" {
                    return Err(bad());
                }
                return Ok(Some((
                    Item::Value(Value::Bulk(Some(payload.to_vec()))),
                    after + n + 2,
                )));
            }
        },
        _ => return Err(bad()),
    };
    Ok(Some((item, after)))
}

/// The reply as text lines a `kv` recipe reads (see the module doc), into `out`.
pub fn render(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Bulk(Some(text)) => {
            out.extend_from_slice(text);
            if !text.is_empty() && !text.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
        other => lines("", other, out),
    }
}

/// `value`'s lines under `key`; the reply itself has the empty key.
fn lines(key: &str, value: &Value, out: &mut Vec<u8>) {
    let mut line = |k: &str, v: &str| {
        let k = if k.is_empty() { "value" } else { k };
        out.extend_from_slice(format!("{}:{}\n", one_line(k, true), one_line(v, false)).as_bytes());
    };
    match value {
        Value::Status(s) | Value::Error(s) => line(key, s),
        Value::Integer(n) => line(key, &n.to_string()),
        Value::Bulk(Some(b)) => line(key, &String::from_utf8_lossy(b)),
        Value::Bulk(None) | Value::Array(None) => {}
        Value::Array(Some(items)) => {
            let join = |k: &str| match key {
                "" => k.to_string(),
                _ => format!("{key}.{k}"),
            };
            if let Some(pairs) = string_pairs(items).filter(|_| key.is_empty()) {
                for (k, v) in pairs {
                    lines(&join(&k), v, out);
                }
            } else {
                for (i, item) in items.iter().enumerate() {
                    lines(&join(&i.to_string()), item, out);
                }
            }
        }
    }
}

/// An even number of strings, as pairs; `None` for any other array.
fn string_pairs(items: &[Value]) -> Option<Vec<(String, &Value)>> {
    if items.is_empty() || items.len() % 2 != 0 {
        return None;
    }
    items
        .chunks(2)
        .map(|pair| match pair {
            [Value::Bulk(Some(k)), v @ (Value::Bulk(_) | Value::Status(_))] => {
                Some((String::from_utf8_lossy(k).into_owned(), v))
            }
            _ => None,
        })
        .collect()
}

/// A server's text on one line: control characters (a line break) become spaces, and in a
/// key the separator becomes `_`, so nothing it holds can start a line or split a key.
fn one_line(text: &str, key: bool) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_control() => ' ',
            ':' if key => '_',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `bytes` fed one byte at a time, as a slow server sends them.
    fn parse_slowly(bytes: &[u8]) -> Result<Option<Value>, RespError> {
        let mut p = Parser::default();
        for n in 0..=bytes.len() {
            if let Some(v) = p.advance(&bytes[..n])? {
                assert_eq!(p.pos, n, "the reply ends where its last byte is");
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    fn text(bytes: &[u8]) -> String {
        let v = parse_slowly(bytes).unwrap().unwrap();
        let mut out = Vec::new();
        render(&v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn replies_of_every_type_become_lines() {
        assert_eq!(text(b"$13\r\n# Server\r\na:1\r\n"), "# Server\r\na:1\n");
        assert_eq!(text(b":3\r\n"), "value:3\n");
        assert_eq!(text(b"+OK\r\n"), "value:OK\n");
        assert_eq!(text(b"$-1\r\n"), "");
        assert_eq!(text(b"*0\r\n"), "");
        assert_eq!(
            text(b"*4\r\n$10\r\nio-threads\r\n$1\r\n1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"),
            "io-threads:1\nmaxmemory:0\n"
        );
        // An entry of SLOWLOG GET: numbers and an array of arguments, by position.
        assert_eq!(
            text(b"*1\r\n*6\r\n:7\r\n:1700000000\r\n:15\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n$15\r\n127.0.0.1:50000\r\n$0\r\n\r\n"),
            "0.0:7\n0.1:1700000000\n0.2:15\n0.3.0:GET\n0.3.1:k\n0.4:127.0.0.1:50000\n0.5:\n"
        );
    }

    #[test]
    fn the_servers_text_cannot_add_lines_or_keys() {
        // A key written into the slow log: `SET "x\r\nused_memory:1" ...`.
        assert_eq!(
            text(b"*2\r\n$16\r\nx\r\nused_memory:1\r\n$1\r\n5\r\n"),
            "x  used_memory_1:5\n"
        );
    }

    #[test]
    fn bad_replies_are_refused_not_guessed() {
        assert_eq!(
            parse_slowly(b"hello\r\n"),
            Err(RespError::NotResp("\"hello\"".into()))
        );
        assert_eq!(
            parse_slowly(b":x\r\n"),
            Err(RespError::NotResp("\":x\"".into()))
        );
        assert_eq!(
            parse_slowly(b"$3\r\nabcd\r\n"),
            Err(RespError::NotResp("\"$3\"".into()))
        );
        assert_eq!(parse_slowly(&[b'+'; 2000]), Err(RespError::NoHeader));
        let deep = "*1\r\n".repeat(MAX_DEPTH + 1);
        assert_eq!(parse_slowly(deep.as_bytes()), Err(RespError::TooDeep));
        let mut many = format!("*{}\r\n", MAX_ELEMENTS + 1).into_bytes();
        many.extend(":1\r\n".repeat(MAX_ELEMENTS + 1).as_bytes());
        let mut p = Parser::default();
        assert_eq!(p.advance(&many), Err(RespError::TooMany));
        // Incomplete is not an error: more may come.
        assert_eq!(parse_slowly(b"*2\r\n:1\r\n"), Ok(None));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]

        /// Any bytes, arriving in two pieces split anywhere, parse as they do whole: the
        /// same reply or the same refusal, never a panic; and a reply's text never holds a
        /// line that does not start with its key (a bulk string aside).
        #[test]
        fn pieces_parse_as_the_whole(
            data in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(b"*2\r\n".to_vec()),
                proptest::strategy::Just(b"$3\r\na\nb\r\n".to_vec()),
                proptest::strategy::Just(b":-7\r\n".to_vec()),
                proptest::strategy::Just(b"+OK\r\n".to_vec()),
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..6),
            ], 0..8),
            split in 0usize..64,
        ) {
            let data: Vec<u8> = data.concat();
            let whole = Parser::default().advance(&data);
            let split = split.min(data.len());
            let mut p = Parser::default();
            let pieces = match p.advance(&data[..split]) {
                Ok(None) => p.advance(&data),
                done => done,
            };
            proptest::prop_assert_eq!(&pieces, &whole);
            if let Ok(Some(v @ (Value::Array(_) | Value::Integer(_) | Value::Status(_)))) = &whole {
                let mut out = Vec::new();
                render(v, &mut out);
                for line in String::from_utf8_lossy(&out).lines() {
                    let key = line.split(':').next().unwrap_or_default();
                    proptest::prop_assert!(
                        key == "value" || key.split('.').next().is_some_and(|k| !k.is_empty()),
                        "{line:?}"
                    );
                }
            }
        }
    }
}
