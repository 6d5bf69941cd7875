//! `csv`: a header row, then one row per thing (HAProxy `;csv` / `show stat`).
//!
//! Each non-label cell becomes a record keyed by its column name, labelled with the row's
//! label columns (`pxname`, `svname`). Handles HAProxy's quirks: a header starting with
//! `# `, a trailing comma on every line (an empty last column, ignored), many empty cells
//! (no record, quietly), and RFC 4180 quoting (`"a,b"`, `""` for a quote) within a line.
//!
//! **Rows without configured labels** (`auto_labels`, which bare `parser = "csv"` sets,
//! since it has no recipe to name the label columns in). A CSV exporter's table is one row
//! per thing with the thing's name in a text column (`name,requests,errors`), so:
//! - a column holding any cell that is not a number labels *every* row by its column name
//!   (`requests{name="api"}`). The decision is per column, not per cell, so all rows carry
//!   the same label names and an id that happens to be numeric in one row (`7`) still
//!   labels that row rather than turning into a value.
//! - when no column can label (every cell a number), a `row` label numbers the data rows
//!   from 1 (a line that is no row keeps its number, so later rows keep theirs). It names
//!   a series only as long as the writer keeps its rows in order; a recipe with
//!   `label_columns` is the steady answer.
//! - a state column (`UP`/`DOWN`) labels too, so the row's series change identity when it
//!   changes. That is the price of a zero-config format; a recipe picks its label columns
//!   and maps states as values.
//!
//! **No two rows give the same series silently**, in any mode: a row whose labels are
//! those of an earlier row is skipped whole and counted as an issue naming both lines and,
//! without label columns, what to set (left to the family set, the rest would be dropped
//! value by value as duplicate series, with no hint of the cause).

use crate::parse::RecipeError;
use std::borrow::Cow;
use std::collections::BTreeMap;

use nom::branch::alt;
use nom::bytes::complete::{is_not, tag, take_till};
use nom::combinator::{map, value};
use nom::multi::{fold_many0, separated_list0};
use nom::sequence::delimited;
use nom::{IResult, Parser};
use serde::Deserialize;

use foldhash::HashMap;

use crate::family::LabelSet;
use crate::parse::{number, numbered_lines, Issue, ParseError, Record, RecordSink};
use crate::text::excerpt;

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
    /// Also label by every other column holding a cell that is not a number; with no label
    /// column at all, by `row`, the 1-based row number. The bare `csv` parser sets it.
    pub auto_labels: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            delimiter: ",".into(),
            header_prefix: "# ".into(),
            label_columns: Vec::new(),
            label_names: BTreeMap::new(),
            value_columns: Vec::new(),
            auto_labels: false,
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
        return Some(split_plain(line, delimiter));
    }
    let mut sep = [0u8; 4];
    let sep: &str = delimiter.encode_utf8(&mut sep);
    let (rest, cells) = separated_list0(tag(sep), cell(delimiter))
        .parse(line)
        .ok()?;
    rest.is_empty().then_some(cells)
}

/// A line without quotes split at `delimiter`. An ASCII delimiter (all the usual ones) is
/// found byte by byte, which for short cells is much cheaper than a `char` pattern search;
/// a cut next to an ASCII byte is always on a character boundary.
fn split_plain(line: &str, delimiter: char) -> Vec<Cow<'_, str>> {
    let d = match u8::try_from(delimiter) {
        Ok(d) if d.is_ascii() => d,
        _ => return line.split(delimiter).map(Cow::Borrowed).collect(),
    };
    let mut out = Vec::with_capacity(32);
    let mut start = 0;
    for (i, b) in line.bytes().enumerate() {
        if b == d {
            out.push(Cow::Borrowed(line.get(start..i).unwrap_or_default()));
            start = i + 1;
        }
    }
    out.push(Cow::Borrowed(line.get(start..).unwrap_or_default()));
    out
}

impl Csv {
    pub fn new(opts: Options) -> Result<Csv, RecipeError> {
        let mut chars = opts.delimiter.chars();
        let delimiter = match (chars.next(), chars.next()) {
            (Some(c), None) if c != '"' => c,
            _ => {
                return Err(format!(
                    "csv.delimiter must be one character other than \", not {:?}",
                    opts.delimiter
                )
                .into())
            }
        };
        Ok(Csv { opts, delimiter })
    }

    pub fn records<'a>(
        &self,
        text: &'a str,
        records: &mut dyn RecordSink<'a>,
        issues: &mut Vec<Issue>,
    ) -> Result<(), ParseError> {
        let lines = || numbered_lines(text).filter(|(_, l)| !l.trim().is_empty());
        let (hn, header_line) = lines().next().ok_or(ParseError::Empty)?;
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
        let label_name = |c: &str| -> String {
            self.opts
                .label_names
                .get(c)
                .cloned()
                .unwrap_or_else(|| c.to_string())
        };
        let mut label_idx: Vec<(usize, String)> = self
            .opts
            .label_columns
            .iter()
            .filter_map(|c| Some((header.iter().position(|h| h == c)?, label_name(c))))
            .collect();
        // With auto labels the table is looked at twice: split once and kept. Otherwise one
        // row at a time, so a big table's cells are never all held at once.
        let kept: Option<Vec<_>> = self
            .opts
            .auto_labels
            .then(|| self.rows(lines().skip(1), header.len()).collect());
        let mut numbered = false;
        if let Some(rows) = &kept {
            // A first pass over the table: a column holding any word labels every row, so
            // all rows carry the same label names.
            let mut text_columns = vec![false; header.len()];
            for (_, _, row) in rows {
                let Ok(row) = row else { continue };
                for (cell, text) in row.iter().zip(text_columns.iter_mut()) {
                    // A column is a text column from its first word on: no need to look again.
                    if *text {
                        continue;
                    }
                    let cell = cell.trim();
                    if !cell.is_empty() && number::parse(cell).is_none() {
                        *text = true;
                    }
                }
            }
            for (i, col) in header.iter().enumerate() {
                let chosen = label_idx.iter().any(|(l, _)| *l == i)
                    || self.opts.value_columns.iter().any(|c| c == col);
                if text_columns.get(i).copied().unwrap_or(false) && !chosen {
                    label_idx.push((i, label_name(col)));
                }
            }
            numbered = label_idx.is_empty();
        }
        let value_idx: Vec<usize> = (0..header.len())
            .filter(|&i| !label_idx.iter().any(|(l, _)| *l == i))
            .filter(|&i| {
                self.opts.value_columns.is_empty()
                    || self
                        .opts
                        .value_columns
                        .iter()
                        .any(|c| header.get(i).is_some_and(|h| c == h))
            })
            .collect();
        // Rows with the same labels would give the same series: the first row keeps them.
        let mut seen: HashMap<LabelSet, usize> = HashMap::default();
        let rows: Box<dyn Iterator<Item = _>> = match kept {
            Some(rows) => Box::new(rows.into_iter()),
            None => Box::new(self.rows(lines().skip(1), header.len())),
        };
        for (n, number, row) in rows {
            let mut row = match row {
                Ok(row) => row,
                Err(message) => {
                    issues.push(Issue::new(n, message.to_string()));
                    continue;
                }
            };
            let mut labels: Vec<(String, String)> = label_idx
                .iter()
                .map(|(i, name)| {
                    (
                        name.clone(),
                        row.get(*i).map_or("", |c| c.trim()).to_string(),
                    )
                })
                .collect();
            if numbered {
                labels.push(("row".into(), number.to_string()));
            }
            let labels: LabelSet = labels.into();
            if let Some(first) = seen.get(&labels) {
                let hint = if label_idx.is_empty() {
                    "; name the columns that tell rows apart in csv.label_columns"
                } else {
                    ""
                };
                issues.push(Issue::new(
                    n,
                    format!("row skipped: its labels {labels:?} are those of line {first}{hint}"),
                ));
                continue;
            }
            seen.insert(labels.clone(), n);
            for &i in &value_idx {
                let (Some(cell), Some(key)) = (row.get_mut(i), header.get(i)) else {
                    continue;
                };
                let value = match std::mem::take(cell) {
                    Cow::Borrowed(v) => Cow::Borrowed(v.trim()),
                    Cow::Owned(v) => Cow::Owned(v.trim().to_string()),
                };
                if value.is_empty() {
                    continue;
                }
                records.push(Record {
                    key: key.clone(),
                    labels: labels.clone(),
                    value,
                    line: n,
                    ..Record::default()
                });
            }
        }
        Ok(())
    }

    /// The data rows: (line, 1-based row number, cells or why the line is no row). A line
    /// that is no row still takes its number, so the rows after it keep theirs.
    fn rows<'a>(
        &self,
        lines: impl Iterator<Item = (usize, &'a str)>,
        columns: usize,
    ) -> impl Iterator<Item = (usize, usize, Result<Vec<Cow<'a, str>>, RowError>)> {
        let delimiter = self.delimiter;
        lines.enumerate().map(move |(i, (n, line))| {
            let row = match cells(line, delimiter) {
                None => Err(RowError::Quoting(excerpt(line))),
                Some(mut row) => {
                    if row.len() == columns + 1 && row.last().is_some_and(|c| c.is_empty()) {
                        row.pop();
                    }
                    if row.len() == columns {
                        Ok(row)
                    } else {
                        Err(RowError::Cells(row.len(), columns))
                    }
                }
            };
            (n, i + 1, row)
        })
    }
}

/// Why a line is no row.
#[derive(Debug, Clone, thiserror::Error)]
enum RowError {
    #[error("bad quoting in {0}")]
    Quoting(String),
    #[error("{0} cells, the header has {1}")]
    Cells(usize, usize),
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

    /// The page and the notes (skipped values, dropped series) that bare `csv` gives.
    fn bare(input: &str) -> (String, Vec<String>) {
        use crate::exposition::WireFormat;
        use crate::recipe::preview::render;
        let registry = crate::recipe::Registry::builtin().unwrap();
        let parsed = registry.get("csv").unwrap().parser.parse(input.as_bytes());
        render(parsed.unwrap(), WireFormat::Text)
    }

    #[test]
    fn bare_csv_labels_rows_by_their_text_columns() {
        // Every row reaches the page; bare csv used to keep the first and drop the rest.
        let (page, notes) = bare("name,requests,load\napi,10,0.5\nweb,20,1.5\n");
        assert_eq!(
            page,
            "# HELP requests requests, read by the generic csv parser\n# TYPE requests gauge\n\
             requests{name=\"api\"} 10.0\n\
             requests{name=\"web\"} 20.0\n\
             # HELP load load, read by the generic csv parser\n# TYPE load gauge\n\
             load{name=\"api\"} 0.5\n\
             load{name=\"web\"} 1.5\n"
        );
        assert!(notes.is_empty(), "{notes:?}");
        // One word makes the column a label column for every row, numbers included, so the
        // rows carry the same label names.
        let (page, notes) = bare("id,count\n7,1\nx,2\n");
        assert_eq!(
            page,
            "# HELP count count, read by the generic csv parser\n# TYPE count gauge\ncount{id=\"7\"} 1.0\ncount{id=\"x\"} 2.0\n"
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn bare_csv_numbers_rows_when_no_cell_can_label_them() {
        // A bad line keeps its row number, so the rows after it keep theirs.
        let (page, notes) = bare("a,b\n1,2\n9\n3,4\n");
        assert_eq!(
            page,
            "# HELP a a, read by the generic csv parser\n# TYPE a gauge\n\
             a{row=\"1\"} 1.0\n\
             a{row=\"3\"} 3.0\n\
             # HELP b b, read by the generic csv parser\n# TYPE b gauge\n\
             b{row=\"1\"} 2.0\n\
             b{row=\"3\"} 4.0\n"
        );
        assert_eq!(notes, ["skipped: line 3: 1 cells, the header has 2"]);
    }

    #[test]
    fn rows_with_the_same_labels_are_skipped_and_counted() {
        let (page, notes) = bare("name,requests\napi,1\nweb,2\napi,3\n");
        assert_eq!(
            page,
            "# HELP requests requests, read by the generic csv parser\n# TYPE requests gauge\nrequests{name=\"api\"} 1.0\nrequests{name=\"web\"} 2.0\n"
        );
        assert_eq!(
            notes,
            [r#"skipped: line 4: row skipped: its labels [("name", "api")] are those of line 2"#]
        );
        // Without auto labels and without label columns, every row but the first would be
        // the same series: each is an issue that says what to set.
        let c = Csv::new(Options::default()).unwrap();
        let (mut r, mut i) = (Vec::new(), Vec::new());
        c.records("a\n1\n2\n", &mut r, &mut i).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            i,
            [Issue::new(
                3,
                "row skipped: its labels [] are those of line 2; name the columns that tell rows apart in csv.label_columns"
            )]
        );
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
