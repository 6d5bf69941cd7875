//! Metric and label names: what is valid, how other text is made valid, and the name a
//! family is written under. The family set applies these; parsers use `name_part`.

use super::MetricKind;

/// The sample name the exposition writes for a family.
pub fn exposed_name(name: &str, kind: MetricKind) -> String {
    match kind {
        MetricKind::Counter => format!("{name}_total"),
        MetricKind::Info => format!("{name}_info"),
        _ => name.to_string(),
    }
}

pub(super) fn has_repeated_label(labels: &[(String, String)]) -> bool {
    labels.len() > 1
        && labels
            .iter()
            .enumerate()
            .any(|(i, (a, _))| labels[..i].iter().any(|(b, _)| a == b))
}

/// Counters are written with `_total` and infos with `_info` by the encoder: a name that
/// already carries the suffix would otherwise get it twice.
pub(super) fn strip_kind_suffix(name: &str, kind: MetricKind) -> &str {
    let suffix = match kind {
        MetricKind::Counter => "_total",
        MetricKind::Info => "_info",
        _ => return name,
    };
    match name.strip_suffix(suffix) {
        Some(base) if !base.is_empty() => base,
        _ => name,
    }
}

/// Help text on one line: line breaks become spaces (in place: most help has none).
pub(super) fn single_line(help: &mut String) {
    if help.contains(['\n', '\r']) {
        *help = help.replace(['\n', '\r'], " ");
    }
}

pub fn is_valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// Replaces every character a metric name may not hold with `_`; prefixes `_` to a leading digit.
pub fn sanitize_metric_name(name: &str) -> String {
    if is_valid_metric_name(name) {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len() + 1);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        }
    }));
    out
}

pub fn sanitize_label_name(name: &str) -> String {
    let mut out = sanitize_metric_name(name).replace(':', "_");
    while out.starts_with("__") {
        out.remove(0);
    }
    out
}

/// Turns a free-form key (`Active(anon)`, `Total Accesses`, `cmd-get`) into a name part:
/// runs of other characters become one `_`, none at either end (`Active_anon`).
pub fn name_part(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut pending = false;
    for c in key.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if pending && !out.is_empty() {
                out.push('_');
            }
            pending = false;
            out.push(c);
        } else {
            pending = true;
        }
    }
    out
}
