//! A recipe's `[mapping]` table as written: checked by serde (unknown keys are errors),
//! then compiled by [`super::Mapping::new`].

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Prepended to every name (`node_memory_`).
    pub prefix: String,
    /// Labels put on every sample.
    pub labels: BTreeMap<String, String>,
    /// Only records whose key fully matches one of these regexes (empty: all).
    pub include: Vec<String>,
    /// Records whose key fully matches one of these are dropped.
    pub exclude: Vec<String>,
    /// Units written in the source (`kB`) and how to convert them.
    pub units: BTreeMap<String, UnitOptions>,
    /// Kind for records no rule matches (`gauge`, `counter`, `untyped`), or `drop`.
    pub unmatched: String,
    /// Help for records no rule matches.
    pub unmatched_help: String,
    /// Keys every read must hold; a read without one of them makes the source down.
    pub required: Vec<String>,
    #[serde(rename = "metric")]
    pub rules: Vec<RuleOptions>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prefix: String::new(),
            labels: BTreeMap::new(),
            include: Vec::new(),
            exclude: Vec::new(),
            units: BTreeMap::new(),
            unmatched: "gauge".into(),
            unmatched_help: String::new(),
            required: Vec::new(),
            rules: Vec::new(),
        }
    }
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
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Words that stand for numbers (`UP = 1`).
    #[serde(default)]
    pub values: BTreeMap<String, f64>,
    /// Info: label carrying the value (default: the key). State set: the state label
    /// (default: the family name).
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
}
