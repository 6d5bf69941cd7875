//! Line recipes end to end: a recipe's rules that accumulate, fed lines, and the totals'
//! page (the one path a `tail` source's lines take).

use crate::family::Family;
use crate::recipe::Fed;
use crate::recipe::Recipe;

const REQUESTS: &str = r#"
description = "requests"
format = "regex"
[[regex.rule]]
pattern = '^(?P<method>[A-Z]+) (?P<status>[0-9]+) (?P<bytes>[^ ]+)(?: (?P<ms>[^ ]+))?$'
line_key = "request"
values = ["bytes", "ms"]
[[regex.rule]]
pattern = '^#'
drop = true
[[mapping.metric]]
key = "request"
name = "requests_total"
accumulate = "count"
[[mapping.metric]]
key = "bytes"
name = "bytes"
accumulate = "sum"
drop_labels = ["status"]
[[mapping.metric]]
key = "ms"
name = "last_ms"
accumulate = "set"
drop_labels = ["method", "status"]
"#;

fn recipe(text: &str) -> Recipe {
    Recipe::from_toml("r", text).unwrap()
}

/// The totals' page as `name{labels} value` lines (with a series' suffix).
fn page(families: &[Family]) -> Vec<String> {
    let mut out = Vec::new();
    for f in families {
        for s in &f.samples {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push(format!(
                "{}{}{{{}}} {}",
                f.name,
                s.suffix.as_str(),
                labels.join(","),
                s.value
            ));
        }
    }
    out
}

fn feed(r: &Recipe, text: &str, max_series: usize) -> (Vec<String>, Fed) {
    let mut totals = r.totals();
    let fed = r.feed(text, &mut totals, max_series);
    (page(&totals.families()), fed)
}

#[test]
fn counts_lines_and_adds_captured_numbers() {
    let r = recipe(REQUESTS);
    let mut totals = r.totals();
    let fed = r.feed(
        "GET 200 10\nGET 200 5 7\n# comment\nPUT 500 - 3\nnoise\n",
        &mut totals,
        100,
    );
    // "-" adds nothing, and makes no series of its own; a counter's name loses `_total`
    // (the exposition writes it).
    assert_eq!(
        page(&totals.families()),
        [
            "requests{method=GET,status=200} 2",
            "requests{method=PUT,status=500} 1",
            "bytes{method=GET} 15",
            "last_ms{} 3",
        ]
    );
    assert_eq!((fed.unmatched.count, fed.issues), (1, 0));
    assert_eq!(
        fed.unmatched.first.as_deref(),
        Some("line 5: no rule matches \"noise\"")
    );
    // Later lines add to the same series.
    r.feed("GET 200 1\n", &mut totals, 100);
    assert_eq!(
        page(&totals.families()).first().map(String::as_str),
        Some("requests{method=GET,status=200} 3")
    );
}

#[test]
fn values_that_cannot_count_are_issues() {
    let r = recipe(REQUESTS);
    let (page, fed) = feed(&r, "GET 200 12x\nGET 200 -4\nGET 200 inf\n", 100);
    assert_eq!(fed.issues, 3);
    assert_eq!(
        fed.first_issues[0].to_string(),
        "line 1: bytes: value \"12x\" is not a number"
    );
    assert_eq!(
        fed.first_issues[1].to_string(),
        "line 2: bytes: a counter cannot add -4"
    );
    // The line itself still counts.
    assert_eq!(page, ["requests{method=GET,status=200} 3"]);
}

#[test]
fn new_label_sets_past_the_cap_are_dropped_and_known_ones_keep_counting() {
    let r = recipe(REQUESTS);
    let mut totals = r.totals();
    // Series: requests{GET,200}, bytes{GET}: 2 of 2.
    let fed = r.feed("GET 200 1\nPOST 200 1\nGET 200 1\n", &mut totals, 2);
    assert_eq!(totals.series_count(), 2);
    assert_eq!(fed.dropped, 2);
    assert_eq!(
        page(&totals.families()),
        ["requests{method=GET,status=200} 2", "bytes{method=GET} 2"]
    );
}

#[test]
fn a_capture_that_took_no_part_is_the_empty_label() {
    let r = recipe(
        "description = 'd'\nformat = 'regex'\n[[regex.rule]]\npattern = '^(?:(?P<m>[A-Z]+) )?(?P<s>[0-9]+)$'\nline_key = 'n'\n[[mapping.metric]]\nkey = 'n'\nname = 'n'\naccumulate = 'count'\n",
    );
    let (page, _) = feed(&r, "GET 200\n200\n", 100);
    assert_eq!(page, ["n{m=,s=200} 1", "n{m=GET,s=200} 1"]);
}

#[test]
fn histograms_and_summaries_accumulate() {
    let r = recipe(
        "description = 'd'\nformat = 'regex'\n[[regex.rule]]\npattern = '^(?P<t>[^ ]+)$'\nvalues = ['t']\n[mapping.defaults]\nbuckets = [1, 2]\nwindow = 4\nquantiles = [0, 0.5, 1]\n[[mapping.metric]]\nkey = 't'\nname = 'h'\naccumulate = 'observe'\nscale = 0.001\ncontinue = true\n[[mapping.metric]]\nkey = 't'\nname = 's'\ntype = 'summary'\naccumulate = 'observe'\n",
    );
    let (page, _) = feed(&r, "500\n1000\n1500\n5000\n100\n", 100);
    assert_eq!(
        page,
        [
            "h_bucket{le=1} 3",
            "h_bucket{le=2} 4",
            "h_bucket{le=+Inf} 5",
            "h_sum{} 8.1",
            "h_count{} 5",
            // Quantiles over the last 4 values; sum and count of all of them.
            "s{quantile=0} 100",
            "s{quantile=0.5} 1000",
            "s{quantile=1} 5000",
            "s_sum{} 8100",
            "s_count{} 5",
        ]
    );
}

#[test]
fn mistakes_in_the_rules_name_the_key() {
    let err = |rules: &str| {
        Recipe::from_toml(
            "r",
            &format!("description = 'd'\nformat = 'regex'\n[[regex.rule]]\npattern = '^(?P<v>[0-9]+)$'\nvalues = ['v']\n{rules}"),
        )
        .unwrap_err()
        .to_string()
    };
    let rule = "[[mapping.metric]]\nkey = 'v'\nname = 'a'\n";
    assert_eq!(
        err(&format!("{rule}accumulate = 'cont'\n")),
        "mapping.metric[0]: accumulate: unknown verb \"cont\"; expected one of count, sum, observe, set; did you mean \"count\"?"
    );
    assert_eq!(
        err(&format!("{rule}accumulate = 'count'\ntype = 'gauge'\n")),
        "mapping.metric[0]: accumulate = \"count\" adds into a counter or untyped, not type \"gauge\""
    );
    assert_eq!(
        err(&format!("{rule}accumulate = 'observe'\nbuckets = [2, 1]\n")),
        "mapping.metric[0]: buckets: must be finite and ascending (+Inf is implied)"
    );
    assert_eq!(
        err(&format!("{rule}accumulate = 'count'\nscale = 2.0\n")),
        "mapping.metric[0]: `scale` does not apply to accumulate = \"count\" (type \"counter\")"
    );
    assert_eq!(
        err(&format!("{rule}accumulate = 'sum'\n[[mapping.metric]]\nkey = 'w'\n")),
        "mapping.metric[1]: the other rules accumulate (this recipe reads events): give it `accumulate` too, or `drop = true`"
    );
    assert_eq!(
        err(&format!("[mapping]\nunmatched = 'gauge'\n{rule}accumulate = 'sum'\n")),
        "mapping.unmatched: \"gauge\" does not apply to a mapping whose rules accumulate (records no rule takes are counted as unmatched)"
    );
    assert_eq!(
        err(&format!("{rule}buckets = [1]\n")),
        "mapping.metric[0]: `buckets` applies to a rule with accumulate = \"observe\""
    );
    assert_eq!(
        err(&format!("[framing]\nblock_start = '^x'\n{rule}accumulate = 'sum'\n")),
        "[framing] block_start, block_end and dated do not apply to a recipe whose rules accumulate (it reads the lines of a log as they are appended; record_start frames its multi-line records)"
    );
}

/// A recipe written for the `[log]` table of before is told the form that replaced it.
#[test]
fn an_old_log_table_names_the_new_form() {
    let old = "description = 'd'\nformat = 'log'\n[[log.rule]]\npattern = 'x'\n[[log.metric]]\nname = 'n'\ntype = 'counter'\n";
    let err = Recipe::from_toml("r", old).unwrap_err();
    assert_eq!(err.to_string(), crate::recipe::OLD_LOG);
    assert_eq!(err.kind(), crate::parse::ErrorKind::Renamed);
    let err = err.to_string();
    assert!(err.contains("format = \"regex\"") && err.contains("accumulate = \"count\""));
    // The table alone, under another format, too.
    let err = Recipe::from_toml("r", &old.replace("'log'", "'regex'")).unwrap_err();
    assert_eq!(err.to_string(), crate::recipe::OLD_LOG);
}

/// `parse --explain` on a line recipe: each line, the rule that took each record and the
/// series it added into, or why nothing came of it.
#[test]
fn explain_tells_what_each_line_added() {
    let registry = crate::recipe::Registry::builtin().unwrap();
    let nginx = &registry.get("nginx_access").unwrap().parser;
    let log = "10.0.0.1 - - [29/Nov/2026:22:39:38 +0000] \"GET / HTTP/1.1\" 200 6 \"-\" \"c\" 0.020 -\nnot a request\n";
    let text = nginx.explain(log.as_bytes()).unwrap().unwrap();
    let expected = [
        "  read    request{method=\"GET\",status=\"200\"} = \"1\"",
        "  rule    mapping.metric[0] (key \"request\")",
        "  adds    1 to nginx_http_response_count_total{method=\"GET\",status=\"200\"} (counter)",
        "  adds    6 to nginx_http_response_size_bytes{method=\"GET\",status=\"200\"} (untyped)",
        "  observes 0.02 into nginx_http_response_time_seconds{method=\"GET\",status=\"200\"} (histogram)",
        "  nothing: value \"-\" adds nothing",
        "line 2: \"not a request\"",
        "  nothing: no [[regex.rule]] matches it (counted as unmatched)",
        "in all: 16 series in 3 families, 0 parse errors, 0 duplicates, 1 unmatched",
    ];
    for line in expected {
        assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    }
}

/// `expire`: series not changed since the stamp go (and their samples from the count); a
/// label set that comes back starts from nothing; the others keep their totals.
#[test]
fn expire_removes_series_not_changed_since_the_stamp() {
    let r = recipe(REQUESTS);
    let mut totals = r.totals();
    totals.set_stamp(1_000);
    r.feed("GET 200 10\nPUT 500 3\n", &mut totals, 100);
    totals.set_stamp(5_000);
    r.feed("GET 200 4\n", &mut totals, 100);
    let (count, version) = (totals.series_count(), totals.version());
    assert_eq!(totals.expire(1_000), 0, "nothing older than 1000");
    assert_eq!(totals.version(), version);
    // PUT's count and bytes (last changed at 1000) go; GET's (5000) stay.
    assert_eq!(totals.expire(2_000), 2);
    assert!(totals.version() > version);
    assert_eq!(totals.series_count(), count - 2);
    assert_eq!(
        page(&totals.families()),
        ["requests{method=GET,status=200} 2", "bytes{method=GET} 14"]
    );
    // Back again: from nothing; the kept series go on from their totals.
    totals.set_stamp(6_000);
    r.feed("PUT 500 1\nGET 200 1\n", &mut totals, 100);
    assert_eq!(
        page(&totals.families()),
        [
            "requests{method=GET,status=200} 3",
            "requests{method=PUT,status=500} 1",
            "bytes{method=GET} 15",
            "bytes{method=PUT} 1"
        ]
    );
}
