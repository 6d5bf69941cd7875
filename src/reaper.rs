//! PID 1 duties. In the shipped image the adapter is the container's first process, so
//! orphans are reparented to it: an `exec` command that leaves a background child behind
//! (`sh -c 'slow & echo v: 1'`) would otherwise leave a zombie per scrape. On `SIGCHLD`
//! the adapter reaps exited processes that are not the `exec` commands tokio is waiting
//! for (their exit status is tokio's to collect).
//!
//! Not PID 1, the adapter makes itself a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`),
//! so the orphans of its commands come to it all the same, and are reaped the same way.
//!
//! At an `exec` timeout the command's process group is killed, and with it the command's
//! whole tree ([`kill_tree`]): a child that called `setsid()` left the group, but not the
//! tree, and an orphan reparented to the adapter is one of its commands' leftovers.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

/// Pids of the `exec` commands running now. Held while a command is spawned, so a command
/// that exits at once is never taken for an orphan.
pub static COMMANDS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Starts reaping orphans when this process is PID 1, or else can become a child
/// subreaper (needs a runtime).
pub fn start() {
    if std::process::id() != 1 {
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            tracing::debug!("not a child subreaper ({e}): a command's orphans go to PID 1");
            return;
        }
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

/// Kills (SIGKILL) the tree of the command `pid` timed out: its descendants, whatever
/// their session or group, and the orphans reparented to the adapter that are not running
/// commands (a command's children whose parent exited), with theirs.
pub fn kill_tree(pid: u32) {
    use nix::sys::signal::{kill, Signal};
    let me = std::process::id();
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter_map(|p| Some((p, parent_of(p)?)))
        .collect();
    let mut doomed: Vec<u32> = vec![pid];
    {
        let commands = COMMANDS.lock().unwrap_or_else(PoisonError::into_inner);
        doomed.extend(
            parents
                .iter()
                .filter(|(p, parent)| *parent == me && !commands.contains(p))
                .map(|(p, _)| *p),
        );
    }
    let mut i = 0;
    while let Some(&p) = doomed.get(i) {
        let children: Vec<u32> = (parents.iter())
            .filter(|(c, parent)| *parent == p && !doomed.contains(c))
            .map(|(c, _)| *c)
            .collect();
        doomed.extend(children);
        i += 1;
    }
    for p in doomed.into_iter().filter(|p| *p != me) {
        if let Ok(raw) = i32::try_from(p) {
            let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
        }
    }
}

/// The parent pid `/proc/PID/stat` gives.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
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
