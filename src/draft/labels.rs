//! Labels from repeated structure in keys: copies of one value under numbered, bracketed
//! or enumerated parts of a dotted key become one family with a label, not one family per
//! copy.
//!
//! - `thread0.num.queries`, `thread1.num.queries` -> `thread_num_queries{thread="0"}`
//!   (a word with a number, when another key differs only in that number);
//! - `queue[high].depth` -> `queue_depth{queue="high"}` (always);
//! - `num.query.type.A`, `num.query.type.AAAA` -> `num_query_type{type="A"}` (a last part in
//!   capitals, under a parent whose every child is in capitals);
//! - `LCK.ban.creat`, `LCK.cli.creat`, `LCK.ban.locks`, `LCK.cli.locks` ->
//!   `lck_creat{lck="ban"}` (a middle part that forms a table with the last one).
//! - `cmdstat_get.calls`, `cmdstat_set.calls`, `cmdstat_get.usec`... ->
//!   `cmdstat_calls{cmdstat="get"}` (a first part `prefix_name` that forms such a table);
//! - `histogram.000000.000001.to.000000.000002` -> `distribution{bucket="..."}` (parts
//!   that are numbers, when other keys differ only in them).

use std::collections::{BTreeMap, BTreeSet};

use super::names;

/// One part of a dotted key: fixed text, or a slot whose text becomes a label.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Fixed(String),
    /// `word` + digits (`thread0`): label `word`, the digits its value.
    Numbered(String),
    /// `word[value]`: label `word`.
    Bracket(String),
    /// A whole part is the value (`A` of `num.query.type.A`), label named so.
    Whole(String),
    /// This many parts from here, numbers and the words between them, are the value of
    /// the label named so.
    Span(String, usize),
    /// A first part of this prefix and a name (`cmdstat_get`): label the prefix's words.
    Prefixed(String),
}

/// A family of keys with the same shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// The regex that matches the family's keys whole (`match = '...'`).
    pub pattern: String,
    /// The label names, in the order of their captures.
    pub labels: Vec<String>,
    /// The key with each slot replaced by its word: what the family is named after.
    pub base: String,
    /// Why these are labels, for the recipe's comments.
    pub why: String,
    /// The keys of the sample it covers, in the sample's order.
    pub keys: Vec<String>,
}

fn numbered(part: &str) -> Option<(&str, &str)> {
    let digits_at = part.find(|c: char| c.is_ascii_digit())?;
    let (word, digits) = part.split_at(digits_at);
    let ok = !word.is_empty()
        && word.chars().all(|c| c.is_ascii_alphabetic() || c == '_')
        && digits.chars().all(|c| c.is_ascii_digit());
    ok.then(|| (word.trim_end_matches('_'), digits))
}

fn bracket(part: &str) -> Option<&str> {
    let (word, rest) = part.split_once('[')?;
    let ok = rest.ends_with(']')
        && !word.is_empty()
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then_some(word)
}

fn capitals(part: &str) -> bool {
    part.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && part
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Finds the families of `keys` (distinct, in the sample's order). Keys in none are left
/// out: they stay plain keys.
pub fn shapes(keys: &[String]) -> Vec<Shape> {
    let split: Vec<Vec<&str>> = keys.iter().map(|k| k.split('.').collect()).collect();
    let mut templates: Vec<Vec<Part>> = split
        .iter()
        .map(|parts| {
            parts
                .iter()
                .map(|p| Part::Fixed((*p).to_string()))
                .collect()
        })
        .collect();
    let mut why: Vec<BTreeSet<&'static str>> = vec![BTreeSet::new(); keys.len()];
    // Brackets are always a label.
    for (i, parts) in split.iter().enumerate() {
        for (j, p) in parts.iter().enumerate() {
            if let (Some(word), Some(slot)) = (bracket(p), templates[i].get_mut(j)) {
                *slot = Part::Bracket(word.to_string());
                why[i].insert("a name in brackets");
            }
        }
    }
    // A first part `prefix_name` forming a table with the rest: Redis' `cmdstat_get.calls`,
    // `cmdstat_set.calls`, `cmdstat_get.usec`... The longest such prefix wins.
    let prefixes = |first: &str| -> Vec<(String, String)> {
        first
            .char_indices()
            .filter(|(_, c)| *c == '_')
            .filter_map(|(at, _)| {
                let (head, name) = first.split_at(at + 1);
                (!name.is_empty() && head.len() > 1).then(|| (head.to_string(), name.to_string()))
            })
            .collect()
    };
    let mut by_prefix: BTreeMap<(String, usize), BTreeMap<String, BTreeSet<String>>> =
        BTreeMap::new();
    for (i, t) in templates.iter().enumerate() {
        let plain = t.iter().all(|p| matches!(p, Part::Fixed(_)));
        let Some((first, rest)) = split[i].split_first() else {
            continue;
        };
        if !plain || rest.is_empty() {
            continue;
        }
        for (head, name) in prefixes(first) {
            by_prefix
                .entry((head, t.len()))
                .or_default()
                .entry(rest.join("."))
                .or_default()
                .insert(name);
        }
    }
    for (i, t) in templates.iter_mut().enumerate() {
        let plain = t.iter().all(|p| matches!(p, Part::Fixed(_)));
        let Some((first, rest)) = split[i].split_first() else {
            continue;
        };
        if !plain || rest.is_empty() {
            continue;
        }
        let rest_key = rest.join(".");
        let best = prefixes(first).into_iter().rev().find(|(head, _)| {
            by_prefix
                .get(&(head.clone(), t.len()))
                .is_some_and(|columns| {
                    let shared = columns.values().filter(|m| m.len() >= 2).count();
                    shared >= 2 && columns.get(&rest_key).is_some_and(|m| m.len() >= 2)
                })
        });
        if let Some((head, _)) = best {
            let mut fresh = vec![Part::Prefixed(head)];
            fresh.extend(rest.iter().map(|p| Part::Fixed((*p).to_string())));
            *t = fresh;
            why[i].insert("a table of names by fields");
        }
    }
    // A numbered part, when another key differs only in its number.
    let mut by_shape: BTreeMap<(Vec<Part>, usize), BTreeSet<&str>> = BTreeMap::new();
    for (i, parts) in split.iter().enumerate() {
        for (j, p) in parts.iter().enumerate() {
            if let Some((word, digits)) = numbered(p) {
                let mut t = templates[i].clone();
                if let Some(slot) = t.get_mut(j) {
                    *slot = Part::Numbered(word.to_string());
                }
                by_shape.entry((t, j)).or_default().insert(digits);
            }
        }
    }
    for (i, parts) in split.iter().enumerate() {
        for (j, p) in parts.iter().enumerate() {
            let Some((word, _)) = numbered(p) else {
                continue;
            };
            let mut t = templates[i].clone();
            if let Some(slot) = t.get_mut(j) {
                *slot = Part::Numbered(word.to_string());
            }
            if by_shape.get(&(t.clone(), j)).is_some_and(|d| d.len() > 1) {
                templates[i] = t;
                why[i].insert("copies under numbered parts");
            }
        }
    }
    // Parts that are numbers (`histogram.000000.000001.to.000000.000002`, `cpu.0.user`),
    // when other keys differ only in them: one label from the first to the last.
    let digits = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
    let mut numeric: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    let numeric_shape = |parts: &[&str]| -> Vec<String> {
        parts
            .iter()
            .map(|p| {
                if digits(p) {
                    "#".to_string()
                } else {
                    (*p).to_string()
                }
            })
            .collect()
    };
    for (i, parts) in split.iter().enumerate() {
        if parts.iter().any(|p| digits(p))
            && templates[i].iter().all(|p| matches!(p, Part::Fixed(_)))
        {
            *numeric.entry(numeric_shape(parts)).or_default() += 1;
        }
    }
    for (i, parts) in split.iter().enumerate() {
        let shape = numeric_shape(parts);
        if numeric.get(&shape).map_or(true, |n| *n < 2)
            || !templates[i].iter().all(|p| matches!(p, Part::Fixed(_)))
        {
            continue;
        }
        let (Some(first), Some(last)) = (
            parts.iter().position(|p| digits(p)),
            parts.iter().rposition(|p| digits(p)),
        ) else {
            continue;
        };
        let word = first
            .checked_sub(1)
            .and_then(|w| parts.get(w))
            .map_or("n", |w| if *w == "histogram" { "bucket" } else { w })
            .to_string();
        let mut t: Vec<Part> = Vec::new();
        for (j, p) in parts.iter().enumerate() {
            if j == first {
                t.push(Part::Span(
                    word.clone(),
                    shape.get(first..=last).map_or(1, |s| s.len()),
                ));
            } else if j < first || j > last {
                t.push(Part::Fixed((*p).to_string()));
            }
        }
        templates[i] = t;
        why[i].insert("numbered parts");
    }
    // A last part in capitals, under a parent whose children all are.
    let mut children: BTreeMap<Vec<Part>, Vec<usize>> = BTreeMap::new();
    for (i, t) in templates.iter().enumerate() {
        if t.len() >= 3 {
            children
                .entry(t.split_at(t.len() - 1).0.to_vec())
                .or_default()
                .push(i);
        }
    }
    for (parent, members) in &children {
        let all_capitals = members.iter().all(|&i| {
            split[i].last().is_some_and(|p| capitals(p))
                && matches!(templates[i].last(), Some(Part::Fixed(_)))
        });
        let Some(Part::Fixed(word)) = parent.last() else {
            continue;
        };
        if members.len() >= 2 && all_capitals {
            for &i in members {
                if let Some(last) = templates[i].last_mut() {
                    *last = Part::Whole(word.clone());
                }
                why[i].insert("an enumeration in capitals");
            }
        }
    }
    // A middle part that forms a table with the last: LCK.<lock>.<field>.
    let mut tables: BTreeMap<(String, usize), BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (i, t) in templates.iter().enumerate() {
        let plain = t.iter().all(|p| matches!(p, Part::Fixed(_)));
        if plain && t.len() >= 3 {
            if let (Some(first), Some(last)) = (split[i].first(), split[i].last()) {
                let middle = split[i][1..split[i].len() - 1].join(".");
                tables
                    .entry(((*first).to_string(), t.len()))
                    .or_default()
                    .entry((*last).to_string())
                    .or_default()
                    .insert(middle);
            }
        }
    }
    for (i, t) in templates.iter_mut().enumerate() {
        let plain = t.iter().all(|p| matches!(p, Part::Fixed(_)));
        let (Some(first), Some(last)) = (split[i].first(), split[i].last()) else {
            continue;
        };
        if !plain || t.len() < 3 {
            continue;
        }
        let Some(columns) = tables.get(&((*first).to_string(), t.len())) else {
            continue;
        };
        let shared = columns.values().filter(|m| m.len() >= 2).count();
        let in_table = columns.get(*last).is_some_and(|m| m.len() >= 2);
        if shared >= 2 && in_table {
            *t = vec![
                Part::Fixed((*first).to_string()),
                Part::Whole(first.to_string()),
                Part::Fixed((*last).to_string()),
            ];
            why[i].insert("a table of names by fields");
        }
    }
    // Keys with at least one slot, grouped by template, in the order first seen.
    let mut order: Vec<Vec<Part>> = Vec::new();
    let mut members: BTreeMap<Vec<Part>, Vec<usize>> = BTreeMap::new();
    for (i, t) in templates.iter().enumerate() {
        if t.iter().all(|p| matches!(p, Part::Fixed(_))) {
            continue;
        }
        if !members.contains_key(t) {
            order.push(t.clone());
        }
        members.entry(t.clone()).or_default().push(i);
    }
    order
        .into_iter()
        .filter_map(|t| {
            let idx = members.get(&t)?;
            let reasons: BTreeSet<&str> = idx.iter().flat_map(|&i| why[i].clone()).collect();
            Some(shape_of(&t, idx, keys, &reasons))
        })
        .collect()
}

fn shape_of(t: &[Part], idx: &[usize], keys: &[String], reasons: &BTreeSet<&str>) -> Shape {
    let mut pattern = Vec::new();
    let mut base = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let label = |word: &str, labels: &mut Vec<String>| {
        let mut name = names::label_name(word);
        while labels.contains(&name) {
            name.push_str("_2");
        }
        labels.push(name.clone());
        name
    };
    for p in t {
        match p {
            Part::Fixed(text) => {
                pattern.push(regex::escape(text));
                base.push(text.clone());
            }
            Part::Numbered(word) => {
                let l = label(word, &mut labels);
                pattern.push(format!("{}_?(?P<{l}>[0-9]+)", regex::escape(word)));
                base.push(word.clone());
            }
            Part::Bracket(word) => {
                let l = label(word, &mut labels);
                pattern.push(format!(r"{}\[(?P<{l}>[^\]]+)\]", regex::escape(word)));
                base.push(word.clone());
            }
            Part::Whole(word) => {
                let l = label(word, &mut labels);
                pattern.push(format!("(?P<{l}>.+)"));
            }
            Part::Prefixed(head) => {
                let word = head.trim_end_matches('_');
                let l = label(word, &mut labels);
                pattern.push(format!("{}(?P<{l}>[^.]+)", regex::escape(head)));
                base.push(word.to_string());
            }
            Part::Span(word, n) => {
                let l = label(word, &mut labels);
                let inner = vec![r"[^.]+"; *n].join(r"\.");
                pattern.push(format!("(?P<{l}>{inner})"));
            }
        }
    }
    let reasons: Vec<&str> = reasons.iter().copied().collect();
    Shape {
        pattern: pattern.join(r"\."),
        labels,
        base: base.join("."),
        why: format!("labels from {}", reasons.join(" and ")),
        keys: idx.iter().filter_map(|&i| keys.get(i).cloned()).collect(),
    }
}
