//! `metrics-adapter parse --explain`: what a recipe made of every input line, in plain
//! text — what the format read (key, value, labels), which rule took each record and the
//! series it became, or why nothing came of it. The mapping records the steps only when
//! asked ([`Trace`] is `None` on the scrape path), so a scrape pays one branch per record.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::family::{exposed_name, sanitize_metric_name, MetricKind};
use crate::parse::trace::{LineReader, Step, Trace};
use crate::parse::{numbered_lines, Issue};
use crate::text::excerpt;

fn labels_text(labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(","))
}

/// The name as the page writes it: sanitised, with `_total` or `_info` once.
fn page_name(name: &str, kind: MetricKind) -> String {
    let base = match kind {
        MetricKind::Counter => name.strip_suffix("_total").unwrap_or(name),
        MetricKind::Info => name.strip_suffix("_info").unwrap_or(name),
        _ => name,
    };
    exposed_name(&sanitize_metric_name(base), kind)
}

/// The explanation: one block per input line (or per record, for a format without lines),
/// `issues` being what the format could not read; and how many series it told of as
/// duplicates (the page keeps the first).
pub(crate) fn render(
    text: &str,
    trace: &Trace,
    issues: &[Issue],
    lines: Option<&dyn LineReader>,
) -> (String, usize) {
    let mut duplicates = 0;
    let mut by_line: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, (r, _)) in trace.records.iter().enumerate() {
        by_line.entry(r.line).or_default().push(i);
    }
    // Series already on the page: (name, labels in name order) -> the line that made it.
    let mut seen: HashMap<(String, Vec<(String, String)>), usize> = HashMap::new();
    let mut out = String::new();
    let mut block = |out: &mut String, idx: &[usize]| {
        for &i in idx {
            let Some((r, steps)) = trace.records.get(i) else {
                continue;
            };
            let unit = r
                .unit
                .as_deref()
                .map_or(String::new(), |u| format!(" unit {u}"));
            let _ = writeln!(
                out,
                "  read    {}{} = {:?}{unit}",
                r.key,
                labels_text(&r.labels),
                r.value
            );
            if let Some(from) = &r.from {
                let _ = writeln!(out, "  from    {from}");
            }
            for step in steps {
                let _ = match step {
                    Step::Filtered(why) => writeln!(out, "  nothing: {why}"),
                    Step::WhenFailed(rule) => {
                        writeln!(out, "  skipped {rule}: its `when` does not hold")
                    }
                    Step::Took(rule) => writeln!(out, "  rule    {rule}"),
                    Step::Dropped(rule) => writeln!(out, "  dropped: {rule} has drop = true"),
                    Step::Problem(m) => writeln!(out, "  nothing: {m} (a parse error)"),
                    Step::Skipped(m) => writeln!(out, "  nothing: {m} (counted as unmatched)"),
                    Step::NoRule(what) => writeln!(out, "  no rule matched: {what}"),
                    Step::Nothing(m) => writeln!(out, "  nothing: {m}"),
                    Step::Derived(m) => writeln!(out, "  derived {m}"),
                    Step::Added {
                        name,
                        kind,
                        labels,
                        value,
                        verb,
                    } => {
                        use crate::parse::mapping::accumulate::Verb;
                        let shown = page_name(name, *kind);
                        let labels = labels_text(labels);
                        match verb {
                            Verb::Count | Verb::Sum => {
                                writeln!(
                                    out,
                                    "  adds    {value} to {shown}{labels} ({})",
                                    kind.as_str()
                                )
                            }
                            Verb::Observe => writeln!(
                                out,
                                "  observes {value} into {shown}{labels} ({})",
                                kind.as_str()
                            ),
                            Verb::Set => {
                                writeln!(out, "  sets    {shown}{labels} to {value} (gauge)")
                            }
                        }
                    }
                    Step::Series {
                        name,
                        kind,
                        labels,
                        value,
                    } => {
                        let shown = page_name(name, *kind);
                        let mut sorted = labels.to_vec();
                        sorted.sort();
                        match seen.get(&(shown.clone(), sorted.clone())) {
                            Some(first) => {
                                duplicates += 1;
                                writeln!(
                                    out,
                                    "  duplicate: {shown}{} (line {first} made it first), dropped",
                                    labels_text(labels)
                                )
                            }
                            _ => {
                                seen.insert((shown.clone(), sorted), r.line);
                                writeln!(
                                    out,
                                    "  series  {shown}{} {value} ({})",
                                    labels_text(labels),
                                    kind.as_str()
                                )
                            }
                        }
                    }
                };
            }
        }
    };
    // A format without lines (JSON) numbers nothing: its text is not walked line by line.
    let has_lines = by_line.keys().any(|&n| n > 0) || issues.iter().any(|i| i.line > 0);
    let continued: HashMap<usize, usize> = lines
        .map(|l| l.record_lines(text).into_iter().collect())
        .unwrap_or_default();
    for (n, line) in numbered_lines(text).filter(|_| has_lines) {
        let problems: Vec<&Issue> = issues.iter().filter(|i| i.line == n).collect();
        let idx = by_line.get(&n).map_or(&[][..], Vec::as_slice);
        if line.trim().is_empty() && idx.is_empty() && problems.is_empty() {
            continue;
        }
        let _ = writeln!(out, "line {n}: {}", excerpt(line));
        for p in &problems {
            let _ = writeln!(out, "  not read: {}", p.message);
        }
        if let Some(first) = continued
            .get(&n)
            .filter(|_| idx.is_empty() && problems.is_empty())
        {
            let _ = writeln!(out, "  part of the record that starts on line {first}\n");
            continue;
        }
        if idx.is_empty() && problems.is_empty() {
            let why = lines
                .and_then(|l| l.no_record(line))
                .unwrap_or_else(|| "no value on this line (a comment, section or header)".into());
            let _ = writeln!(out, "  nothing: {why}");
        }
        block(&mut out, idx);
        out.push('\n');
    }
    // Formats without lines (JSON): one block per record, after anything tied to no line.
    for i in by_line.get(&0).map_or(&[][..], Vec::as_slice) {
        let Some((r, _)) = trace.records.get(*i) else {
            continue;
        };
        let _ = writeln!(out, "record {}", r.key);
        block(&mut out, &[*i]);
        out.push('\n');
    }
    for p in issues.iter().filter(|i| i.line == 0) {
        let _ = writeln!(out, "not read: {}\n", p.message);
    }
    (out, duplicates)
}
