//! `type = "tail"` with the `nginx_access` recipe against a real nginx writing its access
//! log while requests are made: exact counts per method and status, rotation by rename +
//! `nginx -s reopen`, truncation, a big log at start that is not read, a burst of a
//! million lines with bounded memory, and a restart that resumes from the state file.
//! Every wait is bounded.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::*;

const NGINX: &str = "/usr/sbin/nginx";

/// nginx (one process) writing its access log to `log`: the `timed` format (combined +
/// `$request_time $upstream_response_time`) unless started with another.
pub(crate) struct LoggingNginx {
    _proc: Proc,
    pub(crate) port: u16,
    conf: PathBuf,
    pub(crate) dir: TempDir,
    pub(crate) log: PathBuf,
}

impl LoggingNginx {
    pub(crate) fn start() -> LoggingNginx {
        LoggingNginx::start_with(
            "log_format timed '$remote_addr - $remote_user [$time_local] \"$request\" $status '\n\
             '$body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time $upstream_response_time';",
            "timed",
        )
    }

    /// nginx writing its access log in the format `name`, declared by `log_format` (a
    /// `log_format` directive, or empty for nginx's own `combined`).
    pub(crate) fn start_with(log_format: &str, name: &str) -> LoggingNginx {
        require_binary(NGINX);
        let dir = TempDir::new("nginx-log");
        let port = free_port();
        let d = dir.path().display();
        let conf = dir.write(
            "nginx.conf",
            format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
                 error_log {d}/error.log warn;\nevents {{ worker_connections 128; }}\n\
                 http {{\n{log_format}\n\
                 client_body_temp_path {d}/tb; proxy_temp_path {d}/tp; fastcgi_temp_path {d}/tf;\n\
                 uwsgi_temp_path {d}/tu; scgi_temp_path {d}/ts;\n\
                 server {{\n  listen 127.0.0.1:{port};\n  access_log {d}/access.log {name};\n\
                 location = /ok {{ return 200 \"ok\\n\"; }}\n\
                 location = /missing {{ return 404; }}\n\
                 }}\n}}\n"
            ),
        );
        let mut cmd = Command::new(NGINX);
        cmd.arg("-p").arg(dir.path()).arg("-c").arg(&conf);
        let mut proc_ = Proc::spawn("nginx", cmd, dir.join("nginx.out"));
        proc_.wait_ready(START_TIMEOUT, || {
            try_http_request(port, "GET", "/ok", &[]).is_ok_and(|r| r.status == 200)
        });
        let log = dir.join("access.log");
        LoggingNginx {
            _proc: proc_,
            port,
            conf,
            dir,
            log,
        }
    }

    /// `n` requests of `method` to `path`, each answered with `status`.
    pub(crate) fn requests(&self, method: &str, path: &str, status: u16, n: usize) {
        for _ in 0..n {
            let r = http_request(self.port, method, path, &[]);
            assert_eq!(r.status, status, "{method} {path}");
        }
    }

    /// `nginx -s reopen`: the process reopens its logs (a new file at the path).
    fn reopen(&self) {
        let out = Command::new(NGINX)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(&self.conf)
            .args(["-s", "reopen"])
            .output()
            .unwrap();
        assert!(out.status.success(), "nginx -s reopen: {out:?}");
    }

    /// Lines in the current log and its rotated copies, as nginx wrote them.
    fn lines_written(&self) -> usize {
        [self.log.clone(), self.dir.join("access.log.1")]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|t| t.lines().count())
            .sum()
    }
}

/// An adapter following `log` with `nginx_access`, polling every 100 ms.
pub(crate) fn follow(log: &Path, extra: &str) -> Adapter {
    Adapter::start(&format!(
        "[sources.web]\ntype = \"tail\"\nparser = \"nginx_access\"\npath = {}\n\
         interval = \"100ms\"\ntimeout = \"5s\"\n{extra}",
        toml_str(&log.display().to_string())
    ))
}

/// The value of the series written exactly as `series` on the page, or `None`.
pub(crate) fn series(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

pub(crate) fn count(page: &str, method: &str, status: &str) -> f64 {
    series(
        page,
        &format!("nginx_http_response_count_total{{method=\"{method}\",status=\"{status}\"}}"),
    )
    .unwrap_or(0.0)
}

/// Waits (bounded) until `done` holds for the page; returns that page.
pub(crate) fn wait_page(
    adapter: &Adapter,
    within: Duration,
    done: impl Fn(&str) -> bool,
) -> String {
    let start = Instant::now();
    loop {
        let page = adapter.metrics();
        if done(&page) {
            return page;
        }
        assert!(
            start.elapsed() < within,
            "not reached within {within:?}; page:\n{page}\nadapter log:\n{}",
            adapter.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the adapter is ready (its first follow step happened).
pub(crate) fn wait_ready(adapter: &Adapter) {
    let start = Instant::now();
    while adapter.get("/readyz").status != 200 {
        assert!(start.elapsed() < START_TIMEOUT, "never ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(crate) fn self_metric(page: &str, name: &str) -> f64 {
    series(page, &format!("metrics_adapter_{name}{{source=\"web\"}}")).unwrap_or(-1.0)
}

/// Waits (bounded) until the follower has read the log `n` more times; returns that page.
/// "Nothing more is counted" is checked on it, rather than after a fixed sleep.
fn after_polls(adapter: &Adapter, n: f64) -> String {
    let reads = self_metric(&adapter.metrics(), "source_reads_total");
    assert!(
        reads >= 0.0,
        "no metrics_adapter_source_reads_total for web"
    );
    wait_page(adapter, Duration::from_secs(10), |p| {
        self_metric(p, "source_reads_total") >= reads + n
    })
}

#[test]
fn nginx_access_log_counts_exactly_per_method_and_status() {
    let nginx = LoggingNginx::start();
    nginx.requests("GET", "/ok", 200, 3);
    let adapter = follow(&nginx.log, "");
    wait_ready(&adapter);
    // What was in the log before the adapter started is not counted.
    nginx.requests("GET", "/ok", 200, 5);
    nginx.requests("POST", "/ok", 200, 2);
    nginx.requests("GET", "/missing", 404, 4);
    nginx.requests("HEAD", "/ok", 200, 1);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200")
            + count(p, "POST", "200")
            + count(p, "GET", "404")
            + count(p, "HEAD", "200")
            >= 12.0
    });
    assert_eq!(count(&page, "GET", "200"), 5.0, "{page}");
    assert_eq!(count(&page, "POST", "200"), 2.0);
    assert_eq!(count(&page, "GET", "404"), 4.0);
    assert_eq!(count(&page, "HEAD", "200"), 1.0);
    // "ok\n" is 3 bytes; nginx's 404 page is 153.
    assert_eq!(
        series(
            &page,
            "nginx_http_response_size_bytes{method=\"GET\",status=\"404\"}"
        ),
        Some(4.0 * 153.0)
    );
    assert_eq!(
        series(
            &page,
            "nginx_http_response_size_bytes{method=\"GET\",status=\"200\"}"
        ),
        Some(15.0)
    );
    assert_eq!(
        series(
            &page,
            "nginx_http_response_time_seconds_count{method=\"GET\",status=\"200\"}"
        ),
        Some(5.0)
    );
    assert_eq!(
        series(
            &page,
            "nginx_http_response_time_seconds_bucket{method=\"GET\",status=\"200\",le=\"+Inf\"}"
        ),
        Some(5.0)
    );
    // No upstream: "-", no observation.
    assert!(!page.contains("nginx_http_upstream_time_seconds"), "{page}");
    assert_eq!(self_metric(&page, "source_unmatched_total"), 0.0);
    assert_eq!(self_metric(&page, "source_up"), 1.0);
    promtool_check(&page, &[]);
    let samples = parse_page(&page, false);
    assert_eq!(
        value(
            &samples,
            "nginx_http_response_count_total",
            &[("method", "POST"), ("status", "200")]
        ),
        2.0
    );
    let om = adapter.get_with(
        "/metrics",
        &[("Accept", "application/openmetrics-text; version=1.0.0")],
    );
    parse_page(&om.text(), true);
}

#[test]
fn rotation_by_rename_and_reopen_neither_loses_nor_doubles_a_line() {
    let nginx = LoggingNginx::start();
    let adapter = follow(&nginx.log, "");
    wait_ready(&adapter);
    nginx.requests("GET", "/ok", 200, 4);
    wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200") == 4.0
    });
    std::fs::rename(&nginx.log, nginx.dir.join("access.log.1")).unwrap();
    // Still written to the renamed file until nginx reopens.
    nginx.requests("GET", "/ok", 200, 3);
    nginx.reopen();
    let start = Instant::now();
    while !nginx.log.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "nginx did not reopen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    nginx.requests("GET", "/ok", 200, 5);
    nginx.requests("GET", "/missing", 404, 2);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200") + count(p, "GET", "404") >= 14.0
    });
    // A few more polls: nothing is counted twice.
    let page2 = after_polls(&adapter, 3.0);
    assert_eq!(count(&page, "GET", "200"), 12.0, "{page}");
    assert_eq!(count(&page2, "GET", "200"), 12.0);
    assert_eq!(count(&page2, "GET", "404"), 2.0);
    // The 14, and the request that saw nginx was up (before the adapter started).
    assert_eq!(nginx.lines_written(), 15);
}

#[test]
fn a_truncated_log_is_read_again_from_its_start() {
    let nginx = LoggingNginx::start();
    let adapter = follow(&nginx.log, "");
    wait_ready(&adapter);
    nginx.requests("GET", "/ok", 200, 6);
    wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200") == 6.0
    });
    // copytruncate-style: nginx keeps writing (O_APPEND) at the new end.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&nginx.log)
        .unwrap()
        .set_len(0)
        .unwrap();
    // The follower sees the empty file before nginx writes again.
    after_polls(&adapter, 2.0);
    nginx.requests("GET", "/missing", 404, 2);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "404") == 2.0
    });
    assert_eq!(count(&page, "GET", "200"), 6.0, "{page}");
    assert_eq!(count(&after_polls(&adapter, 2.0), "GET", "404"), 2.0);
}

/// A combined line as nginx writes it.
const LINE: &str = "127.0.0.1 - - [29/Nov/2026:22:40:01 +0000] \"GET /big HTTP/1.1\" 200 612 \"-\" \"curl/7.88.1\" 0.004 -\n";

/// Appends `n` copies of [`LINE`] to `path` in large writes.
fn append_lines(path: &Path, n: usize) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let block = LINE.repeat(10_000);
    for _ in 0..n / 10_000 {
        f.write_all(block.as_bytes()).unwrap();
    }
    f.write_all(LINE.repeat(n % 10_000).as_bytes()).unwrap();
}

/// The adapter's peak resident memory (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

#[test]
fn a_100_mb_log_present_at_start_is_not_read() {
    let dir = TempDir::new("tail-big");
    let log = dir.join("access.log");
    // 100 MB: 1.1M lines.
    append_lines(&log, 100 * 1024 * 1024 / LINE.len() + 1);
    assert!(std::fs::metadata(&log).unwrap().len() >= 100 * 1024 * 1024);
    let start = Instant::now();
    let adapter = follow(&log, "");
    wait_ready(&adapter);
    let page = adapter.metrics();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(self_metric(&page, "source_read_bytes_total"), 0.0, "{page}");
    assert!(!page.contains("nginx_http_response_count_total"), "{page}");
    append_lines(&log, 3);
    let page = wait_page(&adapter, Duration::from_secs(5), |p| {
        count(p, "GET", "200") == 3.0
    });
    assert_eq!(
        self_metric(&page, "source_read_bytes_total"),
        (3 * LINE.len()) as f64
    );
}

/// The bound asserted on the adapter's peak RSS (a debug build) while it counts a 1M-line
/// burst (92 MB): the binary, the runtime, and one 256 KiB read at a time, however big the
/// burst (`max_bytes`, set to 4 MiB here, only bounds a single line).
const BURST_RSS_LIMIT: u64 = 32 * 1024 * 1024;

#[test]
fn a_burst_of_a_million_lines_is_all_counted_in_bounded_memory() {
    let dir = TempDir::new("tail-burst");
    let log = dir.join("access.log");
    append_lines(&log, 0);
    let adapter = follow(&log, "max_bytes = 4194304\n");
    wait_ready(&adapter);
    append_lines(&log, 1_000_000);
    let page = wait_page(&adapter, Duration::from_secs(120), |p| {
        count(p, "GET", "200") >= 1_000_000.0
    });
    assert_eq!(count(&page, "GET", "200"), 1_000_000.0);
    assert_eq!(
        series(
            &page,
            "nginx_http_response_size_bytes{method=\"GET\",status=\"200\"}"
        ),
        Some(612_000_000.0)
    );
    assert_eq!(
        self_metric(&page, "source_read_bytes_total"),
        (1_000_000 * LINE.len()) as f64
    );
    let rss = peak_rss(adapter.pid());
    eprintln!("burst: 1M lines counted, peak RSS {} MiB", rss >> 20);
    assert!(rss < BURST_RSS_LIMIT, "peak RSS {} MiB", rss >> 20);
}

#[test]
fn a_restart_with_a_state_file_neither_recounts_nor_skips() {
    let nginx = LoggingNginx::start();
    let state = nginx.dir.join("tail.state");
    let extra = format!("state_file = {}\n", toml_str(&state.display().to_string()));
    let mut adapter = follow(&nginx.log, &extra);
    wait_ready(&adapter);
    nginx.requests("GET", "/ok", 200, 3);
    wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200") == 3.0
    });
    adapter.terminate(Duration::from_secs(5));
    // Written while the adapter is down: counted once by the next one.
    nginx.requests("POST", "/ok", 200, 2);
    let adapter = follow(&nginx.log, &extra);
    wait_ready(&adapter);
    nginx.requests("GET", "/missing", 404, 1);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "404") == 1.0
    });
    assert_eq!(count(&page, "POST", "200"), 2.0, "{page}");
    assert_eq!(count(&page, "GET", "200"), 0.0, "{page}");
    let text = std::fs::read_to_string(&state).unwrap();
    let offset: u64 = text.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert_eq!(
        offset,
        std::fs::metadata(&nginx.log).unwrap().len(),
        "{text}"
    );
}

#[test]
fn a_log_recipe_needs_a_tail_source_and_a_tail_source_a_log_recipe() {
    let dir = TempDir::new("tail-config");
    let config = dir.write(
        "a.toml",
        "[sources.web]\ntype = \"file\"\npath = \"/x\"\nparser = \"nginx_access\"\n",
    );
    let out = run_cli(
        &["--config", &config.display().to_string(), "check"],
        Duration::from_secs(10),
    );
    assert!(!out.success());
    assert!(
        out.stderr.contains("sources.web.parser: \"nginx_access\" counts the lines of a log as they are appended; use it with type = \"tail\""),
        "{}",
        out.stderr
    );
    let config = dir.write(
        "b.toml",
        "[sources.web]\ntype = \"tail\"\npath = \"/x\"\nparser = \"kv\"\n",
    );
    let out = run_cli(
        &["--config", &config.display().to_string(), "check"],
        Duration::from_secs(10),
    );
    assert!(!out.success());
    assert!(
        out.stderr
            .contains("sources.web.parser: \"kv\" is not a line recipe"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_reload_that_leaves_the_source_as_it_was_keeps_its_counts_and_place() {
    let nginx = LoggingNginx::start();
    let adapter = follow(&nginx.log, "");
    wait_ready(&adapter);
    nginx.requests("GET", "/ok", 200, 3);
    wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200") == 3.0
    });
    // Another source is added; `web` stays as it was.
    let config = std::fs::read_to_string(adapter.config_path()).unwrap();
    let other = nginx.dir.write("other.txt", "other: 7\n");
    std::fs::write(
        adapter.config_path(),
        format!(
            "{config}\n[sources.other]\ntype = \"file\"\nparser = \"kv\"\npath = {}\n",
            toml_str(&other.display().to_string())
        ),
    )
    .unwrap();
    assert!(send_signal("HUP", i64::from(adapter.pid())));
    wait_page(&adapter, Duration::from_secs(10), |p| {
        p.contains("\nother 7")
    });
    nginx.requests("GET", "/ok", 200, 2);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200") >= 5.0
    });
    assert_eq!(count(&page, "GET", "200"), 5.0, "{page}");
    assert_eq!(count(&after_polls(&adapter, 3.0), "GET", "200"), 5.0);
}

#[test]
fn unmatched_lines_unusable_values_and_series_past_the_cap_are_counted() {
    let dir = TempDir::new("tail-counted");
    let log = dir.join("access.log");
    append_lines(&log, 0);
    // Samples: GET's count and bytes are one each, its time histogram 14 (11 buckets,
    // +Inf, sum and count).
    let adapter = follow(&log, "max_series = 16\n");
    wait_ready(&adapter);
    let line = |method: &str, time: &str| {
        format!(
            "127.0.0.1 - - [29/Nov/2026:22:40:01 +0000] \"{method} / HTTP/1.1\" 200 5 \"-\" \"c\" {time} -\n"
        )
    };
    let text = [
        line("GET", "0.010"),
        "not an access log line\n".to_string(),
        // Matches the pattern, but "1.2.3" is no number: the count still counts.
        line("GET", "1.2.3"),
        "\n".to_string(),
        // GET's count, bytes and time histogram are the 16 samples max_series allows:
        // PUT's three values are dropped.
        line("PUT", "0.010"),
        line("GET", "0.020"),
    ]
    .concat();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200") == 3.0
    });
    assert_eq!(self_metric(&page, "source_unmatched_total"), 1.0, "{page}");
    assert_eq!(
        self_metric(&page, "source_parse_errors_total"),
        1.0,
        "{page}"
    );
    assert_eq!(count(&page, "PUT", "200"), 0.0);
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_dropped_series_total{source=\"web\",reason=\"limit\"}"
        ),
        Some(3.0),
        "{page}"
    );
    assert_eq!(
        series(
            &page,
            "nginx_http_response_time_seconds_count{method=\"GET\",status=\"200\"}"
        ),
        Some(2.0)
    );
}

/// An adapter following `log` with `nginx_access`, polling every `every`: long enough
/// for a test to do several things to the log between two polls.
fn follow_every(log: &Path, every: &str) -> Adapter {
    Adapter::start(&format!(
        "[sources.web]\ntype = \"tail\"\nparser = \"nginx_access\"\npath = {}\n\
         interval = {every:?}\ntimeout = \"5s\"\n",
        toml_str(&log.display().to_string())
    ))
}

/// Waits (bounded) until nginx has reopened its log at its path.
fn wait_reopened(nginx: &LoggingNginx) {
    nginx.reopen();
    wait_until("nginx reopens its log", Duration::from_secs(5), || {
        nginx.log.exists()
    });
}

/// `: > access.log`, then a line longer than the old file, all between two polls: the
/// file's first bytes changed, so it is read again from its start (size alone would take
/// it for an appended file and read from the middle of the new line).
#[test]
fn a_truncation_refilled_past_the_old_offset_within_a_poll_is_read_from_its_start() {
    let nginx = LoggingNginx::start();
    let adapter = follow_every(&nginx.log, "2s");
    wait_ready(&adapter);
    nginx.requests("GET", "/ok", 200, 1);
    wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200") == 1.0
    });
    let old = std::fs::metadata(&nginx.log).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&nginx.log)
        .unwrap()
        .set_len(0)
        .unwrap();
    let long = format!("/missing?{}", "x".repeat(old as usize));
    nginx.requests("GET", &long, 404, 1);
    assert!(std::fs::metadata(&nginx.log).unwrap().len() > old);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "404") == 1.0
    });
    assert_eq!(count(&page, "GET", "200"), 1.0, "{page}");
    assert_eq!(self_metric(&page, "source_unmatched_total"), 0.0, "{page}");
}

/// Two rename rotations (`access.log` -> `.1` -> `.2`, nginx reopening each time) between
/// two polls: the middle file is read too, and nothing twice.
#[test]
fn two_rotations_within_a_poll_lose_no_file() {
    let nginx = LoggingNginx::start();
    let adapter = follow_every(&nginx.log, "2s");
    wait_ready(&adapter);
    nginx.requests("GET", "/ok", 200, 1);
    wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200") == 1.0
    });
    let (one, two) = (
        nginx.dir.join("access.log.1"),
        nginx.dir.join("access.log.2"),
    );
    nginx.requests("GET", "/ok", 200, 3);
    std::fs::rename(&nginx.log, &one).unwrap();
    wait_reopened(&nginx);
    nginx.requests("GET", "/missing", 404, 4);
    std::fs::rename(&one, &two).unwrap();
    std::fs::rename(&nginx.log, &one).unwrap();
    wait_reopened(&nginx);
    nginx.requests("POST", "/ok", 200, 5);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "POST", "200") == 5.0
    });
    assert_eq!(
        (count(&page, "GET", "200"), count(&page, "GET", "404")),
        (4.0, 4.0),
        "{page}"
    );
    // Later polls count nothing again.
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        self_metric(p, "source_reads_total") >= self_metric(&page, "source_reads_total") + 2.0
    });
    assert_eq!(
        (
            count(&page, "GET", "200"),
            count(&page, "GET", "404"),
            count(&page, "POST", "200")
        ),
        (4.0, 4.0, 5.0),
        "{page}"
    );
}
