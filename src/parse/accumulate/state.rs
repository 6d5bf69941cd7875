//! The running totals of a `log` recipe: plain data, one map of label sets per metric. A
//! label set's key is its values, each with its length before it, so no text can make two
//! sets collide, and a line whose series exists already is counted without an allocation
//! (the key is built in a reused buffer and looked up by slice).

use std::collections::VecDeque;

use foldhash::HashMap;

use super::{Kind, Metric};
use crate::family::{le_label, Family, Labels, MetricKind, Suffix};

/// Appends one label value to a series key.
pub(super) fn push_label(key: &mut Vec<u8>, value: &str) {
    // A label longer than 4 GiB cannot come from a line read in bounded chunks.
    let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
    key.extend_from_slice(&len.to_le_bytes());
    key.extend_from_slice(value.as_bytes());
}

/// The label values a key holds, in order.
fn label_values(mut key: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while let Some((len, rest)) = key.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*len) as usize;
        let (value, rest) = rest.split_at(len.min(rest.len()));
        out.push(String::from_utf8_lossy(value).into_owned());
        key = rest;
    }
    out
}

/// One series' state.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A counter's (or untyped's) sum.
    Sum(f64),
    /// A gauge's last value.
    Last(f64),
    /// Per-bucket counts (not cumulative; the last one is `+Inf`), sum and count.
    Histogram {
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
    /// The last `window` observations, and the sum and count of all of them.
    Summary {
        window: VecDeque<f64>,
        sum: f64,
        count: u64,
    },
}

impl Value {
    fn new(metric: &Metric) -> Value {
        match metric.kind {
            Kind::Counter | Kind::Untyped => Value::Sum(0.0),
            Kind::Gauge => Value::Last(0.0),
            Kind::Histogram => Value::Histogram {
                counts: vec![0; metric.buckets.len() + 1],
                sum: 0.0,
                count: 0,
            },
            Kind::Summary => Value::Summary {
                window: VecDeque::new(),
                sum: 0.0,
                count: 0,
            },
        }
    }

    fn add(&mut self, metric: &Metric, v: f64) {
        match self {
            Value::Sum(s) => *s += v,
            Value::Last(l) => *l = v,
            Value::Histogram { counts, sum, count } => {
                // The first bucket whose upper bound holds v; past the last, `+Inf`.
                let i = metric.buckets.partition_point(|b| *b < v);
                if let Some(c) = counts.get_mut(i) {
                    *c += 1;
                }
                *sum += v;
                *count += 1;
            }
            Value::Summary { window, sum, count } => {
                if window.len() >= metric.window {
                    window.pop_front();
                }
                window.push_back(v);
                *sum += v;
                *count += 1;
            }
        }
    }
}

/// The samples one series writes: a value, or a histogram's buckets (with `+Inf`), sum and
/// count, or a summary's quantiles, sum and count.
fn samples_per_series(metric: &Metric) -> usize {
    match metric.kind {
        Kind::Counter | Kind::Untyped | Kind::Gauge => 1,
        Kind::Histogram => metric.buckets.len() + 3,
        Kind::Summary => metric.quantiles.len() + 2,
    }
}

/// Every metric's series. Lives as long as the source that feeds it (and across a reload
/// that leaves the source unchanged): counters never go down.
#[derive(Debug, Default)]
pub struct Accumulator {
    series: Vec<HashMap<Box<[u8]>, Value>>,
    count: usize,
}

impl Accumulator {
    pub(super) fn new(metrics: &[Metric]) -> Accumulator {
        Accumulator {
            series: metrics.iter().map(|_| HashMap::default()).collect(),
            count: 0,
        }
    }

    /// Samples the page holds, over all metrics (what `max_series` bounds).
    pub fn series_count(&self) -> usize {
        self.count
    }

    /// Adds `v` to metric `m`'s series `key`; false when the series is new and the cap is
    /// reached (the value is dropped).
    pub(super) fn add(
        &mut self,
        m: usize,
        metric: &Metric,
        key: &[u8],
        v: f64,
        max: usize,
    ) -> bool {
        let Some(map) = self.series.get_mut(m) else {
            return false;
        };
        if let Some(value) = map.get_mut(key) {
            value.add(metric, v);
            return true;
        }
        let samples = samples_per_series(metric);
        if self.count.saturating_add(samples) > max {
            return false;
        }
        let mut value = Value::new(metric);
        value.add(metric, v);
        map.insert(key.into(), value);
        self.count += samples;
        true
    }

    /// The series of metric `m`: label values (in the metric's `labels` order) and state,
    /// sorted by labels so a page is the same for the same input.
    pub fn series(&self, m: usize) -> Vec<(Vec<String>, &Value)> {
        let mut out: Vec<(Vec<String>, &Value)> = self
            .series
            .get(m)
            .into_iter()
            .flat_map(|map| map.iter().map(|(k, v)| (label_values(k), v)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The families for a page: every metric that has a series.
    pub fn families(&self, metrics: &[Metric]) -> Vec<Family> {
        let mut out = Vec::new();
        for (m, metric) in metrics.iter().enumerate() {
            let series = self.series(m);
            if series.is_empty() {
                continue;
            }
            let kind = match metric.kind {
                Kind::Counter => MetricKind::Counter,
                Kind::Untyped => MetricKind::Untyped,
                Kind::Gauge => MetricKind::Gauge,
                Kind::Histogram => MetricKind::Histogram,
                Kind::Summary => MetricKind::Summary,
            };
            let mut family = Family::new(metric.name.clone(), kind, metric.help.clone());
            for (values, value) in series {
                let labels: Labels = metric.labels.iter().cloned().zip(values).collect();
                family = sample(family, metric, labels, value);
            }
            out.push(family);
        }
        out
    }
}

/// `labels` with one more pair at the end.
fn with(labels: &Labels, name: &str, value: String) -> Labels {
    let mut l = labels.clone();
    l.push((name.to_string(), value));
    l
}

/// One series' samples: a value, or a histogram's cumulative buckets (ending in `+Inf`)
/// with `_sum` and `_count`, or a summary's quantiles with `_sum` and `_count`.
fn sample(family: Family, metric: &Metric, labels: Labels, value: &Value) -> Family {
    match value {
        Value::Sum(v) | Value::Last(v) => family.with_sample(labels, *v),
        Value::Histogram { counts, sum, count } => {
            let bounds = metric.buckets.iter().copied().chain([f64::INFINITY]);
            let mut cumulative = 0;
            let mut f = family;
            for (bound, n) in bounds.zip(counts) {
                cumulative += n;
                let l = with(&labels, "le", le_label(bound));
                f = f.with_suffixed_sample(l, Suffix::Bucket, cumulative as f64);
            }
            f.with_suffixed_sample(labels.clone(), Suffix::Sum, *sum)
                .with_suffixed_sample(labels, Suffix::Count, *count as f64)
        }
        Value::Summary { window, sum, count } => {
            let mut sorted: Vec<f64> = window.iter().copied().collect();
            sorted.sort_by(f64::total_cmp);
            let mut f = family;
            for q in &metric.quantiles {
                let l = with(&labels, "quantile", le_label(*q));
                f = f.with_suffixed_sample(l, Suffix::None, quantile(&sorted, *q));
            }
            f.with_suffixed_sample(labels.clone(), Suffix::Sum, *sum)
                .with_suffixed_sample(labels, Suffix::Count, *count as f64)
        }
    }
}

/// The nearest-rank quantile of sorted values: the smallest value with at least a `q`
/// share of the values at or below it. NaN when there are none.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}
