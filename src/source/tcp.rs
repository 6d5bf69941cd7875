//! `tcp`: send a request line and read the reply (Redis `INFO`, memcached `stats`).
//!
//! Framing says where the reply ends: at connection close, at a terminator (`END\r\n`), or
//! after one RESP bulk string (`$<len>\r\n<payload>\r\n`, of which only the payload is kept).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use serde::Deserialize;

use super::{quote, KeyError, SourceError, UNSET};

/// The keys of a `tcp` source, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub address: Option<String>,
    pub send: Option<String>,
    pub until: Option<String>,
    pub framing: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    Close,
    Until(Vec<u8>),
    Resp,
}

#[derive(Debug, Clone)]
pub struct TcpSource {
    pub address: String,
    pub send: Vec<u8>,
    pub framing: Framing,
}

impl TcpSource {
    pub fn from_config(c: Config) -> Result<TcpSource, KeyError> {
        let address = c
            .address
            .ok_or_else(|| KeyError::missing("address", "host:port to connect to"))?;
        // `unix:/path` reads as host `unix`, port `/path` to the resolver; say what it is.
        if address.starts_with("unix:") {
            return Err(KeyError::invalid(
                "address",
                "unix sockets are not supported yet; use host:port",
            ));
        }
        super::check_host_port(&address).map_err(|reason| KeyError::invalid("address", reason))?;
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
            send: c.send.unwrap_or_default().into_bytes(),
            framing,
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
        vec![
            ("address", quote(&self.address)),
            ("send", text(&self.send)),
            ("framing", quote(framing)),
            ("until", until),
        ]
    }

    pub async fn fetch(&self, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
        let what = || format!("tcp {}", self.address);
        let mut stream = TcpStream::connect(&self.address)
            .await
            .map_err(SourceError::io(what()))?;
        if !self.send.is_empty() {
            stream
                .write_all(&self.send)
                .await
                .map_err(SourceError::io(what()))?;
        }
        match &self.framing {
            Framing::Close => super::read_limited(stream, max_bytes, &what()).await,
            Framing::Until(end) => read_until(&mut stream, end, max_bytes, &what()).await,
            Framing::Resp => read_resp_bulk(&mut stream, max_bytes, &what()).await,
        }
    }
}

async fn read_chunk(
    stream: &mut TcpStream,
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
    stream: &mut TcpStream,
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

async fn read_resp_bulk(
    stream: &mut TcpStream,
    max_bytes: u64,
    what: &str,
) -> Result<Vec<u8>, SourceError> {
    let mut buf = Vec::new();
    let header_end = loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            break i;
        }
        if buf.len() > 64 {
            return Err(SourceError::Protocol(format!(
                "{what}: reply does not start with a RESP header"
            )));
        }
        if read_chunk(stream, &mut buf, what).await? == 0 {
            return Err(SourceError::Protocol(format!(
                "{what}: connection closed before a reply"
            )));
        }
    };
    let header = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let len: u64 = match header.strip_prefix('$').map(str::parse) {
        Some(Ok(len)) => len,
        _ if header.starts_with('-') => {
            return Err(SourceError::Protocol(format!(
                "{what}: server replied {header}"
            )))
        }
        _ => {
            return Err(SourceError::Protocol(format!(
                "{what}: expected a RESP bulk string, got {:?}",
                crate::text::excerpt(&header)
            )))
        }
    };
    super::check_size(len, max_bytes)?;
    let total = header_end as u64 + 2 + len + 2;
    while (buf.len() as u64) < total {
        if read_chunk(stream, &mut buf, what).await? == 0 {
            return Err(SourceError::Protocol(format!(
                "{what}: connection closed mid-reply ({} of {len} bytes)",
                buf.len()
            )));
        }
    }
    let start = header_end + 2;
    Ok(buf[start..start + len as usize].to_vec())
}
