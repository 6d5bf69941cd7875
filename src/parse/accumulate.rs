//! `log`: a recipe format whose rules *accumulate*. Each line of an appended log is matched
//! against `[[log.rule]]` patterns; each `[[log.metric]]` then adds to a counter (by 1 or by
//! a captured number), observes a captured number into a histogram or a summary, or sets a
//! gauge, labelled by named captures. The state lives in an [`Accumulator`] (plain data,
//! `state.rs`) owned by whoever follows the log (a `tail` source): the rules themselves stay
//! immutable and shared, so the same recipe serves any number of sources.
//!
//! A line is read by the first rule whose pattern matches it; a line no rule matches is
//! unmatched (counted), a line a rule with `drop = true` matches is known and carries nothing.
// Log text is the app's: an index or slice that can panic is a crash on its data.
#![warn(clippy::indexing_slicing)]

mod state;
#[cfg(test)]
mod tests;

pub use state::{Accumulator, Value};

use regex::{CaptureLocations, Regex};
use serde::Deserialize;

use crate::family::{is_valid_label_name, is_valid_metric_name};
use crate::parse::{number, numbered_lines, Issue, Unmatched};
use crate::text::excerpt;

/// The recipe's `[log]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    pub rule: Vec<RuleOptions>,
    pub metric: Vec<MetricOptions>,
}

/// `[[log.rule]]`: a pattern that reads lines.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOptions {
    pub pattern: String,
    /// Lines it matches are known and carry nothing: not counted as unmatched.
    #[serde(default)]
    pub drop: bool,
}

/// `[[log.metric]]`: what each line a rule read adds to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricOptions {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub help: String,
    /// The capture holding the number; a counter without one counts lines.
    pub value: Option<String>,
    /// Captures that become labels of the same name (`labels` is a static label map
    /// everywhere else in the language).
    #[serde(default)]
    pub label_captures: Vec<String>,
    pub scale: Option<f64>,
    #[serde(default)]
    pub buckets: Vec<f64>,
    #[serde(default)]
    pub quantiles: Vec<f64>,
    /// Summary: quantiles are over the last this many observations of each series.
    pub window: Option<usize>,
}

/// Prometheus client libraries' default buckets (seconds), used when a histogram names none.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
pub const DEFAULT_QUANTILES: &[f64] = &[0.5, 0.9, 0.99];
pub const DEFAULT_WINDOW: usize = 1024;

/// What a metric does with each line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Adds the value (or 1); exposed with `_total`.
    Counter,
    /// Adds like a counter, exposed untyped under the name as written: an exporter's counter
    /// whose name lacks `_total` (prometheus-nginxlog-exporter's `..._size_bytes`).
    Untyped,
    /// The last value.
    Gauge,
    Histogram,
    Summary,
}

const KINDS: &[&str] = &["counter", "untyped", "gauge", "histogram", "summary"];

/// A compiled `[[log.metric]]`.
#[derive(Debug)]
pub struct Metric {
    /// The family name (a counter's without `_total`).
    pub name: String,
    pub help: String,
    pub kind: Kind,
    pub scale: f64,
    pub labels: Vec<String>,
    /// Histogram upper bounds, ascending, without `+Inf`.
    pub buckets: Vec<f64>,
    pub quantiles: Vec<f64>,
    pub window: usize,
    value: Option<String>,
}

/// Where one metric finds its captures in one rule's pattern.
#[derive(Debug)]
struct Use {
    metric: usize,
    value: Option<usize>,
    labels: Vec<usize>,
}

#[derive(Debug)]
struct Rule {
    regex: Regex,
    drop: bool,
    uses: Vec<Use>,
}

/// A `[log]` table, compiled and checked.
#[derive(Debug)]
pub struct Rules {
    rules: Vec<Rule>,
    pub metrics: Vec<Metric>,
    /// The options as read: an accumulator is kept across a reload only for the same rules.
    fingerprint: String,
}

/// What feeding some lines did, beside the accumulator's new values.
#[derive(Debug, Default)]
pub struct Fed {
    pub lines: u64,
    pub unmatched: Unmatched,
    /// Values a rule matched but that could not be used (not a number, a negative count).
    pub issues: u64,
    /// The first few of them, for the status page and `parse`.
    pub first_issues: Vec<Issue>,
    /// New label sets refused because the source's page holds `max_series` samples already.
    pub dropped: u64,
}

/// How many issues are kept as text; the rest are only counted.
const KEPT_ISSUES: usize = 20;

impl Fed {
    fn issue(&mut self, line: usize, what: impl FnOnce() -> String) {
        self.issues += 1;
        if self.first_issues.len() < KEPT_ISSUES {
            self.first_issues.push(Issue::new(line, what()));
        }
    }
}

fn check_name(i: usize, name: &str) -> Result<(), String> {
    if is_valid_metric_name(name) {
        Ok(())
    } else {
        Err(format!(
            "log.metric[{i}].name: {name:?} is not a valid metric name"
        ))
    }
}

impl Metric {
    fn new(i: usize, m: MetricOptions) -> Result<Metric, String> {
        let at = |key: &str| format!("log.metric[{i}].{key}");
        let kind = match m.kind.as_str() {
            "counter" => Kind::Counter,
            "untyped" => Kind::Untyped,
            "gauge" => Kind::Gauge,
            "histogram" => Kind::Histogram,
            "summary" => Kind::Summary,
            other => {
                return Err(format!(
                    "{}: unknown type {other:?}; expected one of {}{}",
                    at("type"),
                    KINDS.join(", "),
                    crate::text::did_you_mean(other, KINDS.iter().copied())
                ))
            }
        };
        check_name(i, &m.name)?;
        // Written with `_total` by the exposition: a name that has it already keeps one.
        let name = match kind {
            Kind::Counter => m.name.strip_suffix("_total").unwrap_or(&m.name).to_string(),
            _ => m.name,
        };
        if m.value.is_none() && !matches!(kind, Kind::Counter | Kind::Untyped) {
            return Err(format!(
                "{}: a {} needs a value capture",
                at("value"),
                m.kind
            ));
        }
        if let Some(l) = m
            .label_captures
            .iter()
            .find(|l| !is_valid_label_name(l) || *l == "le" || *l == "quantile")
        {
            return Err(format!(
                "{}: {l:?} cannot be a label name",
                at("label_captures")
            ));
        }
        let scale = m.scale.unwrap_or(1.0);
        if !scale.is_finite() || scale == 0.0 {
            return Err(format!(
                "{}: must be a finite number other than 0",
                at("scale")
            ));
        }
        let buckets = match (kind, m.buckets.is_empty()) {
            (Kind::Histogram, true) => DEFAULT_BUCKETS.to_vec(),
            (Kind::Histogram, false) => m.buckets,
            (_, true) => Vec::new(),
            (_, false) => return Err(format!("{}: only a histogram has buckets", at("buckets"))),
        };
        if !buckets.iter().all(|b| b.is_finite())
            || buckets.windows(2).any(|w| w.first() >= w.last())
        {
            return Err(format!(
                "{}: must be finite and ascending (+Inf is implied)",
                at("buckets")
            ));
        }
        let summary = kind == Kind::Summary;
        if !summary && (!m.quantiles.is_empty() || m.window.is_some()) {
            return Err(format!(
                "{}: only a summary has quantiles and a window",
                at("quantiles")
            ));
        }
        let quantiles = if summary && m.quantiles.is_empty() {
            DEFAULT_QUANTILES.to_vec()
        } else {
            m.quantiles
        };
        if quantiles.iter().any(|q| !(0.0..=1.0).contains(q)) {
            return Err(format!("{}: each must be between 0 and 1", at("quantiles")));
        }
        let window = m.window.unwrap_or(DEFAULT_WINDOW);
        if window == 0 || window > 1_000_000 {
            return Err(format!("{}: must be between 1 and 1000000", at("window")));
        }
        Ok(Metric {
            name,
            help: m.help,
            kind,
            scale,
            labels: m.label_captures,
            buckets,
            quantiles,
            window,
            value: m.value,
        })
    }
}

impl Rules {
    pub fn new(opts: Options) -> Result<Rules, String> {
        let fingerprint = format!("{opts:?}");
        if opts.rule.is_empty() {
            return Err("log format needs at least one [[log.rule]]".into());
        }
        if opts.metric.is_empty() {
            return Err("log format needs at least one [[log.metric]]".into());
        }
        let metrics = (opts.metric.into_iter().enumerate())
            .map(|(i, m)| Metric::new(i, m))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rules = Vec::new();
        for (i, r) in opts.rule.into_iter().enumerate() {
            let regex =
                Regex::new(&r.pattern).map_err(|e| format!("log.rule[{i}].pattern: {e}"))?;
            let index = |name: &str| regex.capture_names().position(|n| n == Some(name));
            let uses = if r.drop {
                Vec::new()
            } else {
                (metrics.iter().enumerate())
                    .filter_map(|(m, metric)| {
                        let value = match &metric.value {
                            Some(v) => Some(index(v)?),
                            None => None,
                        };
                        let labels = metric
                            .labels
                            .iter()
                            .map(|l| index(l))
                            .collect::<Option<_>>()?;
                        Some(Use {
                            metric: m,
                            value,
                            labels,
                        })
                    })
                    .collect()
            };
            rules.push(Rule {
                regex,
                drop: r.drop,
                uses,
            });
        }
        // A metric no rule can feed is a mistake in the recipe, not a quiet zero.
        for (m, metric) in metrics.iter().enumerate() {
            if !rules.iter().any(|r| r.uses.iter().any(|u| u.metric == m)) {
                return Err(format!(
                    "log.metric[{m}]: no [[log.rule]] pattern has all of its captures ({})",
                    metric
                        .value
                        .iter()
                        .chain(&metric.labels)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(Rules {
            rules,
            metrics,
            fingerprint,
        })
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A fresh accumulator for these rules.
    pub fn accumulator(&self) -> Accumulator {
        Accumulator::new(&self.metrics)
    }

    /// Feeds every complete line of `text` (a last line without its newline too: the
    /// caller hands over complete lines only). `max_series` bounds the samples all metrics
    /// put on the page together (a histogram's series is its buckets, sum and count); past
    /// it, new label sets are dropped (counted), known ones still count.
    pub fn feed(&self, text: &str, acc: &mut Accumulator, max_series: usize, fed: &mut Fed) {
        let mut locs: Vec<CaptureLocations> = self
            .rules
            .iter()
            .map(|r| r.regex.capture_locations())
            .collect();
        let mut key = Vec::new();
        for (n, line) in numbered_lines(text) {
            fed.lines += 1;
            let found = self
                .rules
                .iter()
                .zip(locs.iter_mut())
                .find_map(|(r, l)| r.regex.captures_read(l, line).map(|_| (r, &*l)));
            let Some((rule, locs)) = found else {
                if !line.trim().is_empty() {
                    fed.unmatched
                        .add(n, || format!("no rule matches {}", excerpt(line)));
                }
                continue;
            };
            if rule.drop {
                continue;
            }
            let text_of = |i: usize| locs.get(i).and_then(|(s, e)| line.get(s..e));
            for u in &rule.uses {
                let Some(metric) = self.metrics.get(u.metric) else {
                    continue;
                };
                let value = match u.value {
                    None => 1.0,
                    Some(i) => match text_of(i) {
                        // An optional group that did not take part, or a log's "-" for
                        // "none" (Apache's %b for no body, nginx's upstream time without
                        // an upstream): nothing to add for this line.
                        None | Some("-" | "") => continue,
                        Some(t) => match number::parse(t) {
                            Some(v) if v.is_finite() => v * metric.scale,
                            _ => {
                                fed.issue(n, || {
                                    format!("{}: {} is not a number", metric.name, excerpt(t))
                                });
                                continue;
                            }
                        },
                    },
                };
                if matches!(metric.kind, Kind::Counter | Kind::Untyped) && value < 0.0 {
                    fed.issue(n, || {
                        format!("{}: a counter cannot add {value}", metric.name)
                    });
                    continue;
                }
                key.clear();
                for (&i, name) in u.labels.iter().zip(&metric.labels) {
                    let text = text_of(i).unwrap_or("");
                    // A megabyte method would be a megabyte on every page from now on.
                    let value = match crate::family::bounds::cut_label_value(text) {
                        Some(short) => {
                            fed.issue(n, || {
                                format!(
                                    "{}: label {name}: a value of {} bytes cut to {}",
                                    metric.name,
                                    text.len(),
                                    crate::family::bounds::LABEL_VALUE_MAX
                                )
                            });
                            short
                        }
                        None => text,
                    };
                    state::push_label(&mut key, value);
                }
                if !acc.add(u.metric, metric, &key, value, max_series) {
                    fed.dropped += 1;
                }
            }
        }
    }
}

impl Rules {
    /// A whole saved log, counted from nothing: what `metrics-adapter parse` and the golden
    /// tests show. `max_series` caps label sets as a source's `max_series` does.
    pub fn parse_whole(&self, text: &str, max_series: usize) -> crate::parse::Parsed {
        let mut acc = self.accumulator();
        let mut fed = Fed::default();
        self.feed(text, &mut acc, max_series, &mut fed);
        let mut issues = fed.first_issues;
        if fed.dropped > 0 {
            issues.push(Issue::new(
                0,
                format!(
                    "{} value(s) of new series dropped: more than max_series ({max_series})",
                    fed.dropped
                ),
            ));
        }
        crate::parse::Parsed {
            families: acc.families(&self.metrics),
            issues,
            unmatched: fed.unmatched,
        }
    }
}
