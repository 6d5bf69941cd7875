//! Why a read made its source down ([`FailureKind`]): the closed vocabulary of
//! `metrics_adapter_source_read_failures_total{kind}`.

use crate::parse::ParseError;
use crate::source::SourceError;

/// Why a read made its source down, by kind: a small fixed vocabulary, counted per source
/// (`metrics_adapter_source_read_failures_total{kind}`), as nginx-prometheus-exporter
/// tells network, HTTP and parse failures apart. The message, for people, goes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureKind {
    /// The read and parse did not finish within `timeout`.
    Timeout,
    /// Opening, connecting, reading, or a command that failed.
    Read,
    /// The app answered with an HTTP error status.
    Http,
    /// The answer was not what the protocol or framing expects.
    Protocol,
    /// Over `max_bytes` or `max_series`.
    Limit,
    /// A file older than `max_age`.
    Stale,
    /// The parser could not use the input.
    Parse,
    /// The parser panicked (a bug), or the read's task failed.
    Bug,
}

impl FailureKind {
    pub const ALL: [FailureKind; 8] = [
        FailureKind::Timeout,
        FailureKind::Read,
        FailureKind::Http,
        FailureKind::Protocol,
        FailureKind::Limit,
        FailureKind::Stale,
        FailureKind::Parse,
        FailureKind::Bug,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::Read => "read",
            FailureKind::Http => "http",
            FailureKind::Protocol => "protocol",
            FailureKind::Limit => "limit",
            FailureKind::Stale => "stale",
            FailureKind::Parse => "parse",
            FailureKind::Bug => "bug",
        }
    }

    pub(super) fn of_source(e: &SourceError) -> FailureKind {
        match e {
            SourceError::TooLarge { .. } => FailureKind::Limit,
            SourceError::Status(_) => FailureKind::Http,
            SourceError::Protocol(_) => FailureKind::Protocol,
            _ => FailureKind::Read,
        }
    }

    pub(super) fn of_parse(e: &ParseError) -> FailureKind {
        match e {
            ParseError::TooManyValues { .. } => FailureKind::Limit,
            _ => FailureKind::Parse,
        }
    }
}

/// Why a source whose part of the page would pass [`crate::family::bounds::PAGE_MAX`] is down.
pub(super) fn page_too_big(size: usize) -> String {
    format!(
        "its part of the page would take about {} MiB, more than the {} MiB a source may \
         produce; drop what is not needed with exclude, or check the recipe (bare csv writes \
         every cell with its whole row as labels)",
        size >> 20,
        crate::family::bounds::PAGE_MAX >> 20
    )
}
