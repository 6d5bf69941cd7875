//! Shared helpers for the integration tests: the real `metrics-adapter` binary, the real
//! servers it reads (nginx, redis, memcached, haproxy, apache2, php-fpm) and independent
//! checkers of its output (`promtool` and the Python `prometheus_client` parsers).
//!
//! Ground rules, so the tests can run in parallel and never hang or leak:
//! - Everything listens on 127.0.0.1, on a port from [`free_port`] (never a fixed one).
//! - Every process is started as a plain foreground child in a process group of its own,
//!   with its config and logs in a [`TempDir`]; dropping the handle sends SIGTERM to that
//!   group, waits a bounded time, then SIGKILLs it. Nothing is ever stopped by name.
//! - Every wait is a bounded loop ([`wait_until`]); a server that does not come up panics
//!   with its log. A missing server binary panics with the Debian package to install
//!   (`bash tests/setup.sh` installs them all); nothing is silently skipped.
//!
//! The API, in short:
//! - [`Adapter::start`] / [`Adapter::start_default`] / [`Adapter::start_with`]: the binary
//!   serving a config; [`Adapter::get`], [`Adapter::get_with`], [`Adapter::request`],
//!   [`Adapter::metrics`], [`Adapter::terminate`], [`Adapter::stderr`].
//! - [`run_cli`]: the binary's one-shot subcommands (`check`, `once`, `parse`, `parsers`).
//! - [`http_request`] / [`http_get`]: a tiny HTTP/1.1 client ([`Response`]).
//! - [`Nginx`], [`Redis`], [`Memcached`], [`Haproxy`], [`Apache`], [`PhpFpm`]: real servers.
//! - [`Hanging`]: a TCP listener that accepts and never answers.
//! - [`promtool_check`], [`promtool_check_syntax`], [`parse_page`], [`parse_page_typed`],
//!   [`value`], [`find`], [`source_up`]: checks of a page.

#![allow(dead_code)] // Not every test module uses every helper.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The adapter binary cargo built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_metrics-adapter");
/// How long a server or the adapter may take to come up.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopped process may take to exit after SIGTERM before it is SIGKILLed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Read/write timeout of the test HTTP client: longer than any scrape a test provokes.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);
/// The address everything binds to and connects to.
pub const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

// ---------------------------------------------------------------------------------------
// Ports, temp dirs, waiting

/// A port on 127.0.0.1 that was free a moment ago. Never returns the same port twice in
/// one test run, so parallel tests do not collide with each other.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    for _ in 0..100 {
        let listener = TcpListener::bind((LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        drop(listener);
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if given.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
    panic!("no fresh free port after 100 tries");
}

/// A directory removed (with its contents) on drop. Set `KEEP_TEST_DIRS=1` to keep it for
/// a post-mortem. World-readable, so servers that drop privileges (apache's children)
/// can read what is in it.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "metrics-adapter-it-{}-{n}-{tag}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }

    /// Writes `contents` to `rel` (creating parent directories) and returns the full path.
    pub fn write(&self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
        }
        fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// Creates the directory `rel` and returns its full path.
    pub fn mkdir(&self, rel: impl AsRef<Path>) -> PathBuf {
        let p = self.path.join(rel);
        fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_TEST_DIRS").is_none() {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Polls `check` every 20 ms until it returns true; panics naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        if check() {
            return;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `get` until it returns `Some`, bounded like [`wait_until`].
pub fn wait_for<T>(what: &str, timeout: Duration, mut get: impl FnMut() -> Option<T>) -> T {
    let mut out = None;
    wait_until(what, timeout, || {
        out = get();
        out.is_some()
    });
    out.expect("wait_until returned")
}

/// The file's contents, or a note saying it could not be read (for panic messages).
pub fn read_lossy(path: &Path) -> String {
    match fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

// ---------------------------------------------------------------------------------------
// Processes

/// Sends `signal` (`TERM`, `KILL`, ...) to a process (`target > 0`) or a process group
/// (`target < 0`) with `kill(1)`. Returns whether the signal was delivered.
pub fn send_signal(signal: &str, target: i64) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg("--")
        .arg(target.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Whether any process in process group `pgid` is still alive (zombies excluded).
fn group_alive(pgid: u32) -> bool {
    let Ok(dir) = fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            return false;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.len() > 3 && fields[0] != "Z" && fields[2] == pgid.to_string()
    })
}

/// Pids of live (non-zombie) processes whose command line is exactly `argv`.
pub fn pids_with_cmdline(argv: &[&str]) -> Vec<u32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want))
        .collect()
}

/// A child process in a process group of its own, stopped (TERM, then KILL) on drop.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    child: Child,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    /// Extra log files shown when it fails to start.
    extra_logs: Vec<PathBuf>,
}

impl Proc {
    /// Starts `cmd` with stdin closed and stdout+stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
        let out =
            fs::File::create(&log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = out.try_clone().expect("clone log file handle");
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc {
            name: name.to_string(),
            child,
            log,
            extra_logs: Vec::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its output so far, plus any extra logs.
    pub fn logs(&self) -> String {
        let mut s = format!("--- {} ---\n{}", self.log.display(), read_lossy(&self.log));
        for p in &self.extra_logs {
            s.push_str(&format!("\n--- {} ---\n{}", p.display(), read_lossy(p)));
        }
        s
    }

    /// Panics with the logs if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited early ({status}):\n{}", self.name, self.logs());
        }
    }

    /// Waits up to `timeout` for `ready`, panicking with the logs if the process exits or
    /// the time runs out.
    pub fn wait_ready(&mut self, timeout: Duration, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        loop {
            self.assert_running();
            if ready() {
                return;
            }
            if start.elapsed() > timeout {
                panic!(
                    "{} not ready after {timeout:?}:\n{}",
                    self.name,
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the whole process group: SIGTERM, a bounded wait, then SIGKILL.
    pub fn stop(&mut self) {
        let pgid = self.child.id();
        if let Ok(None) = self.child.try_wait() {
            send_signal("TERM", -i64::from(pgid));
            if self.wait_exit(STOP_TIMEOUT).is_none() {
                send_signal("KILL", -i64::from(pgid));
                let _ = self.child.kill();
                let _ = self.wait_exit(STOP_TIMEOUT);
            }
        }
        // Workers that outlived their leader (they should not) go too.
        if group_alive(pgid) {
            send_signal("TERM", -i64::from(pgid));
            let start = Instant::now();
            while group_alive(pgid) && start.elapsed() < STOP_TIMEOUT {
                std::thread::sleep(Duration::from_millis(20));
            }
            if group_alive(pgid) {
                send_signal("KILL", -i64::from(pgid));
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Panics unless `path` exists, naming the Debian package that provides it.
pub fn require_binary(path: &str, package: &str) {
    if !Path::new(path).exists() {
        panic!(
            "{path} is missing: install the Debian package `{package}` \
             (`bash tests/setup.sh` installs everything the tests need)"
        );
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

// ---------------------------------------------------------------------------------------
// HTTP client

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

/// `GET path` without extra headers.
/// The body of `GET path`, panicking unless the status is 200.
pub fn http_ok_text(port: u16, path: &str) -> String {
    let r = http_get(port, path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.text()
}

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

// ---------------------------------------------------------------------------------------
// The adapter

/// Removes anything from the environment that would change what the binary loads.
/// Removes the adapter's own variables (`METRICS_ADAPTER*`, `RUST_LOG`) a developer may have
/// set, so every test sees only what it configures.
pub fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("METRICS_ADAPTER")) {
            cmd.env_remove(&k);
        }
    }
    cmd.env_remove("RUST_LOG").env("NO_COLOR", "1");
}

/// The adapter binary serving on 127.0.0.1:`port`, killed on drop.
#[derive(Debug)]
pub struct Adapter {
    proc_: Proc,
    pub port: u16,
    /// Holds `config.toml` and the captured output (`adapter.log`).
    pub dir: TempDir,
}

impl Adapter {
    /// Serves `config_toml` (written to a temp file, passed with `--config`).
    pub fn start(config_toml: &str) -> Adapter {
        Adapter::start_with(Some(config_toml), &[])
    }

    /// Serves the embedded default config (no `--config`).
    pub fn start_default() -> Adapter {
        Adapter::start_with(None, &[])
    }

    /// Serves `config_toml` (or the embedded default) with extra command-line arguments,
    /// e.g. `["--log-level", "debug"]`. Waits until `/healthz` answers; retries with
    /// another port if the chosen one was taken in the meantime.
    pub fn start_with(config_toml: Option<&str>, extra_args: &[&str]) -> Adapter {
        Adapter::start_listening(
            config_toml,
            |port| vec!["--listen".into(), format!("127.0.0.1:{port}")],
            extra_args,
        )
    }

    /// Like [`Adapter::start_with`], with the arguments that choose the port made by
    /// `listen` (for other spellings of `--listen`). Serves on 127.0.0.1:port either way.
    pub fn start_listening(
        config_toml: Option<&str>,
        listen: impl Fn(u16) -> Vec<String>,
        extra_args: &[&str],
    ) -> Adapter {
        let dir = TempDir::new("adapter");
        let config = config_toml.map(|c| dir.write("config.toml", c));
        for _attempt in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(BIN);
            clean_env(&mut cmd);
            if let Some(c) = &config {
                cmd.arg("--config").arg(c);
            }
            cmd.args(listen(port));
            cmd.args(extra_args);
            cmd.current_dir(dir.path());
            let mut proc_ = Proc::spawn("metrics-adapter", cmd, dir.join("adapter.log"));
            let start = Instant::now();
            loop {
                if let Ok(Some(status)) = proc_.child.try_wait() {
                    let logs = proc_.logs();
                    if logs.contains("cannot listen") {
                        break; // port taken between free_port() and bind: try another
                    }
                    panic!("metrics-adapter exited at start ({status}):\n{logs}");
                }
                if try_http_request(port, "GET", "/healthz", &[]).is_ok_and(|r| r.status == 200) {
                    return Adapter { proc_, port, dir };
                }
                if start.elapsed() > START_TIMEOUT {
                    panic!(
                        "metrics-adapter did not answer /healthz within {START_TIMEOUT:?}:\n{}",
                        proc_.logs()
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("metrics-adapter could not bind a free port in 3 attempts");
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    /// The config file it was started with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    /// Everything it wrote to stdout and stderr so far (logs go to stderr).
    pub fn stderr(&self) -> String {
        read_lossy(&self.proc_.log)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[])
    }

    /// `GET path` with request headers.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", path, headers)
    }

    /// Any method; panics on I/O errors (with the adapter's log).
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        try_http_request(self.port, method, path, headers).unwrap_or_else(|e| {
            panic!("{method} {path} on the adapter: {e}\n{}", self.proc_.logs())
        })
    }

    /// `GET /metrics` in the 0.0.4 text format, asserting 200 and the content type.
    pub fn metrics(&self) -> String {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200, "GET /metrics: {}", r.text());
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        r.text()
    }

    /// `GET /metrics`, parsed by the Python parser.
    pub fn samples(&self) -> Vec<ParsedSample> {
        parse_page(&self.metrics(), false)
    }

    /// Sends SIGTERM (to the adapter only, not its group).
    pub fn sigterm(&self) {
        assert!(
            send_signal("TERM", i64::from(self.pid())),
            "kill -TERM {} failed",
            self.pid()
        );
    }

    /// Waits up to `timeout` for it to exit; `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.proc_.wait_exit(timeout)
    }

    /// SIGTERM, then waits up to `timeout` for the exit status; panics (with the log) if
    /// it does not exit in time.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        self.sigterm();
        match self.wait_exit(timeout) {
            Some(s) => s,
            None => panic!(
                "metrics-adapter still running {timeout:?} after SIGTERM:\n{}",
                self.proc_.logs()
            ),
        }
    }
}

/// What a one-shot command printed and how it exited.
#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

impl std::fmt::Display for CliOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs the binary with `args` (stdin closed, environment cleaned), killing it after
/// `timeout`.
pub fn run_cli(args: &[&str], timeout: Duration) -> CliOutput {
    run_cli_with_env(args, &[], timeout)
}

/// [`run_cli`] with extra environment variables.
pub fn run_cli_with_env(args: &[&str], env: &[(&str, &str)], timeout: Duration) -> CliOutput {
    let dir = TempDir::new("cli");
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let mut cmd = Command::new(BIN);
    clean_env(&mut cmd);
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).expect("create stdout file"))
        .stderr(fs::File::create(&err_path).expect("create stderr file"))
        .process_group(0);
    let mut child = cmd.spawn().expect("start metrics-adapter");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > timeout {
            send_signal("KILL", -i64::from(child.id()));
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "metrics-adapter {args:?} still running after {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                read_lossy(&out_path),
                read_lossy(&err_path)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    CliOutput {
        status,
        stdout: read_lossy(&out_path),
        stderr: read_lossy(&err_path),
    }
}

// ---------------------------------------------------------------------------------------
// Fake servers

/// A TCP listener on 127.0.0.1 that accepts connections and never answers (nor closes
/// them) until dropped, for timeout tests. Gives up by itself after two minutes.
#[derive(Debug)]
pub struct Hanging {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Hanging {
    pub fn start() -> Hanging {
        let listener = TcpListener::bind((LOCALHOST, 0)).expect("bind hanging listener");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("local_addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (acc, st) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            let start = Instant::now();
            while !st.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(120) {
                match listener.accept() {
                    Ok((s, _)) => {
                        acc.fetch_add(1, Ordering::SeqCst);
                        held.push(s);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            for s in held {
                let _ = s.shutdown(Shutdown::Both);
            }
        });
        Hanging {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// Real servers

/// nginx (`master_process off`, one process) on 127.0.0.1: `stub_status` at `/stub_status`
/// and the directory [`Nginx::files`] served at `/files/` as `text/plain`.
#[derive(Debug)]
pub struct Nginx {
    proc_: Proc,
    pub port: u16,
    /// Files written here are served at `/files/<name>`.
    pub files: PathBuf,
    pub dir: TempDir,
}

impl Nginx {
    pub const BIN: &'static str = "/usr/sbin/nginx";

    pub fn start() -> Nginx {
        require_binary(Self::BIN, "nginx-light (or nginx)");
        let dir = TempDir::new("nginx");
        let files = dir.mkdir("files");
        let port = free_port();
        let d = dir.path().display();
        let conf = dir.write(
            "nginx.conf",
            format!(
                "daemon off;\n\
                 master_process off;\n\
                 worker_processes 1;\n\
                 pid {d}/nginx.pid;\n\
                 error_log {d}/error.log warn;\n\
                 events {{ worker_connections 128; }}\n\
                 http {{\n\
                 \x20 access_log off;\n\
                 \x20 default_type text/plain;\n\
                 \x20 client_body_temp_path {d}/tmp-body; proxy_temp_path {d}/tmp-proxy;\n\
                 \x20 fastcgi_temp_path {d}/tmp-fastcgi; uwsgi_temp_path {d}/tmp-uwsgi; scgi_temp_path {d}/tmp-scgi;\n\
                 \x20 server {{\n\
                 \x20   listen 127.0.0.1:{port};\n\
                 \x20   location = /stub_status {{ stub_status; }}\n\
                 \x20   location = /status500 {{ return 500 boom; }}\n\
                 \x20   location /files/ {{ alias {d}/files/; }}\n\
                 \x20 }}\n\
                 }}\n"
            ),
        );
        let mut cmd = Command::new(Self::BIN);
        cmd.arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"));
        let mut proc_ = Proc::spawn("nginx", cmd, dir.join("nginx.out"));
        proc_.extra_logs.push(dir.join("error.log"));
        proc_.wait_ready(START_TIMEOUT, || {
            try_http_request(port, "GET", "/stub_status", &[]).is_ok_and(|r| r.status == 200)
        });
        Nginx {
            proc_,
            port,
            files,
            dir,
        }
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Writes a file served at `/files/<name>`.
    pub fn write_file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.files.join(name);
        fs::write(&p, contents).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        p
    }

    /// The `stub_status` page, read directly.
    pub fn stub_status(&self) -> String {
        http_ok_text(self.port, "/stub_status")
    }

    /// (accepts, handled, requests) from the `stub_status` page, read directly.
    pub fn stub_counters(&self) -> (u64, u64, u64) {
        let page = self.stub_status();
        let line = page.lines().nth(2).unwrap_or("");
        let n: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        assert_eq!(n.len(), 3, "stub_status line 3: {page:?}");
        (n[0], n[1], n[2])
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }
}

/// redis-server on 127.0.0.1 without persistence.
#[derive(Debug)]
pub struct Redis {
    proc_: Proc,
    pub port: u16,
    pub dir: TempDir,
}

impl Redis {
    pub const BIN: &'static str = "/usr/bin/redis-server";
    pub const CLI: &'static str = "/usr/bin/redis-cli";

    pub fn start() -> Redis {
        require_binary(Self::BIN, "redis-server");
        let dir = TempDir::new("redis");
        let port = free_port();
        let mut cmd = Command::new(Self::BIN);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--protected-mode", "yes", "--logfile", ""])
            .arg("--dir")
            .arg(dir.path());
        let mut proc_ = Proc::spawn("redis-server", cmd, dir.join("redis.log"));
        proc_.wait_ready(START_TIMEOUT, || {
            raw_exchange(port, b"PING\r\n", b"\r\n").is_ok_and(|r| r.starts_with(b"+PONG"))
        });
        Redis { proc_, port, dir }
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    /// `redis-cli -h 127.0.0.1 -p PORT args...` (stdout, CRLFs kept as redis sends them).
    pub fn cli(&self, args: &[&str]) -> String {
        require_binary(Self::CLI, "redis-tools");
        let out = Command::new(Self::CLI)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli");
        assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The `key:value` fields of `redis-cli INFO [section]`.
    pub fn info(&self, section: Option<&str>) -> BTreeMap<String, String> {
        let mut args = vec!["INFO"];
        args.extend(section);
        self.cli(&args)
            .lines()
            .filter_map(|l| l.trim_end_matches('\r').split_once(':'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

/// memcached on 127.0.0.1 (TCP only).
#[derive(Debug)]
pub struct Memcached {
    proc_: Proc,
    pub port: u16,
    pub dir: TempDir,
}

impl Memcached {
    pub const BIN: &'static str = "/usr/bin/memcached";

    pub fn start() -> Memcached {
        require_binary(Self::BIN, "memcached");
        let dir = TempDir::new("memcached");
        let port = free_port();
        let mut cmd = Command::new(Self::BIN);
        cmd.args(["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0"])
            .args(["-m", "16", "-c", "64", "-t", "1", "-u", "nobody"]);
        let mut proc_ = Proc::spawn("memcached", cmd, dir.join("memcached.log"));
        proc_.wait_ready(START_TIMEOUT, || {
            raw_exchange(port, b"version\r\n", b"\r\n").is_ok_and(|r| r.starts_with(b"VERSION"))
        });
        Memcached { proc_, port, dir }
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    /// Sends one text-protocol command (`stats\r\n`, `set k 0 0 1\r\nx\r\n`) and returns
    /// the reply up to and including `until` (`END\r\n`, `STORED\r\n`).
    pub fn command(&self, cmd: &str, until: &str) -> String {
        let r = raw_exchange(self.port, cmd.as_bytes(), until.as_bytes())
            .unwrap_or_else(|e| panic!("memcached {cmd:?}: {e}"));
        String::from_utf8_lossy(&r).into_owned()
    }

    /// The `STAT name value` pairs of `stats`.
    pub fn stats(&self) -> BTreeMap<String, String> {
        self.command("stats\r\n", "END\r\n")
            .lines()
            .filter_map(|l| l.trim_end_matches('\r').strip_prefix("STAT "))
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
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

/// haproxy on 127.0.0.1: a stats frontend (`/stats`, so `/stats;csv` for CSV) and an HTTP
/// frontend whose backend `be_app` has two servers: `up1` (pointing at the stats
/// frontend, so it is UP) and `dead1` (a closed port, so it is DOWN). Health checks run
/// every 100 ms; `start` returns once the stats show `up1` UP and `dead1` DOWN.
#[derive(Debug)]
pub struct Haproxy {
    proc_: Proc,
    pub stats_port: u16,
    pub frontend_port: u16,
    /// The closed port `dead1` points at.
    pub dead_port: u16,
    pub dir: TempDir,
}

impl Haproxy {
    pub const BIN: &'static str = "/usr/sbin/haproxy";

    pub fn start() -> Haproxy {
        require_binary(Self::BIN, "haproxy");
        let dir = TempDir::new("haproxy");
        let (stats_port, frontend_port, dead_port) = (free_port(), free_port(), free_port());
        let conf = dir.write(
            "haproxy.cfg",
            format!(
                "global\n\
                 \x20 pidfile {d}/haproxy.pid\n\
                 \x20 nbthread 1\n\
                 defaults\n\
                 \x20 mode http\n\
                 \x20 timeout connect 1s\n\
                 \x20 timeout client 10s\n\
                 \x20 timeout server 10s\n\
                 frontend stats\n\
                 \x20 bind 127.0.0.1:{stats_port}\n\
                 \x20 stats enable\n\
                 \x20 stats uri /stats\n\
                 frontend fe_app\n\
                 \x20 bind 127.0.0.1:{frontend_port}\n\
                 \x20 default_backend be_app\n\
                 backend be_app\n\
                 \x20 balance roundrobin\n\
                 \x20 default-server inter 100ms downinter 100ms fall 1 rise 1\n\
                 \x20 server up1 127.0.0.1:{stats_port} check\n\
                 \x20 server dead1 127.0.0.1:{dead_port} check\n",
                d = dir.path().display()
            ),
        );
        let mut cmd = Command::new(Self::BIN);
        cmd.arg("-db").arg("-f").arg(&conf);
        let mut proc_ = Proc::spawn("haproxy", cmd, dir.join("haproxy.log"));
        proc_.wait_ready(START_TIMEOUT, || {
            let Ok(r) = try_http_request(stats_port, "GET", "/stats;csv", &[]) else {
                return false;
            };
            let csv = r.text();
            let status = |sv: &str| {
                csv.lines()
                    .find(|l| l.starts_with(&format!("be_app,{sv},")))
                    .and_then(|l| l.split(',').nth(17).map(str::to_string))
            };
            r.status == 200
                && status("up1").as_deref() == Some("UP")
                && status("dead1").as_deref() == Some("DOWN")
        });
        Haproxy {
            proc_,
            stats_port,
            frontend_port,
            dead_port,
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    /// `http://127.0.0.1:STATS_PORT<path>`.
    pub fn stats_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.stats_port)
    }

    /// `/stats;csv`, read directly.
    pub fn stats_csv(&self) -> String {
        http_ok_text(self.stats_port, "/stats;csv")
    }
}

/// apache2 (event MPM, `-DFOREGROUND`) on 127.0.0.1 with a self-contained config (no
/// `/etc/apache2/envvars` needed): `mod_status` at `/server-status` (so
/// `/server-status?auto`) with `ExtendedStatus On`, and [`Apache::docroot`] at `/`.
#[derive(Debug)]
pub struct Apache {
    proc_: Proc,
    pub port: u16,
    pub docroot: PathBuf,
    pub dir: TempDir,
}

impl Apache {
    pub const BIN: &'static str = "/usr/sbin/apache2";
    const MODULES: &'static str = "/usr/lib/apache2/modules";

    pub fn start() -> Apache {
        require_binary(Self::BIN, "apache2");
        let dir = TempDir::new("apache2");
        let docroot = dir.mkdir("www");
        let run = dir.mkdir("run");
        fs::write(
            docroot.join("index.html"),
            "<html><body>hello</body></html>\n",
        )
        .expect("write index.html");
        let port = free_port();
        let m = Self::MODULES;
        let conf = dir.write(
            "apache2.conf",
            format!(
                "ServerRoot \"/etc/apache2\"\n\
                 DefaultRuntimeDir {run}\n\
                 PidFile {run}/apache2.pid\n\
                 Mutex file:{run} default\n\
                 LoadModule mpm_event_module {m}/mod_mpm_event.so\n\
                 LoadModule authz_core_module {m}/mod_authz_core.so\n\
                 LoadModule mime_module {m}/mod_mime.so\n\
                 LoadModule dir_module {m}/mod_dir.so\n\
                 LoadModule status_module {m}/mod_status.so\n\
                 User www-data\n\
                 Group www-data\n\
                 Listen 127.0.0.1:{port}\n\
                 ServerName localhost\n\
                 TypesConfig /etc/mime.types\n\
                 DocumentRoot {docroot}\n\
                 DirectoryIndex index.html\n\
                 ErrorLog {d}/error.log\n\
                 StartServers 1\n\
                 ServerLimit 2\n\
                 ThreadsPerChild 5\n\
                 MinSpareThreads 1\n\
                 MaxSpareThreads 10\n\
                 MaxRequestWorkers 10\n\
                 ExtendedStatus On\n\
                 <Directory />\n  Require all denied\n</Directory>\n\
                 <Directory {docroot}>\n  Require all granted\n</Directory>\n\
                 <Location /server-status>\n  SetHandler server-status\n  Require all granted\n</Location>\n",
                run = run.display(),
                docroot = docroot.display(),
                d = dir.path().display()
            ),
        );
        let mut cmd = Command::new(Self::BIN);
        cmd.arg("-f").arg(&conf).arg("-DFOREGROUND");
        let mut proc_ = Proc::spawn("apache2", cmd, dir.join("apache2.out"));
        proc_.extra_logs.push(dir.join("error.log"));
        proc_.wait_ready(START_TIMEOUT, || {
            try_http_request(port, "GET", "/server-status?auto", &[]).is_ok_and(|r| r.status == 200)
        });
        Apache {
            proc_,
            port,
            docroot,
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `/server-status?auto`, read directly.
    pub fn status_auto(&self) -> String {
        http_ok_text(self.port, "/server-status?auto")
    }
}

/// php-fpm (`-F -R`: foreground, pool allowed to run as root) with one static pool of two
/// workers listening on 127.0.0.1 (FastCGI), `pm.status_path = /status`,
/// `ping.path = /ping`.
#[derive(Debug)]
pub struct PhpFpm {
    proc_: Proc,
    pub port: u16,
    pub bin: PathBuf,
    pub dir: TempDir,
}

impl PhpFpm {
    pub const CGI_FCGI: &'static str = "/usr/bin/cgi-fcgi";

    /// The installed `php-fpmX.Y` (the newest, if several).
    pub fn binary() -> PathBuf {
        let mut found: Vec<PathBuf> = fs::read_dir("/usr/sbin")
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .and_then(|n| n.to_str())
                            .is_some_and(|n| n.starts_with("php-fpm"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found.pop().unwrap_or_else(|| {
            panic!(
                "/usr/sbin/php-fpm* is missing: install the Debian package `php-fpm` \
                 (`bash tests/setup.sh` installs everything the tests need)"
            )
        })
    }

    pub fn start() -> PhpFpm {
        let bin = Self::binary();
        let dir = TempDir::new("php-fpm");
        let port = free_port();
        let conf = dir.write(
            "php-fpm.conf",
            format!(
                "[global]\n\
                 pid = {d}/php-fpm.pid\n\
                 error_log = {d}/error.log\n\
                 daemonize = no\n\
                 [www]\n\
                 listen = 127.0.0.1:{port}\n\
                 listen.allowed_clients = 127.0.0.1\n\
                 pm = static\n\
                 pm.max_children = 2\n\
                 pm.status_path = /status\n\
                 ping.path = /ping\n",
                d = dir.path().display()
            ),
        );
        let mut cmd = Command::new(&bin);
        cmd.arg("-F").arg("-R").arg("-y").arg(&conf);
        let mut proc_ = Proc::spawn("php-fpm", cmd, dir.join("php-fpm.out"));
        proc_.extra_logs.push(dir.join("error.log"));
        let log = dir.join("error.log");
        proc_.wait_ready(START_TIMEOUT, || {
            port_open(port) && read_lossy(&log).contains("ready to handle connections")
        });
        PhpFpm {
            proc_,
            port,
            bin,
            dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    /// `address` for a `fastcgi` source.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A FastCGI request to `script` with `query`, straight to php-fpm with `cgi-fcgi`
    /// (Debian package `libfcgi-bin`): the CGI-style headers, a blank line, the body.
    pub fn fcgi_get(&self, script: &str, query: &str) -> String {
        require_binary(Self::CGI_FCGI, "libfcgi-bin");
        let mut child = Command::new(Self::CGI_FCGI)
            .args(["-bind", "-connect", &self.address()])
            .env_clear()
            .env("SCRIPT_NAME", script)
            .env("SCRIPT_FILENAME", script)
            .env("QUERY_STRING", query)
            .env("REQUEST_METHOD", "GET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run cgi-fcgi");
        let start = Instant::now();
        while child.try_wait().ok().flatten().is_none() {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("cgi-fcgi {script}?{query} did not finish in 10 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = child.wait_with_output().expect("cgi-fcgi output");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The body of `fcgi_get` (after the header block).
    pub fn status(&self, query: &str) -> String {
        let raw = self.fcgi_get("/status", query);
        match raw.split_once("\r\n\r\n") {
            Some((_, body)) => body.to_string(),
            None => raw,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Independent checks of a page

/// Runs `promtool check metrics` on a 0.0.4 text page and panics with its output if it
/// reports anything — an error or any lint line — except lines containing one of the
/// `allow` substrings (known lint complaints such as node_exporter's camelCase names:
/// `"should be written in 'snake_case' not 'camelCase'"`). promtool cannot read
/// OpenMetrics (`info` types); check those with [`parse_page`].
pub fn promtool_check(page: &str, allow: &[&str]) {
    const PROMTOOL: &str = "/usr/bin/promtool";
    require_binary(PROMTOOL, "prometheus");
    let out = pipe_through(
        Command::new(PROMTOOL).args(["check", "metrics"]),
        page.as_bytes(),
        Duration::from_secs(30),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let complaints: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !allow.iter().any(|a| l.contains(a)))
        .collect();
    if !complaints.is_empty() || (!out.status.success() && text.trim().is_empty()) {
        panic!(
            "promtool check metrics ({}) complained:\n{}\n--- page ---\n{page}",
            out.status,
            complaints.join("\n")
        );
    }
}

/// Runs `promtool check metrics` for syntax only: panics if promtool cannot parse the page
/// (exit status 1, an `error` line), ignoring its lint advice. For pages whose names are
/// the app's own (Redis `INFO` keys through a generic recipe), where lint is not ours to fix.
pub fn promtool_check_syntax(page: &str) {
    const PROMTOOL: &str = "/usr/bin/promtool";
    require_binary(PROMTOOL, "prometheus");
    let out = pipe_through(
        Command::new(PROMTOOL).args(["check", "metrics"]),
        page.as_bytes(),
        Duration::from_secs(30),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("error"))
        .collect();
    // promtool exits 3 for lint problems only, 1 when it cannot read the page.
    if out.status.code() == Some(1) || !errors.is_empty() {
        panic!(
            "promtool check metrics ({}) cannot read the page:\n{}\n--- page ---\n{page}",
            out.status,
            errors.join("\n")
        );
    }
}

/// Runs `cmd` with `input` on stdin (written from a thread, so large pages cannot
/// deadlock), killing it after `timeout`.
fn pipe_through(cmd: &mut Command, input: &[u8], timeout: Duration) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let watchdog = std::thread::spawn(move || {
        let start = Instant::now();
        while !d.load(Ordering::SeqCst) {
            if start.elapsed() > timeout {
                send_signal("KILL", i64::from(pid));
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let out = child.wait_with_output().expect("wait for child");
    done.store(true, Ordering::SeqCst);
    let _ = writer.join();
    let _ = watchdog.join();
    out
}

/// One sample as an independent parser read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Python, with Debian's `python3-prometheus-client`: reads the page from stdin and prints
/// `{"families": {name: type}, "samples": [{"name", "labels", "value"}]}` (values as
/// `repr(float)` strings, so NaN and infinities survive JSON).
const PY_PARSE: &str = r#"
import json, sys
if sys.argv[1] == "openmetrics":
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
else:
    from prometheus_client.parser import text_string_to_metric_families
text = sys.stdin.buffer.read().decode("utf-8")
families, samples = {}, []
for f in text_string_to_metric_families(text):
    families[f.name] = f.type
    for s in f.samples:
        samples.append({"name": s.name, "labels": dict(s.labels), "value": repr(float(s.value))})
json.dump({"families": families, "samples": samples}, sys.stdout)
"#;

/// The system Python (Debian's, which has `python3-prometheus-client`), not a pyenv one.
pub const PYTHON: &str = "/usr/bin/python3";

/// Parses a page with the Python `prometheus_client` parser (the OpenMetrics one when
/// `openmetrics`), returning every sample and every family's type. Panics with the
/// parser's error if it rejects the page.
pub fn parse_page_typed(
    page: &str,
    openmetrics: bool,
) -> (Vec<ParsedSample>, BTreeMap<String, String>) {
    require_binary(PYTHON, "python3");
    let mode = if openmetrics { "openmetrics" } else { "text" };
    let out = pipe_through(
        Command::new(PYTHON)
            .args(["-c", PY_PARSE, mode])
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME"),
        page.as_bytes(),
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'prometheus_client") {
        panic!(
            "{PYTHON} has no prometheus_client: install the Debian package \
             `python3-prometheus-client` (`bash tests/setup.sh`)"
        );
    }
    assert!(
        out.status.success(),
        "the Python {mode} parser rejected the page:\n{stderr}\n--- page ---\n{page}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("parser JSON");
    let families = v["families"]
        .as_object()
        .expect("families")
        .iter()
        .map(|(k, t)| (k.clone(), t.as_str().unwrap_or("").to_string()))
        .collect();
    let samples = v["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| ParsedSample {
            name: s["name"].as_str().expect("name").to_string(),
            labels: s["labels"]
                .as_object()
                .expect("labels")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect(),
            value: s["value"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .expect("value"),
        })
        .collect();
    (samples, families)
}

/// The samples of a page as the Python `prometheus_client` parser reads them.
pub fn parse_page(page: &str, openmetrics: bool) -> Vec<ParsedSample> {
    parse_page_typed(page, openmetrics).0
}

/// The value of the sample named `name` whose labels are exactly `labels`.
pub fn find(samples: &[ParsedSample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
}

/// Like [`find`], panicking (listing the samples of that name) when there is none.
pub fn value(samples: &[ParsedSample], name: &str, labels: &[(&str, &str)]) -> f64 {
    find(samples, name, labels).unwrap_or_else(|| {
        let same: Vec<String> = samples
            .iter()
            .filter(|s| s.name == name)
            .map(|s| format!("{:?} = {}", s.labels, s.value))
            .collect();
        panic!(
            "no sample {name} with labels {labels:?}; samples of that name: {same:?}; \
             {} samples in all",
            samples.len()
        )
    })
}

/// The `metrics_adapter_source_up` value of `source`.
pub fn source_up(samples: &[ParsedSample], source: &str) -> f64 {
    value(samples, "metrics_adapter_source_up", &[("source", source)])
}

/// A TOML basic string holding `s` (paths, patterns, URLs).
pub fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Escapes a label value as the text formats require (`\\`, `\"`, `\n`).
pub fn escape_label_value(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}
