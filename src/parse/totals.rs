//! Running totals: what the events of a followed log (records of an accumulating mapping,
//! see [`crate::parse::mapping::accumulate`]) have added up to, as plain data. Owned by
//! whoever delivers the lines (a scrape target following a `tail` source; `parse` for a
//! saved log, counted from nothing); the recipe stays immutable and shared.
//!
//! A family's series are keyed by their label set, so a line whose series exists already
//! is counted with a lookup, and a page shows them sorted by labels (the same page for the
//! same input).

use std::collections::VecDeque;
use std::sync::Arc;

use foldhash::HashMap;

use crate::family::{bounds, le_label, Family, LabelSet, Labels, MetricKind, Suffix};
use crate::parse::mapping::accumulate::{Accumulate, Verb};
use crate::parse::mapping::{Mapping, Observation};
use crate::parse::relabel::Relabel;
use crate::parse::Issue;

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
    fn new(metric: &Accumulate) -> Value {
        match (metric.verb, metric.kind) {
            (Verb::Count | Verb::Sum, _) => Value::Sum(0.0),
            (Verb::Set, _) => Value::Last(0.0),
            (Verb::Observe, MetricKind::Summary) => Value::Summary {
                window: VecDeque::new(),
                sum: 0.0,
                count: 0,
            },
            (Verb::Observe, _) => Value::Histogram {
                counts: vec![0; metric.buckets.len() + 1],
                sum: 0.0,
                count: 0,
            },
        }
    }

    fn add(&mut self, metric: &Accumulate, v: f64) {
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
fn samples_per_series(metric: &Accumulate) -> usize {
    match metric.kind {
        MetricKind::Histogram => metric.buckets.len() + 3,
        MetricKind::Summary => metric.quantiles.len() + 2,
        _ => 1,
    }
}

/// One family's totals: how its rule adds, and its series.
#[derive(Debug)]
struct Tracked {
    name: String,
    help: String,
    how: Accumulate,
    /// The rule that made it first: families are shown in the recipe's order.
    rule: usize,
    /// Each label set's place in `values`.
    series: HashMap<LabelSet, usize>,
    values: Vec<Value>,
    /// Each value's stamp when it last changed (see [`RunningTotals::set_stamp`]).
    updated: Vec<u64>,
    /// The label sets found last, by pointer: a line format hands out the same label set
    /// for the same labels line after line, and finding it here costs no hashing.
    recent: Vec<(LabelSet, usize)>,
}

/// Label sets a family remembers by pointer.
const RECENT: usize = 4;

impl Tracked {
    /// The place of `labels` among the series, if it has one.
    fn find(&mut self, labels: &LabelSet) -> Option<usize> {
        if let Some((_, i)) = self.recent.iter().find(|(l, _)| Arc::ptr_eq(l, labels)) {
            return Some(*i);
        }
        let i = *self.series.get(labels)?;
        self.remember(labels, i);
        Some(i)
    }

    fn remember(&mut self, labels: &LabelSet, i: usize) {
        if self.recent.len() >= RECENT {
            self.recent.remove(0);
        }
        self.recent.push((labels.clone(), i));
    }
}

/// Every family's series. Lives as long as the source that feeds it (and across a reload
/// that leaves the source and its recipe unchanged): counters never go down.
#[derive(Debug, Default)]
pub struct RunningTotals {
    /// The recipe the totals were made by (see [`crate::recipe::Recipe::fingerprint`]).
    fingerprint: String,
    families: Vec<Tracked>,
    by_name: HashMap<String, usize>,
    /// Samples the page holds, over all families (what `max_series` bounds).
    count: usize,
    /// Bumped whenever the totals change: a page built at this version is current.
    version: u64,
    /// What a series changed now is stamped with (a time, told by the caller: parsing
    /// knows no clock), for [`RunningTotals::expire`].
    stamp: u64,
    /// The source's relabeling, run on each event before it is counted (it bounds the
    /// label sets); kept across [`RunningTotals::reset`].
    relabel: Option<Arc<Relabel>>,
    /// What the recipe keeps from one line for a later one, and a multi-line record not
    /// complete yet (see [`crate::parse::mapping::state`]).
    pub line_state: crate::parse::mapping::state::LineState,
}

impl RunningTotals {
    /// Empty totals for the recipe of `fingerprint`.
    pub fn new(fingerprint: &str) -> RunningTotals {
        RunningTotals {
            fingerprint: fingerprint.to_string(),
            ..RunningTotals::default()
        }
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Starts over for another recipe (a reload changed it); the version moves on, so a
    /// page built from the old totals is not served again.
    pub fn reset(&mut self, fingerprint: &str) {
        let version = self.version + 1;
        let relabel = self.relabel.take();
        *self = RunningTotals::new(fingerprint);
        self.version = version;
        self.relabel = relabel;
    }

    /// Relabels each event with `rules` before it is counted.
    pub fn relabel_with(&mut self, rules: Option<Arc<Relabel>>) {
        self.relabel = rules;
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// The stamp series changed from now on carry (the caller's clock, e.g. milliseconds).
    pub fn set_stamp(&mut self, stamp: u64) {
        self.stamp = stamp;
    }

    /// Removes the series not changed since before `stamp` (a source's `expire_after`, as
    /// mtail's `del ... after` and statsd_exporter's `ttl`): a label value seen once does
    /// not stay on the page forever. One that comes back starts from nothing. Returns how
    /// many series went.
    pub fn expire(&mut self, stamp: u64) -> usize {
        let mut removed = 0;
        for t in &mut self.families {
            if t.updated.iter().all(|u| *u >= stamp) {
                continue;
            }
            let old: Vec<(LabelSet, usize)> = t.series.drain().collect();
            // Taken out one by one as their label sets come: kept values move, not copied.
            let mut values: Vec<Option<Value>> = std::mem::take(&mut t.values)
                .into_iter()
                .map(Some)
                .collect();
            let updated = std::mem::take(&mut t.updated);
            let samples = samples_per_series(&t.how);
            for (labels, i) in old {
                match (values.get_mut(i).and_then(Option::take), updated.get(i)) {
                    (Some(v), Some(&u)) if u >= stamp => {
                        t.series.insert(labels, t.values.len());
                        t.values.push(v);
                        t.updated.push(u);
                    }
                    _ => {
                        removed += 1;
                        self.count = self.count.saturating_sub(samples);
                    }
                }
            }
            // Places have moved: the label sets remembered by pointer are forgotten.
            t.recent.clear();
        }
        if removed > 0 {
            self.version += 1;
        }
        removed
    }

    /// Samples the page holds, over all families (what `max_series` bounds).
    pub fn series_count(&self) -> usize {
        self.count
    }

    /// Adds what (part of) one read of new lines made: `observed`, whose families are
    /// `read_families` (the read's, by index), from `mapping`. `max_series` bounds
    /// the samples all families put on the page together (a histogram's series is its
    /// buckets, sum and count); past it, new label sets are dropped, known ones still add.
    /// Returns how many values were dropped so; label values cut short go to `issues`.
    pub fn add(
        &mut self,
        mapping: &Mapping,
        read_families: &[Family],
        observed: &[Observation],
        max_series: usize,
        issues: &mut Vec<Issue>,
    ) -> u64 {
        if let Some(rules) = self.relabel.take() {
            // The source's relabeling, before counting: it is what bounds the label sets.
            let (families, observed) = rules.events(read_families, observed);
            let dropped = self.add(mapping, &families, &observed, max_series, issues);
            self.relabel = Some(rules);
            return dropped;
        }
        let mut dropped = 0;
        // The read's family index -> ours, looked up by name once per batch.
        let mut ours: Vec<Option<usize>> = vec![None; read_families.len()];
        for o in observed {
            let (Some(how), Some(family)) =
                (mapping.accumulation(o.rule), read_families.get(o.family))
            else {
                continue;
            };
            let Some(slot) = ours.get_mut(o.family) else {
                continue;
            };
            let t = *slot.get_or_insert_with(|| match self.by_name.get(&family.name) {
                Some(&t) => t,
                None => {
                    self.families.push(Tracked {
                        name: family.name.clone(),
                        help: family.help.clone(),
                        how: how.clone(),
                        rule: o.rule,
                        series: HashMap::default(),
                        values: Vec::new(),
                        updated: Vec::new(),
                        recent: Vec::new(),
                    });
                    self.by_name
                        .insert(family.name.clone(), self.families.len() - 1);
                    self.families.len() - 1
                }
            });
            let Some(tracked) = self.families.get_mut(t) else {
                continue;
            };
            self.version += 1;
            if let Some(i) = tracked.find(&o.labels) {
                if let Some(value) = tracked.values.get_mut(i) {
                    value.add(&tracked.how, o.value);
                }
                if let Some(u) = tracked.updated.get_mut(i) {
                    *u = self.stamp;
                }
                continue;
            }
            // A megabyte method would be a megabyte on every page from now on.
            let labels = cut_labels(&tracked.name, &o.labels, issues);
            if let Some(i) = tracked.find(&labels) {
                if let Some(value) = tracked.values.get_mut(i) {
                    value.add(&tracked.how, o.value);
                }
                if let Some(u) = tracked.updated.get_mut(i) {
                    *u = self.stamp;
                }
                continue;
            }
            let samples = samples_per_series(&tracked.how);
            if self.count.saturating_add(samples) > max_series {
                dropped += 1;
                continue;
            }
            let mut value = Value::new(&tracked.how);
            value.add(&tracked.how, o.value);
            let i = tracked.values.len();
            tracked.values.push(value);
            tracked.updated.push(self.stamp);
            tracked.remember(&labels, i);
            tracked.series.insert(labels, i);
            self.count += samples;
        }
        dropped
    }

    /// The families for a page: every family that has a series, in the recipe's order,
    /// each's series sorted by labels.
    pub fn families(&self) -> Vec<Family> {
        let mut order: Vec<&Tracked> = self.families.iter().collect();
        order.sort_by_key(|t| t.rule);
        let mut out = Vec::new();
        for t in order {
            if t.series.is_empty() {
                continue;
            }
            let mut series: Vec<(&LabelSet, &Value)> = (t.series.iter())
                .filter_map(|(labels, &i)| Some((labels, t.values.get(i)?)))
                .collect();
            series.sort_by(|a, b| a.0.iter().cmp(b.0.iter()));
            // Written with `_total` by the exposition: a name that has it already keeps one.
            let name = match t.how.kind {
                MetricKind::Counter => t.name.strip_suffix("_total").unwrap_or(&t.name),
                _ => &t.name,
            };
            let mut family = Family::new(name.to_string(), t.how.kind, t.help.clone());
            for (labels, value) in series {
                family = sample(family, &t.how, labels.to_vec(), value);
            }
            out.push(family);
        }
        out
    }
}

/// `labels`, with values longer than a label may be cut short (told in `issues`).
fn cut_labels(name: &str, labels: &LabelSet, issues: &mut Vec<Issue>) -> LabelSet {
    if labels
        .iter()
        .all(|(_, v)| bounds::cut_label_value(v).is_none())
    {
        return labels.clone();
    }
    labels
        .iter()
        .map(|(k, v)| match bounds::cut_label_value(v) {
            Some(short) => {
                issues.push(Issue::new(
                    0,
                    format!(
                        "{name}: label {k}: a value of {} bytes cut to {}",
                        v.len(),
                        bounds::LABEL_VALUE_MAX
                    ),
                ));
                (k.clone(), short.to_string())
            }
            None => (k.clone(), v.clone()),
        })
        .collect()
}

/// `labels` with one more pair at the end.
fn with(labels: &Labels, name: &str, value: String) -> Labels {
    let mut l = labels.clone();
    l.push((name.to_string(), value));
    l
}

/// One series' samples: a value, or a histogram's cumulative buckets (ending in `+Inf`)
/// with `_sum` and `_count`, or a summary's quantiles with `_sum` and `_count`.
fn sample(family: Family, metric: &Accumulate, labels: Labels, value: &Value) -> Family {
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

#[cfg(test)]
mod tests;
