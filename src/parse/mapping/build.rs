//! Building families from mapped records: names from templates, and the per-apply state
//! ([`Builder`]) that collects samples into families and keeps the per-row caches.

use foldhash::HashMap;

use super::{Made, Mapping};
use crate::family::{
    le_label, name_part, Family, LabelSet, MetricKind, PerLabelSet, Sample, Suffix,
};
use crate::parse::trace::{Step, Trace};
use crate::parse::Issue;
use crate::parse::Unmatched;

/// `labels` plus one more pair.
pub(super) fn with_label(labels: &[(String, String)], name: &str, value: &str) -> LabelSet {
    labels
        .iter()
        .cloned()
        .chain([(name.to_string(), value.to_string())])
        .collect()
}

/// Replaces `{key}` and `{capture}` in a name template; replacements become name parts.
pub(super) fn expand(template: &str, key: &str, captures: &[(String, String)]) -> String {
    if !template.contains('{') {
        return template.to_string();
    }
    let mut out = template.replace("{key}", &name_part(key));
    for (k, v) in captures {
        out = out.replace(&format!("{{{k}}}"), &name_part(v));
    }
    out
}

/// `{key}` in help text is the source's own key, as written.
/// `{key}`: the record's key; `{name}`: the metric name after the prefix.
pub(super) fn expand_help(help: &str, key: &str, name: &str) -> String {
    help.replace("{key}", key).replace("{name}", name)
}

/// Whether `template` contains `{name}`.
pub(super) fn uses_placeholder(template: &str, name: &str) -> bool {
    template.match_indices('{').any(|(i, _)| {
        template
            .get(i + 1..)
            .and_then(|rest| rest.strip_prefix(name))
            .is_some_and(|rest| rest.starts_with('}'))
    })
}

pub(super) fn with_unit(mut name: String, unit: Option<&str>) -> String {
    if let Some(unit) = unit {
        if !name.ends_with(&format!("_{unit}")) {
            name.push('_');
            name.push_str(unit);
        }
    }
    name
}

/// What an accumulating rule made of one record: a value to add into the running totals
/// of a family (by its index among the read's families), under a label set.
#[derive(Debug, Clone)]
pub struct Observation {
    pub family: usize,
    /// The rule, for how it adds ([`super::Mapping::accumulation`]).
    pub rule: usize,
    pub labels: LabelSet,
    pub value: f64,
}

/// Collects samples into families by name, in first-seen order; merges info labels.
pub(super) struct Builder {
    pub(super) families: Vec<Family>,
    pub(super) index: HashMap<String, usize>,
    /// (family, labels before the value label) -> sample, so several string fields can
    /// share one info series (`redis_instance_info{redis_version=..,os=..}`).
    pub(super) info_series: HashMap<(usize, LabelSet), usize>,
    /// Per rule: record key -> family index (see `Mapping::emit`).
    pub(super) by_rule: Vec<HashMap<String, usize>>,
    /// Per rule with a fixed name: its family.
    pub(super) fixed: Vec<Option<usize>>,
    /// Record key -> family index, for records no rule matched.
    pub(super) unmatched: HashMap<String, usize>,
    /// Per way of reshaping labels: the label set made from the row's (see `Mapping::labels`).
    pub(super) labels: Vec<PerLabelSet<LabelSet>>,
    /// Per distinct `when`: whether it holds for the row.
    pub(super) when: Vec<PerLabelSet<bool>>,
    /// Input no rule used (see [`Unmatched`]).
    pub(super) unused: Unmatched,
    /// What became of each record, for `parse --explain`; `None` when not asked.
    pub(super) trace: Option<Trace>,
    /// Summaries and histograms being assembled: (family, label set) -> its pieces, in
    /// first-seen order; written out by [`Builder::finish`].
    pub(super) parts: Vec<(usize, LabelSet, Pieces)>,
    pub(super) parts_index: HashMap<(usize, LabelSet), usize>,
    /// What accumulating rules made, in input order.
    pub(super) observed: Vec<Observation>,
    /// What `remember` rules keep across lines (see [`super::state`]).
    pub(super) state: super::state::LineState,
}

/// One series of a summary or histogram, as a rule read it.
#[derive(Debug, Clone)]
pub(super) enum Piece {
    /// The quantile, and its label value as written.
    Quantile(f64, String),
    /// The bucket's upper bound.
    Bucket(f64),
    Sum,
    Count,
}

/// What one label set of a summary or histogram has been given so far.
#[derive(Debug, Default)]
pub(super) struct Pieces {
    quantiles: Vec<(f64, String, f64)>,
    buckets: Vec<(f64, f64)>,
    sum: Option<f64>,
    count: Option<f64>,
    /// The first line that gave a piece, for messages.
    line: usize,
}

impl Builder {
    pub(super) fn new(mapping: &Mapping) -> Self {
        Builder {
            families: Vec::new(),
            index: HashMap::default(),
            info_series: HashMap::default(),
            by_rule: vec![HashMap::default(); mapping.rules.len()],
            fixed: vec![None; mapping.rules.len()],
            unmatched: HashMap::default(),
            labels: vec![PerLabelSet::default(); mapping.labels_slots],
            when: vec![PerLabelSet::default(); mapping.when_slots],
            unused: Unmatched::default(),
            trace: None,
            parts: Vec::new(),
            parts_index: HashMap::default(),
            observed: Vec::new(),
            state: super::state::LineState::default(),
        }
    }

    pub(super) fn family(&mut self, name: String, kind: MetricKind, help: &str) -> usize {
        match self.named(&name, help) {
            Some(i) => i,
            None => self.add_family(name, kind, help),
        }
    }

    /// The family of `make`'s name and help: made once and kept in `made` when the key's
    /// rules are kept across reads (then only copied into this read when new here), else
    /// made now.
    pub(super) fn family_made(
        &mut self,
        made: Option<&Made>,
        kind: MetricKind,
        make: impl FnOnce() -> (String, String),
    ) -> usize {
        let Some(made) = made else {
            let (name, help) = make();
            return self.family(name, kind, &help);
        };
        let (name, help) = made.get_or_init(make);
        match self.named(name, help) {
            Some(i) => i,
            None => self.add_family(name.clone(), kind, help),
        }
    }

    /// The family called `name`, if this read has it (given `help` if it had none).
    fn named(&mut self, name: &str, help: &str) -> Option<usize> {
        let i = *self.index.get(name)?;
        if self.families[i].help.is_empty() && !help.is_empty() {
            self.families[i].help = help.to_string();
        }
        Some(i)
    }

    fn add_family(&mut self, name: String, kind: MetricKind, help: &str) -> usize {
        self.families.push(Family::new(name.clone(), kind, help));
        self.index.insert(name, self.families.len() - 1);
        self.families.len() - 1
    }

    pub(super) fn family_name(&self, family: usize) -> &str {
        self.families.get(family).map_or("", |f| f.name.as_str())
    }

    /// The family `rule` made for `key` before: one per rule with a fixed name, else one
    /// per key when the record brings nothing of its own (see `Mapping::emit`).
    pub(super) fn cached_family(
        &self,
        rule: usize,
        fixed: bool,
        cacheable: bool,
        key: &str,
    ) -> Option<usize> {
        if fixed {
            self.fixed.get(rule).copied().flatten()
        } else if cacheable {
            self.by_rule.get(rule).and_then(|m| m.get(key)).copied()
        } else {
            None
        }
    }

    pub(super) fn cache_family(
        &mut self,
        rule: usize,
        fixed: bool,
        cacheable: bool,
        key: &str,
        family: usize,
    ) {
        if fixed {
            if let Some(slot) = self.fixed.get_mut(rule) {
                *slot = Some(family);
            }
        } else if cacheable {
            if let Some(m) = self.by_rule.get_mut(rule) {
                m.insert(key.to_string(), family);
            }
        }
    }

    /// Records a step for `parse --explain`; `make` runs only when it is asked for.
    /// Whether `parse --explain` is recording (what only it shows may be skipped).
    pub(super) fn tracing(&self) -> bool {
        self.trace.is_some()
    }

    pub(super) fn step(&mut self, make: impl FnOnce() -> Step) {
        if let Some(t) = &mut self.trace {
            t.step(make());
        }
    }

    fn trace_series(&mut self, family: usize, labels: &LabelSet, value: f64) {
        if let (Some(t), Some(f)) = (&mut self.trace, self.families.get(family)) {
            t.step(Step::Series {
                name: f.name.clone(),
                kind: f.kind,
                labels: labels.clone(),
                value,
            });
        }
    }

    /// What an accumulating rule made of a record (see [`Observation`]).
    pub(super) fn observe(
        &mut self,
        family: usize,
        rule: usize,
        labels: LabelSet,
        value: f64,
        verb: super::accumulate::Verb,
    ) {
        if let (Some(t), Some(f)) = (&mut self.trace, self.families.get(family)) {
            t.step(Step::Added {
                name: f.name.clone(),
                kind: f.kind,
                labels: labels.clone(),
                value,
                verb,
            });
        }
        self.observed.push(Observation {
            family,
            rule,
            labels,
            value,
        });
    }

    pub(super) fn push(&mut self, family: usize, labels: LabelSet, value: f64) {
        self.trace_series(family, &labels, value);
        self.families[family]
            .samples
            .push(Sample::new(labels, value));
    }

    /// A sample of a family the source declared a summary or histogram (the `prometheus`
    /// format passes them through whole).
    pub(super) fn push_suffixed(
        &mut self,
        family: usize,
        labels: LabelSet,
        suffix: Suffix,
        value: f64,
    ) {
        if let (Some(t), Some(f)) = (&mut self.trace, self.families.get(family)) {
            t.step(Step::Series {
                name: format!("{}{}", f.name, suffix.as_str()),
                kind: f.kind,
                labels: labels.clone(),
                value,
            });
        }
        if let Some(f) = self.families.get_mut(family) {
            f.samples.push(Sample {
                suffix,
                ..Sample::new(labels, value)
            });
        }
    }

    /// Keeps one piece of a summary or histogram for [`Builder::finish`]. The same piece
    /// twice for one label set is an issue (the input repeats itself), the first is kept.
    pub(super) fn push_piece(
        &mut self,
        family: usize,
        labels: LabelSet,
        piece: Piece,
        value: f64,
        line: usize,
        issues: &mut Vec<Issue>,
    ) {
        if let (Some(t), Some(f)) = (&mut self.trace, self.families.get(family)) {
            let (suffix, shown) = match &piece {
                Piece::Quantile(_, q) => ("", with_label(&labels, "quantile", q)),
                Piece::Bucket(b) => ("_bucket", with_label(&labels, "le", &le_label(*b))),
                Piece::Sum => ("_sum", labels.clone()),
                Piece::Count => ("_count", labels.clone()),
            };
            t.step(Step::Series {
                name: format!("{}{suffix}", f.name),
                kind: f.kind,
                labels: shown,
                value,
            });
        }
        let i = match self.parts_index.get(&(family, labels.clone())) {
            Some(&i) => i,
            None => {
                self.parts.push((
                    family,
                    labels.clone(),
                    Pieces {
                        line,
                        ..Pieces::default()
                    },
                ));
                self.parts_index
                    .insert((family, labels), self.parts.len() - 1);
                self.parts.len() - 1
            }
        };
        let Some((_, _, p)) = self.parts.get_mut(i) else {
            return;
        };
        let repeated = match piece {
            Piece::Quantile(q, text) => {
                let seen = p.quantiles.iter().any(|(x, _, _)| *x == q);
                if !seen {
                    p.quantiles.push((q, text, value));
                }
                seen
            }
            Piece::Bucket(b) => {
                let seen = p.buckets.iter().any(|(x, _)| *x == b);
                if !seen {
                    p.buckets.push((b, value));
                }
                seen
            }
            Piece::Sum => p.sum.is_some() || p.sum.replace(value).is_some(),
            Piece::Count => p.count.is_some() || p.count.replace(value).is_some(),
        };
        if repeated {
            issues.push(Issue::new(
                line,
                "the same summary or histogram series twice; the first is kept",
            ));
        }
    }

    /// Writes the summaries and histograms out, each label set's series in the order the
    /// formats require: quantiles (or buckets, ascending, the last `+Inf`), `_sum`,
    /// `_count`. A label set with no quantile (no bucket) is not written: its sum and
    /// count alone say what counters would.
    pub(super) fn finish(&mut self, issues: &mut Vec<Issue>) {
        for (family, labels, mut p) in std::mem::take(&mut self.parts) {
            let Some(f) = self.families.get_mut(family) else {
                continue;
            };
            let mut samples = Vec::new();
            let name = f.name.clone();
            if f.kind == MetricKind::Histogram {
                if p.buckets.is_empty() {
                    continue;
                }
                p.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
                if p.buckets.last().is_some_and(|(b, _)| *b != f64::INFINITY) {
                    if let Some(c) = p.count {
                        p.buckets.push((f64::INFINITY, c));
                    }
                }
                let why = if p
                    .buckets
                    .windows(2)
                    .any(|w| matches!(w, [a, b] if b.1 < a.1))
                {
                    Some("bucket counts go down, they must be cumulative")
                } else if p.buckets.last().is_some_and(|(b, _)| *b != f64::INFINITY) {
                    Some("no +Inf bucket and no count")
                } else {
                    None
                };
                if let Some(why) = why {
                    let shown: Vec<String> =
                        labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                    issues.push(Issue::new(
                        p.line,
                        format!(
                            "histogram {name}{{{}}}: {why}; not written",
                            shown.join(",")
                        ),
                    ));
                    continue;
                }
                let inf = p.buckets.last().map_or(0.0, |(_, v)| *v);
                for (b, v) in &p.buckets {
                    samples.push(Sample {
                        suffix: Suffix::Bucket,
                        ..Sample::new(with_label(&labels, "le", &le_label(*b)), *v)
                    });
                }
                p.count = Some(p.count.unwrap_or(inf));
            } else {
                if p.quantiles.is_empty() {
                    continue;
                }
                p.quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
                for (_, q, v) in &p.quantiles {
                    samples.push(Sample::new(with_label(&labels, "quantile", q), *v));
                }
            }
            for (suffix, v) in [(Suffix::Sum, p.sum), (Suffix::Count, p.count)] {
                if let Some(v) = v {
                    samples.push(Sample {
                        suffix,
                        ..Sample::new(labels.clone(), v)
                    });
                }
            }
            f.samples.extend(samples);
        }
    }

    pub(super) fn push_info(
        &mut self,
        family: usize,
        labels: &LabelSet,
        value_label: (String, String),
    ) {
        if self.trace.is_some() {
            let one: LabelSet = labels.iter().chain([&value_label]).cloned().collect();
            self.trace_series(family, &one, 1.0);
        }
        let samples = &mut self.families[family].samples;
        match self.info_series.get(&(family, labels.clone())) {
            Some(&s) => {
                let mut all = samples[s].labels.to_vec();
                all.push(value_label);
                samples[s].labels = all.into();
            }
            None => {
                let mut all = labels.to_vec();
                all.push(value_label);
                self.info_series
                    .insert((family, labels.clone()), samples.len());
                samples.push(Sample::new(all, 1.0));
            }
        }
    }
}
