//! `metrics-adapter draft`: a first recipe from a sample of an app's stats. It sits above the
//! parser and the recipes: it picks a format and its options ([`detect`], [`json`], [`csv`],
//! [`tables`]), reads the sample with that very format (so the keys are the ones the recipe
//! will see), finds labels in repeated structure ([`labels`]), names ([`names`]) and types
//! ([`types`]) each family, and writes the recipe with `[[test]]` cases cut from the sample
//! and a comment per guess ([`write`]). The recipe is compiled and its cases run before it is
//! printed, so what `draft` prints, `test` and `parse` accept. [`explain`] tells, line by
//! line, what each value became and why.

pub mod csv;
pub mod detect;
pub mod explain;
pub mod json;
pub mod labels;
pub mod layout;
pub mod names;
pub mod tables;
pub mod types;
pub mod write;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::parse::format::Format;
use crate::parse::{Issue, Record, RecordSink, Unmatched};
use layout::Layout;
use types::{Kind, Typed};

/// The largest sample read: a status page, not a log.
pub const MAX_SAMPLE_BYTES: usize = 8 << 20;

/// The most distinct keys a draft reads (the search for repeated structure is not free).
pub const MAX_KEYS: usize = 50_000;

/// The most rules a draft writes: a recipe is for a person to read.
pub const MAX_RULES: usize = 5000;

/// Why no recipe came of a sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DraftError {
    #[error("the sample is empty")]
    Empty,
    #[error(
        "no format reads the sample: it is not JSON, Prometheus text or CSV with a header, \
         and its lines are not a key, a separator and a value"
    )]
    NoLayout,
    #[error("the sample cannot be read as {format}: {message}")]
    Read { format: String, message: String },
    #[error("the sample has no value to make a metric of")]
    NoValues,
    #[error(
        "the sample has {0} distinct keys, more than a draft takes ({MAX_KEYS}): draft from \
         a part of it"
    )]
    TooManyKeys(usize),
    #[error(
        "the sample makes {0} families with nothing in common, more than a draft writes \
         ({MAX_RULES}): draft from a part of it"
    )]
    TooManyRules(usize),
    #[error(
        "the sample looks like a log of events (an access log, a daemon's log): draft reads \
         stats a status \
         page or file shows; a log is counted line by line by a regex recipe with rules that \
         accumulate (docs/recipes.md, \"Logs\"; parsers/nginx_access.toml)"
    )]
    Log,
    #[error("the drafted recipe fails its own check (please report it): {0}")]
    SelfCheck(String),
}

/// A sample: its text and the name it goes by (the file's stem).
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

/// A drafted recipe and its explanation.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The recipe's TOML text.
    pub recipe: String,
    /// `draft --explain`: what every line of the first sample became, and why.
    pub explain: String,
}

/// One record of a sample, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub key: String,
    pub labels: Vec<(String, String)>,
    pub value: String,
    pub unit: Option<String>,
    pub line: usize,
    /// The page's own type (Prometheus text).
    pub typed: bool,
}

struct Collect(Vec<Seen>);

impl<'a> RecordSink<'a> for Collect {
    fn push(&mut self, r: Record<'a>) {
        self.0.push(Seen {
            key: r.key.into_owned(),
            labels: r.labels.iter().cloned().collect(),
            value: r.value.into_owned(),
            unit: r.unit.map(str::to_string),
            line: r.line,
            typed: r.kind.is_some(),
        });
    }
}

/// What one rule of the recipe matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    Key(String),
    Pattern(labels::Shape),
}

/// One `[[mapping.metric]]` rule of the draft and the reasons behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub matcher: Matcher,
    pub named: names::Named,
    pub typed: Typed,
    pub help: Option<String>,
}

impl Rule {
    /// The family name as the page writes it, with `prefix`.
    pub fn page_name(&self, prefix: &str) -> String {
        let mut name = format!("{prefix}{}", self.named.name);
        if let Some(u) = self.named.unit {
            if !name.ends_with(u) {
                name = format!("{name}_{u}");
            }
        }
        match self.typed.kind {
            Kind::Counter => format!("{name}_total"),
            Kind::Info => format!("{name}_info"),
            _ => name,
        }
    }
}

/// Reads `text` with the layout's format into records.
pub fn read(layout: &Layout, text: &str) -> Result<Vec<Seen>, DraftError> {
    let fail = |message: String| DraftError::Read {
        format: layout.format.to_string(),
        message,
    };
    let options = if layout.options.trim().is_empty() {
        None
    } else {
        let table: toml::Table = layout
            .options
            .parse()
            .map_err(|e: toml::de::Error| fail(e.message().to_string()))?;
        table.get(layout.format).cloned()
    };
    let format = Format::from_options(layout.format, options).map_err(|e| fail(e.to_string()))?;
    let mut out = Collect(Vec::new());
    let mut issues: Vec<Issue> = Vec::new();
    let mut unmatched = Unmatched::default();
    format
        .records(text, &mut out, &mut issues, &mut unmatched)
        .map_err(|e| fail(e.to_string()))?;
    Ok(out.0)
}

/// Drafts a recipe from `first` (and `second`, the same app's stats some time later) with
/// `prefix` before every name.
pub fn draft(first: Sample, second: Option<Sample>, name: &str) -> Result<Draft, DraftError> {
    let layout = detect::detect(first.text)?;
    let seen = read(&layout, first.text)?;
    if seen.is_empty() {
        return Err(DraftError::NoValues);
    }
    let distinct: HashSet<&str> = seen.iter().map(|s| s.key.as_str()).collect();
    if distinct.len() > MAX_KEYS {
        return Err(DraftError::TooManyKeys(distinct.len()));
    }
    let later = match second {
        Some(s) => Some(read(&layout, s.text)?),
        None => None,
    };
    let prefix = names::prefix(name);
    let rules = plan(&layout, &seen, later.as_deref());
    if rules.len() > MAX_RULES {
        return Err(DraftError::TooManyRules(rules.len()));
    }
    let recipe = write::recipe(&write::Input {
        name,
        prefix: &prefix,
        layout: &layout,
        rules: &rules,
        seen: &seen,
        later: later.as_deref(),
        first: first.text,
        sample_name: first.name,
        second_name: second.map(|s| s.name),
    })?;
    let explain = explain::render(first.text, &layout, &seen, &rules, &prefix);
    Ok(Draft { recipe, explain })
}

/// A series: a record's key and labels.
type SeriesId = (String, Vec<(String, String)>);

/// The series of a record.
fn series_of(s: &Seen) -> SeriesId {
    (s.key.clone(), s.labels.clone())
}

/// The rules: one per plain key, one per family of keys with the same shape.
pub fn plan(layout: &Layout, seen: &[Seen], later: Option<&[Seen]>) -> Vec<Rule> {
    if layout.format == "prometheus" {
        return Vec::new();
    }
    let mut keys: Vec<String> = Vec::new();
    let mut known: HashSet<&str> = HashSet::new();
    for s in seen {
        if known.insert(s.key.as_str()) {
            keys.push(s.key.clone());
        }
    }
    let shapes = labels::shapes(&keys);
    let mut shape_of: HashMap<&str, usize> = HashMap::new();
    for (i, shape) in shapes.iter().enumerate() {
        for k in &shape.keys {
            shape_of.insert(k.as_str(), i);
        }
    }
    let mut values: BTreeMap<String, Vec<&Seen>> = BTreeMap::new();
    for s in seen {
        let group = match shape_of.get(s.key.as_str()) {
            Some(i) => format!("\u{0}{i}"),
            None => s.key.clone(),
        };
        values.entry(group).or_default().push(s);
    }
    let then: HashMap<SeriesId, &str> = later
        .unwrap_or(&[])
        .iter()
        .map(|s| (series_of(s), s.value.as_str()))
        .collect();
    let mut rules = Vec::new();
    let mut done_shapes = vec![false; shapes.len()];
    let mut taken: HashSet<String> = HashSet::new();
    for key in &keys {
        let (matcher, group, base) = match shape_of.get(key.as_str()) {
            Some(&i) => {
                if std::mem::replace(&mut done_shapes[i], true) {
                    continue;
                }
                let shape = shapes[i].clone();
                let base = shape.base.clone();
                (Matcher::Pattern(shape), format!("\u{0}{i}"), base)
            }
            None => (Matcher::Key(key.clone()), key.clone(), key.clone()),
        };
        let records = values.get(&group).map(Vec::as_slice).unwrap_or(&[]);
        let texts: Vec<&str> = records.iter().map(|s| s.value.as_str()).collect();
        let pairs: Vec<(f64, f64)> = records
            .iter()
            .filter_map(|s| {
                let b = then.get(&series_of(s))?;
                Some((
                    crate::parse::number::parse(&s.value)?,
                    crate::parse::number::parse(b)?,
                ))
            })
            .collect();
        let trailing = layout.trailing.get(key).map(String::as_str);
        let mut named = names::name(&base, trailing);
        let typed = types::decide(&names::words(&base), &texts, &pairs);
        if !matches!(typed.kind, Kind::Gauge | Kind::Counter) {
            named.unit = None;
            named.scale = None;
            named.why = None;
        }
        // `_count`, `_sum` and `_bucket` end a histogram's or a summary's series names: a
        // counter's `_count` is its `_total`, anything else keeps its word another way.
        for suffix in ["_count", "_sum", "_bucket"] {
            if let Some(stem) = named.name.strip_suffix(suffix) {
                named.name = match typed.kind {
                    Kind::Counter if suffix == "_count" && !stem.is_empty() => stem.to_string(),
                    _ => format!("{}_value", named.name),
                };
            }
        }
        // Two keys folding into one name (`a.b` and `a_b`) would merge: the second gets a
        // number.
        let mut candidate = named.name.clone();
        let mut n = 2;
        while taken.contains(&candidate) {
            candidate = format!("{}_{n}", named.name);
            n += 1;
        }
        named.name = candidate;
        taken.insert(named.name.clone());
        // The text after the value, less the unit word and a leading rate column.
        let help = trailing.and_then(|t| {
            let words: Vec<&str> = t.split_whitespace().collect();
            let skip = words
                .iter()
                .take_while(|w| crate::parse::number::parse(w).is_some() || **w == ".")
                .count();
            let text = words.get(skip..).unwrap_or(&[]).join(" ");
            (text.split_whitespace().count() >= 2).then_some(text)
        });
        rules.push(Rule {
            matcher,
            named,
            typed,
            help,
        });
    }
    rules
}
