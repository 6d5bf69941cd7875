//! [`Redis`]: a real redis-server, and `redis-cli` to read it directly.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use crate::harness::{free_port, raw_exchange, require_binary, Proc, TempDir, START_TIMEOUT};

/// redis-server on 127.0.0.1 without persistence, also listening on the unix socket
/// [`Redis::socket`].
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
        Redis::start_with(&[])
    }

    /// [`Redis::start`] with extra arguments, e.g. `["--requirepass", "pw"]`.
    pub fn start_with(extra: &[&str]) -> Redis {
        require_binary(Self::BIN);
        let dir = TempDir::new("redis");
        let port = free_port();
        let mut cmd = Command::new(Self::BIN);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--protected-mode", "yes", "--logfile", ""])
            .arg("--unixsocket")
            .arg(dir.join("redis.sock"))
            .args(["--unixsocketperm", "700"])
            .arg("--dir")
            .arg(dir.path())
            .args(extra);
        let mut proc_ = Proc::spawn("redis-server", cmd, dir.join("redis.log"));
        proc_.wait_ready(START_TIMEOUT, || {
            // With `--requirepass` a ready server answers NOAUTH.
            raw_exchange(port, b"PING\r\n", b"\r\n")
                .is_ok_and(|r| r.starts_with(b"+PONG") || r.starts_with(b"-NOAUTH"))
        });
        Redis { proc_, port, dir }
    }

    /// The unix socket it also listens on (`--unixsocket`).
    pub fn socket(&self) -> std::path::PathBuf {
        self.dir.join("redis.sock")
    }

    pub fn pid(&self) -> u32 {
        self.proc_.pid()
    }

    /// `redis-cli -h 127.0.0.1 -p PORT args...` (stdout, CRLFs kept as redis sends them).
    pub fn cli(&self, args: &[&str]) -> String {
        require_binary(Self::CLI);
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
