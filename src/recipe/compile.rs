//! A recipe's TOML, checked completely and compiled into a [`Recipe`] (a format plus a
//! mapping), and the [`Parser`] trait a source's bytes are read by.

use crate::parse::RecipeError;
use std::sync::Arc;

use serde::Deserialize;

use super::cases::{self, Case};
use super::explain::render;
use super::log_format::{self, LogFormat};
use super::renamed::{old_log_table, renamed_key};
use crate::framing::Framing;
use crate::parse::format::Format;
use crate::parse::mapping::{self, Mapping};
use crate::parse::records::{RecordFraming, MAX_PENDING};
use crate::parse::totals::RunningTotals;
use crate::parse::trace::LineReader;
use crate::parse::{text, Issue, ParseError, Parsed, Unmatched};
use rebuild::{one_rule, Rebuild};

/// Turns a source's bytes into families. The set is open (recipes, code parsers, user recipes),
/// so this is the one trait of the pipeline.
pub trait Parser: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &str;
    fn description(&self) -> &str;
    fn parse(&self, input: &[u8]) -> Result<Parsed, ParseError>;
    /// [`Parser::parse`], giving up once the input holds more than `max_values` values: a
    /// runaway source's families stop growing at the limit (a recipe drops them there and
    /// only counts the rest), and the read is refused with the full count.
    fn parse_capped(&self, input: &[u8], max_values: usize) -> Result<Parsed, ParseError> {
        let _ = max_values;
        self.parse(input)
    }
    /// An exporter-compatible up metric (`nginx_up`) emitted beside the adapter's own.
    fn up_metric(&self) -> Option<&str> {
        None
    }
    /// `parse --explain`: what became of every input line, as text; `None` for a parser
    /// written in code (only recipes can say which rule did what).
    fn explain(&self, input: &[u8]) -> Option<Result<String, ParseError>> {
        let _ = input;
        None
    }
    /// Whether a cut document of this format cannot parse (JSON), so a file source needs
    /// no final newline to trust a read of it.
    fn self_delimiting(&self) -> bool {
        false
    }
    /// How the input is framed when it is an append log of whole dumps.
    fn framing(&self) -> Option<&std::sync::Arc<Framing>> {
        None
    }
    /// What a request/reply source sends when it sets no `send` of its own (the recipe's
    /// `[[request]]`s).
    fn requests(&self) -> &[super::request::Request] {
        &[]
    }
    /// A line recipe (its mapping's rules accumulate): its input is a log followed by a
    /// `tail` source, whose new lines it adds into running totals ([`Recipe::feed`]).
    fn line_recipe(&self) -> Option<&Recipe> {
        None
    }
}

/// The file as written. Unknown keys are errors, so a typo cannot silently do nothing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeFile {
    /// One line: what the recipe reads.
    pub description: String,
    /// App versions the recipe's golden samples were captured from.
    #[serde(default)]
    pub checked_against: Vec<String>,
    /// Deliberate differences from the exporter it follows, and why.
    #[serde(default)]
    pub notes: String,
    /// Which generic format reads the input.
    pub format: String,
    /// Emit `<up_metric> 1/0` beside the adapter's own up, as the app's exporter does.
    pub up_metric: Option<String>,
    kv: Option<toml::Value>,
    regex: Option<toml::Value>,
    json: Option<toml::Value>,
    csv: Option<toml::Value>,
    prometheus: Option<toml::Value>,
    /// The input is an append log of whole dumps: how its blocks are found.
    pub framing: Option<FramingOptions>,
    /// An app's own log format string may replace the one rule's pattern (see
    /// [`super::log_format`]).
    pub log_format: Option<log_format::Options>,
    /// `[[request]]`: what a `tcp` source sends, and how each reply is framed.
    #[serde(default)]
    pub request: Vec<super::request::RequestOptions>,
    #[serde(default)]
    pub mapping: mapping::Options,
    /// `[[test]]`: samples and the page lines they must give (see [`super::cases`]).
    #[serde(default)]
    pub test: Vec<Case>,
}

/// `[framing]`: what a `file` source (unless it sets its own) and `parse` use to find the
/// latest complete block (see [`crate::framing`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FramingOptions {
    /// A line matching this starts a block.
    pub block_start: Option<String>,
    /// A line matching this is a block's last line (it must match no other line).
    pub block_end: Option<String>,
    /// The `block_start` line is the block's write time, as `date` prints it: the source
    /// then knows the write period and goes stale when the writer stops.
    #[serde(default)]
    pub dated: bool,
    /// A log recipe's multi-line records: a line matching this starts one.
    pub record_start: Option<String>,
    /// A line matching this is a record's last line.
    pub record_end: Option<String>,
}

#[derive(Debug)]
pub struct Recipe {
    pub name: String,
    pub description: String,
    pub checked_against: Vec<String>,
    pub notes: String,
    pub up_metric: Option<String>,
    format_name: String,
    format: Format,
    framing: Option<Arc<Framing>>,
    requests: Vec<super::request::Request>,
    mapping: Mapping,
    /// What the recipe reads and makes, as written: running totals are kept across a
    /// reload only for the same one.
    fingerprint: String,
    /// The recipe's `[[test]]` cases; the registry takes them out when it keeps the recipe.
    pub tests: Vec<Case>,
    /// `[log_format]`, with what is needed to build the recipe again around another pattern.
    log_format: Option<Box<Rebuild>>,
}

impl Recipe {
    /// Parses and checks a recipe's TOML text. Errors name the key at fault.
    pub fn from_toml(name: &str, source: &str) -> Result<Recipe, RecipeError> {
        if let Ok(table) = source.parse::<toml::Table>() {
            old_log_table(&table)?;
            renamed_key(&table)?;
        }
        let mut file: RecipeFile = toml::from_str(source).map_err(|e| {
            let message = crate::text::without_quoted_lines(&e.to_string());
            RecipeError::new(
                crate::parse::ErrorKind::Syntax,
                crate::text::with_field_suggestion(message.trim_end()),
            )
        })?;
        let mut tables = [
            ("kv", file.kv.take()),
            ("regex", file.regex.take()),
            ("json", file.json.take()),
            ("csv", file.csv.take()),
            ("prometheus", file.prometheus.take()),
        ];
        if let Some((other, _)) = tables
            .iter()
            .find(|(n, t)| t.is_some() && *n != file.format)
        {
            return Err(format!("[{other}] options given, but format is {:?}", file.format).into());
        }
        let options = tables
            .iter_mut()
            .find(|(n, _)| *n == file.format)
            .and_then(|(_, t)| t.take());
        let fingerprint = format!(
            "{:?} {options:?} {:?} {:?}",
            file.format, file.mapping, file.request
        );
        let log_format = match file.log_format.take() {
            None => None,
            Some(o) => Some(Box::new(Rebuild {
                log_format: LogFormat::new(o)?,
                regex: one_rule(&file.format, options.as_ref())?,
                mapping: file.mapping.clone(),
            })),
        };
        let mut format =
            Format::from_options(&file.format, options).map_err(|e| e.in_table(&file.format))?;
        let requests = super::request::compile(&file.request, &mut format)?;
        let mapping = Mapping::new(file.mapping)?;
        if mapping.accumulates() {
            // Lines are what a tail source delivers: a recipe whose rules accumulate reads
            // them one by one, and a block framing would mean nothing to it.
            if !matches!(&format, Format::Regex(r) if r.by_line()) {
                return Err(
                    "accumulate: a recipe whose rules accumulate reads a log line by line: \
                     format = \"regex\" (without whole_text)"
                        .into(),
                );
            }
            if file
                .framing
                .as_ref()
                .is_some_and(|f| f.block_start.is_some() || f.block_end.is_some() || f.dated)
            {
                return Err(
                    "[framing] block_start, block_end and dated do not apply to a recipe whose \
                     rules accumulate (it reads the lines of a log as they are appended; \
                     record_start frames its multi-line records)"
                        .into(),
                );
            }
        }
        let mut format = format;
        match file.framing.take() {
            Some(FramingOptions {
                record_start: Some(start),
                record_end,
                ..
            }) => {
                let framing = RecordFraming::new(&start, record_end.as_deref())
                    .map_err(|(key, e)| RecipeError::invalid(e).at(format!("framing.{key}")))?;
                match &mut format {
                    Format::Regex(r) if mapping.accumulates() => r.set_record_framing(framing),
                    _ => {
                        return Err(RecipeError::invalid(
                            "multi-line records are for a log recipe (format = \"regex\", rules that accumulate)",
                        )
                        .at("framing.record_start"))
                    }
                }
            }
            Some(FramingOptions {
                record_end: Some(_),
                ..
            }) => return Err(RecipeError::invalid("needs record_start").at("framing.record_end")),
            other => file.framing = other,
        }
        cases::validate(&file.test)?;
        let framing = file
            .framing
            .map(|f| {
                let start = f
                    .block_start
                    .as_deref()
                    .ok_or(("block_start", "required".to_string()))?;
                Framing::new(start, f.block_end.as_deref()).map(|framing| Framing {
                    dated: f.dated,
                    ..framing
                })
            })
            .transpose()
            .map_err(|(key, e)| RecipeError::invalid(e).at(format!("framing.{key}")))?
            .map(Arc::new);
        Ok(Recipe {
            name: name.to_string(),
            description: file.description,
            checked_against: file.checked_against,
            notes: file.notes,
            up_metric: file.up_metric,
            format_name: file.format,
            format,
            framing,
            requests,
            mapping,
            fingerprint,
            tests: file.test,
            log_format,
        })
    }

    /// A bare format, usable as `parser = "kv"`; `options` is its options table as TOML
    /// (`[csv]` ...), or empty for the defaults.
    pub fn generic(
        format_name: &str,
        description: &str,
        options: &str,
    ) -> Result<Recipe, RecipeError> {
        Recipe::from_toml(
            format_name,
            &Recipe::generic_toml(format_name, description, options),
        )
    }

    /// The recipe text a bare format is: what `generic` loads and `parsers show` prints.
    /// Its families get a HELP text, so a bare format's page passes promtool's lint.
    pub fn generic_toml(format_name: &str, description: &str, options: &str) -> String {
        format!(
            "description = {description:?}\nformat = {format_name:?}\n{options}[mapping]\nunmatched_help = \"{{key}}, read by the generic {format_name} parser\"\n"
        )
    }

    pub fn format_name(&self) -> &str {
        &self.format_name
    }
}

/// What adding some new lines into running totals did (see [`Recipe::feed`]).
#[derive(Debug, Default)]
pub struct Fed {
    /// Values a rule took but could not use (not a number, a negative sum), and label
    /// values cut short; the first few kept, the rest counted.
    pub issues: u64,
    pub first_issues: Vec<Issue>,
    pub unmatched: Unmatched,
    /// New label sets refused because the source's page holds `max_series` samples already.
    pub dropped: u64,
    /// Keys of the line state forgotten: to make room at `max_keys`, and expired.
    pub state_dropped: [u64; 2],
}

/// How many issues a feed keeps as text; the rest are only counted.
const KEPT_ISSUES: usize = 20;

impl Recipe {
    /// A line recipe's running totals start here: fresh ones for this recipe.
    pub fn totals(&self) -> RunningTotals {
        RunningTotals::new(&self.fingerprint)
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether its rules keep state across lines (`remember`): its source's page then
    /// counts what the bounds of that state dropped.
    pub fn remembers(&self) -> bool {
        self.mapping.remembers()
    }

    /// Adds new lines of a followed log (complete lines only) into `totals`: the one path,
    /// records -> mapping -> totals. `max_series` bounds the samples the totals hold.
    pub fn feed(&self, text: &str, totals: &mut RunningTotals, max_series: usize) -> Fed {
        self.feed_lines(text, totals, max_series, false)
    }

    /// Multi-line records (`[framing] record_start`), when the recipe reads them.
    fn record_framing(&self) -> Option<&RecordFraming> {
        match &self.format {
            Format::Regex(r) => r.record_framing(),
            _ => None,
        }
    }

    /// [`Recipe::feed`]; `last`: no more lines follow (a saved log), so a multi-line record
    /// still open is read as it is rather than kept for them.
    fn feed_lines(
        &self,
        text: &str,
        totals: &mut RunningTotals,
        max_series: usize,
        last: bool,
    ) -> Fed {
        let joined: String;
        let mut text = text;
        if let Some(framing) = self.record_framing() {
            // A record whose end is not written yet is read with the lines after it.
            let pending = std::mem::take(&mut totals.line_state.pending);
            if !pending.is_empty() {
                joined = pending + text;
                text = &joined;
            }
            let cut = if last {
                text.len()
            } else {
                framing.complete_len(text)
            };
            if let Some((whole, rest)) = text.split_at_checked(cut) {
                if rest.len() <= MAX_PENDING {
                    totals.line_state.pending = rest.to_string();
                    text = whole;
                }
            }
        }
        let (mut issues, mut unmatched) = (Vec::new(), Unmatched::default());
        let before = [totals.line_state.evicted, totals.line_state.expired];
        let mut run = self.mapping.run_into(std::mem::take(totals), max_series);
        // A line format cannot fail as a whole (see `RegexFormat::records`).
        let _ = self
            .format
            .records(text, &mut run, &mut issues, &mut unmatched);
        let mut done = run.finish();
        done.merge_into(&mut issues, &mut unmatched);
        let dropped = done.dropped;
        if let Some(back) = done.totals.take() {
            *totals = back;
        }
        let count = issues.len() as u64;
        issues.truncate(KEPT_ISSUES);
        let state = &totals.line_state;
        Fed {
            issues: count,
            first_issues: issues,
            unmatched,
            dropped,
            state_dropped: [
                state.evicted.saturating_sub(before[0]),
                state.expired.saturating_sub(before[1]),
            ],
        }
    }

    /// A whole saved log, counted from nothing: what `metrics-adapter parse` and the golden
    /// tests show. `max_series` caps label sets as a source's `max_series` does.
    fn parse_whole(&self, text: &str, max_series: usize) -> Parsed {
        let mut totals = self.totals();
        let fed = self.feed_lines(text, &mut totals, max_series, true);
        let mut issues = fed.first_issues;
        if fed.dropped > 0 {
            issues.push(Issue::new(
                0,
                format!(
                    "{} value(s) of new series dropped: more than max_series ({max_series})",
                    fed.dropped
                ),
            ));
        }
        Parsed {
            families: totals.families(),
            issues,
            unmatched: fed.unmatched,
        }
    }

    /// What became of every input line (see [`super::explain`]): the parse, traced.
    fn explain_text(&self, input: &[u8]) -> Result<String, ParseError> {
        if input.iter().all(u8::is_ascii_whitespace) {
            return Err(ParseError::Empty);
        }
        let text = text(input);
        let (mut issues, mut unmatched) = (Vec::new(), Unmatched::default());
        let mut run = self.mapping.run(usize::MAX, true);
        self.format
            .records(&text, &mut run, &mut issues, &mut unmatched)?;
        // What the format could not read is told per line; what the mapping could not use,
        // per record.
        let format_issues = issues.clone();
        let mut done = run.finish();
        done.merge_into(&mut issues, &mut unmatched);
        let missing = done.required.clone().err();
        let trace = done.trace.take().unwrap_or_default();
        // A line recipe's series are its running totals, here counted from nothing.
        let families = if self.mapping.accumulates() {
            let mut totals = RunningTotals::new(&self.fingerprint);
            totals.add(
                &self.mapping,
                &done.families,
                &done.observed,
                usize::MAX,
                &mut issues,
            );
            totals.families()
        } else {
            done.families
        };
        let lines: Option<&dyn LineReader> = match &self.format {
            Format::Regex(r) => Some(r),
            _ => None,
        };
        let (mut out, duplicates) = render(&text, &trace, &format_issues, lines);
        let series: usize = families.iter().map(|f| f.samples.len()).sum();
        out.push_str(&format!(
            "in all: {} series in {} families, {} parse errors, {duplicates} duplicates, {} unmatched\n",
            series.saturating_sub(duplicates),
            families.len(),
            issues.len(),
            unmatched.count
        ));
        if let Some(e) = missing {
            out.push_str(&format!("the read fails: {e}\n"));
        }
        Ok(out)
    }
}

impl Parser for Recipe {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parse(&self, input: &[u8]) -> Result<Parsed, ParseError> {
        self.parse_capped(input, usize::MAX)
    }

    fn parse_capped(&self, input: &[u8], max_values: usize) -> Result<Parsed, ParseError> {
        if input.iter().all(u8::is_ascii_whitespace) {
            return Err(ParseError::Empty);
        }
        let text = text(input);
        if self.mapping.accumulates() {
            return Ok(self.parse_whole(&text, max_values));
        }
        let mut issues = Vec::new();
        let mut unmatched = Unmatched::default();
        // Records go to the mapping as the format reads them: no read holds all its records.
        let mut run = self.mapping.run(max_values, false);
        self.format
            .records(&text, &mut run, &mut issues, &mut unmatched)?;
        let mut done = run.finish();
        // Nothing found is decided here, once for every format: the source is down.
        if done.records == 0 {
            return Err(match issues.first() {
                None => ParseError::Empty,
                Some(first) => ParseError::Invalid(format!(
                    "no values in the input; {} line(s) could not be read, first: {first}",
                    issues.len()
                )),
            });
        }
        if done.records > max_values {
            return Err(ParseError::TooManyValues {
                found: done.records,
                limit: max_values,
            });
        }
        done.required.clone()?;
        done.merge_into(&mut issues, &mut unmatched);
        let families = done.families;
        Ok(Parsed {
            families,
            issues,
            unmatched,
        })
    }

    fn up_metric(&self) -> Option<&str> {
        self.up_metric.as_deref()
    }

    fn explain(&self, input: &[u8]) -> Option<Result<String, ParseError>> {
        Some(self.explain_text(input))
    }

    fn self_delimiting(&self) -> bool {
        matches!(self.format, Format::Json(_))
    }

    fn framing(&self) -> Option<&Arc<Framing>> {
        self.framing.as_ref()
    }

    fn requests(&self) -> &[super::request::Request] {
        &self.requests
    }

    fn line_recipe(&self) -> Option<&Recipe> {
        self.mapping.accumulates().then_some(self)
    }
}

mod rebuild;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
