//! `draft --explain`: for each line of the sample, what the draft made of it and why (the
//! format's choice, the family, its type, unit and labels), in the manner of
//! `parse --explain`. A format without lines (JSON) is told record by record.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::layout::Layout;
use super::types::Kind;
use super::{Matcher, Rule, Seen};
use crate::text::excerpt;

/// Record key -> the rule that takes it.
type RuleOf<'r> = HashMap<&'r str, &'r Rule>;

fn rule_of(rules: &[Rule]) -> RuleOf<'_> {
    let mut out = HashMap::new();
    for r in rules {
        match &r.matcher {
            Matcher::Key(k) => {
                out.entry(k.as_str()).or_insert(r);
            }
            Matcher::Pattern(shape) => {
                for k in &shape.keys {
                    out.entry(k.as_str()).or_insert(r);
                }
            }
        }
    }
    out
}

fn record(out: &mut String, s: &Seen, rules: &RuleOf, prefix: &str) {
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    let labels = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", labels.join(","))
    };
    let _ = writeln!(out, "  read    {}{labels} = {}", s.key, excerpt(&s.value));
    if s.typed {
        let _ = writeln!(out, "  kept    as the page types it (format prometheus)");
        return;
    }
    let Some(rule) = rules.get(s.key.as_str()) else {
        let _ = writeln!(out, "  nothing: no rule (unmatched)");
        return;
    };
    if rule.typed.kind == Kind::Drop {
        // The reason starts with "dropped:".
        let _ = writeln!(out, "  {}", rule.typed.why);
        return;
    }
    let mut why = vec![rule.typed.why.clone()];
    if let Some(u) = &rule.named.why {
        why.push(u.clone());
    }
    let mut name = rule.page_name(prefix);
    if let Matcher::Pattern(shape) = &rule.matcher {
        why.push(shape.why.clone());
        name = format!("{name}{{{}}}", shape.labels.join(","));
    }
    let _ = writeln!(out, "  became  {name}");
    for w in why {
        let _ = writeln!(out, "  because {w}");
    }
    if let Some(help) = &rule.help {
        let _ = writeln!(out, "  help    {help:?}, the text after the value");
    }
}

pub fn render(text: &str, layout: &Layout, seen: &[Seen], rules: &[Rule], prefix: &str) -> String {
    let rules = &rule_of(rules);
    let mut out = String::new();
    for w in &layout.why {
        let _ = writeln!(out, "{w}");
    }
    out.push('\n');
    let mut by_line: BTreeMap<usize, Vec<&Seen>> = BTreeMap::new();
    for s in seen {
        by_line.entry(s.line).or_default().push(s);
    }
    if layout.format == "json" || by_line.keys().all(|&l| l == 0) {
        for s in seen {
            record(&mut out, s, rules, prefix);
            out.push('\n');
        }
        return out;
    }
    for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        if line.trim().is_empty() {
            continue;
        }
        let _ = writeln!(out, "line {n}: {}", excerpt(line));
        match by_line.get(&n) {
            Some(records) => records
                .iter()
                .for_each(|s| record(&mut out, s, rules, prefix)),
            None => {
                let _ = writeln!(
                    out,
                    "  nothing: no value on it (a header, a section, a comment or an end line)"
                );
            }
        }
        out.push('\n');
    }
    out
}
