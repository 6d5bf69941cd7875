//! Exposition: a family set written as the Prometheus text format 0.0.4 or OpenMetrics 1.0,
//! chosen from the scraper's `Accept` header.
//!
//! Written here rather than through `prometheus-client`'s `Registry`: that crate has no
//! summary or state set type and wants every page as `'static` collectors; this writer
//! follows its encoders byte for byte for the kinds both have (a test holds it to them),
//! escapes label values and help text, and writes each family straight from the set. The
//! family set has already made names valid and unique. The page never knows where its data came from. `WireFormat` is the
//! format on the wire, not to be confused with a parser's input format.

use crate::family::{Family, FamilySet, MetricKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireFormat {
    /// `text/plain; version=0.0.4`: the default, and what curl gets.
    Text,
    OpenMetrics,
}

pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl WireFormat {
    /// OpenMetrics when the scraper lists it in `Accept` (Prometheus does), else 0.0.4.
    pub fn negotiate(accept: Option<&str>) -> WireFormat {
        let wants_om =
            accept.is_some_and(|a| crate::text::lists_accepted(a, "application/openmetrics-text"));
        if wants_om {
            WireFormat::OpenMetrics
        } else {
            WireFormat::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            WireFormat::Text => TEXT_CONTENT_TYPE,
            WireFormat::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// Writes the page.
pub fn encode(families: &FamilySet, format: WireFormat) -> String {
    let mut out = encode_part(families, format);
    if format == WireFormat::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// Writes the families without the page's end marker: a part of a page that is sent in
/// pieces (the sources' part, kept encoded, then the adapter's own page).
pub fn encode_part(families: &FamilySet, format: WireFormat) -> String {
    let mut out = String::with_capacity(page_size_hint(families));
    for family in families.families() {
        if !family.samples.is_empty() {
            write_family(&mut out, family, format);
        }
    }
    out
}

/// [`encode_part`] of one source's families and its recipe's up metric after them: what
/// the family set would hold for a page of one source, written without building that set
/// (the caller checks that no name of the source's could collide with the up metric).
pub fn encode_one_source(families: &FamilySet, up: Option<&Family>, format: WireFormat) -> String {
    let mut out = String::with_capacity(page_size_hint(families) + 160);
    for family in families.families().iter().chain(up) {
        if !family.samples.is_empty() {
            write_family(&mut out, family, format);
        }
    }
    out
}

/// Writes the adapter's own part of a page (self metrics, reload status, process metrics),
/// with the page's end marker. These families are made by the adapter with valid, distinct
/// names, so they skip the family set's checks, which on every scrape cost more than the
/// writing (a test holds the two ways to the same bytes).
pub fn encode_own(families: &[Family], format: WireFormat) -> String {
    let mut out = String::with_capacity(families.len() * 160);
    for family in families {
        if !family.samples.is_empty() {
            write_family(&mut out, family, format);
        }
    }
    if format == WireFormat::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// A guess at the page size, so a big page is not copied while it grows.
fn page_size_hint(families: &FamilySet) -> usize {
    families.series_count() * 48 + families.len() * 64
}

/// Writes one family: its HELP and TYPE lines, then every sample in order.
fn write_family(out: &mut String, family: &Family, format: WireFormat) {
    let om = format == WireFormat::OpenMetrics;
    // 0.0.4 names the metadata after the sample name (`x_total`, `x_info`); OpenMetrics
    // after the family, with the sample suffix on the samples only.
    let kind_suffix = match family.kind {
        MetricKind::Counter => "_total",
        MetricKind::Info => "_info",
        _ => "",
    };
    let meta_suffix = if om { "" } else { kind_suffix };
    out.push_str("# HELP ");
    out.push_str(&family.name);
    out.push_str(meta_suffix);
    out.push(' ');
    write_help(out, &family.help);
    out.push_str("\n# TYPE ");
    out.push_str(&family.name);
    out.push_str(meta_suffix);
    out.push(' ');
    out.push_str(type_word(family, format));
    out.push('\n');
    for sample in &family.samples {
        out.push_str(&family.name);
        out.push_str(kind_suffix);
        out.push_str(sample.suffix.as_str());
        write_labels(out, &sample.labels);
        out.push(' ');
        if family.kind == MetricKind::Info {
            // An info series is 1 by definition; written as the integer Prometheus clients use.
            out.push('1');
        } else {
            write_value(out, sample.value);
        }
        out.push('\n');
    }
}

fn type_word(family: &Family, format: WireFormat) -> &'static str {
    match (family.kind, format) {
        (MetricKind::Counter, _) => "counter",
        (MetricKind::Gauge, _) => "gauge",
        (MetricKind::Histogram, _) => "histogram",
        (MetricKind::Summary, _) => "summary",
        (MetricKind::Info, WireFormat::OpenMetrics) => "info",
        // OpenMetrics names the state label after the family; a state set whose recipe
        // names it otherwise (`state`, as the Go exporters do) stays a gauge.
        (MetricKind::StateSet, WireFormat::OpenMetrics) if state_label_is_family_name(family) => {
            "stateset"
        }
        (MetricKind::StateSet, WireFormat::OpenMetrics) => "gauge",
        (MetricKind::Untyped, WireFormat::OpenMetrics) => "unknown",
        // 0.0.4 has neither info nor state sets: both are gauges there.
        (MetricKind::Info | MetricKind::StateSet, WireFormat::Text) => "gauge",
        (MetricKind::Untyped, WireFormat::Text) => "untyped",
    }
}

fn state_label_is_family_name(family: &Family) -> bool {
    family
        .samples
        .iter()
        .all(|s| s.labels.iter().any(|(name, _)| *name == family.name))
}

/// Help text escapes `\` (and, in 0.0.4, a line break; the family set keeps help to one line).
fn write_help(out: &mut String, help: &str) {
    if !help.contains(['\\', '\n']) {
        out.push_str(help);
        return;
    }
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_labels(out: &mut String, labels: &[(String, String)]) {
    let mut first = true;
    for (name, value) in labels {
        out.push(if first { '{' } else { ',' });
        first = false;
        out.push_str(name);
        out.push_str("=\"");
        if value.contains(['\\', '"', '\n']) {
            for c in value.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    c => out.push(c),
                }
            }
        } else {
            out.push_str(value);
        }
        out.push('"');
    }
    if !first {
        out.push('}');
    }
}

/// Finite values in dtoa's shortest round-trip form (`1027.0`, `-0.5`, `1e20`), as
/// prometheus-client writes them; the others as both formats spell them.
fn write_value(out: &mut String, value: f64) {
    if value.is_finite() {
        out.push_str(dtoa::Buffer::new().format_finite(value));
    } else if value.is_nan() {
        out.push_str("NaN");
    } else if value > 0.0 {
        out.push_str("+Inf");
    } else {
        out.push_str("-Inf");
    }
}

pub mod check;
#[cfg(test)]
mod tests;
