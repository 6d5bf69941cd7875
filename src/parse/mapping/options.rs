//! A recipe's `[mapping]` table as written: checked by serde (unknown keys are errors),
//! then compiled by [`super::Mapping::new`]. Each key has one meaning across the recipe
//! language (see `RENAMED` in `parse::recipe` for the names it replaced).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Prepended to every name (`node_memory_`).
    pub prefix: String,
    /// Labels put on every sample; a label of the same name found in the data is replaced.
    pub labels: BTreeMap<String, String>,
    /// Only records whose key fully matches one of these regexes (empty: all).
    pub include_keys: Vec<String>,
    /// Records whose key fully matches one of these are dropped.
    pub exclude_keys: Vec<String>,
    /// Units written in the source (`kB`) and how to convert them.
    pub units: BTreeMap<String, UnitOptions>,
    /// Kind for records no rule matches (`gauge`, `counter`, `untyped`), or `drop`; default
    /// `gauge`, and `drop` for a mapping whose rules accumulate.
    pub unmatched: Option<String>,
    /// Help for records no rule matches.
    pub unmatched_help: String,
    /// Keys every read must hold; a read without one of them makes the source down.
    pub required: Vec<String>,
    #[serde(rename = "metric")]
    pub rules: Vec<RuleOptions>,
    /// Rules that share settings, tried after the `metric` rules, in order.
    #[serde(rename = "group")]
    pub groups: Vec<GroupOptions>,
    /// `[mapping.defaults]`: what an accumulating rule that observes uses unless it says.
    pub defaults: DefaultsOptions,
    /// `[mapping.state]`: the bounds of what `remember` keeps across lines.
    pub state: super::state::StateOptions,
}

/// `[mapping.defaults]`, in the manner of statsd_exporter's `defaults`: the buckets, the
/// quantiles and the window of every rule with `accumulate = "observe"` that gives none.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefaultsOptions {
    pub buckets: Vec<f64>,
    pub quantiles: Vec<f64>,
    pub window: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitOptions {
    #[serde(default = "one")]
    pub scale: f64,
    /// Base unit appended to the name (`bytes`).
    pub unit: Option<String>,
}

fn one() -> f64 {
    1.0
}

/// `[[mapping.group]]`: settings its rules share (a rule's own setting wins; `when`,
/// `labels` and the label edits add up), and the rules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupOptions {
    #[serde(default)]
    pub when: BTreeMap<String, String>,
    pub prefix: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub rename_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub drop_labels: Vec<String>,
    #[serde(default, rename = "metric")]
    pub rules: Vec<RuleOptions>,
}

impl GroupOptions {
    /// The group's settings put into one of its rules.
    pub(super) fn apply_to(&self, mut r: RuleOptions) -> RuleOptions {
        for (k, v) in &self.when {
            r.when.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &self.labels {
            r.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &self.rename_labels {
            r.rename_labels
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        for l in &self.drop_labels {
            if !r.drop_labels.contains(l) {
                r.drop_labels.push(l.clone());
            }
        }
        if r.prefix.is_none() {
            r.prefix.clone_from(&self.prefix);
        }
        // A group's type does not apply to its `drop` rules, which make nothing.
        if r.kind.is_none() && !r.drop {
            r.kind.clone_from(&self.kind);
        }
        r
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOptions {
    /// Exact record key.
    pub key: Option<String>,
    /// Only records whose labels fully match these regexes: `{ svname = "FRONTEND" }`.
    /// A label the record lacks counts as the empty string.
    #[serde(default)]
    pub when: BTreeMap<String, String>,
    /// Several exact keys, each with its own name template: `{ scur = "current_sessions" }`.
    pub names: Option<BTreeMap<String, String>>,
    /// Regex that must match the whole key; named captures become labels unless the name
    /// template uses them.
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    /// Name after the prefix; `{key}` and `{capture}` are replaced. Default: the key.
    pub name: Option<String>,
    /// Replaces the mapping's prefix for this rule (`""` for none).
    pub prefix: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub help: String,
    /// Base unit appended to the name unless it already ends with it (`seconds`).
    pub unit: Option<String>,
    /// Multiplier (`1e-6` for microseconds to seconds).
    pub scale: Option<f64>,
    /// Static labels; a label of the same name found in the data is replaced.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Words that stand for numbers (`UP = 1`).
    #[serde(default)]
    pub words: BTreeMap<String, f64>,
    /// `words` and `states` match the value whatever its case (`warm`, `WARM`).
    #[serde(default)]
    pub ignore_case: bool,
    /// Info: label carrying the value (default: the key). State set: the state label
    /// (default: the family name). `chars`: the label naming each character's state.
    pub label: Option<String>,
    /// State set: every state the value can take. A value with a qualifier after a space
    /// or `(` (`UP 1/2`, `MAINT(via)`) counts as its base state.
    #[serde(default)]
    pub states: Vec<String>,
    /// Count characters of the value, one series per character, labelled `label` (default
    /// `state`) with the name given here: `{ "_" = "idle", "W" = "reply" }` (Apache's scoreboard).
    #[serde(default)]
    pub chars: BTreeMap<String, String>,
    /// How to read the value: `number` (default) or `date` (seconds since the epoch, from
    /// `date` in the C locale, `date -R` or RFC 3339; see `parse::date` for the zones).
    pub value_format: Option<String>,
    /// Renames labels found in the data: `{ pxname = "backend" }`.
    #[serde(default)]
    pub rename_labels: BTreeMap<String, String>,
    /// Removes labels found in the data.
    #[serde(default)]
    pub drop_labels: Vec<String>,
    /// Drop what this rule matches.
    #[serde(default)]
    pub drop: bool,
    /// Keep trying later rules after this one.
    #[serde(default, rename = "continue")]
    pub keep_going: bool,
    /// A value that is not a number: `error` (count it, the default) or `skip` quietly.
    pub non_numeric: Option<String>,
    /// Summary or histogram: which of its series the records are: `quantile` (a summary's
    /// default), `bucket` (a histogram's), `sum` or `count`.
    pub part: Option<String>,
    /// Summary: the quantile of the rule's records, unless a capture `quantile` or
    /// `percentile` gives it.
    pub quantile: Option<f64>,
    /// Histogram: the bucket's upper bound (`inf` for the last), unless a capture `le`
    /// gives it.
    pub le: Option<f64>,
    /// For records that are events (the lines of a log): how each adds into the running
    /// totals instead of being a sample: `count` (1 per record), `sum` (the value),
    /// `observe` (into a histogram or summary), `set` (a gauge's last value).
    pub accumulate: Option<String>,
    /// `observe` into a histogram: upper bounds, ascending (`+Inf` is implied).
    #[serde(default)]
    pub buckets: Vec<f64>,
    /// `observe` into a summary: the quantiles it shows.
    #[serde(default)]
    pub quantiles: Vec<f64>,
    /// `observe` into a summary: quantiles are over the last this many observations.
    pub window: Option<usize>,
    /// Label values mapped to words: `{ direction = { i = "incoming", o = "outgoing" } }`.
    #[serde(default)]
    pub map_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Labels whose value is put in `lower` or `upper` case.
    #[serde(default)]
    pub label_case: BTreeMap<String, String>,
    /// The value computed from the record's own (`value`) and its labels: `"a - b"`.
    pub value: Option<String>,
    /// Labels `value` reads as timestamps, by layout: `{ time = "%Y/%m/%d %H:%M:%S" }`.
    #[serde(default)]
    pub date_labels: BTreeMap<String, String>,
    /// Keep labels of this record for a later one of the same key.
    pub remember: Option<RememberOptions>,
    /// Add the labels an earlier record kept for this one's key.
    pub recall: Option<RecallOptions>,
}

impl RuleOptions {
    /// The keys given that shape a value (as written), for the check that each applies to
    /// the rule's type.
    pub(super) fn value_keys(&self) -> Vec<&'static str> {
        let given = [
            ("unit", self.unit.is_some()),
            ("scale", self.scale.is_some()),
            ("words", !self.words.is_empty()),
            ("ignore_case", self.ignore_case),
            ("label", self.label.is_some()),
            ("states", !self.states.is_empty()),
            ("chars", !self.chars.is_empty()),
            ("value_format", self.value_format.is_some()),
            ("non_numeric", self.non_numeric.is_some()),
            ("part", self.part.is_some()),
            ("quantile", self.quantile.is_some()),
            ("le", self.le.is_some()),
            ("buckets", !self.buckets.is_empty()),
            ("quantiles", !self.quantiles.is_empty()),
            ("window", self.window.is_some()),
        ];
        given.iter().filter(|(_, g)| *g).map(|(k, _)| *k).collect()
    }

    /// The keys given that say what a rule makes (a `drop` rule makes nothing).
    pub(super) fn making_keys(&self) -> Vec<&'static str> {
        let given = [
            ("name", self.name.is_some()),
            ("prefix", self.prefix.is_some()),
            ("type", self.kind.is_some()),
            ("help", !self.help.is_empty()),
            ("labels", !self.labels.is_empty()),
            ("rename_labels", !self.rename_labels.is_empty()),
            ("drop_labels", !self.drop_labels.is_empty()),
            ("continue", self.keep_going),
            ("accumulate", self.accumulate.is_some()),
            ("map_labels", !self.map_labels.is_empty()),
            ("label_case", !self.label_case.is_empty()),
            ("value", self.value.is_some()),
            ("date_labels", !self.date_labels.is_empty()),
            ("recall", self.recall.is_some()),
        ];
        let mut keys: Vec<_> = given.iter().filter(|(_, g)| *g).map(|(k, _)| *k).collect();
        keys.extend(self.value_keys());
        keys
    }
}

/// `remember = { by, labels }`: what a line keeps for a later one (see `derive`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RememberOptions {
    /// The label whose value is the key (`pid`).
    pub by: String,
    /// What to keep: the name it is recalled under = the record's label.
    pub labels: BTreeMap<String, String>,
}

/// `recall = { by, forget }`: a later line takes what an earlier one kept.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallOptions {
    /// The label whose value is the key (`pid`).
    pub by: String,
    /// Forget the key once recalled (a session's last line).
    #[serde(default)]
    pub forget: bool,
}
