//! What a matched record becomes: its family (name, kind, help), its labels, and its
//! samples, per rule [`Action`]; and the catch-all for records no rule matched.

use super::accumulate::Verb;
use super::build::{expand, expand_help, uses_placeholder, with_label, with_unit, Builder, Piece};
use super::rule::{Action, Part, Read, Rule, Words};
use super::{Made, Mapping};
use crate::family::{
    is_valid_metric_name, le_label, name_part, LabelSet, Labels, MetricKind, Suffix,
};
use crate::parse::trace::Step;
use crate::parse::{number, Issue, Record};

/// Sets `name` to `value`, replacing a label of that name: a static label wins over one
/// found in the data (the same rule as a source's `labels`), instead of repeating it.
fn set_label(labels: &mut Labels, name: &str, value: &str) {
    match labels.iter_mut().find(|(k, _)| k == name) {
        Some((_, v)) => value.clone_into(v),
        None => labels.push((name.to_string(), value.to_string())),
    }
}

/// Captures that place a record in its summary or histogram rather than label it.
const PART_CAPTURES: &[&str] = &["quantile", "percentile", "le"];

/// The record's value as the rule reads it, times `scale`, or `None` when it is not one
/// (counted as a parse error, or as unmatched under `non_numeric = "skip"`).
fn read_value(
    read: &Read,
    scale: f64,
    skip_non_numeric: bool,
    record: &Record,
    out: &mut Builder,
    issues: &mut Vec<Issue>,
) -> Option<f64> {
    // A date says why it is not one (a zone name it will not guess, no such day...): the
    // user needs the reason to fix the writer.
    let value = match read {
        Read::Date => {
            crate::parse::date::parse(&record.value).map_err(|e| format!("is not a date: {e}"))
        }
        Read::Number(words) => words
            .get(&record.value)
            .or_else(|| number::parse(&record.value))
            .ok_or_else(|| "is not a number".to_string()),
    };
    match value {
        Ok(value) => Some(value * scale),
        Err(why) => {
            if skip_non_numeric {
                out.step(|| {
                    Step::Skipped(format!(
                        "value {:?} {why}, skipped (non_numeric = \"skip\")",
                        record.value
                    ))
                });
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
            None
        }
    }
}

/// Which series of its summary or histogram a record is: the rule's fixed quantile or
/// bound, or the capture that gives it (`quantile` as written, `percentile` / 100, `le`).
/// Why a record is no piece of its summary or histogram (a problem with the app's data).
#[derive(Debug, thiserror::Error)]
enum PieceError {
    #[error("quantile {0:?} is not between 0 and 1 (a percentile? name the capture `percentile`)")]
    QuantileOutOfRange(String),
    #[error("quantile {0:?} is not a number")]
    QuantileNotANumber(String),
    #[error("percentile {0:?} is not a number")]
    PercentileNotANumber(String),
    #[error("no quantile")]
    NoQuantile,
    #[error("bucket bound {0:?} is not a number")]
    BoundNotANumber(String),
    #[error("no bucket bound")]
    NoBound,
}

fn piece_of(part: Part, captures: &[(String, String)]) -> Result<Piece, PieceError> {
    let capture = |n: &str| {
        captures
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    match part {
        Part::Sum => Ok(Piece::Sum),
        Part::Count => Ok(Piece::Count),
        Part::Quantile(Some(q)) => Ok(Piece::Quantile(q, le_label(q))),
        Part::Quantile(None) => match (capture("quantile"), capture("percentile")) {
            // OpenMetrics refuses a quantile outside [0, 1]: `p99` is a percentile.
            (Some(t), _) => match number::parse(t) {
                Some(q) if (0.0..=1.0).contains(&q) => Ok(Piece::Quantile(q, t.to_string())),
                Some(_) => Err(PieceError::QuantileOutOfRange(t.to_string())),
                None => Err(PieceError::QuantileNotANumber(t.to_string())),
            },
            (None, Some(t)) => number::parse(t)
                // Rounded so `99.9` is the quantile 0.999, not 0.9990000000000001.
                .map(|p| (p * 1e6).round() / 1e8)
                .map(|q| Piece::Quantile(q, le_label(q)))
                .ok_or_else(|| PieceError::PercentileNotANumber(t.to_string())),
            (None, None) => Err(PieceError::NoQuantile),
        },
        Part::Bucket(Some(b)) => Ok(Piece::Bucket(b)),
        Part::Bucket(None) => match capture("le") {
            Some("+Inf" | "Inf" | "inf" | "+inf") => Ok(Piece::Bucket(f64::INFINITY)),
            Some(t) => number::parse(t)
                .map(Piece::Bucket)
                .ok_or_else(|| PieceError::BoundNotANumber(t.to_string())),
            None => Err(PieceError::NoBound),
        },
    }
}

/// A rule that matched a key: its index, its captures of the key, and where the family
/// name and help it makes of the key are kept across reads (`None` for a key not kept).
pub(super) struct Hit<'a> {
    pub(super) rule: usize,
    pub(super) captures: &'a [(String, String)],
    pub(super) made: Option<&'a Made>,
}

impl Mapping {
    /// Whether the record's labels satisfy the rule's `when`. Rows share label sets, so the
    /// answer for the last set seen is kept per distinct `when`.
    pub(super) fn when_holds(&self, rule: &Rule, record: &Record, out: &mut Builder) -> bool {
        if rule.when.is_empty() {
            return true;
        }
        let Some(cache) = out.when.get_mut(rule.when_slot) else {
            return false;
        };
        cache.get_or_insert_with(&record.labels, || {
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
    /// and drops, then the mapping's own labels. Static labels replace data labels of the
    /// same name, and a rule's win over the mapping's. The result depends only on the rule
    /// and the record's label set, so consecutive records of one row share one copy.
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
        let no_captures = captures.is_empty();
        let make = || -> LabelSet {
            // Built at its final size, each kept label copied once, under its new name.
            let more = captures.len() + rule.map_or(0, |r| r.labels.len()) + self.labels.len();
            let mut labels: Labels = Vec::with_capacity(record.labels.len() + more);
            for (k, v) in record.labels.iter() {
                let k = match rule {
                    Some(rule) if rule.drop_labels.contains(k) => continue,
                    Some(rule) => rule.rename_labels.get(k).unwrap_or(k),
                    None => k,
                };
                labels.push((k.clone(), v.clone()));
            }
            labels.extend(captures);
            if let Some(rule) = rule {
                for (k, v) in &rule.labels {
                    set_label(&mut labels, k, v);
                }
            }
            for (k, v) in &self.labels {
                if !rule.is_some_and(|r| r.labels.iter().any(|(n, _)| n == k)) {
                    set_label(&mut labels, k, v);
                }
            }
            labels.into()
        };
        // Captures come from the key, not the row: only capture-free results are kept.
        match out.labels.get_mut(slot).filter(|_| no_captures) {
            Some(cache) => cache.get_or_insert_with(&record.labels, make),
            None => make(),
        }
    }

    pub(super) fn emit_unmatched(
        &self,
        record: &Record,
        made: Option<&Made>,
        out: &mut Builder,
        issues: &mut Vec<Issue>,
    ) {
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
        let made = made.filter(|_| cacheable);
        let cached = if cacheable && made.is_none() {
            out.unmatched.get(record.key.as_ref()).copied()
        } else {
            None
        };
        let name_and_help = || {
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
                None if self.unmatched_help.is_empty() => default_help(&record.key),
                None => expand_help(&self.unmatched_help, &record.key, &short),
            };
            (format!("{}{short}", self.prefix), help)
        };
        let f = match cached {
            Some(f) => f,
            None => {
                let f = out.family_made(made, kind, name_and_help);
                if cacheable && made.is_none() {
                    out.unmatched.insert(record.key.to_string(), f);
                }
                f
            }
        };
        let labels = self.labels(None, record, Vec::new(), out);
        if record.suffix == Suffix::None {
            out.push(f, labels, value * scale);
        } else {
            out.push_suffixed(f, labels, record.suffix, value * scale);
        }
    }

    pub(super) fn emit(
        &self,
        hit: Hit<'_>,
        rule: &Rule,
        record: &Record,
        out: &mut Builder,
        issues: &mut Vec<Issue>,
    ) {
        let Hit {
            rule: rule_idx,
            captures,
            made,
        } = hit;
        if matches!(rule.action, Action::Drop) {
            out.step(|| Step::Dropped(rule.describe()));
            // A `drop` rule may still remember what a later line uses.
            if let Some(d) = &rule.derive {
                d.apply(record, &self.state_limits, out, issues);
            }
            return;
        }
        out.step(|| Step::Took(rule.describe()));
        // A rule that derives labels or its value sees the record as that made it.
        let derived;
        let record = match &rule.derive {
            None => record,
            Some(d) => match d.apply(record, &self.state_limits, out, issues) {
                Some(r) => {
                    derived = r;
                    &derived
                }
                None => return,
            },
        };
        let (source_scale, source_unit) = self.source_unit(record);
        let template = match &rule.matcher {
            super::rule::Matcher::Names(n) => {
                n.get(record.key.as_ref()).map_or("{key}", String::as_str)
            }
            _ => rule.name.as_deref().unwrap_or("{key}"),
        };
        let kind = rule.kind(record.kind);
        // The family's name and help depend only on the rule and the key (unless the record
        // brings its own unit, kind or help), so they are built once per key, not per record.
        let cacheable = record.unit.is_none() && record.kind.is_none() && record.help.is_none();
        // A `match` rule with a fixed name (`cmdstat_(?P<cmd>.+)\.calls` -> `commands`) has
        // one family for all its keys.
        let fixed = rule.fixed_name && cacheable;
        let name_and_help = || {
            let prefix = rule.prefix.as_deref().unwrap_or(&self.prefix);
            let short = with_unit(
                expand(template, &record.key, captures),
                rule.unit.as_deref().or(source_unit),
            );
            let help = if rule.help.is_empty() {
                record
                    .help
                    .clone()
                    .unwrap_or_else(|| default_help(&record.key))
            } else {
                expand_help(&rule.help, &record.key, &short)
            };
            (format!("{prefix}{short}"), help)
        };
        let family = |out: &mut Builder| -> usize {
            if let Some(i) = out.cached_family(rule_idx, fixed, cacheable, &record.key) {
                return i;
            }
            // A key met in an earlier read: its name and help were made then, and the
            // family is found by name (no per-read copy of the key either).
            let made = made.filter(|_| cacheable);
            let i = out.family_made(made, kind, name_and_help);
            if fixed || made.is_none() {
                out.cache_family(rule_idx, fixed, cacheable, &record.key, i);
            }
            i
        };
        // Captures the name uses are not also labels, nor those that say which series of a
        // summary or histogram a record is.
        let is_part = matches!(rule.action, Action::Part { .. });
        let label_captures = captures
            .iter()
            .filter(|(k, _)| !uses_placeholder(template, k))
            .filter(|(k, _)| !(is_part && PART_CAPTURES.contains(&k.as_str())))
            .cloned()
            .collect();
        let labels = self.labels(Some(rule), record, label_captures, out);

        match &rule.action {
            Action::Drop => {}
            Action::Info { label } => {
                let label = label.clone().unwrap_or_else(|| name_part(&record.key));
                let f = family(out);
                out.push_info(f, &labels, (label, record.value.to_string()));
            }
            Action::StateSet {
                label,
                states,
                ignore_case,
            } => {
                let f = family(out);
                let label = label
                    .clone()
                    .unwrap_or_else(|| out.family_name(f).to_string());
                // A state with a qualifier (`UP 1/2`, `MAINT(via)`) is that state.
                let value = record.value.as_ref();
                let is = |s: &str| {
                    let base = value.split_at_checked(s.len()).and_then(|(head, rest)| {
                        let same = if *ignore_case {
                            head.eq_ignore_ascii_case(s) || head.to_lowercase() == s.to_lowercase()
                        } else {
                            head == s
                        };
                        same.then_some(rest)
                    });
                    base.is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '(']))
                };
                let current = states.iter().find(|s| is(s));
                if current.is_none() {
                    issues.push(Issue::new(
                        record.line,
                        format!("{}: unknown state {:?}", record.key, value),
                    ));
                }
                for state in states {
                    let value = f64::from(u8::from(Some(state) == current));
                    out.push(f, with_label(&labels, &label, state), value);
                }
            }
            Action::Chars { label, chars, .. } => {
                let f = family(out);
                for (ch, state) in chars {
                    let count = record.value.chars().filter(|c| c == ch).count();
                    out.push(f, with_label(&labels, label, state), count as f64);
                }
            }
            Action::Value {
                read,
                scale,
                skip_non_numeric,
                ..
            } => {
                let scale = scale.unwrap_or(source_scale);
                let Some(value) = read_value(read, scale, *skip_non_numeric, record, out, issues)
                else {
                    return;
                };
                let f = family(out);
                if record.suffix == Suffix::None {
                    out.push(f, labels, value);
                } else if matches!(kind, MetricKind::Summary | MetricKind::Histogram) {
                    out.push_suffixed(f, labels, record.suffix, value);
                } else {
                    issues.push(Issue::new(
                        record.line,
                        format!(
                            "{}{}: a series of the source's {}, which a rule of type {:?} cannot hold",
                            record.key,
                            record.suffix.as_str(),
                            record.kind.map_or("summary", MetricKind::as_str),
                            kind.as_str()
                        ),
                    ));
                }
            }
            Action::Accumulate(a) => {
                let value = match (a.verb, record.value.as_ref()) {
                    (Verb::Count, _) => 1.0,
                    // A log's "-" for "none" (Apache's %b for no body, nginx's upstream
                    // time without an upstream): nothing to add for this record.
                    (_, "-" | "") => {
                        out.step(|| {
                            Step::Nothing(format!("value {:?} adds nothing", record.value))
                        });
                        return;
                    }
                    _ => {
                        let read = Read::Number(Words::default());
                        let Some(v) =
                            read_value(&read, a.scale, a.skip_non_numeric, record, out, issues)
                        else {
                            return;
                        };
                        v
                    }
                };
                if a.verb == Verb::Sum && value < 0.0 {
                    issues.push(Issue::new(
                        record.line,
                        format!("{}: a counter cannot add {value}", record.key),
                    ));
                    return;
                }
                let f = family(out);
                out.observe(f, rule_idx, labels, value, a.verb);
            }
            Action::Part {
                part,
                read,
                scale,
                skip_non_numeric,
                ..
            } => {
                let scale = scale.unwrap_or(source_scale);
                let Some(value) = read_value(read, scale, *skip_non_numeric, record, out, issues)
                else {
                    return;
                };
                let piece = match piece_of(*part, captures) {
                    Ok(piece) => piece,
                    Err(why) => {
                        issues.push(Issue::new(record.line, format!("{}: {why}", record.key)));
                        return;
                    }
                };
                let f = family(out);
                out.push_piece(f, labels, piece, value, record.line, issues);
            }
        }
    }
}

/// HELP for a family whose rule (or `unmatched_help`) gives none: the source's key as
/// written, so the page still passes promtool's lint and says where the number came from.
fn default_help(key: &str) -> String {
    format!("{key}, as the source writes it")
}
