//! TLS and basic auth for every HTTP endpoint, from a web config file in the format of
//! Prometheus' exporter-toolkit (`--web.config.file FILE`, or `server.web_config_file`), so
//! one file can serve this adapter and the exporters beside it:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt            # relative paths are relative to this file's directory
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert   # default NoClientCert
//!   client_ca_file: clients-ca.crt
//!   min_version: TLS12               # TLS12 (default) or TLS13; max_version likewise
//! http_server_config:
//!   headers:
//!     X-Content-Type-Options: nosniff
//! basic_auth_users:                  # bcrypt: htpasswd -nBC 10 "" | tr -d ':\n'
//!   prometheus: $2y$10$...
//! ```
//!
//! The file is read once, at startup: a broken file stops the start with
//! `FILE: key: reason`. Unknown keys are errors, and so are the toolkit's keys this
//! adapter does not implement (`client_allowed_sans`, `cipher_suites`,
//! `curve_preferences`, `rate_limit`, and the client auth types that take a client
//! certificate without verifying it), unless left empty: a security setting is never
//! silently ignored. `http_server_config.http2` is accepted and has no effect (HTTP/1.1).
//!
//! Everything is behind basic auth when users are configured, `/healthz` included (as with
//! exporter-toolkit). A successful bcrypt check is remembered per (user, hash) as an HMAC
//! of the password under a key made at startup, so a scrape costs a bcrypt run only the
//! first time; no password is kept or logged. The TLS handshake is bounded by
//! `server.header_read_timeout`, so a silent client cannot hold a connection slot.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{
    HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use hyper::{Request, Response, StatusCode};
use ring::hmac;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use serde_norway::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

/// The realm in `WWW-Authenticate: Basic realm="metrics-adapter"`.
pub const REALM: &str = "metrics-adapter";

/// A web config problem: `FILE: key: reason` (the key dotted from the top, e.g.
/// `tls_server_config.cert_file`; empty for the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfigError {
    pub file: PathBuf,
    pub key: String,
    pub reason: String,
}

impl std::fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.reason)
        }
    }
}

impl std::error::Error for WebConfigError {}

/// The loaded web config: what the listener and every request go through.
pub struct Web {
    file: Option<PathBuf>,
    tls: Option<Tls>,
    auth: Option<BasicAuth>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

struct Tls {
    acceptor: TlsAcceptor,
    summary: String,
    /// An expired or not-yet-valid server certificate: loaded, but said at start.
    warning: Option<String>,
}

mod validity;

/// See [`BasicAuth::turn`].
const BCRYPT_AT_ONCE: usize = 2;

impl std::fmt::Debug for Web {
    // By hand: the users' hashes stay out of any debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web")
            .field("file", &self.file)
            .field("summary", &self.summary())
            .finish()
    }
}

impl Default for Web {
    fn default() -> Self {
        Web::disabled()
    }
}

impl Web {
    /// Plain HTTP, no auth, no extra headers (no web config file).
    pub fn disabled() -> Web {
        Web {
            file: None,
            tls: None,
            auth: None,
            headers: Vec::new(),
        }
    }

    /// `None`: [`Web::disabled`]; otherwise reads and checks the file, and the certificate
    /// and key files it names.
    pub fn load(file: Option<&Path>) -> Result<Web, WebConfigError> {
        let Some(file) = file else {
            return Ok(Web::disabled());
        };
        let text = crate::small_file::read_to_string(file, crate::small_file::CONFIG_LIMIT)
            .map_err(|e| WebConfigError {
                file: file.to_path_buf(),
                key: String::new(),
                reason: format!("cannot read: {e}"),
            })?;
        Web::parse(file, &text)
    }

    /// Parses `text` as if read from `file` (relative paths in it are relative to the
    /// directory of `file`).
    pub fn parse(file: &Path, text: &str) -> Result<Web, WebConfigError> {
        Ctx {
            file,
            dir: file.parent().unwrap_or(Path::new("")).to_path_buf(),
        }
        .web(text)
    }

    /// The acceptor when TLS is on.
    pub fn tls_acceptor(&self) -> Option<TlsAcceptor> {
        self.tls.as_ref().map(|t| t.acceptor.clone())
    }

    /// Whether requests need basic-auth credentials.
    pub fn auth_enabled(&self) -> bool {
        self.auth.is_some()
    }

    /// The web config file, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// What `check` and the start-up log warn about (an expired server certificate).
    pub fn warnings(&self) -> Vec<String> {
        self.tls.iter().filter_map(|t| t.warning.clone()).collect()
    }

    /// One line for logs and `check`: TLS, auth and headers in force.
    pub fn summary(&self) -> String {
        let tls = match &self.tls {
            Some(t) => t.summary.clone(),
            None => "plain HTTP".to_string(),
        };
        let auth = match &self.auth {
            Some(a) if a.users.len() == 1 => "basic auth (1 user)".to_string(),
            Some(a) => format!("basic auth ({} users)", a.users.len()),
            None => "no auth".to_string(),
        };
        let mut s = format!("{tls}, {auth}");
        if !self.headers.is_empty() {
            let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
            s.push_str(&format!(", extra headers: {}", names.join(", ")));
        }
        s
    }

    /// Runs `next` for an authorized request and adds the configured headers to its
    /// response; answers 401 (with the headers too) otherwise.
    pub async fn guard<B, F, Fut>(
        self: Arc<Self>,
        req: Request<B>,
        next: F,
    ) -> Result<Response<Full<Bytes>>, Infallible>
    where
        F: FnOnce(Request<B>) -> Fut,
        Fut: Future<Output = Result<Response<Full<Bytes>>, Infallible>>,
    {
        if let Some(auth) = &self.auth {
            if !auth.check(req.headers()).await {
                debug!(
                    method = %req.method(),
                    path = req.uri().path(),
                    "401: no valid basic-auth credentials"
                );
                return Ok(self.decorate(unauthorized()));
            }
        }
        let response = next(req).await?;
        Ok(self.decorate(response))
    }

    fn decorate(&self, mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
        for (k, v) in &self.headers {
            response.headers_mut().insert(k.clone(), v.clone());
        }
        response
    }

    /// How many bcrypt checks have run (cache misses), for tests.
    pub fn bcrypt_runs(&self) -> u64 {
        self.auth
            .as_ref()
            .map_or(0, |a| a.bcrypt_runs.load(Ordering::Relaxed))
    }
}

fn unauthorized() -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(b"Unauthorized\n")));
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        WWW_AUTHENTICATE,
        // REALM, spelled out: from_static needs a literal.
        HeaderValue::from_static("Basic realm=\"metrics-adapter\""),
    );
    r
}

/// What a client that speaks plain HTTP to the TLS port gets (as Go's servers answer).
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// The TLS handshake on an accepted connection, bounded by `limit` as a whole (a client
/// that sends nothing cannot hold its connection slot). A plain HTTP request gets a 400.
/// Failures are logged at debug level: port scanners and TCP probes are not news.
pub async fn accept_tls(
    acceptor: &TlsAcceptor,
    mut stream: TcpStream,
    peer: SocketAddr,
    limit: Duration,
) -> Option<TlsStream<TcpStream>> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(1..)) => {}
        Ok(Ok(_)) => return None, // closed without a word: a TCP probe
        Ok(Err(e)) => {
            debug!(%peer, "TLS handshake failed: {e}");
            return None;
        }
        Err(_) => {
            debug!(%peer, "TLS handshake timed out after {limit:?}");
            return None;
        }
    }
    // 0x16: a TLS handshake record. Anything else is not TLS; letters are likely HTTP.
    if first[0] != 0x16 {
        debug!(%peer, "not a TLS handshake on the TLS port; closing");
        if first[0].is_ascii_alphabetic() {
            let _ = tokio::time::timeout_at(deadline, async {
                // Read the request first: closing with unread data would reset the
                // connection before the client reads the answer.
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                stream.write_all(PLAIN_HTTP_ANSWER).await?;
                stream.shutdown().await
            })
            .await;
        }
        return None;
    }
    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            debug!(%peer, "TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            debug!(%peer, "TLS handshake timed out after {limit:?}");
            None
        }
    }
}

// ---------------------------------------------------------------------------------------
// Basic auth

struct BasicAuth {
    /// User name -> bcrypt hash.
    users: HashMap<String, String>,
    /// Checked for unknown users, so they take as long as known ones (no user enumeration
    /// by timing); never accepted.
    decoy: String,
    /// Per-process random key of the cache's HMACs.
    cache_key: hmac::Key,
    /// User -> HMAC of (hash, password) of the last successful bcrypt check.
    verified: Mutex<HashMap<String, hmac::Tag>>,
    /// Bcrypt checks at once, on the blocking pool: CPU-heavy by design, so a flood of
    /// wrong passwords must not take every core from the scrapes; two, so one slow check
    /// does not hold up every other first login. Waiters are served in order (the
    /// semaphore is fair), and the per-client connection limit bounds one client's share.
    turn: tokio::sync::Semaphore,
    bcrypt_runs: AtomicU64,
}

impl BasicAuth {
    async fn check(&self, headers: &HeaderMap) -> bool {
        let Some((user, password)) = credentials(headers) else {
            return false;
        };
        let known = self.users.get(&user);
        let hash = known.unwrap_or(&self.decoy).clone();
        let message = [hash.as_bytes(), b"\0", &password].concat();
        if known.is_some() && self.cached(&user, &message) {
            return true;
        }
        let Ok(_turn) = self.turn.acquire().await else {
            return false;
        };
        // Another request may have checked the same credentials while this one waited.
        if known.is_some() && self.cached(&user, &message) {
            return true;
        }
        self.bcrypt_runs.fetch_add(1, Ordering::Relaxed);
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(&password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        if !(ok && known.is_some()) {
            return false;
        }
        let tag = hmac::sign(&self.cache_key, &message);
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user, tag);
        true
    }

    fn cached(&self, user: &str, message: &[u8]) -> bool {
        let tag = self
            .verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(user)
            .copied();
        // hmac::verify compares in constant time.
        tag.is_some_and(|t| hmac::verify(&self.cache_key, message, t.as_ref()).is_ok())
    }
}

/// `Authorization: Basic base64(user:password)`, as user and password bytes.
fn credentials(headers: &HeaderMap) -> Option<(String, Vec<u8>)> {
    use base64::Engine;
    let value = headers.get(AUTHORIZATION)?.as_bytes().trim_ascii();
    let space = value.iter().position(|b| *b == b' ')?;
    if !value[..space].eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value[space + 1..].trim_ascii())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

// ---------------------------------------------------------------------------------------
// Parsing

/// Headers `http_server_config.headers` may set, and their allowed values (any when
/// empty): exporter-toolkit's list.
const EXTRA_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Version {
    Tls12,
    Tls13,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    None,
    VerifyIfGiven,
    RequireAndVerify,
}

struct Ctx<'a> {
    file: &'a Path,
    dir: PathBuf,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Sequence(s) => s.is_empty(),
        Value::Mapping(m) => m.is_empty(),
        _ => false,
    }
}

fn dotted(section: &str, key: &str) -> String {
    if section.is_empty() {
        key.to_string()
    } else {
        format!("{section}.{key}")
    }
}

/// A PEM text and the key it came from (for errors).
struct Pem {
    key: String,
    bytes: Vec<u8>,
}

impl Ctx<'_> {
    fn err(&self, key: impl Into<String>, reason: impl Into<String>) -> WebConfigError {
        WebConfigError {
            file: self.file.to_path_buf(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn unknown(&self, key: String, expected: &[&str]) -> WebConfigError {
        self.err(
            key,
            format!("unknown key; expected one of: {}", expected.join(", ")),
        )
    }

    /// A mapping's entries (nothing for an empty value), keys as strings.
    fn entries<'v>(
        &self,
        v: &'v Value,
        section: &str,
    ) -> Result<Vec<(String, &'v Value)>, WebConfigError> {
        match v {
            Value::Null => Ok(Vec::new()),
            Value::Mapping(m) => m
                .iter()
                .map(|(k, v)| match k {
                    Value::String(s) => Ok((s.clone(), v)),
                    other => Err(self.err(
                        section,
                        format!("keys must be strings, not {}", kind(other)),
                    )),
                })
                .collect(),
            other => Err(self.err(section, format!("expected a mapping, not {}", kind(other)))),
        }
    }

    /// A string value; the value itself is never echoed (it may be a secret).
    fn string(&self, v: &Value, key: &str) -> Result<String, WebConfigError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Null => Ok(String::new()),
            other => Err(self.err(key, format!("expected a string, not {}", kind(other)))),
        }
    }

    fn boolean(&self, v: &Value, key: &str) -> Result<bool, WebConfigError> {
        match v {
            Value::Bool(b) => Ok(*b),
            other => Err(self.err(key, format!("expected true or false, not {}", kind(other)))),
        }
    }

    /// A toolkit key this adapter does not implement: fine when empty, an error otherwise.
    fn unsupported(&self, v: &Value, key: &str, what: &str) -> Result<(), WebConfigError> {
        if is_empty(v) {
            Ok(())
        } else {
            Err(self.err(key, format!("{what} is not supported by metrics-adapter")))
        }
    }

    fn path(&self, s: &str) -> PathBuf {
        let p = Path::new(s);
        if p.is_relative() {
            self.dir.join(p)
        } else {
            p.to_path_buf()
        }
    }

    fn web(&self, text: &str) -> Result<Web, WebConfigError> {
        let doc: Value = serde_norway::from_str(text)
            .map_err(|e| self.err("", format!("not valid YAML: {e}")))?;
        let mut web = Web::disabled();
        web.file = Some(self.file.to_path_buf());
        for (k, v) in self.entries(&doc, "")? {
            match k.as_str() {
                "tls_server_config" => web.tls = self.tls(v)?,
                "http_server_config" => web.headers = self.http(v)?,
                "basic_auth_users" => web.auth = self.users(v)?,
                "rate_limit" => self.unsupported(v, "rate_limit", "rate limiting")?,
                _ => {
                    return Err(self.unknown(
                        k,
                        &[
                            "tls_server_config",
                            "http_server_config",
                            "basic_auth_users",
                        ],
                    ))
                }
            }
        }
        Ok(web)
    }

    fn http(&self, v: &Value) -> Result<Vec<(HeaderName, HeaderValue)>, WebConfigError> {
        let section = "http_server_config";
        let mut headers = Vec::new();
        for (k, v) in self.entries(v, section)? {
            let key = dotted(section, &k);
            match k.as_str() {
                // Accepted for files shared with exporters; this server speaks HTTP/1.1.
                "http2" => {
                    self.boolean(v, &key)?;
                }
                "headers" => {
                    for (name, value) in self.entries(v, &key)? {
                        let hkey = dotted(&key, &name);
                        let Some((_, allowed)) = EXTRA_HEADERS.iter().find(|(n, _)| *n == name)
                        else {
                            let names: Vec<&str> = EXTRA_HEADERS.iter().map(|(n, _)| *n).collect();
                            return Err(self.err(
                                hkey,
                                format!(
                                    "this header cannot be configured; one of: {}",
                                    names.join(", ")
                                ),
                            ));
                        };
                        let value = self.string(value, &hkey)?;
                        if value.is_empty() {
                            continue;
                        }
                        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
                            return Err(self.err(
                                hkey,
                                format!("{value:?} is not one of: {}", allowed.join(", ")),
                            ));
                        }
                        let hv = HeaderValue::from_str(&value)
                            .map_err(|_| self.err(&hkey, "not a valid header value"))?;
                        let hn = HeaderName::from_bytes(name.as_bytes())
                            .map_err(|_| self.err(&hkey, "not a valid header name"))?;
                        headers.push((hn, hv));
                    }
                }
                _ => return Err(self.unknown(key, &["http2", "headers"])),
            }
        }
        Ok(headers)
    }

    fn users(&self, v: &Value) -> Result<Option<BasicAuth>, WebConfigError> {
        let section = "basic_auth_users";
        let mut users = HashMap::new();
        let mut decoy = None;
        for (user, v) in self.entries(v, section)? {
            let key = dotted(section, &user);
            if user.contains(':') {
                return Err(self.err(key, "a user name cannot contain ':'"));
            }
            let hash = self.string(v, &key)?;
            let parts: bcrypt::HashParts = hash.parse().map_err(|e| {
                self.err(
                    &key,
                    format!(
                        "not a bcrypt hash ({e}); make one with: htpasswd -nBC 10 \"\" | tr -d ':\\n'"
                    ),
                )
            })?;
            if !(4..=31).contains(&parts.get_cost()) {
                return Err(self.err(key, "bcrypt cost must be between 4 and 31"));
            }
            decoy.get_or_insert_with(|| hash.clone());
            users.insert(user, hash);
        }
        let Some(decoy) = decoy else {
            return Ok(None);
        };
        let cache_key = hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .map_err(|_| self.err(section, "no randomness for the credential cache"))?;
        Ok(Some(BasicAuth {
            users,
            decoy,
            cache_key,
            verified: Mutex::new(HashMap::new()),
            turn: tokio::sync::Semaphore::new(BCRYPT_AT_ONCE),
            bcrypt_runs: AtomicU64::new(0),
        }))
    }

    fn version(&self, v: &Value, key: &str) -> Result<Version, WebConfigError> {
        match self.string(v, key)?.as_str() {
            "TLS12" => Ok(Version::Tls12),
            "TLS13" => Ok(Version::Tls13),
            "TLS10" | "TLS11" => {
                Err(self.err(key, "TLS 1.0 and 1.1 are not supported; use TLS12 or TLS13"))
            }
            other => Err(self.err(
                key,
                format!("{other:?} is not a TLS version; use TLS12 or TLS13"),
            )),
        }
    }

    /// Inline PEM (`inline`) or a file (`file`): exactly one of them.
    fn pem(
        &self,
        section: &str,
        inline: (&str, Option<String>),
        file: (&str, Option<String>),
    ) -> Result<Option<Pem>, WebConfigError> {
        let inline_value = inline.1.filter(|s| !s.is_empty());
        let file_value = file.1.filter(|s| !s.is_empty());
        match (inline_value, file_value) {
            (Some(_), Some(_)) => Err(self.err(
                dotted(section, inline.0),
                format!("give {} or {}, not both", inline.0, file.0),
            )),
            (Some(text), None) => Ok(Some(Pem {
                key: dotted(section, inline.0),
                bytes: text.into_bytes(),
            })),
            (None, Some(f)) => {
                let key = dotted(section, file.0);
                let path = self.path(&f);
                let bytes = crate::small_file::read(&path, crate::small_file::SECRET_LIMIT)
                    .map_err(|e| self.err(&key, format!("cannot read {}: {e}", path.display())))?;
                Ok(Some(Pem { key, bytes }))
            }
            (None, None) => Ok(None),
        }
    }

    /// Like [`Self::pem`], for a certificate or key that must be given one way or the other.
    fn required_pem(
        &self,
        section: &str,
        inline: (&str, Option<String>),
        file: (&str, Option<String>),
    ) -> Result<Pem, WebConfigError> {
        let (inline_key, file_key) = (inline.0, file.0);
        self.pem(section, inline, file)?.ok_or_else(|| {
            self.err(
                dotted(section, file_key),
                format!("missing: set {file_key} (or {inline_key})"),
            )
        })
    }

    fn certs(&self, pem: &Pem) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
        let certs = CertificateDer::pem_slice_iter(&pem.bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(&pem.key, format!("malformed PEM: {e}")))?;
        if certs.is_empty() {
            return Err(self.err(&pem.key, "no PEM CERTIFICATE block"));
        }
        Ok(certs)
    }

    fn tls(&self, v: &Value) -> Result<Option<Tls>, WebConfigError> {
        let section = "tls_server_config";
        let entries = self.entries(v, section)?;
        if entries.is_empty() {
            return Ok(None);
        }
        let (mut cert, mut cert_file, mut key, mut key_file, mut ca, mut ca_file) =
            (None, None, None, None, None, None);
        let mut client_auth = ClientAuth::None;
        let (mut min, mut max) = (Version::Tls12, Version::Tls13);
        let mut prefer_server_order = true;
        for (k, v) in entries {
            let full = dotted(section, &k);
            match k.as_str() {
                "cert" => cert = Some(self.string(v, &full)?),
                "cert_file" => cert_file = Some(self.string(v, &full)?),
                "key" => key = Some(self.string(v, &full)?),
                "key_file" => key_file = Some(self.string(v, &full)?),
                "client_ca" => ca = Some(self.string(v, &full)?),
                "client_ca_file" => ca_file = Some(self.string(v, &full)?),
                "client_auth_type" => {
                    client_auth = match self.string(v, &full)?.as_str() {
                        "" | "NoClientCert" => ClientAuth::None,
                        "VerifyClientCertIfGiven" => ClientAuth::VerifyIfGiven,
                        "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerify,
                        "RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert" => {
                            return Err(self.err(
                                full,
                                "client certificates taken without verification are not \
                                 supported; use RequireAndVerifyClientCert",
                            ))
                        }
                        other => {
                            return Err(self.err(
                                full,
                                format!(
                                    "{other:?} is not one of: NoClientCert, \
                                     VerifyClientCertIfGiven, RequireAndVerifyClientCert"
                                ),
                            ))
                        }
                    }
                }
                "min_version" => min = self.version(v, &full)?,
                "max_version" => max = self.version(v, &full)?,
                "prefer_server_cipher_suites" => prefer_server_order = self.boolean(v, &full)?,
                "client_allowed_sans" => {
                    self.unsupported(v, &full, "matching client certificate SANs")?
                }
                "cipher_suites" => self.unsupported(v, &full, "choosing cipher suites")?,
                "curve_preferences" => self.unsupported(v, &full, "choosing curves")?,
                _ => {
                    return Err(self.unknown(
                        full,
                        &[
                            "cert_file",
                            "key_file",
                            "cert",
                            "key",
                            "client_auth_type",
                            "client_ca_file",
                            "client_ca",
                            "min_version",
                            "max_version",
                            "prefer_server_cipher_suites",
                        ],
                    ))
                }
            }
        }
        if min > max {
            return Err(self.err(dotted(section, "min_version"), "is newer than max_version"));
        }
        let cert = self.required_pem(section, ("cert", cert), ("cert_file", cert_file))?;
        let key = self.required_pem(section, ("key", key), ("key_file", key_file))?;
        let ca = self.pem(section, ("client_ca", ca), ("client_ca_file", ca_file))?;
        let chain = self.certs(&cert)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let warning = chain
            .first()
            .and_then(|c| validity::validity(c.as_ref()))
            .and_then(|v| validity::warning(v, now))
            .map(|w| format!("{}: {w}", cert.key));
        let private_key = PrivateKeyDer::from_pem_slice(&key.bytes).map_err(|e| {
            // The key's own bytes never go into a message.
            self.err(
                &key.key,
                match e {
                    pem::Error::NoItemsFound => {
                        "no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"
                    }
                    _ => "malformed PEM private key",
                },
            )
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = match (client_auth, &ca) {
            (ClientAuth::None, None) => WebPkiClientVerifier::no_client_auth(),
            (ClientAuth::None, Some(ca)) => {
                return Err(self.err(
                    &ca.key,
                    "client CAs are set but client_auth_type is NoClientCert; set \
                     client_auth_type: RequireAndVerifyClientCert",
                ))
            }
            (_, None) => {
                return Err(self.err(
                    dotted(section, "client_ca_file"),
                    "missing: client_auth_type verifies client certificates against it",
                ))
            }
            (mode, Some(ca)) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in self.certs(ca)? {
                    roots
                        .add(c)
                        .map_err(|e| self.err(&ca.key, format!("unusable CA certificate: {e}")))?;
                }
                let mut builder =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                if mode == ClientAuth::VerifyIfGiven {
                    builder = builder.allow_unauthenticated();
                }
                builder
                    .build()
                    .map_err(|e| self.err(&ca.key, e.to_string()))?
            }
        };
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
            (Version::Tls12, &rustls::version::TLS12),
            (Version::Tls13, &rustls::version::TLS13),
        ]
        .into_iter()
        .filter(|(v, _)| (min..=max).contains(v))
        .map(|(_, p)| p)
        .collect();
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| self.err(dotted(section, "min_version"), e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, private_key)
            .map_err(|e| {
                let reason = match e {
                    rustls::Error::InconsistentKeys(_) => {
                        format!("is not the key of the certificate in {}", cert.key)
                    }
                    e => format!("cannot be used with the certificate in {}: {e}", cert.key),
                };
                self.err(&key.key, reason)
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.ignore_client_order = prefer_server_order;
        let name = |v: Version| match v {
            Version::Tls12 => "TLS12",
            Version::Tls13 => "TLS13",
        };
        let summary = format!(
            "TLS ({}..{}, client certificates: {})",
            name(min),
            name(max),
            match client_auth {
                ClientAuth::None => "not asked for",
                ClientAuth::VerifyIfGiven => "verified if given",
                ClientAuth::RequireAndVerify => "required and verified",
            }
        );
        Ok(Some(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            summary,
            warning,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Web, WebConfigError> {
        Web::parse(Path::new("/etc/adapter/web.yml"), text)
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    fn basic(user: &str, password: &str) -> HeaderMap {
        use base64::Engine;
        let mut h = HeaderMap::new();
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {token}")).unwrap(),
        );
        h
    }

    #[test]
    fn empty_file_and_empty_sections_change_nothing() {
        for text in [
            "",
            "# nothing\n",
            "tls_server_config:\nbasic_auth_users: {}\n",
        ] {
            let web = parse(text).unwrap();
            assert!(
                web.tls_acceptor().is_none() && !web.auth_enabled(),
                "{text:?}"
            );
            assert_eq!(web.summary(), "plain HTTP, no auth");
        }
    }

    #[test]
    fn users_and_headers() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let web = parse(&format!(
            "basic_auth_users:\n  alice: {hash}\n  bob: '{hash}'\n\
             http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    \
             Content-Security-Policy: \"default-src 'self'\"\n    X-XSS-Protection: ''\n\
             rate_limit:\n"
        ))
        .unwrap();
        assert!(web.auth_enabled() && web.tls_acceptor().is_none());
        assert_eq!(
            web.summary(),
            "plain HTTP, basic auth (2 users), extra headers: x-frame-options, content-security-policy"
        );
        // No hash in debug output.
        assert!(!format!("{web:?}").contains(&hash));
    }

    #[test]
    fn unknown_keys_name_file_and_key() {
        let e = err("basic_auth_user:\n  alice: x\n");
        assert!(
            e.starts_with("/etc/adapter/web.yml: basic_auth_user: unknown key; expected one of"),
            "{e}"
        );
        let e = err("tls_server_config:\n  cert_flie: a.crt\n");
        assert!(
            e.starts_with("/etc/adapter/web.yml: tls_server_config.cert_flie: unknown key"),
            "{e}"
        );
        let e = err("http_server_config:\n  header:\n    X-Frame-Options: deny\n");
        assert!(
            e.contains(": http_server_config.header: unknown key"),
            "{e}"
        );
        let e = err("http_server_config:\n  headers:\n    X-Powered-By: me\n");
        assert!(
            e.contains("http_server_config.headers.X-Powered-By: this header cannot be configured"),
            "{e}"
        );
        let e = err("http_server_config:\n  headers:\n    X-Frame-Options: allow\n");
        assert!(
            e.contains("X-Frame-Options: \"allow\" is not one of"),
            "{e}"
        );
    }

    #[test]
    fn unsupported_keys_fail_unless_empty() {
        assert!(parse("rate_limit:\n").is_ok());
        // Empty: no complaint about cipher_suites (the missing certificate is next).
        let e = err("tls_server_config:\n  cipher_suites: []\n  key_file: a.key\n");
        assert!(e.contains("tls_server_config.cert_file: missing"), "{e}");
        let e = err("rate_limit:\n  interval: 1s\n  burst: 20\n");
        assert!(
            e.contains(": rate_limit: rate limiting is not supported"),
            "{e}"
        );
        let e = err(
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_allowed_sans: [x]\n",
        );
        assert!(
            e.contains("tls_server_config.client_allowed_sans: matching client certificate SANs"),
            "{e}"
        );
        let e = err("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  client_auth_type: RequireAnyClientCert\n");
        assert!(e.contains("tls_server_config.client_auth_type: client certificates taken without verification"), "{e}");
        let e = err(
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  min_version: TLS10\n",
        );
        assert!(
            e.contains("tls_server_config.min_version: TLS 1.0 and 1.1"),
            "{e}"
        );
        let e = err("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  min_version: TLS13\n  max_version: TLS12\n");
        assert!(
            e.contains("tls_server_config.min_version: is newer than max_version"),
            "{e}"
        );
    }

    #[test]
    fn bad_hashes_and_user_names() {
        let e = err("basic_auth_users:\n  alice: hunter2\n");
        assert!(
            e.starts_with("/etc/adapter/web.yml: basic_auth_users.alice: not a bcrypt hash"),
            "{e}"
        );
        // The value may be a password pasted by mistake: never echoed.
        assert!(!e.contains("hunter2"), "{e}");
        let e = err("basic_auth_users:\n  alice: 12\n");
        assert!(
            e.contains("basic_auth_users.alice: expected a string, not a number"),
            "{e}"
        );
        let hash = bcrypt::hash("x", 4).unwrap();
        let e = err(&format!("basic_auth_users:\n  'a:b': '{hash}'\n"));
        assert!(
            e.contains("basic_auth_users.a:b: a user name cannot contain ':'"),
            "{e}"
        );
        let e = err("basic_auth_users: [alice]\n");
        assert!(
            e.contains(": basic_auth_users: expected a mapping, not a list"),
            "{e}"
        );
    }

    #[test]
    fn tls_files_are_named_and_relative_to_the_config() {
        let e = err("tls_server_config:\n  cert_file: server.crt\n  key_file: /x/server.key\n");
        assert!(
            e.starts_with(
                "/etc/adapter/web.yml: tls_server_config.cert_file: cannot read /etc/adapter/server.crt:"
            ),
            "{e}"
        );
        let e = err("tls_server_config:\n  key_file: server.key\n");
        assert!(e.contains("tls_server_config.cert_file: missing"), "{e}");
        let e = err("tls_server_config:\n  cert: x\n  cert_file: y\n  key_file: z\n");
        assert!(
            e.contains("tls_server_config.cert: give cert or cert_file, not both"),
            "{e}"
        );
        let e = err("tls_server_config:\n  cert: not pem\n  key: also not pem\n");
        assert!(
            e.contains("tls_server_config.cert: no PEM CERTIFICATE block"),
            "{e}"
        );
        let e = err("tls_server_config:\n  - cert_file\n");
        assert!(
            e.contains(": tls_server_config: expected a mapping, not a list"),
            "{e}"
        );
    }

    #[test]
    fn invalid_yaml_is_named() {
        let e = err("basic_auth_users:\n  alice: [\n");
        assert!(
            e.starts_with("/etc/adapter/web.yml: not valid YAML:"),
            "{e}"
        );
        let e = err("basic_auth_users: {}\nbasic_auth_users: {}\n");
        assert!(
            e.starts_with("/etc/adapter/web.yml: not valid YAML:"),
            "{e}"
        );
        let e = Web::load(Some(Path::new("/nonexistent/web.yml"))).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/web.yml: cannot read:"),
            "{e}"
        );
        assert!(Web::load(None).is_ok_and(|w| w.file().is_none()));
    }

    #[test]
    fn credentials_are_parsed_strictly() {
        assert_eq!(
            credentials(&basic("alice", "pa:ss word")),
            Some(("alice".into(), b"pa:ss word".to_vec()))
        );
        let mut h = HeaderMap::new();
        for bad in ["Bearer abc", "Basic", "Basic !!!", "Basic YWxpY2U="] {
            h.insert(AUTHORIZATION, HeaderValue::from_static(bad));
            assert_eq!(credentials(&h), None, "{bad}");
        }
        h.insert(AUTHORIZATION, HeaderValue::from_static("basic   YTpi "));
        assert_eq!(credentials(&h), Some(("a".into(), b"b".to_vec())));
    }

    #[tokio::test]
    async fn auth_checks_bcrypt_once_per_good_password() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let web = Arc::new(parse(&format!("basic_auth_users:\n  alice: {hash}\n")).unwrap());
        let auth = web.auth.as_ref().unwrap();
        assert!(!auth.check(&HeaderMap::new()).await);
        assert_eq!(web.bcrypt_runs(), 0);
        assert!(auth.check(&basic("alice", "s3cret")).await);
        assert!(auth.check(&basic("alice", "s3cret")).await);
        assert!(auth.check(&basic("alice", "s3cret")).await);
        assert_eq!(web.bcrypt_runs(), 1, "later checks come from the cache");
        // Wrong passwords and unknown users always cost a bcrypt run and never pass, not
        // even with the right password of another user.
        assert!(!auth.check(&basic("alice", "s3cre")).await);
        assert!(!auth.check(&basic("alice", "s3cret ")).await);
        assert!(!auth.check(&basic("mallory", "s3cret")).await);
        assert_eq!(web.bcrypt_runs(), 4);
        assert!(auth.check(&basic("alice", "s3cret")).await);
        assert_eq!(web.bcrypt_runs(), 4);
    }

    #[tokio::test]
    async fn guard_answers_401_with_realm_and_adds_headers() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let web = Arc::new(
            parse(&format!(
                "basic_auth_users:\n  alice: {hash}\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
            ))
            .unwrap(),
        );
        let ok = |req: Request<()>| async move {
            assert_eq!(req.uri().path(), "/metrics");
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"page"))))
        };
        let req = Request::get("/metrics").body(()).unwrap();
        let r = web.clone().guard(req, ok).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let realm = r.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        assert_eq!(realm, format!("Basic realm=\"{REALM}\""));
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let mut req = Request::get("/metrics").body(()).unwrap();
        *req.headers_mut() = basic("alice", "s3cret");
        let r = web.clone().guard(req, ok).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
}
