//! `[[request]]`: what a request/reply source (`type = "tcp"`) sends to the app and how each
//! reply is framed, so `address` and `parser` are a whole config. The first request's reply
//! is read as it is; each later one's reaches the recipe as its own section, whose records'
//! keys start with the section's name (`slowlog_length.value`, `slabs.1:chunk_size`).
//!
//! Authentication is not here: a password is the source's (`auth`, `secret_file`). The
//! [`Request`]s and their [`Framing`] are defined here, below the sources that send them.

use serde::Deserialize;

use crate::parse::format::Format;
use crate::parse::RecipeError;

/// Where a reply ends: at the connection's close, at a terminator (`END\r\n`), or after
/// one RESP reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    Close,
    Until(Vec<u8>),
    Resp,
}

impl Framing {
    /// From the `framing` and `until` keys (a source's or a recipe request's); an error is
    /// the key at fault and why.
    pub fn from_keys(
        framing: Option<&str>,
        until: Option<&str>,
    ) -> Result<Framing, (&'static str, String)> {
        Ok(match (framing, until) {
            (None | Some("until"), Some(u)) if !u.is_empty() => {
                Framing::Until(u.as_bytes().to_vec())
            }
            (Some("until"), _) => {
                return Err((
                    "until",
                    "framing \"until\" needs a non-empty `until`".into(),
                ))
            }
            (None | Some("close"), None) => Framing::Close,
            (Some("resp"), None) => Framing::Resp,
            (Some("close" | "resp"), Some(_)) => {
                return Err(("until", "only applies with framing \"until\"".into()))
            }
            (Some(other), _) => {
                return Err((
                    "framing",
                    format!("expected close, until or resp, not {other:?}"),
                ))
            }
            (None, Some(_)) => return Err(("until", "must not be empty".into())),
        })
    }
}

/// One request and how its reply is read: the source's own `send`, or one of its recipe's
/// `[[request]]`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// As written: any `{secret}` is still the placeholder.
    pub send: String,
    pub framing: Framing,
    /// The line written before the reply (`# slowlog_length`, the recipe's own section
    /// syntax), so the reply reaches the recipe as its own section.
    pub header: Option<String>,
    /// An error reply (`-ERR unknown command 'CONFIG'`, a command an ACL denies) leaves the
    /// section out instead of failing the read.
    pub optional: bool,
}

/// Most requests a recipe sends per read.
const MAX_REQUESTS: usize = 16;

/// One `[[request]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestOptions {
    /// The bytes sent (`"INFO all\r\n"`).
    pub send: String,
    /// Where the reply ends: `close`, `until` or `resp` (as a tcp source's `framing`).
    pub framing: Option<String>,
    /// The terminator, for framing `until` (`"END\r\n"`).
    pub until: Option<String>,
    /// The section the reply becomes; every request but the first has one.
    pub section: Option<String>,
    /// An error reply leaves the section out rather than failing the read (a command an
    /// ACL denies, a renamed `CONFIG`).
    #[serde(default)]
    pub optional: bool,
}

/// The requests, checked, with each section's line in the recipe's syntax; `format` learns
/// which of its sections are replies.
pub fn compile(
    options: &[RequestOptions],
    format: &mut Format,
) -> Result<Vec<Request>, RecipeError> {
    if options.len() > MAX_REQUESTS {
        return Err(RecipeError::invalid(format!(
            "{} requests; at most {MAX_REQUESTS}",
            options.len()
        ))
        .at("request"));
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut requests = Vec::new();
    for (i, r) in options.iter().enumerate() {
        let at = |key: &str| format!("request[{i}].{key}");
        let fail = |key: &str, reason: String| Err(RecipeError::invalid(reason).at(at(key)));
        if r.send.is_empty() {
            return fail("send", "must not be empty".into());
        }
        if r.send.contains("{secret}") {
            return fail(
                "send",
                "a password is the source's, not the recipe's: the source sets \
                 auth = \"{secret}\" and secret_file or secret_env"
                    .into(),
            );
        }
        let framing = Framing::from_keys(r.framing.as_deref(), r.until.as_deref())
            .map_err(|(key, reason)| RecipeError::invalid(reason).at(at(key)))?;
        if r.optional && framing != Framing::Resp {
            return fail(
                "optional",
                "only a RESP reply can be an error reply: set framing = \"resp\"".into(),
            );
        }
        if framing == Framing::Close && i + 1 < options.len() {
            return fail(
                "framing",
                "\"close\" ends the connection, so only the last request can use it".into(),
            );
        }
        let header = match (&r.section, i) {
            (None, 0) => None,
            (None, _) => {
                return fail(
                    "section",
                    "missing: every request but the first names the section its reply \
                     becomes"
                        .into(),
                )
            }
            (Some(name), _) => {
                let ok = !name.is_empty()
                    && (name.chars()).all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !ok {
                    return fail(
                        "section",
                        format!("{name:?}: letters, digits and _ only (it starts the keys)"),
                    );
                }
                if seen.contains(&name.as_str()) {
                    return fail(
                        "section",
                        format!("{name:?} is the section of another request"),
                    );
                }
                seen.push(name);
                let line = match format {
                    Format::Kv(kv) => kv.request_section(name),
                    _ => None,
                };
                let Some(line) = line else {
                    return fail(
                        "section",
                        "a reply becomes a section of a kv recipe with a section_prefix \
                         ([kv] section_prefix = \"# \")"
                            .into(),
                    );
                };
                Some(line)
            }
        };
        requests.push(Request {
            send: r.send.clone(),
            framing,
            header,
            optional: r.optional,
        });
    }
    Ok(requests)
}

#[cfg(test)]
mod tests {
    use crate::parse::ErrorKind;
    use crate::recipe::{Parser, Recipe};

    const HEAD: &str = "description = \"t\"\nformat = \"kv\"\n[kv]\nsection_prefix = \"# \"\n";

    fn load(requests: &str) -> Result<Recipe, (ErrorKind, String, String)> {
        Recipe::from_toml("t", &format!("{HEAD}{requests}"))
            .map_err(|e| (e.kind(), e.key_path(), e.to_string()))
    }

    #[test]
    fn requests_compile_with_their_section_lines() {
        let r = load(
            "[[request]]\nsend = \"INFO\\r\\n\"\nframing = \"resp\"\n\
             [[request]]\nsend = \"stats slabs\\r\\n\"\nuntil = \"END\\r\\n\"\nsection = \"slabs\"\n",
        )
        .unwrap();
        let got: Vec<String> = r.requests().iter().map(|q| format!("{q:?}")).collect();
        assert_eq!(
            got,
            [
                "Request { send: \"INFO\\r\\n\", framing: Resp, header: None, optional: false }",
                "Request { send: \"stats slabs\\r\\n\", framing: Until([69, 78, 68, 13, 10]), header: Some(\"# slabs\"), optional: false }",
            ]
        );
        // A reply's records are keyed by its section; the first reply's and INFO's own
        // sections are not.
        let parsed = r.parse(b"# Server\na:1\n# slabs\nx:96\n").unwrap();
        let names: Vec<&str> = parsed.families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "slabs_x"]);
        // A reply's own section lines (INFO sent as a later request), or a line its text
        // makes look like one, keep its keys in its section.
        let parsed = r
            .parse(b"a:1\n# slabs\n# Server\nx:96\n# y:1\nz:2\n")
            .unwrap();
        let names: Vec<&str> = parsed.families.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "slabs_x", "slabs_z"]);
    }

    /// Each mistake is refused at load, at its key, with the reason.
    #[test]
    fn mistakes_name_the_request_and_key() {
        let cases = [
            ("[[request]]\nsend = \"\"\n", "request[0].send", "must not be empty"),
            (
                "[[request]]\nsend = \"AUTH {secret}\\r\\n\"\n",
                "request[0].send",
                "a password is the source's",
            ),
            (
                "[[request]]\nsend = \"x\"\nframing = \"line\"\n",
                "request[0].framing",
                "expected close, until or resp, not \"line\"",
            ),
            (
                "[[request]]\nsend = \"x\"\nframing = \"resp\"\nuntil = \"END\"\n",
                "request[0].until",
                "only applies with framing \"until\"",
            ),
            (
                "[[request]]\nsend = \"x\"\nuntil = \"END\"\noptional = true\n",
                "request[0].optional",
                "only a RESP reply can be an error reply",
            ),
            (
                "[[request]]\nsend = \"x\"\n[[request]]\nsend = \"y\"\nsection = \"b\"\n",
                "request[0].framing",
                "only the last request",
            ),
            (
                "[[request]]\nsend = \"x\"\nframing = \"resp\"\n[[request]]\nsend = \"y\"\n",
                "request[1].section",
                "every request but the first",
            ),
            (
                "[[request]]\nsend = \"x\"\nframing = \"resp\"\n[[request]]\nsend = \"y\"\nsection = \"a.b\"\n",
                "request[1].section",
                "letters, digits and _ only",
            ),
            (
                "[[request]]\nsend = \"x\"\nframing = \"resp\"\nsection = \"a\"\n[[request]]\nsend = \"y\"\nsection = \"a\"\n",
                "request[1].section",
                "is the section of another request",
            ),
        ];
        for (text, key, reason) in cases {
            let (kind, at, message) = load(text).unwrap_err();
            assert_eq!((kind, at.as_str()), (ErrorKind::Invalid, key), "{text}");
            assert!(message.contains(reason), "{text}: {message}");
        }
        let e = Recipe::from_toml(
            "t",
            "description = \"t\"\nformat = \"kv\"\n[[request]]\nsend = \"x\"\nframing = \"resp\"\n[[request]]\nsend = \"y\"\nsection = \"b\"\n",
        )
        .unwrap_err();
        assert_eq!(e.key_path(), "request[1].section");
        assert!(e.to_string().contains("section_prefix"), "{e}");
        let e = Recipe::from_toml(
            "t",
            &format!("{HEAD}[[request]]\nsend = \"x\"\nsecton = \"a\"\n"),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Syntax);
    }
}
