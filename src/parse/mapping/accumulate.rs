//! `accumulate`: a rule for records that are events, the lines of a log, in the manner of
//! statsd_exporter's `observer_type`. Such a rule makes no sample of its own: each record
//! adds into running totals that outlive the read (`count` by 1, `sum` its value, `observe`
//! into a histogram or summary, `set` a gauge), held by whoever delivers the lines (see
//! [`crate::parse::totals`]). Everything else (key, name, help, labels) is the mapping's.

use super::options::{DefaultsOptions, RuleOptions};
use crate::family::MetricKind;
use crate::parse::RecipeError;

/// How a record adds into its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Adds 1 per record, whatever its value.
    Count,
    /// Adds the value.
    Sum,
    /// Observes the value into a histogram or a summary.
    Observe,
    /// The last value (a gauge).
    Set,
}

pub const VERBS: &[&str] = &["count", "sum", "observe", "set"];

/// Prometheus client libraries' default buckets (seconds), used when none are given.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
pub const DEFAULT_QUANTILES: &[f64] = &[0.5, 0.9, 0.99];
pub const DEFAULT_WINDOW: usize = 1024;

/// A compiled accumulating rule: its verb, the kind of the family it adds into, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Accumulate {
    pub verb: Verb,
    pub kind: MetricKind,
    pub scale: f64,
    /// A value that is not a number is skipped quietly (`non_numeric = "skip"`).
    pub skip_non_numeric: bool,
    /// Histogram upper bounds, ascending, without `+Inf`.
    pub buckets: Vec<f64>,
    pub quantiles: Vec<f64>,
    /// Summary: quantiles are over the last this many observations of each series.
    pub window: usize,
}

impl Accumulate {
    /// Checks an accumulating rule's keys against its verb and type (`None`: the verb's
    /// own), with `[mapping.defaults]` for what it leaves out.
    pub(super) fn new(
        r: &RuleOptions,
        verb: &str,
        kind: Option<MetricKind>,
        defaults: &DefaultsOptions,
    ) -> Result<Accumulate, RecipeError> {
        let verb = match verb {
            "count" => Verb::Count,
            "sum" => Verb::Sum,
            "observe" => Verb::Observe,
            "set" => Verb::Set,
            other => {
                return Err(RecipeError::new(
                    crate::parse::ErrorKind::UnknownName,
                    format!(
                        "unknown verb {other:?}; expected one of {}{}",
                        VERBS.join(", "),
                        crate::text::did_you_mean(other, VERBS.iter().copied())
                    ),
                )
                .at("accumulate"))
            }
        };
        let (kinds, default): (&[MetricKind], MetricKind) = match verb {
            Verb::Count | Verb::Sum => (
                &[MetricKind::Counter, MetricKind::Untyped],
                MetricKind::Counter,
            ),
            Verb::Set => (&[MetricKind::Gauge], MetricKind::Gauge),
            Verb::Observe => (
                &[MetricKind::Histogram, MetricKind::Summary],
                MetricKind::Histogram,
            ),
        };
        let written = r.accumulate.as_deref().unwrap_or_default();
        let kind = kind.unwrap_or(default);
        if !kinds.contains(&kind) {
            let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
            return Err(format!(
                "accumulate = {written:?} adds into a {}, not type {:?}",
                names.join(" or "),
                kind.as_str()
            )
            .into());
        }
        let allowed: &[&str] = match (verb, kind) {
            (Verb::Count, _) => &["unit"],
            (Verb::Observe, MetricKind::Histogram) => &["unit", "scale", "non_numeric", "buckets"],
            (Verb::Observe, _) => &["unit", "scale", "non_numeric", "quantiles", "window"],
            _ => &["unit", "scale", "non_numeric"],
        };
        if let Some(k) = r.value_keys().iter().find(|k| !allowed.contains(k)) {
            return Err(format!(
                "`{k}` does not apply to accumulate = {written:?} (type {:?})",
                kind.as_str()
            )
            .into());
        }
        let scale = r.scale.unwrap_or(1.0);
        if !scale.is_finite() || scale == 0.0 {
            return Err("scale: must be a finite number other than 0".into());
        }
        let skip_non_numeric = match r.non_numeric.as_deref() {
            None | Some("error") => false,
            Some("skip") => true,
            Some(o) => {
                return Err(format!("non_numeric must be \"error\" or \"skip\", not {o:?}").into())
            }
        };
        let (histogram, summary) = (kind == MetricKind::Histogram, kind == MetricKind::Summary);
        let pick = |own: &[f64], default: &[f64], builtin: &[f64]| -> Vec<f64> {
            [own, default, builtin]
                .into_iter()
                .find(|l| !l.is_empty())
                .unwrap_or_default()
                .to_vec()
        };
        let buckets = if histogram {
            pick(&r.buckets, &defaults.buckets, DEFAULT_BUCKETS)
        } else {
            Vec::new()
        };
        if !buckets.iter().all(|b| b.is_finite())
            || buckets.windows(2).any(|w| w.first() >= w.last())
        {
            return Err("buckets: must be finite and ascending (+Inf is implied)".into());
        }
        let quantiles = if summary {
            pick(&r.quantiles, &defaults.quantiles, DEFAULT_QUANTILES)
        } else {
            Vec::new()
        };
        if quantiles.iter().any(|q| !(0.0..=1.0).contains(q)) {
            return Err("quantiles: each must be between 0 and 1".into());
        }
        let window = r.window.or(defaults.window).unwrap_or(DEFAULT_WINDOW);
        if window == 0 || window > 1_000_000 {
            return Err("window: must be between 1 and 1000000".into());
        }
        Ok(Accumulate {
            verb,
            kind,
            scale,
            skip_non_numeric,
            buckets,
            quantiles,
            window,
        })
    }
}

/// Checks `[mapping.defaults]` as written, so a bad default fails even unused.
pub(super) fn check_defaults(d: &DefaultsOptions) -> Result<(), RecipeError> {
    if !d.buckets.iter().all(|b| b.is_finite())
        || d.buckets.windows(2).any(|w| w.first() >= w.last())
    {
        return Err(
            "mapping.defaults.buckets: must be finite and ascending (+Inf is implied)".into(),
        );
    }
    if d.quantiles.iter().any(|q| !(0.0..=1.0).contains(q)) {
        return Err("mapping.defaults.quantiles: each must be between 0 and 1".into());
    }
    if d.window.is_some_and(|w| w == 0 || w > 1_000_000) {
        return Err("mapping.defaults.window: must be between 1 and 1000000".into());
    }
    Ok(())
}
