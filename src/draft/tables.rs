//! Several tables in one file, each row marked by its type in the first cell and each
//! table's columns named by a `HEADER` row (OpenVPN's server status, `--status-version 2`
//! or 3): a regex rule per table reads its rows, the numeric columns as values keyed
//! `table.column`, the text columns that tell its rows apart as labels. Rows of a type
//! with no header: `TYPE,name,number` rows are keys and values (`GLOBAL_STATS`), a single
//! row's numbers are values named after the type (`TIME`), text alone is dropped.

use std::collections::{BTreeMap, BTreeSet};

use super::layout::{toml_pattern, toml_str, Layout};
use super::names;
use crate::parse::number;

fn is_type(cell: &str) -> bool {
    cell.len() >= 2
        && cell
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

pub fn layout(lines: &[&str]) -> Option<Layout> {
    let d = [',', '\t']
        .into_iter()
        .find(|d| lines.iter().any(|l| l.starts_with(&format!("HEADER{d}"))))?;
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| l.split(d).collect()).collect();
    let typed = rows
        .iter()
        .filter(|r| r.first().is_some_and(|c| is_type(c)))
        .count();
    if typed * 10 < rows.len() * 9 {
        return None;
    }
    let mut headers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut by_type: Vec<(&str, Vec<&Vec<&str>>)> = Vec::new();
    for r in &rows {
        match r.as_slice() {
            ["HEADER", table, columns @ ..] => {
                headers.insert(table, columns.to_vec());
            }
            [kind, ..] => match by_type.iter_mut().find(|(k, _)| k == kind) {
                Some((_, list)) => list.push(r),
                None => by_type.push((kind, vec![r])),
            },
            [] => {}
        }
    }
    let sep = regex::escape(&d.to_string());
    let cell = format!("[^{sep}]*");
    let mut rules = String::new();
    let mut why = vec![format!(
        "format regex: several tables, each row marked by its type in the first cell, their columns named by HEADER rows ({} of them)",
        headers.len()
    )];
    rules.push_str(&format!(
        "[[regex.rule]]\npattern = {}\ndrop = true\n\n",
        toml_pattern(&format!("^HEADER{sep}"))
    ));
    for (kind, list) in &by_type {
        let lead = format!("^{}{sep}", regex::escape(kind));
        let key = names::label_name(kind);
        if let Some(columns) = headers.get(kind) {
            let column = |i: usize| list.iter().filter_map(move |r| r.get(i + 1).copied());
            let numeric = |i: usize| {
                column(i).all(|c| number::parse(c).is_some()) && column(i).next().is_some()
            };
            let text = |i: usize| column(i).any(|c| !c.is_empty() && number::parse(c).is_none());
            // Text columns, left to right, until they tell the rows apart.
            let mut labels: Vec<usize> = Vec::new();
            for i in 0..columns.len() {
                let distinct: BTreeSet<Vec<&str>> = list
                    .iter()
                    .map(|r| {
                        labels
                            .iter()
                            .filter_map(|&j| r.get(j + 1).copied())
                            .collect()
                    })
                    .collect();
                if !labels.is_empty() && distinct.len() == list.len() {
                    break;
                }
                if text(i) {
                    labels.push(i);
                }
            }
            let mut taken = Vec::new();
            let mut values = Vec::new();
            let parts: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let wanted = labels.contains(&i) || numeric(i);
                    if !wanted {
                        return cell.clone();
                    }
                    let mut capture = names::label_name(name);
                    while taken.contains(&capture) {
                        capture.push_str("_2");
                    }
                    taken.push(capture.clone());
                    if !labels.contains(&i) {
                        values.push(toml_str(&capture));
                    }
                    format!("(?P<{capture}>{cell})")
                })
                .collect();
            if values.is_empty() {
                rules.push_str(&format!(
                    "[[regex.rule]]\npattern = {}\ndrop = true\n\n",
                    toml_pattern(&lead)
                ));
                continue;
            }
            // With one value the key is `record_key` alone: name the column in it.
            let record_key = match values.as_slice() {
                [only] => format!("{key}.{}", only.trim_matches('"')),
                _ => key.clone(),
            };
            rules.push_str(&format!(
                "[[regex.rule]]\npattern = {}\nvalues = [{}]\nrecord_key = {}\n\n",
                toml_pattern(&format!("{lead}{}$", parts.join(&sep))),
                values.join(", "),
                toml_str(&record_key)
            ));
            let shown: Vec<&str> = labels
                .iter()
                .filter_map(|&i| columns.get(i).copied())
                .collect();
            why.push(format!(
                "table {kind}: its numeric columns are values ({key}.COLUMN), labelled by {}",
                shown.join(", ")
            ));
        } else if list.len() > 1
            && list
                .iter()
                .all(|r| r.len() == 3 && r.get(2).is_some_and(|v| number::parse(v).is_some()))
        {
            rules.push_str(&format!(
                "[[regex.rule]]\npattern = {}\nrecord_key = {}\n\n",
                toml_pattern(&format!("{lead}(?P<key>{cell}){sep}(?P<value>{cell})$")),
                toml_str(&format!("{key}.{{key}}"))
            ));
            why.push(format!("rows {kind}: a name and a value each"));
        } else {
            let first = list.first().map_or(&[][..], |r| r.as_slice());
            let numbers: Vec<usize> = (1..first.len())
                .filter(|&i| first.get(i).is_some_and(|c| number::parse(c).is_some()))
                .collect();
            if numbers.is_empty() || list.len() > 1 {
                rules.push_str(&format!(
                    "[[regex.rule]]\npattern = {}\ndrop = true\n\n",
                    toml_pattern(&format!("^{}(?:{sep}|$)", regex::escape(kind)))
                ));
                continue;
            }
            let mut values = Vec::new();
            let parts: Vec<String> = (1..first.len())
                .map(|i| {
                    if numbers.contains(&i) {
                        let capture = if numbers.len() == 1 {
                            key.clone()
                        } else {
                            format!("{key}_{i}")
                        };
                        values.push(toml_str(&capture));
                        format!("(?P<{capture}>{cell})")
                    } else {
                        cell.clone()
                    }
                })
                .collect();
            rules.push_str(&format!(
                "[[regex.rule]]\npattern = {}\nvalues = [{}]\n\n",
                toml_pattern(&format!("{lead}{}$", parts.join(&sep))),
                values.join(", ")
            ));
            why.push(format!("row {kind}: its numbers are values"));
        }
    }
    Some(Layout {
        format: "regex",
        options: rules.trim_end().to_string() + "\n",
        why,
        trailing: Default::default(),
        units: Vec::new(),
    })
}
