//! What a mapping did with each record of one read, recorded only when asked (`parse
//! --explain`; [`Trace`] is `None` on the scrape path, so a scrape pays one branch per
//! record): the data the explanation (`crate::recipe::explain`) is written from.

use crate::family::{LabelSet, MetricKind};
use crate::parse::Record;

/// One thing that happened to a record in the mapping.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Not among `[mapping] include_keys`, or among `exclude_keys`.
    Filtered(&'static str),
    /// A rule whose key matched, but whose `when` did not hold for the record's labels.
    WhenFailed(String),
    /// The rule that took the record.
    Took(String),
    /// Taken by a `drop = true` rule: known, and not wanted.
    Dropped(String),
    /// A series the record became (name and kind as the family holds them).
    Series {
        name: String,
        kind: MetricKind,
        labels: LabelSet,
        value: f64,
    },
    /// A value the rule could not use, counted as a parse error.
    Problem(String),
    /// A value the rule skipped quietly (`non_numeric = "skip"`), counted as unmatched.
    Skipped(String),
    /// No rule matched: what `unmatched` did with it.
    NoRule(&'static str),
    /// The rule took the record, and it carries nothing (a log's "-").
    Nothing(String),
    /// What the rule derived from the record: a value computed, labels remembered or
    /// recalled (with the line they came from).
    Derived(String),
    /// An accumulating rule added the value into a series of the running totals.
    Added {
        name: String,
        kind: MetricKind,
        labels: LabelSet,
        value: f64,
        verb: crate::parse::mapping::accumulate::Verb,
    },
}

/// The records of one read with the steps each went through, in input order.
#[derive(Debug, Default)]
pub struct Trace {
    pub records: Vec<(TracedRecord, Vec<Step>)>,
}

/// What the format read, kept for the explanation (the record itself is consumed).
#[derive(Debug, Clone)]
pub struct TracedRecord {
    pub line: usize,
    pub key: String,
    pub value: String,
    pub labels: LabelSet,
    pub unit: Option<String>,
    /// Where in the document the record's item is (a JSON `each` item).
    pub from: Option<std::sync::Arc<str>>,
}

impl Trace {
    pub(crate) fn start(&mut self, r: &Record<'_>) {
        self.records.push((
            TracedRecord {
                line: r.line,
                // A histogram's or summary's series is keyed by its family: show which one.
                key: format!("{}{}", r.key, r.suffix.as_str()),
                value: r.value.to_string(),
                labels: r.labels.clone(),
                unit: r.unit.map(str::to_string),
                from: r.from.clone(),
            },
            Vec::new(),
        ));
    }

    pub(crate) fn step(&mut self, step: Step) {
        if let Some((_, steps)) = self.records.last_mut() {
            steps.push(step);
        }
    }
}

/// How a format accounts for an input line that made no record.
pub trait LineReader {
    /// Why `line` made no record, when the format can say (a regex `drop` rule, no rule).
    fn no_record(&self, line: &str) -> Option<String>;
    /// The lines that continue a multi-line record, each with the record's first line.
    fn record_lines(&self, text: &str) -> Vec<(usize, usize)> {
        let _ = text;
        Vec::new()
    }
}
