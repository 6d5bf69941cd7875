//! `exec`: run a command and read its stdout. The command runs in a process group of its
//! own, and the whole group is killed if the fetch is dropped (timeout or shutdown): a
//! `sh -c "a | b"` that hangs takes its children with it instead of piling up. A child
//! that calls `setsid()` leaves the group, not the tree: the tree is killed too (see
//! [`crate::reaper`]).

use std::process::Stdio;

use tokio::process::Command;

use serde::Deserialize;

use super::{KeyError, SourceError};

/// The keys of an `exec` source, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub command: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ExecSource {
    /// Program and arguments; no shell is involved.
    pub command: Vec<String>,
}

impl ExecSource {
    pub fn from_config(c: Config) -> Result<ExecSource, KeyError> {
        match c.command {
            Some(command) if command.first().is_some_and(|p| !p.is_empty()) => {
                Ok(ExecSource { command })
            }
            _ => Err(KeyError::missing("command", "[\"program\", \"arg\", ...]")),
        }
    }

    /// Every key with the value in force (see [`super::Source::resolved`]).
    pub fn resolved(&self) -> Vec<(&'static str, String)> {
        vec![("command", format!("{:?}", self.command))]
    }

    pub async fn fetch(&self, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
        let program = &self.command[0];
        let fail = |reason: String| SourceError::Command {
            command: program.clone(),
            reason,
        };
        // Registered before it can exit, so a PID 1 reaper never takes its exit status (a
        // block, not drop(): the guard must not be held across an await).
        let (mut child, registered) = {
            let mut commands = crate::reaper::COMMANDS
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let child = Command::new(program)
                .args(&self.command[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .process_group(0)
                .spawn()
                .map_err(|e| fail(format!("cannot start: {e}")))?;
            let registered = child.id().map(|pid| {
                commands.insert(pid);
                Registered(pid)
            });
            (child, registered)
        };
        let mut group = GroupKiller(child.id());
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail("no stdout".into()))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| fail("no stderr".into()))?;
        let (out, err) = tokio::join!(
            super::read_limited(stdout, max_bytes, "stdout"),
            super::read_limited(stderr, 4096, "stderr"),
        );
        let out = out?;
        let status = child.wait().await.map_err(|e| fail(format!("wait: {e}")))?;
        // Reaped: its pid (the group id) may be reused now, so never signal it again.
        group.0 = None;
        drop(registered);
        if !status.success() {
            let err = err.unwrap_or_default();
            let first = String::from_utf8_lossy(&err);
            let first = first.lines().next().unwrap_or("").trim();
            return Err(fail(format!(
                "{status}{}{}",
                if first.is_empty() { "" } else { ": " },
                first
            )));
        }
        Ok(out)
    }
}

/// A running command's entry in [`crate::reaper::COMMANDS`], removed when the fetch ends.
struct Registered(u32);

impl Drop for Registered {
    fn drop(&mut self) {
        crate::reaper::COMMANDS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.0);
    }
}

/// Kills the child's process group when dropped before the child was reaped.
struct GroupKiller(Option<u32>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        use nix::sys::signal::{killpg, Signal};
        use nix::unistd::Pid;
        if let Some(pgid) = self.0.and_then(|p| i32::try_from(p).ok()) {
            // ESRCH (the group is already gone) is the normal case and needs no report.
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
        }
        // What left the group (`setsid()`) is still in the tree.
        if let Some(pid) = self.0 {
            crate::reaper::kill_tree(pid);
        }
    }
}
