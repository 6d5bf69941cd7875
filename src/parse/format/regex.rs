//! `regex`: named-capture rules for text with no regular shape (nginx `stub_status`, logs,
//! banners). Each match makes one record per value capture; other named captures are labels.
//! In line mode a non-blank line no rule matches is counted as unmatched (format drift shows);
//! a rule with `drop = true` marks lines that are known and carry nothing (a header).

use crate::parse::RecipeError;
use std::borrow::Cow;

use regex::{CaptureLocations, Regex};
use serde::Deserialize;

use crate::family::{LabelSet, Suffix};
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
        })
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
            for (n, line) in numbered_lines(text) {
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
            }
        }
        Ok(())
    }
}

impl crate::parse::trace::LineReader for RegexFormat {
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
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STUB_STATUS: &str = "Active connections: 5 \nserver accepts handled requests\n 84 84 1055 \nReading: 0 Writing: 1 Waiting: 4 \n";

    fn nginx() -> RegexFormat {
        let opts: Options = toml::from_str(
            r#"
            [[rule]]
            pattern = '^Active connections:\s+(?P<value>\d+)'
            record_key = "active"
            [[rule]]
            pattern = '^\s*(?P<accepted>\d+)\s+(?P<handled>\d+)\s+(?P<requests>\d+)\s*$'
            values = ["accepted", "handled", "requests"]
            [[rule]]
            pattern = '(?P<state>Reading|Writing|Waiting):\s+(?P<value>\d+)'
            record_key = "state"
            "#,
        )
        .unwrap();
        RegexFormat::new(opts).unwrap()
    }

    #[test]
    fn stub_status_positional_values() {
        let (mut r, mut u) = (Vec::new(), Unmatched::default());
        let format = nginx();
        format.records(STUB_STATUS, &mut r, &mut u).unwrap();
        let got: Vec<_> = r
            .iter()
            .map(|r| (r.key.as_ref(), r.value.as_ref(), r.line))
            .collect();
        assert_eq!(
            got[..4],
            [
                ("active", "5", 1),
                ("accepted", "84", 3),
                ("handled", "84", 3),
                ("requests", "1055", 3)
            ]
        );
        // Per-line matching finds only the first state on a line; whole_text would find all.
        assert_eq!(
            r[4].labels.to_vec(),
            vec![("state".to_string(), "Reading".to_string())]
        );
    }

    #[test]
    fn key_templates_and_units() {
        let opts: Options = toml::from_str(
            r#"
            [[rule]]
            pattern = '^(?P<key>[^:]+):\s+(?P<value>\d+)(?:\s+(?P<unit>\w+))?$'
            record_key = "{key}"
            "#,
        )
        .unwrap();
        let (mut r, mut u) = (Vec::new(), Unmatched::default());
        let format = RegexFormat::new(opts).unwrap();
        format
            .records("MemFree: 5 kB\nHugePages_Total: 0\n", &mut r, &mut u)
            .unwrap();
        assert_eq!(
            (r[0].key.as_ref(), r[0].value.as_ref(), r[0].unit),
            ("MemFree", "5", Some("kB"))
        );
        assert_eq!((r[1].key.as_ref(), r[1].unit), ("HugePages_Total", None));
        assert!(r[0].labels.is_empty());
    }

    /// The header line is unmatched unless a `drop` rule claims it; blank lines never count.
    #[test]
    fn lines_no_rule_reads_are_counted() {
        let mut u = Unmatched::default();
        nginx()
            .records(STUB_STATUS, &mut Vec::new(), &mut u)
            .unwrap();
        assert_eq!(u.count, 1);
        assert_eq!(
            u.first.as_deref(),
            Some("line 2: no rule matches \"server accepts handled requests\"")
        );
        let opts: Options = toml::from_str(
            "[[rule]]\npattern = '^a (?P<value>[0-9]+)$'\n[[rule]]\npattern = '^server '\ndrop = true\n",
        )
        .unwrap();
        let mut u = Unmatched::default();
        let mut r = Vec::new();
        let format = RegexFormat::new(opts).unwrap();
        format
            .records("a 1\n\nserver accepts\n  \na 2\n", &mut r, &mut u)
            .unwrap();
        assert_eq!((r.len(), u.count), (2, 0));
    }

    #[test]
    fn bad_pattern_is_rejected() {
        let bad: Options = toml::from_str("[[rule]]\npattern = '(?P<x>'\n").unwrap();
        let err = RegexFormat::new(bad).unwrap_err();
        assert_eq!(err.kind(), crate::parse::ErrorKind::Pattern);
        assert_eq!(err.key_path(), "regex.rule[0].pattern");
        let novalue: Options = toml::from_str("[[rule]]\npattern = '(?P<x>a)'\n").unwrap();
        assert!(RegexFormat::new(novalue)
            .unwrap_err()
            .to_string()
            .contains("\"value\""));
        // A `drop` rule makes no record: keys that shape records would do nothing.
        let dropped: Options =
            toml::from_str("[[rule]]\npattern = 'a'\ndrop = true\nrecord_key = 'x'\n").unwrap();
        assert_eq!(
            RegexFormat::new(dropped).unwrap_err().to_string(),
            "regex.rule[0]: `drop` makes no record; drop `values`, `record_key` and `line_key`"
        );
    }

    /// `derive` takes a capture from another's text; the source capture is no label.
    #[test]
    fn derive_reads_a_capture_of_a_capture() {
        let opts: Options = toml::from_str(
            r#"
            [[rule]]
            pattern = '^"(?P<request>[^"]*)" (?P<status>[0-9]+)$'
            line_key = "line"
            [[rule.derive]]
            name = "method"
            from = "request"
            pattern = '^([A-Za-z]+) '
            "#,
        )
        .unwrap();
        let format = RegexFormat::new(opts).unwrap();
        let (mut r, mut u) = (Vec::new(), Unmatched::default());
        format
            .records("\"GET / HTTP/1.1\" 200\n\"garbage\" 400\n", &mut r, &mut u)
            .unwrap();
        let labels: Vec<_> = r.iter().map(|r| r.labels.to_vec()).collect();
        let pair = |m: &str, s: &str| {
            vec![
                ("method".to_string(), m.to_string()),
                ("status".to_string(), s.to_string()),
            ]
        };
        assert_eq!(labels, vec![pair("GET", "200"), pair("", "400")]);
        let bad = |derive: &str| {
            let text =
                format!("[[rule]]\npattern = '(?P<value>a)(?P<r>b)'\n[[rule.derive]]\n{derive}\n");
            RegexFormat::new(toml::from_str(&text).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            bad("name = 'm'\nfrom = 'x'\npattern = '(a)'"),
            "regex.rule[0].derive[0].from: the pattern has no capture named \"x\""
        );
        assert_eq!(
            bad("name = 'value'\nfrom = 'r'\npattern = '(a)'"),
            "regex.rule[0].derive[0].name: \"value\" is already a capture of this rule"
        );
        assert_eq!(
            bad("name = 'm'\nfrom = 'r'\npattern = 'a'"),
            "regex.rule[0].derive[0].pattern: needs a group, whose text is \"m\""
        );
    }

    /// The built-in log recipes' line patterns are one-pass: the regex engine then reads a
    /// line once, where a pattern with a choice it settles later (`(?:(?P<m>[A-Z]+) x|y)`)
    /// is searched, then backtracked, at about three times the cost per line.
    #[test]
    fn builtin_line_patterns_are_one_pass() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/parsers");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let recipe: toml::Value =
                toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let rules = recipe.get("regex").and_then(|r| r.get("rule"));
            for rule in rules.and_then(|r| r.as_array()).into_iter().flatten() {
                if rule.get("line_key").is_none() {
                    continue;
                }
                let pattern = rule["pattern"].as_str().unwrap();
                if let Err(e) = regex_automata::dfa::onepass::DFA::new(pattern) {
                    panic!("{}: not one-pass ({e}): {pattern}", path.display());
                }
                checked += 1;
            }
        }
        assert!(checked >= 2, "nginx_access and apache_access at least");
    }
}
