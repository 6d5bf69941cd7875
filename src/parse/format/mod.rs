//! Generic formats: each turns text into [`Record`]s, handed one at a time to a
//! [`RecordSink`] (the mapping), and knows nothing of metric names.
//!
//! [`Record`]: super::Record
//!
//! The set is closed (a new format is a new file plus one arm here), so it is an enum.
//! Each format has an `Options` struct, the recipe's `[<format>]` table, checked when the
//! recipe loads so a bad pattern fails at start-up rather than at scrape time.
// Source text is the app's: an index or slice that can panic is a crash on its data.
#![warn(clippy::indexing_slicing)]

pub mod csv;
pub mod json;
pub mod kv;
pub mod prometheus;
pub mod regex;

use super::{Issue, ParseError, RecordSink, Unmatched};
use crate::parse::RecipeError;

/// A format with its options compiled.
#[derive(Debug)]
pub enum Format {
    Kv(kv::Kv),
    Regex(regex::RegexFormat),
    Json(json::Json),
    Csv(csv::Csv),
    Prometheus(prometheus::Prometheus),
}

/// Names accepted in a recipe's `format = "..."`.
pub const NAMES: &[&str] = &["kv", "regex", "json", "csv", "prometheus"];

impl Format {
    /// Builds a format from its name and its options table (`None` when the recipe has none).
    pub fn from_options(name: &str, options: Option<toml::Value>) -> Result<Format, RecipeError> {
        fn opts<T: serde::de::DeserializeOwned + Default>(
            v: Option<toml::Value>,
        ) -> Result<T, RecipeError> {
            match v {
                None => Ok(T::default()),
                Some(v) => v.try_into().map_err(|e: toml::de::Error| {
                    RecipeError::new(
                        crate::parse::ErrorKind::Syntax,
                        crate::text::with_field_suggestion(e.message()),
                    )
                }),
            }
        }
        Ok(match name {
            "kv" => Format::Kv(kv::Kv::new(opts(options)?)?),
            "regex" => Format::Regex(regex::RegexFormat::new(opts(options)?)?),
            "json" => Format::Json(json::Json::new(opts(options)?)?),
            "csv" => Format::Csv(csv::Csv::new(opts(options)?)?),
            "prometheus" => Format::Prometheus(prometheus::Prometheus::new(opts(options)?)?),
            other => {
                return Err(RecipeError::new(
                    crate::parse::ErrorKind::UnknownName,
                    format!(
                        "unknown format {other:?}; expected one of {}{}",
                        NAMES.join(", "),
                        crate::text::did_you_mean(other, NAMES.iter().copied())
                    ),
                ))
            }
        })
    }

    /// Appends the records found in `text`. Values that cannot be used go to `issues`, text
    /// no rule reads to `unmatched`; an input that cannot be used at all is an error.
    pub fn records<'a>(
        &'a self,
        text: &'a str,
        records: &mut dyn RecordSink<'a>,
        issues: &mut Vec<Issue>,
        unmatched: &mut Unmatched,
    ) -> Result<(), ParseError> {
        match self {
            Format::Kv(f) => f.records(text, records, issues),
            Format::Regex(f) => f.records(text, records, unmatched),
            Format::Json(f) => f.records(text, records, issues),
            Format::Csv(f) => f.records(text, records, issues),
            Format::Prometheus(f) => f.records(text, records, issues),
        }
    }
}
