//! `tcp`: send a request line and read the reply (Redis `INFO`, memcached `stats`, HAProxy
//! `show stat`), over TCP (`host:port`) or a unix stream socket (`unix:/path`).
//!
//! Framing says where the reply ends: at connection close, at a terminator (`END\r\n`), or
//! after one RESP bulk string (`$<len>\r\n<payload>\r\n`, of which only the payload is kept).
//!
//! The `send` text may hold `{secret}` (`AUTH {secret}\r\nINFO all\r\n`), filled from
//! `secret_file` or `secret_env` at each read; only the text with the placeholder is kept,
//! so `check`, logs and the status page can only ever show `{secret}`.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use serde::Deserialize;

use super::{quote, KeyError, Secret, SourceError, UNSET};

/// Where the secret goes in `send`.
const PLACEHOLDER: &str = "{secret}";

/// The keys of a `tcp` source, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub address: Option<String>,
    pub send: Option<String>,
    pub until: Option<String>,
    pub framing: Option<String>,
    pub secret_file: Option<String>,
    pub secret_env: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    Close,
    Until(Vec<u8>),
    Resp,
}

#[derive(Debug, Clone)]
pub struct TcpSource {
    /// `host:port` or `unix:/path`.
    pub address: String,
    /// As written: any `{secret}` is still the placeholder.
    pub send: String,
    pub framing: Framing,
    /// Fills `{secret}` in `send`; set exactly when `send` holds it.
    pub secret: Option<Secret>,
}

impl TcpSource {
    pub fn from_config(c: Config) -> Result<TcpSource, KeyError> {
        let address = c
            .address
            .ok_or_else(|| KeyError::missing("address", "host:port or unix:/path to connect to"))?;
        super::check_address(&address, "/run/redis/redis.sock")
            .map_err(|reason| KeyError::invalid("address", reason))?;
        let send = c.send.unwrap_or_default();
        let secret = Secret::one_of(c.secret_file, c.secret_env, "secret_file")?;
        // Each without the other is a mistake that would otherwise show only at run time:
        // a literal `{secret}` sent to the app, or a secret read for nothing.
        match (&secret, send.contains(PLACEHOLDER)) {
            (Some(_), false) => {
                return Err(KeyError::invalid(
                    "send",
                    "a secret is given but `send` has no {secret} to put it in",
                ))
            }
            (None, true) => {
                return Err(KeyError::missing(
                    "secret_file",
                    "`send` holds {secret}: give secret_file or secret_env",
                ))
            }
            _ => {}
        }
        let framing = match (c.framing.as_deref(), &c.until) {
            (None | Some("until"), Some(u)) if !u.is_empty() => {
                Framing::Until(u.as_bytes().to_vec())
            }
            (Some("until"), _) => {
                return Err(KeyError::invalid(
                    "until",
                    "framing \"until\" needs a non-empty `until`",
                ))
            }
            (None | Some("close"), None) => Framing::Close,
            (Some("resp"), None) => Framing::Resp,
            (Some("close" | "resp"), Some(_)) => {
                return Err(KeyError::invalid(
                    "until",
                    "only applies with framing \"until\"",
                ))
            }
            (Some(other), _) => {
                return Err(KeyError::invalid(
                    "framing",
                    format!("expected close, until or resp, not {other:?}"),
                ))
            }
            (None, Some(_)) => return Err(KeyError::invalid("until", "must not be empty")),
        };
        Ok(TcpSource {
            address,
            send,
            framing,
            secret,
        })
    }

    /// Every key with the value in force (see [`super::Source::resolved`]).
    pub fn resolved(&self) -> Vec<(&'static str, String)> {
        let text = |b: &[u8]| quote(&String::from_utf8_lossy(b));
        let (framing, until) = match &self.framing {
            Framing::Close => ("close", UNSET.to_string()),
            Framing::Until(u) => ("until", text(u)),
            Framing::Resp => ("resp", UNSET.to_string()),
        };
        let (secret_file, secret_env) = Secret::resolved(self.secret.as_ref());
        vec![
            ("address", quote(&self.address)),
            ("send", quote(&self.send)),
            ("framing", quote(framing)),
            ("until", until),
            ("secret_file", secret_file),
            ("secret_env", secret_env),
        ]
    }

    /// The bytes to send now: `send` with the secret read and put in.
    async fn request(&self) -> Result<Vec<u8>, SourceError> {
        let Some(secret) = &self.secret else {
            return Ok(self.send.clone().into_bytes());
        };
        let value = secret.read_off_thread().await?;
        // A line break would end the command early and send the rest as another command.
        if value.chars().any(char::is_control) {
            return Err(SourceError::Secret(
                "the secret holds a control character (a line break?); not sent".into(),
            ));
        }
        Ok(self.send.replace(PLACEHOLDER, &value).into_bytes())
    }

    pub async fn fetch(&self, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
        let what = || format!("tcp {}", self.address);
        let request = self.request().await?;
        let mut stream = super::connect(&self.address)
            .await
            .map_err(SourceError::io(what()))?;
        if !request.is_empty() {
            stream
                .write_all(&request)
                .await
                .map_err(SourceError::io(what()))?;
        }
        // The request held the secret: gone before the (possibly slow) read.
        drop(request);
        match &self.framing {
            Framing::Close => super::read_limited(stream, max_bytes, &what()).await,
            Framing::Until(end) => read_until(&mut stream, end, max_bytes, &what()).await,
            Framing::Resp => read_resp_bulk(&mut stream, max_bytes, &what()).await,
        }
    }
}

async fn read_chunk(
    stream: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
    what: &str,
) -> Result<usize, SourceError> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream
        .read(&mut chunk)
        .await
        .map_err(SourceError::io(what))?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

async fn read_until(
    stream: &mut (impl AsyncRead + Unpin),
    end: &[u8],
    max_bytes: u64,
    what: &str,
) -> Result<Vec<u8>, SourceError> {
    let mut buf = Vec::new();
    loop {
        if buf.ends_with(end) {
            return Ok(buf);
        }
        super::check_size(buf.len() as u64, max_bytes)?;
        if read_chunk(stream, &mut buf, what).await? == 0 {
            return Err(SourceError::Protocol(format!(
                "{what}: connection closed before the terminator ({} bytes read)",
                buf.len()
            )));
        }
    }
}

/// Longest RESP status or error line taken (`-WRONGPASS invalid username-password pair or
/// user is disabled.` is 62 bytes); past it the reply is not RESP.
const RESP_LINE_LIMIT: usize = 1024;

/// The first bulk string of the reply, after any status replies (`+OK` to `AUTH` or
/// `SELECT`); an error reply (`-NOAUTH ...`) is the source's error, in the server's words.
async fn read_resp_bulk(
    stream: &mut (impl AsyncRead + Unpin),
    max_bytes: u64,
    what: &str,
) -> Result<Vec<u8>, SourceError> {
    let mut buf = Vec::new();
    // Where the reply being read starts in `buf`: after the status replies passed over.
    let mut start = 0;
    let (header_end, len) = loop {
        let Some(rest) = buf.get(start..) else {
            return Err(SourceError::Protocol(format!(
                "{what}: RESP reply out of step"
            )));
        };
        let Some(i) = rest.windows(2).position(|w| w == b"\r\n") else {
            if rest.len() > RESP_LINE_LIMIT {
                return Err(SourceError::Protocol(format!(
                    "{what}: reply does not start with a RESP header"
                )));
            }
            if read_chunk(stream, &mut buf, what).await? == 0 {
                return Err(SourceError::Protocol(format!(
                    "{what}: connection closed before a reply"
                )));
            }
            continue;
        };
        let line = String::from_utf8_lossy(&rest[..i]).into_owned();
        let line_end = start + i + 2;
        if line.starts_with('+') {
            start = line_end;
            continue;
        }
        if line.starts_with('-') {
            return Err(SourceError::Protocol(format!(
                "{what}: server replied {line}"
            )));
        }
        match line.strip_prefix('$').map(str::parse::<u64>) {
            Some(Ok(len)) => break (line_end, len),
            _ => {
                return Err(SourceError::Protocol(format!(
                    "{what}: expected a RESP bulk string, got {:?}",
                    crate::text::excerpt(&line)
                )))
            }
        }
    };
    super::check_size(len, max_bytes)?;
    // Within max_bytes, so it fits in memory and in usize.
    let len = usize::try_from(len).map_err(|_| SourceError::TooLarge { limit: max_bytes })?;
    let total = header_end + len + 2;
    while buf.len() < total {
        if read_chunk(stream, &mut buf, what).await? == 0 {
            return Err(SourceError::Protocol(format!(
                "{what}: connection closed mid-reply ({} of {len} bytes)",
                buf.len().saturating_sub(header_end)
            )));
        }
    }
    Ok(buf[header_end..header_end + len].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(reply: &[u8]) -> Result<Vec<u8>, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut stream = reply;
        rt.block_on(read_resp_bulk(&mut stream, 1000, "tcp t"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn resp_takes_the_bulk_reply_after_status_replies() {
        assert_eq!(resp(b"$3\r\nabc\r\n").unwrap(), b"abc");
        assert_eq!(resp(b"+OK\r\n$3\r\nabc\r\n").unwrap(), b"abc");
        assert_eq!(resp(b"+OK\r\n+OK\r\n$0\r\n\r\n").unwrap(), b"");
        // The payload may hold CRLFs and `+`/`-` lines of its own: it is taken by length.
        assert_eq!(resp(b"$6\r\n-x\r\n+y\r\n").unwrap(), b"-x\r\n+y");
    }

    #[test]
    fn resp_error_replies_are_the_sources_error() {
        assert_eq!(
            resp(b"-NOAUTH Authentication required.\r\n").unwrap_err(),
            "tcp t: server replied -NOAUTH Authentication required."
        );
        assert_eq!(
            resp(
                b"-WRONGPASS invalid username-password pair or user is disabled.\r\n$3\r\nabc\r\n"
            )
            .unwrap_err(),
            "tcp t: server replied -WRONGPASS invalid username-password pair or user is disabled."
        );
        assert_eq!(
            resp(b"+OK\r\n-ERR unknown command\r\n").unwrap_err(),
            "tcp t: server replied -ERR unknown command"
        );
        assert!(resp(b":1\r\n")
            .unwrap_err()
            .contains("expected a RESP bulk string"));
        assert!(resp(b"+OK\r\n")
            .unwrap_err()
            .contains("closed before a reply"));
        assert!(resp(b"$5\r\nab")
            .unwrap_err()
            .contains("closed mid-reply (2 of 5"));
        assert!(resp(b"$1001\r\n")
            .unwrap_err()
            .contains("more than 1000 bytes"));
    }

    fn config(pairs: &[(&str, &str)]) -> Config {
        let mut c = Config::default();
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "address" => c.address = v,
                "send" => c.send = v,
                "secret_file" => c.secret_file = v,
                "secret_env" => c.secret_env = v,
                "framing" => c.framing = v,
                _ => panic!("{k}"),
            }
        }
        c
    }

    #[test]
    fn unix_addresses_and_secrets_are_checked_at_load() {
        let ok = TcpSource::from_config(config(&[("address", "unix:/run/haproxy.sock")]));
        assert_eq!(ok.unwrap().address, "unix:/run/haproxy.sock");
        let e = TcpSource::from_config(config(&[("address", "unix:")])).unwrap_err();
        assert_eq!(
            (e.key(), e.to_string().as_str()),
            (
                "address",
                "\"unix:\" needs the socket's path, as in unix:/run/redis/redis.sock"
            )
        );
        let e =
            TcpSource::from_config(config(&[("address", "a:1"), ("send", "AUTH {secret}\r\n")]))
                .unwrap_err();
        assert_eq!(e.key(), "secret_file");
        let e = TcpSource::from_config(config(&[
            ("address", "a:1"),
            ("send", "INFO\r\n"),
            ("secret_env", "PW"),
        ]))
        .unwrap_err();
        assert_eq!(e.key(), "send");
        let e = TcpSource::from_config(config(&[
            ("address", "a:1"),
            ("send", "AUTH {secret}\r\n"),
            ("secret_env", "PW"),
            ("secret_file", "/pw"),
        ]))
        .unwrap_err();
        assert_eq!(e.key(), "secret_file");
    }

    #[test]
    fn the_secret_is_filled_at_each_read_and_shown_nowhere() {
        let dir = std::env::temp_dir().join(format!("ma-tcp-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "Zq9-first\n").unwrap();
        let s = TcpSource::from_config(config(&[
            ("address", "a:1"),
            ("send", "AUTH {secret}\r\nINFO all\r\n"),
            ("secret_file", file.to_str().unwrap()),
            ("framing", "resp"),
        ]))
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let sent = rt.block_on(s.request()).unwrap();
        assert_eq!(sent, b"AUTH Zq9-first\r\nINFO all\r\n");
        // Rotated: the next read sends the new one.
        std::fs::write(&file, "Zq9-second").unwrap();
        let sent = rt.block_on(s.request()).unwrap();
        assert_eq!(sent, b"AUTH Zq9-second\r\nINFO all\r\n");
        // A line break would split the command: refused, and not echoed.
        std::fs::write(&file, "Zq9\r\nFLUSHALL").unwrap();
        let e = rt.block_on(s.request()).unwrap_err().to_string();
        assert!(e.contains("control character") && !e.contains("Zq9"), "{e}");
        let shown = format!("{:?} {s:?}", s.resolved());
        assert!(!shown.contains("Zq9"), "{shown}");
        assert!(shown.contains("AUTH {secret}"), "{shown}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
