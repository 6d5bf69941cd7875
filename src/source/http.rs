//! `http`: GET a status page (nginx `stub_status`, Apache `?auto`, HAProxy `;csv`, JSON),
//! or POST a query to an app whose stats are its answer (see [`request_body`]).
//!
//! HTTP/1.1 with keep-alive: the connection of the last fetch is kept and reused (a new TCP
//! connection per scrape costs more than the status page itself). A kept connection the
//! server has closed meanwhile fails before any response; that fetch is retried once on a
//! fresh connection, so a stale keep-alive never marks the source down.
//! Credentials are read from their file or variable at each fetch, so rotation just works.
//! With `socket`, the connection goes to that unix stream socket instead of the URL's host
//! and port; the URL still gives the `Host` header and the path (an app behind a socket on
//! a shared volume, nginx `listen unix:`). `https://` URLs speak TLS (see [`tls`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;

use serde::Deserialize;

use super::{quote, KeyError, Secret, SourceError, UNSET};

mod request_body;
pub mod tls;

/// The keys of an `http` source, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub url: Option<String>,
    pub socket: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub basic_auth_user: Option<String>,
    pub basic_auth_password_file: Option<String>,
    pub basic_auth_password_env: Option<String>,
    pub bearer_token_file: Option<String>,
    pub bearer_token_env: Option<String>,
    pub gzip: Option<bool>,
    /// GET unless a body is given (see [`request_body`]).
    pub method: Option<String>,
    pub body: Option<String>,
    pub body_file: Option<String>,
    /// `https://` settings: Prometheus' `tls_config` keys (see [`tls`]).
    pub tls: Option<tls::Config>,
}

#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Basic {
        user: String,
        password: Option<Secret>,
    },
    Bearer(Secret),
}

/// Where the page is, worked out once from the URL: the one place that knows the default
/// port and that an IPv6 host is bracketed in a URL and `Host`, bare for the connect.
#[derive(Debug, Clone)]
pub struct Target {
    /// As in the URL: `localhost`, `127.0.0.1`, `[::1]`.
    host: String,
    /// The port written in the URL; `None` means 80, and `Host` then carries none.
    port: Option<u16>,
    /// The request target: path and query, `/` when the URL has no path.
    path: String,
    /// `https://`: the default port is 443.
    https: bool,
}

impl Target {
    fn new(uri: &Uri) -> Target {
        Target {
            host: uri.host().unwrap_or_default().to_string(),
            port: uri.port_u16(),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
            https: uri.scheme_str() == Some("https"),
        }
    }

    /// `host[:port]`, for the `Host` header.
    fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// What to connect to: the host without an IPv6 address's brackets, and the port.
    fn socket(&self) -> (&str, u16) {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        (host, self.port.unwrap_or(if self.https { 443 } else { 80 }))
    }

    /// The URL without any user info.
    fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.authority(), self.path)
    }
}

#[derive(Debug, Clone)]
pub struct HttpSource {
    pub target: Target,
    /// A unix stream socket to connect to instead of the URL's host and port.
    pub socket: Option<std::path::PathBuf>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub auth: Auth,
    pub gzip: bool,
    /// The method, and the body a POST sends.
    pub request_body: request_body::RequestBody,
    /// TLS, for an `https://` URL.
    pub tls: Option<Arc<tls::Tls>>,
    /// The idle keep-alive connection, shared by clones of this source.
    idle: Arc<Mutex<Option<Conn>>>,
}

/// An HTTP/1.1 connection: the request half, and its driver task (stopped on drop).
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    _driver: AbortOnDrop<()>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Conn")
    }
}

impl HttpSource {
    pub fn from_config(c: Config) -> Result<HttpSource, KeyError> {
        let bad_url = |reason: String| KeyError::invalid("url", reason);
        let url = c
            .url
            .as_deref()
            .ok_or_else(|| KeyError::missing("url", "the page to GET"))?;
        // User info (`http://user:password@host/`) would be ignored, and the URL is echoed
        // in errors: refuse it, without echoing it. Any `@` counts: a password holding an
        // unencoded `/` or `?` moves the `@` out of what parses as the authority.
        if url.contains('@') {
            return Err(bad_url(
                "credentials in the URL are not supported (nor shown): use basic_auth_user \
                 with basic_auth_password_file or basic_auth_password_env (an `@` that \
                 belongs in the path or query is written %40)"
                    .into(),
            ));
        }
        let uri: Uri = url.parse().map_err(|e| bad_url(format!("{url:?}: {e}")))?;
        // `Uri` takes `:99999`, `:80a` and `:` and the connect would then use port 80.
        if let Some(authority) = uri.authority() {
            let a = authority.as_str();
            let bracketed_v6 = a.starts_with('[') && a.ends_with(']');
            let with_port = if a.contains(':') && !bracketed_v6 {
                a.to_string()
            } else {
                format!("{a}:80")
            };
            super::check_host_port(&with_port).map_err(bad_url)?;
        }
        match uri.scheme_str() {
            Some("http" | "https") => {}
            Some(other) => {
                return Err(bad_url(format!(
                    "scheme {other:?} is not supported; use http:// or https://"
                )))
            }
            None => return Err(bad_url(format!("{url:?} needs http:// or https://"))),
        }
        if uri.host().is_none() {
            return Err(bad_url(format!("{url:?} has no host")));
        }
        let mut headers = Vec::new();
        for (k, v) in &c.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| KeyError::invalid("headers", format!("{k:?} is not a header name")))?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                KeyError::invalid(
                    "headers",
                    format!("value of {k:?} is not a valid header value"),
                )
            })?;
            headers.push((name, value));
        }
        let password = Secret::one_of(
            c.basic_auth_password_file,
            c.basic_auth_password_env,
            "basic_auth_password_file",
        )?;
        let bearer = Secret::one_of(c.bearer_token_file, c.bearer_token_env, "bearer_token_file")?;
        let auth = match (c.basic_auth_user, password, bearer) {
            (Some(_), _, Some(_)) => {
                return Err(KeyError::invalid(
                    "bearer_token_file",
                    "use basic auth or a bearer token, not both",
                ))
            }
            (Some(user), password, None) => Auth::Basic { user, password },
            (None, Some(_), _) => {
                return Err(KeyError::missing(
                    "basic_auth_user",
                    "a password is given without a user",
                ))
            }
            (None, None, Some(token)) => Auth::Bearer(token),
            (None, None, None) => Auth::None,
        };
        let socket = match c.socket {
            Some(s) if s.is_empty() => {
                return Err(KeyError::invalid(
                    "socket",
                    "empty; give the unix socket's path, e.g. /run/app/app.sock",
                ))
            }
            // Written as an address elsewhere (`unix:/path` in tcp and fastcgi): take it.
            Some(s) => Some(s.strip_prefix("unix:").unwrap_or(&s).into()),
            None => None,
        };
        let tls = tls::Tls::from_config(
            c.tls,
            uri.scheme_str() == Some("https"),
            uri.host().unwrap_or_default(),
        )?
        .map(Arc::new);
        Ok(HttpSource {
            request_body: request_body::RequestBody::from_config(c.method, c.body, c.body_file)?,
            tls,
            target: Target::new(&uri),
            socket,
            headers,
            auth,
            gzip: c.gzip.unwrap_or(true),
            idle: Arc::default(),
        })
    }

    /// The URL without any user info, and the socket it is read through.
    pub fn describe(&self) -> String {
        match &self.socket {
            Some(path) => format!("{} via unix:{}", self.target.url(), path.display()),
            None => self.target.url(),
        }
    }

    /// Every key with the value in force (see [`super::Source::resolved`]). Secrets are
    /// named by where they are read from.
    pub fn resolved(&self) -> Vec<(&'static str, String)> {
        let unset = || UNSET.to_string();
        let (mut user, mut pw_file, mut pw_env, mut tok_file, mut tok_env) =
            (unset(), unset(), unset(), unset(), unset());
        match &self.auth {
            Auth::None => {}
            Auth::Basic { user: u, password } => {
                user = quote(u);
                (pw_file, pw_env) = Secret::resolved(password.as_ref());
            }
            Auth::Bearer(t) => (tok_file, tok_env) = Secret::resolved(Some(t)),
        }
        // Header values can be credentials (`Authorization`, API keys): names only.
        let headers = if self.headers.is_empty() {
            unset()
        } else {
            let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
            format!("{} (values not shown)", names.join(", "))
        };
        vec![
            ("url", quote(&self.target.url())),
            (
                "socket",
                self.socket
                    .as_ref()
                    .map_or_else(unset, |p| quote(&p.display().to_string())),
            ),
            ("headers", headers),
            ("basic_auth_user", user),
            ("basic_auth_password_file", pw_file),
            ("basic_auth_password_env", pw_env),
            ("bearer_token_file", tok_file),
            ("bearer_token_env", tok_env),
            ("gzip", self.gzip.to_string()),
        ]
        .into_iter()
        .chain(self.request_body.resolved())
        .chain(tls::Tls::resolved(self.tls.as_deref()))
        .collect()
    }

    /// The `Authorization` value, its secret read now, off the runtime thread.
    async fn authorization(&self) -> Result<Option<HeaderValue>, SourceError> {
        let a = match &self.auth {
            Auth::None => return Ok(None),
            Auth::Basic { user, password } => {
                use base64::Engine;
                let pass = match password {
                    Some(p) => p.read_off_thread().await?,
                    None => String::new(),
                };
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
                )
            }
            Auth::Bearer(token) => format!("Bearer {}", token.read_off_thread().await?),
        };
        // The encoded credential too: an app that echoes the header echoes that.
        if let Some((_, credential)) = a.split_once(' ') {
            super::secret::remember(credential);
        }
        let mut v = HeaderValue::from_str(&a).map_err(|_| {
            SourceError::Secret("credential holds characters not allowed in a header".into())
        })?;
        // Kept out of hyper's Debug output of the request.
        v.set_sensitive(true);
        Ok(Some(v))
    }

    fn request(
        &self,
        authorization: Option<&HeaderValue>,
        body: &Bytes,
    ) -> Result<Request<Full<Bytes>>, SourceError> {
        let mut req = Request::builder()
            .method(self.request_body.method.clone())
            .uri(&self.target.path)
            .header(hyper::header::HOST, self.target.authority())
            .header(
                hyper::header::USER_AGENT,
                concat!("metrics-adapter/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body.clone()))
            .map_err(|e| SourceError::Protocol(format!("building the request: {e}")))?;
        let h = req.headers_mut();
        if self.gzip {
            h.insert(
                hyper::header::ACCEPT_ENCODING,
                HeaderValue::from_static("gzip"),
            );
        }
        for (k, v) in &self.headers {
            h.insert(k.clone(), v.clone());
        }
        if let Some(v) = authorization {
            h.insert(hyper::header::AUTHORIZATION, v.clone());
        }
        Ok(req)
    }

    async fn connect(&self) -> Result<Conn, SourceError> {
        let target = self.describe();
        let stream: Box<dyn super::Io> = match &self.socket {
            Some(path) => super::connect_unix(path).await,
            None => tokio::net::TcpStream::connect(self.target.socket())
                .await
                .map(|s| {
                    let _ = s.set_nodelay(true);
                    Box::new(s) as Box<dyn super::Io>
                }),
        }
        .map_err(SourceError::io(format!("connecting to {target}")))?;
        let stream = match &self.tls {
            Some(tls) => tls.connect(stream, &target).await?,
            None => stream,
        };
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| SourceError::Protocol(format!("{target}: {e}")))?;
        let driver = AbortOnDrop(tokio::spawn(async move {
            let _ = conn.await;
        }));
        Ok(Conn {
            sender,
            _driver: driver,
        })
    }

    /// GETs the page whole (see [`super::framed`] for an append log's tail).
    pub async fn fetch(&self, max_bytes: u64) -> super::Fetch {
        let answer = match self.get(max_bytes, None).await {
            Ok(a) => a,
            Err(e) => return super::Fetch::failed(e),
        };
        let mut fetch = super::Fetch {
            read_bytes: answer.read_bytes,
            modified: answer.last_modified,
            ..super::Fetch::default()
        };
        fetch.data = match answer.status {
            s if s.is_success() => Ok(answer.body),
            s => Err(SourceError::Status(s.as_u16())),
        };
        fetch
    }

    /// One GET, for the last `range` bytes when given (then without gzip: a byte range of a
    /// compressed body cannot be decompressed). Any status is returned; the body is read
    /// (at most `max_bytes`) only for a success.
    pub(super) async fn get(
        &self,
        max_bytes: u64,
        range: Option<u64>,
    ) -> Result<Answer, SourceError> {
        let target = self.describe();
        // Read once per fetch, before a connection is taken: a retry on a fresh connection
        // sends the same credential.
        let authorization = self.authorization().await?;
        let auth = authorization.as_ref();
        let body = self.request_body.bytes().await?;
        let request = || {
            let mut req = self.request(auth, &body)?;
            if let Some(n) = range {
                let h = req.headers_mut();
                h.remove(hyper::header::ACCEPT_ENCODING);
                let value = HeaderValue::from_str(&format!("bytes=-{n}"))
                    .map_err(|e| SourceError::Protocol(format!("building the request: {e}")))?;
                h.insert(hyper::header::RANGE, value);
            }
            Ok::<_, SourceError>(req)
        };
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let reusable = match kept {
            Some(mut conn) => conn.sender.ready().await.is_ok().then_some(conn),
            None => None,
        };
        let (mut conn, resp) = match reusable {
            Some(mut conn) => match conn.sender.send_request(request()?).await {
                Ok(resp) => (conn, resp),
                // Closed by the server while idle: once more, on a fresh connection.
                Err(_) => self.fresh_request(request()?).await?,
            },
            None => self.fresh_request(request()?).await?,
        };
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let status = resp.status();
        let content_range = header(hyper::header::CONTENT_RANGE);
        let last_modified = header(hyper::header::LAST_MODIFIED)
            .and_then(|t| crate::parse::date::parse(&t).ok())
            .and_then(|t| std::time::Duration::try_from_secs_f64(t).ok())
            .and_then(|t| std::time::UNIX_EPOCH.checked_add(t));
        if !status.is_success() {
            return Ok(Answer {
                status,
                content_range,
                last_modified,
                body: Vec::new(),
                read_bytes: 0,
            });
        }
        let gzipped = resp
            .headers()
            .get(hyper::header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let limit = usize::try_from(max_bytes).unwrap_or(usize::MAX);
        let body = Limited::new(resp.into_body(), limit)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    SourceError::TooLarge { limit: max_bytes }
                } else {
                    SourceError::Protocol(format!("{target}: reading the body: {e}"))
                }
            })?;
        // The body was read to its end: the connection can serve the next fetch.
        if conn.sender.ready().await.is_ok() {
            *self.idle.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn);
        }
        let body = body.to_bytes();
        let read_bytes = body.len() as u64;
        let body = if gzipped {
            let mut out = Vec::new();
            super::read_limited_blocking(
                flate2::read::GzDecoder::new(&body[..]),
                max_bytes,
                &mut out,
                |e| SourceError::Protocol(format!("{target}: bad gzip body: {e}")),
            )?;
            out
        } else {
            body.to_vec()
        };
        Ok(Answer {
            status,
            content_range,
            last_modified,
            body,
            read_bytes,
        })
    }
}

/// What one GET gave.
pub(super) struct Answer {
    pub status: hyper::StatusCode,
    /// `Content-Range` of a partial answer (206), as sent.
    pub content_range: Option<String>,
    /// `Last-Modified`, when sent and readable: nginx sends a served file's mtime.
    pub last_modified: Option<std::time::SystemTime>,
    /// The body, decompressed; empty unless the status is a success.
    pub body: Vec<u8>,
    /// Bytes of body read off the connection.
    pub read_bytes: u64,
}

impl HttpSource {
    async fn fresh_request(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(Conn, hyper::Response<Incoming>), SourceError> {
        let mut conn = self.connect().await?;
        let resp = conn
            .sender
            .send_request(request)
            .await
            .map_err(|e| SourceError::Protocol(format!("{}: {e}", self.describe())))?;
        Ok((conn, resp))
    }
}

/// Stops the connection task when the fetch ends or is dropped (timeout).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests;
