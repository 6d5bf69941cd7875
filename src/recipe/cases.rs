//! Tests inside a recipe: its `[[test]]` cases, each an input and the page lines it must
//! give. `metrics-adapter test` runs them, and `check` runs those of the recipes a config
//! uses, so a user's recipe carries its own proof and a change that breaks it fails before
//! it is deployed, not at the first scrape.
//!
//! A case runs the way `metrics-adapter parse` does (framing, parse, the page in the 0.0.4
//! text format), so what a user sees with `parse` is what the case compares against.

use crate::parse::RecipeError;
use serde::Deserialize;

/// One `[[test]]` table as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Names the case in reports; without it, `#N` (its place in the file, from 1).
    pub name: Option<String>,
    /// The sample, as the source would read it.
    pub input: String,
    /// Lines of the 0.0.4 text page that must be on it (blank lines ignored), written as one
    /// multi-line string or as a list of lines.
    #[serde(deserialize_with = "text_or_lines")]
    pub expect: String,
    /// The page must be exactly `expect`, no more lines.
    #[serde(default)]
    pub exact: bool,
    /// The input is written in this format string, as a tail source's `log_format` gives
    /// it (a recipe with `[log_format]`).
    #[serde(default)]
    pub log_format: Option<String>,
}

/// A multi-line string or a list of lines: both are natural in TOML, and a newcomer's first
/// try is often the list.
fn text_or_lines<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Expect {
        Text(String),
        Lines(Vec<String>),
    }
    match Expect::deserialize(d) {
        Ok(Expect::Text(text)) => Ok(text),
        Ok(Expect::Lines(lines)) => Ok(lines.join("\n")),
        Err(_) => Err(serde::de::Error::custom(
            "expected page lines: a string (one line each) or a list of strings",
        )),
    }
}

impl Case {
    /// How reports name the case whose place in its recipe is `index` (from 0).
    pub fn label(&self, index: usize) -> String {
        match &self.name {
            Some(name) => format!("{name:?}"),
            None => format!("#{}", index + 1),
        }
    }

    pub(super) fn expected_lines(&self) -> Vec<&str> {
        self.expect
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect()
    }
}

/// Checks a recipe's cases when it loads: a case that could never fail is a mistake.
pub fn validate(cases: &[Case]) -> Result<(), RecipeError> {
    for (i, case) in cases.iter().enumerate() {
        if case.expected_lines().is_empty() {
            return Err(format!(
                "test[{i}].expect: empty; list the page lines the input must give"
            )
            .into());
        }
        if case.input.trim().is_empty() {
            return Err(format!("test[{i}].input: empty; give the sample to parse").into());
        }
    }
    Ok(())
}
