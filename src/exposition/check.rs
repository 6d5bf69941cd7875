//! A line-by-line well-formedness check of a page, independent of the encoder that wrote
//! it: used by the property tests and fuzz targets to catch a value or name that would make
//! Prometheus reject a scrape.

use std::sync::OnceLock;

use regex::Regex;

use super::WireFormat;

fn series_line() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let name = r"[a-zA-Z_:][a-zA-Z0-9_:]*";
        let label = r#"[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*""#;
        let value = r"[-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN)";
        Regex::new(&format!(r"^{name}(?:\{{{label}(?:,{label})*\}})? {value}$"))
            .expect("series line regex")
    })
}

fn meta_line() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^# (?:HELP [a-zA-Z_:][a-zA-Z0-9_:]* (?:[^\\\n]|\\[\\n])*|HELP [a-zA-Z_:][a-zA-Z0-9_:]*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (?:counter|gauge|untyped|unknown|info|stateset|histogram|summary)|UNIT [a-zA-Z_:][a-zA-Z0-9_:]* [a-zA-Z0-9_:]*)$",
        )
        .expect("meta line regex")
    })
}

/// `Ok` when every line of `page` is a HELP, TYPE or series line (and, for OpenMetrics, the
/// page ends with `# EOF`); otherwise the first bad line.
pub fn check_page(page: &str, format: WireFormat) -> Result<(), String> {
    let mut lines: Vec<&str> = page.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    } else if !page.is_empty() {
        return Err("the page does not end with a newline".into());
    }
    if format == WireFormat::OpenMetrics && lines.pop() != Some("# EOF") {
        return Err("an OpenMetrics page must end with # EOF".into());
    }
    for (i, line) in lines.iter().enumerate() {
        if !(series_line().is_match(line) || meta_line().is_match(line)) {
            return Err(format!("line {}: {line:?}", i + 1));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::exposition::encode;
    use crate::family::{Family, FamilySet, MetricKind};

    #[test]
    fn encoder_pages_pass_in_both_formats() {
        let mut set = FamilySet::new();
        let mut conflicts = Vec::new();
        set.push(
            Family::new("a", MetricKind::Counter, "help with \\ and\nnewline")
                .with_sample(vec![("l".into(), "q\"b\\s\nn".into())], f64::NAN),
            &mut conflicts,
        );
        set.push(
            Family::new("v", MetricKind::Info, "").with_sample(vec![("x".into(), "1".into())], 1.0),
            &mut conflicts,
        );
        for format in [WireFormat::Text, WireFormat::OpenMetrics] {
            let page = encode(&set, format);
            assert_eq!(check_page(&page, format), Ok(()), "{page}");
        }
    }

    #[test]
    fn malformed_lines_are_caught() {
        for bad in [
            "a{l=\"x\"} 1 2 3\n",
            "a{l=\"unterminated} 1\n",
            "a{l=\"raw\nnewline\"} 1\n",
            "9a 1\n",
            "a one\n",
            "a 1",
            "# TYPE a nonsense\n",
        ] {
            assert!(check_page(bad, WireFormat::Text).is_err(), "{bad:?}");
        }
        assert!(
            check_page("a 1\n", WireFormat::OpenMetrics).is_err(),
            "no # EOF"
        );
        assert_eq!(
            check_page("a_total 1\n# EOF\n", WireFormat::OpenMetrics),
            Ok(())
        );
    }
}
