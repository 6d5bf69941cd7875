//! What a rule does to a record before it becomes a metric: recall labels an earlier line
//! kept (`recall`), keep some for a later line (`remember`), map label values to words
//! (`map_labels`), change their case (`label_case`), and compute the value from the record's
//! own and its labels (`value`, with `date_labels` read as timestamps). A rule that uses
//! none of them has no [`Derive`], and its records go by untouched (no copy, no allocation).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Instant;

use super::build::Builder;
use super::expr::Expr;
use super::options::{RecallOptions, RememberOptions, RuleOptions};
use super::state::Limits;
use crate::parse::date::Layout;
use crate::parse::trace::Step;
use crate::parse::{number, Issue, RecipeError, Record};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Lower,
    Upper,
}

#[derive(Debug)]
pub(super) struct Derive {
    recall: Option<RecallOptions>,
    remember: Option<RememberOptions>,
    maps: Vec<(String, BTreeMap<String, String>)>,
    cases: Vec<(String, Case)>,
    /// The expression, and the labels it reads (`value` aside): they are its operands,
    /// not labels of the sample.
    value: Option<(Expr, Vec<String>)>,
    /// The expression as written, for `parse --explain`.
    value_text: String,
    dates: Vec<(String, Layout)>,
}

impl Derive {
    /// `None` when the rule uses none of these keys.
    pub(super) fn new(r: &RuleOptions) -> Result<Option<Derive>, RecipeError> {
        let cases = r
            .label_case
            .iter()
            .map(|(label, c)| match c.as_str() {
                "lower" => Ok((label.clone(), Case::Lower)),
                "upper" => Ok((label.clone(), Case::Upper)),
                o => Err(RecipeError::invalid(format!(
                    "expected \"lower\" or \"upper\", not {o:?}"
                ))
                .at(format!("label_case.{label}"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let value = match &r.value {
            None => None,
            Some(text) => {
                let e = Expr::parse(text).map_err(|e| RecipeError::invalid(e).at("value"))?;
                let mut names = Vec::new();
                e.names(&mut names);
                names.retain(|n| n != "value");
                Some((e, names))
            }
        };
        let dates = r
            .date_labels
            .iter()
            .map(|(label, layout)| {
                Layout::new(layout)
                    .map(|l| (label.clone(), l))
                    .map_err(|e| RecipeError::invalid(e).at(format!("date_labels.{label}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some((label, _)) = dates
            .iter()
            .find(|(l, _)| !value.as_ref().is_some_and(|(_, names)| names.contains(l)))
        {
            return Err(RecipeError::invalid(format!(
                "label {label:?} is read as a date only as an operand of `value`, which does not use it"
            ))
            .at("date_labels"));
        }
        for (what, by) in [
            ("remember", r.remember.as_ref().map(|x| &x.by)),
            ("recall", r.recall.as_ref().map(|x| &x.by)),
        ] {
            if by.is_some_and(|b| b.is_empty()) {
                return Err(
                    RecipeError::invalid("needs the label whose value is the key")
                        .at(format!("{what}.by")),
                );
            }
        }
        if r.remember.as_ref().is_some_and(|m| m.labels.is_empty()) {
            return Err(
                RecipeError::invalid("nothing to remember: give labels").at("remember.labels")
            );
        }
        let used = r.recall.is_some()
            || r.remember.is_some()
            || !r.map_labels.is_empty()
            || !cases.is_empty()
            || value.is_some();
        Ok(used.then(|| Derive {
            recall: r.recall.clone(),
            remember: r.remember.clone(),
            maps: r.map_labels.clone().into_iter().collect(),
            cases,
            value,
            value_text: r.value.clone().unwrap_or_default(),
            dates,
        }))
    }

    pub(super) fn remembers(&self) -> bool {
        self.remember.is_some()
    }

    /// Whether it computes the value (which a `count` or a text rule does not read).
    pub(super) fn computes(&self) -> bool {
        self.value.is_some()
    }

    /// The record as the rule sees it, or `None` when it makes nothing (nothing was
    /// remembered for its key, an operand is empty or not a number).
    pub(super) fn apply<'a>(
        &self,
        record: &Record<'a>,
        limits: &Limits,
        out: &mut Builder,
        issues: &mut Vec<Issue>,
    ) -> Option<Record<'a>> {
        let mut labels: Vec<(String, String)> = record.labels.to_vec();
        let label = |labels: &[(String, String)], name: &str| -> String {
            labels
                .iter()
                .find(|(k, _)| k == name)
                .map_or_else(String::new, |(_, v)| v.clone())
        };
        let now = Instant::now();
        if let Some(recall) = &self.recall {
            let key = label(&labels, &recall.by);
            match out
                .state
                .recall(&recall.by, &key, recall.forget, now, limits)
            {
                Some(entry) => {
                    out.step(|| {
                        let kept: Vec<String> = entry
                            .labels
                            .iter()
                            .map(|(k, v)| format!("{k}={v:?}"))
                            .collect();
                        Step::Derived(format!(
                            "recalled {} for {}={key:?}, remembered from line {}{}",
                            kept.join(", "),
                            recall.by,
                            entry.line,
                            if recall.forget {
                                " (now forgotten)"
                            } else {
                                ""
                            }
                        ))
                    });
                    for (k, v) in entry.labels {
                        if !labels.iter().any(|(n, _)| *n == k) {
                            labels.push((k, v));
                        }
                    }
                }
                None => {
                    let why = format!(
                        "nothing remembered for {}={key:?} (no earlier line, or it expired)",
                        recall.by
                    );
                    out.unused
                        .add(record.line, || format!("{}: {why}", record.key));
                    out.step(|| Step::Skipped(why));
                    return None;
                }
            }
        }
        if let Some(remember) = &self.remember {
            let key = label(&labels, &remember.by);
            let kept: Vec<(String, String)> = remember
                .labels
                .iter()
                .map(|(as_, from)| (as_.clone(), label(&labels, from)))
                .collect();
            out.step(|| {
                let shown: Vec<String> = kept.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                Step::Derived(format!(
                    "remembered {} for {}={key:?}",
                    shown.join(", "),
                    remember.by
                ))
            });
            out.state
                .remember(&remember.by, &key, kept, record.line, now, limits);
        }
        for (name, map) in &self.maps {
            if let Some((_, v)) = labels.iter_mut().find(|(k, _)| k == name) {
                if let Some(word) = map.get(v.as_str()) {
                    out.step(|| Step::Derived(format!("{name} {v:?} -> {word:?} (map_labels)")));
                    word.clone_into(v);
                }
            }
        }
        for (name, case) in &self.cases {
            if let Some((_, v)) = labels.iter_mut().find(|(k, _)| k == name) {
                let new = match case {
                    Case::Lower => v.to_lowercase(),
                    Case::Upper => v.to_uppercase(),
                };
                if new != *v {
                    out.step(|| Step::Derived(format!("{name} {v:?} -> {new:?} (label_case)")));
                }
                *v = new;
            }
        }
        let mut value = record.value.clone();
        if let Some((expr, operands)) = &self.value {
            let mut empty = None;
            let mut read: Vec<(String, f64)> = Vec::new();
            let tracing = out.tracing();
            let result = expr.eval(&mut |name| {
                let text = if name == "value" {
                    record.value.to_string()
                } else {
                    label(&labels, name)
                };
                if text.is_empty() || text == "-" {
                    empty = Some(name.to_string());
                    return Err(String::new());
                }
                let v = match self.dates.iter().find(|(l, _)| l == name) {
                    Some((_, layout)) => layout
                        .parse(&text)
                        .map_err(|e| format!("{name} {text:?}: {e}")),
                    None => number::parse(&text)
                        .ok_or_else(|| format!("{name} {text:?} is not a number")),
                }?;
                if tracing && !read.iter().any(|(n, _)| n == name) {
                    read.push((name.to_string(), v));
                }
                Ok(v)
            });
            match (result, empty) {
                (_, Some(name)) => {
                    out.step(|| Step::Nothing(format!("{name} is empty: the value adds nothing")));
                    return None;
                }
                (Err(why), None) => {
                    issues.push(Issue::new(
                        record.line,
                        format!("{}: value: {why}", record.key),
                    ));
                    return None;
                }
                (Ok(v), None) => {
                    out.step(|| {
                        let shown: Vec<String> =
                            read.iter().map(|(n, x)| format!("{n} = {x}")).collect();
                        Step::Derived(format!(
                            "value = {} = {v} ({})",
                            self.value_text,
                            shown.join(", ")
                        ))
                    });
                    value = Cow::Owned(v.to_string());
                }
            }
            labels.retain(|(k, _)| !operands.contains(k));
        }
        Some(Record {
            key: record.key.clone(),
            labels: labels.into(),
            value,
            unit: record.unit,
            kind: record.kind,
            help: record.help.clone(),
            suffix: record.suffix,
            line: record.line,
            from: record.from.clone(),
        })
    }
}

#[cfg(test)]
mod tests;
