//! The typed kinds of the mapping: summaries and histograms assembled from their parts.

use super::*;

fn mapping(toml_text: &str) -> Mapping {
    Mapping::new(toml::from_str(toml_text).unwrap()).unwrap()
}

fn rec<'a>(key: &'a str, value: &'a str) -> Record<'a> {
    Record::new(key, value)
}

/// A summary from keys and captures: quantiles from a `percentile` capture, a `quantile`
/// capture or the rule's own `quantile`; `_sum` and `_count` from other keys, joined by
/// name and labels; written per label set in order whatever order the records came in.
#[test]
fn summaries_from_keys_and_captures() {
    let m = mapping(
        r#"
        [[metric]]
        match = 'lat_(?P<op>[a-z]+)\.p(?P<percentile>[0-9.]+)'
        name = "latency_seconds"
        type = "summary"
        scale = 0.001
        help = "Latency."
        [[metric]]
        match = 'lat_(?P<op>[a-z]+)\.total_ms'
        name = "latency_seconds"
        type = "summary"
        part = "sum"
        scale = 0.001
        [[metric]]
        match = 'lat_(?P<op>[a-z]+)\.n'
        name = "latency_seconds"
        type = "summary"
        part = "count"
        [[metric]]
        key = "size_median"
        name = "size"
        type = "summary"
        quantile = 0.5
        [[metric]]
        match = 'size_q(?P<quantile>[0-9.]+)'
        name = "size"
        type = "summary"
        [[metric]]
        match = 'orphan\.n'
        name = "orphan"
        type = "summary"
        part = "count"
        "#,
    );
    let mut issues = Vec::new();
    let f = m.apply(
        vec![
            rec("lat_get.n", "10"),
            rec("lat_get.p99.9", "30"),
            rec("lat_get.p50", "2"),
            rec("lat_get.total_ms", "100"),
            rec("lat_put.p50", "4"),
            rec("size_q0.9", "70"),
            rec("size_median", "40"),
            rec("size_q2", "1"),
            rec("orphan.n", "3"),
        ],
        &mut issues,
        &mut Unmatched::default(),
    );
    assert_eq!(
        issues.iter().map(|i| i.message.as_str()).collect::<Vec<_>>(),
        ["size_q2: quantile \"2\" is not between 0 and 1 (a percentile? name the capture `percentile`)"]
    );
    let page: Vec<String> = f
        .iter()
        .flat_map(|f| {
            f.samples
                .iter()
                .map(move |s| format!("{}{}{:?} {}", f.name, s.suffix.as_str(), s.labels, s.value))
        })
        .collect();
    assert_eq!(f[0].kind, MetricKind::Summary);
    assert_eq!(
        page,
        [
            r#"latency_seconds[("op", "get"), ("quantile", "0.5")] 0.002"#,
            r#"latency_seconds[("op", "get"), ("quantile", "0.999")] 0.03"#,
            r#"latency_seconds_sum[("op", "get")] 0.1"#,
            r#"latency_seconds_count[("op", "get")] 10"#,
            r#"latency_seconds[("op", "put"), ("quantile", "0.5")] 0.004"#,
            r#"size[("quantile", "0.5")] 40"#,
            r#"size[("quantile", "0.9")] 70"#,
        ]
    );
    // A label set with a count and no quantile is not written.
    assert!(f[2].samples.is_empty());
}

/// A histogram from `le`-style keys: buckets sorted, `+Inf` from the count when missing,
/// the count from `+Inf` when missing; buckets that go down are refused.
#[test]
fn histograms_from_le_keys() {
    let m = mapping(
        r#"
        [[metric]]
        match = '(?P<q>[a-z]+)_wait_le_(?P<le>[0-9.]+|inf)'
        name = "wait_seconds"
        type = "histogram"
        [[metric]]
        match = '(?P<q>[a-z]+)_wait_count'
        name = "wait_seconds"
        type = "histogram"
        part = "count"
        [[metric]]
        match = '(?P<q>[a-z]+)_wait_sum'
        name = "wait_seconds"
        type = "histogram"
        part = "sum"
        [[metric]]
        key = "small"
        name = "size"
        type = "histogram"
        le = 10.0
        [[metric]]
        key = "all"
        name = "size"
        type = "histogram"
        le = inf
        "#,
    );
    let mut issues = Vec::new();
    let f = m.apply(
        vec![
            rec("mail_wait_le_1", "5"),
            rec("mail_wait_le_0.5", "2"),
            rec("mail_wait_count", "9"),
            rec("mail_wait_sum", "7.5"),
            rec("sms_wait_le_inf", "4"),
            rec("sms_wait_le_1", "3"),
            rec("bad_wait_le_1", "5"),
            rec("bad_wait_le_2", "4"),
            rec("all", "8"),
            rec("small", "6"),
        ],
        &mut issues,
        &mut Unmatched::default(),
    );
    assert_eq!(
        issues.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        ["histogram wait_seconds{q=\"bad\"}: bucket counts go down, they must be cumulative; not written"]
    );
    let page: Vec<String> = f
        .iter()
        .flat_map(|f| {
            f.samples
                .iter()
                .map(move |s| format!("{}{}{:?} {}", f.name, s.suffix.as_str(), s.labels, s.value))
        })
        .collect();
    assert_eq!(f[0].kind, MetricKind::Histogram);
    assert_eq!(
        page,
        [
            r#"wait_seconds_bucket[("q", "mail"), ("le", "0.5")] 2"#,
            r#"wait_seconds_bucket[("q", "mail"), ("le", "1")] 5"#,
            r#"wait_seconds_bucket[("q", "mail"), ("le", "+Inf")] 9"#,
            r#"wait_seconds_sum[("q", "mail")] 7.5"#,
            r#"wait_seconds_count[("q", "mail")] 9"#,
            r#"wait_seconds_bucket[("q", "sms"), ("le", "1")] 3"#,
            r#"wait_seconds_bucket[("q", "sms"), ("le", "+Inf")] 4"#,
            r#"wait_seconds_count[("q", "sms")] 4"#,
            r#"size_bucket[("le", "10")] 6"#,
            r#"size_bucket[("le", "+Inf")] 8"#,
            r#"size_count[] 8"#,
        ]
    );
    let err = |rule: &str| {
        Mapping::new(toml::from_str(&format!("[[metric]]\nkey = 'a'\n{rule}")).unwrap())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("type = 'histogram'\n"),
        "mapping.metric[0]: a histogram's buckets need `le`, or a `match` capture named `le`"
    );
    assert_eq!(
        err("type = 'summary'\nle = 1.0\n"),
        "mapping.metric[0]: `le` does not apply to type \"summary\""
    );
    assert_eq!(
        err("type = 'summary'\npart = 'sum'\nquantile = 0.5\n"),
        "mapping.metric[0]: `quantile` does not apply to part \"sum\""
    );
    assert_eq!(
        err("type = 'histogram'\npart = 'quantile'\n"),
        "mapping.metric[0]: part \"quantile\" does not apply to type \"histogram\""
    );
    assert_eq!(
        err("type = 'gauge'\npart = 'sum'\n"),
        "mapping.metric[0]: `part` does not apply to type \"gauge\""
    );
}
