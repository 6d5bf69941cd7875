use super::*;
use crate::family::Family;

fn set(families: Vec<Family>) -> Arc<FamilySet> {
    let mut s = FamilySet::new();
    let mut c = Vec::new();
    s.extend(families, &mut c);
    assert!(c.is_empty());
    Arc::new(s)
}

fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    crate::family::labels(pairs)
}

fn sample_set() -> Arc<FamilySet> {
    set(vec![
        Family::new("app_requests", MetricKind::Counter, "Requests served.")
            .with_sample(l(&[("code", "200")]), 1027.0),
        Family::new("app_temp", MetricKind::Gauge, "Temperature.").with_sample(vec![], -0.5),
        Family::new("app_version", MetricKind::Info, "Version.")
            .with_sample(l(&[("version", "1.2")]), 1.0),
        Family::new("app_raw", MetricKind::Untyped, "Raw.").with_sample(vec![], 3.0),
    ])
}

#[test]
fn text_format_exact_bytes() {
    let got = encode(sample_set(), WireFormat::Text);
    let want = "# HELP app_requests_total Requests served.\n\
                # TYPE app_requests_total counter\n\
                app_requests_total{code=\"200\"} 1027.0\n\
                # HELP app_temp Temperature.\n\
                # TYPE app_temp gauge\n\
                app_temp -0.5\n\
                # HELP app_version_info Version.\n\
                # TYPE app_version_info gauge\n\
                app_version_info{version=\"1.2\"} 1\n\
                # HELP app_raw Raw.\n\
                # TYPE app_raw untyped\n\
                app_raw 3.0\n";
    assert_eq!(got, want);
}

#[test]
fn openmetrics_exact_bytes() {
    let got = encode(sample_set(), WireFormat::OpenMetrics);
    let want = "# HELP app_requests Requests served.\n\
                # TYPE app_requests counter\n\
                app_requests_total{code=\"200\"} 1027.0\n\
                # HELP app_temp Temperature.\n\
                # TYPE app_temp gauge\n\
                app_temp -0.5\n\
                # HELP app_version Version.\n\
                # TYPE app_version info\n\
                app_version_info{version=\"1.2\"} 1\n\
                # HELP app_raw Raw.\n\
                # TYPE app_raw unknown\n\
                app_raw 3.0\n\
                # EOF\n";
    assert_eq!(got, want);
}

#[test]
fn label_values_are_escaped() {
    let s = set(vec![
        Family::new("x", MetricKind::Gauge, "h").with_sample(l(&[("path", "a\"b\\c\nd")]), 1.0)
    ]);
    let got = encode(s, WireFormat::Text);
    assert!(got.contains("x{path=\"a\\\"b\\\\c\\nd\"} 1.0\n"), "{got}");
}

#[test]
fn special_values() {
    let s = set(vec![Family::new("x", MetricKind::Gauge, "h")
        .with_sample(l(&[("v", "nan")]), f64::NAN)
        .with_sample(l(&[("v", "inf")]), f64::INFINITY)
        .with_sample(l(&[("v", "ninf")]), f64::NEG_INFINITY)
        .with_sample(l(&[("v", "big")]), 1e300)]);
    let got = encode(s, WireFormat::Text);
    assert!(got.contains("x{v=\"nan\"} NaN\n"), "{got}");
    assert!(got.contains("x{v=\"inf\"} +Inf\n"), "{got}");
    assert!(got.contains("x{v=\"ninf\"} -Inf\n"), "{got}");
    assert!(got.contains("x{v=\"big\"} 1e300\n"), "{got}");
}

#[test]
fn negotiation() {
    assert_eq!(WireFormat::negotiate(None), WireFormat::Text);
    assert_eq!(WireFormat::negotiate(Some("*/*")), WireFormat::Text);
    let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    assert_eq!(WireFormat::negotiate(Some(prom)), WireFormat::OpenMetrics);
    assert_eq!(
        WireFormat::negotiate(Some("application/openmetrics-text; q=0")),
        WireFormat::Text
    );
}

#[test]
fn infinities_and_nan_are_written_as_both_formats_require() {
    let s = set(vec![
        Family::new("up_inf", MetricKind::Gauge, "").with_sample(vec![], f64::INFINITY),
        Family::new("down_inf", MetricKind::Gauge, "")
            .with_sample(l(&[("l", "inf")]), f64::NEG_INFINITY),
        Family::new("c", MetricKind::Counter, "").with_sample(vec![], f64::INFINITY),
        Family::new("n", MetricKind::Gauge, "").with_sample(vec![], f64::NAN),
    ]);
    let text = encode(s.clone(), WireFormat::Text);
    assert!(text.contains("\nup_inf +Inf\n"), "{text}");
    assert!(text.contains("\ndown_inf{l=\"inf\"} -Inf\n"), "{text}");
    assert!(text.contains("\nn NaN\n"), "{text}");
    let om = encode(s, WireFormat::OpenMetrics);
    assert!(om.contains("\nup_inf +Inf\n"), "{om}");
    assert!(om.contains("\ndown_inf{l=\"inf\"} -Inf\n"), "{om}");
    assert!(om.contains("\nc_total +Inf\n"), "{om}");
    assert!(om.contains("\nn NaN\n"), "{om}");
    for (page, format) in [(text, WireFormat::Text), (om, WireFormat::OpenMetrics)] {
        assert_eq!(check::check_page(&page, format), Ok(()), "{page}");
    }
}
