//! Trustworthy numbers, round two (issue 21): the last ways a healthy-looking source served
//! a wrong number or hid a change. Each test is a reproduction that failed before the fix,
//! against the real binary with real writers (the tail cases with real nginx are in
//! `tail.rs`).

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::harness::*;

/// The value of the series written exactly as `series` on a text page, or `None`.
fn series(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn up(page: &str, source: &str) -> Option<f64> {
    series(
        page,
        &format!("metrics_adapter_source_up{{source=\"{source}\"}}"),
    )
}

/// A Python writer running `script` (given `path` as its argument) in the background,
/// killed when dropped; every script ends by itself within its own bound.
struct Writer(Child);

impl Writer {
    fn start(script: &str, path: &Path) -> Writer {
        require_binary(PYTHON);
        let child = Command::new(PYTHON)
            .arg("-c")
            .arg(script)
            .arg(path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the writer");
        Writer(child)
    }

    /// A `sh -c script` writer, given `path` as `$0`.
    fn sh(script: &str, path: &Path) -> Writer {
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(path)
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn the writer");
        Writer(child)
    }

    fn finished(&mut self) -> bool {
        self.0.try_wait().ok().flatten().is_some()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The issue's writer: truncates in place, writes `a: 1\nb: 2`, pauses 50 ms, writes
/// `5\nc: 3\n`, pauses 50 ms; for 4 s.
const PAUSED_WRITER: &str = r#"
import sys, time
end = time.time() + 4
with open(sys.argv[1], "r+") as f:
    while time.time() < end:
        f.seek(0); f.truncate(); f.write("a: 1\nb: 2"); f.flush()
        time.sleep(0.05)
        f.write("5\nc: 3\n"); f.flush()
        time.sleep(0.05)
"#;

/// A writer that pauses mid-line is never served: no page has `b 2` (or no `c`) with up 1.
#[test]
fn a_writer_paused_mid_line_is_never_served() {
    let data = TempDir::new("trust2-paused");
    let file = data.write("stats.txt", "a: 1\nb: 25\nc: 3\n");
    let adapter = Adapter::start(&format!(
        "[sources.app]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n",
        toml_str(&file.display().to_string())
    ));
    assert_eq!(up(&adapter.metrics(), "app"), Some(1.0));
    let mut writer = Writer::start(PAUSED_WRITER, &file);
    let (mut pages, mut served, mut wrong) = (0, 0, Vec::new());
    while !writer.finished() && pages < 2000 {
        let page = adapter.metrics();
        pages += 1;
        if up(&page, "app") != Some(1.0) {
            continue;
        }
        served += 1;
        let got = (series(&page, "b"), series(&page, "c"));
        if got != (Some(25.0), Some(3.0)) {
            wrong.push(got);
        }
    }
    assert!(pages >= 20, "only {pages} pages");
    assert!(
        wrong.is_empty(),
        "{} of {served} pages served {:?}",
        wrong.len(),
        wrong.first()
    );
    assert!(served > 0, "no page of {pages} was served up");
}

/// A page cannot write Prometheus' own `up` and `scrape_*` series: dropped and counted.
#[test]
fn prometheus_own_names_are_reserved() {
    let data = TempDir::new("trust2-up");
    let page = data.write(
        "other-exporter.prom",
        "# TYPE up gauge\nup 0\nscrape_duration_seconds 3.5\nscrape_samples_scraped 9\n\
         scraper_queue 4\nreal 3\n",
    );
    let adapter = Adapter::start(&format!(
        "[sources.app]\ntype = \"file\"\npath = {}\nparser = \"prometheus\"\n",
        toml_str(&page.display().to_string())
    ));
    let text = adapter.metrics();
    let s = parse_page(&text, false);
    assert_eq!(value(&s, "real", &[]), 3.0);
    // Only the adapter's own names are reserved, not every name that starts alike.
    assert_eq!(value(&s, "scraper_queue", &[]), 4.0);
    for name in ["up", "scrape_duration_seconds", "scrape_samples_scraped"] {
        assert!(find(&s, name, &[]).is_none(), "{name} on the page:\n{text}");
    }
    assert_eq!(
        value(
            &s,
            "metrics_adapter_source_dropped_series_total",
            &[("source", "app"), ("reason", "reserved")]
        ),
        3.0
    );
}

/// A recipe whose lines are `name: value`, reading `requests` and `queue_depth`.
const APP_RECIPE: &str = r#"description = "an app's own status file"
format = "regex"
[[regex.rule]]
pattern = '^requests: (?P<value>[0-9]+)$'
record_key = "requests"
[[regex.rule]]
pattern = '^queue (?P<queue>[a-z]+): (?P<value>[0-9]+)$'
record_key = "queue_depth"
[mapping]
prefix = "app_"
required = ["requests", 'queue_depth{queue="high"}']
"#;

fn app_adapter(data: &TempDir, status: &Path) -> Adapter {
    let recipes = data.mkdir("recipes");
    fs::write(recipes.join("app.toml"), APP_RECIPE).unwrap();
    Adapter::start(&format!(
        "[parsers]\ndirs = [{}]\n[sources.app]\ntype = \"file\"\npath = {}\nparser = \"app\"\n",
        toml_str(&recipes.display().to_string()),
        toml_str(&status.display().to_string())
    ))
}

/// A line that stops matching shows on `/` (count and first line, escaped) and is logged
/// once per change at warn, not on every read.
#[test]
fn an_unmatched_line_shows_on_the_status_page_and_is_logged_once() {
    let data = TempDir::new("trust2-drift");
    let status = data.write("status.txt", "requests: 7\nqueue high: 2\nqueue low: 1\n");
    let adapter = app_adapter(&data, &status);
    assert_eq!(up(&adapter.metrics(), "app"), Some(1.0));
    let html = adapter.get("/").text();
    assert!(!html.contains("unmatched"), "{html}");
    fs::write(
        &status,
        "requests: 8\nqueue high: 2\nqueue low: 1\nQueue <b>urgent</b>: 5\n",
    )
    .unwrap();
    for _ in 0..5 {
        let page = adapter.metrics();
        assert_eq!(up(&page, "app"), Some(1.0));
        assert_eq!(series(&page, "app_requests"), Some(8.0));
    }
    let html = adapter.get("/").text();
    assert!(
        html.contains(
            "up; unmatched input: 5 in all (read, but no rule used it), latest first: \
             line 4: no rule matches &quot;Queue &lt;b&gt;urgent&lt;/b&gt;: 5&quot;"
        ),
        "{html}"
    );
    assert!(!html.contains("<b>urgent"), "not escaped: {html}");
    let warned = |log: &str, what: &str| {
        log.lines()
            .filter(|l| l.contains("WARN") && l.contains("unmatched") && l.contains(what))
            .count()
    };
    assert_eq!(
        warned(&adapter.stderr(), "urgent"),
        1,
        "{}",
        adapter.stderr()
    );
    // Another line: logged once more.
    fs::write(
        &status,
        "requests: 9\nqueue high: 2\nqueue low: 1\nQueue later: 5\n",
    )
    .unwrap();
    for _ in 0..3 {
        adapter.metrics();
    }
    let log = adapter.stderr();
    assert_eq!(warned(&log, "later"), 1, "{log}");
    assert_eq!(warned(&log, "urgent"), 1, "{log}");
}

/// `required` names a series with labels as well as a key: a read without
/// `queue_depth{queue="high"}` (the recipe's prefix may be left out) is down, naming it.
#[test]
fn required_names_a_series_with_labels() {
    let data = TempDir::new("trust2-required");
    let status = data.write("status.txt", "requests: 7\nqueue high: 2\nqueue low: 1\n");
    let adapter = app_adapter(&data, &status);
    let page = adapter.metrics();
    assert_eq!(up(&page, "app"), Some(1.0), "{page}\n{}", adapter.stderr());
    assert_eq!(series(&page, "app_queue_depth{queue=\"high\"}"), Some(2.0));
    fs::write(&status, "requests: 8\nqueue low: 1\n").unwrap();
    assert_eq!(up(&adapter.metrics(), "app"), Some(0.0));
    let html = adapter.get("/").text();
    assert!(
        html.contains("required keys missing: queue_depth{queue=&quot;high&quot;}"),
        "{html}"
    );
    // A malformed one is a recipe error naming the key.
    let bad = data.mkdir("bad");
    fs::write(
        bad.join("app.toml"),
        APP_RECIPE.replace("{queue=\"high\"}", "{queue=high}"),
    )
    .unwrap();
    let out = run_cli(
        &[
            "parse",
            &bad.join("app.toml").display().to_string(),
            &status.display().to_string(),
        ],
        Duration::from_secs(20),
    );
    assert!(!out.success(), "{out}");
    assert!(out.stderr.contains("mapping.required[1]"), "{out}");
}

/// `parse RECIPE FILE` reaches the verdict a source reading FILE does: `parse meminfo` on
/// an append log of whole dumps fails with the source's reason, in a few lines.
#[test]
fn parse_reaches_the_sources_verdict_on_an_append_log() {
    let data = TempDir::new("trust2-parse");
    let log = data.join("meminfo.log");
    for _ in 0..3 {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{{ date; cat /proc/meminfo; }} >> '{}'",
                log.display()
            ))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let adapter = Adapter::start(&format!(
        "[sources.mem]\ntype = \"file\"\npath = {}\nparser = \"meminfo\"\n",
        toml_str(&log.display().to_string())
    ));
    assert_eq!(up(&adapter.metrics(), "mem"), Some(0.0));
    let reason = "it looks like an append log of whole dumps";
    assert!(adapter.get("/").text().contains(reason));
    let out = run_cli(
        &["parse", "meminfo", &log.display().to_string()],
        Duration::from_secs(20),
    );
    assert!(!out.success(), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    assert!(out.stderr.contains(reason), "{out}");
    assert!(out.stderr.lines().count() <= 3, "{out}");
}

/// A file whose last line has no newline: the source is down saying so (after re-reading
/// within its timeout), and `parse` on the file says the same.
#[test]
fn parse_and_the_source_agree_on_a_last_line_without_newline() {
    let data = TempDir::new("trust2-unended");
    let file = data.write("stats.txt", "hits: 5\nmisses: 1");
    let adapter = Adapter::start(&format!(
        "[sources.app]\ntype = \"file\"\npath = {}\nparser = \"kv\"\ntimeout = \"1s\"\n",
        toml_str(&file.display().to_string())
    ));
    assert_eq!(up(&adapter.metrics(), "app"), Some(0.0));
    let reason = "its last line has no newline: a writer stopped mid-line";
    let html = adapter.get("/").text();
    assert!(html.contains(reason), "{html}");
    let path = file.display().to_string();
    let out = run_cli(&["parse", "kv", &path], Duration::from_secs(20));
    assert!(!out.success(), "{out}");
    assert!(out.stderr.contains(reason), "{out}");
    // Ended, it is served.
    fs::write(&file, "hits: 5\nmisses: 1\n").unwrap();
    let page = adapter.metrics();
    assert_eq!(up(&page, "app"), Some(1.0));
    assert_eq!(series(&page, "misses"), Some(1.0));
}

fn warnings(log: &str, what: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("WARN") && l.contains(what))
        .count()
}

/// A stale source is logged once, not on every scrape (its age changes each second); its
/// recovery is logged at info with how long it was down.
#[test]
fn a_stale_source_is_logged_once_and_its_recovery_at_info() {
    let data = TempDir::new("trust2-stale-log");
    let file = data.write("stats.txt", "hits: 5\n");
    let old = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let adapter = Adapter::start(&format!(
        "[sources.app]\ntype = \"file\"\npath = {}\nparser = \"kv\"\nmax_age = \"10m\"\n",
        toml_str(&file.display().to_string())
    ));
    // Scrapes over more than 2 s: the age in the error changes at least twice.
    let start = Instant::now();
    let mut pages = 0;
    while start.elapsed() < Duration::from_millis(2300) {
        assert_eq!(up(&adapter.metrics(), "app"), Some(0.0));
        pages += 1;
    }
    assert!(pages >= 3);
    let log = adapter.stderr();
    assert_eq!(warnings(&log, "source down"), 1, "{log}");
    fs::write(&file, "hits: 6\n").unwrap();
    assert_eq!(up(&adapter.metrics(), "app"), Some(1.0));
    let log = adapter.stderr();
    let line = log
        .lines()
        .find(|l| l.contains("source up again after"))
        .unwrap_or_else(|| panic!("no recovery line:\n{log}"));
    assert!(line.contains("INFO") && line.contains(" s down"), "{line}");
}

/// A tail state file that cannot be written is warned about once, not at every poll.
#[test]
fn an_unwritable_tail_state_file_is_warned_about_once() {
    let data = TempDir::new("trust2-state");
    let log = data.write("access.log", "");
    let state = data.join("no-such-dir/state");
    let adapter = Adapter::start(&format!(
        "[sources.web]\ntype = \"tail\"\nparser = \"nginx_access\"\npath = {}\n\
         state_file = {}\ninterval = \"100ms\"\n",
        toml_str(&log.display().to_string()),
        toml_str(&state.display().to_string())
    ));
    let line = "127.0.0.1 - - [29/Nov/2026:22:40:01 +0000] \"GET / HTTP/1.1\" 200 3 \"-\" \"t\"\n";
    // Five advances, each seen by a poll: five failed saves.
    for n in 1..=5 {
        let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
        std::io::Write::write_all(&mut f, line.as_bytes()).unwrap();
        let want = format!("nginx_http_response_count_total{{method=\"GET\",status=\"200\"}} {n}");
        wait_until("the line counted", Duration::from_secs(10), || {
            adapter.metrics().contains(&want)
        });
    }
    let log = adapter.stderr();
    assert_eq!(warnings(&log, "tail state file not written"), 1, "{log}");
}

/// Rewrites `a: N\nb: N\nc: N\n` in place for 20 s, N growing, cut at a random byte with
/// a random pause (up to 80 ms) in the middle of each write.
const PAUSING_REWRITER: &str = r#"
import random, sys, time
end = time.time() + 20
n = 1000000
with open(sys.argv[1], "r+") as f:
    while time.time() < end:
        n += 1
        text = "a: %d\nb: %d\nc: %d\n" % (n, n, n)
        cut = random.randint(1, len(text) - 1)
        f.seek(0); f.truncate(); f.write(text[:cut]); f.flush()
        time.sleep(random.uniform(0, 0.08))
        f.write(text[cut:]); f.flush()
        time.sleep(random.uniform(0, 0.03))
"#;

/// An access log line with its own number (so no two files start alike, as in real logs).
fn numbered_line(n: usize) -> String {
    format!(
        "127.0.0.{} - - [07/Dec/2026:08:00:00 +0000] \"GET /item/{n} HTTP/1.1\" 200 5 \"-\" \"soak\" 0.001 -\n",
        n % 250
    )
}

/// Soak: the seed's append writer (`{ date -Is; cat /proc/meminfo; } >> f`), an in-place
/// rewriter that pauses mid-write, and a followed log that is truncated (copytruncate
/// style) and at once refilled past its old size, while pages are read as fast as they
/// come, for 20 s. No page serves a torn value with up 1 (a whole block, a, b and c equal,
/// nothing going back), the log's count never passes what was written, and at the end it
/// is exact.
#[test]
fn soak_a_pausing_rewriter_and_a_truncated_log_never_serve_a_wrong_number() {
    let data = TempDir::new("trust2-soak");
    let file = data.write("stats.txt", "a: 1000000\nb: 1000000\nc: 1000000\n");
    let log = data.write("access.log", "");
    let blocks = data.join("meminfo.log");
    let appender = "{ date -Is; cat /proc/meminfo; } >> \"$0\"";
    let run_sh = |script: String| {
        let status = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&blocks)
            .status();
        assert!(status.unwrap().success());
    };
    run_sh(appender.to_string());
    let adapter = Adapter::start(&format!(
        "[sources.app]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n\
         [sources.web]\ntype = \"tail\"\nparser = \"nginx_access\"\npath = {}\ninterval = \"100ms\"\n\
         [sources.blocks]\ntype = \"file\"\npath = {}\nparser = \"meminfo_appended\"\n",
        toml_str(&file.display().to_string()),
        toml_str(&log.display().to_string()),
        toml_str(&blocks.display().to_string())
    ));
    let mut writer = Writer::start(PAUSING_REWRITER, &file);
    let mut seed = Writer::sh(
        &format!(
            "end=$(( $(date +%s) + 20 )); while [ $(date +%s) -lt $end ]; do {appender}; \
             sleep 0.01; done"
        ),
        &blocks,
    );
    wait_until("the log followed", Duration::from_secs(10), || {
        adapter.get("/readyz").status == 200
    });
    let keys = fs::read_to_string("/proc/meminfo").unwrap().lines().count();
    let (mut last_ts, mut blocks_served) = (0.0, 0);
    let counted = |page: &str| {
        series(
            page,
            "nginx_http_response_count_total{method=\"GET\",status=\"200\"}",
        )
        .unwrap_or(0.0) as usize
    };
    let append = |from: usize, n: usize| {
        let text: String = (from..from + n).map(numbered_line).collect();
        let mut f = fs::OpenOptions::new().append(true).open(&log).unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
    };
    let (mut pages, mut served, mut last_a, mut written, mut truncations) = (0, 0, 0.0, 0, 0);
    while !writer.finished() && pages < 20_000 {
        let page = adapter.metrics();
        pages += 1;
        if up(&page, "app") == Some(1.0) {
            served += 1;
            let a = series(&page, "a").unwrap_or(-1.0);
            let abc = (Some(a), series(&page, "b"), series(&page, "c"));
            assert_eq!(
                abc,
                (Some(a), Some(a), Some(a)),
                "page {pages}: a torn read"
            );
            assert!(a >= last_a, "page {pages}: a went back {last_a} -> {a}");
            last_a = a;
        }
        assert_eq!(up(&page, "web"), Some(1.0), "page {pages}");
        if up(&page, "blocks") == Some(1.0) {
            let memory = page
                .lines()
                .filter(|l| l.starts_with("node_memory_"))
                .count();
            assert_eq!(memory, keys, "page {pages}: a torn block");
            let ts = series(&page, "meminfo_block_timestamp_seconds").unwrap_or(0.0);
            assert!(ts >= last_ts, "page {pages}: block time went back");
            last_ts = ts;
            blocks_served += 1;
        }
        let n = counted(&page);
        assert!(n <= written, "page {pages}: {n} counted, {written} written");
        if n == written {
            // All counted: truncate and at once write more than the file held.
            let old = fs::metadata(&log).unwrap().len() as usize;
            fs::OpenOptions::new()
                .write(true)
                .open(&log)
                .unwrap()
                .set_len(0)
                .unwrap();
            let more = old / numbered_line(written).len() + 2;
            append(written, more);
            written += more;
            truncations += 1;
        } else if pages % 2 == 0 {
            append(written, 3);
            written += 3;
        }
    }
    wait_until("the writers end", Duration::from_secs(10), || {
        seed.finished()
    });
    let page = {
        let start = Instant::now();
        loop {
            let page = adapter.metrics();
            if counted(&page) >= written || start.elapsed() > Duration::from_secs(10) {
                break page;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    eprintln!(
        "soak: {pages} pages, {served} served up for the rewritten file, {blocks_served} for \
         the append log, {written} log lines with {truncations} truncations"
    );
    assert!(
        blocks_served >= 50,
        "only {blocks_served} pages served the append log"
    );
    assert_eq!(counted(&page), written, "{page}");
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_unmatched_total{source=\"web\"}"
        ),
        Some(0.0)
    );
    assert!(
        served >= 50,
        "only {served} of {pages} pages served the rewritten file"
    );
    assert!(truncations >= 10, "only {truncations} truncations");
}
