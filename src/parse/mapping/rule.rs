//! One compiled mapping rule: what it matches (a key, several keys, or a pattern), under
//! which `when`, and what it makes of a record — typed by what it makes ([`Action`]), so a
//! key that means nothing for the rule's type is refused when the recipe loads instead of
//! being silently ignored.

use crate::parse::{ErrorKind, RecipeError};
use std::collections::BTreeMap;

use foldhash::HashMap;
use regex::Regex;

use super::accumulate::Accumulate;
use super::options::{DefaultsOptions, GroupOptions, RuleOptions};
use crate::family::{Labels, MetricKind};

#[derive(Debug)]
pub(super) enum Matcher {
    Key(String),
    Names(BTreeMap<String, String>),
    Pattern(Regex),
}

/// Words that stand for numbers (`UP = 1`), matched exactly or ignoring case.
#[derive(Debug, Default)]
pub(super) struct Words {
    map: BTreeMap<String, f64>,
    ignore_case: bool,
}

impl Words {
    /// Ignoring case, the words are kept lowercased, so a lookup lowercases the value once.
    fn new(map: BTreeMap<String, f64>, ignore_case: bool) -> Result<Words, RecipeError> {
        if !ignore_case {
            return Ok(Words { map, ignore_case });
        }
        let mut folded = BTreeMap::new();
        for (w, v) in map {
            if folded.insert(w.to_lowercase(), v).is_some() {
                return Err(
                    format!("words: {w:?} is another word's spelling under ignore_case").into(),
                );
            }
        }
        Ok(Words {
            map: folded,
            ignore_case,
        })
    }

    pub(super) fn get(&self, value: &str) -> Option<f64> {
        if self.map.is_empty() {
            return None;
        }
        if self.ignore_case {
            self.map.get(&value.to_lowercase()).copied()
        } else {
            self.map.get(value).copied()
        }
    }
}

/// Which series of a summary or histogram a record is. A quantile or bound given by the
/// rule is fixed; otherwise a capture gives it (`quantile`, `percentile`, `le`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Part {
    Quantile(Option<f64>),
    Bucket(Option<f64>),
    Sum,
    Count,
}

/// How a value rule reads its value.
#[derive(Debug)]
pub(super) enum Read {
    /// A number, or one of the words.
    Number(Words),
    /// A timestamp (`value_format = "date"`), as seconds since the epoch.
    Date,
}

/// What a rule makes of the records it matches.
#[derive(Debug)]
pub(super) enum Action {
    /// `drop = true`: matched on purpose, makes nothing.
    Drop,
    /// One sample (gauge, counter, untyped, or the record's own type).
    Value {
        kind: Option<MetricKind>,
        read: Read,
        scale: Option<f64>,
        skip_non_numeric: bool,
    },
    /// One series per character class of the value: its count.
    Chars {
        kind: Option<MetricKind>,
        label: String,
        chars: Vec<(char, String)>,
    },
    /// The value as a label of a series of value 1.
    Info { label: Option<String> },
    /// One series of a summary or a histogram; the family is assembled when every record
    /// is read (see `Builder::finish`).
    Part {
        /// Summary or histogram.
        kind: MetricKind,
        part: Part,
        read: Read,
        scale: Option<f64>,
        skip_non_numeric: bool,
    },
    /// One series per state, 1 for the current one.
    StateSet {
        label: Option<String>,
        states: Vec<String>,
        ignore_case: bool,
    },
    /// An event that adds into running totals (see [`super::accumulate`]).
    Accumulate(Accumulate),
}

#[derive(Debug)]
pub(super) struct Rule {
    /// Where the rule is written (`mapping.metric[3]`), for `parse --explain`.
    pub(super) origin: String,
    pub(super) matcher: Matcher,
    pub(super) when: Vec<(String, Regex)>,
    /// Rules with the same `when` share a slot, rules that reshape labels the same way
    /// another: the per-row caches in `Builder` are kept per slot.
    pub(super) when_slot: usize,
    pub(super) labels_slot: usize,
    /// A rule whose name and help do not depend on the key (a `key` rule, or a `match`
    /// rule whose name and help use no capture): one family for all its records.
    pub(super) fixed_name: bool,
    pub(super) name: Option<String>,
    pub(super) prefix: Option<String>,
    pub(super) help: String,
    pub(super) unit: Option<String>,
    pub(super) labels: Labels,
    pub(super) rename_labels: BTreeMap<String, String>,
    pub(super) drop_labels: Vec<String>,
    pub(super) keep_going: bool,
    pub(super) action: Action,
    /// Labels recalled, remembered, mapped, cased, and a computed value (see
    /// [`super::derive`]); `None` for most rules, whose records go by untouched.
    pub(super) derive: Option<Box<super::derive::Derive>>,
}

/// The names `type` takes (`unknown` is an alias of `untyped`, as in OpenMetrics, and
/// `enum` of `stateset`).
pub(super) const TYPES: &[&str] = &[
    "gauge", "counter", "info", "stateset", "enum", "untyped", "unknown",
];

pub(super) fn full_match(pattern: &str, what: &str) -> Result<Regex, RecipeError> {
    Regex::new(&format!("^(?:{pattern})$"))
        .map_err(|e| RecipeError::new(ErrorKind::Pattern, e.to_string()).at(what))
}

pub(super) fn labels_of(map: &BTreeMap<String, String>) -> Labels {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn parse_kind(k: &str) -> Result<MetricKind, RecipeError> {
    MetricKind::parse(k).ok_or_else(|| {
        RecipeError::new(
            ErrorKind::UnknownName,
            format!(
                "unknown type {k:?}; expected one of {}{}",
                TYPES.join(", "),
                crate::text::did_you_mean(k, TYPES.iter().copied())
            ),
        )
    })
}

fn non_numeric(v: Option<&str>) -> Result<bool, RecipeError> {
    match v {
        None | Some("error") => Ok(false),
        Some("skip") => Ok(true),
        Some(o) => Err(format!("non_numeric must be \"error\" or \"skip\", not {o:?}").into()),
    }
}

/// Refuses a key that has no effect on a rule of this type: a rule means what it says.
fn check_keys(r: &RuleOptions, kind: Option<MetricKind>) -> Result<(), RecipeError> {
    if r.drop {
        if let Some(k) = r.making_keys().first() {
            return Err(
                format!("`{k}` does not apply to a `drop` rule, which makes nothing").into(),
            );
        }
        return Ok(());
    }
    if let Some(k) = ["buckets", "quantiles", "window"]
        .into_iter()
        .find(|k| r.value_keys().contains(k))
    {
        return Err(format!("`{k}` applies to a rule with accumulate = \"observe\"").into());
    }
    let (allowed, what): (&[&str], String) = match kind {
        Some(MetricKind::Info) => (&["label"], "type \"info\"".into()),
        Some(MetricKind::StateSet) => (
            &["label", "states", "ignore_case"],
            "type \"stateset\"".into(),
        ),
        Some(MetricKind::Summary) => (
            &["unit", "scale", "non_numeric", "part", "quantile"],
            "type \"summary\"".into(),
        ),
        Some(MetricKind::Histogram) => (
            &["unit", "scale", "non_numeric", "part", "le"],
            "type \"histogram\"".into(),
        ),
        _ if !r.chars.is_empty() => (&["chars", "label"], "a rule with `chars`".into()),
        k => (
            &[
                "unit",
                "scale",
                "words",
                "ignore_case",
                "value_format",
                "non_numeric",
            ],
            format!("type {:?}", k.unwrap_or(MetricKind::Gauge).as_str()),
        ),
    };
    if let Some(k) = r.value_keys().iter().find(|k| !allowed.contains(k)) {
        return Err(format!("`{k}` does not apply to {what}").into());
    }
    match (r.part.as_deref(), kind) {
        (Some("sum" | "count"), _) if r.quantile.is_some() || r.le.is_some() => {
            let k = if r.quantile.is_some() {
                "quantile"
            } else {
                "le"
            };
            return Err(format!(
                "`{k}` does not apply to part {:?}",
                r.part.as_deref().unwrap_or("")
            )
            .into());
        }
        (Some("bucket"), Some(MetricKind::Summary))
        | (Some("quantile"), Some(MetricKind::Histogram)) => {
            return Err(format!(
                "part {:?} does not apply to type {:?}",
                r.part.as_deref().unwrap_or(""),
                kind.map_or("", MetricKind::as_str)
            )
            .into());
        }
        _ => {}
    }
    if !r.words.is_empty() && r.value_format.as_deref() == Some("date") {
        return Err("`words` does not apply to value_format = \"date\"".into());
    }
    if r.ignore_case && r.words.is_empty() && r.states.is_empty() {
        return Err("`ignore_case` applies to `words` or `states`; neither is given".into());
    }
    Ok(())
}

impl Rule {
    /// Compiles one rule, with its group's settings when it is in a `[[mapping.group]]`.
    pub(super) fn new(
        r: RuleOptions,
        group: Option<&GroupOptions>,
        defaults: &DefaultsOptions,
        compiled: &mut HashMap<String, Regex>,
        origin: String,
    ) -> Result<Rule, RecipeError> {
        // The rule's own keys are checked, not the group's: a group's label edits mean
        // nothing to its `drop` rules, and that is no mistake of the rule.
        if r.drop {
            check_keys(&r, None)?;
        }
        let r = match group {
            Some(g) => g.apply_to(r),
            None => r,
        };
        let kind = r.kind.as_deref().map(parse_kind).transpose()?;
        let derive = super::derive::Derive::new(&r)?.map(Box::new);
        let accumulate = match (&r.accumulate, r.drop) {
            (Some(verb), false) => Some(Accumulate::new(&r, verb, kind, defaults)?),
            _ => None,
        };
        if !r.drop && accumulate.is_none() {
            check_keys(&r, kind)?;
        }
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
            .collect::<Result<Vec<_>, RecipeError>>()?;
        let action = if r.drop {
            Action::Drop
        } else if let Some(a) = accumulate {
            Action::Accumulate(a)
        } else {
            match kind {
                Some(MetricKind::Info) => Action::Info { label: r.label },
                Some(MetricKind::StateSet) => {
                    if r.states.is_empty() {
                        return Err("a stateset needs `states`".into());
                    }
                    Action::StateSet {
                        label: r.label,
                        states: r.states,
                        ignore_case: r.ignore_case,
                    }
                }
                Some(k @ (MetricKind::Summary | MetricKind::Histogram)) => {
                    let summary = k == MetricKind::Summary;
                    let part = match r.part.as_deref() {
                        None if summary => Part::Quantile(r.quantile),
                        None => Part::Bucket(r.le),
                        Some("quantile") => Part::Quantile(r.quantile),
                        Some("bucket") => Part::Bucket(r.le),
                        Some("sum") => Part::Sum,
                        Some("count") => Part::Count,
                        Some(o) => {
                            return Err(format!(
                                "part must be \"quantile\", \"bucket\", \"sum\" or \"count\", not {o:?}"
                            ).into())
                        }
                    };
                    // Where the quantile or bound comes from when the rule gives none.
                    if let Some(q) = r.quantile.filter(|q| !(0.0..=1.0).contains(q)) {
                        return Err(format!("quantile {q} is not between 0 and 1").into());
                    }
                    let captures: Vec<String> = match &matcher {
                        Matcher::Pattern(re) => {
                            re.capture_names().flatten().map(str::to_string).collect()
                        }
                        _ => Vec::new(),
                    };
                    let has = |n: &str| captures.iter().any(|c| c == n);
                    match part {
                        Part::Quantile(None) if !has("quantile") && !has("percentile") => {
                            return Err("a summary's quantiles need `quantile`, or a `match` capture named `quantile` or `percentile`".into())
                        }
                        Part::Bucket(None) if !has("le") => {
                            return Err("a histogram's buckets need `le`, or a `match` capture named `le`".into())
                        }
                        _ => {}
                    }
                    Action::Part {
                        kind: k,
                        part,
                        read: Read::Number(Words::default()),
                        scale: r.scale,
                        skip_non_numeric: non_numeric(r.non_numeric.as_deref())?,
                    }
                }
                _ if !r.chars.is_empty() => Action::Chars {
                    kind,
                    label: r.label.unwrap_or_else(|| "state".into()),
                    chars: r
                        .chars
                        .into_iter()
                        .map(|(c, state)| {
                            let mut it = c.chars();
                            match (it.next(), it.next()) {
                                (Some(ch), None) => Ok((ch, state)),
                                _ => Err(format!("chars: {c:?} is not one character").into()),
                            }
                        })
                        .collect::<Result<Vec<_>, RecipeError>>()?,
                },
                _ => Action::Value {
                    kind,
                    read: match r.value_format.as_deref() {
                        None | Some("number") => Read::Number(Words::new(r.words, r.ignore_case)?),
                        Some("date") => Read::Date,
                        Some(o) => {
                            return Err(format!(
                                "value_format must be \"number\" or \"date\", not {o:?}"
                            )
                            .into())
                        }
                    },
                    scale: r.scale,
                    skip_non_numeric: non_numeric(r.non_numeric.as_deref())?,
                },
            }
        };
        // A `key` rule has one key, so one name; a `match` rule one when its name and
        // help do not depend on the key.
        let fixed_name = matches!(matcher, Matcher::Key(_))
            || (matches!(matcher, Matcher::Pattern(_))
                && r.name.as_deref().is_some_and(|n| !n.contains('{'))
                && !r.help.contains("{key}"));
        // A computed value is read as a number: a rule that reads none cannot use it.
        let reads_number = match &action {
            Action::Value { read, .. } => matches!(read, Read::Number(_)),
            Action::Part { .. } => true,
            Action::Accumulate(a) => a.verb != super::accumulate::Verb::Count,
            _ => false,
        };
        if derive.as_ref().is_some_and(|d| d.computes()) && !reads_number {
            return Err("`value` applies to a rule that reads a number (a gauge, counter, untyped, summary or histogram, or accumulate sum, observe or set)".into());
        }
        Ok(Rule {
            origin,
            matcher,
            when,
            when_slot: 0,
            labels_slot: 0,
            fixed_name,
            name: r.name,
            prefix: r.prefix,
            help: r.help,
            unit: r.unit,
            labels: labels_of(&r.labels),
            rename_labels: r.rename_labels,
            drop_labels: r.drop_labels,
            keep_going: r.keep_going,
            action,
            derive,
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

    /// The rule for a reader: where it is written and what it matches.
    pub(super) fn describe(&self) -> String {
        let what = match &self.matcher {
            Matcher::Key(k) => format!("key {k:?}"),
            Matcher::Names(_) => "names".to_string(),
            Matcher::Pattern(re) => {
                let p = re.as_str();
                let p = p
                    .strip_prefix("^(?:")
                    .and_then(|p| p.strip_suffix(")$"))
                    .unwrap_or(p);
                // As written in the recipe (a TOML literal string), cut after 60 characters.
                let cut: String = p.chars().take(60).collect();
                let more = if cut.len() < p.len() { "..." } else { "" };
                format!("match '{cut}'{more}")
            }
        };
        format!("{} ({what})", self.origin)
    }

    pub(super) fn reshapes(&self) -> bool {
        !self.labels.is_empty() || !self.rename_labels.is_empty() || !self.drop_labels.is_empty()
    }

    /// The family kind this rule makes for a record declaring `declared`.
    pub(super) fn kind(&self, declared: Option<MetricKind>) -> MetricKind {
        match &self.action {
            Action::Info { .. } => MetricKind::Info,
            Action::Part { kind, .. } => *kind,
            Action::StateSet { .. } => MetricKind::StateSet,
            Action::Accumulate(a) => a.kind,
            Action::Value { kind, .. } | Action::Chars { kind, .. } => {
                kind.or(declared).unwrap_or(MetricKind::Gauge)
            }
            Action::Drop => MetricKind::Untyped,
        }
    }
}
