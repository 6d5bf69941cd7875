//! [`Memcached`]: a real memcached, read directly over its text protocol.

use std::collections::BTreeMap;
use std::process::Command;

use crate::harness::{free_port, raw_exchange, require_binary, Proc, TempDir, START_TIMEOUT};

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
        require_binary(Self::BIN);
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
