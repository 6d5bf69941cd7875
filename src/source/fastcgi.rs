//! `fastcgi`: ask a FastCGI server (a PHP-FPM pool) for a page directly, as a web server
//! would, so a pod needs no web server just to expose `pm.status_path`.
//!
//! One request per fetch (FastCGI 1.0, responder role, no keep-alive): BEGIN_REQUEST, the
//! CGI params, an empty STDIN; then STDOUT records until END_REQUEST. The reply is a CGI
//! response (`Status:` and other headers, blank line, body); a non-2xx status is an error.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use serde::Deserialize;

use super::{quote, KeyError, SourceError};

/// The keys of a `fastcgi` source, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub address: Option<String>,
    pub script: Option<String>,
    pub query: Option<String>,
}

const VERSION: u8 = 1;
const BEGIN_REQUEST: u8 = 1;
const END_REQUEST: u8 = 3;
const PARAMS: u8 = 4;
const STDIN: u8 = 5;
const STDOUT: u8 = 6;
const STDERR: u8 = 7;
const RESPONDER: u16 = 1;
const REQUEST_ID: u16 = 1;
/// Bytes of CGI headers allowed in a reply on top of `max_bytes` of body.
const CGI_HEADER_ROOM: u64 = 64 * 1024;

#[derive(Debug, Clone)]
pub struct FastCgiSource {
    /// `host:port`, or `unix:/path/to/socket`.
    pub address: String,
    /// The script path the pool answers on (`pm.status_path`, e.g. `/status`).
    pub script: String,
    /// Query string (`json&full`).
    pub query: String,
}

impl FastCgiSource {
    pub fn from_config(c: Config) -> Result<FastCgiSource, KeyError> {
        let address = c.address.ok_or_else(|| {
            KeyError::missing("address", "host:port or unix:/path of the FastCGI server")
        })?;
        super::check_address(&address, "/run/php/fpm.sock")
            .map_err(|reason| KeyError::invalid("address", reason))?;
        let script = c.script.unwrap_or_else(|| "/status".into());
        if !script.starts_with('/') {
            return Err(KeyError::invalid(
                "script",
                format!("{script:?} must start with /"),
            ));
        }
        Ok(FastCgiSource {
            address,
            script,
            query: c.query.unwrap_or_default(),
        })
    }

    /// Every key with the value in force (see [`super::Source::resolved`]).
    pub fn resolved(&self) -> Vec<(&'static str, String)> {
        vec![
            ("address", quote(&self.address)),
            ("script", quote(&self.script)),
            ("query", quote(&self.query)),
        ]
    }

    pub fn describe(&self) -> String {
        let q = if self.query.is_empty() {
            String::new()
        } else {
            format!("?{}", self.query)
        };
        format!("fastcgi {}{}{q}", self.address, self.script)
    }

    pub async fn fetch(&self, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
        let what = self.describe();
        let request = self.request();
        let stream = super::connect(&self.address)
            .await
            .map_err(SourceError::io(format!("connecting to {what}")))?;
        exchange(stream, &request, max_bytes, &what).await
    }

    fn request(&self) -> Vec<u8> {
        let uri = if self.query.is_empty() {
            self.script.clone()
        } else {
            format!("{}?{}", self.script, self.query)
        };
        let params: [(&str, &str); 10] = [
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            (
                "SERVER_SOFTWARE",
                concat!("metrics-adapter/", env!("CARGO_PKG_VERSION")),
            ),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", &self.script),
            ("SCRIPT_FILENAME", &self.script),
            ("DOCUMENT_URI", &self.script),
            ("REQUEST_URI", &uri),
            ("QUERY_STRING", &self.query),
            ("REMOTE_ADDR", "127.0.0.1"),
        ];
        let mut body = Vec::new();
        for (k, v) in params {
            put_len(&mut body, k.len());
            put_len(&mut body, v.len());
            body.extend_from_slice(k.as_bytes());
            body.extend_from_slice(v.as_bytes());
        }
        let mut out = Vec::with_capacity(body.len() + 64);
        let mut begin = [0u8; 8];
        begin[..2].copy_from_slice(&RESPONDER.to_be_bytes());
        put_record(&mut out, BEGIN_REQUEST, &begin);
        // Params are < 64 KiB (fixed names, a config-given script and query).
        for chunk in body.chunks(u16::MAX as usize) {
            put_record(&mut out, PARAMS, chunk);
        }
        put_record(&mut out, PARAMS, &[]);
        put_record(&mut out, STDIN, &[]);
        out
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 128 {
        out.push(len as u8);
    } else {
        out.extend_from_slice(&((len as u32) | 0x8000_0000).to_be_bytes());
    }
}

fn put_record(out: &mut Vec<u8>, kind: u8, content: &[u8]) {
    let len = content.len() as u16;
    let padding = (8 - (content.len() % 8)) % 8;
    out.extend_from_slice(&[VERSION, kind]);
    out.extend_from_slice(&REQUEST_ID.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[padding as u8, 0]);
    out.extend_from_slice(content);
    out.resize(out.len() + padding, 0);
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
    max_bytes: u64,
    what: &str,
) -> Result<Vec<u8>, SourceError> {
    let io = |e| SourceError::io(what.to_string())(e);
    stream.write_all(request).await.map_err(io)?;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    loop {
        let mut header = [0u8; 8];
        stream.read_exact(&mut header).await.map_err(|e| {
            SourceError::Protocol(format!("{what}: connection ended before END_REQUEST ({e})"))
        })?;
        if header[0] != VERSION {
            return Err(SourceError::Protocol(format!(
                "{what}: not a FastCGI reply (version byte {})",
                header[0]
            )));
        }
        let len = u16::from_be_bytes([header[4], header[5]]) as usize;
        let padding = header[6] as usize;
        let mut content = vec![0u8; len + padding];
        stream.read_exact(&mut content).await.map_err(io)?;
        content.truncate(len);
        match header[1] {
            STDOUT => {
                stdout.extend_from_slice(&content);
                // The CGI headers come before the body and are not data: room for them here,
                // the body alone is held to max_bytes below.
                if stdout.len() as u64 > max_bytes.saturating_add(CGI_HEADER_ROOM) {
                    return Err(SourceError::TooLarge { limit: max_bytes });
                }
            }
            STDERR if stderr.len() < 4096 => stderr.extend_from_slice(&content),
            END_REQUEST => break,
            _ => {}
        }
    }
    let body = cgi_body(&stdout, what)?;
    super::check_size(body.len() as u64, max_bytes)?;
    if body.is_empty() && !stderr.is_empty() {
        let msg = String::from_utf8_lossy(&stderr);
        return Err(SourceError::Protocol(format!(
            "{what}: {}",
            msg.lines().next().unwrap_or("").trim()
        )));
    }
    Ok(body.to_vec())
}

/// The body of a CGI response, after checking its `Status:` header.
pub fn cgi_body<'a>(reply: &'a [u8], what: &str) -> Result<&'a [u8], SourceError> {
    let (head, body) = match find(reply, b"\r\n\r\n") {
        Some(i) => (&reply[..i], &reply[i + 4..]),
        None => match find(reply, b"\n\n") {
            Some(i) => (&reply[..i], &reply[i + 2..]),
            None => {
                return Err(SourceError::Protocol(format!(
                    "{what}: reply has no CGI header block"
                )))
            }
        },
    };
    for line in String::from_utf8_lossy(head).lines() {
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("status") {
                let code: u16 = value
                    .trim()
                    .split(' ')
                    .next()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                if !(200..300).contains(&code) {
                    return Err(SourceError::Status(code));
                }
            }
        }
    }
    Ok(body)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_framing() {
        let src = FastCgiSource {
            address: "127.0.0.1:9000".into(),
            script: "/status".into(),
            query: "json&full".into(),
        };
        let req = src.request();
        // BEGIN_REQUEST record: header + 8 bytes, role 1, no keep-alive.
        assert_eq!(&req[..8], &[1, BEGIN_REQUEST, 0, 1, 0, 8, 0, 0]);
        assert_eq!(&req[8..10], &[0, 1]);
        // Every record is 8-aligned and the request ends with empty PARAMS and STDIN.
        assert_eq!(req.len() % 8, 0);
        assert_eq!(
            &req[req.len() - 16..],
            &[1, PARAMS, 0, 1, 0, 0, 0, 0, 1, STDIN, 0, 1, 0, 0, 0, 0]
        );
        let text = String::from_utf8_lossy(&req);
        assert!(text.contains("QUERY_STRINGjson&full"));
        assert!(text.contains("SCRIPT_FILENAME/status"));
    }

    #[test]
    fn long_param_lengths_use_four_bytes() {
        let mut v = Vec::new();
        put_len(&mut v, 300);
        assert_eq!(v, [0x80, 0, 1, 44]);
    }

    #[test]
    fn cgi_reply_parsing() {
        let raw =
            include_bytes!("../../tests/fixtures/samples/php-fpm/status-json.via-cgi-fcgi.raw");
        let body = cgi_body(raw, "t").unwrap();
        assert!(
            body.starts_with(b"{\"pool\":"),
            "{:?}",
            String::from_utf8_lossy(&body[..20.min(body.len())])
        );
        assert!(matches!(
            cgi_body(b"Status: 404 Not Found\r\n\r\nFile not found.", "t"),
            Err(SourceError::Status(404))
        ));
        assert!(cgi_body(b"garbage", "t").is_err());
    }
}
