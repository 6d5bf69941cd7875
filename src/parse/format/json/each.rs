//! `[[json.each]]` paths: which items of a document become labelled series.
//!
//! A path is dotted names with an iteration after each level: `processes` (the items of
//! `processes`, as before), `pools[].workers[]` (every worker of every pool), `[]` (the
//! items of a top-level array), and a filter in JSONPath's form, as json_exporter users
//! write it: `workers[?(@.state=="ACTIVE")]` (`==` or `!=`, the value a JSON string,
//! number, `true`, `false` or `null`, the field dotted below the item). `[]` and filters
//! go over an array's items or an object's entries alike.
//!
//! `label_fields` take a field of the innermost item (`id`), of an outer level's item
//! (`pools[].name`), or a level's own key or index (`pools[]`: the object key, or the
//! array position). Levels are named with `[]` whatever their filter.

use serde_json::Value;

use super::{kind_of, lookup, scalar, split_path, EachOptions};
use crate::parse::RecipeError;

/// A filter on a level's items.
#[derive(Debug, Clone, PartialEq)]
struct Filter {
    field: Vec<String>,
    equal: bool,
    value: Value,
}

impl Filter {
    fn holds(&self, item: &Value) -> bool {
        (lookup(item, &self.field) == Some(&self.value)) == self.equal
    }
}

/// One iterated level: where its container is below the item of the level above.
#[derive(Debug, Clone)]
struct Level {
    path: Vec<String>,
    filter: Option<Filter>,
    /// `pools[]`, `pools[].workers[]`: how labels name the level.
    name: String,
}

/// Where a label's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum LabelFrom {
    /// A field of level `n`'s item.
    Field(usize, String),
    /// Level `n`'s key (an object entry's) or index (an array item's).
    Key(usize),
}

/// One `[[json.each]]`, compiled.
#[derive(Debug)]
pub(super) struct Each {
    levels: Vec<Level>,
    pub(super) labels: Vec<(String, LabelFrom)>,
    /// The label carrying the innermost object entry's key.
    key_label: String,
    /// Record key prefix for the innermost item's fields.
    pub(super) prefix: String,
    /// The first level's path: left out of the flat walk of the document.
    pub(super) first: String,
    /// The innermost level's name (`pools[].workers[]`), for other `each`s nested in it.
    pub(super) name: String,
}

/// One item reached: its labels so far, and where it is (`pools[0].workers[2]`).
pub(super) struct Item<'v> {
    pub value: &'v Value,
    pub labels: Vec<(String, String)>,
    pub from: String,
}

impl Each {
    pub(super) fn new(o: &EachOptions) -> Result<Each, RecipeError> {
        let bad = |why: String| RecipeError::from(format!("path {:?}: {why}", o.path));
        let levels = parse_levels(&o.path).map_err(bad)?;
        let name = levels.last().map(|l| l.name.clone()).unwrap_or_default();
        let mut labels = Vec::new();
        for (label, field) in &o.labels {
            labels.push((label.clone(), label_source(&levels, field)));
        }
        let plain: Vec<&str> = (levels.iter())
            .flat_map(|l| l.path.iter().map(String::as_str))
            .collect();
        Ok(Each {
            first: levels.first().map(|l| l.path.join(".")).unwrap_or_default(),
            prefix: o.prefix.clone().unwrap_or_else(|| plain.join(".")),
            key_label: o.key_label.clone().unwrap_or_else(|| "key".into()),
            labels,
            levels,
            name,
        })
    }

    /// The innermost fields used as labels (not also records).
    pub(super) fn label_fields(&self) -> Vec<&str> {
        let last = self.levels.len().saturating_sub(1);
        (self.labels.iter())
            .filter_map(|(_, f)| match f {
                LabelFrom::Field(n, field) if *n == last => Some(field.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Every innermost item that passes the filters, labelled from every level; an item
    /// without a label's field is skipped, told in `issues` (unlabelled, it would pass for
    /// every other such item).
    pub(super) fn items<'v>(
        &self,
        root: &'v Value,
        common: &[(String, String)],
        issues: &mut Vec<String>,
    ) -> Vec<Item<'v>> {
        let mut out = Vec::new();
        let mut chain = Vec::new();
        self.descend(root, 0, &mut chain, String::new(), common, issues, &mut out);
        out
    }

    /// Goes into level `n` below `at`; `chain` holds the items (and keys) of the levels
    /// above.
    #[allow(clippy::too_many_arguments)]
    fn descend<'v>(
        &self,
        at: &'v Value,
        n: usize,
        chain: &mut Vec<(&'v Value, String, bool)>,
        from: String,
        common: &[(String, String)],
        issues: &mut Vec<String>,
        out: &mut Vec<Item<'v>>,
    ) {
        let Some(level) = self.levels.get(n) else {
            return;
        };
        // A level missing in one item (a pool without workers) has nothing to give.
        let Some(container) = lookup(at, &level.path) else {
            return;
        };
        let mut here = from;
        for p in &level.path {
            if !here.is_empty() {
                here.push('.');
            }
            here.push_str(p);
        }
        let items: Vec<(String, String, &Value, bool)> = match container {
            Value::Array(a) => (a.iter().enumerate())
                .map(|(i, v)| (i.to_string(), format!("{here}[{i}]"), v, false))
                .collect(),
            Value::Object(m) => (m.iter())
                .map(|(k, v)| (k.clone(), format!("{here}[{k:?}]"), v, true))
                .collect(),
            _ => {
                issues.push(format!("{here}: not an array or object"));
                return;
            }
        };
        for (key, from, item, entry) in items {
            if level.filter.as_ref().is_some_and(|f| !f.holds(item)) {
                continue;
            }
            chain.push((item, key, entry));
            if n + 1 < self.levels.len() {
                self.descend(item, n + 1, chain, from, common, issues, out);
            } else if let Some(labels) = self.labels_of(chain, common, &from, issues) {
                out.push(Item {
                    value: item,
                    labels,
                    from,
                });
            }
            chain.pop();
        }
    }

    fn labels_of(
        &self,
        chain: &[(&Value, String, bool)],
        common: &[(String, String)],
        from: &str,
        issues: &mut Vec<String>,
    ) -> Option<Vec<(String, String)>> {
        let mut labels = common.to_vec();
        // An object's entries are told apart by their key.
        if let Some((_, key, true)) = chain.last() {
            labels.push((self.key_label.clone(), key.clone()));
        }
        for (label, source) in &self.labels {
            let value = match source {
                LabelFrom::Key(n) => chain.get(*n).map(|(_, k, _)| k.clone()),
                LabelFrom::Field(n, field) => {
                    let item = chain.get(*n).map(|(v, _, _)| *v);
                    match item.and_then(|v| v.get(field)).map(|v| (v, scalar(v))) {
                        Some((_, Some(v))) => Some(v),
                        found => {
                            let what = match found {
                                None => format!("no field {field:?}"),
                                Some((v, _)) => format!("field {field:?} is {}", kind_of(v)),
                            };
                            issues.push(format!("{from}: {what} for label {label}; item skipped"));
                            return None;
                        }
                    }
                }
            };
            if let Some(v) = value {
                labels.push((label.clone(), v));
            }
        }
        Some(labels)
    }
}

/// `pools[].name` -> a field of level 0; `pools[]` -> level 0's key; `id` -> a field of
/// the innermost level.
fn label_source(levels: &[Level], field: &str) -> LabelFrom {
    for (n, level) in levels.iter().enumerate().rev() {
        if field == level.name {
            return LabelFrom::Key(n);
        }
        if let Some(rest) = field
            .strip_prefix(level.name.as_str())
            .and_then(|r| r.strip_prefix('.'))
        {
            return LabelFrom::Field(n, rest.to_string());
        }
    }
    LabelFrom::Field(levels.len().saturating_sub(1), field.to_string())
}

/// Splits a path into its levels. A path without brackets iterates its end (`processes`
/// is `processes[]`).
fn parse_levels(path: &str) -> Result<Vec<Level>, String> {
    let mut levels = Vec::new();
    let mut name = String::new();
    let mut rest = path.trim();
    if !rest.contains('[') {
        let path = split_path(rest);
        if path.is_empty() {
            return Err("empty".into());
        }
        return Ok(vec![Level {
            name: format!("{}[]", path.join(".")),
            path,
            filter: None,
        }]);
    }
    while !rest.is_empty() {
        let rest_dot = if levels.is_empty() {
            rest
        } else {
            rest.strip_prefix('.')
                .ok_or_else(|| format!("expected `.` or the end after {name:?}"))?
        };
        let open = rest_dot
            .find('[')
            .ok_or_else(|| format!("{rest_dot:?} must end with [] or a filter"))?;
        let (names, bracket) = rest_dot.split_at(open);
        let close = closing(bracket).ok_or_else(|| format!("unclosed [ in {bracket:?}"))?;
        let (inside, after) = bracket.split_at(close + 1);
        let inner = inside
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or_default();
        let filter = if inner.trim().is_empty() {
            None
        } else {
            Some(parse_filter(inner)?)
        };
        let level_path = split_path(names);
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(&level_path.join("."));
        name.push_str("[]");
        levels.push(Level {
            path: level_path,
            filter,
            name: name.clone(),
        });
        rest = after;
    }
    Ok(levels)
}

/// The position of the `]` closing the `[` that `s` starts with, quotes respected.
fn closing(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, ']') => return Some(i),
            (None, _) => {}
        }
    }
    None
}

/// `?(@.state=="ACTIVE")`, `?(@.busy != true)`.
fn parse_filter(inner: &str) -> Result<Filter, String> {
    let body = inner
        .trim()
        .strip_prefix('?')
        .map(str::trim)
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.strip_suffix(')'))
        .map(str::trim)
        .ok_or_else(|| format!("[{inner}]: a filter is written [?(@.field==\"value\")] (or !=)"))?;
    let (lhs, rhs, equal) = if let Some((l, r)) = body.split_once("!=") {
        (l, r, false)
    } else if let Some((l, r)) = body.split_once("==") {
        (l, r, true)
    } else {
        return Err(format!("[{inner}]: the filter compares with == or !="));
    };
    let field = lhs
        .trim()
        .strip_prefix("@.")
        .ok_or_else(|| format!("[{inner}]: the field is written @.name"))?;
    let rhs = rhs.trim();
    let value = match rhs.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        Some(single) => Value::String(single.to_string()),
        None => serde_json::from_str::<Value>(rhs)
            .ok()
            .filter(|v| !matches!(v, Value::Array(_) | Value::Object(_)))
            .ok_or_else(|| {
                format!("[{inner}]: {rhs} is not a JSON string, number, true, false or null")
            })?,
    };
    Ok(Filter {
        field: split_path(field),
        equal,
        value,
    })
}
