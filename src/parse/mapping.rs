//! Mapping: records to metric families. Common to every format, so a recipe for any format
//! names, types, scales and labels its metrics the same way.
//!
//! Rules are tried in order; the first that matches a record's key decides (unless it says
//! `continue = true`). Records no rule matches follow `unmatched`.

use std::collections::{BTreeMap, HashMap};

use regex::Regex;
use serde::Deserialize;

use super::{number, Issue, Record};
use crate::family::{is_valid_metric_name, name_part, Family, Labels, MetricKind, Sample};

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
    /// RFC 3339 or `date`'s default output in the C locale, UTC).
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
    pub cont: bool,
    /// A value that is not a number: `error` (count it, the default) or `skip` quietly.
    pub non_numeric: Option<String>,
}

#[derive(Debug)]
enum Matcher {
    Key(String),
    Names(BTreeMap<String, String>),
    Pattern(Regex),
}

#[derive(Debug)]
struct Rule {
    matcher: Matcher,
    when: Vec<(String, Regex)>,
    name: Option<String>,
    prefix: Option<String>,
    kind: Option<MetricKind>,
    help: String,
    unit: Option<String>,
    scale: Option<f64>,
    labels: Labels,
    values: BTreeMap<String, f64>,
    label: Option<String>,
    states: Vec<String>,
    chars: Vec<(char, String)>,
    date: bool,
    rename_labels: BTreeMap<String, String>,
    drop_labels: Vec<String>,
    drop: bool,
    cont: bool,
    skip_non_numeric: bool,
}

#[derive(Debug)]
pub struct Mapping {
    prefix: String,
    labels: Labels,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    units: BTreeMap<String, UnitOptions>,
    unmatched: Option<MetricKind>,
    unmatched_help: String,
    rules: Vec<Rule>,
    /// Rules by exact key (`key`, `names`), and the `match` rules every key must try: a
    /// record only tries the rules that can match it, in their order (an HAProxy page has
    /// 160k records and its recipe 90 rules).
    by_key: HashMap<String, Vec<usize>>,
    pattern_rules: Vec<usize>,
}

fn full_match(pattern: &str, what: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("{what}: {e}"))
}

fn labels_of(map: &BTreeMap<String, String>) -> Labels {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl Mapping {
    pub fn new(opts: Options) -> Result<Mapping, String> {
        let regexes = |list: &[String], what: &str| -> Result<Vec<Regex>, String> {
            list.iter()
                .enumerate()
                .map(|(i, p)| full_match(p, &format!("{what}[{i}]")))
                .collect()
        };
        let unmatched = match opts.unmatched.as_str() {
            "drop" => None,
            k => Some(
                MetricKind::parse(k)
                    .filter(|k| matches!(k, MetricKind::Gauge | MetricKind::Counter | MetricKind::Untyped))
                    .ok_or_else(|| format!("mapping.unmatched: expected gauge, counter, untyped or drop, not {k:?}"))?,
            ),
        };
        let rules = opts
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| Rule::new(r).map_err(|e| format!("mapping.metric[{i}]: {e}")))
            .collect::<Result<Vec<Rule>, _>>()?;
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
        let mut pattern_rules = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            match &rule.matcher {
                Matcher::Key(k) => by_key.entry(k.clone()).or_default().push(i),
                Matcher::Names(n) => {
                    for k in n.keys() {
                        by_key.entry(k.clone()).or_default().push(i);
                    }
                }
                Matcher::Pattern(_) => pattern_rules.push(i),
            }
        }
        Ok(Mapping {
            by_key,
            pattern_rules,
            prefix: opts.prefix,
            labels: labels_of(&opts.labels),
            include: regexes(&opts.include, "mapping.include")?,
            exclude: regexes(&opts.exclude, "mapping.exclude")?,
            units: opts.units,
            unmatched,
            unmatched_help: opts.unmatched_help,
            rules,
        })
    }

    /// Turns records into families. Values that cannot be used are reported in `issues`.
    pub fn apply(&self, records: Vec<Record>, issues: &mut Vec<Issue>) -> Vec<Family> {
        let mut out = Builder::default();
        for record in records {
            if (!self.include.is_empty() && !self.include.iter().any(|r| r.is_match(&record.key)))
                || self.exclude.iter().any(|r| r.is_match(&record.key))
            {
                continue;
            }
            let mut matched = false;
            for (rule_idx, rule) in self.candidates(&record.key) {
                let Some(captures) = rule.captures(&record) else {
                    continue;
                };
                matched = true;
                if !rule.drop {
                    self.emit(rule_idx, rule, &record, captures, &mut out, issues);
                }
                if !rule.cont {
                    break;
                }
            }
            if !matched {
                self.emit_unmatched(&record, &mut out, issues);
            }
        }
        out.families
    }

    /// The rules that can match `key`, in rule order.
    fn candidates<'a>(&'a self, key: &str) -> impl Iterator<Item = (usize, &'a Rule)> + 'a {
        let exact: &[usize] = self.by_key.get(key).map_or(&[], Vec::as_slice);
        let (mut a, mut b) = (
            exact.iter().peekable(),
            self.pattern_rules.iter().peekable(),
        );
        std::iter::from_fn(move || {
            let next = match (a.peek(), b.peek()) {
                (Some(&&x), Some(&&y)) if x < y => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => None,
            }?;
            Some((*next, &self.rules[*next]))
        })
    }

    fn source_unit(&self, record: &Record) -> (f64, Option<&str>) {
        match record.unit.as_deref().and_then(|u| self.units.get(u)) {
            Some(u) => (u.scale, u.unit.as_deref()),
            None => (1.0, None),
        }
    }

    fn emit_unmatched(&self, record: &Record, out: &mut Builder, issues: &mut Vec<Issue>) {
        let Some(default_kind) = self.unmatched else {
            return;
        };
        // A word where a number belongs (a version string, a status) is skipped and counted,
        // so a recipe author sees what the catch-all could not use.
        let Some(value) = number::parse(&record.value) else {
            issues.push(Issue::new(
                record.line,
                format!("{}: value {:?} is not a number", record.key, record.value),
            ));
            return;
        };
        if let Some(unit) = &record.unit {
            if !self.units.contains_key(unit) {
                issues.push(Issue::new(
                    record.line,
                    format!("{}: unknown unit {unit:?}", record.key),
                ));
                return;
            }
        }
        let (scale, unit) = self.source_unit(record);
        let kind = record.kind.unwrap_or(default_kind);
        let cacheable = record.unit.is_none() && record.kind.is_none() && record.help.is_none();
        let cached = if cacheable {
            out.unmatched.get(&record.key).copied()
        } else {
            None
        };
        let f = match cached {
            Some(f) => f,
            None => {
                // A key that is already a valid name (`redis_version`, `http_requests_total`)
                // is kept as written; others (`Active(anon)`, `Total Accesses`) are folded.
                let part = if is_valid_metric_name(&record.key) {
                    record.key.clone()
                } else {
                    name_part(&record.key)
                };
                let short = with_unit(part, unit);
                let help = match &record.help {
                    Some(h) => h.clone(),
                    None => expand_help(&self.unmatched_help, &record.key, &short),
                };
                let f = out.family(format!("{}{short}", self.prefix), kind, &help);
                if cacheable {
                    out.unmatched.insert(record.key.clone(), f);
                }
                f
            }
        };
        let mut labels = record.labels.clone();
        labels.extend(self.labels.iter().cloned());
        out.push(f, labels, value * scale);
    }

    fn emit(
        &self,
        rule_idx: usize,
        rule: &Rule,
        record: &Record,
        captures: Vec<(String, String)>,
        out: &mut Builder,
        issues: &mut Vec<Issue>,
    ) {
        let (source_scale, source_unit) = self.source_unit(record);
        let template = match &rule.matcher {
            Matcher::Names(n) => n.get(&record.key).map_or("{key}", String::as_str),
            _ => rule.name.as_deref().unwrap_or("{key}"),
        };
        let kind = rule.kind.or(record.kind).unwrap_or(MetricKind::Gauge);
        // The family's name and help depend only on the rule and the key (unless the record
        // brings its own unit, kind or help), so they are built once per key, not per record.
        let cacheable = record.unit.is_none() && record.kind.is_none() && record.help.is_none();
        let family = |out: &mut Builder| -> usize {
            if cacheable {
                if let Some(&i) = out.by_rule.get(&rule_idx).and_then(|m| m.get(&record.key)) {
                    return i;
                }
            }
            let prefix = rule.prefix.as_deref().unwrap_or(&self.prefix);
            let short = with_unit(
                expand(template, &record.key, &captures),
                rule.unit.as_deref().or(source_unit),
            );
            let help = if rule.help.is_empty() {
                record.help.clone().unwrap_or_default()
            } else {
                expand_help(&rule.help, &record.key, &short)
            };
            let i = out.family(format!("{prefix}{short}"), kind, &help);
            if cacheable {
                out.by_rule
                    .entry(rule_idx)
                    .or_default()
                    .insert(record.key.clone(), i);
            }
            i
        };

        let mut labels = record.labels.clone();
        if !rule.rename_labels.is_empty() || !rule.drop_labels.is_empty() {
            labels.retain(|(k, _)| !rule.drop_labels.contains(k));
            for (k, _) in labels.iter_mut() {
                if let Some(new) = rule.rename_labels.get(k) {
                    k.clone_from(new);
                }
            }
        }
        labels.extend(
            captures
                .iter()
                .filter(|(k, _)| !uses_placeholder(template, k))
                .cloned(),
        );
        labels.extend(rule.labels.iter().cloned());
        labels.extend(self.labels.iter().cloned());

        match kind {
            MetricKind::Info => {
                let label = rule.label.clone().unwrap_or_else(|| name_part(&record.key));
                let f = family(out);
                out.push_info(f, labels, (label, record.value.clone()));
            }
            MetricKind::StateSet => {
                let f = family(out);
                let label = rule
                    .label
                    .clone()
                    .unwrap_or_else(|| out.families[f].name.clone());
                // A state with a qualifier (`UP 1/2`, `MAINT(via)`) is that state.
                let value = record.value.as_str();
                let current = rule
                    .states
                    .iter()
                    .find(|s| {
                        value == s.as_str()
                            || value
                                .strip_prefix(s.as_str())
                                .is_some_and(|rest| rest.starts_with([' ', '(']))
                    })
                    .map_or(value, String::as_str);
                if !rule.states.iter().any(|s| s == current) {
                    issues.push(Issue::new(
                        record.line,
                        format!("{}: unknown state {:?}", record.key, current),
                    ));
                }
                for state in &rule.states {
                    let mut l = labels.clone();
                    l.push((label.clone(), state.clone()));
                    let value = f64::from(u8::from(state == current));
                    out.push(f, l, value);
                }
            }
            _ if !rule.chars.is_empty() => {
                let label = rule.label.clone().unwrap_or_else(|| "state".to_string());
                let f = family(out);
                for (ch, state) in &rule.chars {
                    let mut l = labels.clone();
                    l.push((label.clone(), state.clone()));
                    let count = record.value.chars().filter(|c| c == ch).count();
                    out.push(f, l, count as f64);
                }
            }
            _ => {
                let value = if rule.date {
                    super::date::parse(&record.value)
                } else {
                    rule.values
                        .get(&record.value)
                        .copied()
                        .or_else(|| number::parse(&record.value))
                };
                let Some(value) = value else {
                    if !rule.skip_non_numeric {
                        let what = if rule.date { "a date" } else { "a number" };
                        issues.push(Issue::new(
                            record.line,
                            format!("{}: value {:?} is not {what}", record.key, record.value),
                        ));
                    }
                    return;
                };
                let scale = rule.scale.unwrap_or(source_scale);
                let f = family(out);
                out.push(f, labels, value * scale);
            }
        }
    }
}

impl Rule {
    fn new(r: RuleOptions) -> Result<Rule, String> {
        let matcher = match (r.key, r.names, r.pattern) {
            (Some(k), None, None) => Matcher::Key(k),
            (None, Some(n), None) if r.name.is_none() => Matcher::Names(n),
            (None, Some(_), None) => return Err("`names` gives the names; drop `name`".into()),
            (None, None, Some(p)) => Matcher::Pattern(full_match(&p, "match")?),
            _ => return Err("give exactly one of `key`, `names` and `match`".into()),
        };
        let when = r
            .when
            .iter()
            .map(|(label, p)| Ok((label.clone(), full_match(p, &format!("when.{label}"))?)))
            .collect::<Result<Vec<_>, String>>()?;
        let chars = r
            .chars
            .into_iter()
            .map(|(c, state)| {
                let mut it = c.chars();
                match (it.next(), it.next()) {
                    (Some(ch), None) => Ok((ch, state)),
                    _ => Err(format!("chars: {c:?} is not one character")),
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        let date = match r.value_format.as_deref() {
            None | Some("number") => false,
            Some("date") => true,
            Some(o) => {
                return Err(format!(
                    "value_format must be \"number\" or \"date\", not {o:?}"
                ))
            }
        };
        let kind = r
            .kind
            .map(|k| MetricKind::parse(&k).ok_or_else(|| format!("unknown type {k:?}")))
            .transpose()?;
        if kind == Some(MetricKind::StateSet) && r.states.is_empty() {
            return Err("a stateset needs `states`".into());
        }
        let skip_non_numeric = match r.non_numeric.as_deref() {
            None | Some("error") => false,
            Some("skip") => true,
            Some(o) => {
                return Err(format!(
                    "non_numeric must be \"error\" or \"skip\", not {o:?}"
                ))
            }
        };
        Ok(Rule {
            matcher,
            when,
            name: r.name,
            prefix: r.prefix,
            kind,
            help: r.help,
            unit: r.unit,
            scale: r.scale,
            labels: labels_of(&r.labels),
            values: r.values,
            label: r.label,
            states: r.states,
            chars,
            date,
            rename_labels: r.rename_labels,
            drop_labels: r.drop_labels,
            drop: r.drop,
            cont: r.cont,
            skip_non_numeric,
        })
    }

    /// `Some(captures)` when the rule matches the record's key and labels.
    fn captures(&self, record: &Record) -> Option<Vec<(String, String)>> {
        let key = record.key.as_str();
        let label = |name: &str| {
            record
                .labels
                .iter()
                .find(|(k, _)| k == name)
                .map_or("", |(_, v)| v.as_str())
        };
        let when = || self.when.iter().all(|(name, re)| re.is_match(label(name)));
        match &self.matcher {
            Matcher::Key(k) => (k == key && when()).then(Vec::new),
            Matcher::Names(n) => (n.contains_key(key) && when()).then(Vec::new),
            Matcher::Pattern(_) if !when() => None,
            Matcher::Pattern(re) => {
                let caps = re.captures(key)?;
                Some(
                    re.capture_names()
                        .flatten()
                        .filter_map(|n| {
                            caps.name(n)
                                .map(|m| (n.to_string(), m.as_str().to_string()))
                        })
                        .collect(),
                )
            }
        }
    }
}

/// Replaces `{key}` and `{capture}` in a name template; replacements become name parts.
fn expand(template: &str, key: &str, captures: &[(String, String)]) -> String {
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
fn expand_help(help: &str, key: &str, name: &str) -> String {
    help.replace("{key}", key).replace("{name}", name)
}

/// Whether `template` contains `{name}`.
fn uses_placeholder(template: &str, name: &str) -> bool {
    template.match_indices('{').any(|(i, _)| {
        template[i + 1..]
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('}'))
    })
}

fn with_unit(mut name: String, unit: Option<&str>) -> String {
    if let Some(unit) = unit {
        if !name.ends_with(&format!("_{unit}")) {
            name.push('_');
            name.push_str(unit);
        }
    }
    name
}

/// Collects samples into families by name, in first-seen order; merges info labels.
#[derive(Default)]
struct Builder {
    families: Vec<Family>,
    index: HashMap<String, usize>,
    /// (family, labels before the value label) -> sample, so several string fields can
    /// share one info series (`redis_instance_info{redis_version=..,os=..}`).
    info_series: HashMap<(usize, Labels), usize>,
    /// Rule index -> record key -> family index (see `Mapping::emit`).
    by_rule: HashMap<usize, HashMap<String, usize>>,
    /// Record key -> family index, for records no rule matched.
    unmatched: HashMap<String, usize>,
}

impl Builder {
    fn family(&mut self, name: String, kind: MetricKind, help: &str) -> usize {
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

    fn push(&mut self, family: usize, labels: Labels, value: f64) {
        self.families[family].samples.push(Sample { labels, value });
    }

    fn push_info(&mut self, family: usize, labels: Labels, value_label: (String, String)) {
        let i = family;
        match self.info_series.get(&(i, labels.clone())) {
            Some(&s) => self.families[i].samples[s].labels.push(value_label),
            None => {
                let s = self.families[i].samples.len();
                let mut all = labels.clone();
                all.push(value_label);
                self.families[i].samples.push(Sample {
                    labels: all,
                    value: 1.0,
                });
                self.info_series.insert((i, labels), s);
            }
        }
    }
}

#[cfg(test)]
mod tests;
