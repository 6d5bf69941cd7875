//! Secrets a source puts into its request (a password, a token): named in the config by
//! where they are read from, a file or an environment variable, and read at each fetch so
//! a rotated secret is picked up without a reload. The value is never stored, logged or
//! shown: `check` and the status page show where it comes from.

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
