//! TLS and basic auth (`--web.config.file`, the exporter-toolkit format) checked with the
//! real `curl` against the real binary, certificates made by the `openssl` CLI; and the
//! secrets of `http` sources (passwords, tokens) kept out of `check`, `once`, the logs and
//! the pages.
//!
//! The adapter is started here, not with [`Adapter::start`]: with auth or TLS on, its
//! `/healthz` no longer answers a plain unauthenticated GET, so readiness is "the port
//! accepts connections".

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::harness::*;

const CURL: &str = "/usr/bin/curl";
const OPENSSL: &str = "/usr/bin/openssl";
/// The password of user `prometheus` in these tests: distinctive, so a leak is found.
pub(super) const PASSWORD: &str = "pw-Zq8vX3-never-printed";
pub(super) const USER: &str = "prometheus";

fn base64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Cost 4: the lowest bcrypt allows; the tests build without optimisations.
pub(super) fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).expect("bcrypt hash")
}

pub(super) fn openssl(dir: &Path, args: &[&str]) {
    require_binary(OPENSSL);
    let out = Command::new(OPENSSL)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed server certificate for 127.0.0.1: (cert, key).
fn server_cert(dir: &TempDir) -> (PathBuf, PathBuf) {
    openssl(
        dir.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.crt",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-days",
            "2",
        ],
    );
    (dir.join("server.crt"), dir.join("server.key"))
}

/// A CA and a client certificate it signed: (ca cert, client cert, client key).
fn client_cert(dir: &TempDir) -> (PathBuf, PathBuf, PathBuf) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-subj",
        "/CN=adapter-test-ca",
        "-days",
        "2",
    ]);
    openssl(dir.path(), &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
        "-subj",
        "/CN=prometheus",
    ]);
    openssl(dir.path(), &csr);
    dir.write(
        "client.ext",
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
    );
    openssl(
        dir.path(),
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "client.crt",
            "-days",
            "2",
            "-extfile",
            "client.ext",
        ],
    );
    (
        dir.join("ca.crt"),
        dir.join("client.crt"),
        dir.join("client.key"),
    )
}

/// What `curl` did: its exit code, and the response if there was one.
#[derive(Debug)]
pub(super) struct Curl {
    pub(super) exit: i32,
    pub(super) status: u16,
    head: String,
    pub(super) body: String,
    stderr: String,
}

impl Curl {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// Runs curl (no ~/.curlrc, no proxy, bounded in time) with `-i`, so the head comes first.
pub(super) fn curl(args: &[&str]) -> Curl {
    require_binary(CURL);
    let out = Command::new(CURL)
        .args(["-q", "-sS", "-i", "--noproxy", "*", "--max-time", "10"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = match text.split_once("\r\n\r\n") {
        Some((h, b)) => (h.to_string(), b.to_string()),
        None => (String::new(), text.clone()),
    };
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Curl {
        exit: out.status.code().unwrap_or(-1),
        status,
        head,
        body,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// curl gave up with `exit` (35: the handshake failed; 56: the server's alert came with
/// the first read, as TLS 1.3 sends it after the client's Finished) on the server's TLS
/// `alert`, without a response: refused for that reason, not for any other failure.
fn assert_tls_alert(r: &Curl, exit: i32, alert: &str) {
    assert_eq!((r.exit, r.status), (exit, 0), "{r:?}");
    assert!(r.stderr.contains(alert), "not the {alert:?}: {r:?}");
}

/// The adapter serving with a web config; killed on drop.
struct Secured {
    proc_: Proc,
    port: u16,
    /// Holds the config and the log; removed on drop.
    _dir: TempDir,
}

impl Secured {
    /// Serves `config_toml` (or the embedded default) with `args` and `env`; ready when
    /// the port accepts connections.
    fn start(config_toml: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Secured {
        let dir = TempDir::new("secured");
        let port = free_port();
        let mut cmd = Command::new(BIN);
        clean_env(&mut cmd);
        if let Some(c) = config_toml {
            cmd.arg("--config").arg(dir.write("config.toml", c));
        }
        cmd.arg("--listen").arg(format!("127.0.0.1:{port}"));
        cmd.args(args)
            .envs(env.iter().copied())
            .current_dir(dir.path());
        let mut proc_ = Proc::spawn("metrics-adapter", cmd, dir.join("adapter.log"));
        proc_.wait_ready(START_TIMEOUT, || port_open(port));
        Secured {
            proc_,
            port,
            _dir: dir,
        }
    }

    fn https(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn logs(&self) -> String {
        self.proc_.logs()
    }
}

fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} shows the secret {s:?}:\n{text}");
    }
}

/// A web config with a server certificate, basic auth for USER and one extra header.
fn tls_and_auth(dir: &TempDir, extra_tls: &str) -> PathBuf {
    let (cert, key) = server_cert(dir);
    dir.write(
        "web.yml",
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n{extra_tls}\
             basic_auth_users:\n  {USER}: {}\n\
             http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n",
            cert.display(),
            key.display(),
            bcrypt_hash(PASSWORD)
        ),
    )
}

#[test]
fn tls_and_basic_auth_with_curl() {
    let certs = TempDir::new("tls-auth");
    let web = tls_and_auth(&certs, "");
    let cacert = certs.join("server.crt");
    let cacert = cacert.to_str().unwrap();
    let adapter = Secured::start(
        None,
        &[
            "--web.config.file",
            web.to_str().unwrap(),
            "--log-level",
            "debug",
        ],
        &[],
    );
    let good = format!("{USER}:{PASSWORD}");

    let r = curl(&["--cacert", cacert, "-u", &good, &adapter.https("/metrics")]);
    assert_eq!((r.exit, r.status), (0, 200), "{r:?}\n{}", adapter.logs());
    assert!(
        r.body
            .contains("metrics_adapter_source_up{source=\"meminfo\"} 1"),
        "{r:?}"
    );
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    // Again: served from the credential cache, same answer.
    let r = curl(&["--cacert", cacert, "-u", &good, &adapter.https("/metrics")]);
    assert_eq!(r.status, 200, "{r:?}");
    let r = curl(&["--cacert", cacert, "-u", &good, &adapter.https("/healthz")]);
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"), "{r:?}");

    for (what, args) in [
        (
            "wrong password",
            vec!["-u", "prometheus:pw-Zq8vX3-never-printeD"],
        ),
        (
            "unknown user",
            vec!["-u", "grafana:pw-Zq8vX3-never-printed"],
        ),
        ("no credentials", vec![]),
    ] {
        for path in ["/metrics", "/healthz", "/"] {
            let mut a = vec!["--cacert", cacert];
            a.extend(&args);
            let url = adapter.https(path);
            a.push(&url);
            let r = curl(&a);
            assert_eq!((r.exit, r.status), (0, 401), "{what} {path}: {r:?}");
            assert_eq!(
                r.header("www-authenticate").as_deref(),
                Some("Basic realm=\"metrics-adapter\""),
                "{what}: {r:?}"
            );
            assert_eq!(
                r.header("x-content-type-options").as_deref(),
                Some("nosniff")
            );
            assert!(!r.body.contains("metrics_adapter"), "{what}: {r:?}");
        }
    }
    // Reloading is behind auth too.
    let r = curl(&[
        "--cacert",
        cacert,
        "-X",
        "POST",
        &adapter.https("/-/reload"),
    ]);
    assert_eq!(r.status, 401, "{r:?}");

    // Real TLS: without the CA, curl refuses the self-signed certificate.
    let r = curl(&["-u", &good, &adapter.https("/metrics")]);
    assert_eq!(r.exit, 60, "{r:?}");
    // Plain HTTP to the TLS port never gets the page: a 400 from the TLS layer.
    let r = curl(&["-u", &good, &adapter.http("/metrics")]);
    assert!(r.exit != 0 || r.status == 400, "{r:?}");
    assert!(!r.body.contains("metrics_adapter"), "{r:?}");
    assert_eq!(r.status, 400, "{r:?}");

    // The password shows nowhere: not on the status page, not in debug logs.
    let r = curl(&["--cacert", cacert, "-u", &good, &adapter.https("/")]);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("meminfo"), "{r:?}");
    let secrets = [PASSWORD, &base64(&good)];
    assert_no_secret("the status page", &r.body, &secrets);
    let logs = adapter.logs();
    assert!(
        logs.contains("401: no valid basic-auth credentials"),
        "{logs}"
    );
    assert!(logs.contains("basic auth (1 user)"), "{logs}");
    assert_no_secret("the debug log", &logs, &secrets);
}

#[test]
fn basic_auth_without_tls_from_the_config_key() {
    let dir = TempDir::new("auth-only");
    let web = dir.write(
        "web.yml",
        format!("basic_auth_users:\n  {USER}: {}\n", bcrypt_hash(PASSWORD)),
    );
    let config = format!(
        "[server]\nweb_config_file = {}\n",
        toml_str(web.to_str().unwrap())
    );
    let config_path = dir.write("config.toml", &config);
    let out = run_cli(
        &["--config", config_path.to_str().unwrap(), "check"],
        Duration::from_secs(10),
    );
    let want = format!(
        "web config: {} (ok): plain HTTP, basic auth (1 user)",
        web.display()
    );
    assert!(out.success() && out.stdout.contains(&want), "{out}");
    let adapter = Secured::start(Some(&config), &[], &[]);
    let auth = format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")));
    let r = http_request(adapter.port, "GET", "/metrics", &[("Authorization", &auth)]);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = http_request(adapter.port, "GET", "/healthz", &[]);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"metrics-adapter\"")
    );
    let r = curl(&[
        "-u",
        &format!("{USER}:{PASSWORD}"),
        &adapter.http("/readyz"),
    ]);
    assert_eq!((r.status, r.body.as_str()), (200, "ready\n"), "{r:?}");
    let r = curl(&["-u", &format!("{USER}:wrong"), &adapter.http("/readyz")]);
    assert_eq!(r.status, 401, "{r:?}");

    // The flag wins over the key; "" switches it off.
    let open = Secured::start(Some(&config), &["--web.config.file", ""], &[]);
    assert_eq!(http_get(open.port, "/healthz").status, 200);
    let broken = format!(
        "[server]\nweb_config_file = \"{}/missing.yml\"\n",
        dir.path().display()
    );
    let flagged = Secured::start(
        Some(&broken),
        &["--web.config.file", web.to_str().unwrap()],
        &[],
    );
    assert_eq!(http_get(flagged.port, "/healthz").status, 401);
}

#[test]
fn client_certificates_and_tls13_only() {
    let certs = TempDir::new("mtls");
    let (ca, client, client_key) = client_cert(&certs);
    let web = tls_and_auth(
        &certs,
        &format!(
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n  min_version: TLS13\n",
            ca.display()
        ),
    );
    let adapter = Secured::start(None, &["--web.config.file", web.to_str().unwrap()], &[]);
    let cacert = certs.join("server.crt");
    let (cacert, client, client_key) = (
        cacert.to_str().unwrap(),
        client.to_str().unwrap(),
        client_key.to_str().unwrap(),
    );
    let good = format!("{USER}:{PASSWORD}");
    let url = adapter.https("/metrics");
    let r = curl(&[
        "--cacert", cacert, "--cert", client, "--key", client_key, "-u", &good, &url,
    ]);
    assert_eq!((r.exit, r.status), (0, 200), "{r:?}\n{}", adapter.logs());
    // The certificate does not replace the password.
    let r = curl(&[
        "--cacert", cacert, "--cert", client, "--key", client_key, &url,
    ]);
    assert_eq!(r.status, 401, "{r:?}");
    // No client certificate: the handshake fails; no page.
    let r = curl(&["--cacert", cacert, "-u", &good, &url]);
    assert_tls_alert(&r, 56, "alert certificate required");
    // A certificate from another CA (the server's own self-signed one): refused.
    let server_key = certs.join("server.key");
    let r = curl(&[
        "--cacert",
        cacert,
        "--cert",
        cacert,
        "--key",
        server_key.to_str().unwrap(),
        "-u",
        &good,
        &url,
    ]);
    assert_tls_alert(&r, 56, "alert certificate unknown");
    // min_version TLS13: a TLS 1.2 client is refused.
    let r = curl(&[
        "--cacert",
        cacert,
        "--cert",
        client,
        "--key",
        client_key,
        "-u",
        &good,
        "--tls-max",
        "1.2",
        &url,
    ]);
    assert_tls_alert(&r, 35, "alert protocol version");
}

#[test]
fn a_silent_client_cannot_hold_a_tls_slot() {
    let certs = TempDir::new("tls-slots");
    let web = tls_and_auth(&certs, "");
    let config = "[server]\nheader_read_timeout = \"1s\"\nmax_connections = 2\n";
    let adapter = Secured::start(
        Some(config),
        &["--web.config.file", web.to_str().unwrap()],
        &[],
    );
    let addr = SocketAddr::from((LOCALHOST, adapter.port));
    // Two clients that connect and say nothing take both slots...
    let silent: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect"))
        .collect();
    let start = Instant::now();
    // ...until the handshake timeout closes them.
    for mut s in silent {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "a silent client got data");
    }
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(5),
        "closed after {waited:?}, not at the 1s handshake timeout"
    );
    let cacert = certs.join("server.crt");
    let r = curl(&[
        "--cacert",
        cacert.to_str().unwrap(),
        "-u",
        &format!("{USER}:{PASSWORD}"),
        &adapter.https("/metrics"),
    ]);
    assert_eq!(r.status, 200, "{r:?}\n{}", adapter.logs());
}

#[test]
fn an_invalid_web_config_stops_the_start_naming_file_and_key() {
    let dir = TempDir::new("bad-web");
    let (cert, key) = server_cert(&dir);
    let (cert, key) = (cert.display(), key.display());
    let cases = [
        (
            "unknown.yml",
            format!("tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n  cert_flie: x\n"),
            "tls_server_config.cert_flie: unknown key",
        ),
        (
            "unknown-top.yml",
            "basic_auth_user:\n  alice: x\n".to_string(),
            "basic_auth_user: unknown key",
        ),
        (
            "missing-cert.yml",
            format!("tls_server_config:\n  cert_file: {}/nope.crt\n  key_file: {key}\n", dir.path().display()),
            "tls_server_config.cert_file: cannot read",
        ),
        (
            "bad-hash.yml",
            format!("basic_auth_users:\n  {USER}: {PASSWORD}\n"),
            "basic_auth_users.prometheus: not a bcrypt hash",
        ),
        (
            "ca-without-auth.yml",
            format!("tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n  client_ca_file: {cert}\n"),
            "tls_server_config.client_ca_file: client CAs are set but client_auth_type is NoClientCert",
        ),
    ];
    for (name, text, want) in cases {
        let file = dir.write(name, text);
        let file = file.to_str().unwrap();
        let port = free_port().to_string();
        let listen = format!("127.0.0.1:{port}");
        for args in [
            vec!["--listen", &listen, "--web.config.file", file],
            vec!["--web.config.file", file, "check"],
        ] {
            let out = run_cli(&args, Duration::from_secs(10));
            assert!(!out.success(), "{name} {args:?}: {out}");
            let line = format!("metrics-adapter: error: {file}: {want}");
            assert!(out.stderr.contains(&line), "{name}: want {line:?}\n{out}");
            // A password pasted where a hash goes is not echoed.
            assert_no_secret(name, &out.stderr, &[PASSWORD]);
        }
    }
    let out = run_cli(
        &["--web.config.file", "/nonexistent/web.yml", "check"],
        Duration::from_secs(10),
    );
    assert!(!out.success());
    assert!(
        out.stderr.contains("/nonexistent/web.yml: cannot read"),
        "{out}"
    );
}

/// An HTTP server on 127.0.0.1 that answers 401 to everything and keeps each request's
/// head. Stops on drop (or by itself after two minutes).
struct Recorder {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind((LOCALHOST, 0)).expect("bind recorder");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("local_addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, st) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            while !st.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(120) {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                reqs.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = s.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                let _ = s.shutdown(Shutdown::Both);
            }
        });
        Recorder {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn http_source_secrets_appear_nowhere() {
    const FILE_PASSWORD: &str = "src-pass-Hq2w-from-file";
    const ENV_TOKEN: &str = "src-token-Pz7k-from-env";
    const ENV_PASSWORD: &str = "src-pass-Lm4c-from-env";
    let dir = TempDir::new("source-secrets");
    let password_file = dir.write("password", format!("{FILE_PASSWORD}\n"));
    let recorder = Recorder::start();
    let closed = free_port(); // nothing listens there
    let config = format!(
        "[sources.closed]\ntype = \"http\"\nparser = \"nginx_stub_status\"\ntimeout = \"2s\"\n\
         url = \"http://127.0.0.1:{closed}/stub_status\"\nbasic_auth_user = \"stats\"\n\
         basic_auth_password_file = {}\nlabels = {{ instance = \"closed\" }}\n\
         [sources.bearer]\ntype = \"http\"\nparser = \"nginx_stub_status\"\ntimeout = \"2s\"\n\
         url = \"http://127.0.0.1:{port}/stub_status\"\nbearer_token_env = \"MA_TEST_TOKEN\"\n\
         labels = {{ instance = \"bearer\" }}\n\
         [sources.basic]\ntype = \"http\"\nparser = \"nginx_stub_status\"\ntimeout = \"2s\"\n\
         url = \"http://127.0.0.1:{port}/stub_status\"\nbasic_auth_user = \"stats\"\n\
         basic_auth_password_env = \"MA_TEST_PASSWORD\"\n",
        toml_str(password_file.to_str().unwrap()),
        port = recorder.port
    );
    let config_path = dir.write("config.toml", &config);
    let config_path = config_path.to_str().unwrap();
    let env = [
        ("MA_TEST_TOKEN", ENV_TOKEN),
        ("MA_TEST_PASSWORD", ENV_PASSWORD),
    ];
    let secrets = [
        FILE_PASSWORD,
        ENV_TOKEN,
        ENV_PASSWORD,
        &base64(&format!("stats:{FILE_PASSWORD}")),
        &base64(&format!("stats:{ENV_PASSWORD}")),
    ];

    let out = run_cli_with_env(
        &["--config", config_path, "check"],
        &env,
        Duration::from_secs(10),
    );
    assert!(out.success(), "{out}");
    assert_no_secret("check", &format!("{}{}", out.stdout, out.stderr), &secrets);
    let out = run_cli_with_env(
        &["--config", config_path, "--log-level", "trace", "once"],
        &env,
        Duration::from_secs(20),
    );
    assert!(!out.success(), "every source is down: {out}");
    assert!(out.stderr.contains("source closed: down"), "{out}");
    assert!(out.stderr.contains("server answered status 401"), "{out}");
    assert_no_secret("once", &format!("{}{}", out.stdout, out.stderr), &secrets);

    let adapter = Secured::start(Some(&config), &["--log-level", "trace"], &env);
    let page = http_get(adapter.port, "/metrics").text();
    assert!(
        page.contains("metrics_adapter_source_up{source=\"closed\"} 0"),
        "{page}"
    );
    let status = http_get(adapter.port, "/").text();
    assert!(status.contains("server answered status 401"), "{status}");
    assert_no_secret("/metrics", &page, &secrets);
    assert_no_secret("the status page", &status, &secrets);
    assert_no_secret("the trace log", &adapter.logs(), &secrets);
    // The secrets were in play: the recorder saw them go out.
    let seen = recorder.requests().join("\n");
    assert!(
        seen.contains(&format!("authorization: Bearer {ENV_TOKEN}")),
        "{seen}"
    );
    assert!(
        seen.contains(&format!(
            "authorization: Basic {}",
            base64(&format!("stats:{ENV_PASSWORD}"))
        )),
        "{seen}"
    );
    drop(adapter);

    // Credentials written into the URL are refused, and not echoed.
    let url_config = format!(
        "[sources.inline]\ntype = \"http\"\nparser = \"nginx_stub_status\"\n\
         url = \"http://stats:{FILE_PASSWORD}@127.0.0.1:{closed}/stub_status\"\n"
    );
    let url_path = dir.write("url.toml", url_config);
    let out = run_cli(
        &["--config", url_path.to_str().unwrap(), "check"],
        Duration::from_secs(10),
    );
    assert!(!out.success(), "{out}");
    assert!(
        out.stderr
            .contains("sources.inline.url: credentials in the URL are not supported"),
        "{out}"
    );
    assert_no_secret("check of a URL with credentials", &out.stderr, &secrets);
}
