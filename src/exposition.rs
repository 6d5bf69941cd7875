//! Exposition: a family set written as the Prometheus text format 0.0.4 or OpenMetrics 1.0,
//! chosen from the scraper's `Accept` header, through `prometheus-client`'s encoders.
//!
//! The encoders escape label values and help text; the family set has already made names
//! valid and unique. The page never knows where its data came from. `WireFormat` is the
//! format on the wire, not to be confused with a parser's input format.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::family::{FamilySet, MetricKind};

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

#[derive(Debug)]
struct PageCollector {
    families: Arc<FamilySet>,
    /// prometheus-client's OpenMetrics encoder writes help text as given (its 0.0.4 encoder
    /// escapes it), so a backslash in help would make an invalid escape: escape it here.
    escape_help: bool,
}

impl Collector for PageCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in self.families.families() {
            if family.samples.is_empty() {
                continue;
            }
            let metric_type = match family.kind {
                MetricKind::Gauge | MetricKind::StateSet => MetricType::Gauge,
                MetricKind::Counter => MetricType::Counter,
                MetricKind::Info => MetricType::Info,
                MetricKind::Untyped => MetricType::Unknown,
            };
            let help = if self.escape_help && family.help.contains('\\') {
                std::borrow::Cow::Owned(family.help.replace('\\', "\\\\"))
            } else {
                std::borrow::Cow::Borrowed(family.help.as_str())
            };
            let mut metric = encoder.encode_descriptor(&family.name, &help, None, metric_type)?;
            for sample in &family.samples {
                match family.kind {
                    MetricKind::Info => metric.encode_info(&&sample.labels[..])?,
                    MetricKind::Counter => metric
                        .encode_family(&&sample.labels[..])?
                        .encode_counter::<NoLabelSet, f64, f64>(&sample.value, None)?,
                    _ => metric
                        .encode_family(&&sample.labels[..])?
                        .encode_gauge(&sample.value)?,
                }
            }
        }
        Ok(())
    }
}

/// Writes the page. The set is shared, not copied.
pub fn encode(families: Arc<FamilySet>, format: WireFormat) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(PageCollector {
        families,
        escape_help: format == WireFormat::OpenMetrics,
    }));
    let mut out = String::new();
    // Writing into a String cannot fail; an encoder error would be a bug, shown in the page.
    let result = match format {
        WireFormat::Text => {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        }
        WireFormat::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry),
    };
    if let Err(e) = result {
        tracing::error!("encoding the page failed: {e}");
    }
    if format == WireFormat::OpenMetrics {
        fix_infinities(&mut out);
    }
    out
}

/// prometheus-client's OpenMetrics encoder writes infinite values as Rust prints them
/// (`inf`, `-inf`); OpenMetrics (and Prometheus' parser) want `+Inf` and `-Inf`. A value is
/// the last token of a sample line, after the label set's closing quote and brace, so only
/// line ends can match.
fn fix_infinities(page: &mut String) {
    if !page.contains("inf\n") {
        return;
    }
    let mut fixed = String::with_capacity(page.len() + 16);
    for line in page.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        let replaced = if body.starts_with('#') {
            None
        } else if let Some(head) = body.strip_suffix(" -inf") {
            Some(format!("{head} -Inf"))
        } else {
            body.strip_suffix(" inf").map(|head| format!("{head} +Inf"))
        };
        match replaced {
            Some(r) => {
                fixed.push_str(&r);
                if line.ends_with('\n') {
                    fixed.push('\n');
                }
            }
            None => fixed.push_str(line),
        }
    }
    *page = fixed;
}

pub mod check;
#[cfg(test)]
mod tests;
