//! Recipes: a format plus a mapping, written as TOML (`parsers/*.toml`), so a new app format
//! needs no Rust. A recipe file is checked completely when it loads.

use std::sync::Arc;

use serde::Deserialize;

use super::explain::{render, LineReader, Trace};
use super::format::Format;
use super::mapping::{self, Mapping};
use super::{text, ParseError, Parsed, Parser, Unmatched};
use crate::framing::Framing;

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
    #[serde(default)]
    pub mapping: mapping::Options,
}

/// `[framing]`: what a `file` source (unless it sets its own) and `parse` use to find the
/// latest complete block (see [`crate::framing`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FramingOptions {
    /// A line matching this starts a block.
    pub block_start: String,
    /// A line matching this is a block's last line (it must match no other line).
    pub block_end: Option<String>,
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
    mapping: Mapping,
}

impl Recipe {
    /// Parses and checks a recipe's TOML text. Errors name the key at fault.
    pub fn from_toml(name: &str, source: &str) -> Result<Recipe, String> {
        if let Ok(table) = source.parse::<toml::Table>() {
            renamed_key(&table)?;
        }
        let mut file: RecipeFile = toml::from_str(source).map_err(|e| {
            let message = crate::text::without_quoted_lines(&e.to_string());
            crate::text::with_field_suggestion(message.trim_end())
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
            return Err(format!(
                "[{other}] options given, but format is {:?}",
                file.format
            ));
        }
        let options = tables
            .iter_mut()
            .find(|(n, _)| *n == file.format)
            .and_then(|(_, t)| t.take());
        let format = Format::from_options(&file.format, options)
            .map_err(|e| format!("[{}] {e}", file.format))?;
        let mapping = Mapping::new(file.mapping)?;
        let framing = file
            .framing
            .map(|f| Framing::new(&f.block_start, f.block_end.as_deref()))
            .transpose()
            .map_err(|(key, e)| format!("framing.{key}: {e}"))?
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
            mapping,
        })
    }

    /// A bare format, usable as `parser = "kv"`; `options` is its options table as TOML
    /// (`[csv]` ...), or empty for the defaults.
    pub fn generic(format_name: &str, description: &str, options: &str) -> Result<Recipe, String> {
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

impl Recipe {
    /// What became of every input line (see [`super::explain`]): the parse, traced.
    fn explain_text(&self, input: &[u8]) -> Result<String, ParseError> {
        if input.iter().all(u8::is_ascii_whitespace) {
            return Err(ParseError::Empty);
        }
        let text = text(input);
        let (mut records, mut issues, mut unmatched) =
            (Vec::new(), Vec::new(), Unmatched::default());
        self.format
            .records(&text, &mut records, &mut issues, &mut unmatched)?;
        // What the format could not read is told per line; what the mapping could not use,
        // per record.
        let format_issues = issues.clone();
        let missing = self.mapping.check_required(&records).err();
        let mut trace = Trace::default();
        let families =
            self.mapping
                .apply_traced(records, &mut issues, &mut unmatched, Some(&mut trace));
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

/// Keys that meant something else in another table and were renamed so each key has one
/// meaning across the language: (table, old key, new key). `[]` is every item of an array.
/// `values` is the captures holding values (regex) and `words` the words standing for
/// numbers; `key` is a record's key a rule matches, `record_key` the key a regex rule
/// makes; `labels` is static labels, `label_fields` labels read from JSON fields;
/// `prefix` is a metric name prefix, `key_prefix` a record key prefix; `include`/`exclude`
/// filter metric names (a source's), `include_keys`/`exclude_keys` record keys.
pub const RENAMED: &[(&str, &str, &str)] = &[
    ("regex.rule[]", "key", "record_key"),
    ("json", "labels", "label_fields"),
    ("json.each[]", "labels", "label_fields"),
    ("json.each[]", "prefix", "key_prefix"),
    ("mapping", "include", "include_keys"),
    ("mapping", "exclude", "exclude_keys"),
    ("mapping.metric[]", "values", "words"),
    ("mapping.group[].metric[]", "values", "words"),
];

/// An old key name in a recipe is an error that names the new one (it would otherwise be
/// an unknown key, or a key of another meaning).
fn renamed_key(file: &toml::Table) -> Result<(), String> {
    /// The tables at `path` (`a.b[].c`), with their path as written (`a.b[2].c`).
    fn tables<'t>(
        at: &'t toml::Table,
        path: &str,
        written: String,
        out: &mut Vec<(String, &'t toml::Table)>,
    ) {
        let (head, rest) = path.split_once('.').unwrap_or((path, ""));
        let (name, each) = match head.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (head, false),
        };
        let here = if written.is_empty() {
            name.to_string()
        } else {
            format!("{written}.{name}")
        };
        let found: Vec<(String, &toml::Table)> = match at.get(name) {
            Some(toml::Value::Table(t)) if !each => vec![(here, t)],
            Some(toml::Value::Array(a)) if each => a
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_table().map(|t| (format!("{here}[{i}]"), t)))
                .collect(),
            _ => Vec::new(),
        };
        for (w, t) in found {
            if rest.is_empty() {
                out.push((w, t));
            } else {
                tables(t, rest, w, out);
            }
        }
    }
    for (path, old, new) in RENAMED {
        let mut found = Vec::new();
        tables(file, path, String::new(), &mut found);
        if let Some((at, _)) = found.iter().find(|(_, t)| t.contains_key(*old)) {
            return Err(format!("{at}: `{old}` is now `{new}`"));
        }
    }
    Ok(())
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
        let mut records = Vec::new();
        let mut issues = Vec::new();
        let mut unmatched = Unmatched::default();
        self.format
            .records(&text, &mut records, &mut issues, &mut unmatched)?;
        // Nothing found is decided here, once for every format: the source is down.
        if records.is_empty() {
            return Err(match issues.first() {
                None => ParseError::Empty,
                Some(first) => ParseError::Invalid(format!(
                    "no values in the input; {} line(s) could not be read, first: {first}",
                    issues.len()
                )),
            });
        }
        if records.len() > max_values {
            return Err(ParseError::TooManyValues {
                found: records.len(),
                limit: max_values,
            });
        }
        self.mapping.check_required(&records)?;
        let families = self.mapping.apply(records, &mut issues, &mut unmatched);
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

    fn framing(&self) -> Option<&Arc<Framing>> {
        self.framing.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_key() {
        let err =
            Recipe::from_toml("x", "description = 'd'\nformat = 'kv'\nsurprise = 1\n").unwrap_err();
        assert!(err.contains("unknown field `surprise`"), "{err}");
        let err =
            Recipe::from_toml("x", "description = 'd'\nformat = 'kv'\n[regex]\n").unwrap_err();
        assert!(err.contains("[regex] options given"), "{err}");
        let err = Recipe::from_toml(
            "x",
            "description = 'd'\nformat = 'kv'\n[kv]\nseparatr = ':'\n",
        )
        .unwrap_err();
        assert!(err.starts_with("[kv]") && err.contains("separatr"), "{err}");
        let err = Recipe::from_toml("x", "description = 'd'\nformat = 'yaml'\n").unwrap_err();
        assert!(err.contains("unknown format"), "{err}");
    }

    /// A typo in a key, a format or a type names the word most likely meant.
    #[test]
    fn typos_get_a_suggestion() {
        let err = |toml: &str| Recipe::from_toml("x", toml).unwrap_err();
        let e = err("description = 'd'\nformat = 'kv'\n[kv]\nseparatr = ':'\n");
        assert!(
            e.starts_with("[kv] unknown field `separatr`, expected one of `separator`,")
                && e.ends_with("; did you mean `separator`?"),
            "{e}"
        );
        let e = err("description = 'd'\nformat = 'kv'\nup_metrc = 'x'\n");
        assert!(e.ends_with("; did you mean `up_metric`?"), "{e}");
        let e = err("description = 'd'\nformat = 'kv'\n[mapping]\nunmatch = 'drop'\n");
        assert!(e.ends_with("; did you mean `unmatched`?"), "{e}");
        let e = err("description = 'd'\nformat = 'kv'\n[[mapping.metric]]\nkey = 'a'\nnon_numerc = 'skip'\n");
        assert!(e.ends_with("; did you mean `non_numeric`?"), "{e}");
        assert_eq!(
            err("description = 'd'\nformat = 'jsno'\n"),
            "[jsno] unknown format \"jsno\"; expected one of kv, regex, json, csv, prometheus; did you mean \"json\"?"
        );
        assert_eq!(
            err("description = 'd'\nformat = 'kv'\n[[mapping.metric]]\nkey = 'a'\ntype = 'guage'\n"),
            "mapping.metric[0]: unknown type \"guage\"; expected one of gauge, counter, info, stateset, enum, untyped, unknown; did you mean \"gauge\"?"
        );
    }

    /// A key renamed so each key has one meaning: the old name says what it is now.
    #[test]
    fn old_key_names_name_the_new_key() {
        let err = |toml: &str| Recipe::from_toml("x", toml).unwrap_err();
        let head = "description = 'd'\n";
        for (body, want) in [
            (
                "format = 'regex'\n[[regex.rule]]\npattern = '(?P<value>x)'\n[[regex.rule]]\npattern = '(?P<value>x)'\nkey = 'a'\n",
                "regex.rule[1]: `key` is now `record_key`",
            ),
            (
                "format = 'json'\n[json]\nlabels = { a = 'b' }\n",
                "json: `labels` is now `label_fields`",
            ),
            (
                "format = 'json'\n[[json.each]]\npath = 'p'\nprefix = 'q'\n",
                "json.each[0]: `prefix` is now `key_prefix`",
            ),
            (
                "format = 'kv'\n[mapping]\nexclude = ['a']\n",
                "mapping: `exclude` is now `exclude_keys`",
            ),
            (
                "format = 'kv'\n[[mapping.metric]]\nkey = 'a'\nvalues = { UP = 1 }\n",
                "mapping.metric[0]: `values` is now `words`",
            ),
            (
                "format = 'kv'\n[[mapping.group]]\n[[mapping.group.metric]]\nkey = 'a'\nvalues = { UP = 1 }\n",
                "mapping.group[0].metric[0]: `values` is now `words`",
            ),
        ] {
            assert_eq!(err(&format!("{head}{body}")), want, "{body}");
        }
        // The same word where it still means what it always did is fine.
        Recipe::from_toml(
            "x",
            "description = 'd'\nformat = 'regex'\n[[regex.rule]]\npattern = '(?P<a>x)'\nvalues = ['a']\n[[mapping.metric]]\nkey = 'a'\nlabels = { k = 'v' }\n",
        )
        .unwrap();
    }

    /// The reference, docs/recipes.md, as the sections under its headings: (heading, text).
    fn reference_sections() -> Vec<(&'static str, String)> {
        let mut sections: Vec<(&str, String)> = Vec::new();
        let mut in_code = false;
        for line in include_str!("../../docs/recipes.md").lines() {
            if line.starts_with("```") {
                in_code = !in_code;
            }
            match sections.last_mut() {
                _ if !in_code && line.starts_with('#') => sections.push((line, String::new())),
                Some((_, text)) => {
                    text.push_str(line);
                    text.push('\n');
                }
                None => {}
            }
        }
        sections
    }

    /// Every key a recipe table accepts is described in docs/recipes.md, in a table row of
    /// that table's section (up to the next heading), and no row describes a key the table
    /// does not take: the keys come from the structs themselves, so a new key without a
    /// line in the reference, or a line left for a removed one, fails here.
    #[test]
    fn the_reference_describes_every_key() {
        use crate::parse::format;
        use crate::source::keys_of;
        let tables: &[(&str, &[&str])] = &[
            ("Top-level keys", keys_of::<RecipeFile>()),
            ("`[kv]`", keys_of::<format::kv::Options>()),
            ("`[regex]`", keys_of::<format::regex::Options>()),
            ("`[[regex.rule]]`", keys_of::<format::regex::RuleOptions>()),
            ("`[json]`", keys_of::<format::json::Options>()),
            ("`[[json.each]]`", keys_of::<format::json::EachOptions>()),
            ("`[csv]`", keys_of::<format::csv::Options>()),
            ("`[prometheus]`", keys_of::<format::prometheus::Options>()),
            ("`[framing]`", keys_of::<FramingOptions>()),
            ("`[mapping]`", keys_of::<mapping::Options>()),
            ("`[mapping.units.UNIT]`", keys_of::<mapping::UnitOptions>()),
            ("`[[mapping.metric]]`", keys_of::<mapping::RuleOptions>()),
            ("`[[mapping.group]]`", keys_of::<mapping::GroupOptions>()),
        ];
        // The probe works: the structs do list their keys (renamed ones as written).
        assert!(keys_of::<mapping::RuleOptions>().contains(&"continue"));
        assert!(keys_of::<RecipeFile>().contains(&"mapping"));
        let sections = reference_sections();
        let mut missing = Vec::new();
        for (table, keys) in tables {
            let found: Vec<&String> = sections
                .iter()
                .filter(|(heading, _)| heading.contains(table))
                .map(|(_, text)| text)
                .collect();
            let [text] = found.as_slice() else {
                missing.push(format!(
                    "one section headed {table} ({} found)",
                    found.len()
                ));
                continue;
            };
            // The first cells of the section's table rows: where a key is described.
            let described: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with("| "))
                .filter_map(|l| l.split('|').nth(1))
                .collect();
            for key in *keys {
                let quoted = format!("`{key}`");
                if !described.iter().any(|cell| cell.contains(&quoted)) {
                    missing.push(format!("{table}: `{key}`"));
                }
            }
            // Nor does it describe a key the table no longer takes.
            for cell in &described {
                for word in cell.split('`').skip(1).step_by(2) {
                    if !keys.contains(&word) {
                        missing.push(format!("{table}: `{word}` is no key of this table"));
                    }
                }
            }
        }
        // Every format has its section.
        for name in format::NAMES {
            if !sections
                .iter()
                .any(|(h, _)| h.contains(&format!("`[{name}]`")))
            {
                missing.push(format!("a section for format {name}"));
            }
        }
        assert!(
            missing.is_empty(),
            "docs/recipes.md is out of step with the recipe structs (a key is described by a \
             table row whose first cell holds `key`, in its table's section):\n{}",
            missing.join("\n")
        );
    }

    /// Every TOML example in the reference loads as (part of) a recipe: fragments get the
    /// two required top-level keys put before them.
    #[test]
    fn the_reference_examples_load() {
        let doc = include_str!("../../docs/recipes.md");
        let mut blocks = Vec::new();
        let mut current: Option<String> = None;
        for line in doc.lines() {
            match (&mut current, line) {
                (None, "```toml") => current = Some(String::new()),
                (Some(_), "```") => blocks.extend(current.take()),
                (Some(text), line) => {
                    text.push_str(line);
                    text.push('\n');
                }
                (None, _) => {}
            }
        }
        assert!(blocks.len() >= 10, "{} toml blocks", blocks.len());
        for block in blocks {
            let mut text = String::new();
            let has = |key: &str| block.lines().any(|l| l.starts_with(key));
            if !has("description =") {
                text.push_str("description = 'd'\n");
            }
            if !has("format =") {
                text.push_str("format = 'kv'\n");
            }
            text.push_str(&block);
            if let Err(e) = Recipe::from_toml("doc", &text) {
                panic!("docs/recipes.md example does not load: {e}\n{block}");
            }
        }
    }

    #[test]
    fn parses_end_to_end() {
        let r = Recipe::from_toml(
            "t",
            "description = 'd'\nformat = 'kv'\n[mapping]\nprefix = 'app_'\n[[mapping.metric]]\nkey = 'hits'\ntype = 'counter'\n",
        )
        .unwrap();
        let parsed = r.parse(b"hits: 5\nload: 0.5\nbad line\n").unwrap();
        assert_eq!(parsed.families.len(), 2);
        assert_eq!(parsed.families[0].name, "app_hits");
        assert_eq!(parsed.families[1].samples[0].value, 0.5);
        assert_eq!(parsed.issues.len(), 1);
        assert!(matches!(r.parse(b" \n"), Err(ParseError::Empty)));
    }

    /// A runaway input is refused before its families are built (a 1M-key kv page took
    /// 950 MB to map; refused after its records, 145 MB).
    #[test]
    fn too_many_values_are_refused_early() {
        let r = Recipe::generic("kv", "d", "").unwrap();
        let input = (0..11).map(|i| format!("k{i}: 1\n")).collect::<String>();
        assert_eq!(
            r.parse_capped(input.as_bytes(), 10).unwrap_err(),
            ParseError::TooManyValues {
                found: 11,
                limit: 10
            }
        );
        assert_eq!(
            r.parse_capped(input.as_bytes(), 11).unwrap().families.len(),
            11
        );
    }

    /// Nothing found means down, the same for every format: an empty page, a page of
    /// comments, a CSV header alone, lines no rule reads.
    #[test]
    fn nothing_found_is_down_for_every_format() {
        for (format, input) in [
            ("kv", "\n\n"),
            ("json", "{}"),
            ("csv", "a,b\n"),
            ("prometheus", "# HELP x y\n"),
        ] {
            let r = Recipe::generic(format, "d", "").unwrap();
            assert_eq!(
                r.parse(input.as_bytes()).unwrap_err(),
                ParseError::Empty,
                "{format}"
            );
        }
        let regex = Recipe::from_toml(
            "r",
            "description = 'd'\nformat = 'regex'\n[[regex.rule]]\npattern = '^a (?P<value>[0-9]+)$'\n",
        )
        .unwrap();
        assert_eq!(regex.parse(b"hello\n").unwrap_err(), ParseError::Empty);
        let kv = Recipe::generic("kv", "d", "").unwrap();
        let err = kv.parse(b"no separator\n").unwrap_err().to_string();
        assert!(
            err.starts_with("no values in the input; 1 line(s) could not be read, first: line 1:"),
            "{err}"
        );
    }
}
