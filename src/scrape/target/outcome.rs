//! What one read of a source gave ([`Outcome`]), and the counters that outlive every read
//! ([`Totals`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::FailureKind;
use crate::family::FamilySet;

/// The result of reading and parsing one source once.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Checked once here (names, kinds, repeated series), so each scrape only merges it.
    /// Shared: a read of the same bytes as the last one reuses it (see [`Target::run_once`]).
    pub families: Arc<FamilySet>,
    pub up: bool,
    /// Why the source is down.
    pub error: Option<String>,
    /// What kind of failure that was.
    pub failure: Option<FailureKind>,
    /// The first value skipped, if any (for the status page).
    pub first_issue: Option<String>,
    /// Values skipped this time.
    pub issues: u64,
    /// Input no rule used this time, and the first of it.
    pub unmatched: u64,
    pub first_unmatched: Option<String>,
    /// Series the source's own data wrote under a name the adapter reserves; dropped.
    pub reserved: u64,
    /// Samples of new series a followed log dropped at `max_series`, this time. Counted
    /// when the outcome is recorded, with its families, so no page shows the drop before
    /// the data it was dropped from.
    pub dropped_limit: u64,
    /// Keys of a followed log's line state forgotten this time: at `max_keys`, expired.
    pub state_dropped: [u64; 2],
    /// Bytes read from the source (more than the data when an append log is searched).
    pub bytes: u64,
    /// A file source's modification time, as Unix time.
    pub file_mtime: Option<f64>,
    pub duration: Duration,
    pub finished: SystemTime,
    /// The families were dropped once the page was encoded (see
    /// [`super::Scraper::scrape_page`]): a page made from this result reads the source again.
    pub families_dropped: bool,
}

impl Outcome {
    /// The outcome with its texts fit to store, log and show: secrets the adapter sent
    /// taken out (an app may echo them), control characters escaped and each text cut
    /// short, so no more than an excerpt of the app's input reaches `/`, `once` or the log.
    pub(in crate::scrape) fn for_showing(mut self) -> Outcome {
        for text in [
            &mut self.error,
            &mut self.first_issue,
            &mut self.first_unmatched,
        ]
        .into_iter()
        .flatten()
        {
            *text = crate::text::shown(&crate::source::redact(text));
        }
        self
    }

    pub(in crate::scrape) fn down(kind: FailureKind, error: String, duration: Duration) -> Outcome {
        Outcome {
            families: Arc::default(),
            up: false,
            error: Some(error),
            failure: Some(kind),
            first_issue: None,
            issues: 0,
            unmatched: 0,
            first_unmatched: None,
            reserved: 0,
            dropped_limit: 0,
            state_dropped: [0; 2],
            bytes: 0,
            file_mtime: None,
            duration,
            finished: SystemTime::now(),
            families_dropped: false,
        }
    }
}

/// Totals since start (and across reloads that leave the source as it was): counters.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub fetches: u64,
    pub failures: u64,
    /// Failures by kind, in [`FailureKind::ALL`] order.
    pub failures_by_kind: [u64; FailureKind::ALL.len()],
    pub parse_errors: u64,
    pub unmatched: u64,
    pub bytes: u64,
    /// Series left off pages because an earlier source wrote them.
    pub dropped_collision: u64,
    /// Series of the source's data under a name the adapter reserves.
    pub dropped_reserved: u64,
    /// Values of new series a followed log could not add: `max_series` reached.
    pub dropped_limit: u64,
    /// Keys of a followed log's line state forgotten: at `max_keys`, expired.
    pub state_dropped: [u64; 2],
}
