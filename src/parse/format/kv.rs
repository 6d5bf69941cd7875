//! `kv`: one `key<separator>value` per line (`/proc/meminfo`, Redis `INFO`, memcached `stats`,
//! Apache `?auto`, PHP-FPM text status).
//!
//! Handles `# Section` headers, a fixed line prefix (`STAT `), an end line (`END`), a unit
//! after the value (`123 kB`), and nested values (`db0:keys=1,expires=0` becomes the records
//! `db0.keys` and `db0.expires`).

use crate::parse::RecipeError;
use nom::bytes::complete::{tag, take_until};
use nom::combinator::rest;
use nom::{IResult, Parser};
use serde::Deserialize;

use std::sync::Arc;

use crate::family::LabelSet;
use crate::parse::{number, numbered_lines, Issue, ParseError, Record, RecordSink};
use crate::text::excerpt;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Between key and value. `" "` means any run of spaces or tabs.
    pub separator: String,
    /// Lines starting with this open a section (`"# "` for Redis); the rest is its name.
    pub section_prefix: Option<String>,
    /// Label that carries the section name; unset means sections only group.
    pub section_label: Option<String>,
    /// Lines starting with this are ignored (checked after `section_prefix`).
    pub comment_prefix: Option<String>,
    /// Stripped from the start of every line (`"STAT "` for memcached).
    pub line_prefix: Option<String>,
    /// A line equal to this ends the input (`"END"` for memcached).
    pub end_line: Option<String>,
    /// Split `a=1,b=2` values into `key.a`, `key.b` records.
    pub nested: bool,
    /// Split a trailing word off a numeric value as its unit (`123 kB`).
    pub value_unit: bool,
    /// What to do with a line that has no separator: `error` (count it) or `skip`.
    pub malformed: String,
    /// Sections that are the replies of the recipe's `[[request]]`s: their records' keys are
    /// `<section>.<key>`, so rules tell them from the first reply's. Set by the recipe, not
    /// written in `[kv]`.
    #[serde(skip)]
    pub request_sections: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            separator: ":".into(),
            section_prefix: None,
            section_label: None,
            comment_prefix: None,
            line_prefix: None,
            end_line: None,
            nested: false,
            value_unit: false,
            malformed: "error".into(),
            request_sections: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub struct Kv {
    opts: Options,
    skip_malformed: bool,
}

impl Kv {
    pub fn new(opts: Options) -> Result<Kv, RecipeError> {
        if opts.separator.is_empty() {
            return Err("kv.separator must not be empty".into());
        }
        let skip_malformed = match opts.malformed.as_str() {
            "error" => false,
            "skip" => true,
            other => {
                return Err(
                    format!("kv.malformed must be \"error\" or \"skip\", not {other:?}").into(),
                )
            }
        };
        Ok(Kv {
            opts,
            skip_malformed,
        })
    }

    /// The line a request's reply is written after (`# slowlog_length`), which makes its
    /// records' keys `<section>.<key>`; `None` when the format has no `section_prefix`.
    pub fn request_section(&mut self, name: &str) -> Option<String> {
        let prefix = self.opts.section_prefix.as_ref()?;
        self.opts.request_sections.push(name.to_string());
        Some(format!("{prefix}{name}"))
    }

    fn split<'a>(&self, line: &'a str) -> Option<(&'a str, &'a str)> {
        let parsed: IResult<&str, (&str, &str, &str)> = if self.opts.separator == " " {
            (
                nom::bytes::complete::take_till1(|c: char| c == ' ' || c == '\t'),
                nom::character::complete::space1,
                rest,
            )
                .parse(line)
        } else {
            (
                take_until(self.opts.separator.as_str()),
                tag(self.opts.separator.as_str()),
                rest,
            )
                .parse(line)
        };
        let (_, (key, _, value)) = parsed.ok()?;
        let key = key.trim();
        (!key.is_empty()).then_some((key, value.trim()))
    }

    pub fn records<'a>(
        &self,
        text: &'a str,
        records: &mut dyn RecordSink<'a>,
        issues: &mut Vec<Issue>,
    ) -> Result<(), ParseError> {
        let o = &self.opts;
        // The labels of the current section, shared by its records.
        let mut labels = LabelSet::default();
        // The current section when it is a request's reply: its name starts the keys.
        let mut keyed: Option<&str> = None;
        // Past a reply's end line, until the next reply's section line.
        let mut ended = false;
        for (n, raw) in numbered_lines(text) {
            let mut line = raw;
            if let Some(end) = &o.end_line {
                if line.trim_end() == end {
                    // With several replies, the end line ends one: the next starts at its
                    // section line.
                    if o.request_sections.is_empty() {
                        break;
                    }
                    ended = true;
                    continue;
                }
            }
            if let Some(p) = &o.section_prefix {
                if let Some(name) = line.strip_prefix(p.as_str()) {
                    if ended && !o.request_sections.iter().any(|s| s == name.trim()) {
                        continue;
                    }
                    ended = false;
                    if let Some(label) = &o.section_label {
                        labels = Arc::new([(label.clone(), name.trim().to_string())]);
                    }
                    let request = (o.request_sections.iter())
                        .find(|s| s.as_str() == name.trim())
                        .map(String::as_str);
                    // Within a reply, a section line of its own (INFO's `# Server`) or one
                    // its text makes (a key written as `# x`) does not end the reply's
                    // section: only the next reply's line does.
                    if request.is_some() || keyed.is_none() {
                        keyed = request;
                    }
                    continue;
                }
            }
            if ended
                || line.trim().is_empty()
                || o.comment_prefix
                    .as_deref()
                    .is_some_and(|c| line.starts_with(c))
            {
                continue;
            }
            if let Some(p) = &o.line_prefix {
                line = line.strip_prefix(p.as_str()).unwrap_or(line);
            }
            let Some((key, value)) = self.split(line) else {
                if !self.skip_malformed {
                    issues.push(Issue::new(
                        n,
                        format!("no {:?} separator in {}", o.separator, excerpt(raw)),
                    ));
                }
                continue;
            };
            if o.nested && number::parse(value).is_none() {
                if let Some(pairs) = nested_pairs(value) {
                    for (sub, v) in pairs {
                        let key = match keyed {
                            Some(section) => format!("{section}.{key}.{sub}"),
                            None => format!("{key}.{sub}"),
                        };
                        records.push(Record {
                            key: key.into(),
                            labels: labels.clone(),
                            value: v.into(),
                            line: n,
                            ..Record::default()
                        });
                    }
                    continue;
                }
            }
            let (value, unit) = if o.value_unit {
                split_unit(value)
            } else {
                (value, None)
            };
            records.push(Record {
                key: match keyed {
                    Some(section) => format!("{section}.{key}").into(),
                    None => key.into(),
                },
                labels: labels.clone(),
                value: value.into(),
                unit,
                line: n,
                ..Record::default()
            });
        }
        Ok(())
    }
}

/// `a=1,b=2` as pairs, or `None` when the value is not of that shape (`Linux 6.1`, `ok`).
fn nested_pairs(value: &str) -> Option<Vec<(&str, &str)>> {
    value
        .split(',')
        .map(|part| {
            let (k, v) = part.split_once('=')?;
            (!k.is_empty() && !k.contains(' ')).then_some((k, v))
        })
        .collect()
}

/// `2048 kB` as (`2048`, `kB`); anything else unchanged.
fn split_unit(value: &str) -> (&str, Option<&str>) {
    if let Some((num, unit)) = value.rsplit_once([' ', '\t']) {
        let num = num.trim_end();
        if number::parse(num).is_some()
            && unit.chars().all(|c| c.is_ascii_alphabetic())
            && !unit.is_empty()
        {
            return (num, Some(unit));
        }
    }
    (value, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(opts: Options, text: &str) -> (Vec<Record<'_>>, Vec<Issue>) {
        let (mut r, mut i) = (Vec::new(), Vec::new());
        Kv::new(opts)
            .unwrap()
            .records(text, &mut r, &mut i)
            .unwrap();
        (r, i)
    }

    #[test]
    fn meminfo_units_and_parens() {
        let opts = Options {
            value_unit: true,
            ..Options::default()
        };
        let (r, i) = run(
            opts,
            "MemTotal:       16314012 kB\nActive(anon):     11 kB\nHugePages_Total:       0\n",
        );
        assert!(i.is_empty());
        assert_eq!(r[0].key, "MemTotal");
        assert_eq!(r[0].value, "16314012");
        assert_eq!(r[0].unit, Some("kB"));
        assert_eq!(r[1].key, "Active(anon)");
        assert_eq!((r[2].value.as_ref(), r[2].unit), ("0", None));
    }

    #[test]
    fn redis_sections_crlf_and_nested() {
        let opts = Options {
            section_prefix: Some("# ".into()),
            section_label: Some("section".into()),
            nested: true,
            ..Options::default()
        };
        let (r, i) = run(opts, "# Server\r\nredis_version:7.0.15\r\nos:Linux 6.1 x86_64\r\n\r\n# Keyspace\r\ndb0:keys=5,expires=1,avg_ttl=0\r\n");
        assert!(i.is_empty());
        let keys: Vec<_> = r
            .iter()
            .map(|r| (r.key.as_ref(), r.value.as_ref(), r.labels[0].1.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("redis_version", "7.0.15", "Server"),
                ("os", "Linux 6.1 x86_64", "Server"),
                ("db0.keys", "5", "Keyspace"),
                ("db0.expires", "1", "Keyspace"),
                ("db0.avg_ttl", "0", "Keyspace"),
            ]
        );
    }

    #[test]
    fn memcached_prefix_whitespace_and_end() {
        let opts = Options {
            separator: " ".into(),
            line_prefix: Some("STAT ".into()),
            end_line: Some("END".into()),
            ..Options::default()
        };
        let (r, i) = run(
            opts,
            "STAT pid 42\r\nSTAT version 1.6.18\r\nEND\r\nSTAT after 1\r\n",
        );
        assert!(i.is_empty());
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].key.as_ref(), r[0].value.as_ref()), ("pid", "42"));
    }

    #[test]
    fn malformed_lines_are_issues_with_line_numbers() {
        let (r, i) = run(Options::default(), "a: 1\nnonsense\nb: 2\n");
        assert_eq!(r.len(), 2);
        assert_eq!(i.len(), 1);
        assert_eq!(i[0].line, 2);
    }
}
