//! Child processes that cannot leak: [`Proc`] runs one in a process group of its own and
//! stops the whole group on drop (TERM, a bounded wait, KILL); nothing is stopped by name.
//! Also [`pipe_through`], for checkers fed on stdin.

use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::read_lossy;

/// How long a server or the adapter may take to come up.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopped process may take to exit after SIGTERM before it is SIGKILLed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

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
    pub(super) child: Child,
    /// Where its stdout and stderr go.
    pub log: PathBuf,
    /// Extra log files shown when it fails to start.
    pub(super) extra_logs: Vec<PathBuf>,
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

/// Runs `cmd` with `input` on stdin (written from a thread, so large pages cannot
/// deadlock), killing it after `timeout`.
pub(super) fn pipe_through(
    cmd: &mut Command,
    input: &[u8],
    timeout: Duration,
) -> std::process::Output {
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
