//! One compiled mapping rule: what it matches (a key, several keys, or a pattern), under
//! which `when`, and what it makes of a record.

use std::collections::BTreeMap;

use foldhash::HashMap;
use regex::Regex;

use super::options::RuleOptions;
use crate::family::{Labels, MetricKind};

#[derive(Debug)]
pub(super) enum Matcher {
    Key(String),
    Names(BTreeMap<String, String>),
    Pattern(Regex),
}

#[derive(Debug)]
pub(super) struct Rule {
    pub(super) matcher: Matcher,
    pub(super) when: Vec<(String, Regex)>,
    /// Rules with the same `when` share a slot, rules that reshape labels the same way
    /// another: the per-row caches in [`Builder`] are kept per slot.
    pub(super) when_slot: usize,
    pub(super) labels_slot: usize,
    /// A `match` rule whose name and help do not depend on the key.
    pub(super) fixed_name: bool,
    pub(super) name: Option<String>,
    pub(super) prefix: Option<String>,
    pub(super) kind: Option<MetricKind>,
    pub(super) help: String,
    pub(super) unit: Option<String>,
    pub(super) scale: Option<f64>,
    pub(super) labels: Labels,
    pub(super) values: BTreeMap<String, f64>,
    pub(super) label: Option<String>,
    pub(super) states: Vec<String>,
    pub(super) chars: Vec<(char, String)>,
    pub(super) date: bool,
    pub(super) rename_labels: BTreeMap<String, String>,
    pub(super) drop_labels: Vec<String>,
    pub(super) drop: bool,
    pub(super) keep_going: bool,
    pub(super) skip_non_numeric: bool,
}

/// The names `type` takes (`unknown` is an alias of `untyped`, as in OpenMetrics).
pub(super) const TYPES: &[&str] = &["gauge", "counter", "info", "stateset", "untyped", "unknown"];

pub(super) fn full_match(pattern: &str, what: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("{what}: {e}"))
}

pub(super) fn labels_of(map: &BTreeMap<String, String>) -> Labels {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

impl Rule {
    pub(super) fn new(
        r: RuleOptions,
        compiled: &mut HashMap<String, Regex>,
    ) -> Result<Rule, String> {
        let matcher = match (r.key, r.names, r.pattern) {
            (Some(k), None, None) => Matcher::Key(k),
            (None, Some(n), None) if r.name.is_none() => Matcher::Names(n),
            (None, Some(_), None) => return Err("`names` gives the names; drop `name`".into()),
            (None, None, Some(p)) => Matcher::Pattern(full_match(&p, "match")?),
            _ => return Err("give exactly one of `key`, `names` and `match`".into()),
        };
        // A recipe repeats its conditions (HAProxy's `type = "0"` on 75 rules); a compiled
        // regex is kilobytes, so each distinct one is compiled once and shared.
        let when = r
            .when
            .iter()
            .map(|(label, p)| {
                let re = match compiled.get(p) {
                    Some(re) => re.clone(),
                    None => {
                        let re = full_match(p, &format!("when.{label}"))?;
                        compiled.insert(p.clone(), re.clone());
                        re
                    }
                };
                Ok((label.clone(), re))
            })
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
            .map(|k| {
                MetricKind::parse(&k).ok_or_else(|| {
                    format!(
                        "unknown type {k:?}; expected one of {}{}",
                        TYPES.join(", "),
                        crate::text::did_you_mean(&k, TYPES.iter().copied())
                    )
                })
            })
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
        let fixed_name = matches!(matcher, Matcher::Pattern(_))
            && r.name.as_deref().is_some_and(|n| !n.contains('{'))
            && !r.help.contains("{key}");
        Ok(Rule {
            matcher,
            when,
            when_slot: 0,
            labels_slot: 0,
            fixed_name,
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
            keep_going: r.keep_going,
            skip_non_numeric,
        })
    }

    /// `Some(captures)` when the rule matches the key (`candidates` only offers `key` and
    /// `names` rules for their own keys).
    pub(super) fn captures(&self, key: &str) -> Option<Vec<(String, String)>> {
        match &self.matcher {
            Matcher::Key(_) | Matcher::Names(_) => Some(Vec::new()),
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

    pub(super) fn reshapes(&self) -> bool {
        !self.labels.is_empty() || !self.rename_labels.is_empty() || !self.drop_labels.is_empty()
    }
}
