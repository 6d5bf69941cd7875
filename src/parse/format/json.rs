//! `json`: an app's own JSON status document (PHP-FPM `?json&full`, json_exporter-style).
//!
//! Every scalar leaf becomes a record keyed by its dotted path (`pool`, `accepted conn`,
//! `a.b.c`); `true`/`false` become `1`/`0`, `null` is skipped, strings are records too (the
//! mapping decides: info label, value word, or skip). Array items get an `index` label
//! (`index1`, `index2`... for arrays inside arrays). `[[json.each]]` turns the items of an
//! array, or the entries of an object, into labelled series: `path = "processes"`,
//! `label_fields = { pid = "pid" }` gives `processes.requests{pid="123"}`. An item without a
//! usable label field (missing, null, or not a scalar) is skipped and counted as an issue
//! naming the path, its index (or key) and the field: unlabelled, it would pass for every
//! other such item.

use crate::parse::RecipeError;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::family::LabelSet;
use crate::parse::{Issue, ParseError, Record, RecordSink};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Dotted path of the subtree to read (default: the whole document).
    pub root: Option<String>,
    /// Label name -> field of the root object, put on every record (`{ pool = "pool" }`);
    /// such fields are not records themselves.
    #[serde(rename = "label_fields")]
    pub labels: BTreeMap<String, String>,
    /// Arrays or objects whose items become labelled series.
    pub each: Vec<EachOptions>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EachOptions {
    /// Dotted path (below `root`) of an array of objects, or an object of objects.
    pub path: String,
    /// Label name -> field of the item whose value becomes the label. Such fields are not
    /// also emitted as records.
    #[serde(default, rename = "label_fields")]
    pub labels: BTreeMap<String, String>,
    /// For an object: the label carrying each entry's key (default `key`).
    pub key_label: Option<String>,
    /// Record key prefix for the item's fields (default: `path`).
    #[serde(rename = "key_prefix")]
    pub prefix: Option<String>,
}

#[derive(Debug)]
pub struct Json {
    root: Vec<String>,
    labels: BTreeMap<String, String>,
    each: Vec<each::Each>,
}

mod each;
#[cfg(test)]
mod nested_tests;

fn split_path(p: &str) -> Vec<String> {
    p.split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn lookup<'v>(mut v: &'v Value, path: &[String]) -> Option<&'v Value> {
    for part in path {
        v = match v {
            Value::Object(m) => m.get(part)?,
            Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// The text of a scalar, or `None` for null and containers.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// What a value is, for a message about a value that cannot be a label.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
        Value::Number(_) | Value::String(_) | Value::Bool(_) => "a scalar",
    }
}

impl Json {
    pub fn new(opts: Options) -> Result<Json, RecipeError> {
        let mut each = Vec::with_capacity(opts.each.len());
        for (i, e) in opts.each.iter().enumerate() {
            if e.path.is_empty() {
                return Err(format!("json.each[{i}].path must not be empty").into());
            }
            each.push(
                each::Each::new(e)
                    .map_err(|err| RecipeError::from(format!("json.each[{i}].{err}")))?,
            );
        }
        Ok(Json {
            root: opts.root.as_deref().map(split_path).unwrap_or_default(),
            labels: opts.labels,
            each,
        })
    }

    pub fn records<'a>(
        &self,
        text: &'a str,
        records: &mut dyn RecordSink<'a>,
        issues: &mut Vec<Issue>,
    ) -> Result<(), ParseError> {
        let doc: Value = serde_json::from_str(text).map_err(|e| ParseError::Syntax {
            line: e.line(),
            message: format!("invalid JSON at column {}: {e}", e.column()),
        })?;
        let root = lookup(&doc, &self.root).ok_or_else(|| {
            ParseError::Invalid(format!("no {:?} in the document", self.root.join(".")))
        })?;
        let mut skip: Vec<Vec<String>> = self.each.iter().map(|e| split_path(&e.first)).collect();
        let mut common = Vec::new();
        for (label, field) in &self.labels {
            match root.get(field).and_then(scalar) {
                Some(v) => common.push((label.clone(), v)),
                None => issues.push(Issue::new(
                    0,
                    format!("no field {field:?} for label {label}"),
                )),
            }
            skip.push(vec![field.clone()]);
        }
        let skip_paths: Vec<String> = skip.iter().map(|p| p.join(".")).collect();
        walk(
            root,
            &mut String::new(),
            &skip_paths,
            &mut Labels::new(&common),
            records,
        );
        for e in &self.each {
            let mut problems = Vec::new();
            let items = e.items(root, &common, &mut problems);
            issues.extend(problems.into_iter().map(|p| Issue::new(0, p)));
            // Label fields are not also records; nor what another `each` reads below.
            let mut used = e.label_fields();
            let nested: Vec<String> = (self.each.iter())
                .filter_map(|o| o.name.strip_prefix(e.name.as_str())?.strip_prefix('.'))
                .filter_map(|rest| split_path(rest.split('[').next()?).into_iter().next())
                .collect();
            used.extend(nested.iter().map(String::as_str));
            for item in items {
                let from: std::sync::Arc<str> = item.from.into();
                let mut item_labels = Labels::new(&item.labels);
                match item.value {
                    Value::Object(m) => {
                        let mut sink = WithFrom {
                            from: &from,
                            out: records,
                        };
                        for (field, v) in m {
                            if used.contains(&field.as_str()) {
                                continue;
                            }
                            let mut path = e.prefix.clone();
                            enter(&mut path, field);
                            walk(v, &mut path, &[], &mut item_labels, &mut sink);
                        }
                    }
                    other => {
                        if let Some(v) = scalar(other) {
                            records.push(Record {
                                key: e.prefix.clone().into(),
                                labels: item_labels.shared(),
                                value: v.into(),
                                from: Some(from),
                                ..Record::default()
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Passes records on with where their item is in the document (`parse --explain` shows it).
struct WithFrom<'s, 'a> {
    from: &'s std::sync::Arc<str>,
    out: &'s mut dyn RecordSink<'a>,
}

impl<'a> RecordSink<'a> for WithFrom<'_, 'a> {
    fn push(&mut self, mut record: Record<'a>) {
        record.from = Some(self.from.clone());
        self.out.push(record);
    }
}

/// Flat walk of the document below `path` (dotted, built up in place), leaving out the
/// `skip` subtrees.
fn walk<'a>(
    v: &Value,
    path: &mut String,
    skip: &[String],
    labels: &mut Labels,
    out: &mut dyn RecordSink<'a>,
) {
    if skip.iter().any(|s| s == path) {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let len = enter(path, k);
                walk(child, path, skip, labels, out);
                path.truncate(len);
            }
        }
        Value::Array(a) => {
            let label = index_label(&labels.pairs);
            for (i, child) in a.iter().enumerate() {
                labels.push((label.clone(), i.to_string()));
                walk(child, path, skip, labels, out);
                labels.pop();
            }
        }
        _ => {
            if let Some(value) = scalar(v) {
                out.push(Record {
                    key: path.clone().into(),
                    labels: labels.shared(),
                    value: value.into(),
                    ..Record::default()
                });
            }
        }
    }
}

/// Appends `part` to a dotted path; returns the length to truncate back to.
fn enter(path: &mut String, part: &str) -> usize {
    let len = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(part);
    len
}

/// The labels of the walk's current position, and that set shared once built: the leaves of
/// one object get the same copy.
struct Labels {
    pairs: Vec<(String, String)>,
    shared: Option<LabelSet>,
}

impl Labels {
    fn new(pairs: &[(String, String)]) -> Self {
        Labels {
            pairs: pairs.to_vec(),
            shared: None,
        }
    }

    fn push(&mut self, pair: (String, String)) {
        self.pairs.push(pair);
        self.shared = None;
    }

    fn pop(&mut self) {
        self.pairs.pop();
        self.shared = None;
    }

    fn shared(&mut self) -> LabelSet {
        self.shared
            .get_or_insert_with(|| self.pairs.as_slice().into())
            .clone()
    }
}

fn index_label(labels: &[(String, String)]) -> String {
    let depth = labels
        .iter()
        .filter(|(k, _)| k.starts_with("index"))
        .count();
    if depth == 0 {
        "index".into()
    } else {
        format!("index{depth}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<'a>(opts: &str, text: &'a str) -> (Vec<Record<'a>>, Vec<Issue>) {
        let j = Json::new(toml::from_str(opts).unwrap()).unwrap();
        let (mut r, mut i) = (Vec::new(), Vec::new());
        j.records(text, &mut r, &mut i).unwrap();
        (r, i)
    }

    type Flat = (String, String, crate::family::Labels);

    fn kv(r: &[Record]) -> Vec<Flat> {
        r.iter()
            .map(|r| (r.key.to_string(), r.value.to_string(), r.labels.to_vec()))
            .collect()
    }

    #[test]
    fn flat_leaves_arrays_and_scalars() {
        let (r, _) = run(
            "",
            r#"{"a": {"b": 1.5, "ok": true, "n": null}, "list": [3, 4], "name": "x"}"#,
        );
        let got = kv(&r);
        assert_eq!(got[0], ("a.b".into(), "1.5".into(), vec![]));
        assert_eq!(got[1], ("a.ok".into(), "1".into(), vec![]));
        assert_eq!(
            got[2],
            (
                "list".into(),
                "3".into(),
                vec![("index".into(), "0".into())]
            )
        );
        assert_eq!(got[4], ("name".into(), "x".into(), vec![]));
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn php_fpm_full_processes_become_labelled() {
        let text = include_str!("../../../tests/fixtures/samples/php-fpm/status-full.json");
        let (r, i) = run("label_fields = { pool = \"pool\" }\n[[each]]\npath = \"processes\"\nlabel_fields = { pid = \"pid\" }\n", text);
        assert!(i.is_empty(), "{i:?}");
        assert!(!r.iter().any(|r| r.key == "pool"));
        assert!(
            r.iter()
                .all(|r| r.labels[0] == ("pool".to_string(), "www".to_string())),
            "{r:?}"
        );
        let accepted = r.iter().find(|r| r.key == "accepted conn").unwrap();
        assert!(accepted.value.parse::<u64>().is_ok());
        let reqs: Vec<_> = r.iter().filter(|r| r.key == "processes.requests").collect();
        assert!(!reqs.is_empty());
        assert_eq!(reqs[0].labels[1].0, "pid");
        assert!(!r.iter().any(|r| r.key == "processes.pid"));
        assert!(!r
            .iter()
            .any(|r| r.key.starts_with("processes") && r.labels.iter().any(|(k, _)| k == "index")));
    }

    #[test]
    fn object_entries_get_key_label() {
        let (r, _) = run(
            "[[each]]\npath = \"servers\"\nkey_label = \"server\"\nkey_prefix = \"srv\"\n",
            r#"{"servers": {"web1": {"load": 2}, "web2": {"load": 3}}}"#,
        );
        assert_eq!(
            kv(&r),
            vec![
                (
                    "srv.load".into(),
                    "2".into(),
                    vec![("server".into(), "web1".into())]
                ),
                (
                    "srv.load".into(),
                    "3".into(),
                    vec![("server".into(), "web2".into())]
                ),
            ]
        );
    }

    #[test]
    fn an_item_without_its_label_field_is_skipped_and_counted() {
        // Two items without `pid` used to be emitted unlabelled, as one colliding series.
        let (r, i) = run(
            "[[each]]\npath = \"processes\"\nlabel_fields = { pid = \"pid\" }\n",
            r#"{"processes": [{"pid": 7, "requests": 1}, {"requests": 2}, {"requests": 3},
                             {"pid": null, "requests": 4}, {"pid": 9, "requests": 5}]}"#,
        );
        assert_eq!(
            kv(&r),
            vec![
                (
                    "processes.requests".into(),
                    "1".into(),
                    vec![("pid".into(), "7".into())]
                ),
                (
                    "processes.requests".into(),
                    "5".into(),
                    vec![("pid".into(), "9".into())]
                ),
            ]
        );
        let messages: Vec<String> = i.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            vec![
                "processes[1]: no field \"pid\" for label pid; item skipped",
                "processes[2]: no field \"pid\" for label pid; item skipped",
                "processes[3]: field \"pid\" is null for label pid; item skipped",
            ]
        );
        // An object's entries are named by their key.
        let (r, i) = run(
            "[[each]]\npath = \"servers\"\nlabel_fields = { zone = \"zone\" }\n",
            r#"{"servers": {"web1": {"zone": "a", "load": 2}, "web2": {"load": 3}}}"#,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(
            i[0].to_string(),
            "servers[\"web2\"]: no field \"zone\" for label zone; item skipped"
        );
    }

    #[test]
    fn invalid_json_is_a_syntax_error_with_line() {
        let j = Json::new(Options::default()).unwrap();
        let err = j
            .records("{\n\"a\": }", &mut Vec::new(), &mut Vec::new())
            .unwrap_err();
        assert!(matches!(err, ParseError::Syntax { line: 2, .. }), "{err:?}");
        let j = Json::new(toml::from_str("root = \"x.y\"").unwrap()).unwrap();
        assert!(j.records("{}", &mut Vec::new(), &mut Vec::new()).is_err());
    }
}
