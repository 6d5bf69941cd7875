use super::*;

fn rules(toml_text: &str) -> Rules {
    Rules::new(toml::from_str(toml_text).unwrap()).unwrap()
}

const REQUESTS: &str = r#"
[[rule]]
pattern = '^(?P<method>[A-Z]+) (?P<status>[0-9]+) (?P<bytes>[^ ]+)(?: (?P<ms>[^ ]+))?$'
[[rule]]
pattern = '^#'
drop = true
[[metric]]
name = "requests_total"
type = "counter"
label_captures = ["method", "status"]
[[metric]]
name = "bytes"
type = "counter"
value = "bytes"
label_captures = ["method"]
[[metric]]
name = "last_ms"
type = "gauge"
value = "ms"
"#;

fn sample(acc: &Accumulator, r: &Rules, m: usize) -> Vec<(Vec<String>, Value)> {
    let _ = r;
    acc.series(m)
        .into_iter()
        .map(|(l, v)| (l, v.clone()))
        .collect()
}

#[test]
fn counts_lines_and_adds_captured_numbers() {
    let r = rules(REQUESTS);
    let mut acc = r.accumulator();
    let mut fed = Fed::default();
    r.feed(
        "GET 200 10\nGET 200 5 7\n# comment\nPUT 500 - 3\nnoise\n",
        &mut acc,
        100,
        &mut fed,
    );
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        sample(&acc, &r, 0),
        vec![
            (s(&["GET", "200"]), Value::Sum(2.0)),
            (s(&["PUT", "500"]), Value::Sum(1.0))
        ]
    );
    // "-" adds nothing, and makes no series of its own.
    assert_eq!(sample(&acc, &r, 1), vec![(s(&["GET"]), Value::Sum(15.0))]);
    assert_eq!(sample(&acc, &r, 2), vec![(vec![], Value::Last(3.0))]);
    assert_eq!((fed.lines, fed.unmatched.count, fed.issues), (5, 1, 0));
    assert_eq!(
        fed.unmatched.first.as_deref(),
        Some("line 5: no rule matches \"noise\"")
    );
    // Later input adds to the same series.
    r.feed("GET 200 1\n", &mut acc, 100, &mut fed);
    assert_eq!(
        sample(&acc, &r, 0).first().map(|s| s.1.clone()),
        Some(Value::Sum(3.0))
    );
}

#[test]
fn values_that_cannot_count_are_issues() {
    let r = rules(REQUESTS);
    let mut acc = r.accumulator();
    let mut fed = Fed::default();
    r.feed(
        "GET 200 12x\nGET 200 -4\nGET 200 inf\n",
        &mut acc,
        100,
        &mut fed,
    );
    assert_eq!(fed.issues, 3);
    assert_eq!(
        fed.first_issues[0].to_string(),
        "line 1: bytes: \"12x\" is not a number"
    );
    assert_eq!(
        fed.first_issues[1].to_string(),
        "line 2: bytes: a counter cannot add -4"
    );
    // The line itself still counts.
    assert_eq!(sample(&acc, &r, 0)[0].1, Value::Sum(3.0));
}

#[test]
fn new_label_sets_past_the_cap_are_dropped_and_known_ones_keep_counting() {
    let r = rules(REQUESTS);
    let mut acc = r.accumulator();
    let mut fed = Fed::default();
    // Series: requests{GET,200}, bytes{GET}: 2 of 2.
    r.feed("GET 200 1\nPOST 200 1\nGET 200 1\n", &mut acc, 2, &mut fed);
    assert_eq!(acc.series_count(), 2);
    assert_eq!(fed.dropped, 2);
    assert_eq!(sample(&acc, &r, 0)[0].1, Value::Sum(2.0));
    assert_eq!(sample(&acc, &r, 1)[0].1, Value::Sum(2.0));
}

#[test]
fn label_values_cannot_collide() {
    let r = rules(
        "[[rule]]\npattern = '^(?P<a>[^ ]*) (?P<b>.*)$'\n[[metric]]\nname = 'n'\ntype = 'counter'\nlabel_captures = ['a', 'b']\n",
    );
    let mut acc = r.accumulator();
    r.feed("x y z\nx y z\nx  y z\n", &mut acc, 100, &mut Fed::default());
    let got: Vec<_> = sample(&acc, &r, 0)
        .into_iter()
        .map(|(l, _)| l.join("|"))
        .collect();
    assert_eq!(got, ["x| y z", "x|y z"]);
}

#[test]
fn histograms_and_summaries_accumulate() {
    let r = rules(
        "[[rule]]\npattern = '^(?P<t>[^ ]+)$'\n[[metric]]\nname = 'h'\ntype = 'histogram'\nvalue = 't'\nbuckets = [1, 2]\nscale = 0.001\n[[metric]]\nname = 's'\ntype = 'summary'\nvalue = 't'\nwindow = 2\n",
    );
    let mut acc = r.accumulator();
    r.feed(
        "500\n1000\n1500\n5000\n",
        &mut acc,
        100,
        &mut Fed::default(),
    );
    assert_eq!(
        sample(&acc, &r, 0)[0].1,
        Value::Histogram {
            counts: vec![2, 1, 1],
            sum: 8.0,
            count: 4
        }
    );
    let Value::Summary { window, sum, count } = &sample(&acc, &r, 1)[0].1 else {
        panic!()
    };
    assert_eq!(
        (window.iter().copied().collect::<Vec<_>>(), *sum, *count),
        (vec![1500.0, 5000.0], 8000.0, 4)
    );
}

#[test]
fn mistakes_in_the_rules_name_the_key() {
    let err = |t: &str| Rules::new(toml::from_str(t).unwrap()).unwrap_err();
    let rule = "[[rule]]\npattern = '^(?P<v>[0-9]+)$'\n";
    assert_eq!(
        err(&format!("{rule}[[metric]]\nname = 'a'\ntype = 'countr'\n")),
        "log.metric[0].type: unknown type \"countr\"; expected one of counter, untyped, gauge, histogram, summary; did you mean \"counter\"?"
    );
    assert_eq!(
        err(&format!(
            "{rule}[[metric]]\nname = 'a'\ntype = 'counter'\nvalue = 'w'\n"
        )),
        "log.metric[0]: no [[log.rule]] pattern has all of its captures (w)"
    );
    assert_eq!(
        err(&format!(
            "{rule}[[metric]]\nname = 'a'\ntype = 'histogram'\nvalue = 'v'\nbuckets = [2, 1]\n"
        )),
        "log.metric[0].buckets: must be finite and ascending (+Inf is implied)"
    );
    assert_eq!(
        err(&format!("{rule}[[metric]]\nname = 'a'\ntype = 'gauge'\n")),
        "log.metric[0].value: a gauge needs a value capture"
    );
    assert_eq!(
        err(&format!(
            "{rule}[[metric]]\nname = 'a b'\ntype = 'counter'\n"
        )),
        "log.metric[0].name: \"a b\" is not a valid metric name"
    );
}

#[test]
fn a_summary_page_has_quantiles_over_its_window_and_lifetime_sum_and_count() {
    let r = rules(
        "[[rule]]\npattern = '^(?P<t>[^ ]+)$'\n[[metric]]\nname = 's'\ntype = 'summary'\nvalue = 't'\nwindow = 4\nquantiles = [0, 0.5, 1]\n",
    );
    let mut acc = r.accumulator();
    r.feed("100\n1\n2\n3\n4\n", &mut acc, 100, &mut Fed::default());
    let fams = acc.families(&r.metrics);
    let got: Vec<String> = fams[0]
        .samples
        .iter()
        .map(|s| format!("{:?} {:?} {}", s.suffix, s.labels, s.value))
        .collect();
    assert_eq!(
        got,
        [
            "None [(\"quantile\", \"0\")] 1",
            "None [(\"quantile\", \"0.5\")] 2",
            "None [(\"quantile\", \"1\")] 4",
            "Sum [] 110",
            "Count [] 5",
        ]
    );
}

#[test]
fn a_log_recipe_refuses_tables_that_would_do_nothing() {
    let recipe = "description = 'd'\nformat = 'log'\n[[log.rule]]\npattern = 'x'\n[[log.metric]]\nname = 'n'\ntype = 'counter'\n";
    assert!(crate::parse::Recipe::from_toml("r", recipe).is_ok());
    let err = crate::parse::Recipe::from_toml("r", &format!("{recipe}[mapping]\nprefix = 'a_'\n"))
        .unwrap_err();
    assert_eq!(
        err,
        "[mapping] does not apply to a log recipe (format = \"log\"): its [[log.metric]] rules name and type what it counts"
    );
}
