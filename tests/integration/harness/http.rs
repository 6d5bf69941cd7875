//! A tiny HTTP/1.1 client ([`http_request`], [`Response`]; chunked bodies decoded) and raw
//! TCP exchanges ([`raw_exchange`]) with anything on 127.0.0.1. One fresh connection per
//! request, every read and write under a timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::LOCALHOST;

/// Read/write timeout of the test HTTP client: longer than any scrape a test provokes.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// An HTTP response. Header names are lower-cased.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port` over a fresh connection (`Connection: close`).
pub fn try_http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Response> {
    let mut stream =
        TcpStream::connect_timeout(&SocketAddr::from((LOCALHOST, port)), Duration::from_secs(5))?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw, method == "HEAD")
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Like [`try_http_request`], panicking on any I/O error.
pub fn http_request(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    try_http_request(port, method, path, headers)
        .unwrap_or_else(|e| panic!("{method} http://127.0.0.1:{port}{path}: {e}"))
}

/// The body of `GET path`, panicking unless the status is 200.
pub fn http_ok_text(port: u16, path: &str) -> String {
    let r = http_get(port, path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.text()
}

/// `GET path` without extra headers.
pub fn http_get(port: u16, path: &str) -> Response {
    http_request(port, "GET", path, &[])
}

fn parse_response(raw: &[u8], head: bool) -> Result<Response, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {} bytes", raw.len()))?;
    let head_text = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let body = if head {
        Vec::new()
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = get("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| format!("bad content-length {len:?}"))?;
        if rest.len() < len {
            return Err(format!("body cut short: {} of {len} bytes", rest.len()));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line without CRLF")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err("chunk cut short".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from((LOCALHOST, port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// Connects to 127.0.0.1:`port`, sends `send` and reads until the reply ends with `until`
/// (or the peer closes). Bounded by a 5 s timeout and 16 MiB.
pub fn raw_exchange(port: u16, send: &[u8], until: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s =
        TcpStream::connect_timeout(&SocketAddr::from((LOCALHOST, port)), Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(send)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while !out.ends_with(until) && out.len() < 16 << 20 {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    Ok(out)
}
