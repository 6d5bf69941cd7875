//! Each action as Prometheus' configuration docs describe it (`<relabel_config>`), the
//! issue's cardinality examples, and the config checks.

use super::*;
use crate::family::{Family, MetricKind, Sample, Suffix};

fn rules(toml_text: &str) -> Relabel {
    #[derive(Deserialize)]
    struct File {
        relabel: Vec<RawRule>,
    }
    let f: File = toml::from_str(toml_text).unwrap();
    Relabel::new(&f.relabel).unwrap()
}

fn error(toml_text: &str) -> RuleError {
    #[derive(Deserialize)]
    struct File {
        relabel: Vec<RawRule>,
    }
    let f: File = toml::from_str(toml_text).unwrap();
    Relabel::new(&f.relabel).unwrap_err()
}

fn l(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn gauge(r: &Relabel, name: &str, labels: &[(&str, &str)]) -> Outcome {
    r.series(name, MetricKind::Gauge, &l(labels))
}

fn kept(name: &str, labels: &[(&str, &str)]) -> Outcome {
    Outcome::Series(name.into(), l(labels))
}

#[test]
fn replace_sets_target_label_from_the_groups_of_the_anchored_regex() {
    // The docs: match regex against the concatenated source_labels, set target_label to
    // replacement with ${1}, ${2} substituted; no match, no replacement.
    let r = rules(
        r#"[[relabel]]
source_labels = ["a", "b"]
regex = "(.+);(.+)"
target_label = "ab"
replacement = "${1}-${2}"
"#,
    );
    assert_eq!(
        gauge(&r, "m", &[("a", "x"), ("b", "y")]),
        kept("m", &[("a", "x"), ("b", "y"), ("ab", "x-y")])
    );
    // `b` empty: `(.+);(.+)` does not match `x;`.
    assert_eq!(gauge(&r, "m", &[("a", "x")]), kept("m", &[("a", "x")]));
}

#[test]
fn the_regex_is_anchored_on_both_ends() {
    let r = rules(
        r#"[[relabel]]
source_labels = ["code"]
regex = "2"
target_label = "class"
replacement = "two"
"#,
    );
    assert_eq!(
        gauge(&r, "m", &[("code", "200")]),
        kept("m", &[("code", "200")])
    );
    assert_eq!(
        gauge(&r, "m", &[("code", "2")]),
        kept("m", &[("code", "2"), ("class", "two")])
    );
}

#[test]
fn the_issue_examples_bound_cardinality() {
    let r = rules(
        r#"[[relabel]]
source_labels = ["path"]
regex = "/users/[0-9]+"
target_label = "path"
replacement = "/users/:id"

[[relabel]]
source_labels = ["status"]
regex = "([1-5])[0-9][0-9]"
target_label = "status"
replacement = "${1}xx"
"#,
    );
    assert_eq!(
        gauge(&r, "m", &[("path", "/users/123"), ("status", "200")]),
        kept("m", &[("path", "/users/:id"), ("status", "2xx")])
    );
    assert_eq!(
        gauge(&r, "m", &[("path", "/users/me"), ("status", "404")]),
        kept("m", &[("path", "/users/me"), ("status", "4xx")])
    );
}

#[test]
fn an_empty_replacement_removes_the_label() {
    // The gist's "remove a label": replacement '' on target host.
    let r = rules(
        r#"[[relabel]]
source_labels = ["host"]
target_label = "host"
replacement = ""
"#,
    );
    assert_eq!(
        gauge(&r, "m", &[("host", "a"), ("x", "1")]),
        kept("m", &[("x", "1")])
    );
}

#[test]
fn a_fixed_label_is_added_without_source_labels() {
    let r = rules(
        r#"[[relabel]]
target_label = "team"
replacement = "web"
"#,
    );
    assert_eq!(gauge(&r, "m", &[]), kept("m", &[("team", "web")]));
}

#[test]
fn keep_and_drop_match_the_concatenated_source_labels() {
    // The docs' metric_relabel_configs use: drop series too expensive to ingest.
    let drop = rules(
        r#"[[relabel]]
source_labels = ["__name__"]
regex = "(container_tasks_state|container_memory_failures_total)"
action = "drop"
"#,
    );
    assert_eq!(gauge(&drop, "container_tasks_state", &[]), Outcome::Drop);
    assert_eq!(
        drop.series("container_memory_failures", MetricKind::Counter, &[]),
        Outcome::Drop
    );
    assert_eq!(
        gauge(&drop, "container_cpu", &[]),
        kept("container_cpu", &[])
    );
    let keep = rules(
        r#"[[relabel]]
source_labels = ["method", "code"]
separator = "/"
regex = "GET/2.."
action = "keep"
"#,
    );
    assert_eq!(
        gauge(&keep, "m", &[("method", "GET"), ("code", "200")]),
        kept("m", &[("method", "GET"), ("code", "200")])
    );
    assert_eq!(
        gauge(&keep, "m", &[("method", "POST"), ("code", "200")]),
        Outcome::Drop
    );
}

#[test]
fn keepequal_and_dropequal_compare_with_the_target_label() {
    let keep = rules(
        r#"[[relabel]]
source_labels = ["a"]
target_label = "b"
action = "keepequal"
"#,
    );
    assert_eq!(
        gauge(&keep, "m", &[("a", "1"), ("b", "1")]),
        kept("m", &[("a", "1"), ("b", "1")])
    );
    assert_eq!(gauge(&keep, "m", &[("a", "1"), ("b", "2")]), Outcome::Drop);
    let drop = rules(
        r#"[[relabel]]
source_labels = ["a"]
target_label = "b"
action = "dropequal"
"#,
    );
    assert_eq!(gauge(&drop, "m", &[("a", "1"), ("b", "1")]), Outcome::Drop);
}

#[test]
fn lowercase_and_uppercase() {
    let r = rules(
        r#"[[relabel]]
source_labels = ["method"]
target_label = "method"
action = "lowercase"

[[relabel]]
source_labels = ["method"]
target_label = "upper"
action = "uppercase"
"#,
    );
    assert_eq!(
        gauge(&r, "m", &[("method", "Get")]),
        kept("m", &[("method", "get"), ("upper", "GET")])
    );
}

#[test]
fn labelmap_copies_matching_label_names_to_the_replacement() {
    // The docs: match regex against all label names, copy the values of the matching
    // labels to the names given by replacement.
    let r = rules(
        r#"[[relabel]]
regex = "app_(.+)"
replacement = "${1}"
action = "labelmap"
"#,
    );
    assert_eq!(
        gauge(&r, "m", &[("app_pool", "www"), ("x", "1")]),
        kept("m", &[("app_pool", "www"), ("x", "1"), ("pool", "www")])
    );
}

#[test]
fn labeldrop_and_labelkeep_match_label_names() {
    let drop = rules(
        r#"[[relabel]]
regex = "pid|start_.*"
action = "labeldrop"
"#,
    );
    assert_eq!(
        gauge(
            &drop,
            "m",
            &[("pid", "1"), ("start_time", "2"), ("pool", "www")]
        ),
        kept("m", &[("pool", "www")])
    );
    let keep = rules(
        r#"[[relabel]]
regex = "pool"
action = "labelkeep"
"#,
    );
    // The name is not a label to drop.
    assert_eq!(
        gauge(&keep, "m", &[("pid", "1"), ("pool", "www")]),
        kept("m", &[("pool", "www")])
    );
}

#[test]
fn name_renames_a_metric_and_a_counter_keeps_its_total() {
    // The gist's "rename selected metrics": telegraf_${1}.
    let r = rules(
        r#"[[relabel]]
source_labels = ["__name__"]
regex = "((?:go|http|process)_.*)"
target_label = "__name__"
replacement = "telegraf_${1}"
"#,
    );
    assert_eq!(
        gauge(&r, "go_goroutines", &[]),
        kept("telegraf_go_goroutines", &[])
    );
    assert_eq!(
        r.series("http_requests", MetricKind::Counter, &[]),
        kept("telegraf_http_requests", &[])
    );
    assert_eq!(gauge(&r, "node_load1", &[]), kept("node_load1", &[]));
}

#[test]
fn a_name_made_invalid_or_removed_drops_the_series() {
    let r = rules(
        r#"[[relabel]]
source_labels = ["x"]
target_label = "__name__"
"#,
    );
    assert_eq!(gauge(&r, "m", &[("x", "1bad")]), Outcome::Drop);
    // `x` empty: the name is removed.
    assert_eq!(gauge(&r, "m", &[]), Outcome::Drop);
    assert_eq!(
        gauge(&r, "m", &[("x", "good")]),
        kept("good", &[("x", "good")])
    );
}

#[test]
fn dunder_labels_carry_values_between_rules_and_are_removed_after() {
    let r = rules(
        r#"[[relabel]]
source_labels = ["path"]
regex = "/([a-z]+)/.*"
target_label = "__tmp_section"

[[relabel]]
source_labels = ["__tmp_section"]
target_label = "section"
"#,
    );
    assert_eq!(
        gauge(&r, "m", &[("path", "/api/v1")]),
        kept("m", &[("path", "/api/v1"), ("section", "api")])
    );
}

#[test]
fn families_keep_histogram_buckets_together_and_renamed_series_move() {
    let h = Family::new("rt", MetricKind::Histogram, "h")
        .with_suffixed_sample(l(&[("code", "200"), ("le", "1")]), Suffix::Bucket, 1.0)
        .with_suffixed_sample(l(&[("code", "200"), ("le", "+Inf")]), Suffix::Bucket, 2.0)
        .with_suffixed_sample(l(&[("code", "200")]), Suffix::Sum, 3.0)
        .with_suffixed_sample(l(&[("code", "200")]), Suffix::Count, 2.0);
    let g = Family::new("up_a", MetricKind::Gauge, "g")
        .with_sample(l(&[("x", "1")]), 1.0)
        .with_sample(l(&[("x", "2")]), 2.0);
    let r = rules(
        r#"[[relabel]]
source_labels = ["code"]
regex = "(.).."
target_label = "code"
replacement = "${1}xx"

[[relabel]]
source_labels = ["__name__", "x"]
regex = "up_a;2"
target_label = "__name__"
replacement = "up_b"

[[relabel]]
regex = "le"
action = "labeldrop"
"#,
    );
    let (out, bad) = r.families(vec![h, g]);
    assert_eq!(bad, 0);
    type Shown = (String, Vec<(Labels, Suffix, f64)>);
    let show: Vec<Shown> = out
        .iter()
        .map(|f: &Family| {
            let samples = f
                .samples
                .iter()
                .map(|s: &Sample| (s.labels.to_vec(), s.suffix, s.value))
                .collect();
            (f.name.clone(), samples)
        })
        .collect();
    assert_eq!(
        show,
        vec![
            (
                "rt".to_string(),
                vec![
                    (l(&[("code", "2xx"), ("le", "1")]), Suffix::Bucket, 1.0),
                    (l(&[("code", "2xx"), ("le", "+Inf")]), Suffix::Bucket, 2.0),
                    (l(&[("code", "2xx")]), Suffix::Sum, 3.0),
                    (l(&[("code", "2xx")]), Suffix::Count, 2.0),
                ]
            ),
            (
                "up_a".to_string(),
                vec![(l(&[("x", "1")]), Suffix::None, 1.0)]
            ),
            (
                "up_b".to_string(),
                vec![(l(&[("x", "2")]), Suffix::None, 2.0)]
            ),
        ]
    );
}

#[test]
fn config_errors_name_the_rule_the_key_and_the_reason() {
    let e = error("[[relabel]]\nsource_labels = [\"a\"]\nregex = \"(\"\ntarget_label = \"b\"\n");
    assert_eq!((e.index, e.key), (0, "regex"));
    assert!(e.reason.contains("unclosed group"), "{}", e.reason);
    let e = error(
        "[[relabel]]\ntarget_label = \"a\"\nreplacement = \"b\"\n[[relabel]]\naction = \"rename\"\n",
    );
    assert_eq!((e.index, e.key), (1, "action"));
    assert!(
        e.reason
            .starts_with("unknown action \"rename\"; one of replace, keep"),
        "{}",
        e.reason
    );
    let e = error("[[relabel]]\nsource_labels = [\"a\"]\n");
    assert_eq!(
        (e.index, e.key, e.reason.as_str()),
        (
            0,
            "target_label",
            "missing: action replace writes or compares a label"
        )
    );
    let e = error("[[relabel]]\nsource_labels = [\"a\"]\naction = \"hashmod\"\ntarget_label = \"s\"\nmodulus = 4\n");
    assert_eq!((e.index, e.key), (0, "action"));
    assert!(
        e.reason.starts_with("hashmod is not supported"),
        "{}",
        e.reason
    );
    let e = error("[[relabel]]\nregex = \"x\"\naction = \"drop\"\n");
    assert_eq!((e.index, e.key), (0, "source_labels"));
    let e = error("[[relabel]]\nsource_labels = [\"a\"]\nregex = \"x\"\naction = \"labeldrop\"\n");
    assert_eq!((e.index, e.key), (0, "source_labels"));
    let e = error("[[relabel]]\nsource_labels = [\"a\"]\ntarget_label = \"a-b\"\n");
    assert_eq!(
        (e.index, e.key, e.reason.as_str()),
        (0, "target_label", "\"a-b\" is not a valid label name")
    );
}

#[test]
fn labelkeep_without_the_name_keeps_the_series_named() {
    // Prometheus would remove `__name__` here and lose the series; a config that works
    // there lists `__name__`, and gives the same here.
    for regex in ["pool", "__name__|pool"] {
        let r = rules(&format!(
            "[[relabel]]\nregex = '{regex}'\naction = 'labelkeep'\n"
        ));
        assert_eq!(
            gauge(&r, "m", &[("pid", "1"), ("pool", "www")]),
            kept("m", &[("pool", "www")]),
            "{regex}"
        );
    }
}
