//! Mapping: records to metric families. Common to every format, so a recipe for any format
//! names, types, scales and labels its metrics the same way.
//!
//! Rules are tried in order; the first that matches a record's key decides (unless it says
//! `continue = true`). Records no rule matches follow `unmatched`; under `unmatched = "drop"`
//! they are counted as [`Unmatched`] (a rule with `drop = true` is a deliberate use, not
//! counted), so a key the app renamed is seen rather than silently gone. `required` keys
//! must be in every read, or the read is refused.
//!
//! The parts: [`options`] (the table as written), [`rule`] (a compiled, typed rule),
//! [`index`] (which rules a key can match), [`emit`] (what a matched record becomes),
//! [`build`] (families being assembled) and [`run`] (one read, fed a record at a time).

use crate::parse::RecipeError;
use std::collections::BTreeMap;

use foldhash::HashMap;

use regex::Regex;

use super::trace::Step;
use super::{Issue, ParseError, Record, RecordSink, Unmatched};
use crate::family::{Family, Labels, MetricKind};

pub mod accumulate;
mod build;
mod derive;
mod emit;
mod expr;
mod index;
mod options;
mod required;
mod rule;
mod run;
pub mod state;

use build::Builder;
pub use build::Observation;
use index::RuleIndex;
pub use options::{DefaultsOptions, GroupOptions, Options, RuleOptions, UnitOptions};
use required::Required;
use rule::{full_match, labels_of, Rule};
pub use run::{Finished, MappingRun};

/// A family name and help made once for a key and kept for every later read (see
/// `Mapping::emit`): per read they were most of a small page's allocations.
type Made = std::sync::OnceLock<(String, String)>;

/// A rule that can match a key (its index), and what depends on the key alone.
#[derive(Debug, Clone)]
struct Candidate {
    rule: usize,
    /// Its captures of the key: `None` when its pattern does not match after all.
    captures: Option<Vec<(String, String)>>,
    /// The family name and help the rule makes of the key.
    made: Made,
}

/// What the rules make of one key (see [`Known`]).
#[derive(Debug, Clone, Default)]
struct KeyRules {
    /// The rules that can match it, in order.
    hits: Vec<Candidate>,
    /// The catch-all's family name and help for it.
    unmatched: Made,
}

/// What the rules make of each key met in earlier reads: `None` when include/exclude leave
/// it out, else its [`Candidate`]s. An app writes the same keys scrape after scrape (a
/// HAProxy page's 80 columns, Redis INFO's fields), and finding a key's rules (the `match`
/// patterns, their captures) was most of a small page's read: a read looks its keys up
/// here and works out only new ones. Shared by the reads of every source using the recipe,
/// replaced whole when a read brings new keys (see [`run`]), so a lookup takes no lock.
type Known = std::sync::Arc<HashMap<String, Option<KeyRules>>>;

/// Keys kept in [`Known`]: beyond it (keys made of the app's data, as a kv dump's per-item
/// lines can be) new keys are worked out per read, as before.
const KNOWN_KEYS: usize = 4096;

#[derive(Debug)]
pub struct Mapping {
    /// Its rules add records into running totals (see [`accumulate`]).
    accumulating: bool,
    prefix: String,
    labels: Labels,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    units: BTreeMap<String, UnitOptions>,
    unmatched: Option<MetricKind>,
    unmatched_help: String,
    required: Required,
    rules: Vec<Rule>,
    index: RuleIndex,
    when_slots: usize,
    labels_slots: usize,
    known: std::sync::RwLock<Known>,
    /// The bounds of what `remember` rules keep across lines.
    state_limits: state::Limits,
}

impl Mapping {
    pub fn new(opts: Options) -> Result<Mapping, RecipeError> {
        let regexes = |list: &[String], what: &str| -> Result<Vec<Regex>, RecipeError> {
            list.iter()
                .enumerate()
                .map(|(i, p)| full_match(p, &format!("{what}[{i}]")))
                .collect()
        };
        accumulate::check_defaults(&opts.defaults)?;
        let accumulating = opts
            .rules
            .iter()
            .chain(opts.groups.iter().flat_map(|g| &g.rules))
            .any(|r| r.accumulate.is_some());
        let unmatched = match opts.unmatched.as_deref().unwrap_or(if accumulating { "drop" } else { "gauge" }) {
            "drop" => None,
            // A catch-all would make samples of events that only the running totals hold.
            k if accumulating => return Err(format!("mapping.unmatched: {k:?} does not apply to a mapping whose rules accumulate (records no rule takes are counted as unmatched)").into()),
            k => Some(
                MetricKind::parse(k)
                    .filter(|k| matches!(k, MetricKind::Gauge | MetricKind::Counter | MetricKind::Untyped))
                    .ok_or_else(|| RecipeError::invalid(format!("expected gauge, counter, untyped or drop, not {k:?}")).at("mapping.unmatched"))?,
            ),
        };
        let mut compiled = HashMap::default();
        let mut rules = Vec::new();
        for (i, r) in opts.rules.into_iter().enumerate() {
            let at = format!("mapping.metric[{i}]");
            rules.push(
                Rule::new(r, None, &opts.defaults, &mut compiled, at.clone())
                    .map_err(|e| e.at(at.clone()))?,
            );
        }
        // Groups come after the ungrouped rules, in order (TOML keeps two arrays apart).
        for (g, group) in opts.groups.iter().enumerate() {
            for (i, r) in group.rules.iter().enumerate() {
                let at = format!("mapping.group[{g}].metric[{i}]");
                rules.push(
                    Rule::new(
                        r.clone(),
                        Some(group),
                        &opts.defaults,
                        &mut compiled,
                        at.clone(),
                    )
                    .map_err(|e| e.at(at.clone()))?,
                );
            }
        }
        if accumulating {
            if let Some(rule) = rules
                .iter()
                .find(|r| !matches!(r.action, rule::Action::Drop | rule::Action::Accumulate(_)))
            {
                return Err(format!(
                    "{}: the other rules accumulate (this recipe reads events): give it \
                     `accumulate` too, or `drop = true`",
                    rule.origin
                )
                .into());
            }
        }
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
        let required = Required::new(opts.required, &opts.prefix)?;
        let state_limits = state::Limits::new(&opts.state)?;
        Ok(Mapping {
            accumulating,
            index: RuleIndex::new(&rules)?,
            when_slots: whens.len(),
            labels_slots: reshapes.len(),
            prefix: opts.prefix,
            labels: labels_of(&opts.labels),
            include: regexes(&opts.include_keys, "mapping.include_keys")?,
            exclude: regexes(&opts.exclude_keys, "mapping.exclude_keys")?,
            units: opts.units,
            unmatched,
            unmatched_help: opts.unmatched_help,
            required,
            rules,
            known: Default::default(),
            state_limits,
        })
    }

    /// Whether its rules accumulate: the records are events (lines of a log) that add into
    /// running totals, not samples of a snapshot.
    pub fn accumulates(&self) -> bool {
        self.accumulating
    }

    /// Whether a rule keeps labels for a later line (`remember`).
    pub fn remembers(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.derive.as_ref().is_some_and(|d| d.remembers()))
    }

    /// How rule `rule` (an [`Observation`]'s) adds into the totals.
    pub fn accumulation(&self, rule: usize) -> Option<&accumulate::Accumulate> {
        match &self.rules.get(rule)?.action {
            rule::Action::Accumulate(a) => Some(a),
            _ => None,
        }
    }

    /// Refuses a read that lacks a `required` key: the app is not writing what the recipe
    /// reads (a truncated dump, another format), and serving the rest would look healthy.
    /// A read checks its keys as they come ([`MappingRun`]); this is the same over a list.
    pub fn check_required(&self, records: &[Record<'_>]) -> Result<(), ParseError> {
        let mut required = required::Seen::new(&self.required);
        for r in records {
            required.see(&r.key);
        }
        required.check(&[])
    }

    /// Turns a list of records into families: a [`MappingRun`] fed the list. Values that
    /// cannot be used are reported in `issues`, values no rule used in `unmatched`.
    pub fn apply(
        &self,
        records: Vec<Record<'_>>,
        issues: &mut Vec<Issue>,
        unmatched: &mut Unmatched,
    ) -> Vec<Family> {
        let mut run = self.run(usize::MAX, false);
        for record in records {
            run.push(record);
        }
        let mut done = run.finish();
        done.merge_into(issues, unmatched);
        done.families
    }

    fn apply_one(&self, record: &Record<'_>, issues: &mut Vec<Issue>, out: &mut Builder) {
        if let Some(why) = self.filtered(&record.key) {
            out.step(|| Step::Filtered(why));
            return;
        }
        // The loop of [`Mapping::apply_cached`] over the candidates as they come: a key
        // that does not repeat is not worth a list of them (one allocation per record).
        let mut matched = false;
        for (rule_idx, rule) in self.index.candidates(&self.rules, &record.key) {
            if !self.when_holds(rule, record, out) {
                out.step(|| Step::WhenFailed(rule.describe()));
                continue;
            }
            let Some(captures) = rule.captures(&record.key) else {
                continue;
            };
            matched = true;
            let hit = emit::Hit {
                rule: rule_idx,
                captures: &captures,
                made: None,
            };
            self.emit(hit, rule, record, out, issues);
            if !rule.keep_going {
                break;
            }
        }
        if !matched {
            self.no_rule(record, issues, out, None);
        }
    }

    /// Why `[mapping]` include/exclude leave a key out, if they do.
    fn filtered(&self, key: &str) -> Option<&'static str> {
        if !self.include.is_empty() && !self.include.iter().any(|r| r.is_match(key)) {
            return Some("not in [mapping] include_keys");
        }
        self.exclude
            .iter()
            .any(|r| r.is_match(key))
            .then_some("in [mapping] exclude_keys")
    }

    /// For one key: `None` when include/exclude leave it out, else the rules that can match
    /// it, in order, with room for their captures (worked out when first needed).
    fn resolve(&self, key: &str) -> Option<KeyRules> {
        self.filtered(key).is_none().then(|| {
            let hits = self
                .index
                .candidates(&self.rules, key)
                .map(|(i, rule)| Candidate {
                    rule: i,
                    captures: rule.captures(key),
                    made: Made::new(),
                })
                .collect();
            KeyRules {
                hits,
                unmatched: Made::new(),
            }
        })
    }

    /// The keys earlier reads met (see [`Known`]).
    fn known(&self) -> Known {
        match self.known.read() {
            Ok(known) => known.clone(),
            // A read that panicked while publishing left the old map: still right.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Adds the keys a read met to [`Known`], up to [`KNOWN_KEYS`].
    fn publish<'k>(
        &self,
        fresh: impl Iterator<Item = (std::borrow::Cow<'k, str>, Option<Option<KeyRules>>)>,
    ) {
        let mut known = match self.known.write() {
            Ok(known) => known,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut map = HashMap::clone(&known);
        for (key, resolved) in fresh {
            if map.len() >= KNOWN_KEYS {
                break;
            }
            if !map.contains_key(key.as_ref()) {
                let resolved = resolved.unwrap_or_else(|| self.resolve(&key));
                map.insert(key.into_owned(), resolved);
            }
        }
        *known = std::sync::Arc::new(map);
    }

    /// Applies the rules that can match a record's key (its [`Mapping::resolve`]d
    /// candidates, kept per key when a table repeats it).
    fn apply_cached(
        &self,
        rules: &KeyRules,
        record: &Record<'_>,
        issues: &mut Vec<Issue>,
        out: &mut Builder,
    ) {
        let mut matched = false;
        for hit in &rules.hits {
            let rule_idx = hit.rule;
            let Some(rule) = self.rules.get(rule_idx) else {
                continue;
            };
            // Candidates are only rules whose key or pattern matches: a `when` that fails
            // is worth telling.
            if !self.when_holds(rule, record, out) {
                out.step(|| Step::WhenFailed(rule.describe()));
                continue;
            }
            let Some(captures) = &hit.captures else {
                continue;
            };
            matched = true;
            let hit = emit::Hit {
                rule: rule_idx,
                captures,
                made: Some(&hit.made),
            };
            self.emit(hit, rule, record, out, issues);
            if !rule.keep_going {
                break;
            }
        }
        if !matched {
            self.no_rule(record, issues, out, Some(&rules.unmatched));
        }
    }

    /// A record no rule took: counted under `unmatched = "drop"`, else the catch-all's.
    fn no_rule(
        &self,
        record: &Record<'_>,
        issues: &mut Vec<Issue>,
        out: &mut Builder,
        made: Option<&Made>,
    ) {
        if self.unmatched.is_none() {
            out.unused
                .add(record.line, || format!("no rule for key {:?}", record.key));
        }
        out.step(|| {
            Step::NoRule(match self.unmatched {
                None => "unmatched = \"drop\": not exposed, counted as unmatched",
                Some(_) => "made by unmatched (the catch-all)",
            })
        });
        self.emit_unmatched(record, made, out, issues);
    }
}

#[cfg(test)]
mod kinds_tests;
#[cfg(test)]
mod tests;
