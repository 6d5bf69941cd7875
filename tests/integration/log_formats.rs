//! The access log formats real servers write, read by `nginx_access` and `apache_access`
//! against the real server: nginx's default `main` and `combined`, each with and without the
//! times appended. Every line the server wrote is counted exactly, none unmatched.

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
    counts_every_line(MAIN, "main", false);
    counts_every_line("", "combined", false);
    counts_every_line(&main_timed, "main_timed", true);
    counts_every_line(&combined_timed, "combined_timed", true);
}
