//! Secrets a source puts into its request (a password, a token): named in the config by
//! where they are read from, a file or an environment variable, and read at each fetch so
//! a rotated secret is picked up without a reload. The value is never stored, logged or
//! shown: `check` and the status page show where it comes from.
//!
//! The app may echo a secret back (`-ERR unknown command 'AUTH <password>'`), and its
//! answer reaches error texts. Every value read (and the form it was sent in, such as a
//! basic-auth header) is remembered, and [`redact`] takes each out of a text before it is
//! stored, logged or shown.

use std::sync::{Mutex, PoisonError};

use super::{quote, KeyError, SourceError, UNSET};

/// Where a secret is read from. The value itself is never stored or printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    File(String),
    Env(String),
}

impl Secret {
    /// The secret from a `*_file` or `*_env` key pair: at most one of them, named by
    /// `file_key` when both are set.
    pub fn one_of(
        file: Option<String>,
        env: Option<String>,
        file_key: &str,
    ) -> Result<Option<Secret>, KeyError> {
        match (file, env) {
            (Some(_), Some(_)) => Err(KeyError::invalid(
                file_key,
                "give the secret as a file or an environment variable, not both",
            )),
            (Some(f), None) => Ok(Some(Secret::File(f))),
            (None, Some(e)) => Ok(Some(Secret::Env(e))),
            (None, None) => Ok(None),
        }
    }

    /// The value now, without a trailing newline (an editor's or `echo`'s). Blocking (a
    /// small bounded file read); async callers use [`Secret::read_off_thread`].
    pub fn read(&self) -> Result<String, SourceError> {
        match self {
            Secret::File(p) => crate::small_file::read_to_string(
                std::path::Path::new(p),
                crate::small_file::SECRET_LIMIT,
            )
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| SourceError::Secret(format!("cannot read secret file {p}: {e}"))),
            Secret::Env(v) => std::env::var(v)
                .map_err(|_| SourceError::Secret(format!("environment variable {v} is not set"))),
        }
        .inspect(|value| remember(value))
    }

    /// [`Secret::read`] on a blocking thread: the runtime thread never waits on a file
    /// (a secret volume on a slow mount).
    pub async fn read_off_thread(&self) -> Result<String, SourceError> {
        if let Secret::Env(_) = self {
            return self.read();
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read())
            .await
            .map_err(|e| SourceError::Secret(format!("reading the secret: {e}")))?
    }

    /// `(file key's value, env key's value)` for `check`: the place, quoted, and
    /// `(unset)` for the other key (or both, for no secret).
    pub fn resolved(secret: Option<&Secret>) -> (String, String) {
        match secret {
            Some(Secret::File(p)) => (quote(p), UNSET.to_string()),
            Some(Secret::Env(v)) => (UNSET.to_string(), quote(v)),
            None => (UNSET.to_string(), UNSET.to_string()),
        }
    }
}

/// The secrets most recently sent, newest last: enough for every source's secret and a
/// few rotations, bounded so rotating secrets cannot grow it.
static SENT: Mutex<Vec<String>> = Mutex::new(Vec::new());
const REMEMBERED: usize = 64;
/// What a secret in a text is replaced by.
pub const REDACTED: &str = "<secret>";

/// Remembers a value sent to an app (a secret, or the header it was sent in) so that
/// [`redact`] takes it out of texts.
pub fn remember(value: &str) {
    if value.is_empty() {
        return;
    }
    let mut sent = SENT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(i) = sent.iter().position(|s| s == value) {
        sent.remove(i);
    } else if sent.len() >= REMEMBERED {
        sent.remove(0);
    }
    sent.push(value.to_string());
}

/// `text` with every remembered secret replaced by [`REDACTED`] (overlapping matches
/// merged into one).
pub fn redact(text: &str) -> String {
    let sent = SENT.lock().unwrap_or_else(PoisonError::into_inner);
    let mut hidden = vec![false; text.len()];
    let mut any = false;
    for secret in sent.iter() {
        for (at, m) in text.match_indices(secret.as_str()) {
            for h in hidden.iter_mut().skip(at).take(m.len()) {
                *h = true;
            }
            any = true;
        }
    }
    drop(sent);
    if !any {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut in_secret = false;
    for (i, c) in text.char_indices() {
        match hidden.get(i).copied().unwrap_or(false) {
            true if !in_secret => {
                out.push_str(REDACTED);
                in_secret = true;
            }
            true => {}
            false => {
                out.push(c);
                in_secret = false;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_secrets_are_redacted_wherever_they_appear() {
        remember("s3cr-et-Qx");
        remember("Qx-tail");
        assert_eq!(
            redact("-ERR unknown command 'AUTH s3cr-et-Qx', s3cr-et-Qx-tail"),
            "-ERR unknown command 'AUTH <secret>', <secret>"
        );
        assert_eq!(redact("nothing here: ünïcode"), "nothing here: ünïcode");
        remember("pässwört-9");
        assert_eq!(redact("ä pässwört-9 ü"), "ä <secret> ü");
    }
}
