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
         regex = \"nginx_(.*)\"\ntarget_label = \"__name__\"\nreplacement = \"web_${{1}}\"\n\
         [[sources.nginx.relabel]]\nsource_labels = [\"__name__\"]\n\
         regex = \"web_connections_handled\"\ntarget_label = \"__name__\"\nreplacement = \"up\"\n",
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
            "web_http_requests_total",
        ],
        "{page}"
    );
    // Renamed into Prometheus' own `up`: dropped, as source data with that name is.
    assert!(!page.lines().any(|l| l.starts_with("up ")), "{page}");
    // The counters kept their numbers (nginx counts this scrape's request too).
    let accepted = page
        .lines()
        .find_map(|l| l.strip_prefix("web_connections_accepted "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap();
    assert!(accepted >= 1.0, "{page}");
}

/// A page whose series every rule below changes, keeps or drops.
const PAGE: &str = r#"# TYPE http_requests counter
http_requests_total{method="GET",path="/users/1",status="200",app_pool="web",a="x",b="x"} 3
http_requests_total{method="Post",path="/users/2",status="201",app_pool="web",a="x",b="y"} 4
http_requests_total{method="DELETE",path="/users/3",status="500",app_pool="api",a="1",b="2"} 5
http_requests_total{method="GET",path="/orders/9",status="404",app_pool="api",a="1",b="2"} 6
# TYPE legacy_queue_depth gauge
legacy_queue_depth{queue="mail",debug="yes",a="q",b="r"} 2
legacy_queue_depth{queue="sms",debug="no",a="q",b="r"} 1
# TYPE go_goroutines gauge
go_goroutines 12
"#;

/// The rules, each as (key, value) pairs: written as TOML for the adapter and as YAML
/// for Prometheus' `metric_relabel_configs`. Values are single-quoted in both.
const RULE_SET: &[&[(&str, &str)]] = &[
    &[
        ("source_labels", "[__name__]"),
        ("regex", "go_.*"),
        ("action", "drop"),
    ],
    &[
        ("source_labels", "[path]"),
        ("regex", "/users/[0-9]+"),
        ("target_label", "path"),
        ("replacement", "/users/:id"),
    ],
    &[
        ("source_labels", "[status]"),
        ("regex", "([1-5])[0-9][0-9]"),
        ("target_label", "status"),
        ("replacement", "${1}xx"),
    ],
    &[
        ("source_labels", "[method]"),
        ("target_label", "method"),
        ("action", "lowercase"),
    ],
    &[
        ("source_labels", "[method]"),
        ("regex", "delete"),
        ("action", "drop"),
    ],
    &[
        ("regex", "app_(.+)"),
        ("replacement", "${1}"),
        ("action", "labelmap"),
    ],
    &[("regex", "app_.*"), ("action", "labeldrop")],
    &[
        ("source_labels", "[a]"),
        ("target_label", "b"),
        ("action", "dropequal"),
    ],
    &[
        ("source_labels", "[__name__, queue]"),
        ("separator", "/"),
        ("regex", "legacy_.*/(.*)"),
        ("target_label", "__tmp_q"),
    ],
    &[
        ("source_labels", "[__name__]"),
        ("regex", "legacy_(.*)"),
        ("target_label", "__name__"),
        ("replacement", "app_${1}"),
    ],
    &[
        ("source_labels", "[__tmp_q]"),
        ("target_label", "queue_name"),
    ],
    &[("target_label", "debug"), ("replacement", "")],
    // Prometheus keeps `__` labels after metric relabeling; the adapter cannot write them
    // on a page and removes them (docs/relabeling.md): dropped here, so both agree.
    &[("regex", "__tmp_.*"), ("action", "labeldrop")],
];

fn rules_toml(source: &str) -> String {
    let mut out = String::new();
    for rule in RULE_SET {
        out.push_str(&format!("[[sources.{source}.relabel]]\n"));
        for (k, v) in *rule {
            let value = match v.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                Some(list) => {
                    let items: Vec<String> = list.split(", ").map(|i| format!("'{i}'")).collect();
                    format!("[{}]", items.join(", "))
                }
                None => format!("'{v}'"),
            };
            out.push_str(&format!("{k} = {value}\n"));
        }
    }
    out
}

fn rules_yaml() -> String {
    let mut out = String::new();
    for rule in RULE_SET {
        for (i, (k, v)) in rule.iter().enumerate() {
            let dash = if i == 0 { "      - " } else { "        " };
            let value = if v.starts_with('[') {
                v.to_string()
            } else {
                format!("'{v}'")
            };
            out.push_str(&format!("{dash}{k}: {value}\n"));
        }
    }
    out
}

/// (name, labels sorted, value) of every series.
type Series = std::collections::BTreeSet<(String, Vec<(String, String)>, String)>;

fn adapter_series(page: &str) -> Series {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter(|l| !l.starts_with("metrics_adapter_") && !l.starts_with("process_"))
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.strip_suffix('}').unwrap()),
                None => (series, ""),
            };
            let mut pairs: Vec<(String, String)> = if labels.is_empty() {
                Vec::new()
            } else {
                labels
                    .split("\",")
                    .map(|p| {
                        let (k, v) = p.split_once("=\"").unwrap();
                        (k.to_string(), v.trim_end_matches('"').to_string())
                    })
                    .collect()
            };
            pairs.sort();
            let v: f64 = value.parse().unwrap();
            (name.to_string(), pairs, v.to_string())
        })
        .collect()
}

fn prometheus_series(port: u16) -> Series {
    let query = "/api/v1/query?query=%7Bjob%3D%22direct%22%2C__name__%21~%22up%7Cscrape_.%2A%22%7D";
    let body = http_request(port, "GET", query, &[]).text();
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    json["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let metric = r["metric"].as_object().unwrap();
            let name = metric["__name__"].as_str().unwrap().to_string();
            let mut pairs: Vec<(String, String)> = metric
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "__name__" | "job" | "instance"))
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect();
            pairs.sort();
            let v: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
            (name, pairs, v.to_string())
        })
        .collect()
}

/// The same rules give the same series as Prometheus' own `metric_relabel_configs` on the
/// same page: a real Prometheus scrapes the page (served by nginx) with the rules in YAML,
/// the adapter reads it with the rules in TOML.
#[test]
fn relabel_gives_what_prometheus_metric_relabel_configs_gives() {
    require_binary("/usr/bin/prometheus");
    let nginx = Nginx::start();
    nginx.write_file("page.prom", PAGE);
    let dir = TempDir::new("prometheus-relabel");
    let port = free_port();
    let config = dir.write(
        "prometheus.yml",
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: direct\n    \
             metrics_path: /files/page.prom\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n    \
             metric_relabel_configs:\n{}",
            nginx.port,
            rules_yaml()
        ),
    );
    let mut cmd = std::process::Command::new("/usr/bin/prometheus");
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
    let mut prometheus = Proc::spawn("prometheus", cmd, dir.join("prometheus.out"));
    prometheus.wait_ready(START_TIMEOUT, || {
        try_http_request(port, "GET", "/-/ready", &[]).is_ok_and(|r| r.status == 200)
    });
    let theirs = wait_for("Prometheus' first scrape", Duration::from_secs(20), || {
        let s = prometheus_series(port);
        (!s.is_empty()).then_some(s)
    });
    let page_file = nginx.files.join("page.prom");
    let adapter = Adapter::start(&format!(
        "[sources.direct]\ntype = \"file\"\nparser = \"prometheus\"\npath = {}\n{}",
        toml_str(&page_file.display().to_string()),
        rules_toml("direct")
    ));
    let ours = adapter_series(&adapter.metrics());
    assert_eq!(ours, theirs);
    // And the rules did something: four series of eight are left, all rewritten.
    let names: Vec<&str> = ours.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "app_queue_depth",
            "app_queue_depth",
            "http_requests_total",
            "http_requests_total"
        ],
        "{ours:?}"
    );
}

/// `parse --source` reads a saved log as its source counts it: relabeled before counting.
#[test]
fn parse_with_source_counts_a_saved_log_relabeled() {
    let dir = TempDir::new("relabel-parse");
    let log = dir.write(
        "access.log",
        "127.0.0.1 - - [07/Dec/2026:10:00:00 +0000] \"GET /users/1 HTTP/1.1\" 200 5 \"-\" \"c\"\n\
         127.0.0.1 - - [07/Dec/2026:10:00:01 +0000] \"GET /users/22 HTTP/1.1\" 204 0 \"-\" \"c\"\n\
         127.0.0.1 - - [07/Dec/2026:10:00:02 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"c\"\n\
         127.0.0.1 - - [07/Dec/2026:10:00:03 +0000] \"POST /users/3 HTTP/1.1\" 503 0 \"-\" \"c\"\n",
    );
    let config = dir.write(
        "adapter.toml",
        format!(
            "[sources.web]\ntype = \"tail\"\nparser = \"paths\"\npath = {}\n{RULES}\n{PATHS_RECIPE}",
            toml_str(&log.display().to_string())
        ),
    );
    let out = run_cli(
        &[
            "--config",
            &config.display().to_string(),
            "parse",
            "--source",
            "web",
            "paths",
            &log.display().to_string(),
        ],
        Duration::from_secs(20),
    );
    assert!(out.success(), "{out}");
    assert_eq!(
        family_lines(&out.stdout, "http_requests_total"),
        vec![
            "http_requests_total{method=\"GET\",path=\"/users/:id\",status=\"2xx\"} 2.0",
            "http_requests_total{method=\"POST\",path=\"/users/:id\",status=\"5xx\"} 1.0",
        ],
        "{}",
        out.stdout
    );
}
