//! Building families from mapped records: names from templates, and the per-apply state
//! ([`Builder`]) that collects samples into families and keeps the per-row caches.

use foldhash::HashMap;

use super::Mapping;
use crate::family::{name_part, Family, LabelSet, MetricKind, PerLabelSet, Sample};
use crate::parse::explain::{Step, Trace};
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
        }
    }

    pub(super) fn family(&mut self, name: String, kind: MetricKind, help: &str) -> usize {
        if let Some(&i) = self.index.get(&name) {
            if self.families[i].help.is_empty() && !help.is_empty() {
                self.families[i].help = help.to_string();
            }
            return i;
        }
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

    pub(super) fn push(&mut self, family: usize, labels: LabelSet, value: f64) {
        self.trace_series(family, &labels, value);
        self.families[family]
            .samples
            .push(Sample::new(labels, value));
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
