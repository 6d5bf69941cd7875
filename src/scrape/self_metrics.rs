//! The adapter's own series: per source (up, duration, counters), build info, and the
//! reload status, built here and nowhere else. `metrics_adapter_*` is the adapter's
//! namespace: source data never writes it.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use super::target::{FailureKind, Outcome, Target};
use crate::config::Refresh;
use crate::family::{Family, LabelSet, Labels, MetricKind};

/// The adapter's own namespace.
pub const SELF_PREFIX: &str = "metrics_adapter_";

/// The adapter's own families, one sample per source. A source's label set is made once
/// per page and shared by its samples (an `Arc`, not a copy each): this runs on every
/// scrape.
#[derive(Default)]
pub(super) struct SelfMetrics {
    up: Vec<(LabelSet, f64)>,
    duration: Vec<(LabelSet, f64)>,
    age: Vec<(LabelSet, f64)>,
    samples: Vec<(LabelSet, f64)>,
    fetches: Vec<(LabelSet, f64)>,
    failures: Vec<(LabelSet, f64)>,
    parse_errors: Vec<(LabelSet, f64)>,
    unmatched: Vec<(LabelSet, f64)>,
    dropped: Vec<(LabelSet, f64)>,
    state_dropped: Vec<(LabelSet, f64)>,
    bytes: Vec<(LabelSet, f64)>,
    mtime: Vec<(LabelSet, f64)>,
}

impl SelfMetrics {
    /// `reached`: the series of this source that made it onto the page.
    pub(super) fn add(&mut self, t: &Target, o: &Outcome, reached: usize) {
        let source = ("source".to_string(), t.spec.name.clone());
        let with = |k: &str, v: &str| -> LabelSet {
            Arc::from([source.clone(), (k.to_string(), v.to_string())])
        };
        let l: LabelSet = Arc::from([source.clone()]);
        let totals = t.totals();
        self.up.push((l.clone(), f64::from(u8::from(o.up))));
        self.duration.push((l.clone(), o.duration.as_secs_f64()));
        if matches!(t.spec.refresh, Refresh::Every(_)) {
            let age = SystemTime::now()
                .duration_since(o.finished)
                .unwrap_or_default();
            self.age.push((l.clone(), age.as_secs_f64()));
        }
        if let Some(mtime) = o.file_mtime {
            self.mtime.push((l.clone(), mtime));
        }
        self.samples.push((l.clone(), reached as f64));
        self.fetches.push((l.clone(), totals.fetches as f64));
        // By kind, each kind written once it happened: `sum by (source)` is the total.
        for (kind, n) in FailureKind::ALL.iter().zip(totals.failures_by_kind) {
            if n > 0 {
                self.failures.push((with("kind", kind.as_str()), n as f64));
            }
        }
        self.parse_errors
            .push((l.clone(), totals.parse_errors as f64));
        self.unmatched.push((l.clone(), totals.unmatched as f64));
        // `limit` only where it can happen (a followed log's new label sets past
        // max_series), so other sources' pages stay as they were.
        let limit = matches!(t.spec.source, crate::source::Source::Tail(_))
            .then_some(("limit", totals.dropped_limit));
        for (reason, n) in [
            ("collision", totals.dropped_collision),
            ("reserved", totals.dropped_reserved),
        ]
        .into_iter()
        .chain(limit)
        {
            self.dropped.push((with("reason", reason), n as f64));
        }
        // Only for a followed log whose recipe keeps state across lines.
        if t.parser
            .line_recipe()
            .is_some_and(crate::recipe::Recipe::remembers)
        {
            for (reason, n) in ["max_keys", "expired"]
                .into_iter()
                .zip(totals.state_dropped)
            {
                self.state_dropped.push((with("reason", reason), n as f64));
            }
        }
        self.bytes.push((l, totals.bytes as f64));
    }

    pub(super) fn families(self) -> Vec<Family> {
        let fam = |name: &str, kind, help: &str, samples: Vec<(LabelSet, f64)>| {
            samples.into_iter().fold(
                Family::new(format!("{SELF_PREFIX}{name}"), kind, help),
                |f, (l, v)| f.with_sample(l, v),
            )
        };
        use MetricKind::{Counter, Gauge};
        vec![
            fam(
                "source_up",
                Gauge,
                "Whether the last read and parse of the source succeeded (1) or not (0).",
                self.up,
            ),
            fam(
                "source_duration_seconds",
                Gauge,
                "How long the last read and parse of the source took.",
                self.duration,
            ),
            fam(
                "source_age_seconds",
                Gauge,
                "Age of the served result of a background-read source.",
                self.age,
            ),
            fam(
                "source_file_mtime_seconds",
                Gauge,
                "Modification time of a file source's file (an http source's Last-Modified), as Unix time; none for /proc and /sys files.",
                self.mtime,
            ),
            fam(
                "source_samples",
                Gauge,
                "Series of the source that reached this page.",
                self.samples,
            ),
            fam(
                "source_reads",
                Counter,
                "Reads of the source since start.",
                self.fetches,
            ),
            fam(
                "source_read_failures",
                Counter,
                "Reads of the source that failed (source down) since start, by kind: timeout, read, http, protocol, limit, stale, parse, bug.",
                self.failures,
            ),
            fam(
                "source_parse_errors",
                Counter,
                "Values skipped because they could not be used, since start.",
                self.parse_errors,
            ),
            fam(
                "source_unmatched",
                Counter,
                "Input the recipe read but no rule used (lines, keys, words), since start.",
                self.unmatched,
            ),
            fam(
                "source_dropped_series",
                Counter,
                "Series of the source left off pages: written by an earlier source (collision) or under a name the adapter reserves (reserved).",
                self.dropped,
            ),
            fam(
                "source_line_state_dropped",
                Counter,
                "Keys a followed log's recipe kept across lines (remember) and forgot before a later line used them: at max_keys, or expired.",
                self.state_dropped,
            ),
            fam(
                "source_read_bytes",
                Counter,
                "Bytes read from the source since start.",
                self.bytes,
            ),
            Family::new(
                "metrics_adapter_build",
                MetricKind::Info,
                "A metric with a constant '1' value labeled by version, revision, branch, and rustversion from which metrics-adapter was built.",
            )
            .with_sample(build_label_set(), 1.0),
        ]
    }
}

/// The labels of `metrics_adapter_build_info`, as the Go exporters' `<name>_build_info` has
/// them (`version`, `revision`, `branch`, `goversion`). The compiler's label is
/// `rustversion`: Go's name with the language swapped, so a query written for Go
/// exporters needs one word changed, and the label cannot be read as the adapter's own
/// version. Facts from build.rs; "unknown" when built without git.
pub fn build_labels() -> Labels {
    [
        ("version", env!("CARGO_PKG_VERSION")),
        ("revision", env!("METRICS_ADAPTER_REVISION")),
        ("branch", env!("METRICS_ADAPTER_BRANCH")),
        ("rustversion", env!("METRICS_ADAPTER_RUST_VERSION")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// [`build_labels`], made once: they are on every page.
fn build_label_set() -> LabelSet {
    static SET: OnceLock<LabelSet> = OnceLock::new();
    SET.get_or_init(|| build_labels().into()).clone()
}

/// `metrics_adapter_config_last_reload_successful` and `..._success_timestamp_seconds`, as
/// Prometheus' own `prometheus_config_last_reload_*`.
pub fn reload_families(last_ok: bool, last_success: f64) -> Vec<Family> {
    vec![
        Family::new(
            format!("{SELF_PREFIX}config_last_reload_successful"),
            MetricKind::Gauge,
            "Whether the last configuration reload attempt was successful.",
        )
        .with_sample(vec![], f64::from(u8::from(last_ok))),
        Family::new(
            format!("{SELF_PREFIX}config_last_reload_success_timestamp_seconds"),
            MetricKind::Gauge,
            "Timestamp of the last successful configuration load (startup or reload).",
        )
        .with_sample(vec![], last_success),
    ]
}
