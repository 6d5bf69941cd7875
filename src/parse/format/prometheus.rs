//! `prometheus`: an app that already speaks the Prometheus text format (0.0.4, or
//! OpenMetrics, whose `# EOF`, `# UNIT` and `_created` lines are skipped), passed through
//! so the mapping can include, exclude, rename and relabel.
//!
//! Sample timestamps are dropped: the page is the adapter's, read at scrape time. A
//! counter whose samples do not end in `_total` (an old-style page) passes through
//! untyped, so its name does not change. A histogram or summary stays whole: its series
//! are records keyed by the family's name, each with its suffix (`_bucket`, `_sum`,
//! `_count`), so a rule renames or relabels all of it at once.

use crate::parse::RecipeError;
use std::collections::HashMap;

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1};
use nom::character::complete::{char, none_of, space0, space1};
use nom::combinator::{map, opt, value};
use nom::multi::{fold_many0, separated_list0};
use nom::sequence::delimited;
use nom::{IResult, Parser};
use serde::Deserialize;

use crate::family::{Labels, MetricKind, Suffix};
use crate::parse::{number, numbered_lines, Issue, ParseError, Record, RecordSink};
use crate::text::excerpt;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {}

#[derive(Debug)]
pub struct Prometheus {}

fn name(input: &str) -> IResult<&str, &str> {
    let (rest, n) =
        take_while1(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':').parse(input)?;
    if n.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::Alpha,
        )));
    }
    Ok((rest, n))
}

fn quoted(input: &str) -> IResult<&str, String> {
    delimited(
        char('"'),
        fold_many0(
            alt((
                value('\\', tag("\\\\")),
                value('"', tag("\\\"")),
                value('\n', tag("\\n")),
                none_of("\"\\"),
            )),
            String::new,
            |mut s, c| {
                s.push(c);
                s
            },
        ),
        char('"'),
    )
    .parse(input)
}

fn label(input: &str) -> IResult<&str, (String, String)> {
    map(
        (space0, name, space0, char('='), space0, quoted, space0),
        |(_, k, _, _, _, v, _)| (k.to_string(), v),
    )
    .parse(input)
}

fn labels(input: &str) -> IResult<&str, Vec<(String, String)>> {
    delimited(
        char('{'),
        (separated_list0(char(','), label), opt(char(',')), space0),
        char('}'),
    )
    .map(|(l, _, _)| l)
    .parse(input)
}

/// `name{labels} value [timestamp]`.
/// A sample line: name, labels, raw value.
type Sample<'a> = (&'a str, Labels, &'a str);

fn sample(input: &str) -> IResult<&str, Sample<'_>> {
    let (rest, (n, l, _, v, _, _, _)) = (
        name,
        opt(labels),
        space1,
        take_while1(|c: char| !c.is_whitespace()),
        space0,
        opt(take_while1(|c: char| {
            c.is_ascii_digit() || c == '.' || c == '-'
        })),
        space0,
    )
        .parse(input)?;
    Ok((rest, (n, l.unwrap_or_default(), v)))
}

fn unescape_help(s: &str) -> String {
    s.replace("\\n", "\n").replace("\\\\", "\\")
}

const SUFFIXES: &[&str] = &[
    "_total", "_bucket", "_sum", "_count", "_created", "_info", "_gcount", "_gsum",
];

impl Prometheus {
    pub fn new(_opts: Options) -> Result<Self, RecipeError> {
        Ok(Prometheus {})
    }

    pub fn records<'a>(
        &self,
        text: &'a str,
        records: &mut dyn RecordSink<'a>,
        issues: &mut Vec<Issue>,
    ) -> Result<(), ParseError> {
        let mut types: HashMap<String, String> = HashMap::new();
        let mut helps: HashMap<String, String> = HashMap::new();
        for (n, line) in numbered_lines(text) {
            let line = line.trim_start();
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                let comment = comment.trim_start();
                if comment == "EOF" {
                    break;
                }
                let mut parts = comment.splitn(3, ' ');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some("TYPE"), Some(metric), Some(kind)) => {
                        types.insert(metric.to_string(), kind.trim().to_string());
                    }
                    (Some("HELP"), Some(metric), help) => {
                        helps.insert(
                            metric.to_string(),
                            unescape_help(help.unwrap_or("").trim_end()),
                        );
                    }
                    _ => {}
                }
                continue;
            }
            let Ok((rest, (metric, labels, raw))) = sample(line) else {
                issues.push(Issue::new(
                    n,
                    format!("not a sample line: {}", excerpt(line)),
                ));
                continue;
            };
            if !rest.is_empty() {
                issues.push(Issue::new(
                    n,
                    format!("trailing text after the value: {}", excerpt(line)),
                ));
                continue;
            }
            // The family a sample belongs to: its own name, or its name less a suffix.
            let family = if types.contains_key(metric) {
                metric
            } else {
                SUFFIXES
                    .iter()
                    .filter_map(|s| metric.strip_suffix(s))
                    .find(|base| types.contains_key(*base))
                    .unwrap_or(metric)
            };
            let declared = types.get(family).map(String::as_str).unwrap_or("untyped");
            if declared != "gauge" && metric.ends_with("_created") && metric != family {
                continue;
            }
            // A histogram's or summary's series stay one family: keyed by its name, each
            // with its suffix.
            let part = metric
                .strip_prefix(family)
                .and_then(|rest| match (declared, rest) {
                    ("histogram", "_bucket") => Some((MetricKind::Histogram, Suffix::Bucket)),
                    ("summary", "") => Some((MetricKind::Summary, Suffix::None)),
                    ("histogram" | "summary", "_sum") => {
                        Some((MetricKind::parse(declared)?, Suffix::Sum))
                    }
                    ("histogram" | "summary", "_count") => {
                        Some((MetricKind::parse(declared)?, Suffix::Count))
                    }
                    _ => None,
                });
            let kind = match (declared, part) {
                (_, Some((kind, _))) => kind,
                ("counter", _) if metric.ends_with("_total") => MetricKind::Counter,
                ("gauge", _) => MetricKind::Gauge,
                ("info" | "stateset", _) => MetricKind::Gauge,
                _ => MetricKind::Untyped,
            };
            let (key, suffix) = match part {
                Some((_, suffix)) => (family, suffix),
                None => (metric, Suffix::None),
            };
            if number::parse(raw).is_none() {
                issues.push(Issue::new(
                    n,
                    format!("{metric}: value {raw:?} is not a number"),
                ));
                continue;
            }
            // A quantile or bucket bound that is no number (or a quantile outside [0, 1],
            // redis_exporter's `quantile="99"`) would make a page OpenMetrics refuses.
            if let Some(why) = bad_bound(kind, suffix, &labels) {
                issues.push(Issue::new(n, format!("{metric}: {why}")));
                continue;
            }
            records.push(Record {
                key: key.into(),
                suffix,
                labels: labels.into(),
                value: raw.into(),
                kind: Some(kind),
                help: helps.get(family).cloned(),
                line: n,
                ..Record::default()
            });
        }
        Ok(())
    }
}

/// Why a summary's quantile or a histogram's bucket bound cannot stand, if it cannot.
fn bad_bound(kind: MetricKind, suffix: Suffix, labels: &Labels) -> Option<String> {
    let name = match (kind, suffix) {
        (MetricKind::Summary, Suffix::None) => "quantile",
        (MetricKind::Histogram, Suffix::Bucket) => "le",
        _ => return None,
    };
    let Some((_, text)) = labels.iter().find(|(l, _)| l == name) else {
        return Some(format!("no {name} label"));
    };
    match (name, number::parse(text)) {
        ("quantile", Some(q)) if (0.0..=1.0).contains(&q) => None,
        ("quantile", Some(_)) => Some(format!("quantile {text:?} is not between 0 and 1")),
        ("le", Some(_)) => None,
        ("le", None) if matches!(text.as_str(), "+Inf" | "Inf" | "inf" | "+inf") => None,
        _ => Some(format!("{name} {text:?} is not a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Series OpenMetrics refuses are skipped and told, the rest of the family kept.
    #[test]
    fn quantiles_and_bounds_that_cannot_stand_are_skipped() {
        let (r, i) = run(concat!(
            "# TYPE x summary\n",
            "x{quantile=\"99\"} 1\nx{quantile=\"0.5\"} 2\nx{quantile=\"p\"} 2\nx_sum 3\nx_count 4\n",
            "# TYPE h histogram\n",
            "h_bucket{le=\"0.1\"} 1\nh_bucket{le=\"x\"} 1\nh_bucket 1\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n",
        ));
        let kept: Vec<_> = r
            .iter()
            .map(|r| (r.key.as_ref(), r.suffix, r.value.as_ref()))
            .collect();
        assert_eq!(
            kept,
            [
                ("x", Suffix::None, "2"),
                ("x", Suffix::Sum, "3"),
                ("x", Suffix::Count, "4"),
                ("h", Suffix::Bucket, "1"),
                ("h", Suffix::Bucket, "2"),
                ("h", Suffix::Count, "2"),
            ]
        );
        let told: Vec<_> = i.iter().map(|i| i.message.as_str()).collect();
        assert_eq!(
            told,
            [
                "x: quantile \"99\" is not between 0 and 1",
                "x: quantile \"p\" is not a number",
                "h_bucket: le \"x\" is not a number",
                "h_bucket: no le label",
            ]
        );
    }

    fn run(text: &str) -> (Vec<Record<'_>>, Vec<Issue>) {
        let (mut r, mut i) = (Vec::new(), Vec::new());
        Prometheus::new(Options::default())
            .unwrap()
            .records(text, &mut r, &mut i)
            .unwrap();
        (r, i)
    }

    #[test]
    fn samples_labels_escapes_and_types() {
        let (r, i) = run(concat!(
            "# HELP http_requests_total Requests.\\nServed.\n",
            "# TYPE http_requests_total counter\n",
            "http_requests_total{code=\"200\",path=\"a\\\"b\\\\c\\nd\",} 1027 1395066363000\n",
            "# TYPE temp gauge\n",
            "temp -3.5\n",
            "plain +Inf\n",
            "bad line here\n",
            "worse{x=\"1\"} abc\n",
        ));
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].key, "http_requests_total");
        assert_eq!(r[0].kind, Some(MetricKind::Counter));
        assert_eq!(r[0].help.as_deref(), Some("Requests.\nServed."));
        assert_eq!(
            r[0].labels[1],
            ("path".to_string(), "a\"b\\c\nd".to_string())
        );
        assert_eq!(r[0].value, "1027");
        assert_eq!(
            (r[1].kind, r[1].value.as_ref()),
            (Some(MetricKind::Gauge), "-3.5")
        );
        assert_eq!(r[2].kind, Some(MetricKind::Untyped));
        assert_eq!(i.iter().map(|i| i.line).collect::<Vec<_>>(), [7, 8]);
    }

    #[test]
    fn openmetrics_counters_and_old_style_counters() {
        let (r, _) = run(
            "# TYPE a counter\na_total 1\na_created 123\n# TYPE b counter\nb 2\n# EOF\nafter 1\n",
        );
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].key.as_ref(), r[0].kind),
            ("a_total", Some(MetricKind::Counter))
        );
        assert_eq!(
            (r[1].key.as_ref(), r[1].kind),
            ("b", Some(MetricKind::Untyped))
        );
    }

    #[test]
    fn php_fpm_openmetrics_page() {
        let (r, i) = run(include_str!(
            "../../../tests/fixtures/samples/php-fpm/status.openmetrics"
        ));
        assert!(i.is_empty(), "{i:?}");
        let acc = r
            .iter()
            .find(|r| r.key == "phpfpm_accepted_connections")
            .unwrap();
        assert_eq!(acc.kind, Some(MetricKind::Untyped));
        assert!(r.iter().any(|r| r.key == "phpfpm_idle_processes"));
    }

    /// A histogram and a summary stay whole: their series are records keyed by the
    /// family, each with its suffix; a gauge histogram still passes through untyped.
    #[test]
    fn histograms_and_summaries_stay_whole() {
        let (r, i) = run(concat!(
            "# TYPE req histogram\n",
            "req_bucket{le=\"0.1\"} 1\n",
            "req_bucket{le=\"+Inf\"} 3\n",
            "req_sum 0.5\n",
            "req_count 3\n",
            "req_created 1.7e9\n",
            "# TYPE rpc summary\n",
            "rpc{quantile=\"0.5\"} 0.2\n",
            "rpc_sum 9\n",
            "rpc_count 30\n",
            "# TYPE g gaugehistogram\n",
            "g_bucket{le=\"+Inf\"} 1\n",
        ));
        assert!(i.is_empty(), "{i:?}");
        let got: Vec<_> = r
            .iter()
            .map(|r| (r.key.as_ref(), r.suffix, r.kind))
            .collect();
        use MetricKind::{Histogram, Summary, Untyped};
        assert_eq!(
            got,
            [
                ("req", Suffix::Bucket, Some(Histogram)),
                ("req", Suffix::Bucket, Some(Histogram)),
                ("req", Suffix::Sum, Some(Histogram)),
                ("req", Suffix::Count, Some(Histogram)),
                ("rpc", Suffix::None, Some(Summary)),
                ("rpc", Suffix::Sum, Some(Summary)),
                ("rpc", Suffix::Count, Some(Summary)),
                ("g_bucket", Suffix::None, Some(Untyped)),
            ]
        );
    }
}
