//! A CSV sample's options: the delimiter, and the label columns. Text columns that tell the
//! rows apart (HAProxy's `pxname`, `svname`) label each row's values; a row-type column
//! (`type`: several tables in one, HAProxy's frontends, backends and servers) labels them
//! too, so each table's rows stay apart. Other text columns are values the mapping types
//! (a state set of `UP`/`DOWN`, or dropped).

use std::collections::BTreeSet;

use super::layout::{toml_str, Layout};
use super::names;
use crate::parse::number;

const DELIMITERS: &[char] = &[',', ';', '\t', '|'];

/// Columns that say which table a row belongs to.
const ROW_TYPE_NAMES: &[&str] = &["type", "kind", "row_type", "record_type", "section"];

fn cells(line: &str, d: char) -> Vec<&str> {
    line.split(d).map(str::trim).collect()
}

/// A row's cells against a header of `width` cells: a trailing delimiter (HAProxy ends
/// every line with one) adds an empty cell the header lacks.
fn fits(mut cells: Vec<&str>, width: usize) -> Option<Vec<&str>> {
    if cells.len() == width + 1 && cells.last() == Some(&"") {
        cells.pop();
    }
    (cells.len() == width).then_some(cells)
}

pub fn layout(lines: &[&str]) -> Option<Layout> {
    let header_line = lines.first()?;
    let header_text = header_line.strip_prefix("# ").unwrap_or(header_line);
    let rows = lines.get(1..)?;
    if rows.len() < 2 {
        return None;
    }
    let (d, header) = DELIMITERS.iter().find_map(|&d| {
        let mut header = cells(header_text, d);
        if header.last() == Some(&"") {
            header.pop();
        }
        let named = header
            .iter()
            .filter(|h| !h.is_empty() && number::parse(h).is_none())
            .count();
        let fitting = rows
            .iter()
            .filter(|r| fits(cells(r, d), header.len()).is_some())
            .count();
        (header.len() >= 3 && named == header.len() && fitting * 10 >= rows.len() * 9)
            .then_some((d, header))
    })?;
    let table: Vec<Vec<&str>> = rows
        .iter()
        .filter_map(|r| fits(cells(r, d), header.len()))
        .collect();
    let column = |i: usize| table.iter().filter_map(move |r| r.get(i).copied());
    let is_text = |i: usize| column(i).any(|c| !c.is_empty() && number::parse(c).is_none());
    let mut why = vec![format!(
        "format csv: a header row and {} rows, delimited by {d:?}",
        table.len()
    )];
    // Text columns, left to right, until they tell every row apart.
    let mut labels: Vec<usize> = Vec::new();
    let unique = |cols: &[usize]| {
        let keys: BTreeSet<Vec<&str>> = table
            .iter()
            .map(|r| cols.iter().filter_map(|&i| r.get(i).copied()).collect())
            .collect();
        keys.len() == table.len()
    };
    for i in 0..header.len() {
        if unique(&labels) && !labels.is_empty() {
            break;
        }
        let distinct: BTreeSet<&str> = column(i).collect();
        if is_text(i) && distinct.len() > 1 {
            labels.push(i);
        }
    }
    let mut row_type = None;
    for (i, h) in header.iter().enumerate() {
        if !labels.contains(&i) && ROW_TYPE_NAMES.contains(&h.to_ascii_lowercase().as_str()) {
            let distinct: BTreeSet<&str> = column(i).collect();
            if distinct.len() > 1 && distinct.len() <= 8 {
                labels.push(i);
                row_type = Some(*h);
            }
        }
    }
    let mut options = format!("[csv]\ndelimiter = {}\n", toml_str(&d.to_string()));
    if !header_line.starts_with("# ") {
        options.push_str("header_prefix = \"\"\n");
    }
    if labels.is_empty() {
        options.push_str("auto_labels = true\n");
        why.push(
            "no text column names the rows: each row is labelled by its number (`row`)".into(),
        );
    } else {
        let names: Vec<String> = labels
            .iter()
            .filter_map(|&i| header.get(i).map(|h| toml_str(h)))
            .collect();
        options.push_str(&format!("label_columns = [{}]\n", names.join(", ")));
        let renamed: Vec<String> = labels
            .iter()
            .filter_map(|&i| header.get(i))
            .filter(|h| names::label_name(h) != **h)
            .map(|h| format!("{} = {}", toml_str(h), toml_str(&names::label_name(h))))
            .collect();
        if !renamed.is_empty() {
            options.push_str(&format!("label_names = {{ {} }}\n", renamed.join(", ")));
        }
        let shown: Vec<&str> = labels
            .iter()
            .filter_map(|&i| header.get(i).copied())
            .collect();
        why.push(format!(
            "rows are told apart by their text column(s) {}: labels",
            shown.join(", ")
        ));
    }
    if let Some(t) = row_type {
        why.push(format!(
            "column `{t}` says which table a row belongs to (several tables in one): a label, so \
             each table's rows stay apart; a `[[mapping.group]]` with `when = {{ {t} = \"...\" }}` \
             can name each table's families apart"
        ));
    }
    Some(Layout {
        format: "csv",
        options,
        why,
        trailing: Default::default(),
        units: Vec::new(),
    })
}
