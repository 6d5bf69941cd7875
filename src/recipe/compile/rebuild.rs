//! A recipe built again around another pattern: a tail source's `log_format` compiled by
//! the recipe's `[log_format]` (see [`crate::recipe::log_format`]) into its one rule.

use super::*;
use crate::recipe::log_format::FormatError;

/// A recipe with `[log_format]`, as written: [`Recipe::with_log_format`] builds it again
/// with its one rule's pattern compiled from an app's format string.
#[derive(Debug)]
pub(super) struct Rebuild {
    pub(super) log_format: LogFormat,
    pub(super) regex: toml::Value,
    pub(super) mapping: mapping::Options,
}

impl Recipe {
    /// This recipe reading lines written in an app's own `format` (nginx `log_format`,
    /// Apache `LogFormat`): its one rule's pattern compiled from it by the recipe's
    /// `[log_format]`, values the format does not write left out; the mapping as it is.
    pub fn with_log_format(&self, format: &str) -> Result<Recipe, FormatError> {
        let Some(rebuild) = &self.log_format else {
            return Err(FormatError::NotDeclared(self.name.clone()));
        };
        let pattern = rebuild.log_format.compile(format)?;
        let names: Vec<String> = regex::Regex::new(&pattern)
            .map_err(|e| FormatError::Recipe(e.to_string()))?
            .capture_names()
            .flatten()
            .map(str::to_string)
            .collect();
        let mut regex = rebuild.regex.clone();
        if let Some(rule) = (regex.get_mut("rule"))
            .and_then(|r| r.as_array_mut())
            .and_then(|r| r.first_mut())
            .and_then(|r| r.as_table_mut())
        {
            rule.insert("pattern".into(), toml::Value::String(pattern));
            let written =
                |v: &toml::Value| v.as_str().is_some_and(|v| names.iter().any(|n| n == v));
            if let Some(values) = rule.get_mut("values").and_then(|v| v.as_array_mut()) {
                values.retain(written);
            }
            // A capture taken from another (`derive`) needs that one written too.
            if let Some(derive) = rule.get_mut("derive").and_then(|v| v.as_array_mut()) {
                derive.retain(|d| d.get("from").is_some_and(written));
            }
        }
        let recipe_error = |e: RecipeError| FormatError::Recipe(e.to_string());
        Ok(Recipe {
            name: self.name.clone(),
            description: self.description.clone(),
            checked_against: self.checked_against.clone(),
            notes: self.notes.clone(),
            up_metric: self.up_metric.clone(),
            format_name: self.format_name.clone(),
            format: Format::from_options("regex", Some(regex)).map_err(recipe_error)?,
            framing: None,
            mapping: Mapping::new(rebuild.mapping.clone()).map_err(recipe_error)?,
            fingerprint: format!("{} log_format {format:?}", self.fingerprint),
            tests: Vec::new(),
            log_format: None,
            // A line recipe is read from a followed log: it sends nothing.
            requests: Vec::new(),
        })
    }
}

/// A `[log_format]` recipe's `[regex]` table, checked to hold one rule read line by line
/// (the rule whose pattern a format string replaces).
pub(super) fn one_rule(
    format: &str,
    regex: Option<&toml::Value>,
) -> Result<toml::Value, RecipeError> {
    let rules = regex
        .filter(|_| format == "regex")
        .filter(|r| r.get("whole_text").and_then(toml::Value::as_bool) != Some(true))
        .and_then(|r| Some((r, r.get("rule")?.as_array()?.len())));
    match rules {
        Some((regex, 1)) => Ok(regex.clone()),
        _ => Err(
            "log_format: a recipe with [log_format] has format = \"regex\", line by \
             line, with one [[regex.rule]] (the pattern a format string replaces)"
                .into(),
        ),
    }
}
