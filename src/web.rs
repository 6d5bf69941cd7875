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
//! The file is read at startup, where a broken file stops the start with
//! `FILE: key: reason`, and again whenever it or a PEM file it names changes (a rotated
//! certificate, a new password: see [`crate::app::watch`]), or on a reload; a broken new
//! file there keeps the last good one serving. Unknown keys are errors, and so are the toolkit's keys this
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
//!
//! The parts, in the order a start goes through them: `file` turns the YAML into checked
//! settings (every mistake in the text is found before any file is read), then `tls`
//! builds the rustls config from the PEM bytes those settings name, and `basic_auth` holds
//! the users; [`Web`] here puts them in front of every request.

use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Request, Response, StatusCode};
use tokio_rustls::TlsAcceptor;
use tracing::debug;

mod basic_auth;
mod file;
mod tls;
mod validity;

pub use tls::accept_tls;

use basic_auth::BasicAuth;
use file::WebConfig;
use tls::ServerTls;

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

/// A problem with one key of the web config, before the file's name is put in front:
/// what the parts below return. The reason never holds a secret value.
#[derive(Debug)]
struct KeyError {
    key: String,
    reason: String,
}

impl KeyError {
    fn new(key: impl Into<String>, reason: impl Into<String>) -> KeyError {
        KeyError {
            key: key.into(),
            reason: reason.into(),
        }
    }

    fn in_file(self, file: &Path) -> WebConfigError {
        WebConfigError {
            file: file.to_path_buf(),
            key: self.key,
            reason: self.reason,
        }
    }
}

/// The loaded web config: what the listener and every request go through.
pub struct Web {
    file: Option<PathBuf>,
    /// The web config file and the PEM files it names: what a change re-reads it for.
    files: Vec<PathBuf>,
    tls: Option<ServerTls>,
    auth: Option<BasicAuth>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

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

/// The peer's address, put in each request's extensions by the server, so per-client
/// limits (one password check at a time) know who asks.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub std::net::IpAddr);

impl Web {
    /// Plain HTTP, no auth, no extra headers (no web config file).
    pub fn disabled() -> Web {
        Web {
            file: None,
            files: Vec::new(),
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
            .map_err(|e| KeyError::new("", format!("cannot read: {e}")).in_file(file))?;
        Web::parse(file, &text)
    }

    /// Parses `text` as if read from `file` (relative paths in it are relative to the
    /// directory of `file`), then reads the PEM files it names and builds TLS and auth.
    /// Every problem of the text itself is found before any file is read.
    pub fn parse(file: &Path, text: &str) -> Result<Web, WebConfigError> {
        let in_file = |e: KeyError| e.in_file(file);
        let config = WebConfig::parse(file, text).map_err(in_file)?;
        let mut files = vec![file.to_path_buf()];
        let tls = match config.tls {
            None => None,
            Some(settings) => {
                let settings = settings
                    .try_map(|pem| {
                        if let file::PemFrom::File(path) = &pem.from {
                            files.push(path.clone());
                        }
                        pem.load()
                    })
                    .map_err(in_file)?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64());
                Some(ServerTls::build(&settings, now).map_err(in_file)?)
            }
        };
        Ok(Web {
            file: Some(file.to_path_buf()),
            files,
            tls,
            auth: BasicAuth::new(config.users).map_err(in_file)?,
            headers: config.headers,
        })
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

    /// The files this was read from: the web config file and the PEM files it names.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// What `check` and the start-up log warn about (an expired server certificate).
    pub fn warnings(&self) -> Vec<String> {
        self.tls
            .iter()
            .filter_map(|t| t.expiry_warning.clone())
            .collect()
    }

    /// One line for logs and `check`: TLS, auth and headers in force.
    pub fn summary(&self) -> String {
        let tls = match &self.tls {
            Some(t) => t.summary.clone(),
            None => "plain HTTP".to_string(),
        };
        let auth = match self.auth.as_ref().map(BasicAuth::user_count) {
            Some(1) => "basic auth (1 user)".to_string(),
            Some(n) => format!("basic auth ({n} users)"),
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
    pub async fn guard<B, R, F, Fut>(
        self: Arc<Self>,
        req: Request<B>,
        next: F,
    ) -> Result<Response<R>, Infallible>
    where
        R: From<Bytes>,
        F: FnOnce(Request<B>) -> Fut,
        Fut: Future<Output = Result<Response<R>, Infallible>>,
    {
        if let Some(auth) = &self.auth {
            let client = req.extensions().get::<ClientAddr>().map(|c| c.0);
            if !auth.check(req.headers(), client).await {
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

    fn decorate<R>(&self, mut response: Response<R>) -> Response<R> {
        for (k, v) in &self.headers {
            response.headers_mut().insert(k.clone(), v.clone());
        }
        response
    }

    /// How many bcrypt checks have run (cache misses), for tests.
    pub fn bcrypt_runs(&self) -> u64 {
        self.auth.as_ref().map_or(0, BasicAuth::bcrypt_runs)
    }
}

fn unauthorized<R: From<Bytes>>() -> Response<R> {
    let mut r = Response::new(R::from(Bytes::from_static(b"Unauthorized\n")));
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

#[cfg(test)]
mod tests {
    use super::basic_auth::tests::basic;
    use super::*;

    fn parse(text: &str) -> Result<Web, WebConfigError> {
        Web::parse(Path::new("/etc/adapter/web.yml"), text)
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
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
            Ok::<_, Infallible>(Response::new(http_body_util::Full::new(
                Bytes::from_static(b"page"),
            )))
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
