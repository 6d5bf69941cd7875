//! Metric types for a draft: a counter when the key's words say so (`requests`, `total`,
//! `received`...) or when, given a second sample, the values only grew; a gauge otherwise. A
//! value that is a word from a small set (`Normal`, `leader`, `idle`) makes a state set of
//! the words seen; a version-like text (`7.0.15`, `Apache/2.4.71 (Debian)`) an info metric.
//! Each decision carries its reason, which the recipe writes as a comment.

use crate::parse::number;

/// What a rule's records become.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Gauge,
    Counter,
    /// A state set with the states seen, sorted.
    StateSet(Vec<String>),
    Info,
    /// Text with no number to read and no small set of words: named, so it is not counted
    /// as unmatched, and not exposed.
    Drop,
}

/// A kind and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed {
    pub kind: Kind,
    pub why: String,
    /// Some values are numbers and some are not: the words are skipped quietly.
    pub mixed: bool,
}

/// Words of a key that name a running total.
const COUNTER_WORDS: &[&str] = &[
    "total",
    "count",
    "received",
    "sent",
    "requests",
    "accepted",
    "handled",
    "served",
    "hits",
    "misses",
    "errors",
    "failures",
    "failed",
    "dropped",
    "drops",
    "rejected",
    "retries",
    "queries",
    "evictions",
    "evicted",
    "expired",
    "processed",
    "transmitted",
    "calls",
    "reads",
    "writes",
    "forks",
    "restarts",
    "exceptions",
    "timeouts",
    "conn",
    "connections_total",
];

/// Words that make a key a level or a setting, whatever else it says (`max_requests`,
/// `requests_per_sec`, `current_connections`).
const GAUGE_WORDS: &[&str] = &[
    "current",
    "cur",
    "max",
    "min",
    "avg",
    "average",
    "mean",
    "median",
    "rate",
    "per",
    "limit",
    "size",
    "active",
    "idle",
    "busy",
    "last",
    "ratio",
    "percent",
    "load",
    "queue",
    "now",
    "since",
    "time",
    "uptime",
    "in",
    "up",
    "pid",
    "version",
    "peak",
    "len",
    "length",
    "mem",
    "memory",
    "swap",
    "capacity",
    "free",
    "available",
    "used",
];

/// How many distinct words a state set may have before the values are taken as free text.
const MAX_STATES: usize = 8;

fn is_word(text: &str) -> bool {
    let t = text.trim();
    !t.is_empty()
        && t.len() <= 32
        && t.chars()
            .all(|c| c.is_ascii_alphabetic() || c == '_' || c == '-' || c == ' ')
        && t.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && t.split_whitespace().count() <= 3
}

/// `7.0.15`, `Apache/2.4.71 (Debian)`, `2.0.21-debian`: digits in three dotted parts (a
/// size such as `1.06M` or a share such as `94.41%` is not one).
pub fn is_version(text: &str) -> bool {
    let dotted = text
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .any(|run| {
            let parts: Vec<&str> = run.split('.').collect();
            parts.len() >= 3 && parts.iter().all(|p| !p.is_empty())
        });
    dotted && number::parse(text).is_none()
}

/// Decides the kind of a rule's records from the words of its name, the values of the
/// first sample, and `(first, second)` value pairs of the series both samples had.
pub fn decide(words: &[String], values: &[&str], pairs: &[(f64, f64)]) -> Typed {
    let numeric = values.iter().filter(|v| number::parse(v).is_some()).count();
    let texts: Vec<&str> = values
        .iter()
        .copied()
        .filter(|v| number::parse(v).is_none())
        .collect();
    if numeric == 0 && !texts.is_empty() {
        let mut states: Vec<String> = texts.iter().map(|t| t.trim().to_string()).collect();
        states.sort();
        states.dedup();
        if texts.iter().all(|t| is_word(t)) && states.len() <= MAX_STATES {
            let why = format!(
                "state set: the value is a word ({}); add the states the app can report that \
                 the sample did not show",
                states.join(", ")
            );
            return Typed {
                kind: Kind::StateSet(states),
                why,
                mixed: false,
            };
        }
        if texts.iter().all(|t| is_version(t)) && states.len() <= MAX_STATES {
            return Typed {
                kind: Kind::Info,
                why: "info: the value looks like a version".into(),
                mixed: false,
            };
        }
        return Typed {
            kind: Kind::Drop,
            why: "dropped: text, neither a number, a small set of words nor a version".into(),
            mixed: false,
        };
    }
    let mixed = !texts.is_empty();
    let negative = values
        .iter()
        .filter_map(|v| number::parse(v))
        .any(|v| v < 0.0);
    let gauge_word = words
        .iter()
        .find(|w| GAUGE_WORDS.contains(&w.as_str()))
        .map(String::as_str);
    // The last word is the noun: `expired_time_cap_reached_count` counts, whatever `time`
    // says.
    let counted = words.last().is_some_and(|w| w == "count");
    let word_counter = counted
        || (words.iter().any(|w| COUNTER_WORDS.contains(&w.as_str())) && gauge_word.is_none());
    let gauge = |why: String| Typed {
        kind: Kind::Gauge,
        why,
        mixed,
    };
    let counter = |why: String| Typed {
        kind: Kind::Counter,
        why,
        mixed,
    };
    if negative {
        return gauge("gauge: a value is negative".into());
    }
    if !pairs.is_empty() {
        let down = pairs.iter().any(|(a, b)| b < a);
        let up = pairs.iter().any(|(a, b)| b > a);
        if down {
            return gauge("gauge: it went down between the two samples".into());
        }
        if let (true, Some(word)) = (up, gauge_word) {
            return gauge(format!(
                "gauge: it grew between the two samples, but the key says `{word}`"
            ));
        }
        if up {
            return counter("counter: it only grew between the two samples".into());
        }
    }
    let unchanged = if pairs.is_empty() {
        ""
    } else {
        " (it did not change between the two samples)"
    };
    if word_counter {
        let word = words
            .iter()
            .find(|w| COUNTER_WORDS.contains(&w.as_str()))
            .map(String::as_str)
            .unwrap_or("");
        counter(format!("counter: the key says `{word}`{unchanged}"))
    } else {
        gauge(format!(
            "gauge: no word of the key says it is a running total{unchanged}"
        ))
    }
}
