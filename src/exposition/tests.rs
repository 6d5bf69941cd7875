use super::*;
use crate::family::Family;

fn set(families: Vec<Family>) -> FamilySet {
    let mut s = FamilySet::new();
    let mut c = Vec::new();
    s.extend(families, &mut c);
    assert!(c.is_empty(), "{c:?}");
    s
}

fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    crate::family::labels(pairs)
}

fn sample_set() -> FamilySet {
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
    let got = encode(&sample_set(), WireFormat::Text);
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
    let got = encode(&sample_set(), WireFormat::OpenMetrics);
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
    let got = encode(&s, WireFormat::Text);
    assert!(got.contains("x{path=\"a\\\"b\\\\c\\nd\"} 1.0\n"), "{got}");
}

#[test]
fn special_values() {
    let s = set(vec![Family::new("x", MetricKind::Gauge, "h")
        .with_sample(l(&[("v", "nan")]), f64::NAN)
        .with_sample(l(&[("v", "inf")]), f64::INFINITY)
        .with_sample(l(&[("v", "ninf")]), f64::NEG_INFINITY)
        .with_sample(l(&[("v", "big")]), 1e300)]);
    let got = encode(&s, WireFormat::Text);
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
    let text = encode(&s, WireFormat::Text);
    assert!(text.contains("\nup_inf +Inf\n"), "{text}");
    assert!(text.contains("\ndown_inf{l=\"inf\"} -Inf\n"), "{text}");
    assert!(text.contains("\nn NaN\n"), "{text}");
    let om = encode(&s, WireFormat::OpenMetrics);
    assert!(om.contains("\nup_inf +Inf\n"), "{om}");
    assert!(om.contains("\ndown_inf{l=\"inf\"} -Inf\n"), "{om}");
    assert!(om.contains("\nc_total +Inf\n"), "{om}");
    assert!(om.contains("\nn NaN\n"), "{om}");
    for (page, format) in [(text, WireFormat::Text), (om, WireFormat::OpenMetrics)] {
        assert_eq!(check::check_page(&page, format), Ok(()), "{page}");
    }
}

fn histogram_and_summary_set() -> FamilySet {
    use crate::family::{le_label, Suffix};
    let route = |r: &str| l(&[("route", r)]);
    let bucket = |r: &str, le: f64| l(&[("route", r), ("le", &le_label(le))]);
    set(vec![
        Family::new("req_seconds", MetricKind::Histogram, "Request time.")
            .with_suffixed_sample(bucket("/", 0.1), Suffix::Bucket, 2.0)
            .with_suffixed_sample(bucket("/", 1.0), Suffix::Bucket, 3.0)
            .with_suffixed_sample(bucket("/", f64::INFINITY), Suffix::Bucket, 4.0)
            .with_suffixed_sample(route("/"), Suffix::Sum, 2.5)
            .with_suffixed_sample(route("/"), Suffix::Count, 4.0),
        Family::new("lat_usec", MetricKind::Summary, "Latency.")
            .with_sample(l(&[("quantile", "0.5")]), 12.0)
            .with_sample(l(&[("quantile", "0.99")]), 40.5)
            .with_suffixed_sample(vec![], Suffix::Sum, 900.0)
            .with_suffixed_sample(vec![], Suffix::Count, 30.0),
        Family::new("mode", MetricKind::StateSet, "Mode.")
            .with_sample(l(&[("mode", "warm")]), 1.0)
            .with_sample(l(&[("mode", "cold")]), 0.0),
    ])
}

#[test]
fn histogram_summary_and_stateset_exact_bytes_in_both_formats() {
    let body = "req_seconds_bucket{route=\"/\",le=\"0.1\"} 2.0\n\
                req_seconds_bucket{route=\"/\",le=\"1\"} 3.0\n\
                req_seconds_bucket{route=\"/\",le=\"+Inf\"} 4.0\n\
                req_seconds_sum{route=\"/\"} 2.5\n\
                req_seconds_count{route=\"/\"} 4.0\n\
                # HELP lat_usec Latency.\n\
                # TYPE lat_usec summary\n\
                lat_usec{quantile=\"0.5\"} 12.0\n\
                lat_usec{quantile=\"0.99\"} 40.5\n\
                lat_usec_sum 900.0\n\
                lat_usec_count 30.0\n\
                # HELP mode Mode.\n";
    let head = "# HELP req_seconds Request time.\n# TYPE req_seconds histogram\n";
    let tail = "mode{mode=\"warm\"} 1.0\nmode{mode=\"cold\"} 0.0\n";
    let s = histogram_and_summary_set();
    assert_eq!(
        encode(&s, WireFormat::Text),
        format!("{head}{body}# TYPE mode gauge\n{tail}")
    );
    assert_eq!(
        encode(&s, WireFormat::OpenMetrics),
        format!("{head}{body}# TYPE mode stateset\n{tail}# EOF\n")
    );
    for format in [WireFormat::Text, WireFormat::OpenMetrics] {
        assert_eq!(check::check_page(&encode(&s, format), format), Ok(()));
    }
}

#[test]
fn a_state_set_whose_label_is_not_its_name_stays_a_gauge() {
    let s = set(vec![Family::new("st", MetricKind::StateSet, "")
        .with_sample(l(&[("state", "UP")]), 1.0)
        .with_sample(l(&[("state", "DOWN")]), 0.0)]);
    let page = encode(&s, WireFormat::OpenMetrics);
    assert!(page.contains("# TYPE st gauge\n"), "{page}");
}

#[test]
fn le_labels_are_written_as_go_clients_write_them() {
    use crate::family::le_label;
    let cases = [
        (0.0, "0"),
        (0.005, "0.005"),
        (0.25, "0.25"),
        (1.0, "1"),
        (2.5, "2.5"),
        (10.0, "10"),
        (999999.0, "999999"),
        (1e6, "1e+06"),
        (1.5e7, "1.5e+07"),
        (0.00001, "1e-05"),
        (-3.0, "-3"),
        (f64::INFINITY, "+Inf"),
    ];
    for (bound, want) in cases {
        assert_eq!(le_label(bound), want, "{bound}");
    }
}

#[test]
fn series_names_of_a_summary_are_taken() {
    use crate::family::Suffix;
    let mut s = FamilySet::new();
    let mut c = Vec::new();
    s.push(
        Family::new("lat", MetricKind::Summary, "")
            .with_suffixed_sample(vec![], Suffix::Sum, 1.0)
            .with_suffixed_sample(vec![], Suffix::Count, 1.0),
        &mut c,
    );
    s.push(
        Family::new("lat_sum", MetricKind::Gauge, "").with_sample(vec![], 2.0),
        &mut c,
    );
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(s.get("lat_sum").is_none());
    // Same labels, other suffix: two series, not a duplicate.
    assert_eq!(s.series_count(), 2);
}

/// prometheus-client is the reference: for every kind it has, the page must be the bytes
/// its encoders write.
#[test]
fn pages_equal_prometheus_client_encoders_for_the_kinds_it_has() {
    let s = set(vec![
        Family::new("app_requests", MetricKind::Counter, "Requests \\ served.")
            .with_sample(l(&[("code", "200"), ("path", "a\"b\\c\nd")]), 1027.0)
            .with_sample(l(&[("code", "500")]), 0.0)
            .with_sample(vec![], f64::INFINITY),
        Family::new("app_temp", MetricKind::Gauge, "")
            .with_sample(vec![], -0.5)
            .with_sample(l(&[("x", "y")]), 1e300)
            .with_sample(l(&[("x", "n")]), f64::NAN)
            .with_sample(l(&[("x", "m")]), f64::NEG_INFINITY)
            .with_sample(l(&[("x", "z")]), 123456789.125),
        Family::new("app_version", MetricKind::Info, "Version.")
            .with_sample(l(&[("version", "1.2"), ("é", "ü")]), 1.0),
        Family::new("app_raw", MetricKind::Untyped, "Raw.").with_sample(vec![], 3.0),
    ]);
    for format in [WireFormat::Text, WireFormat::OpenMetrics] {
        assert_eq!(
            encode(&s, format),
            reference::encode(&s, format),
            "{format:?}"
        );
    }
}

/// The encoder this module replaced, kept as the reference: prometheus-client's registry
/// with one collector for the whole set.
mod reference {
    use prometheus_client::collector::Collector;
    use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
    use prometheus_client::metrics::MetricType;
    use prometheus_client::registry::Registry;

    use super::super::WireFormat;
    use crate::family::{FamilySet, MetricKind};

    #[derive(Debug)]
    struct Page(FamilySet, bool);

    impl Collector for Page {
        fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
            for family in self.0.families() {
                let metric_type = match family.kind {
                    MetricKind::Gauge => MetricType::Gauge,
                    MetricKind::Counter => MetricType::Counter,
                    MetricKind::Info => MetricType::Info,
                    MetricKind::Untyped => MetricType::Unknown,
                    // Not in 0.26 (state sets it writes as gauges, which we no longer do).
                    MetricKind::StateSet | MetricKind::Histogram | MetricKind::Summary => {
                        return Err(std::fmt::Error)
                    }
                };
                // Its OpenMetrics encoder writes help unescaped.
                let help = if self.1 {
                    family.help.replace('\\', "\\\\")
                } else {
                    family.help.clone()
                };
                let mut metric =
                    encoder.encode_descriptor(&family.name, &help, None, metric_type)?;
                for sample in &family.samples {
                    match family.kind {
                        MetricKind::Info => metric.encode_info(&&sample.labels[..])?,
                        MetricKind::Counter => {
                            metric
                                .encode_family(&&sample.labels[..])?
                                .encode_counter::<NoLabelSet, f64, f64>(&sample.value, None)?
                        }
                        _ => metric
                            .encode_family(&&sample.labels[..])?
                            .encode_gauge(&sample.value)?,
                    }
                }
            }
            Ok(())
        }
    }

    pub fn encode(set: &FamilySet, format: WireFormat) -> String {
        let om = format == WireFormat::OpenMetrics;
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Page(set.clone(), om)));
        let mut out = String::new();
        match format {
            WireFormat::Text => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
            }
            WireFormat::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &registry)
            }
        }
        .expect("encoding into a String");
        if om {
            // Its OpenMetrics encoder writes infinities as Rust prints them.
            out = out
                .replace(" inf\n", " +Inf\n")
                .replace(" -inf\n", " -Inf\n");
        }
        out
    }
}
