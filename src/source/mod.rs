//! Sources: where a target's bytes come from. A closed set, so an enum; one file per kind.
//!
//! A source only fetches bytes, bounded by `max_bytes`; the caller bounds it in time (and a
//! dropped fetch cancels cleanly: sockets close, an `exec` child is killed).

pub mod exec;
pub mod fastcgi;
pub mod file;
pub mod http;
pub mod tcp;

use crate::config::RawSource;

#[derive(Debug, Clone)]
pub enum Source {
    File(file::FileSource),
    Http(http::HttpSource),
    Tcp(tcp::TcpSource),
    Exec(exec::ExecSource),
    FastCgi(fastcgi::FastCgiSource),
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

/// What one read gave: the data, or why not, and facts about the read either way.
#[derive(Debug)]
pub struct Fetch {
    pub data: Result<Vec<u8>, SourceError>,
    /// Bytes actually read (an append log's read is longer than the block it returns).
    pub read_bytes: u64,
    /// A file's modification time.
    pub modified: Option<std::time::SystemTime>,
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
        }
    }
}

impl From<Result<Vec<u8>, SourceError>> for Fetch {
    fn from(data: Result<Vec<u8>, SourceError>) -> Fetch {
        Fetch {
            read_bytes: data.as_ref().map_or(0, |d| d.len() as u64),
            data,
            modified: None,
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

/// Names accepted in `type = "..."`.
pub const KINDS: &[&str] = &["file", "http", "tcp", "exec", "fastcgi"];

impl Source {
    /// Builds a source from its table; on error, the key at fault and why.
    pub fn from_config(raw: &RawSource) -> Result<Source, (&'static str, String)> {
        let (allowed, source) = match raw.kind.as_str() {
            "file" => (
                file::KEYS,
                Source::File(file::FileSource::from_config(raw)?),
            ),
            "http" => (
                http::KEYS,
                Source::Http(http::HttpSource::from_config(raw)?),
            ),
            "tcp" => (tcp::KEYS, Source::Tcp(tcp::TcpSource::from_config(raw)?)),
            "exec" => (
                exec::KEYS,
                Source::Exec(exec::ExecSource::from_config(raw)?),
            ),
            "fastcgi" => (
                fastcgi::KEYS,
                Source::FastCgi(fastcgi::FastCgiSource::from_config(raw)?),
            ),
            "" => return Err(("type", format!("missing: one of {}", KINDS.join(", ")))),
            other => {
                return Err((
                    "type",
                    format!(
                        "unknown source type {other:?}; expected one of {}",
                        KINDS.join(", ")
                    ),
                ))
            }
        };
        if let Some(k) = raw.set_keys().into_iter().find(|k| !allowed.contains(k)) {
            return Err((
                k,
                format!("does not apply to a source of type {}", raw.kind),
            ));
        }
        Ok(source)
    }

    /// Reads the source once, at most `max_bytes`; `timeout` bounds a file's re-reads.
    pub async fn fetch(&self, max_bytes: u64, timeout: std::time::Duration) -> Fetch {
        match self {
            Source::File(s) => s.fetch(max_bytes, timeout).await,
            Source::Http(s) => s.fetch(max_bytes).await.into(),
            Source::Tcp(s) => s.fetch(max_bytes).await.into(),
            Source::Exec(s) => s.fetch(max_bytes).await.into(),
            Source::FastCgi(s) => s.fetch(max_bytes).await.into(),
        }
    }

    /// A file source's `max_age`: older than that, the file's writer is taken for dead.
    pub fn max_age(&self) -> Option<std::time::Duration> {
        match self {
            Source::File(s) => s.max_age,
            _ => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Source::File(_) => "file",
            Source::Http(_) => "http",
            Source::Tcp(_) => "tcp",
            Source::Exec(_) => "exec",
            Source::FastCgi(_) => "fastcgi",
        }
    }

    /// Every key of the source's type with the value in force: defaults filled in, a file's
    /// framing whether from the source or the recipe, `(unset)` for what is not set. For
    /// `check`. A secret is named by where it is read from; it is never read here.
    pub fn resolved(&self) -> Vec<(&'static str, String)> {
        let unset = || UNSET.to_string();
        let quoted = |s: &str| quote(s);
        match self {
            Source::File(s) => vec![
                ("path", quoted(&s.path.display().to_string())),
                (
                    "block_start",
                    s.framing
                        .as_ref()
                        .map_or_else(unset, |f| quoted(f.start.as_str())),
                ),
                (
                    "block_end",
                    s.framing
                        .as_ref()
                        .and_then(|f| f.end.as_ref())
                        .map_or_else(unset, |e| quoted(e.as_str())),
                ),
                (
                    "max_age",
                    s.max_age.map_or_else(unset, |d| format!("{d:?}")),
                ),
            ],
            Source::Http(s) => {
                use http::{Auth, Secret};
                let (mut user, mut pw_file, mut pw_env, mut tok_file, mut tok_env) =
                    (unset(), unset(), unset(), unset(), unset());
                let place = |secret: &Secret, file: &mut String, env: &mut String| match secret {
                    Secret::File(p) => *file = quoted(p),
                    Secret::Env(v) => *env = quoted(v),
                };
                match &s.auth {
                    Auth::None => {}
                    Auth::Basic { user: u, password } => {
                        user = quoted(u);
                        if let Some(p) = password {
                            place(p, &mut pw_file, &mut pw_env);
                        }
                    }
                    Auth::Bearer(t) => place(t, &mut tok_file, &mut tok_env),
                }
                // Header values can be credentials (`Authorization`, API keys): names only.
                let headers = if s.headers.is_empty() {
                    unset()
                } else {
                    let names: Vec<&str> = s.headers.iter().map(|(k, _)| k.as_str()).collect();
                    format!("{} (values not shown)", names.join(", "))
                };
                vec![
                    ("url", quoted(&s.describe())),
                    ("headers", headers),
                    ("basic_auth_user", user),
                    ("basic_auth_password_file", pw_file),
                    ("basic_auth_password_env", pw_env),
                    ("bearer_token_file", tok_file),
                    ("bearer_token_env", tok_env),
                    ("gzip", s.gzip.to_string()),
                ]
            }
            Source::Tcp(s) => {
                let text = |b: &[u8]| quoted(&String::from_utf8_lossy(b));
                let (framing, until) = match &s.framing {
                    tcp::Framing::Close => ("close", unset()),
                    tcp::Framing::Until(u) => ("until", text(u)),
                    tcp::Framing::Resp => ("resp", unset()),
                };
                vec![
                    ("address", quoted(&s.address)),
                    ("send", text(&s.send)),
                    ("framing", quoted(framing)),
                    ("until", until),
                ]
            }
            Source::Exec(s) => vec![("command", format!("{:?}", s.command))],
            Source::FastCgi(s) => vec![
                ("address", quoted(&s.address)),
                ("script", quoted(&s.script)),
                ("query", quoted(&s.query)),
            ],
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
        }
    }
}

/// Reads from `reader` until EOF, failing once more than `max_bytes` arrive.
pub(crate) async fn read_limited<R: tokio::io::AsyncRead + Unpin>(
    reader: R,
    max_bytes: u64,
    what: &str,
) -> Result<Vec<u8>, SourceError> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    reader
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut buf)
        .await
        .map_err(SourceError::io(what))?;
    if buf.len() as u64 > max_bytes {
        return Err(SourceError::TooLarge { limit: max_bytes });
    }
    Ok(buf)
}

/// Checks a `host:port` address the way the connect at run time will read it (split at the
/// last `:`, a decimal port), so `check` refuses what could only fail later: a missing,
/// zero or non-numeric port, an empty host, an unbracketed IPv6 address. `[::1]:6379` is
/// the IPv6 form. The host is not resolved here: DNS at load time would make `check`
/// depend on the network, and a name may resolve later (a pod's sibling service).
pub(crate) fn check_host_port(address: &str) -> Result<(), String> {
    let usage = "use host:port, e.g. 127.0.0.1:6379";
    if address.trim().is_empty() {
        return Err(format!("empty; {usage}"));
    }
    if address.chars().any(char::is_whitespace) {
        return Err(format!("{address:?} contains a space; {usage}"));
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(format!("{address:?} has no port; {usage}"));
    };
    if port.is_empty() {
        return Err(format!("{address:?} has no port; {usage}"));
    }
    // Digits only: `str::parse::<u16>` would also take `+80`, which the resolver refuses.
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{address:?}: port {port:?} is not a number; {usage}"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(format!("{address:?}: port {port} is out of range 1-65535")),
    }
    if let Some(inner) = host.strip_prefix('[') {
        let ip = inner.strip_suffix(']');
        if !ip.is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok()) {
            return Err(format!(
                "{address:?}: {host:?} is not a bracketed IPv6 address; {usage}"
            ));
        }
        return Ok(());
    }
    if host.is_empty() {
        return Err(format!("{address:?} has no host; {usage}"));
    }
    if host.contains(':') {
        return Err(format!(
            "{address:?}: an IPv6 address needs brackets, as in [::1]:6379"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_host_port;

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
