//! `exec`: run a command and read its stdout. The child is killed if the fetch is dropped
//! (timeout or shutdown), so a hung command cannot pile up.

use std::process::Stdio;

use tokio::process::Command;

use super::SourceError;
use crate::config::RawSource;

pub const KEYS: &[&str] = &["command"];

#[derive(Debug, Clone)]
pub struct ExecSource {
    /// Program and arguments; no shell is involved.
    pub command: Vec<String>,
}

impl ExecSource {
    pub fn from_config(raw: &RawSource) -> Result<ExecSource, (&'static str, String)> {
        match &raw.command {
            Some(c) if !c.is_empty() && !c[0].is_empty() => Ok(ExecSource { command: c.clone() }),
            _ => Err(("command", "missing: [\"program\", \"arg\", ...]".into())),
        }
    }

    pub async fn fetch(&self, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
        let program = &self.command[0];
        let fail = |reason: String| SourceError::Command {
            command: program.clone(),
            reason,
        };
        let mut child = Command::new(program)
            .args(&self.command[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| fail(format!("cannot start: {e}")))?;
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
