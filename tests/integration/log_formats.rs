//! The access log formats real servers write, read by `nginx_access` and `apache_access`
//! against the real server: nginx's default `main` and `combined`, each with and without the
//! times appended. Every line the server wrote is counted exactly, none unmatched.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::harness::*;
use crate::tail::{count, follow, self_metric, series, wait_page, wait_ready, LoggingNginx};

/// `main` as the official nginx image's nginx.conf writes it.
pub(crate) const MAIN: &str = r#"    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';"#;

/// Lines in `path`.
pub(crate) fn lines_in(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |t| t.lines().count())
}

/// Requests of every kind the formats must read: with a forwarded-for list, a quote in the
/// user agent (nginx writes `\x22`), a 404; counted per method and status by the caller.
fn requests(nginx: &LoggingNginx) {
    nginx.requests("GET", "/ok", 200, 3);
    nginx.requests("POST", "/ok", 200, 2);
    nginx.requests("GET", "/missing", 404, 4);
    let xff = [
        ("X-Forwarded-For", "10.1.2.3, 10.0.0.9"),
        ("User-Agent", "a \"quoted\" agent"),
    ];
    let r = http_request(nginx.port, "GET", "/ok", &xff);
    assert_eq!(r.status, 200);
}

fn counts_every_line(log_format: &str, name: &str, timed: bool) {
    let nginx = LoggingNginx::start_with(log_format, name);
    let adapter = follow(&nginx.log, "");
    wait_ready(&adapter);
    // nginx's readiness request is in the log already: only what comes after counts.
    let before = lines_in(&nginx.log);
    requests(&nginx);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200") + count(p, "POST", "200") + count(p, "GET", "404") >= 10.0
    });
    assert_eq!(lines_in(&nginx.log) - before, 10, "{name}");
    assert_eq!(count(&page, "GET", "200"), 4.0, "{name}: {page}");
    assert_eq!(count(&page, "POST", "200"), 2.0, "{name}");
    assert_eq!(count(&page, "GET", "404"), 4.0, "{name}");
    assert_eq!(self_metric(&page, "source_unmatched_total"), 0.0, "{name}");
    // "ok\n" is 3 bytes; nginx's 404 page is 153.
    let bytes = |s: &str| {
        series(
            &page,
            &format!("nginx_http_response_size_bytes{{method=\"GET\",status=\"{s}\"}}"),
        )
    };
    assert_eq!(bytes("200"), Some(12.0), "{name}");
    assert_eq!(bytes("404"), Some(4.0 * 153.0), "{name}");
    let timed_count = series(
        &page,
        "nginx_http_response_time_seconds_count{method=\"GET\",status=\"404\"}",
    );
    assert_eq!(timed_count, timed.then_some(4.0), "{name}: {page}");
    promtool_check(&page, &[]);
}

#[test]
fn nginx_main_and_combined_with_and_without_times_count_every_line() {
    let times = " $request_time $upstream_response_time";
    let main_timed = MAIN.replace("main", "main_timed").replace(
        "\"$http_x_forwarded_for\"';",
        &format!("\"$http_x_forwarded_for\"{times}';"),
    );
    let combined_timed = format!(
        "log_format combined_timed '$remote_addr - $remote_user [$time_local] \"$request\" \
         $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\"{times}';"
    );
    // The pod example logs this very format.
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes/examples/nginx-access-log/nginx.conf"
    ))
    .unwrap();
    assert!(example.contains(MAIN), "{example}");
    counts_every_line(MAIN, "main", false);
    counts_every_line("", "combined", false);
    counts_every_line(&main_timed, "main_timed", true);
    counts_every_line(&combined_timed, "combined_timed", true);
}

/// Per `(method, status)`: lines, and the sums of the two numbers after the status, read
/// from what the server wrote (lines after the first `skip`) in a format whose fields after
/// the quoted request are `status a b ...`.
fn written(log: &std::path::Path, skip: usize) -> BTreeMap<(String, String), (f64, f64, f64)> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut out: BTreeMap<(String, String), (f64, f64, f64)> = BTreeMap::new();
    for line in text.lines().skip(skip) {
        let (_, request) = line.split_once('"').unwrap();
        let (request, rest) = request.split_once("\" ").unwrap();
        let method = request.split(' ').next().unwrap().to_string();
        let fields: Vec<&str> = rest.split(' ').collect();
        let number = |s: &str| s.parse::<f64>().unwrap_or(0.0);
        let e = out.entry((method, fields[0].to_string())).or_default();
        e.0 += 1.0;
        e.1 += number(fields[1]);
        e.2 += number(fields[2]);
    }
    out
}

#[test]
fn nginx_with_its_own_log_format_counts_and_sums_what_it_wrote() {
    let format =
        r#"$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time $host"#;
    let nginx = LoggingNginx::start_with(&format!("log_format custom '{format}';"), "custom");
    let adapter = follow(&nginx.log, &format!("log_format = {}\n", toml_str(format)));
    wait_ready(&adapter);
    let before = lines_in(&nginx.log);
    requests(&nginx);
    nginx.requests("PUT", "/missing", 404, 2);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200") + count(p, "POST", "200") + count(p, "GET", "404") >= 10.0
            && count(p, "PUT", "404") >= 2.0
    });
    let expected = written(&nginx.log, before);
    assert_eq!(expected.len(), 4, "{expected:?}");
    for ((method, status), (lines, bytes, time)) in expected {
        let labels = format!("{{method=\"{method}\",status=\"{status}\"}}");
        assert_eq!(count(&page, &method, &status), lines, "{labels}\n{page}");
        let size = series(&page, &format!("nginx_http_response_size_bytes{labels}"));
        assert_eq!(size, Some(bytes), "{labels}");
        let times = format!("nginx_http_response_time_seconds_count{labels}");
        assert_eq!(series(&page, &times), Some(lines), "{labels}");
        let sum = series(
            &page,
            &format!("nginx_http_response_time_seconds_sum{labels}"),
        );
        assert!(
            (sum.unwrap() - time).abs() < 1e-9,
            "{labels}: {sum:?} {time}"
        );
    }
    assert_eq!(count(&page, "PUT", "404"), 2.0);
    assert_eq!(self_metric(&page, "source_unmatched_total"), 0.0);
    assert_eq!(self_metric(&page, "source_parse_errors_total"), 0.0);
}

#[test]
fn apache_with_d_in_its_log_format_counts_and_sums_what_it_wrote() {
    let apache = Apache::start_with_log_format(r#"%h %l %u %t \"%r\" %>s %b %D"#);
    let log = apache.access_log();
    let adapter = Adapter::start(&format!(
        "[sources.web]\ntype = \"tail\"\nparser = \"apache_access\"\npath = {}\n\
         interval = \"100ms\"\nlog_format = '%h %l %u %t \"%r\" %>s %b %D'\n",
        toml_str(&log.display().to_string())
    ));
    wait_ready(&adapter);
    let before = lines_in(&log);
    for (method, path, status, n) in [
        ("GET", "/", 200, 3),
        ("HEAD", "/", 200, 2),
        ("GET", "/no", 404, 2),
    ] {
        for _ in 0..n {
            assert_eq!(http_request(apache.port, method, path, &[]).status, status);
        }
    }
    let counted = |p: &str, m: &str, s: &str| {
        series(
            p,
            &format!("apache_http_response_count_total{{method=\"{m}\",status=\"{s}\"}}"),
        )
        .unwrap_or(0.0)
    };
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        counted(p, "GET", "200") + counted(p, "HEAD", "200") + counted(p, "GET", "404") >= 7.0
    });
    let expected = written(&log, before);
    assert_eq!(expected.len(), 3, "{expected:?}");
    for ((method, status), (lines, bytes, micros)) in expected {
        let labels = format!("{{method=\"{method}\",status=\"{status}\"}}");
        assert_eq!(counted(&page, &method, &status), lines, "{labels}\n{page}");
        // `%b` is "-" for HEAD: no bytes series at all.
        let size = series(&page, &format!("apache_http_response_size_bytes{labels}"));
        assert_eq!(size, (bytes > 0.0).then_some(bytes), "{labels}");
        let sum = series(
            &page,
            &format!("apache_http_response_time_seconds_sum{labels}"),
        );
        assert!(
            (sum.unwrap() - micros * 1e-6).abs() < 1e-9,
            "{labels}: {sum:?} {micros}"
        );
    }
    assert_eq!(self_metric(&page, "source_unmatched_total"), 0.0);
    promtool_check(&page, &[]);
}

/// `check` refuses a format it cannot compile, naming the file, the key and the variable.
#[test]
fn check_names_the_variable_of_a_format_that_cannot_be_compiled() {
    let dir = TempDir::new("log-format-check");
    let cases = [
        (
            "nginx_access",
            "$remote_addr$status",
            "sources.web.log_format: $remote_addr is followed directly by $status",
        ),
        (
            "apache_access",
            "%h %{Referer i",
            "sources.web.log_format: %{Referer i: no closing `}`",
        ),
        (
            "apache_access",
            "%h %>s %",
            "sources.web.log_format: %: not an Apache LogFormat directive",
        ),
    ];
    for (parser, format, want) in cases {
        let config = dir.write(
            "config.toml",
            format!(
                "[sources.web]\ntype = \"tail\"\nparser = \"{parser}\"\npath = \"/tmp/a.log\"\n\
                 log_format = {}\n",
                toml_str(format)
            ),
        );
        let config = config.display().to_string();
        let out = run_cli(&["--config", &config, "check"], Duration::from_secs(30));
        assert!(!out.success(), "{out}");
        let want = format!("{config}: {want}");
        assert!(out.stderr.contains(&want), "{want}\n{}", out.stderr);
    }
}

/// `parse --source NAME` reads a sample as a tail source with `log_format` reads its lines.
#[test]
fn parse_with_a_tail_source_reads_its_log_format() {
    let dir = TempDir::new("log-format-parse");
    let config = dir.write(
        "config.toml",
        "[sources.web]\ntype = \"tail\"\nparser = \"nginx_access\"\npath = \"/tmp/a.log\"\n\
         log_format = '$remote_addr \"$request\" $status $request_time'\n",
    );
    let sample = dir.write(
        "sample.log",
        "10.0.0.1 \"GET /a HTTP/1.1\" 200 0.004\n10.0.0.1 \"GET /b HTTP/1.1\" 200 0.002\ncombined?\n",
    );
    let (config, sample) = (config.display().to_string(), sample.display().to_string());
    let args = [
        "--config",
        &config,
        "parse",
        "nginx_access",
        "--source",
        "web",
    ];
    let out = run_cli(
        &[&args[..], &[sample.as_str(), "--explain"]].concat(),
        Duration::from_secs(30),
    );
    assert!(out.success(), "{out}");
    assert!(
        out.stdout.contains(
            "observes 0.004 into nginx_http_response_time_seconds{method=\"GET\",status=\"200\"}"
        ),
        "{out}"
    );
    assert!(out.stdout.contains("1 unmatched"), "{out}");
    let out = run_cli(
        &[&args[..], &[sample.as_str()]].concat(),
        Duration::from_secs(30),
    );
    assert!(
        out.stdout
            .contains("nginx_http_response_count_total{method=\"GET\",status=\"200\"} 2"),
        "{out}"
    );
}
