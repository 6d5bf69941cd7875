//! Relabeling (`[[sources.NAME.relabel]]`): Prometheus' `metric_relabel_configs`, with its
//! key names and semantics, run on each series a source's mapping made: its name as
//! `__name__` and its labels. Rules run in order; a series can be rewritten, renamed
//! (`target_label = "__name__"`) or dropped.
//!
//! For a followed log it runs on each event before it is added into the running totals
//! (see [`crate::parse::totals`]): that is what bounds a log's label sets (`/users/123` →
//! `/users/:id`) — after counting, every raw value would already be a series.
//!
//! What differs from Prometheus, and why: `hashmod` is refused (it shards targets between
//! Prometheus servers; one sidecar's series have nothing to shard); labels starting with
//! `__` are removed after the last rule (Prometheus keeps them after metric relabeling, but
//! a page cannot carry them), so `__tmp_x` can carry a value between rules; a histogram's `le` and a summary's `quantile` are not seen by the
//! rules (they place a sample in its series: dropping one would break the histogram), and
//! `__name__` is the family's name as the page shows it (`x_total` for a counter, the base
//! name for a histogram or summary); `labeldrop`/`labelkeep` never remove the name (in
//! Prometheus a `labelkeep` without `__name__` loses every series).

use std::sync::Arc;

use foldhash::HashMap;
use regex::Regex;
use serde::Deserialize;

use crate::family::{
    is_valid_label_name, is_valid_metric_name, Family, LabelSet, Labels, MetricKind, PerLabelSet,
    Sample, Suffix,
};
use crate::parse::mapping::Observation;

/// One `[[sources.NAME.relabel]]` table, as written (Prometheus' `<relabel_config>`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    #[serde(default)]
    pub source_labels: Vec<String>,
    pub separator: Option<String>,
    pub regex: Option<String>,
    pub target_label: Option<String>,
    pub replacement: Option<String>,
    pub action: Option<String>,
    /// Only for `hashmod`, which is refused with its reason rather than as an unknown key.
    pub modulus: Option<u64>,
}

/// What is wrong with rule `index` (0-based), and which of its keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct RuleError {
    pub index: usize,
    pub key: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    Lowercase,
    Uppercase,
    LabelMap,
    LabelDrop,
    LabelKeep,
}

const ACTIONS: &str =
    "replace, keep, drop, keepequal, dropequal, lowercase, uppercase, labelmap, labeldrop, labelkeep";

#[derive(Debug)]
struct Rule {
    source_labels: Vec<String>,
    separator: String,
    /// Anchored at both ends, as Prometheus anchors it.
    regex: Regex,
    /// The default `(.*)`: the fast path of `replace` (set a label without matching).
    default_regex: bool,
    target_label: String,
    replacement: String,
    action: Action,
}

/// A source's relabeling rules, compiled.
#[derive(Debug)]
pub struct Relabel {
    rules: Vec<Rule>,
}

/// What relabeling made of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Dropped (by `keep`, `drop`, `keepequal`, `dropequal`), or left without a usable name.
    Drop,
    /// Its name (as stored: a counter's without `_total`) and labels.
    Series(String, Labels),
}

/// Why a series was dropped other than by a rule: its name was made unusable.
pub const BAD_NAME: &str = "relabeling made a name that is not a metric name";

impl Relabel {
    /// Compiles the rules, checking each as Prometheus does when it loads its config.
    pub fn new(raw: &[RawRule]) -> Result<Relabel, RuleError> {
        let rules = raw
            .iter()
            .enumerate()
            .map(|(i, r)| compile(i, r))
            .collect::<Result<_, _>>()?;
        Ok(Relabel { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules in short, for `check`: `[replace status -> status, drop path]`.
    fn describe(&self) -> String {
        let rules: Vec<String> = (self.rules.iter())
            .map(|r| {
                let mut s = name_of(r.action).to_string();
                if !r.source_labels.is_empty() {
                    s.push(' ');
                    s.push_str(&r.source_labels.join(","));
                }
                if !r.target_label.is_empty() {
                    s.push_str(" -> ");
                    s.push_str(&r.target_label);
                }
                s
            })
            .collect();
        format!("[{}]", rules.join(", "))
    }

    /// Relabels one series: family `name` of `kind` (as stored), and its labels.
    pub fn series(&self, name: &str, kind: MetricKind, labels: &[(String, String)]) -> Outcome {
        let mut lb: Labels = Vec::with_capacity(labels.len() + 1);
        lb.push(("__name__".into(), shown_name(name, kind)));
        lb.extend(labels.iter().cloned());
        for rule in &self.rules {
            if !rule.apply(&mut lb) {
                return Outcome::Drop;
            }
        }
        let Some(at) = lb.iter().position(|(k, _)| k == "__name__") else {
            return Outcome::Drop;
        };
        let (_, new_name) = lb.remove(at);
        lb.retain(|(k, _)| !k.starts_with("__"));
        if !is_valid_metric_name(&new_name) {
            return Outcome::Drop;
        }
        // Not renamed: the name as it was (`x_total` or `x`, the families' own business).
        if new_name == shown_name(name, kind) {
            return Outcome::Series(name.to_string(), lb);
        }
        Outcome::Series(stored_name(&new_name, kind).to_string(), lb)
    }

    /// Relabels every series of a read's families. A series renamed goes to the family of
    /// its new name (made with the old one's kind and help when there is none). Returns the
    /// families and how many series were dropped because their new name was unusable.
    pub fn families(&self, families: Vec<Family>) -> (Vec<Family>, u64) {
        let mut out: Vec<Family> = Vec::with_capacity(families.len());
        let mut index: HashMap<String, usize> = HashMap::default();
        let mut bad_names = 0;
        for family in families {
            let (name, kind, help) = (family.name, family.kind, family.help);
            let mut place = |new_name: String, out: &mut Vec<Family>| {
                *index.entry(new_name).or_insert_with_key(|n| {
                    out.push(Family::new(n.clone(), kind, help.clone()));
                    out.len() - 1
                })
            };
            // Samples of a row share their label set: relabeled once per set, and the
            // new set shared again (an unchanged one is the same set).
            let mut memo: PerLabelSet<Option<(usize, LabelSet)>> = PerLabelSet::default();
            for sample in family.samples {
                let done = match split_part(kind, &sample) {
                    None => memo.get_or_insert_with(&sample.labels, || {
                        match self.series(&name, kind, &sample.labels) {
                            Outcome::Series(new_name, labels) => {
                                let set = if *labels == *sample.labels {
                                    sample.labels.clone()
                                } else {
                                    LabelSet::from(labels)
                                };
                                Some((place(new_name, &mut out), set))
                            }
                            Outcome::Drop => {
                                bad_names +=
                                    u64::from(self.name_was_why(&name, kind, &sample.labels));
                                None
                            }
                        }
                    }),
                    Some((rest, part)) => match self.series(&name, kind, &rest) {
                        Outcome::Series(new_name, mut labels) => {
                            labels.push(part);
                            Some((place(new_name, &mut out), LabelSet::from(labels)))
                        }
                        Outcome::Drop => {
                            bad_names += u64::from(self.name_was_why(&name, kind, &rest));
                            None
                        }
                    },
                };
                let Some((i, labels)) = done else {
                    continue;
                };
                if let Some(f) = out.get_mut(i) {
                    f.samples.push(Sample {
                        labels,
                        value: sample.value,
                        suffix: sample.suffix,
                    });
                }
            }
        }
        (out, bad_names)
    }

    /// Relabels a batch of a followed log's events (`observed`, of the read's `families` by
    /// index), before they are counted: the events kept, pointing into the families returned
    /// (the read's, then one per new name). An event whose labels are unchanged keeps its
    /// label set, so the totals still find it by pointer.
    pub fn events(
        &self,
        families: &[Family],
        observed: &[Observation],
    ) -> (Vec<Family>, Vec<Observation>) {
        let mut out: Vec<Family> = (families.iter())
            .map(|f| Family::new(f.name.clone(), f.kind, f.help.clone()))
            .collect();
        let mut kept = Vec::with_capacity(observed.len());
        // A line format hands out one label set per distinct labels: relabeled once each.
        // The set is held, so its address is not reused within the batch.
        type Done = (LabelSet, Option<(usize, LabelSet)>);
        let mut memo: HashMap<(usize, usize), Done> = HashMap::default();
        for o in observed {
            let Some(family) = families.get(o.family) else {
                continue;
            };
            let key = (o.family, Arc::as_ptr(&o.labels).cast::<u8>() as usize);
            let done = memo.entry(key).or_insert_with(|| {
                let to = match self.series(&family.name, family.kind, &o.labels) {
                    Outcome::Drop => None,
                    Outcome::Series(name, labels) => {
                        let i = match out.iter().position(|f| f.name == name) {
                            Some(i) => i,
                            None => {
                                out.push(Family::new(name, family.kind, family.help.clone()));
                                out.len() - 1
                            }
                        };
                        let set = if *labels == *o.labels {
                            o.labels.clone()
                        } else {
                            LabelSet::from(labels)
                        };
                        Some((i, set))
                    }
                };
                (o.labels.clone(), to)
            });
            if let Some((family, labels)) = &done.1 {
                kept.push(Observation {
                    family: *family,
                    rule: o.rule,
                    labels: labels.clone(),
                    value: o.value,
                });
            }
        }
        (out, kept)
    }

    /// Whether a dropped series was dropped for its name rather than by a keep/drop rule:
    /// the rules run again without the name check (only on the rare dropped series).
    fn name_was_why(&self, name: &str, kind: MetricKind, labels: &[(String, String)]) -> bool {
        let mut lb: Labels = vec![("__name__".into(), shown_name(name, kind))];
        lb.extend(labels.iter().cloned());
        self.rules.iter().all(|r| r.apply(&mut lb))
    }
}

/// A source's rules in short, for `check`, or `unset` when it has none.
pub fn describe(rules: Option<&Relabel>, unset: &str) -> String {
    rules.map_or_else(|| unset.to_string(), Relabel::describe)
}

/// A histogram bucket's `le` or a summary quantile's `quantile`, kept out of the rules: the
/// sample's other labels and that one. `None` for every other sample.
fn split_part(kind: MetricKind, sample: &Sample) -> Option<(Labels, (String, String))> {
    let part = match (kind, sample.suffix) {
        (MetricKind::Histogram, Suffix::Bucket) => "le",
        (MetricKind::Summary, Suffix::None) => "quantile",
        _ => return None,
    };
    let mut rest = sample.labels.to_vec();
    let at = rest.iter().position(|(k, _)| k == part)?;
    let part = rest.remove(at);
    Some((rest, part))
}

/// The name as the page shows it: what a user sees and writes a rule for.
fn shown_name(name: &str, kind: MetricKind) -> String {
    let suffix = match kind {
        MetricKind::Counter => "_total",
        MetricKind::Info => "_info",
        _ => return name.to_string(),
    };
    if name.ends_with(suffix) {
        name.to_string()
    } else {
        format!("{name}{suffix}")
    }
}

/// The name as families hold it: the exposition adds a counter's `_total` again.
fn stored_name(name: &str, kind: MetricKind) -> &str {
    match kind {
        MetricKind::Counter => name.strip_suffix("_total").unwrap_or(name),
        MetricKind::Info => name.strip_suffix("_info").unwrap_or(name),
        _ => name,
    }
}

fn get<'l>(lb: &'l Labels, name: &str) -> &'l str {
    lb.iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Sets a label; an empty value removes it (as in Prometheus: an empty label is no label).
fn set(lb: &mut Labels, name: &str, value: String) {
    if value.is_empty() {
        lb.retain(|(k, _)| k != name);
        return;
    }
    match lb.iter_mut().find(|(k, _)| k == name) {
        Some((_, v)) => *v = value,
        None => lb.push((name.to_string(), value)),
    }
}

/// A name a label may have here: a valid label name, or one of the `__` names rules use.
fn settable(name: &str) -> bool {
    is_valid_label_name(name)
        || (name.starts_with("__") && is_valid_label_name(name.trim_start_matches('_')))
        || name == "__name__"
}

impl Rule {
    /// Applies the rule; `false` drops the series.
    fn apply(&self, lb: &mut Labels) -> bool {
        let value = || {
            let values: Vec<&str> = self.source_labels.iter().map(|l| get(lb, l)).collect();
            values.join(&self.separator)
        };
        match self.action {
            Action::Keep => return self.regex.is_match(&value()),
            Action::Drop => return !self.regex.is_match(&value()),
            Action::KeepEqual => return get(lb, &self.target_label) == value(),
            Action::DropEqual => return get(lb, &self.target_label) != value(),
            Action::Lowercase => {
                let v = value().to_lowercase();
                set(lb, &self.target_label, v);
            }
            Action::Uppercase => {
                let v = value().to_uppercase();
                set(lb, &self.target_label, v);
            }
            Action::Replace => {
                let v = value();
                if v.is_empty()
                    && self.default_regex
                    && !self.target_label.contains('$')
                    && !self.replacement.contains('$')
                {
                    set(lb, &self.target_label, self.replacement.clone());
                    return true;
                }
                let Some(caps) = self.regex.captures(&v) else {
                    return true;
                };
                let mut target = String::new();
                caps.expand(&self.target_label, &mut target);
                if !settable(&target) {
                    return true;
                }
                let mut res = String::new();
                caps.expand(&self.replacement, &mut res);
                set(lb, &target, res);
            }
            Action::LabelMap => {
                let mut add = Vec::new();
                for (k, v) in lb.iter() {
                    if let Some(caps) = self.regex.captures(k) {
                        let mut name = String::new();
                        caps.expand(&self.replacement, &mut name);
                        if settable(&name) {
                            add.push((name, v.clone()));
                        }
                    }
                }
                for (k, v) in add {
                    set(lb, &k, v);
                }
            }
            Action::LabelDrop => lb.retain(|(k, _)| k == "__name__" || !self.regex.is_match(k)),
            Action::LabelKeep => lb.retain(|(k, _)| k == "__name__" || self.regex.is_match(k)),
        }
        true
    }
}

fn compile(index: usize, raw: &RawRule) -> Result<Rule, RuleError> {
    let err = |key: &'static str, reason: String| RuleError { index, key, reason };
    let action = match raw.action.as_deref().unwrap_or("replace") {
        "replace" => Action::Replace,
        "keep" => Action::Keep,
        "drop" => Action::Drop,
        "keepequal" => Action::KeepEqual,
        "dropequal" => Action::DropEqual,
        "lowercase" => Action::Lowercase,
        "uppercase" => Action::Uppercase,
        "labelmap" => Action::LabelMap,
        "labeldrop" => Action::LabelDrop,
        "labelkeep" => Action::LabelKeep,
        "hashmod" => {
            return Err(err(
                "action",
                "hashmod is not supported: it shards targets between Prometheus servers, and \
                 one sidecar's series have nothing to shard"
                    .into(),
            ))
        }
        other => {
            return Err(err(
                "action",
                format!("unknown action {other:?}; one of {ACTIONS}"),
            ))
        }
    };
    if raw.modulus.is_some() {
        return Err(err(
            "modulus",
            "only for action hashmod, which is not supported".into(),
        ));
    }
    let pattern = raw.regex.as_deref().unwrap_or("(.*)");
    let regex = Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| err("regex", crate::text::without_quoted_lines(&e.to_string())))?;
    let target_label = raw.target_label.clone().unwrap_or_default();
    let replacement = raw.replacement.clone().unwrap_or_else(|| "$1".into());
    let needs_target = matches!(
        action,
        Action::Replace
            | Action::KeepEqual
            | Action::DropEqual
            | Action::Lowercase
            | Action::Uppercase
    );
    if needs_target && target_label.is_empty() {
        return Err(err(
            "target_label",
            format!(
                "missing: action {} writes or compares a label",
                name_of(action)
            ),
        ));
    }
    // A target without `$` is a fixed name: checked here, not found wrong at each series.
    if needs_target && !target_label.contains('$') && !settable(&target_label) {
        return Err(err(
            "target_label",
            format!("{target_label:?} is not a valid label name"),
        ));
    }
    let label_actions = matches!(
        action,
        Action::LabelMap | Action::LabelDrop | Action::LabelKeep
    );
    if label_actions && (!raw.source_labels.is_empty() || raw.target_label.is_some()) {
        return Err(err(
            if raw.source_labels.is_empty() {
                "target_label"
            } else {
                "source_labels"
            },
            format!(
                "action {} matches label names; source_labels and target_label do not apply",
                name_of(action)
            ),
        ));
    }
    if matches!(
        action,
        Action::Keep | Action::Drop | Action::KeepEqual | Action::DropEqual
    ) && raw.source_labels.is_empty()
    {
        return Err(err(
            "source_labels",
            format!(
                "missing: action {} needs the labels to match",
                name_of(action)
            ),
        ));
    }
    for l in &raw.source_labels {
        if !settable(l) {
            return Err(err(
                "source_labels",
                format!("{l:?} is not a valid label name"),
            ));
        }
    }
    Ok(Rule {
        source_labels: raw.source_labels.clone(),
        separator: raw.separator.clone().unwrap_or_else(|| ";".into()),
        default_regex: pattern == "(.*)",
        regex,
        target_label,
        replacement,
        action,
    })
}

fn name_of(a: Action) -> &'static str {
    match a {
        Action::Replace => "replace",
        Action::Keep => "keep",
        Action::Drop => "drop",
        Action::KeepEqual => "keepequal",
        Action::DropEqual => "dropequal",
        Action::Lowercase => "lowercase",
        Action::Uppercase => "uppercase",
        Action::LabelMap => "labelmap",
        Action::LabelDrop => "labeldrop",
        Action::LabelKeep => "labelkeep",
    }
}

#[cfg(test)]
mod tests;
