//! `csv`: a header row, then one row per thing (HAProxy `;csv` / `show stat`).
//!
//! Each non-label cell becomes a record keyed by its column name, labelled with the row's
//! label columns (`pxname`, `svname`). Handles HAProxy's quirks: a header starting with
//! `# `, a trailing comma on every line (an empty last column, ignored), many empty cells
//! (no record, quietly), and RFC 4180 quoting (`"a,b"`, `""` for a quote) within a line.

use std::borrow::Cow;
use std::collections::BTreeMap;

use nom::branch::alt;
use nom::bytes::complete::{is_not, tag, take_till};
use nom::combinator::{map, value};
use nom::multi::{fold_many0, separated_list0};
use nom::sequence::delimited;
use nom::{IResult, Parser};
use serde::Deserialize;

use crate::family::LabelSet;
use crate::parse::{excerpt, numbered_lines, Issue, ParseError, Record};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// One character between cells.
    pub delimiter: String,
    /// Stripped from the header line when present (HAProxy writes `# pxname,...`).
    pub header_prefix: String,
    /// Columns whose cells label the row's records instead of being records.
    pub label_columns: Vec<String>,
    /// Label name for a label column, when not the column name: `{ pxname = "proxy" }`.
    pub label_names: BTreeMap<String, String>,
    /// Only these columns make records (default: every non-label column).
    pub value_columns: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            delimiter: ",".into(),
            header_prefix: "# ".into(),
            label_columns: Vec::new(),
            label_names: BTreeMap::new(),
            value_columns: Vec::new(),
        }
    }
}

#[derive(Debug)]
pub struct Csv {
    opts: Options,
    delimiter: char,
}

/// One cell: quoted (with `""` escapes) or bare up to the delimiter. Borrowed unless an
/// escape had to be undone.
fn cell<'a>(delimiter: char) -> impl FnMut(&'a str) -> IResult<&'a str, Cow<'a, str>> {
    move |input: &'a str| {
        let quoted = delimited(
            tag("\""),
            fold_many0(
                alt((is_not("\""), value("\"", tag("\"\"")))),
                || Cow::Borrowed(""),
                |acc: Cow<'a, str>, part: &'a str| {
                    if acc.is_empty() {
                        Cow::Borrowed(part)
                    } else {
                        Cow::Owned(acc.into_owned() + part)
                    }
                },
            ),
            tag("\""),
        );
        // A bare cell may not open a quote: `"unterminated` is broken quoting, not text.
        let bare = map(
            nom::combinator::verify(take_till(move |c| c == delimiter), |s: &str| {
                !s.starts_with('"')
            }),
            Cow::Borrowed,
        );
        alt((quoted, bare)).parse(input)
    }
}

/// Splits one line into cells; `None` when quoting is broken.
pub fn cells(line: &str, delimiter: char) -> Option<Vec<Cow<'_, str>>> {
    // Most lines quote nothing: a plain split gives the same cells, without the grammar.
    if !line.contains('"') {
        return Some(line.split(delimiter).map(Cow::Borrowed).collect());
    }
    let mut sep = [0u8; 4];
    let sep: &str = delimiter.encode_utf8(&mut sep);
    let (rest, cells) = separated_list0(tag(sep), cell(delimiter))
        .parse(line)
        .ok()?;
    rest.is_empty().then_some(cells)
}

impl Csv {
    pub fn new(opts: Options) -> Result<Csv, String> {
        let mut chars = opts.delimiter.chars();
        let delimiter = match (chars.next(), chars.next()) {
            (Some(c), None) if c != '"' => c,
            _ => {
                return Err(format!(
                    "csv.delimiter must be one character other than \", not {:?}",
                    opts.delimiter
                ))
            }
        };
        Ok(Csv { opts, delimiter })
    }

    pub fn records<'a>(
        &self,
        text: &'a str,
        records: &mut Vec<Record<'a>>,
        issues: &mut Vec<Issue>,
    ) -> Result<(), ParseError> {
        let mut lines = numbered_lines(text).filter(|(_, l)| !l.trim().is_empty());
        let (hn, header_line) = lines.next().ok_or(ParseError::Empty)?;
        let header_line = header_line
            .strip_prefix(self.opts.header_prefix.as_str())
            .unwrap_or(header_line);
        let mut header = cells(header_line, self.delimiter).ok_or_else(|| ParseError::Syntax {
            line: hn,
            message: format!("bad header {}", excerpt(header_line)),
        })?;
        // A trailing delimiter leaves an unnamed last column: not a column.
        while header.last().is_some_and(|h| h.is_empty()) {
            header.pop();
        }
        for col in self
            .opts
            .label_columns
            .iter()
            .chain(&self.opts.value_columns)
        {
            if !header.iter().any(|h| h == col) {
                return Err(ParseError::Invalid(format!(
                    "column {col:?} is not in the header"
                )));
            }
        }
        let label_idx: Vec<(usize, String)> = self
            .opts
            .label_columns
            .iter()
            .filter_map(|c| {
                let i = header.iter().position(|h| h == c)?;
                Some((
                    i,
                    self.opts
                        .label_names
                        .get(c)
                        .cloned()
                        .unwrap_or_else(|| c.clone()),
                ))
            })
            .collect();
        let value_idx: Vec<usize> = (0..header.len())
            .filter(|&i| !label_idx.iter().any(|(l, _)| *l == i))
            .filter(|&i| {
                self.opts.value_columns.is_empty()
                    || self.opts.value_columns.iter().any(|c| *c == header[i])
            })
            .collect();
        for (n, line) in lines {
            let Some(mut row) = cells(line, self.delimiter) else {
                issues.push(Issue::new(n, format!("bad quoting in {}", excerpt(line))));
                continue;
            };
            if row.len() == header.len() + 1 && row.last().is_some_and(|c| c.is_empty()) {
                row.pop();
            }
            if row.len() != header.len() {
                issues.push(Issue::new(
                    n,
                    format!("{} cells, the header has {}", row.len(), header.len()),
                ));
                continue;
            }
            let labels: LabelSet = label_idx
                .iter()
                .map(|(i, name)| (name.clone(), row[*i].to_string()))
                .collect();
            for &i in &value_idx {
                let value = match std::mem::take(&mut row[i]) {
                    Cow::Borrowed(v) => Cow::Borrowed(v.trim()),
                    Cow::Owned(v) => Cow::Owned(v.trim().to_string()),
                };
                if value.is_empty() {
                    continue;
                }
                records.push(Record {
                    key: header[i].clone(),
                    labels: labels.clone(),
                    value,
                    line: n,
                    ..Record::default()
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(
            cells(r#"a,"b,c","d""e",,"#, ','),
            Some(vec![
                Cow::from("a"),
                "b,c".into(),
                "d\"e".into(),
                "".into(),
                "".into()
            ])
        );
        assert_eq!(cells(r#"a,"unterminated"#, ','), None);
    }

    #[test]
    fn haproxy_stats() {
        let text = include_str!("../../../tests/fixtures/samples/haproxy/stats.csv");
        let c =
            Csv::new(toml::from_str("label_columns = [\"pxname\", \"svname\"]").unwrap()).unwrap();
        let (mut r, mut i) = (Vec::new(), Vec::new());
        c.records(text, &mut r, &mut i).unwrap();
        assert!(i.is_empty(), "{i:?}");
        let fe: Vec<_> = r
            .iter()
            .filter(|r| r.key == "status" && r.labels[1].1 == "FRONTEND")
            .collect();
        assert!(!fe.is_empty());
        assert_eq!(fe[0].value, "OPEN");
        assert_eq!(fe[0].labels[0].0, "pxname");
        assert!(r.iter().all(|r| !r.value.is_empty() && r.key != "pxname"));
        assert!(r.iter().any(|r| r.key == "scur"));
    }

    #[test]
    fn short_rows_are_issues_and_headerless_is_an_error() {
        let c = Csv::new(Options::default()).unwrap();
        let (mut r, mut i) = (Vec::new(), Vec::new());
        c.records("a,b\n1,2\n3\n", &mut r, &mut i).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(i[0].line, 3);
        assert!(c.records("\n", &mut r, &mut i).is_err());
        let c = Csv::new(toml::from_str("label_columns = [\"nope\"]").unwrap()).unwrap();
        assert!(c
            .records("a\n1\n", &mut Vec::new(), &mut Vec::new())
            .is_err());
    }
}
