//! Running a recipe's `[[test]]` cases ([`super::cases`]): `metrics-adapter test` runs them,
//! and `check` runs those of the recipes a config uses. A case runs the way `metrics-adapter
//! parse` does (framing, parse, the page in the 0.0.4 text format), so what a user sees with
//! `parse` is what the case compares against.

use super::cases::Case;
use super::compile::Parser;
use super::registry::Entry;
use crate::exposition::WireFormat;

/// What running the cases of some recipes gave.
#[derive(Debug, Default)]
pub struct Summary {
    /// One line per case (`... ok`, `... FAILED` and its report), for a person.
    pub text: String,
    pub passed: usize,
    /// `recipe NAME: case LABEL` of each failed case.
    pub failed: Vec<String>,
    /// Recipes that have no case.
    pub without_cases: Vec<String>,
}

/// Runs every case of each recipe in `entries`, in order.
pub fn run_all<'a>(entries: impl IntoIterator<Item = (&'a str, &'a Entry)>) -> Summary {
    let mut summary = Summary::default();
    for (name, entry) in entries {
        let recipe = format!("recipe {name} ({})", entry.origin);
        if entry.cases.is_empty() {
            summary
                .text
                .push_str(&format!("{recipe}: no [[test]] cases\n"));
            summary.without_cases.push(name.to_string());
        }
        for (i, case) in entry.cases.iter().enumerate() {
            let label = case.label(i);
            match run(entry.parser.as_ref(), case) {
                Ok(()) => {
                    summary.passed += 1;
                    summary
                        .text
                        .push_str(&format!("{recipe}: case {label}: ok\n"));
                }
                Err(report) => {
                    summary
                        .text
                        .push_str(&format!("{recipe}: case {label}: FAILED\n{report}"));
                    summary.failed.push(format!("recipe {name}: case {label}"));
                }
            }
        }
    }
    summary
}

/// Why a case failed; its `Display` is the report a person reads, indented by two.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseFailure {
    #[error("  the input's framing failed: {0}\n")]
    Framing(#[from] crate::framing::FramingError),
    #[error("  the input did not parse: {0}\n")]
    Parse(#[from] crate::parse::ParseError),
    #[error("  log_format: {0}\n")]
    LogFormat(String),
    /// The page differs from `expect`: the difference, and what the parse left out.
    #[error("{0}")]
    Page(String),
}

/// Runs one case on `parser`: `Ok` when the page has every expected line (is exactly
/// `expect`, with `exact`), else why not, with a readable report of the difference.
pub fn run(parser: &dyn Parser, case: &Case) -> Result<(), CaseFailure> {
    let input = case.input.as_bytes();
    let block = crate::framing::saved_input(parser.framing().map(|f| &**f), input)?;
    let parsed = match &case.log_format {
        None => parser.parse(block)?,
        Some(format) => {
            let custom = parser
                .line_recipe()
                .ok_or_else(|| {
                    CaseFailure::LogFormat(format!("{} is not a line recipe", parser.name()))
                })?
                .with_log_format(format)
                .map_err(|e| CaseFailure::LogFormat(e.to_string()))?;
            custom.parse(block)?
        }
    };
    let (page, notes) = super::preview::render(parsed, WireFormat::Text);
    let page_lines: Vec<&str> = page.lines().collect();
    let expected = case.expected_lines();
    let mut report = if case.exact {
        exact_diff(&expected, &page_lines)
    } else {
        missing(&expected, &page_lines)
    };
    if report.is_empty() {
        return Ok(());
    }
    // What the parse left out often explains a missing line.
    for note in notes {
        report.push_str(&format!("  note: {note}\n"));
    }
    Err(CaseFailure::Page(report))
}

/// The expected lines the page lacks, each with the page's lines for the same series name
/// (a changed value or label is then plain to see).
fn missing(expected: &[&str], page: &[&str]) -> String {
    let have: std::collections::HashSet<String> = page.iter().map(|l| normal(l)).collect();
    let mut out = String::new();
    for line in expected.iter().filter(|l| !have.contains(&normal(l))) {
        if out.is_empty() {
            out.push_str("  missing from the page:\n");
        }
        out.push_str(&format!("    {line}\n"));
        let name = series_name(line);
        let near: Vec<&&str> = page.iter().filter(|p| series_name(p) == name).collect();
        for (i, p) in near.iter().take(5).enumerate() {
            let lead = if i == 0 {
                "the page has:"
            } else {
                "             "
            };
            out.push_str(&format!("      {lead} {p}\n"));
        }
        if near.len() > 5 {
            out.push_str(&format!("      ... and {} more\n", near.len() - 5));
        }
        if near.is_empty() {
            out.push_str(&format!("      (no line for {name} on the page)\n"));
        }
    }
    out
}

/// A line as compared: a sample's value as a number, so `5` expects the `5.0` the page
/// writes (and `1e3` matches `1000.0`); comments and anything else as written.
fn normal(line: &str) -> String {
    let line = line.trim_end();
    if line.starts_with('#') {
        return line.to_string();
    }
    match line.rsplit_once(' ') {
        Some((series, value)) => match value.parse::<f64>() {
            Ok(v) if v.is_nan() => format!("{series} NaN"),
            Ok(v) => format!("{series} {v}"),
            Err(_) => line.to_string(),
        },
        None => line.to_string(),
    }
}

/// What a page line is about: a sample's metric name, or `# TYPE name` for a comment.
fn series_name(line: &str) -> String {
    if let Some(rest) = line.strip_prefix('#') {
        let mut words = rest.split_whitespace();
        return match (words.next(), words.next()) {
            (Some(kind), Some(name)) => format!("# {kind} {name}"),
            _ => line.to_string(),
        };
    }
    line.split(['{', ' ']).next().unwrap_or(line).to_string()
}

/// Larger pages are compared line by line in place: the LCS table would be too big.
const MAX_DIFF_CELLS: usize = 4_000_000;

/// A line diff of the page against `expected` (`-` expected only, `+` page only), with the
/// page's line numbers; empty when they are equal.
fn exact_diff(expected: &[&str], page: &[&str]) -> String {
    let a: Vec<String> = expected.iter().map(|l| normal(l)).collect();
    let b: Vec<String> = page.iter().map(|l| normal(l)).collect();
    if a == b {
        return String::new();
    }
    let mut out = String::from("  the page differs from expect (- expected, + on the page):\n");
    let ops = if (expected.len() + 1).saturating_mul(page.len() + 1) <= MAX_DIFF_CELLS {
        lcs_diff(&a, &b)
    } else {
        naive_diff(&a, &b)
    };
    // Reported as written, not as compared.
    let text = |list: &[&'_ str], n: usize| list.get(n).copied().unwrap_or_default().to_string();
    for op in ops {
        match op {
            Op::Removed(i) => out.push_str(&format!("    - {}\n", text(expected, i))),
            Op::Added(j) => out.push_str(&format!("    + {}   (line {})\n", text(page, j), j + 1)),
        }
    }
    out
}

enum Op {
    /// An expected line the page lacks (its index in the expected lines).
    Removed(usize),
    /// A page line not expected (its index in the page).
    Added(usize),
}

/// The classic longest-common-subsequence diff: small pages, so O(n·m) is fine.
fn lcs_diff(a: &[String], b: &[String]) -> Vec<Op> {
    let width = b.len() + 1;
    // lcs[i * width + j]: the LCS length of a[i..] and b[j..].
    let mut lcs = vec![0u32; (a.len() + 1) * width];
    let at = |lcs: &[u32], i: usize, j: usize| lcs.get(i * width + j).copied().unwrap_or(0);
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            let v = if a.get(i) == b.get(j) {
                at(&lcs, i + 1, j + 1) + 1
            } else {
                at(&lcs, i + 1, j).max(at(&lcs, i, j + 1))
            };
            if let Some(cell) = lcs.get_mut(i * width + j) {
                *cell = v;
            }
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(_), Some(_)) if at(&lcs, i + 1, j) >= at(&lcs, i, j + 1) => {
                ops.push(Op::Removed(i));
                i += 1;
            }
            (_, Some(_)) => {
                ops.push(Op::Added(j));
                j += 1;
            }
            (Some(_), None) => {
                ops.push(Op::Removed(i));
                i += 1;
            }
            (None, None) => break,
        }
    }
    ops
}

/// Missing and unexpected lines, for pages too big for [`lcs_diff`].
fn naive_diff(a: &[String], b: &[String]) -> Vec<Op> {
    let in_a: std::collections::HashSet<&String> = a.iter().collect();
    let in_b: std::collections::HashSet<&String> = b.iter().collect();
    let mut ops: Vec<Op> = (0..a.len())
        .filter(|&i| a.get(i).is_some_and(|l| !in_b.contains(l)))
        .map(Op::Removed)
        .collect();
    ops.extend(
        (0..b.len())
            .filter(|&j| b.get(j).is_some_and(|l| !in_a.contains(l)))
            .map(Op::Added),
    );
    ops
}

#[cfg(test)]
mod tests;
