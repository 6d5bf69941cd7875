//! Mapping: records to metric families. Common to every format, so a recipe for any format
//! names, types, scales and labels its metrics the same way.
//!
//! Rules are tried in order; the first that matches a record's key decides (unless it says
//! `continue = true`). Records no rule matches follow `unmatched`; under `unmatched = "drop"`
//! they are counted as [`Unmatched`] (a rule with `drop = true` is a deliberate use, not
//! counted), so a key the app renamed is seen rather than silently gone. `required` keys
//! must be in every read, or the read is refused.

use std::collections::BTreeMap;

use std::collections::hash_map::Entry;

use foldhash::HashMap;

use regex::{Regex, RegexSet};

use super::{number, Issue, ParseError, Record, Unmatched};
use crate::family::{is_valid_metric_name, name_part, Family, LabelSet, Labels, MetricKind};

mod build;
mod options;
mod rule;

use build::{expand, expand_help, uses_placeholder, with_label, with_unit, Builder};
pub use options::{Options, RuleOptions, UnitOptions};
use rule::{full_match, labels_of, Matcher, Rule};

/// A rule that can match a key, and its captures of the key once known: `Some(None)` when
/// its pattern does not match after all.
type Candidate = (usize, Option<Option<Vec<(String, String)>>>);

#[derive(Debug)]
pub struct Mapping {
    prefix: String,
    labels: Labels,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    units: BTreeMap<String, UnitOptions>,
    unmatched: Option<MetricKind>,
    unmatched_help: String,
    required: Vec<String>,
    rules: Vec<Rule>,
    /// Rules by exact key (`key`, `names`), and the `match` rules every key must try: a
    /// record only tries the rules that can match it, in their order (an HAProxy page has
    /// 160k records and its recipe 90 rules).
    by_key: HashMap<String, Vec<usize>>,
    pattern_rules: Vec<usize>,
    /// The `match` rules' patterns in one automaton: a key is scanned once, not per rule.
    patterns: RegexSet,
    when_slots: usize,
    labels_slots: usize,
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
        let mut compiled = HashMap::default();
        let mut rules = opts
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                Rule::new(r, &mut compiled).map_err(|e| format!("mapping.metric[{i}]: {e}"))
            })
            .collect::<Result<Vec<Rule>, _>>()?;
        // Slot 0 of each is "no condition" / "labels kept as they are".
        let (mut whens, mut reshapes) = (vec![String::new()], vec![String::new()]);
        let slot = |list: &mut Vec<String>, id: String| match list.iter().position(|x| *x == id) {
            Some(i) => i,
            None => {
                list.push(id);
                list.len() - 1
            }
        };
        for rule in &mut rules {
            let when: Vec<_> = rule.when.iter().map(|(l, re)| (l, re.as_str())).collect();
            rule.when_slot = if when.is_empty() {
                0
            } else {
                slot(&mut whens, format!("{when:?}"))
            };
            rule.labels_slot = if rule.reshapes() {
                slot(
                    &mut reshapes,
                    format!(
                        "{:?}",
                        (&rule.labels, &rule.rename_labels, &rule.drop_labels)
                    ),
                )
            } else {
                0
            };
        }
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::default();
        let (mut pattern_rules, mut patterns) = (Vec::new(), Vec::new());
        for (i, rule) in rules.iter().enumerate() {
            match &rule.matcher {
                Matcher::Key(k) => by_key.entry(k.clone()).or_default().push(i),
                Matcher::Names(n) => {
                    for k in n.keys() {
                        by_key.entry(k.clone()).or_default().push(i);
                    }
                }
                Matcher::Pattern(re) => {
                    pattern_rules.push(i);
                    patterns.push(re.as_str());
                }
            }
        }
        let patterns = RegexSet::new(&patterns).map_err(|e| format!("mapping.metric: {e}"))?;
        Ok(Mapping {
            by_key,
            pattern_rules,
            patterns,
            when_slots: whens.len(),
            labels_slots: reshapes.len(),
            prefix: opts.prefix,
            labels: labels_of(&opts.labels),
            include: regexes(&opts.include, "mapping.include")?,
            exclude: regexes(&opts.exclude, "mapping.exclude")?,
            units: opts.units,
            unmatched,
            unmatched_help: opts.unmatched_help,
            required: opts.required,
            rules,
        })
    }

    /// Refuses a read that lacks a `required` key: the app is not writing what the recipe
    /// reads (a truncated dump, another format), and serving the rest would look healthy.
    pub fn check_required(&self, records: &[Record<'_>]) -> Result<(), ParseError> {
        if self.required.is_empty() {
            return Ok(());
        }
        let missing: Vec<String> = self
            .required
            .iter()
            .filter(|k| !records.iter().any(|r| r.key == k.as_str()))
            .cloned()
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ParseError::MissingKeys(missing))
        }
    }

    /// Turns records into families. Values that cannot be used are reported in `issues`,
    /// values no rule used in `unmatched`.
    pub fn apply(
        &self,
        records: Vec<Record<'_>>,
        issues: &mut Vec<Issue>,
        unmatched: &mut Unmatched,
    ) -> Vec<Family> {
        let mut out = Builder::new(self);
        out.unused = std::mem::take(unmatched);
        // What depends on the key alone (include/exclude, the rules whose key or pattern
        // matches, their captures) is worked out once per key that repeats: a table repeats
        // its columns' keys on every row, and the patterns were most of the mapping's time.
        // A key seen once (most of a kv page) is not worth a cache entry.
        // A small page (a status page of a few dozen keys) is not worth one either, nor a
        // page whose first 512 keys hardly repeat (a kv dump): the cache is dropped then.
        let mut cache = records.len() >= 256;
        let mut by_key: HashMap<&str, Option<Option<Vec<Candidate>>>> = HashMap::default();
        for (i, record) in records.iter().enumerate() {
            if cache && i == 512 && by_key.len() > 384 {
                cache = false;
                by_key = HashMap::default();
            }
            let entry = cache.then(|| by_key.entry(record.key.as_ref()));
            let matched = match entry {
                None => self.apply_uncached(record, &mut out, issues),
                Some(Entry::Vacant(first)) => {
                    first.insert(None);
                    self.apply_uncached(record, &mut out, issues)
                }
                Some(Entry::Occupied(again)) => {
                    let hits = again
                        .into_mut()
                        .get_or_insert_with(|| self.resolve(&record.key));
                    hits.as_mut()
                        .map(|hits| self.apply_cached(hits, record, &mut out, issues))
                }
            };
            let Some(matched) = matched else {
                continue;
            };
            if !matched {
                if self.unmatched.is_none() {
                    out.unused
                        .add(record.line, || format!("no rule for key {:?}", record.key));
                }
                self.emit_unmatched(record, &mut out, issues);
            }
        }
        *unmatched = out.unused;
        out.families
    }

    /// Whether include/exclude keep a key.
    fn keeps(&self, key: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|r| r.is_match(key)))
            && !self.exclude.iter().any(|r| r.is_match(key))
    }

    /// For one key: `None` when include/exclude leave it out, else the rules that can match
    /// it, in order, with room for their captures (worked out when first needed).
    fn resolve(&self, key: &str) -> Option<Vec<Candidate>> {
        self.keeps(key)
            .then(|| self.candidates(key).map(|(i, _)| (i, None)).collect())
    }

    /// Applies the rules to one record; whether one matched, `None` when the key is left
    /// out.
    fn apply_uncached(
        &self,
        record: &Record,
        out: &mut Builder,
        issues: &mut Vec<Issue>,
    ) -> Option<bool> {
        if !self.keeps(&record.key) {
            return None;
        }
        let mut matched = false;
        for (rule_idx, rule) in self.candidates(&record.key) {
            if !self.when_holds(rule, record, out) {
                continue;
            }
            let Some(captures) = rule.captures(&record.key) else {
                continue;
            };
            matched = true;
            if !rule.drop {
                self.emit(rule_idx, rule, record, captures, out, issues);
            }
            if !rule.keep_going {
                break;
            }
        }
        Some(matched)
    }

    /// [`Mapping::apply_uncached`] with the key's rules resolved (see [`Mapping::resolve`]).
    fn apply_cached(
        &self,
        hits: &mut [Candidate],
        record: &Record,
        out: &mut Builder,
        issues: &mut Vec<Issue>,
    ) -> bool {
        let mut matched = false;
        for (rule_idx, captures) in hits.iter_mut() {
            let rule = &self.rules[*rule_idx];
            if !self.when_holds(rule, record, out) {
                continue;
            }
            // Captures only once a rule is reached, as without the cache.
            let Some(captures) = captures.get_or_insert_with(|| rule.captures(&record.key)) else {
                continue;
            };
            matched = true;
            if !rule.drop {
                self.emit(*rule_idx, rule, record, captures.clone(), out, issues);
            }
            if !rule.keep_going {
                break;
            }
        }
        matched
    }

    /// The rules that can match `key`, in rule order: those listed under the key (their key
    /// matches, only `when` is left to check), and the `match` rules whose pattern matches.
    /// The patterns are only scanned once an exact rule before them has not decided.
    fn candidates<'a>(&'a self, key: &'a str) -> impl Iterator<Item = (usize, &'a Rule)> + 'a {
        let exact: &[usize] = self.by_key.get(key).map_or(&[], Vec::as_slice);
        let first_pattern = self.pattern_rules.first().copied().unwrap_or(usize::MAX);
        let mut hits: Option<Vec<usize>> = None;
        let (mut e, mut p) = (0, 0);
        std::iter::from_fn(move || {
            let x = exact.get(e).copied();
            if let Some(x) = x.filter(|&x| x < first_pattern) {
                e += 1;
                return Some((x, &self.rules[x]));
            }
            let hits = hits.get_or_insert_with(|| {
                if self.pattern_rules.is_empty() {
                    return Vec::new();
                }
                let set = self.patterns.matches(key);
                set.iter().map(|i| self.pattern_rules[i]).collect()
            });
            let next = match (x, hits.get(p).copied()) {
                (Some(x), Some(y)) if x < y => {
                    e += 1;
                    x
                }
                (_, Some(y)) => {
                    p += 1;
                    y
                }
                (Some(x), None) => {
                    e += 1;
                    x
                }
                (None, None) => return None,
            };
            Some((next, &self.rules[next]))
        })
    }

    /// Whether the record's labels satisfy the rule's `when`. Rows share label sets, so the
    /// answer for the last set seen is kept per distinct `when`.
    fn when_holds(&self, rule: &Rule, record: &Record, out: &mut Builder) -> bool {
        if rule.when.is_empty() {
            return true;
        }
        out.when[rule.when_slot].get_or_insert_with(&record.labels, || {
            let label = |name: &str| {
                record
                    .labels
                    .iter()
                    .find(|(k, _)| k == name)
                    .map_or("", |(_, v)| v.as_str())
            };
            rule.when.iter().all(|(name, re)| re.is_match(label(name)))
        })
    }

    fn source_unit(&self, record: &Record) -> (f64, Option<&str>) {
        match record.unit.and_then(|u| self.units.get(u)) {
            Some(u) => (u.scale, u.unit.as_deref()),
            None => (1.0, None),
        }
    }

    /// The record's labels with what `rule` (or, for `None`, the catch-all) adds, renames
    /// and drops, then the mapping's own labels. The result depends only on the rule and
    /// the record's label set, so consecutive records of one row share one copy.
    fn labels(
        &self,
        rule: Option<&Rule>,
        record: &Record,
        captures: Vec<(String, String)>,
        out: &mut Builder,
    ) -> LabelSet {
        let slot = rule.map_or(0, |r| r.labels_slot);
        let reshapes = slot != 0;
        if captures.is_empty() && !reshapes && self.labels.is_empty() {
            return record.labels.clone();
        }
        let rule = rule.filter(|_| reshapes);
        let make = || -> LabelSet {
            let mut labels: Labels = record.labels.to_vec();
            if let Some(rule) = rule {
                labels.retain(|(k, _)| !rule.drop_labels.contains(k));
                for (k, _) in labels.iter_mut() {
                    if let Some(new) = rule.rename_labels.get(k) {
                        k.clone_from(new);
                    }
                }
            }
            labels.extend(captures.iter().cloned());
            if let Some(rule) = rule {
                labels.extend(rule.labels.iter().cloned());
            }
            labels.extend(self.labels.iter().cloned());
            labels.into()
        };
        // Captures come from the key, not the row: only capture-free results are kept.
        if captures.is_empty() {
            out.labels[slot].get_or_insert_with(&record.labels, make)
        } else {
            make()
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
        if let Some(unit) = record.unit {
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
            out.unmatched.get(record.key.as_ref()).copied()
        } else {
            None
        };
        let f = match cached {
            Some(f) => f,
            None => {
                // A key that is already a valid name (`redis_version`, `http_requests_total`)
                // is kept as written; others (`Active(anon)`, `Total Accesses`) are folded.
                let part = if is_valid_metric_name(&record.key) {
                    record.key.to_string()
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
                    out.unmatched.insert(record.key.to_string(), f);
                }
                f
            }
        };
        let labels = self.labels(None, record, Vec::new(), out);
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
            Matcher::Names(n) => n.get(record.key.as_ref()).map_or("{key}", String::as_str),
            _ => rule.name.as_deref().unwrap_or("{key}"),
        };
        let kind = rule.kind.or(record.kind).unwrap_or(MetricKind::Gauge);
        // The family's name and help depend only on the rule and the key (unless the record
        // brings its own unit, kind or help), so they are built once per key, not per record.
        let cacheable = record.unit.is_none() && record.kind.is_none() && record.help.is_none();
        // A `match` rule with a fixed name (`cmdstat_(?P<cmd>.+)\.calls` -> `commands`) has
        // one family for all its keys.
        let fixed = rule.fixed_name && cacheable;
        let family = |out: &mut Builder| -> usize {
            if fixed {
                if let Some(i) = out.fixed[rule_idx] {
                    return i;
                }
            } else if cacheable {
                if let Some(&i) = out.by_rule[rule_idx].get(record.key.as_ref()) {
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
            if fixed {
                out.fixed[rule_idx] = Some(i);
            } else if cacheable {
                out.by_rule[rule_idx].insert(record.key.to_string(), i);
            }
            i
        };
        // Captures the name uses are not also labels.
        let label_captures = captures
            .iter()
            .filter(|(k, _)| !uses_placeholder(template, k))
            .cloned()
            .collect();
        let labels = self.labels(Some(rule), record, label_captures, out);

        match kind {
            MetricKind::Info => {
                let label = rule.label.clone().unwrap_or_else(|| name_part(&record.key));
                let f = family(out);
                out.push_info(f, &labels, (label, record.value.to_string()));
            }
            MetricKind::StateSet => {
                let f = family(out);
                let label = rule
                    .label
                    .clone()
                    .unwrap_or_else(|| out.families[f].name.clone());
                // A state with a qualifier (`UP 1/2`, `MAINT(via)`) is that state.
                let value = record.value.as_ref();
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
                    let value = f64::from(u8::from(state == current));
                    out.push(f, with_label(&labels, &label, state), value);
                }
            }
            _ if !rule.chars.is_empty() => {
                let label = rule.label.as_deref().unwrap_or("state");
                let f = family(out);
                for (ch, state) in &rule.chars {
                    let count = record.value.chars().filter(|c| c == ch).count();
                    out.push(f, with_label(&labels, label, state), count as f64);
                }
            }
            _ => {
                // A date says why it is not one (a zone name it will not guess, no such
                // day...): the user needs the reason to fix the writer.
                let value = if rule.date {
                    super::date::parse(&record.value).map_err(|e| format!("is not a date: {e}"))
                } else {
                    rule.values
                        .get(record.value.as_ref())
                        .copied()
                        .or_else(|| number::parse(&record.value))
                        .ok_or_else(|| "is not a number".to_string())
                };
                let value = match value {
                    Ok(value) => value,
                    Err(why) => {
                        if rule.skip_non_numeric {
                            out.unused.add(record.line, || {
                                format!(
                                    "{}: value {:?} skipped (non_numeric)",
                                    record.key, record.value
                                )
                            });
                        } else {
                            issues.push(Issue::new(
                                record.line,
                                format!("{}: value {:?} {why}", record.key, record.value),
                            ));
                        }
                        return;
                    }
                };
                let scale = rule.scale.unwrap_or(source_scale);
                let f = family(out);
                out.push(f, labels, value * scale);
            }
        }
    }
}

#[cfg(test)]
mod tests;
