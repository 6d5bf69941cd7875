//! What a scrape costs the app: `HEAD /metrics` reads nothing, and Prometheus' scrape
//! timeout (`X-Prometheus-Scrape-Timeout-Seconds`) bounds the source reads, so a slow app
//! gives `up 0` on a page that arrives in time instead of a failed scrape.

use std::fs;
use std::time::{Duration, Instant};

use crate::harness::*;

/// Lines the exec source's command appended to `reads`: one per read of the source.
fn reads(file: &std::path::Path) -> usize {
    fs::read_to_string(file).map_or(0, |t| t.lines().count())
}

#[test]
fn head_metrics_reads_no_source() {
    let data = TempDir::new("head");
    let counter = data.join("reads.txt");
    let script = format!("echo read >> '{}'; echo v: 1", counter.display());
    let config = format!(
        "[sources.counted]\ntype = \"exec\"\ncommand = [\"sh\", \"-c\", {}]\nparser = \"kv\"\n",
        toml_str(&script)
    );
    let adapter = Adapter::start(&config);
    for accept in ["", "application/openmetrics-text; version=1.0.0"] {
        let r = adapter.request("HEAD", "/metrics", &[("Accept", accept)]);
        assert_eq!(r.status, 200);
        let expected = if accept.is_empty() {
            "text/plain; version=0.0.4; charset=utf-8"
        } else {
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        };
        assert_eq!(r.header("content-type"), Some(expected));
    }
    assert_eq!(reads(&counter), 0, "HEAD read the source");
    // A GET does read it, once: the counter above counts reads.
    let s = adapter.samples();
    assert_eq!(value(&s, "v", &[]), 1.0);
    assert_eq!(reads(&counter), 1);
}

#[test]
fn scrape_timeout_header_bounds_a_slow_source() {
    let hang = Hanging::start();
    let data = TempDir::new("budget");
    let good = data.write("good.txt", "value: 7\n");
    // The sources' own timeout is far longer than Prometheus would wait.
    let config = format!(
        "[sources.good]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n\n\
         [sources.hang_tcp]\ntype = \"tcp\"\naddress = \"127.0.0.1:{hp}\"\nsend = \"stats\\r\\n\"\nparser = \"kv\"\ntimeout = \"20s\"\n\n\
         [sources.hang_http]\ntype = \"http\"\nurl = \"http://127.0.0.1:{hp}/status\"\nparser = \"kv\"\ntimeout = \"20s\"\n",
        toml_str(&good.display().to_string()),
        hp = hang.port
    );
    let adapter = Adapter::start(&config);
    for round in 1..=2 {
        let start = Instant::now();
        let r = adapter.get_with("/metrics", &[("X-Prometheus-Scrape-Timeout-Seconds", "3")]);
        let took = start.elapsed();
        assert_eq!(r.status, 200);
        // 3 s less the 10% margin (2.7 s): within the 3 s Prometheus waits.
        assert!(
            took >= Duration::from_millis(2650) && took < Duration::from_secs(3),
            "scrape {round} took {took:?} with a 3 s scrape timeout"
        );
        let s = parse_page(&r.text(), false);
        assert_eq!(source_up(&s, "good"), 1.0);
        assert_eq!(value(&s, "value", &[]), 7.0);
        assert_eq!(source_up(&s, "hang_tcp"), 0.0);
        assert_eq!(source_up(&s, "hang_http"), 0.0);
    }
    let status = adapter.get("/").text();
    assert!(status.contains("timed out after 2.7s"), "{status}");
    // Without the header, the sources' own timeout holds: the read is still in flight
    // after the scrape budget would have ended.
    let port = adapter.port;
    let scrape = std::thread::spawn(move || http_get(port, "/metrics").status);
    std::thread::sleep(Duration::from_millis(3500));
    assert!(
        !scrape.is_finished(),
        "a scrape without the header ended early"
    );
}
