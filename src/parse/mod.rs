//! Parsing: bytes in, metric families out, with no I/O, clock or global state.
//!
//! A generic *format* (`kv`, `regex`, `json`, `csv`, `prometheus`) turns the bytes into flat
//! [`Record`]s: a key, labels found in the data, and the raw value text. A [`Mapping`] then
//! turns records into families (names, kinds, units, scaling, labels), each as the format
//! reads it, so no read holds all its records; or, for events (a log's lines), adds them
//! into [`totals::RunningTotals`]. The recipe tools above it (`crate::recipe`) package a
//! format and a mapping as a recipe. This layer imports only the data types below it
//! (`family`, `text`): the lib test `layers` checks it.

pub mod date;
pub mod error;
pub mod format;
pub mod mapping;
pub mod number;
pub mod records;
pub mod relabel;
pub mod totals;
pub mod trace;

use std::borrow::Cow;

use crate::family::{Family, LabelSet, MetricKind, Suffix};

pub use error::{ErrorKind, RecipeError};
pub use mapping::Mapping;

/// One value found in the source, before mapping. It borrows the input where it can: a
/// page yields one record per value, so a copy per record would be the parser's main cost.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record<'a> {
    /// The source's own name for the value, e.g. `MemTotal`, `db0.keys`, `processes.requests`.
    pub key: Cow<'a, str>,
    /// Labels the format found (section, row or object keys, regex captures), shared by
    /// every record of that section, row or object.
    pub labels: LabelSet,
    /// The raw value text, trimmed (`1024`, `.01`, `UP`, `Linux 6.1 x86_64`).
    pub value: Cow<'a, str>,
    /// A unit written after the value in the source (`kB` in `/proc/meminfo`).
    pub unit: Option<&'a str>,
    /// Kind declared by the source itself (only the `prometheus` format knows it).
    pub kind: Option<MetricKind>,
    /// Help declared by the source itself.
    pub help: Option<String>,
    /// Which series of a summary or histogram the source declared this one (`_sum`...):
    /// its key is then the family's name (only the `prometheus` format knows it).
    pub suffix: Suffix,
    /// 1-based line the value came from, for error messages.
    pub line: usize,
    /// Where in a document the value's item is (`pools[0].workers[2]`), when the line does
    /// not say (a JSON `each` item), for `parse --explain`.
    pub from: Option<std::sync::Arc<str>>,
}

impl<'a> Record<'a> {
    pub fn new(key: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        Record {
            key: key.into(),
            value: value.into(),
            ..Record::default()
        }
    }
}

/// Where a format puts each record as it reads it: the mapping ([`mapping::MappingRun`]),
/// which uses it at once, so no read holds all its records (a big table's records were a
/// third of the adapter's peak memory).
pub trait RecordSink<'a> {
    fn push(&mut self, record: Record<'a>);
}

/// Tests read a format's records as a list.
#[cfg(test)]
impl<'a> RecordSink<'a> for Vec<Record<'a>> {
    fn push(&mut self, record: Record<'a>) {
        Vec::push(self, record);
    }
}

/// A value that was skipped: counted in the source's parse errors, never emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub line: usize,
    pub message: String,
}

impl Issue {
    pub fn new(line: usize, message: impl Into<String>) -> Self {
        Issue {
            line,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// Input the parser read but no rule used (a line no pattern matched, a key no mapping rule
/// names under `unmatched = "drop"`, a word a rule quietly skipped). Counted, so an app
/// whose format drifts away from its recipe shows up instead of series silently vanishing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unmatched {
    pub count: u64,
    /// The first one, for `parse`, the log and the status page.
    pub first: Option<String>,
}

impl Unmatched {
    pub fn add(&mut self, line: usize, what: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(Issue::new(line, what()).to_string());
        }
    }
}

/// What a parser made of one input.
#[derive(Debug, Default, Clone)]
pub struct Parsed {
    pub families: Vec<Family>,
    /// Values that were skipped; the rest of the input was still used.
    pub issues: Vec<Issue>,
    pub unmatched: Unmatched,
}

/// The input as a whole could not be used: the source counts as down.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("{0}")]
    Invalid(String),
    /// Nothing usable: a status page always has some value, so this is down, whatever
    /// the format (decided once, in [`Recipe`]).
    #[error("no values in the input")]
    Empty,
    #[error("required keys missing: {}", .0.join(", "))]
    MissingKeys(Vec<String>),
    #[error("{found} values, more than max_series ({limit}); raise it, or drop what is not needed with exclude")]
    TooManyValues { found: usize, limit: usize },
}

/// Input as text: invalid UTF-8 becomes U+FFFD, so it can never turn into a number.
pub fn text(input: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(input)
}

/// Iterates lines with 1-based numbers, without `\r` at the end.
pub fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
}
