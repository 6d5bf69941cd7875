//! Sources: where a target's bytes come from. A closed set, so an enum; one file per kind.
//!
//! A source only fetches bytes, bounded by `max_bytes`; the caller bounds it in time (and a
//! dropped fetch cancels cleanly: sockets close, an `exec` child is killed).
//!
//! Each kind owns its keys: a `#[serde(deny_unknown_fields)] Config` in its file, read from
//! what [`crate::config`] leaves of a `[sources.NAME]` table once the common keys are out.
//! [`KINDS`] is the one list of kinds; this module does not depend on `crate::config`.

pub mod exec;
pub mod fastcgi;
pub mod file;
mod framed;
pub mod http;
pub mod tail;
pub mod tcp;

mod address;
mod bounded;
mod replies;
pub mod resp;
mod secret;
pub(crate) use address::{check_address, check_host_port, connect, connect_unix, Io};
pub(crate) use bounded::{check_size, read_limited, read_limited_blocking};
pub use framed::Frame;
pub use secret::{redact, Secret};

use std::collections::BTreeMap;
use std::fmt::Debug;

use serde::de::DeserializeOwned;

#[derive(Debug, Clone)]
pub enum Source {
    File(file::FileSource),
    Http(http::HttpSource),
    Tcp(tcp::TcpSource),
    Exec(exec::ExecSource),
    FastCgi(fastcgi::FastCgiSource),
    Tail(tail::TailSource),
}

/// What a source could not do. Messages never carry secrets.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("more than {limit} bytes (max_bytes)")]
    TooLarge { limit: u64 },
    #[error("server answered status {0}")]
    Status(u16),
    #[error("{0}")]
    Protocol(String),
    #[error("command {command}: {reason}")]
    Command { command: String, reason: String },
    #[error("{0}")]
    Secret(String),
}

impl SourceError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> SourceError {
        let what = what.into();
        move |source| SourceError::Io { what, source }
    }
}

/// What is wrong with a source's own keys, and which key. [`crate::config`] names the file
/// and prefixes `sources.NAME.`, giving the house shape `origin: sources.NAME.key: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A key the source needs is not set.
    #[error("missing: {what}")]
    Missing { key: String, what: String },
    /// The key is set to something that cannot be used.
    #[error("{reason}")]
    Invalid { key: String, reason: String },
    /// A key of another type of source.
    #[error("does not apply to a source of type {kind}")]
    NotApplicable { key: String, kind: &'static str },
    /// A key no type of source takes; the reason is serde's, listing the type's keys.
    #[error("{reason}")]
    Unknown { key: String, reason: String },
}

impl KeyError {
    pub fn missing(key: &str, what: impl Into<String>) -> KeyError {
        KeyError::Missing {
            key: key.into(),
            what: what.into(),
        }
    }

    pub fn invalid(key: &str, reason: impl Into<String>) -> KeyError {
        KeyError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The key at fault, as written under `[sources.NAME]` (`headers.X-Api` for a value
    /// inside a table); empty when serde could not say.
    pub fn key(&self) -> &str {
        match self {
            KeyError::Missing { key, .. }
            | KeyError::Invalid { key, .. }
            | KeyError::NotApplicable { key, .. }
            | KeyError::Unknown { key, .. } => key,
        }
    }

    /// A serde error from reading a kind's `Config`, with the key it names. The `config`
    /// crate's deserializer is used (not a bare serde one) for its lenient conversions: an
    /// environment variable arrives as a string or a number whatever the key's type.
    fn from_serde(e: config::ConfigError) -> KeyError {
        match e {
            config::ConfigError::Type {
                unexpected,
                expected,
                key,
                ..
            } => KeyError::Invalid {
                key: key.unwrap_or_default(),
                reason: format!("invalid type: {unexpected}, expected {expected}"),
            },
            config::ConfigError::At { error, key, .. } => KeyError::Invalid {
                key: key.unwrap_or_default(),
                reason: error.to_string(),
            },
            other => KeyError::Invalid {
                key: String::new(),
                reason: other.to_string(),
            },
        }
    }
}

/// A source table's keys other than the common ones (which [`crate::config`] takes out).
pub type Keys = BTreeMap<String, config::Value>;

/// A source built from its keys, and those keys as read (`Debug` of the kind's `Config`), so
/// a reload can tell an unchanged source from a changed one.
pub type Built = (Source, String);

/// One type of source: its name in `type = "..."`, the keys it takes, and how they become a
/// [`Source`].
pub struct Kind {
    pub name: &'static str,
    /// The kind's keys, as its `Config` struct declares them to serde.
    pub keys: fn() -> &'static [&'static str],
    build: fn(Keys) -> Result<Built, KeyError>,
}

/// Every type of source. A new one is a file in `src/source/` with a
/// `#[serde(deny_unknown_fields)] Config` and a constructor from it, a [`Source`] variant
/// (the compiler then points at each `match` to extend), and a row here:
/// `Kind { name: "nats", keys: keys_of::<nats::Config>, build: |k| build(k, nats::NatsSource::from_config, Source::Nats) }`.
/// The order is the one errors list them in.
pub const KINDS: &[Kind] = &[
    Kind {
        name: "file",
        keys: keys_of::<file::Config>,
        build: |k| build(k, file::FileSource::from_config, Source::File),
    },
    Kind {
        name: "http",
        keys: keys_of::<http::Config>,
        build: |k| build(k, http::HttpSource::from_config, Source::Http),
    },
    Kind {
        name: "tcp",
        keys: keys_of::<tcp::Config>,
        build: |k| build(k, tcp::TcpSource::from_config, Source::Tcp),
    },
    Kind {
        name: "exec",
        keys: keys_of::<exec::Config>,
        build: |k| build(k, exec::ExecSource::from_config, Source::Exec),
    },
    Kind {
        name: "fastcgi",
        keys: keys_of::<fastcgi::Config>,
        build: |k| build(k, fastcgi::FastCgiSource::from_config, Source::FastCgi),
    },
    Kind {
        name: "tail",
        keys: keys_of::<tail::Config>,
        build: |k| build(k, tail::TailSource::from_config, Source::Tail),
    },
];

/// Reads a kind's `Config` from its keys and builds the source. An unknown key is named
/// here, in serde's words, because serde's own error for it does not say which key of the
/// table it was; `deny_unknown_fields` on each `Config` stays as the backstop.
fn build<C: DeserializeOwned + Debug, S>(
    keys: Keys,
    new: fn(C) -> Result<S, KeyError>,
    wrap: fn(S) -> Source,
) -> Result<Built, KeyError> {
    let known = keys_of::<C>();
    if let Some(key) = keys.keys().find(|k| !known.contains(&k.as_str())) {
        let reason = <serde::de::value::Error as serde::de::Error>::unknown_field(key, known);
        return Err(KeyError::Unknown {
            key: key.clone(),
            reason: reason.to_string(),
        });
    }
    let table = config::Value::new(None, config::ValueKind::Table(keys.into_iter().collect()));
    let config: C = table.try_deserialize().map_err(KeyError::from_serde)?;
    let read = format!("{config:?}");
    Ok((wrap(new(config)?), read))
}

/// Where the keys of a source's config are probed from (see [`crate::keys`]).
pub use crate::keys::keys_of;

/// What one read gave: the data, or why not, and facts about the read either way.
#[derive(Debug)]
pub struct Fetch {
    pub data: Result<Vec<u8>, SourceError>,
    /// Bytes actually read (an append log's read is longer than the block it returns).
    pub read_bytes: u64,
    /// A file's modification time, or an HTTP answer's `Last-Modified`.
    pub modified: Option<std::time::SystemTime>,
    /// A dated append log's newest complete block: when it was written, the write period.
    pub written: Option<crate::framing::Written>,
}

impl Default for Fetch {
    fn default() -> Self {
        Fetch::failed(SourceError::Protocol("not read".into()))
    }
}

impl Fetch {
    pub fn failed(e: SourceError) -> Fetch {
        Fetch {
            data: Err(e),
            read_bytes: 0,
            modified: None,
            written: None,
        }
    }
}

impl From<Result<Vec<u8>, SourceError>> for Fetch {
    fn from(data: Result<Vec<u8>, SourceError>) -> Fetch {
        Fetch {
            read_bytes: data.as_ref().map_or(0, |d| d.len() as u64),
            data,
            modified: None,
            written: None,
        }
    }
}

/// A string value as a config file would hold it: a pattern with `\` as a literal `'...'`
/// string, as users write them, so `\s` is not shown as `\\s`; else quoted and escaped
/// (`"INFO\r\n"`).
pub fn quote(s: &str) -> String {
    if s.contains('\\') && !s.contains('\'') && !s.chars().any(char::is_control) {
        format!("'{s}'")
    } else {
        format!("{s:?}")
    }
}

/// How [`Source::resolved`] shows a key that is not set.
pub const UNSET: &str = "(unset)";

/// `250ms`, `5s`, `1m`, `1h`, or a bare number of seconds (`2.5`). Here, beside [`quote`],
/// as the syntax of a source table's values; [`crate::config`] uses it for its own keys.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v * mult < 1e9 => {
            Ok(std::time::Duration::from_secs_f64(v * mult))
        }
        _ => Err(format!(
            "{text:?} is not a positive duration like 500ms, 5s or 1m"
        )),
    }
}

impl Source {
    /// Builds a source of type `kind` from its own keys (the common ones taken out). Returns
    /// the source and its keys as read, for [`Built`]'s fingerprint.
    pub fn from_keys(kind: &str, keys: Keys) -> Result<Built, KeyError> {
        let names = || KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ");
        let Some(this) = KINDS.iter().find(|k| k.name == kind) else {
            return Err(match kind {
                "" => KeyError::missing("type", format!("one of {}", names())),
                other => KeyError::invalid(
                    "type",
                    format!("unknown source type {other:?}; expected one of {}", names()),
                ),
            });
        };
        let own = (this.keys)();
        // Another type's key is named after the type's own checks, so a key the source
        // lacks is reported first: likelier the mistake than the extra key.
        let (foreign, keys): (Keys, Keys) = keys.into_iter().partition(|(k, _)| {
            !own.contains(&k.as_str()) && KINDS.iter().any(|o| (o.keys)().contains(&k.as_str()))
        });
        let built = (this.build)(keys)?;
        let misplaced = KINDS
            .iter()
            .flat_map(|o| (o.keys)().iter())
            .find(|k| foreign.contains_key(**k));
        if let Some(key) = misplaced {
            return Err(KeyError::NotApplicable {
                key: key.to_string(),
                kind: this.name,
            });
        }
        Ok(built)
    }

    /// Reads the source once, at most `max_bytes`; `timeout` bounds a file's re-reads.
    /// With `frame` (the recipe's `[framing]`), an append log is cut to its latest complete
    /// block whatever delivers it: a file reads backwards from its end (with its own
    /// `block_start` if set), an HTTP page asks for its tail, other sources' answers are cut.
    pub async fn fetch(
        &self,
        max_bytes: u64,
        timeout: std::time::Duration,
        frame: Option<Frame<'_>>,
    ) -> Fetch {
        let what = || self.describe();
        match (self, frame) {
            (Source::File(s), _) => s.fetch(max_bytes, timeout).await,
            (Source::Http(s), Some(frame)) => frame.http_tail(s, max_bytes).await,
            (Source::Http(s), None) => s.fetch(max_bytes).await,
            (Source::Tcp(s), frame) => {
                framed::cut(s.fetch(max_bytes).await.into(), frame, what).await
            }
            (Source::Exec(s), frame) => {
                framed::cut(s.fetch(max_bytes).await.into(), frame, what).await
            }
            (Source::FastCgi(s), frame) => {
                framed::cut(s.fetch(max_bytes).await.into(), frame, what).await
            }
            // Followed by its own steps (`crate::scrape`), never fetched whole.
            (Source::Tail(_), _) => Fetch::failed(SourceError::Protocol(
                "a tail source is followed, not fetched".into(),
            )),
        }
    }

    /// How often a source without an `interval` is read in the background; `None`: on
    /// each scrape. A followed log is polled whatever the scrapes do.
    pub fn default_interval(&self) -> Option<std::time::Duration> {
        match self {
            Source::Tail(_) => Some(tail::DEFAULT_POLL),
            _ => None,
        }
    }

    /// Sets `expire_after` (a common key that only a followed log's running totals take).
    pub fn expire_after(&mut self, after: std::time::Duration) -> Result<(), String> {
        match self {
            Source::Tail(tail) => {
                tail.expire_after = Some(after);
                Ok(())
            }
            other => Err(format!(
                "applies to a source of type tail only: a {} source's series are those of its \
                 latest read, so one the app no longer reports is gone at the next read already",
                other.kind()
            )),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Source::File(_) => "file",
            Source::Http(_) => "http",
            Source::Tcp(_) => "tcp",
            Source::Exec(_) => "exec",
            Source::FastCgi(_) => "fastcgi",
            Source::Tail(_) => "tail",
        }
    }

    /// Every key of the source's type with the value in force: defaults filled in, a file's
    /// framing whether from the source or the recipe, `(unset)` for what is not set. For
    /// `check`. A secret is named by where it is read from; it is never read here.
    pub fn resolved(&self) -> Vec<(&'static str, String)> {
        match self {
            Source::File(s) => s.resolved(),
            Source::Http(s) => s.resolved(),
            Source::Tcp(s) => s.resolved(),
            Source::Exec(s) => s.resolved(),
            Source::FastCgi(s) => s.resolved(),
            Source::Tail(s) => s.resolved(),
        }
    }

    /// Where it reads from, fit for logs and the status page (no credentials).
    pub fn describe(&self) -> String {
        match self {
            Source::File(s) => s.path.display().to_string(),
            Source::Http(s) => s.describe(),
            Source::Tcp(s) => s.address.clone(),
            Source::Exec(s) => s.command.join(" "),
            Source::FastCgi(s) => s.describe(),
            Source::Tail(s) => s.path.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> Keys {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), config::Value::new(None, *v)))
            .collect()
    }

    #[test]
    fn keys_are_read_from_the_kinds_own_struct() {
        assert_eq!(
            keys_of::<file::Config>(),
            ["path", "block_start", "block_end", "follow_links"]
        );
        assert_eq!(keys_of::<exec::Config>(), ["command"]);
    }

    #[test]
    fn a_kind_takes_its_keys_and_names_the_others() {
        let (source, read) = Source::from_keys("tcp", keys(&[("address", "127.0.0.1:1")])).unwrap();
        assert_eq!(source.describe(), "127.0.0.1:1");
        assert!(read.contains("127.0.0.1:1"), "{read}");
        let e = Source::from_keys("tcp", keys(&[("address", "a:1"), ("path", "/x")])).unwrap_err();
        assert_eq!(
            e,
            KeyError::NotApplicable {
                key: "path".into(),
                kind: "tcp"
            }
        );
        let e =
            Source::from_keys("tcp", keys(&[("address", "a:1"), ("adress", "b:1")])).unwrap_err();
        assert_eq!(e.key(), "adress");
        assert_eq!(
            e.to_string(),
            "unknown field `adress`, expected one of `address`, `send`, `until`, `framing`, `auth`, `secret_file`, `secret_env`"
        );
        let e = Source::from_keys("ftp", Keys::new()).unwrap_err();
        assert_eq!(e.key(), "type");
        assert_eq!(
            e.to_string(),
            "unknown source type \"ftp\"; expected one of file, http, tcp, exec, fastcgi, tail"
        );
    }

    #[test]
    fn too_large_is_one_byte_past_the_limit() {
        for (data, limit, ok) in [(&b"abc"[..], 3, true), (b"abcd", 3, false), (b"", 0, true)] {
            let mut buf = Vec::new();
            let got = read_limited_blocking(data, limit, &mut buf, SourceError::io("t"));
            assert_eq!(got.is_ok(), ok, "{data:?} {limit}");
            if !ok {
                assert!(matches!(got, Err(SourceError::TooLarge { limit: l }) if l == limit));
                // What was read is kept for the caller's count: one byte past the limit.
                assert_eq!(buf.len() as u64, limit + 1);
            }
        }
    }

    #[test]
    fn host_port_accepts_what_connect_can_use() {
        for ok in [
            "127.0.0.1:6379",
            "localhost:1",
            "redis.default.svc:65535",
            "[::1]:11211",
        ] {
            assert_eq!(check_host_port(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn host_port_refuses_what_cannot_run() {
        let cases = [
            ("", "empty; use host:port, e.g. 127.0.0.1:6379"),
            (
                "localhost",
                "\"localhost\" has no port; use host:port, e.g. 127.0.0.1:6379",
            ),
            (
                "localhost:",
                "\"localhost:\" has no port; use host:port, e.g. 127.0.0.1:6379",
            ),
            (
                ":6379",
                "\":6379\" has no host; use host:port, e.g. 127.0.0.1:6379",
            ),
            (
                "localhost:redis",
                "\"localhost:redis\": port \"redis\" is not a number; use host:port, e.g. 127.0.0.1:6379",
            ),
            (
                "localhost:+80",
                "\"localhost:+80\": port \"+80\" is not a number; use host:port, e.g. 127.0.0.1:6379",
            ),
            (
                "localhost:0",
                "\"localhost:0\": port 0 is out of range 1-65535",
            ),
            (
                "localhost:65536",
                "\"localhost:65536\": port 65536 is out of range 1-65535",
            ),
            (
                "localhost:99999999999999999999",
                "\"localhost:99999999999999999999\": port 99999999999999999999 is out of range 1-65535",
            ),
            (
                "::1:6379",
                "\"::1:6379\": an IPv6 address needs brackets, as in [::1]:6379",
            ),
            (
                "[nope]:1",
                "\"[nope]:1\": \"[nope]\" is not a bracketed IPv6 address; use host:port, e.g. 127.0.0.1:6379",
            ),
            (
                "local host:1",
                "\"local host:1\" contains a space; use host:port, e.g. 127.0.0.1:6379",
            ),
        ];
        for (address, want) in cases {
            assert_eq!(check_host_port(address), Err(want.to_string()), "{address}");
        }
    }
}
