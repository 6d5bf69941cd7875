//! PID 1 duties. In the shipped image the adapter is the container's first process, so
//! orphans are reparented to it: an `exec` command that leaves a background child behind
//! (`sh -c 'slow & echo v: 1'`) would otherwise leave a zombie per scrape. On `SIGCHLD`
//! the adapter reaps exited processes that are not the `exec` commands tokio is waiting
//! for (their exit status is tokio's to collect).
//!
//! Limit: the `exec` timeout kills the command's process group. A child that calls
//! `setsid()` leaves that group and outlives the timeout; as PID 1 the adapter reaps it
//! when it exits, but does not kill it.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

/// Pids of the `exec` commands running now. Held while a command is spawned, so a command
/// that exits at once is never taken for an orphan.
pub static COMMANDS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Starts reaping orphans when this process is PID 1 (needs a runtime).
pub fn start_if_pid1() {
    if std::process::id() != 1 {
        return;
    }
    tokio::spawn(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut children = match signal(SignalKind::child()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("cannot listen for SIGCHLD; orphans will not be reaped: {e}");
                return;
            }
        };
        while children.recv().await.is_some() {
            reap_orphans();
        }
    });
}

/// Reaps every zombie child of ours that is not a running `exec` command.
fn reap_orphans() {
    let commands = COMMANDS.lock().unwrap_or_else(PoisonError::into_inner);
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for pid in dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| !commands.contains(pid))
    {
        if zombie_child_of(pid, me) {
            if let Ok(raw) = i32::try_from(pid) {
                let _ = waitpid(Pid::from_raw(raw), Some(WaitPidFlag::WNOHANG));
            }
        }
    }
}

/// Whether `/proc/PID/stat` says: a zombie whose parent is `parent`.
fn zombie_child_of(pid: u32, parent: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let mut fields = rest.split_whitespace();
    fields.next() == Some("Z") && fields.next() == Some(parent.to_string().as_str())
}
