//! The `metrics-adapter` binary cargo built for this run: [`Adapter`] serves a config on a
//! free port until dropped; [`run_cli`] runs a one-shot subcommand. Both start from a
//! cleaned environment, so a developer's `METRICS_ADAPTER_*` variables change nothing.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{
    free_port, parse_page, read_lossy, send_signal, try_http_request, ParsedSample, Proc, Response,
    TempDir, START_TIMEOUT,
};

/// The adapter binary cargo built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_metrics-adapter");

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
            // Reloads only when a test asks (SIGHUP, /-/reload), so a test that rewrites its
            // config sees exactly the reloads it makes; tests/integration/live_config.rs
            // turns the watcher on.
            if !extra_args
                .iter()
                .any(|a| a.starts_with("--config.auto-reload-interval"))
            {
                cmd.arg("--config.auto-reload-interval=0");
            }
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

/// A TOML basic string holding `s` (paths, patterns, URLs).
pub fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
