//! `[[sources.NAME.relabel]]` (Prometheus' `metric_relabel_configs`) end to end: on a real
//! nginx access log followed by a `tail` source, the rules run before counting, so raw
//! paths and statuses never become series (the page holds the bounded label sets only);
//! on a real nginx `stub_status` page read over HTTP, a rename and a drop.

use std::time::Duration;

use crate::harness::*;
use crate::tail::{wait_page, LoggingNginx};

/// A line recipe that labels each request with its path, as a user's own recipe would.
const PATHS_RECIPE: &str = r#"
[recipes.paths]
description = "requests by method, path and status"
format = "regex"
[[recipes.paths.regex.rule]]
pattern = '^[^ ]+ [^ ]+ [^ ]+ \[[^\]]*\] "(?P<method>[A-Z]+) (?P<path>[^ ]*) [^"]*" (?P<status>[0-9]{3}) .*$'
line_key = "request"
[[recipes.paths.mapping.metric]]
key = "request"
name = "http_requests_total"
accumulate = "count"
"#;

const RULES: &str = r#"
[[sources.web.relabel]]
source_labels = ["path"]
regex = "/users/[0-9]+"
target_label = "path"
replacement = "/users/:id"

[[sources.web.relabel]]
source_labels = ["status"]
regex = "([1-5])[0-9][0-9]"
target_label = "status"
replacement = "${1}xx"

[[sources.web.relabel]]
source_labels = ["path"]
regex = "/healthz"
action = "drop"
"#;

fn family_lines<'p>(page: &'p str, name: &str) -> Vec<&'p str> {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .collect()
}

#[test]
fn relabel_bounds_a_followed_logs_label_sets_before_counting() {
    let nginx = LoggingNginx::start();
    let adapter = Adapter::start(&format!(
        "[sources.web]\ntype = \"tail\"\nparser = \"paths\"\npath = {}\n\
         interval = \"100ms\"\n{RULES}\n{PATHS_RECIPE}",
        toml_str(&nginx.log.display().to_string())
    ));
    wait_page(&adapter, START_TIMEOUT, |p| {
        p.contains("metrics_adapter_source_up{source=\"web\"} 1")
    });
    // 40 distinct user ids (nginx answers 404: no such file), 5 of /ok, 3 health checks.
    for id in 0..40 {
        nginx.requests("GET", &format!("/users/{}", 1000 + id), 404, 1);
    }
    nginx.requests("GET", "/ok", 200, 5);
    nginx.requests("GET", "/healthz", 404, 3);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        p.contains("http_requests_total{method=\"GET\",path=\"/ok\",status=\"2xx\"} 5")
            && p.contains(
                "http_requests_total{method=\"GET\",path=\"/users/:id\",status=\"4xx\"} 40",
            )
    });
    assert_eq!(
        family_lines(&page, "http_requests_total"),
        vec![
            "http_requests_total{method=\"GET\",path=\"/ok\",status=\"2xx\"} 5.0",
            "http_requests_total{method=\"GET\",path=\"/users/:id\",status=\"4xx\"} 40.0",
        ],
        "{page}"
    );
}

#[test]
fn relabel_renames_and_drops_series_of_a_status_page() {
    let nginx = Nginx::start();
    let adapter = Adapter::start(&format!(
        "[sources.nginx]\ntype = \"http\"\nparser = \"nginx_stub_status\"\nurl = {}\n\
         [[sources.nginx.relabel]]\nsource_labels = [\"__name__\"]\n\
         regex = \"nginx_connections_(reading|writing|waiting)\"\naction = \"drop\"\n\
         [[sources.nginx.relabel]]\nsource_labels = [\"__name__\"]\n\
         regex = \"nginx_(.*)\"\ntarget_label = \"__name__\"\nreplacement = \"web_${{1}}\"\n",
        toml_str(&nginx.url("/stub_status"))
    ));
    let page = adapter.metrics();
    let names: std::collections::BTreeSet<&str> = page
        .lines()
        .filter(|l| {
            !l.starts_with('#') && !l.starts_with("metrics_adapter_") && !l.starts_with("process_")
        })
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        vec![
            "nginx_up",
            "web_connections_accepted",
            "web_connections_active",
            "web_connections_handled",
            "web_http_requests_total",
        ],
        "{page}"
    );
    // The counters kept their numbers (nginx counts this scrape's request too).
    let accepted = page
        .lines()
        .find_map(|l| l.strip_prefix("web_connections_accepted "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap();
    assert!(accepted >= 1.0, "{page}");
}
