//! `regex`: named-capture rules for text with no regular shape (nginx `stub_status`, logs,
//! banners). Each match makes one record per value capture; other named captures are labels.
//! In line mode a non-blank line no rule matches is counted as unmatched (format drift shows);
//! a rule with `drop = true` marks lines that are known and carry nothing (a header).

use crate::parse::RecipeError;
use std::borrow::Cow;

use regex::{CaptureLocations, Regex};
use serde::Deserialize;

use crate::family::{LabelSet, Suffix};
use crate::parse::records::RecordFraming;
use crate::parse::{numbered_lines, ParseError, Record, RecordSink, Unmatched};
use crate::text::excerpt;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Match against the whole text instead of line by line.
    pub whole_text: bool,
    pub rule: Vec<RuleOptions>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOptions {
    pub pattern: String,
    /// Captures that hold values; default `["value"]`.
    #[serde(default)]
    pub values: Vec<String>,
    /// `record_key`: the key of the records made. With one value capture it is the key; with
    /// several, `record_key.capture`.
    /// Default: the capture's name. `{name}` is replaced by that capture's text (`{key}`
    /// for a capture named `key`); a capture used so is not a label. A capture named `unit`
    /// is the value's unit (`kB`), not a label.
    #[serde(rename = "record_key")]
    pub key: Option<String>,
    /// Each line the rule matches also makes one record of this key, value 1, labelled
    /// like the others: what a log recipe counts its lines by (`accumulate = "count"`).
    pub line_key: Option<String>,
    /// The lines this rule matches are known and make no record (a header line).
    #[serde(default)]
    pub drop: bool,
    /// Captures taken from another capture's text (`method` from `request`).
    #[serde(default)]
    pub derive: Vec<DeriveOptions>,
}

/// `[[regex.rule.derive]]`: a capture made by a second, small pattern run on one capture's
/// text. It keeps the line's pattern free of choices it can only settle later ("the first
/// word, when a space follows it"): such a pattern is one-pass, read in one go, where one
/// with such a choice is searched, then backtracked, and costs about three times as much.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeriveOptions {
    /// The new capture's name; a label or a value like any other.
    pub name: String,
    /// The capture whose text `pattern` reads; it is not a label itself.
    pub from: String,
    /// Its first group is the new capture; no match (or no group taking part) is "none".
    pub pattern: String,
}

/// A compiled `derive`: its capture index is the line pattern's count plus its position.
#[derive(Debug)]
struct Derive {
    from: usize,
    regex: Regex,
}

#[derive(Debug)]
struct Rule {
    regex: Regex,
    /// Empty for a `drop` rule: its lines make no record. With each, its capture's index.
    values: Vec<(String, usize)>,
    labels: Vec<(String, usize)>,
    key: Option<String>,
    line_key: Option<String>,
    /// The index of the capture named `unit`, if any.
    unit: Option<usize>,
    derive: Vec<Derive>,
}

#[derive(Debug)]
pub struct RegexFormat {
    whole_text: bool,
    rules: Vec<Rule>,
    /// Multi-line records (`[framing] record_start`): each is matched as one "line".
    framing: Option<RecordFraming>,
}

impl RegexFormat {
    pub fn new(opts: Options) -> Result<Self, RecipeError> {
        if opts.rule.is_empty() {
            return Err("regex format needs at least one [[regex.rule]]".into());
        }
        let rules = opts
            .rule
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let regex =
                    Regex::new(&r.pattern).map_err(|e| {
                    RecipeError::new(crate::parse::ErrorKind::Pattern, e.to_string())
                        .at(format!("regex.rule[{i}].pattern"))
                })?;
                if r.drop && (!r.values.is_empty() || r.key.is_some() || r.line_key.is_some()) {
                    // A `drop` rule makes no record: its `values` or key would do nothing.
                    return Err(format!(
                        "regex.rule[{i}]: `drop` makes no record; drop `values`, `record_key` and `line_key`"
                    ).into());
                }
                let values = if r.drop {
                    Vec::new()
                } else if r.values.is_empty() && r.line_key.is_some() {
                    // The line itself is the record: captures are labels unless named.
                    Vec::new()
                } else if r.values.is_empty() {
                    vec!["value".to_string()]
                } else {
                    r.values
                };
                let (derive, derived) = derives(&regex, &r.derive, i)?;
                let names: Vec<String> = regex
                    .capture_names()
                    .flatten()
                    // A derived capture stands where its source capture stood, so labels
                    // keep the order of the line.
                    .flat_map(|n| match r.derive.iter().any(|d| d.from == n) {
                        false => vec![n.to_string()],
                        true => r.derive.iter().filter(|d| d.from == n).map(|d| d.name.clone()).collect(),
                    })
                    .collect();
                if let Some(missing) = values.iter().find(|v| !names.contains(v)) {
                    return Err(format!(
                        "regex.rule[{i}]: pattern has no capture named {missing:?}"
                    ).into());
                }
                let in_key = |n: &str| {
                    r.key
                        .as_deref()
                        .is_some_and(|k| k.contains(&format!("{{{n}}}")))
                };
                let index = |n: &str| {
                    regex
                        .capture_names()
                        .chain(derived.iter().map(|d| Some(d.as_str())))
                        .position(|c| c == Some(n))
                };
                let labels = names
                    .into_iter()
                    .filter(|n| !values.contains(n) && n != "unit" && !in_key(n))
                    .filter_map(|n| Some((index(&n)?, n)))
                    .map(|(i, n)| (n, i))
                    .collect();
                let values = values
                    .into_iter()
                    .filter_map(|v| Some((index(&v)?, v)))
                    .map(|(i, v)| (v, i))
                    .collect();
                Ok(Rule {
                    values,
                    labels,
                    key: r.key,
                    line_key: r.line_key,
                    unit: regex.capture_names().position(|n| n == Some("unit")),
                    regex,
                    derive,
                })
            })
            .collect::<Result<_, RecipeError>>()?;
        Ok(RegexFormat {
            whole_text: opts.whole_text,
            rules,
            framing: None,
        })
    }

    /// Reads multi-line records framed so instead of single lines.
    pub fn set_record_framing(&mut self, framing: RecordFraming) {
        self.framing = Some(framing);
    }

    pub fn record_framing(&self) -> Option<&RecordFraming> {
        self.framing.as_ref()
    }

    /// Whether it reads line by line (not `whole_text`).
    pub fn by_line(&self) -> bool {
        !self.whole_text
    }

    /// The records of `text`; their keys borrow the rules' own (a log's four records per
    /// line would otherwise be four allocations).
    pub fn records<'a>(
        &'a self,
        text: &'a str,
        records: &mut dyn RecordSink<'a>,
        unmatched: &mut Unmatched,
    ) -> Result<(), ParseError> {
        if self.whole_text {
            for rule in &self.rules {
                for caps in rule.regex.captures_iter(text) {
                    let line = text
                        .get(..caps.get(0).map_or(0, |m| m.start()))
                        .unwrap_or_default()
                        .matches('\n')
                        .count()
                        + 1;
                    let own = |i: usize| caps.get(i).map(|m| m.as_str());
                    let mut derived = Vec::new();
                    rule.derived(own, &mut rule.derive_locations(), &mut derived);
                    let capture = |i: usize| match i.checked_sub(caps.len()) {
                        None => own(i),
                        Some(d) => derived.get(d).copied().flatten(),
                    };
                    let labels = rule.labels(capture, &mut Vec::new());
                    rule.emit(capture, labels, line, records);
                }
            }
        } else {
            // Capture positions are read into one buffer per rule, reused line after line.
            let mut locs: Vec<_> = self
                .rules
                .iter()
                .map(|r| r.regex.capture_locations())
                .collect();
            let mut seen: Vec<Vec<LabelSet>> = vec![Vec::new(); self.rules.len()];
            let mut derive_locs: Vec<_> = self.rules.iter().map(Rule::derive_locations).collect();
            let mut derived = Vec::new();
            let mut read = |n: usize, line: &'a str| {
                let mut used = false;
                let per_rule = self
                    .rules
                    .iter()
                    .zip(locs.iter_mut())
                    .zip(seen.iter_mut())
                    .zip(derive_locs.iter_mut());
                for (((rule, locs), seen), derive_locs) in per_rule {
                    if rule.regex.captures_read(locs, line).is_some() {
                        used = true;
                        let locs = &*locs;
                        let own = |i: usize| locs.get(i).and_then(|(s, e)| line.get(s..e));
                        rule.derived(own, derive_locs, &mut derived);
                        let capture = |i: usize| match i.checked_sub(locs.len()) {
                            None => own(i),
                            Some(d) => derived.get(d).copied().flatten(),
                        };
                        let labels = rule.labels(capture, seen);
                        rule.emit(capture, labels, n, records);
                    }
                }
                if !used && !line.trim().is_empty() {
                    unmatched.add(n, || format!("no rule matches {}", excerpt(line)));
                }
            };
            match &self.framing {
                None => {
                    for (n, line) in numbered_lines(text) {
                        read(n, line);
                    }
                }
                Some(framing) => {
                    for r in framing.records(text) {
                        read(r.line, r.text);
                    }
                }
            }
        }
        Ok(())
    }
}

impl crate::parse::trace::LineReader for RegexFormat {
    fn record_lines(&self, text: &str) -> Vec<(usize, usize)> {
        let Some(framing) = &self.framing else {
            return Vec::new();
        };
        framing
            .records(text)
            .flat_map(|r| (1..r.text.lines().count()).map(move |i| (r.line + i, r.line)))
            .collect()
    }

    fn no_record(&self, line: &str) -> Option<String> {
        if self.whole_text {
            return Some("no match starts on this line (whole_text)".into());
        }
        Some(
            match self.rules.iter().position(|r| r.regex.is_match(line)) {
                Some(i)
                    if self
                        .rules
                        .get(i)
                        .is_some_and(|r| r.values.is_empty() && r.line_key.is_none()) =>
                {
                    format!("a known line: regex.rule[{i}] has drop = true")
                }
                Some(i) => format!("regex.rule[{i}] matches, but captures no value"),
                None => "no [[regex.rule]] matches it (counted as unmatched)".into(),
            },
        )
    }
}

/// Label sets a rule keeps from its latest matches: a log repeats a few (`GET 200`) line
/// after line, and a set found here costs no allocation.
const SEEN_LABEL_SETS: usize = 16;

/// Compiles a rule's `derive` list: the derives and their names, in capture-index order
/// after the line pattern's own captures.
fn derives(
    line: &Regex,
    list: &[DeriveOptions],
    rule: usize,
) -> Result<(Vec<Derive>, Vec<String>), RecipeError> {
    let mut out = Vec::new();
    for (j, d) in list.iter().enumerate() {
        let at = format!("regex.rule[{rule}].derive[{j}]");
        let taken = line.capture_names().flatten().any(|n| n == d.name)
            || list.iter().take(j).any(|e| e.name == d.name);
        if taken {
            return Err(
                format!("{at}.name: {:?} is already a capture of this rule", d.name).into(),
            );
        }
        let from = line
            .capture_names()
            .position(|n| n == Some(d.from.as_str()))
            .ok_or_else(|| format!("{at}.from: the pattern has no capture named {:?}", d.from))?;
        let regex = Regex::new(&d.pattern).map_err(|e| {
            RecipeError::new(crate::parse::ErrorKind::Pattern, e.to_string())
                .at(format!("{at}.pattern"))
        })?;
        if regex.captures_len() < 2 {
            return Err(format!("{at}.pattern: needs a group, whose text is {:?}", d.name).into());
        }
        out.push(Derive { from, regex });
    }
    Ok((out, list.iter().map(|d| d.name.clone()).collect()))
}

impl Rule {
    /// Position buffers for its `derive` patterns, reused match after match.
    fn derive_locations(&self) -> Vec<CaptureLocations> {
        self.derive
            .iter()
            .map(|d| d.regex.capture_locations())
            .collect()
    }

    /// Fills `out` with the `derive` captures of one match, in order.
    fn derived<'a>(
        &self,
        capture: impl Fn(usize) -> Option<&'a str>,
        locs: &mut [CaptureLocations],
        out: &mut Vec<Option<&'a str>>,
    ) {
        out.clear();
        for (d, locs) in self.derive.iter().zip(locs) {
            let text = capture(d.from).and_then(|t| {
                d.regex.captures_read(locs, t)?;
                let (s, e) = locs.get(1)?;
                t.get(s..e)
            });
            out.push(text);
        }
    }

    /// The labels of one match, from `seen` when they were seen lately. A label capture
    /// whose group took no part is the empty label: every record of a rule has the same
    /// label names (a log's request line without a method).
    fn labels<'a>(
        &self,
        capture: impl Fn(usize) -> Option<&'a str>,
        seen: &mut Vec<LabelSet>,
    ) -> LabelSet {
        let text = |i: usize| capture(i).unwrap_or("");
        let same = |set: &&LabelSet| {
            set.iter()
                .zip(&self.labels)
                .all(|((_, v), (_, i))| v == text(*i))
        };
        // Latest used first: a log's common set is then found by its first compare.
        if let Some(at) = seen.iter().position(|s| same(&s)) {
            if let Some(front) = seen.get_mut(..=at) {
                front.rotate_right(1);
            }
            if let Some(set) = seen.first() {
                return set.clone();
            }
        }
        let set: LabelSet = self
            .labels
            .iter()
            .map(|(n, i)| (n.clone(), text(*i).to_string()))
            .collect();
        seen.truncate(SEEN_LABEL_SETS - 1);
        seen.insert(0, set.clone());
        set
    }

    /// The records of one match; `capture(i)` is capture `i`'s text when it took part.
    /// Records are built field by field: `..Record::default()` would make (and drop) an
    /// empty label set per record.
    fn emit<'a>(
        &'a self,
        capture: impl Fn(usize) -> Option<&'a str>,
        labels: LabelSet,
        line: usize,
        records: &mut dyn RecordSink<'a>,
    ) {
        if let Some(key) = &self.line_key {
            records.push(Record {
                key: Cow::Borrowed(key),
                labels: labels.clone(),
                value: "1".into(),
                unit: None,
                kind: None,
                help: None,
                suffix: Suffix::default(),
                line,
                from: None,
            });
        }
        let base: Option<Cow<'a, str>> = self.key.as_deref().map(|k| {
            if !k.contains('{') {
                return Cow::Borrowed(k);
            }
            let mut k = k.to_string();
            for (i, name) in self.regex.capture_names().enumerate() {
                if let (Some(name), Some(text)) = (name, capture(i)) {
                    k = k.replace(&format!("{{{name}}}"), text);
                }
            }
            Cow::Owned(k)
        });
        let unit = self.unit.and_then(&capture).filter(|u| !u.is_empty());
        for (v, i) in &self.values {
            let Some(text) = capture(*i) else { continue };
            let key: Cow<'a, str> = match (&base, self.values.len()) {
                (Some(k), 1) => k.clone(),
                (Some(k), _) => Cow::Owned(format!("{k}.{v}")),
                (None, _) => Cow::Borrowed(v),
            };
            records.push(Record {
                key,
                labels: labels.clone(),
                value: text.trim().into(),
                unit,
                kind: None,
                help: None,
                suffix: Suffix::default(),
                line,
                from: None,
            });
        }
    }
}

#[cfg(test)]
mod tests;
