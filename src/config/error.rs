//! The one error shape for users: `origin: key: reason` (or, for a value an environment
//! variable set, the variable instead of the file and key), pinned by tests.

use std::path::PathBuf;

/// Where the config came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Embedded,
    File(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Embedded => f.write_str("embedded default config"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}: {message}")]
    Load { origin: Origin, message: String },
    #[error("{origin}: {key}: {reason}")]
    Invalid {
        origin: Origin,
        key: String,
        reason: String,
    },
    /// A value set by an environment variable, which is named instead of the file and key.
    #[error("{var}: {reason}")]
    Env { var: String, reason: String },
}
