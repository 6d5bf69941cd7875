//! `required`: what every read must hold, or it is refused (the app is not writing what the
//! recipe reads: a truncated dump, another format, and serving the rest would look
//! healthy). A key (`MemTotal`) is looked for in the records as they come; a series with
//! labels (`queue_depth{queue="high"}`, named as on the page) in the families made.

use crate::family::{exposed_name, Family};
use crate::parse::ParseError;
use crate::parse::RecipeError;

/// A recipe's `required` list, compiled.
#[derive(Debug, Default)]
pub struct Required {
    keys: Vec<String>,
    series: Vec<Series>,
}

/// A required series: a family name (as written or as exposed, with the recipe's prefix or
/// without) and labels it must have.
#[derive(Debug)]
struct Series {
    text: String,
    names: [String; 2],
    labels: Vec<(String, String)>,
}

impl Required {
    /// Reads the list; an entry with `{` is a series. Errors name the entry.
    pub fn new(list: Vec<String>, prefix: &str) -> Result<Required, RecipeError> {
        let mut required = Required::default();
        for (i, entry) in list.into_iter().enumerate() {
            match entry.split_once('{') {
                None => required.keys.push(entry),
                Some((name, rest)) => {
                    let labels = parse_labels(rest).map_err(|e| {
                        RecipeError::invalid(format!(
                            "{entry:?}: {e}; a series is written as on the page: \
                             name{{label=\"value\",...}}"
                        ))
                        .at(format!("mapping.required[{i}]"))
                    })?;
                    let name = name.trim();
                    required.series.push(Series {
                        names: [name.to_string(), format!("{prefix}{name}")],
                        labels,
                        text: entry,
                    });
                }
            }
        }
        Ok(required)
    }

    /// The required series no family holds, as written in the recipe.
    fn missing_series<'a>(&'a self, families: &'a [Family]) -> impl Iterator<Item = String> + 'a {
        self.series.iter().filter_map(move |s| {
            let found = families
                .iter()
                .filter(|f| {
                    let exposed = exposed_name(&f.name, f.kind);
                    s.names.iter().any(|n| *n == f.name || *n == exposed)
                })
                .flat_map(|f| f.samples.iter())
                .any(|sample| s.labels.iter().all(|l| sample.labels.contains(l)));
            (!found).then(|| s.text.clone())
        })
    }
}

/// Why a required series' labels cannot be read.
#[derive(Debug, thiserror::Error)]
enum LabelsError {
    #[error("no closing }}")]
    NotClosed,
    #[error("no = after label {0:?}")]
    NoEquals(String),
    #[error("{0:?} is not a label name")]
    BadName(String),
    #[error("the value of {0} is not quoted")]
    NotQuoted(String),
    #[error("the value of {0} is not closed")]
    ValueNotClosed(String),
}

/// `label="value",...}`: the labels of a required series. Values are quoted, with `\"`
/// and `\\` escapes, as on a page.
fn parse_labels(text: &str) -> Result<Vec<(String, String)>, LabelsError> {
    let Some(inner) = text.trim_end().strip_suffix('}') else {
        return Err(LabelsError::NotClosed);
    };
    let mut labels = Vec::new();
    let mut rest = inner.trim_start();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once('=') else {
            return Err(LabelsError::NoEquals(rest.trim().to_string()));
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(LabelsError::BadName(name.to_string()));
        }
        let Some(quoted) = after.trim_start().strip_prefix('"') else {
            return Err(LabelsError::NotQuoted(name.to_string()));
        };
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, c)) => value.push(c),
                    None => return Err(LabelsError::ValueNotClosed(name.to_string())),
                },
                Some((_, c)) => value.push(c),
                None => return Err(LabelsError::ValueNotClosed(name.to_string())),
            }
        };
        labels.push((name.to_string(), value));
        rest = quoted.split_at(end + 1).1.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(labels)
}

/// Which `required` keys a read has shown so far.
pub(super) struct Seen<'m> {
    required: &'m Required,
    seen: Vec<bool>,
    left: usize,
}

impl<'m> Seen<'m> {
    pub(super) fn new(required: &'m Required) -> Self {
        Seen {
            required,
            seen: vec![false; required.keys.len()],
            left: required.keys.len(),
        }
    }

    pub(super) fn see(&mut self, key: &str) {
        // Once all are seen (or none is required), a record costs nothing here.
        if self.left == 0 {
            return;
        }
        for (k, seen) in self.required.keys.iter().zip(self.seen.iter_mut()) {
            if !*seen && k == key {
                *seen = true;
                self.left -= 1;
            }
        }
    }

    /// The keys never seen, in the recipe's order, then the series no family holds, as
    /// the read's refusal.
    pub(super) fn check(&self, families: &[Family]) -> Result<(), ParseError> {
        let mut missing: Vec<String> = self
            .required
            .keys
            .iter()
            .zip(&self.seen)
            .filter(|(_, seen)| !**seen)
            .map(|(k, _)| k.clone())
            .collect();
        missing.extend(self.required.missing_series(families));
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ParseError::MissingKeys(missing))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_is_read_as_written_on_a_page() {
        let r = Required::new(
            vec![
                "MemTotal".into(),
                r#"queue_depth{queue="high", path="a\"b,c"}"#.into(),
            ],
            "app_",
        )
        .unwrap();
        assert_eq!(r.keys, ["MemTotal"]);
        assert_eq!(r.series[0].names, ["queue_depth", "app_queue_depth"]);
        assert_eq!(
            r.series[0].labels,
            [
                ("queue".to_string(), "high".to_string()),
                ("path".to_string(), "a\"b,c".to_string())
            ]
        );
        for (bad, why) in [
            ("q{queue=high}", "the value of queue is not quoted"),
            ("q{queue=\"high\"", "no closing }"),
            ("q{queue}", "no = after label \"queue\""),
            ("q{a-b=\"x\"}", "\"a-b\" is not a label name"),
            ("q{a=\"x}", "the value of a is not closed"),
        ] {
            let e = Required::new(vec![bad.into()], "").unwrap_err().to_string();
            assert!(e.starts_with("mapping.required[0]: "), "{e}");
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
