//! What a draft's format detection decides (a [`Layout`]), and the TOML spellings the
//! detectors and the writer share.

use std::collections::BTreeMap;

/// How a sample is read: the recipe's `format` and its options table.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub format: &'static str,
    /// The options as TOML (`[kv]` and its keys), empty for none.
    pub options: String,
    /// Why this format and these options: the recipe's comments.
    pub why: Vec<String>,
    /// Record key -> the text after its value on the line (a HELP, a unit word).
    pub trailing: BTreeMap<String, String>,
    /// Unit words written after values (`[kv] value_unit`), for `[mapping.units]`.
    pub units: Vec<String>,
}

impl Layout {
    pub fn new(format: &'static str, options: String, why: Vec<String>) -> Layout {
        Layout {
            format,
            options,
            why,
            trailing: BTreeMap::new(),
            units: Vec::new(),
        }
    }
}

/// A TOML string (basic, escaped).
pub fn toml_str(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A TOML literal string for a regex when it can be one (no `'`), else a basic one.
pub fn toml_pattern(text: &str) -> String {
    if text.contains('\'') || text.chars().any(char::is_control) {
        toml_str(text)
    } else {
        format!("'{text}'")
    }
}
