//! Faults and hot reload: a misbehaving source marks only itself down (or has its bad values
//! dropped and counted), the page still answers 200 within the timeout, nothing is reported
//! that the source did not say; `SIGHUP` and `POST /-/reload` swap the config whole, and a
//! broken new config leaves the old one serving.

use std::fs;
use std::time::{Duration, Instant};

use crate::harness::*;

/// A `file` source named `name` reading `path` with the generic `kv` parser.
fn kv_file(name: &str, path: &std::path::Path) -> String {
    format!(
        "[sources.{name}]\ntype = \"file\"\npath = {}\nparser = \"kv\"\ntimeout = \"2s\"\n",
        toml_str(&path.display().to_string())
    )
}

fn parse_errors(s: &[ParsedSample], source: &str) -> f64 {
    value(
        s,
        "metrics_adapter_source_parse_errors_total",
        &[("source", source)],
    )
}

#[test]
fn reload_by_sighup_and_http_keeps_the_old_config_when_the_new_one_is_broken() {
    let data = TempDir::new("reload");
    let a = data.write("a.txt", "value: 1\n");
    let b = data.write("b.txt", "other: 2\n");
    // Without the flag, /-/reload is refused (as in Prometheus); SIGHUP still reloads.
    let closed = Adapter::start(&kv_file("a", &a));
    assert_eq!(closed.request("POST", "/-/reload", &[]).status, 403);
    drop(closed);
    let adapter = Adapter::start_with(Some(&kv_file("a", &a)), &["--web.enable-lifecycle"]);
    let s = adapter.samples();
    assert_eq!(value(&s, "value", &[]), 1.0);
    assert_eq!(
        value(&s, "metrics_adapter_config_last_reload_successful", &[]),
        1.0
    );
    let loaded_at = value(
        &s,
        "metrics_adapter_config_last_reload_success_timestamp_seconds",
        &[],
    );
    assert!(find(&s, "other", &[]).is_none());

    // SIGHUP: a second source appears.
    fs::write(
        adapter.config_path(),
        format!("{}{}", kv_file("a", &a), kv_file("b", &b)),
    )
    .expect("rewrite config");
    // The reload must be stamped later than the first load, even on a coarse clock.
    wait_until(
        "the clock to pass the first load",
        Duration::from_secs(5),
        || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .is_ok_and(|t| t.as_secs_f64() > loaded_at)
        },
    );
    assert!(send_signal("HUP", i64::from(adapter.pid())));
    let s = wait_for("the reloaded config", Duration::from_secs(10), || {
        let s = adapter.samples();
        find(&s, "other", &[]).is_some().then_some(s)
    });
    assert_eq!(value(&s, "other", &[]), 2.0);
    assert_eq!(source_up(&s, "b"), 1.0);
    assert!(
        value(
            &s,
            "metrics_adapter_config_last_reload_success_timestamp_seconds",
            &[]
        ) > loaded_at
    );

    // A broken config (unknown key): rejected with the file, key and reason; the old serves.
    fs::write(
        adapter.config_path(),
        format!("{}colour = \"blue\"\n", kv_file("a", &a)),
    )
    .expect("rewrite config");
    let r = adapter.request("POST", "/-/reload", &[]);
    assert_eq!(r.status, 500, "{}", r.text());
    let why = r.text();
    assert!(
        why.contains("config.toml") && why.contains("colour"),
        "reload error should name the file and the key: {why}"
    );
    let s = adapter.samples();
    assert_eq!(value(&s, "other", &[]), 2.0, "the old config still serves");
    assert_eq!(
        value(&s, "metrics_adapter_config_last_reload_successful", &[]),
        0.0
    );
    assert!(adapter.stderr().contains("reload failed"));

    // A syntax error on a line holding a secret: the answer and the log name the line, and
    // never quote it.
    fs::write(
        adapter.config_path(),
        format!("{}token = Tk-8f3e-unquoted\n", kv_file("a", &a)),
    )
    .expect("rewrite config");
    let r = adapter.request("POST", "/-/reload", &[]);
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.text().contains("at line"), "{}", r.text());
    assert!(!r.text().contains("Tk-8f3e"), "{}", r.text());
    assert!(!adapter.stderr().contains("Tk-8f3e"));

    // A config naming a parser that does not exist is rejected too.
    fs::write(
        adapter.config_path(),
        kv_file("a", &a).replace("\"kv\"", "\"no_such_parser\""),
    )
    .expect("rewrite config");
    assert_eq!(adapter.request("PUT", "/-/reload", &[]).status, 500);
    assert_eq!(value(&adapter.samples(), "other", &[]), 2.0);

    // Fixed: back to one source, and successful again.
    fs::write(adapter.config_path(), kv_file("a", &a)).expect("rewrite config");
    let r = adapter.request("POST", "/-/reload", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let s = adapter.samples();
    assert!(find(&s, "other", &[]).is_none());
    assert_eq!(
        value(&s, "metrics_adapter_config_last_reload_successful", &[]),
        1.0
    );
    assert_eq!(adapter.get("/-/reload").status, 405);
}

#[test]
fn http_errors_and_oversized_bodies_mark_only_that_source_down() {
    let nginx = Nginx::start();
    nginx.write_file("big.txt", "x: 1\n".repeat(400_000)); // 2 MB of valid lines
    let data = TempDir::new("faults-http");
    let good = data.write("good.txt", "value: 7\n");
    let config = format!(
        "{}\
         [sources.e500]\ntype = \"http\"\nurl = {}\nparser = \"kv\"\ntimeout = \"2s\"\n\
         [sources.e404]\ntype = \"http\"\nurl = {}\nparser = \"kv\"\ntimeout = \"2s\"\n\
         [sources.huge]\ntype = \"http\"\nurl = {}\nparser = \"kv\"\ntimeout = \"2s\"\nmax_bytes = 1048576\n",
        kv_file("good", &good),
        toml_str(&nginx.url("/status500")),
        toml_str(&nginx.url("/files/missing.txt")),
        toml_str(&nginx.url("/files/big.txt")),
    );
    let adapter = Adapter::start(&config);
    let start = Instant::now();
    let page = adapter.metrics();
    assert!(start.elapsed() < Duration::from_secs(3));
    let s = parse_page(&page, false);
    assert_eq!(source_up(&s, "good"), 1.0);
    assert_eq!(value(&s, "value", &[]), 7.0);
    for down in ["e500", "e404", "huge"] {
        assert_eq!(source_up(&s, down), 0.0, "{down}");
    }
    // Nothing from the cut body: not a prefix of it, not a partial count.
    assert!(
        find(&s, "x", &[]).is_none(),
        "a cut body must not be parsed"
    );
    let status = adapter.get("/").text();
    assert!(status.contains("500"), "{status}");
    assert!(status.contains("1048576"), "{status}");
}

#[test]
fn bad_values_are_dropped_and_counted_never_reported() {
    let data = TempDir::new("faults-values");
    // Invalid UTF-8, words, NaN / infinities, huge and negative numbers, a duplicate key;
    // then half a line at the end.
    let mut bytes =
        b"good: 5\nword: lots\nneg: -12.5\nhuge: 1e300\nnan: NaN\ninf: +Inf\nminf: -Inf\n".to_vec();
    bytes.extend_from_slice(b"bad\xff\xfe: 3\nutf: \xc3\x28\n");
    bytes.extend_from_slice(b"dup: 1\ndup: 2\n");
    let f = data.write("values.txt", &bytes);
    let adapter = Adapter::start(&kv_file("v", &f));
    let page = adapter.metrics();
    promtool_check_syntax(&page);
    let s = parse_page(&page, false);
    assert_eq!(source_up(&s, "v"), 1.0);
    assert_eq!(value(&s, "good", &[]), 5.0);
    assert_eq!(value(&s, "neg", &[]), -12.5);
    assert_eq!(value(&s, "huge", &[]), 1e300);
    assert!(value(&s, "nan", &[]).is_nan());
    assert_eq!(value(&s, "inf", &[]), f64::INFINITY);
    assert_eq!(value(&s, "minf", &[]), f64::NEG_INFINITY);
    assert!(find(&s, "word", &[]).is_none(), "a word is not a number");
    assert!(
        find(&s, "utf", &[]).is_none(),
        "invalid UTF-8 is not a number"
    );
    // One series per name: the first value is kept (the family set's rule), the second
    // counted as a duplicate; never a sum (1 + 2) nor the last.
    let dups: Vec<f64> = s
        .iter()
        .filter(|x| x.name == "dup")
        .map(|x| x.value)
        .collect();
    assert_eq!(dups, [1.0], "the first of `dup: 1`, `dup: 2`");
    assert!(
        parse_errors(&s, "v") >= 3.0,
        "word, utf and the duplicate are counted: {}",
        parse_errors(&s, "v")
    );
    // Every name on the page is a valid one (the invalid-UTF-8 key was cleaned or dropped).
    for x in &s {
        assert!(
            x.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{}",
            x.name
        );
    }
    // Half a line at the end (`half: 12` being written): the read is torn, never served.
    bytes.extend_from_slice(b"half: 1");
    std::fs::write(&f, &bytes).unwrap();
    assert_eq!(source_up(&adapter.samples(), "v"), 0.0);
    assert!(adapter
        .get("/")
        .text()
        .contains("its last line has no newline"));
}

#[test]
fn non_utf8_label_values_come_out_valid() {
    let data = TempDir::new("faults-labels");
    let recipes = TempDir::new("recipes");
    recipes.write(
        "lbl.toml",
        "description = \"test: labels from data\"\nformat = \"regex\"\n\n\
         [[regex.rule]]\npattern = '^(?P<name>\\S+) (?P<value>\\d+)$'\nrecord_key = \"hits\"\n\n\
         [mapping]\nprefix = \"t_\"\n",
    );
    let f = data.write("labels.txt", b"caf\xc3\xa9 1\nbad\xff 2\n");
    let adapter = Adapter::start(&format!(
        "[parsers]\ndirs = [{}]\n[sources.l]\ntype = \"file\"\npath = {}\nparser = \"lbl\"\n",
        toml_str(&recipes.path().display().to_string()),
        toml_str(&f.display().to_string())
    ));
    let page = adapter.metrics();
    promtool_check_syntax(&page);
    let s = parse_page(&page, false);
    assert_eq!(value(&s, "t_hits", &[("name", "café")]), 1.0);
    // The invalid byte becomes U+FFFD (as a lossy UTF-8 read does); the value is kept.
    assert_eq!(value(&s, "t_hits", &[("name", "bad\u{fffd}")]), 2.0);
}

/// Bounded soak: concurrent scrapes for a fixed time while one source flaps between up and
/// down; every scrape answers 200 and the adapter's memory stays flat.
#[test]
fn soak_concurrent_scrapes_with_a_flapping_source() {
    let data = TempDir::new("soak");
    let steady = data.write("steady.txt", "value: 1\n");
    let flappy = data.join("flappy.txt");
    let adapter = Adapter::start(&format!(
        "{}{}",
        kv_file("steady", &steady),
        kv_file("flappy", &flappy)
    ));
    let rss = |pid: u32| -> u64 {
        fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    };
    let soak = Duration::from_secs(
        std::env::var("SOAK_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
    );
    let port = adapter.port;
    let run = |until: Instant| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(move || {
                    let (mut ok, mut failed) = (0u64, 0u64);
                    while Instant::now() < until {
                        match try_http_request(port, "GET", "/metrics", &[]) {
                            Ok(r) if r.status == 200 => ok += 1,
                            _ => failed += 1,
                        }
                    }
                    (ok, failed)
                })
            })
            .collect();
        let mut flips = 0u64;
        while Instant::now() < until {
            if flips % 2 == 0 {
                fs::write(&flappy, format!("n: {flips}\n")).expect("write");
            } else {
                let _ = fs::remove_file(&flappy);
            }
            flips += 1;
            std::thread::sleep(Duration::from_millis(50));
        }
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    };
    // Warm up (allocator arenas, buffers), then measure over the soak.
    let warm = run(Instant::now() + Duration::from_secs(2));
    let before = rss(adapter.pid());
    let (ok, failed) = run(Instant::now() + soak);
    let after = rss(adapter.pid());
    assert_eq!(failed + warm.1, 0, "failed scrapes");
    assert!(ok > 100, "only {ok} scrapes in {soak:?}");
    assert!(before > 0 && after > 0);
    assert!(
        after as f64 <= before as f64 * 1.10 + 512.0,
        "RSS grew from {before} kB to {after} kB over {ok} scrapes"
    );
    let s = adapter.samples();
    assert_eq!(source_up(&s, "steady"), 1.0);
    assert!(
        sum(
            &s,
            "metrics_adapter_source_read_failures_total",
            &[("source", "flappy")]
        ) > 0.0
    );
}

/// The http source keeps its connection for the next fetch, and a kept connection the
/// server closed meanwhile costs nothing: the fetch is retried on a fresh one.
#[test]
fn http_keep_alive_is_reused_and_a_stale_one_is_retried() {
    // Real nginx: two scrapes, one accepted connection.
    let nginx = Nginx::start();
    let adapter = Adapter::start(&format!(
        "[sources.n]\ntype = \"http\"\nurl = {}\nparser = \"nginx_stub_status\"\n",
        toml_str(&nginx.url("/stub_status"))
    ));
    let first = adapter.samples();
    let second = adapter.samples();
    let accepted = |s: &[ParsedSample]| value(s, "nginx_connections_accepted", &[]);
    let requests = |s: &[ParsedSample]| value(s, "nginx_http_requests_total", &[]);
    assert_eq!(
        accepted(&second),
        accepted(&first),
        "the second fetch reused the connection"
    );
    assert_eq!(requests(&second), requests(&first) + 1.0);

    // A server that closes each connection 100 ms after answering (an idle timeout).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let accepted_conns = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let closed_conns = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted_conns.clone();
    let closed = closed_conns.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(10) {
            let Ok(mut stream) = stream else { continue };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let closed = closed.clone();
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let mut buf = [0u8; 4096];
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                if stream.read(&mut buf).unwrap_or(0) > 0 {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nContent-Type: text/plain\r\n\r\nvalue: 1\n",
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
                drop(stream);
                closed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
    });
    let adapter = Adapter::start(&format!(
        "[sources.s]\ntype = \"http\"\nurl = \"http://127.0.0.1:{port}/\"\nparser = \"kv\"\n"
    ));
    for fetch in 1..=3 {
        let s = adapter.samples();
        assert_eq!(
            source_up(&s, "s"),
            1.0,
            "a stale keep-alive must not mark the source down"
        );
        assert_eq!(value(&s, "value", &[]), 1.0);
        // The next fetch finds the kept connection closed by the server.
        wait_until(
            "the server closing the connection",
            Duration::from_secs(10),
            || closed_conns.load(std::sync::atomic::Ordering::SeqCst) >= fetch,
        );
    }
    assert_eq!(
        accepted_conns.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "one fresh connection per fetch once the kept one was closed"
    );
}

/// Whatever the parsers make of damaged input, the page parses back with a real exposition
/// parser (Python's `prometheus_client`, text and OpenMetrics). The inputs are the recorded
/// samples with random edits (a fixed seed, so a failure reproduces), run through every
/// built-in parser in the library itself; one Python process then reads all the pages.
#[test]
fn pages_from_damaged_inputs_parse_back_in_python() {
    use metrics_adapter::exposition::WireFormat;
    use metrics_adapter::recipe::preview::render;
    use metrics_adapter::recipe::Registry;

    let samples = inputs::recorded();
    let registry = Registry::builtin().expect("built-in recipes");
    let parsers: Vec<_> = registry.entries().map(|(_, e)| e.parser.clone()).collect();

    // xorshift64: deterministic, no dependency.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut pages = Vec::new();
    for round in 0..400 {
        let mut data = samples[next() as usize % samples.len()].clone();
        for _ in 0..(next() % 8) {
            let (at, byte) = (next() as usize, next() as u8);
            let edit = match next() % 4 {
                0 => inputs::Edit::Replace(byte),
                1 => inputs::Edit::Insert(byte),
                2 => inputs::Edit::Remove,
                _ => inputs::Edit::Truncate,
            };
            edit.apply(&mut data, at);
        }
        let parser = &parsers[round % parsers.len()];
        let Ok(parsed) = parser.parse(&data) else {
            continue;
        };
        for (format, om) in [(WireFormat::Text, false), (WireFormat::OpenMetrics, true)] {
            let (page, _) = render(parsed.clone(), format);
            pages.push(serde_json::json!({"parser": parser.name(), "om": om, "page": page}));
        }
    }
    assert!(pages.len() >= 200, "only {} pages", pages.len());
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families as text
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
pages = json.load(sys.stdin)
samples = 0
for i, p in enumerate(pages):
    try:
        for f in (om if p["om"] else text)(p["page"]):
            samples += len(f.samples)
    except Exception as e:
        print(f"page {i} ({p['parser']}, {'openmetrics' if p['om'] else 'text'}): {e}\n{p['page']}")
        sys.exit(1)
print(samples)
"#;
    let pages = serde_json::to_string(&pages).expect("json");
    let out = run_python(script, &[], pages.as_bytes(), Duration::from_secs(120));
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}{stderr}");
    assert!(
        text.trim().parse::<u64>().is_ok_and(|n| n > 1000),
        "samples read back: {text}"
    );
}

/// Issue 12: a timestamp with a two-byte character where the zone goes aborted the process
/// (the date parser sliced text by byte index). Framed by meminfo_appended, such a line is
/// no block start: a clear error, not a crash. Read by a recipe's date rule, it is a
/// skipped value with a reason, and the rest is served.
#[test]
fn a_multi_byte_date_line_is_an_error_not_a_crash() {
    let data = TempDir::new("date-utf8");
    let text = "Wed Nov 25 03:46:26 \u{e9}123 2026\nMemTotal: 100 kB\n";
    let log = data.write("meminfo.log", text);
    let out = run_cli(
        &["parse", "meminfo_appended", &log.display().to_string()],
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(
        out.stderr.contains("framing: no line matches block_start"),
        "{out}"
    );

    let recipes = data.mkdir("recipes");
    fs::write(
        recipes.join("stamped.toml"),
        "description = \"d\"\nformat = \"regex\"\n\
         [[regex.rule]]\npattern = '^(?P<value>[A-Z][a-z]{2} .*[0-9]{4})$'\nrecord_key = \"when\"\n\
         [[regex.rule]]\npattern = '^(?P<key>[A-Za-z]+):\\s+(?P<value>[0-9]+)'\nrecord_key = \"{key}\"\n\
         [[mapping.metric]]\nkey = \"when\"\nvalue_format = \"date\"\n",
    )
    .unwrap();
    let config = data.write(
        "config.toml",
        format!(
            "[parsers]\ndirs = [{}]\n",
            toml_str(&recipes.display().to_string())
        ),
    );
    let out = run_cli(
        &[
            "--config",
            &config.display().to_string(),
            "parse",
            "stamped",
            &log.display().to_string(),
        ],
        Duration::from_secs(20),
    );
    assert!(out.success(), "{out}");
    assert!(out.stderr.contains("is not a date"), "{out}");
    let s = parse_page(&out.stdout, false);
    assert_eq!(value(&s, "MemTotal", &[]), 100.0);
    assert!(find(&s, "when", &[]).is_none());
}

/// Whether process `pid` has a handler installed for signal number `signo` (`SigCgt` in
/// `/proc/PID/status`).
fn catches(pid: u32, signo: u32) -> bool {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (signo - 1)) != 0)
}

/// Issue 12: a SIGHUP in the first milliseconds after start ended the process (exit 129),
/// because the handler came only after the config, recipes and patterns were loaded and the
/// port bound. It must be queued (a reload once serving) or ignored, never fatal.
///
/// No program can handle a signal before its first instruction: until the dynamic loader,
/// Rust's runtime and the command-line parser have run, HUP's default action applies to any
/// process. So each try waits until Rust's runtime is in place (it installs its SIGSEGV
/// handler just before `main`) and sends HUP 20 ms later: `main` reaches `serve` well under
/// 1 ms after that point, even in a debug build (the margin is for a busy machine), while
/// start-up has barely begun: the old handler came about 45 ms after that point (debug).
#[test]
fn an_early_sighup_is_queued_not_fatal() {
    const SIGSEGV: u32 = 11;
    for attempt in 0..20 {
        let dir = TempDir::new("early-hup");
        let port = free_port();
        let mut cmd = std::process::Command::new(BIN);
        clean_env(&mut cmd);
        cmd.arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .current_dir(dir.path());
        let mut adapter = Proc::spawn("metrics-adapter", cmd, dir.join("adapter.log"));
        let pid = adapter.pid();
        let start = Instant::now();
        // Polled without sleeping: the window this test is about is milliseconds wide.
        while !catches(pid, SIGSEGV) {
            adapter.assert_running();
            assert!(
                start.elapsed() < START_TIMEOUT,
                "try {attempt}: Rust's runtime never started"
            );
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(20));
        let sent = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid fits an i32")),
            nix::sys::signal::Signal::SIGHUP,
        );
        assert!(sent.is_ok(), "try {attempt}: kill -HUP {pid}: {sent:?}");
        // Still alive, and serving; the queued HUP becomes a reload.
        adapter.wait_ready(START_TIMEOUT, || {
            try_http_request(port, "GET", "/healthz", &[]).is_ok_and(|r| r.status == 200)
        });
        let log = adapter.log.clone();
        adapter.wait_ready(START_TIMEOUT, || {
            read_lossy(&log).contains("SIGHUP received: reloading")
        });
        adapter.assert_running();
    }
}
