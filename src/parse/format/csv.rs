//! `csv` format (to be written).

use serde::Deserialize;

use crate::parse::{Issue, ParseError, Record};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {}

#[derive(Debug)]
pub struct Csv {}

impl Csv {
    pub fn new(_opts: Options) -> Result<Self, String> {
        Err("the csv format is not written yet".into())
    }

    pub fn records(
        &self,
        _text: &str,
        _records: &mut Vec<Record>,
        _issues: &mut Vec<Issue>,
    ) -> Result<(), ParseError> {
        Err(ParseError::Invalid("not written yet".into()))
    }
}
