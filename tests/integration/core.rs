//! Core behaviour of the binary, end to end: each source type against something real, the
//! append-log file case, broken and hanging sources, escaping, content negotiation, gzip,
//! the other endpoints, the command line and graceful shutdown.

use std::fs;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use crate::harness::*;

/// promtool's complaint about node_exporter's meminfo names (`node_memory_MemTotal_bytes`),
/// which the `meminfo` recipe copies on purpose.
const CAMEL_CASE: &str = "should be written in 'snake_case' not 'camelCase'";
/// promtool's complaint about an empty HELP: the generic formats (and recipes without
/// `unmatched_help`) have no help text to give.
const NO_HELP: &str = "no help text";

/// `MemTotal` etc. of a meminfo-shaped text, in kB (or a bare count).
fn meminfo_field(text: &str, key: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k == key).then(|| v.split_whitespace().next()?.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no {key} in meminfo text"))
}

// ---------------------------------------------------------------------------------------
// a. The embedded default config

#[test]
fn embedded_default_serves_this_hosts_meminfo() {
    let adapter = Adapter::start_default();
    let page = adapter.metrics();
    let meminfo = fs::read_to_string("/proc/meminfo").expect("read /proc/meminfo");
    let (samples, types) = parse_page_typed(&page, false);

    assert_eq!(
        value(&samples, "node_memory_MemTotal_bytes", &[]),
        meminfo_field(&meminfo, "MemTotal") * 1024.0,
        "MemTotal in kB scaled to bytes"
    );
    // A field without a unit keeps its name and value.
    assert_eq!(
        value(&samples, "node_memory_HugePages_Total", &[]),
        meminfo_field(&meminfo, "HugePages_Total")
    );
    assert_eq!(source_up(&samples, "meminfo"), 1.0);
    assert_eq!(
        types.get("node_memory_MemTotal_bytes").map(String::as_str),
        Some("gauge")
    );
    assert!(
        value(
            &samples,
            "metrics_adapter_source_reads_total",
            &[("source", "meminfo")]
        ) >= 1.0
    );
    assert!(
        find(&samples, "node_memory_Active_anon_bytes", &[]).is_some(),
        "`Active(anon)` becomes a valid name"
    );
    promtool_check(&page, &[CAMEL_CASE]);

    // The OpenMetrics page of the same config parses too.
    let om = adapter.get_with(
        "/metrics",
        &[("Accept", "application/openmetrics-text; version=1.0.0")],
    );
    assert_eq!(om.status, 200);
    let om_samples = parse_page(&om.text(), true);
    assert_eq!(
        value(&om_samples, "node_memory_MemTotal_bytes", &[]),
        meminfo_field(&meminfo, "MemTotal") * 1024.0
    );
}

// ---------------------------------------------------------------------------------------
// b. The file source: an append log of `date` + meminfo blocks

/// Unix time of `Wed Nov 25 00:00:00 UTC 2026`, the day the test blocks are dated.
const DAY: f64 = 1_795_564_800.0;
/// A constant `MemTotal`, so a sum of blocks would show.
const TOTAL_KB: u64 = 1000;

/// Block `k`: a `date` line `k * 5` seconds into the day, then meminfo lines all carrying
/// `k`, so a page mixing two blocks (or showing a partial one) is easy to spot.
fn block(k: u64) -> String {
    let t = k * 5;
    format!(
        "Wed Nov 25 {:02}:{:02}:{:02} UTC 2026\n\
         MemTotal:       {TOTAL_KB} kB\n\
         MemFree:        {k} kB\n\
         Buffers:        {k} kB\n\
         Cached:         {k} kB\n\
         HugePages_Total:       {k}\n",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// Asserts the page shows exactly block `k` (every field of it) and the source is up.
fn assert_shows_block(samples: &[ParsedSample], source: &str, k: u64) {
    let kb = k as f64 * 1024.0;
    assert_eq!(source_up(samples, source), 1.0, "source {source} up");
    assert_eq!(
        value(samples, "node_memory_MemTotal_bytes", &[]),
        TOTAL_KB as f64 * 1024.0,
        "MemTotal (a sum of blocks would differ)"
    );
    assert_eq!(
        value(samples, "node_memory_MemFree_bytes", &[]),
        kb,
        "MemFree of block {k}"
    );
    assert_eq!(
        value(samples, "node_memory_Buffers_bytes", &[]),
        kb,
        "Buffers of block {k}"
    );
    assert_eq!(
        value(samples, "node_memory_Cached_bytes", &[]),
        kb,
        "Cached of block {k}"
    );
    assert_eq!(value(samples, "node_memory_HugePages_Total", &[]), k as f64);
    assert_eq!(
        value(samples, "meminfo_block_timestamp_seconds", &[]),
        DAY + (k * 5) as f64,
        "timestamp of block {k}"
    );
}

/// The block number a page shows (from MemFree), after checking the page is one whole block.
fn shown_block(samples: &[ParsedSample], source: &str) -> u64 {
    let k = (value(samples, "node_memory_MemFree_bytes", &[]) / 1024.0) as u64;
    assert_shows_block(samples, source, k);
    k
}

fn append(path: &std::path::Path, text: &str) {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .expect("open log for append");
    f.write_all(text.as_bytes()).expect("append");
    f.flush().expect("flush");
}

fn appended_log_config(source: &str, path: &std::path::Path) -> String {
    format!(
        "[sources.{source}]\n\
         type = \"file\"\n\
         path = {}\n\
         block_start = '^\\w{{3}} \\w{{3}} +\\d+ '\n\
         parser = \"meminfo_appended\"\n",
        toml_str(&path.display().to_string())
    )
}

#[test]
fn file_append_log_serves_latest_complete_block() {
    let data = TempDir::new("append-log");
    let log = data.join("meminfo.log");
    append(&log, &format!("{}{}{}", block(1), block(2), block(3)));
    let adapter = Adapter::start(&appended_log_config("mem", &log));
    assert_shows_block(&adapter.samples(), "mem", 3);

    // Block 4 arrives in pieces: the date line alone, then a cut line, then the rest.
    let b4 = block(4);
    let (date_line, rest) = b4.split_at(b4.find('\n').unwrap() + 1);
    append(&log, date_line);
    assert_shows_block(&adapter.samples(), "mem", 3);
    let (part, rest) = rest.split_at(rest.find("MemFree").unwrap() + 5);
    append(&log, part);
    assert_shows_block(&adapter.samples(), "mem", 3);
    append(&log, rest);
    assert_shows_block(&adapter.samples(), "mem", 4);

    // A half-written block 5 at the end (whole lines, but fewer than a block has).
    let b5 = block(5);
    let lines: Vec<&str> = b5.split_inclusive('\n').collect();
    append(&log, &lines[..3].concat());
    assert_shows_block(&adapter.samples(), "mem", 4);
    append(&log, &lines[3..].concat());
    assert_shows_block(&adapter.samples(), "mem", 5);
}

/// A writer appends blocks in small pieces while the test scrapes: every page must be one
/// whole block, and the block number never goes back.
#[test]
fn file_append_log_with_a_concurrent_writer() {
    let data = TempDir::new("append-writer");
    let log = data.join("meminfo.log");
    append(&log, &block(1));
    let adapter = Adapter::start(&appended_log_config("mem", &log));
    assert_shows_block(&adapter.samples(), "mem", 1);

    // The writer waits for a scrape between blocks (bounded), so scrapes land in every
    // block however slow the machine is; where within the block they land is up to chance.
    let last = 25;
    let scrapes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer_log = log.clone();
    let writer_scrapes = scrapes.clone();
    let writer = std::thread::spawn(move || {
        let count = || writer_scrapes.load(std::sync::atomic::Ordering::SeqCst);
        for k in 2..=last {
            let before = count();
            let start = Instant::now();
            while count() == before && start.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(2));
            }
            // Pieces of 17 bytes: cuts fall mid-line and mid-number (but after the part of
            // the date line that block_start matches; see the next test for that case).
            for piece in block(k).as_bytes().chunks(17) {
                append(&writer_log, std::str::from_utf8(piece).unwrap());
                std::thread::sleep(Duration::from_millis(3));
            }
        }
    });
    let mut seen = vec![1];
    let start = Instant::now();
    while !writer.is_finished() && start.elapsed() < Duration::from_secs(120) {
        let k = shown_block(&adapter.samples(), "mem");
        scrapes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let before = *seen.last().unwrap();
        assert!(
            k >= before,
            "went back from block {before} to {k} (seen {seen:?})"
        );
        seen.push(k);
    }
    writer.join().expect("writer thread");
    assert_shows_block(&adapter.samples(), "mem", last);
    assert!(
        seen.len() > last as usize,
        "scraped while writing: {seen:?}"
    );
}

/// The next block's date line is cut before the part `block_start` matches (`Wed No`):
/// that fragment is not a block start, so it must not spoil the complete block before it.
/// (A page going back a block makes counters go down: Prometheus sees a reset.)
#[test]
fn file_append_log_cut_inside_the_date_line() {
    let data = TempDir::new("append-cut-date");
    let log = data.join("meminfo.log");
    append(&log, &format!("{}{}", block(1), block(2)));
    let adapter = Adapter::start(&appended_log_config("mem", &log));
    assert_shows_block(&adapter.samples(), "mem", 2);
    let b3 = block(3);
    append(&log, &b3[..6]);
    assert_shows_block(&adapter.samples(), "mem", 2);
    append(&log, &b3[6..]);
    assert_shows_block(&adapter.samples(), "mem", 3);
}

#[test]
fn file_missing_replaced_and_truncated() {
    let data = TempDir::new("file-cases");
    let log = data.join("meminfo.log");
    let plain = data.join("kv.txt");
    let config = format!(
        "{}\n[sources.plain]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n",
        appended_log_config("log", &log),
        toml_str(&plain.display().to_string())
    );
    let adapter = Adapter::start(&config);

    // Both files missing: the page is still 200, both sources are down.
    let s = adapter.samples();
    assert_eq!(source_up(&s, "log"), 0.0);
    assert_eq!(source_up(&s, "plain"), 0.0);
    assert!(find(&s, "node_memory_MemFree_bytes", &[]).is_none());

    // Created by rename (how careful writers replace a file): picked up.
    let replace = |path: &std::path::Path, text: &str| {
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, path).unwrap();
    };
    replace(&log, &format!("{}{}", block(6), block(7)));
    replace(&plain, "answer: 42\n");
    let s = adapter.samples();
    assert_shows_block(&s, "log", 7);
    assert_eq!(source_up(&s, "plain"), 1.0);
    assert_eq!(value(&s, "answer", &[]), 42.0);

    // Replaced again by rename: the new file is read, not the old open one.
    replace(&log, &block(8));
    replace(&plain, "answer: 43\n");
    let s = adapter.samples();
    assert_shows_block(&s, "log", 8);
    assert_eq!(value(&s, "answer", &[]), 43.0);

    // Truncated (a log rotated with copytruncate): no block, so down, page still 200.
    fs::File::create(&log).unwrap();
    let s = adapter.samples();
    assert_eq!(source_up(&s, "log"), 0.0);
    assert!(find(&s, "node_memory_MemFree_bytes", &[]).is_none());
    assert_eq!(
        source_up(&s, "plain"),
        1.0,
        "one source down leaves the other"
    );

    // Written again after the truncation: the new block is served.
    append(&log, &block(9));
    assert_shows_block(&adapter.samples(), "log", 9);

    // Removed: down again.
    fs::remove_file(&log).unwrap();
    fs::remove_file(&plain).unwrap();
    let s = adapter.samples();
    assert_eq!(source_up(&s, "log"), 0.0);
    assert_eq!(source_up(&s, "plain"), 0.0);
    assert!(
        sum(
            &s,
            "metrics_adapter_source_read_failures_total",
            &[("source", "log")]
        ) >= 3.0
    );
}

// ---------------------------------------------------------------------------------------
// c. The http source against a real nginx

const STUB_RECIPE: &str = r#"
description = "test: nginx stub_status through the regex format"
format = "regex"

[[regex.rule]]
pattern = '^Active connections:\s*(?P<value>\d+)'
record_key = "active"

[[regex.rule]]
pattern = '^\s*(?P<accepts>\d+)\s+(?P<handled>\d+)\s+(?P<requests>\d+)\s*$'
values = ["accepts", "handled", "requests"]

[[regex.rule]]
pattern = '^Reading:\s*(?P<reading>\d+)\s+Writing:\s*(?P<writing>\d+)\s+Waiting:\s*(?P<waiting>\d+)'
values = ["reading", "writing", "waiting"]

[mapping]
prefix = "it_nginx_"
unmatched = "drop"

[[mapping.metric]]
key = "active"
name = "connections_active"
help = "Active client connections."

[[mapping.metric]]
key = "accepts"
name = "connections_accepted"
type = "counter"
help = "Accepted client connections."

[[mapping.metric]]
key = "handled"
name = "connections_handled"
type = "counter"
help = "Handled client connections."

[[mapping.metric]]
key = "requests"
name = "http_requests"
type = "counter"
help = "Requests served."

[[mapping.metric]]
match = '(?P<state>reading|writing|waiting)'
name = "connections"
help = "Connections by state."
"#;

#[test]
fn http_source_reads_real_nginx_stub_status() {
    let nginx = Nginx::start();
    let recipes = TempDir::new("recipes");
    recipes.write("it_stub.toml", STUB_RECIPE);
    let config = format!(
        "[parsers]\ndirs = [{}]\n\n[sources.nginx]\ntype = \"http\"\nurl = {}\nparser = \"it_stub\"\ntimeout = \"2s\"\n",
        toml_str(&recipes.path().display().to_string()),
        toml_str(&nginx.url("/stub_status"))
    );
    let adapter = Adapter::start(&config);

    let (accepts0, _, requests0) = nginx.stub_counters();
    let page = adapter.metrics();
    let (accepts1, _, requests1) = nginx.stub_counters();
    let (s, types) = parse_page_typed(&page, false);
    assert_eq!(source_up(&s, "nginx"), 1.0);

    // The adapter's read happened between the two direct reads (and is counted itself).
    let requests = value(&s, "it_nginx_http_requests_total", &[]);
    assert!(
        requests0 as f64 <= requests - 1.0 && requests < requests1 as f64,
        "direct {requests0}, adapter {requests}, direct {requests1}"
    );
    let accepts = value(&s, "it_nginx_connections_accepted_total", &[]);
    assert!(accepts0 as f64 <= accepts - 1.0 && accepts < accepts1 as f64);
    assert!(value(&s, "it_nginx_connections_handled_total", &[]) <= accepts);
    assert!(value(&s, "it_nginx_connections_active", &[]) >= 1.0);
    assert!(value(&s, "it_nginx_connections", &[("state", "writing")]) >= 1.0);
    assert!(find(&s, "it_nginx_connections", &[("state", "reading")]).is_some());
    assert!(find(&s, "it_nginx_connections", &[("state", "waiting")]).is_some());
    assert_eq!(
        types.get("it_nginx_http_requests").map(String::as_str),
        Some("counter")
    );
    assert_eq!(
        types.get("it_nginx_connections_active").map(String::as_str),
        Some("gauge")
    );
    promtool_check(&page, &[]);

    // A second scrape reads again: the counter moved on by at least the direct read.
    let again = value(&adapter.samples(), "it_nginx_http_requests_total", &[]);
    assert!(
        again >= requests1 as f64 + 1.0,
        "{again} after direct {requests1}"
    );
}

// ---------------------------------------------------------------------------------------
// d. The tcp source against a real redis-server

const REDIS_RECIPE: &str = r##"
description = "test: Redis INFO through the kv format"
format = "kv"

[kv]
separator = ":"
section_prefix = "# "
nested = true

[mapping]
prefix = "it_redis_"
"##;

#[test]
fn tcp_source_reads_real_redis_info() {
    let redis = Redis::start();
    redis.cli(&["SET", "it:key", "v"]);
    let recipes = TempDir::new("recipes");
    recipes.write("it_redis.toml", REDIS_RECIPE);
    // One source only: redis counts the adapter's connection in connected_clients.
    let config = format!(
        "[parsers]\ndirs = [{}]\n\n[sources.redis]\ntype = \"tcp\"\naddress = \"127.0.0.1:{}\"\nsend = \"INFO\\r\\n\"\nframing = \"resp\"\nparser = \"it_redis\"\ntimeout = \"2s\"\n",
        toml_str(&recipes.path().display().to_string()),
        redis.port
    );
    let adapter = Adapter::start(&config);
    let page = adapter.metrics();
    let info = redis.info(None);
    let s = parse_page(&page, false);
    assert_eq!(source_up(&s, "redis"), 1.0, "{page}");
    let num = |k: &str| -> f64 { info[k].parse().unwrap() };
    assert_eq!(value(&s, "it_redis_tcp_port", &[]), f64::from(redis.port));
    assert_eq!(value(&s, "it_redis_tcp_port", &[]), num("tcp_port"));
    assert_eq!(
        value(&s, "it_redis_process_id", &[]),
        f64::from(redis.pid())
    );
    // redis-cli and the adapter each see themselves as the one client.
    assert_eq!(
        value(&s, "it_redis_connected_clients", &[]),
        num("connected_clients")
    );
    // Nested `db0:keys=1,expires=0,avg_ttl=0`.
    assert_eq!(value(&s, "it_redis_db0_keys", &[]), 1.0);
    assert_eq!(value(&s, "it_redis_db0_expires", &[]), 0.0);
    // A value the adapter read before redis-cli's connection: strictly smaller.
    assert!(
        value(&s, "it_redis_total_connections_received", &[]) < num("total_connections_received")
    );
    // Redis' own key names break promtool's naming advice; the syntax must still be right.
    promtool_check_syntax(&page);

    // The bare generic `kv` parser on the same reply (sections are lines without a
    // separator: skipped values, counted as parse errors, not a failure).
    let generic = Adapter::start(&format!(
        "[sources.redis]\ntype = \"tcp\"\naddress = \"127.0.0.1:{}\"\nsend = \"INFO\\r\\n\"\nframing = \"resp\"\nparser = \"kv\"\ntimeout = \"2s\"\n",
        redis.port
    ));
    let s = generic.samples();
    assert_eq!(source_up(&s, "redis"), 1.0);
    assert_eq!(value(&s, "tcp_port", &[]), f64::from(redis.port));
    assert_eq!(value(&s, "process_id", &[]), f64::from(redis.pid()));
}

#[test]
fn tcp_source_until_framing_reads_real_memcached() {
    let mc = Memcached::start();
    assert!(mc
        .command("set it 0 0 2\r\nhi\r\n", "\r\n")
        .starts_with("STORED"));
    let recipes = TempDir::new("recipes");
    recipes.write(
        "it_memcached.toml",
        "description = \"test: memcached stats\"\nformat = \"kv\"\n\n[kv]\nseparator = \" \"\nline_prefix = \"STAT \"\nend_line = \"END\"\n\n[mapping]\nprefix = \"it_memcached_\"\n",
    );
    let config = format!(
        "[parsers]\ndirs = [{}]\n\n[sources.mc]\ntype = \"tcp\"\naddress = \"127.0.0.1:{}\"\nsend = \"stats\\r\\n\"\nuntil = \"END\\r\\n\"\nparser = \"it_memcached\"\ntimeout = \"2s\"\n",
        toml_str(&recipes.path().display().to_string()),
        mc.port
    );
    let adapter = Adapter::start(&config);
    let s = adapter.samples();
    assert_eq!(source_up(&s, "mc"), 1.0);
    let stats = mc.stats();
    assert_eq!(value(&s, "it_memcached_pid", &[]), f64::from(mc.pid()));
    assert_eq!(value(&s, "it_memcached_curr_items", &[]), 1.0);
    assert_eq!(
        value(&s, "it_memcached_limit_maxbytes", &[]),
        stats["limit_maxbytes"].parse::<f64>().unwrap()
    );
    assert_eq!(value(&s, "it_memcached_cmd_set", &[]), 1.0);
}

// ---------------------------------------------------------------------------------------
// e. Broken and hanging sources

#[test]
fn broken_sources_do_not_hold_up_the_others() {
    let hang = Hanging::start();
    let closed = free_port(); // nothing listens there
    let data = TempDir::new("broken");
    let good = data.write("good.txt", "value: 7\n");
    let config = format!(
        "[sources.good]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n\n\
         [sources.refused]\ntype = \"tcp\"\naddress = \"127.0.0.1:{closed}\"\nsend = \"stats\\r\\n\"\nparser = \"kv\"\ntimeout = \"500ms\"\n\n\
         [sources.hang_tcp]\ntype = \"tcp\"\naddress = \"127.0.0.1:{hp}\"\nsend = \"stats\\r\\n\"\nparser = \"kv\"\ntimeout = \"500ms\"\n\n\
         [sources.hang_http]\ntype = \"http\"\nurl = \"http://127.0.0.1:{hp}/status\"\nparser = \"kv\"\ntimeout = \"500ms\"\n",
        toml_str(&good.display().to_string()),
        hp = hang.port
    );
    let adapter = Adapter::start(&config);
    for round in 1..=3 {
        let start = Instant::now();
        let r = adapter.get("/metrics");
        let took = start.elapsed();
        assert_eq!(r.status, 200);
        assert!(
            took < Duration::from_millis(2500),
            "scrape {round} took {took:?} with 500ms timeouts"
        );
        let s = parse_page(&r.text(), false);
        assert_eq!(source_up(&s, "good"), 1.0);
        assert_eq!(value(&s, "value", &[]), 7.0);
        for bad in ["refused", "hang_tcp", "hang_http"] {
            assert_eq!(source_up(&s, bad), 0.0, "{bad}");
            assert_eq!(
                sum(
                    &s,
                    "metrics_adapter_source_read_failures_total",
                    &[("source", bad)]
                ),
                f64::from(round),
                "{bad} failures after {round} scrapes"
            );
        }
    }
    assert!(
        hang.accepted() >= 6,
        "both hanging sources connected each time"
    );
    let status = adapter.get("/").text();
    assert!(status.contains("timed out after 500ms"), "{status}");
    assert!(
        status.to_lowercase().contains("connection refused"),
        "{status}"
    );
}

// ---------------------------------------------------------------------------------------
// f. Escaping of label values from source data

/// Label values as the source data holds them: quotes, backslashes, newlines, UTF-8.
const LABEL_VALUES: &[&str] = &[
    r#"a\"b\\c"#,
    "weird \"quoted\" \\ name\nnewline",
    r"end\",
    "ünï ✓ \\n literal",
    "",
];

#[test]
fn label_values_from_data_are_escaped_and_round_trip() {
    let nginx = Nginx::start();
    let body: String = LABEL_VALUES
        .iter()
        .enumerate()
        .map(|(i, v)| format!("<<{v}>> {}\n", i + 1))
        .collect();
    nginx.write_file("labels.txt", &body);
    let recipes = TempDir::new("recipes");
    recipes.write(
        "it_labels.toml",
        r#"
description = "test: labels from data"
format = "regex"

[regex]
whole_text = true

[[regex.rule]]
pattern = '(?s)<<(?P<path>.*?)>> (?P<value>\d+)'
record_key = "item"

[mapping]
prefix = "it_labels_"

[[mapping.metric]]
key = "item"
help = "One item per label value."
"#,
    );
    let static_label = r#"x"y\z"#;
    let config = format!(
        "[parsers]\ndirs = [{}]\n\n[sources.labels]\ntype = \"http\"\nurl = {}\nparser = \"it_labels\"\nlabels = {{ note = {} }}\n",
        toml_str(&recipes.path().display().to_string()),
        toml_str(&nginx.url("/files/labels.txt")),
        toml_str(static_label)
    );
    let adapter = Adapter::start(&config);

    // 0.0.4 text.
    let page = adapter.metrics();
    promtool_check(&page, &[]);
    let s = parse_page(&page, false);
    assert_eq!(source_up(&s, "labels"), 1.0, "{page}");
    for (i, v) in LABEL_VALUES.iter().enumerate() {
        assert!(
            page.contains(&format!("path=\"{}\"", escape_label_value(v))),
            "escaped {v:?} in:\n{page}"
        );
        assert_eq!(
            value(&s, "it_labels_item", &[("path", v), ("note", static_label)]),
            (i + 1) as f64,
            "{v:?}"
        );
    }
    assert!(page.contains(&format!("note=\"{}\"", escape_label_value(static_label))));

    // OpenMetrics.
    let r = adapter.get_with(
        "/metrics",
        &[("Accept", "application/openmetrics-text; version=1.0.0")],
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let om = r.text();
    assert!(
        om.ends_with("# EOF\n"),
        "OpenMetrics ends with # EOF:\n{om}"
    );
    let s = parse_page(&om, true);
    for (i, v) in LABEL_VALUES.iter().enumerate() {
        assert_eq!(
            value(&s, "it_labels_item", &[("path", v), ("note", static_label)]),
            (i + 1) as f64,
            "{v:?}"
        );
    }

    // Prometheus' own Accept header picks OpenMetrics; a plain one does not.
    let prom_accept = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    let r = adapter.get_with("/metrics", &[("Accept", prom_accept)]);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let r = adapter.get_with("/metrics", &[("Accept", "text/plain")]);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
}

// ---------------------------------------------------------------------------------------
// g. gzip

/// The page with sample values removed: names, labels, HELP and TYPE lines in order.
fn without_values(page: &str) -> Vec<String> {
    page.lines()
        .map(|l| {
            if l.starts_with('#') {
                l.to_string()
            } else {
                l.rsplit_once(' ')
                    .map_or(l, |(series, _)| series)
                    .to_string()
            }
        })
        .collect()
}

fn gunzip(data: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(data)
        .read_to_string(&mut out)
        .expect("valid gzip of UTF-8 text");
    out
}

#[test]
fn gzip_when_accepted() {
    let adapter = Adapter::start_default();
    let plain = adapter.metrics();

    let r = adapter.get_with("/metrics", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r
        .header("vary")
        .is_some_and(|v| v.to_ascii_lowercase().contains("accept-encoding")));
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let unzipped = gunzip(&r.body);
    assert!(r.body.len() < unzipped.len());
    assert_eq!(without_values(&unzipped), without_values(&plain));
    parse_page(&unzipped, false);

    // Among other codings, with a q-value: still gzip.
    let r = adapter.get_with(
        "/metrics",
        &[("Accept-Encoding", "br;q=1.0, gzip;q=0.8, *;q=0.1")],
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(without_values(&gunzip(&r.body)), without_values(&plain));

    // Refused explicitly, or not offered: plain.
    for ae in ["gzip;q=0", "identity", "br"] {
        let r = adapter.get_with("/metrics", &[("Accept-Encoding", ae)]);
        assert_eq!(r.header("content-encoding"), None, "Accept-Encoding: {ae}");
        assert_eq!(without_values(&r.text()), without_values(&plain));
    }

    // OpenMetrics, gzipped.
    let r = adapter.get_with(
        "/metrics",
        &[
            ("Accept", "application/openmetrics-text; version=1.0.0"),
            ("Accept-Encoding", "gzip"),
        ],
    );
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let om = gunzip(&r.body);
    assert!(om.ends_with("# EOF\n"));
    parse_page(&om, true);
}

// ---------------------------------------------------------------------------------------
// h. The exec source

#[test]
fn exec_source_reads_command_output() {
    let data = TempDir::new("exec");
    let file = data.write("stats.txt", "alpha: 42\nbeta: 1.5\n");
    let config = format!(
        "[sources.cat]\ntype = \"exec\"\ncommand = [\"cat\", {}]\nparser = \"kv\"\n\n\
         [sources.fails]\ntype = \"exec\"\ncommand = [\"cat\", {}]\nparser = \"kv\"\n",
        toml_str(&file.display().to_string()),
        toml_str(&data.join("missing.txt").display().to_string())
    );
    let adapter = Adapter::start(&config);
    let s = adapter.samples();
    assert_eq!(source_up(&s, "cat"), 1.0);
    assert_eq!(value(&s, "alpha", &[]), 42.0);
    assert_eq!(value(&s, "beta", &[]), 1.5);
    // A command that exits non-zero is a down source; its stderr shows on the status page.
    assert_eq!(source_up(&s, "fails"), 0.0);
    let status = adapter.get("/").text();
    assert!(status.contains("No such file or directory"), "{status}");

    // The file changes: the command runs again on the next scrape.
    fs::write(&file, "alpha: 43\n").unwrap();
    assert_eq!(value(&adapter.samples(), "alpha", &[]), 43.0);
}

/// An argument no other process has, so the test can find its own `sleep`.
fn unique_sleep_arg() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}.{nanos:09}", 600 + std::process::id() % 1000)
}

/// Scrapes in a thread, watching for `argv` to appear while the scrape runs; returns the
/// scrape's duration and page. Panics if the process was never seen.
fn scrape_while_watching(adapter: &Adapter, argv: &[&str]) -> (Duration, String) {
    let port = adapter.port;
    let scrape = std::thread::spawn(move || {
        let start = Instant::now();
        let r = http_get(port, "/metrics");
        assert_eq!(r.status, 200);
        (start.elapsed(), r.text())
    });
    let mut seen = false;
    let start = Instant::now();
    while !scrape.is_finished() && start.elapsed() < Duration::from_secs(10) {
        if !pids_with_cmdline(argv).is_empty() {
            seen = true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = scrape.join().expect("scrape thread");
    assert!(seen, "{argv:?} never ran during the scrape");
    out
}

#[test]
fn exec_timeout_kills_the_command() {
    let arg = unique_sleep_arg();
    let config = format!(
        "[sources.slow]\ntype = \"exec\"\ncommand = [\"sleep\", \"{arg}\"]\nparser = \"kv\"\ntimeout = \"500ms\"\n"
    );
    let adapter = Adapter::start(&config);
    let argv = ["sleep", arg.as_str()];
    let (took, page) = scrape_while_watching(&adapter, &argv);
    assert!(took < Duration::from_millis(2500), "scrape took {took:?}");
    assert_eq!(source_up(&parse_page(&page, false), "slow"), 0.0);
    wait_until(
        "the timed-out sleep to be killed",
        Duration::from_secs(5),
        || pids_with_cmdline(&argv).is_empty(),
    );
}

/// A command run through a shell (`sh -c "a | b"` is the usual way to get a pipeline) has
/// children of its own; on timeout they must go too, or hung commands pile up.
#[test]
fn exec_timeout_kills_the_commands_children_too() {
    let arg = unique_sleep_arg();
    let script = format!("sleep {arg}; echo done: 1");
    let config = format!(
        "[sources.slow]\ntype = \"exec\"\ncommand = [\"sh\", \"-c\", {}]\nparser = \"kv\"\ntimeout = \"500ms\"\n",
        toml_str(&script)
    );
    let adapter = Adapter::start(&config);
    let argv = ["sleep", arg.as_str()];
    let (took, page) = scrape_while_watching(&adapter, &argv);
    assert!(took < Duration::from_millis(2500), "scrape took {took:?}");
    assert_eq!(source_up(&parse_page(&page, false), "slow"), 0.0);
    let gone = {
        let start = Instant::now();
        while !pids_with_cmdline(&argv).is_empty() && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        pids_with_cmdline(&argv)
    };
    // Clean up what the adapter left behind before failing (these are this test's own).
    for pid in &gone {
        send_signal("KILL", i64::from(*pid));
    }
    assert!(
        gone.is_empty(),
        "`sleep {arg}` (child of the timed-out `sh -c`) still running: pids {gone:?}"
    );
}

// ---------------------------------------------------------------------------------------
// i. The other endpoints

#[test]
fn endpoints_healthz_readyz_status_page_404_405() {
    let data = TempDir::new("endpoints");
    let ok = data.write("ok.txt", "value: 1\n");
    let weird = data.join("missing<b>&\"x'.log");
    let config = format!(
        "[sources.ok_src]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n\n\
         [sources.broken_src]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n",
        toml_str(&ok.display().to_string()),
        toml_str(&weird.display().to_string())
    );
    let adapter = Adapter::start(&config);

    // /healthz and /readyz do not depend on the sources (one is down).
    let r = adapter.get("/healthz");
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    assert_eq!(adapter.get("/readyz").status, 200);

    let r = adapter.get("/metrics?debug=1");
    assert_eq!(r.status, 200, "a query string does not change the path");
    assert_eq!(source_up(&parse_page(&r.text(), false), "broken_src"), 0.0);

    let r = adapter.get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.text();
    assert!(
        html.contains("<td>ok_src</td>") && html.contains("<td>broken_src</td>"),
        "{html}"
    );
    assert!(html.contains("href=\"/metrics\""), "{html}");
    assert!(
        html.contains("missing&lt;b&gt;&amp;&quot;x&#39;.log"),
        "path escaped:\n{html}"
    );
    assert!(!html.contains("<b>"), "raw markup from data:\n{html}");
    assert!(
        html.contains("No such file or directory"),
        "last error shown:\n{html}"
    );

    let r = adapter.get("/nope");
    assert_eq!(r.status, 404);
    assert_eq!(adapter.get("/metrics/extra").status, 404);

    for (method, path) in [("POST", "/metrics"), ("PUT", "/"), ("DELETE", "/healthz")] {
        let r = adapter.request(method, path, &[]);
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method} {path}");
    }
    let r = adapter.request("HEAD", "/metrics", &[]);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());

    // server.metrics_path moves the page.
    let moved = Adapter::start(&format!(
        "[server]\nmetrics_path = \"/stats/prometheus\"\n\n{config}"
    ));
    assert_eq!(moved.get("/metrics").status, 404);
    let r = moved.get("/stats/prometheus");
    assert_eq!(r.status, 200);
    assert_eq!(source_up(&parse_page(&r.text(), false), "ok_src"), 1.0);
    assert!(moved.get("/").text().contains("href=\"/stats/prometheus\""));
}

// ---------------------------------------------------------------------------------------
// j. The command line

const CLI_TIMEOUT: Duration = Duration::from_secs(30);

fn write_config(dir: &TempDir, text: &str) -> String {
    dir.write("config.toml", text).display().to_string()
}

#[test]
fn cli_check_prints_sources_of_a_good_config() {
    let dir = TempDir::new("cli-check");
    let ok = dir.write("ok.txt", "value: 1\n");
    let path = write_config(
        &dir,
        &format!(
            "[sources.first]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n\n\
             [sources.second]\ntype = \"tcp\"\naddress = \"127.0.0.1:1\"\nsend = \"stats\\r\\n\"\nuntil = \"END\\r\\n\"\nparser = \"kv\"\ntimeout = \"1s\"\n",
            toml_str(&ok.display().to_string())
        ),
    );
    let out = run_cli(&["check", "--config", &path], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    assert!(
        out.stdout.contains(&format!("config: {path} (ok)")),
        "{out}"
    );
    assert!(out.stdout.contains("sources: 2"), "{out}");
    assert!(out.stdout.contains("  first: file "), "{out}");
    assert!(out.stdout.contains("  second: tcp 127.0.0.1:1"), "{out}");
    // check does not read the sources: the closed port is no error here.

    let out = run_cli(&["check"], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    assert!(out.stdout.contains("embedded default config"), "{out}");
    assert!(
        out.stdout.contains("  meminfo: file /proc/meminfo"),
        "{out}"
    );
}

#[test]
fn cli_check_names_file_key_and_reason_of_a_bad_config() {
    let dir = TempDir::new("cli-bad");
    let recipes = dir.mkdir("recipes");
    fs::write(
        recipes.join("broken.toml"),
        "description = \"d\"\nformat = \"regex\"\n[[regex.rule]]\npattern = '(?P<value>'\n",
    )
    .unwrap();
    let source = "[sources.app]\ntype = \"file\"\npath = \"/proc/meminfo\"\n";
    let cases: &[(&str, String, &[&str])] = &[
        (
            "bad duration",
            format!("{source}parser = \"kv\"\ntimeout = \"soon\"\n"),
            &["sources.app.timeout", "\"soon\"", "not a positive duration"],
        ),
        (
            "unknown key",
            format!("{source}parser = \"kv\"\nsurprise = 1\n"),
            &["surprise"],
        ),
        (
            "key of another source type",
            format!("{source}parser = \"kv\"\nurl = \"http://127.0.0.1/\"\n"),
            &["sources.app.url", "does not apply to a source of type file"],
        ),
        (
            "bad listen address",
            format!("[server]\nlisten = \"nowhere\"\n{source}parser = \"kv\"\n"),
            &["server.listen", "\"nowhere\""],
        ),
        (
            "unknown parser",
            format!("{source}parser = \"no_such_parser\"\n"),
            &["sources.app.parser", "no parser named \"no_such_parser\""],
        ),
        (
            "broken recipe",
            format!(
                "[parsers]\ndirs = [{}]\n{source}parser = \"kv\"\n",
                toml_str(&recipes.display().to_string())
            ),
            &["broken.toml", "regex.rule[0].pattern"],
        ),
    ];
    let mut failures = Vec::new();
    for (what, text, wants) in cases {
        let path = write_config(&dir, text);
        let out = run_cli(&["check", "--config", &path], CLI_TIMEOUT);
        assert!(!out.success(), "{what}: {out}");
        assert!(
            out.stdout.is_empty() || !out.stdout.contains("(ok)"),
            "{what}: {out}"
        );
        // The config file is named in every config error, whatever layer found it.
        let mut missing: Vec<&str> = wants
            .iter()
            .copied()
            .filter(|w| !out.stderr.contains(w))
            .collect();
        if *what != "broken recipe" && !out.stderr.contains(&path) {
            missing.push("the config file's path");
        }
        if !missing.is_empty() {
            failures.push(format!(
                "{what}: stderr lacks {missing:?}: {}",
                out.stderr.trim()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cli_check_refuses_a_tcp_unix_socket_address_without_a_path() {
    // `unix:` alone would fail every read; `unix:/path` is checked in `sockets`.
    let dir = TempDir::new("cli-unix");
    let path = write_config(
        &dir,
        "[sources.redis]\ntype = \"tcp\"\naddress = \"unix:\"\nsend = \"INFO\\r\\n\"\nframing = \"resp\"\nparser = \"redis_info\"\n",
    );
    let out = run_cli(&["check", "--config", &path], CLI_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert_eq!(
        out.stderr,
        format!(
            "metrics-adapter: error: {path}: sources.redis.address: \"unix:\" needs the socket's path, as in unix:/run/redis/redis.sock\n"
        ),
        "{out}"
    );
    assert!(!out.stdout.contains("(ok)"), "{out}");
}

#[test]
fn cli_once_prints_the_page_and_fails_when_a_source_is_down() {
    let dir = TempDir::new("cli-once");
    let ok = dir.write("ok.txt", "value: 5\n");
    let good = format!(
        "[sources.good]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n",
        toml_str(&ok.display().to_string())
    );
    let path = write_config(&dir, &good);
    let out = run_cli(&["once", "--config", &path], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    let s = parse_page(&out.stdout, false);
    assert_eq!(value(&s, "value", &[]), 5.0);
    assert_eq!(source_up(&s, "good"), 1.0);
    promtool_check(&out.stdout, &[NO_HELP]);

    let out = run_cli(&["once", "--openmetrics", "--config", &path], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    assert!(out.stdout.ends_with("# EOF\n"), "{out}");
    parse_page(&out.stdout, true);

    let path = write_config(
        &dir,
        &format!(
            "{good}\n[sources.bad]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n",
            toml_str(&dir.join("missing.txt").display().to_string())
        ),
    );
    let out = run_cli(&["once", "--config", &path], CLI_TIMEOUT);
    assert!(!out.success(), "a source is down: {out}");
    let s = parse_page(&out.stdout, false);
    assert_eq!(value(&s, "value", &[]), 5.0, "the page is still printed");
    assert_eq!(source_up(&s, "bad"), 0.0);
    assert!(out.stderr.contains("source bad: down"), "{out}");
    assert!(out.stderr.contains("missing.txt"), "{out}");
}

#[test]
fn cli_parse_and_parsers() {
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/samples/proc/meminfo"
    );
    let text = fs::read_to_string(sample).expect("tests/fixtures/samples/proc/meminfo");
    let out = run_cli(&["parse", "meminfo", sample], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    let (s, types) = parse_page_typed(&out.stdout, false);
    assert_eq!(
        value(&s, "node_memory_MemTotal_bytes", &[]),
        meminfo_field(&text, "MemTotal") * 1024.0
    );
    assert_eq!(
        value(&s, "node_memory_Active_anon_bytes", &[]),
        meminfo_field(&text, "Active(anon)") * 1024.0
    );
    assert_eq!(
        value(&s, "node_memory_HugePages_Total", &[]),
        meminfo_field(&text, "HugePages_Total")
    );
    assert_eq!(
        s.iter()
            .filter(|x| x.name.starts_with("node_memory_"))
            .count(),
        text.lines().filter(|l| l.contains(':')).count(),
        "one series per meminfo line"
    );
    assert_eq!(types["node_memory_MemFree_bytes"], "gauge");
    assert!(
        !out.stdout.contains("metrics_adapter_"),
        "parse shows the parser's output only"
    );
    promtool_check(&out.stdout, &[CAMEL_CASE]);

    let out = run_cli(&["parse", "meminfo", "--openmetrics", sample], CLI_TIMEOUT);
    assert!(out.success() && out.stdout.ends_with("# EOF\n"), "{out}");

    let out = run_cli(&["parse", "no_such_parser", sample], CLI_TIMEOUT);
    assert!(!out.success(), "{out}");
    assert!(
        out.stderr.contains("no parser named \"no_such_parser\""),
        "{out}"
    );

    let out = run_cli(&["parse", "meminfo", "/nonexistent/file"], CLI_TIMEOUT);
    assert!(!out.success(), "{out}");
    assert!(out.stderr.contains("/nonexistent/file"), "{out}");

    let out = run_cli(&["parsers"], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    let names: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for want in ["meminfo", "meminfo_appended", "nginx_stub_status", "kv"] {
        assert!(names.contains(&want), "{want} in:\n{}", out.stdout);
    }

    // With a config, recipes from parsers.dirs are listed as well.
    let dir = TempDir::new("cli-parsers");
    let recipes = dir.mkdir("recipes");
    fs::write(recipes.join("it_listed.toml"), STUB_RECIPE).unwrap();
    let path = write_config(
        &dir,
        &format!(
            "[parsers]\ndirs = [{}]\n",
            toml_str(&recipes.display().to_string())
        ),
    );
    let out = run_cli(&["parsers", "--config", &path], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("it_listed "))
        .unwrap_or_else(|| panic!("it_listed in:\n{}", out.stdout));
    assert!(line.contains("test: nginx stub_status"), "{line}");
}

/// `parsers show NAME` prints the recipe behind a parser, as written; an unknown name gets
/// a "did you mean", there, in `parse` and in the config.
#[test]
fn cli_parsers_show_and_did_you_mean() {
    // The listing is as it was before `show` (a nested command) came.
    let out = run_cli(&["parsers"], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout,
        concat!(
        "apache_access      built-in recipe   Apache httpd access log, combined (+ %D) (nginx_access's names, apache_ prefix)\n",
        "apache_status      built-in recipe   Apache httpd server-status?auto (apache_exporter names)\n",
        "csv                generic format    generic CSV with a header row: numeric cells as gauges, rows labelled by their text columns (else `row`)\n",
        "haproxy_csv        built-in recipe   HAProxy stats CSV, ;csv page or show stat (haproxy_exporter names)\n",
        "json               generic format    generic JSON document, every numeric leaf as a gauge named by its path\n",
        "kv                 generic format    generic key: value lines, every numeric value as a gauge\n",
        "lighttpd_access    built-in recipe   lighttpd access log, mtail's format with %I %O %T (mtail lighttpd names)\n",
        "memcached_stats    built-in recipe   memcached stats (memcached_exporter names)\n",
        "meminfo            built-in recipe   Linux /proc/meminfo (node_exporter node_memory_* names)\n",
        "meminfo_appended   built-in recipe   date line + /proc/meminfo dump appended to a file (latest complete block)\n",
        "mysql_slow_log     built-in recipe   MySQL/MariaDB slow query log (mtail mysql_slowqueries names)\n",
        "nginx_access       built-in recipe   nginx access log, combined or main (+ $request_time $upstream_response_time) (prometheus-nginxlog-exporter names)\n",
        "nginx_stub_status  built-in recipe   nginx stub_status page (nginx-prometheus-exporter names)\n",
        "php_fpm            built-in recipe   PHP-FPM status page, JSON with ?json&full (php-fpm_exporter names)\n",
        "prometheus         generic format    an app that already speaks the Prometheus text format, passed through\n",
        "redis_info         built-in recipe   Redis INFO (redis_exporter names)\n",
        "rsyncd_log         built-in recipe   rsync daemon log, with transfer logging (mtail rsyncd names)\n",
        "sftp_log           built-in recipe   OpenSSH sftp through syslog, internal-sftp or sftp-server -l INFO (mtail sftp names)\n",
        "vmstat             built-in recipe   Linux /proc/vmstat (node_exporter node_vmstat_* names)\n",
        "vsftpd_log         built-in recipe   vsftpd log, with log_ftp_protocol (mtail vsftpd names)\n",
        "vsftpd_xferlog     built-in recipe   vsftpd transfer log, xferlog format (mtail vsftpd names)\n",
        )
    );

    let out = run_cli(&["parsers", "show", "nginx_stub_status"], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/parsers/nginx_stub_status.toml"
    );
    assert_eq!(out.stdout, fs::read_to_string(file).unwrap());

    let out = run_cli(&["parsers", "show", "kv"], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout,
        "description = \"generic key: value lines, every numeric value as a gauge\"\nformat = \"kv\"\n[mapping]\nunmatched_help = \"{key}, read by the generic kv parser\"\n"
    );

    // A user recipe from parsers.dirs: its file, as it reads now.
    let dir = TempDir::new("cli-show");
    let recipes = dir.mkdir("recipes");
    fs::write(recipes.join("it_shown.toml"), STUB_RECIPE).unwrap();
    let path = write_config(
        &dir,
        &format!(
            "[parsers]\ndirs = [{}]\n\n[sources.app]\ntype = \"file\"\npath = \"/tmp/x\"\nparser = \"it_shwn\"\n",
            toml_str(&recipes.display().to_string())
        ),
    );
    // The config names a parser that does not exist: refused at load, with a suggestion.
    let out = run_cli(&["check", "--config", &path], CLI_TIMEOUT);
    assert!(!out.success(), "{out}");
    assert!(
        out.stderr.contains(
            "sources.app.parser: no parser named \"it_shwn\"; did you mean \"it_shown\"? (see `metrics-adapter parsers`)"
        ),
        "{out}"
    );
    let config = fs::read_to_string(&path)
        .unwrap()
        .replace("it_shwn", "it_shown");
    fs::write(&path, config).unwrap();
    let out = run_cli(
        &["parsers", "show", "it_shown", "--config", &path],
        CLI_TIMEOUT,
    );
    assert!(out.success(), "{out}");
    assert_eq!(out.stdout, STUB_RECIPE);

    let out = run_cli(&["parsers", "show", "nginx_stub"], CLI_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "metrics-adapter: error: no parser named \"nginx_stub\"; did you mean \"nginx_stub_status\"? (see `metrics-adapter parsers`)\n"
    );
    let out = run_cli(&["parse", "meminf", "/dev/null"], CLI_TIMEOUT);
    assert_eq!(
        out.stderr,
        "metrics-adapter: error: no parser named \"meminf\"; did you mean \"meminfo\"? (see `metrics-adapter parsers`)\n"
    );
    // No close name: perhaps the user's own recipe, which `parse` finds by path or config.
    let out = run_cli(&["parse", "myapp", "/dev/null"], CLI_TIMEOUT);
    assert_eq!(
        out.stderr,
        "metrics-adapter: error: no parser named \"myapp\"; a recipe file is named by its path \
         (./myapp.toml), and a config's recipes (parsers.dirs, [recipes.NAME]) need --config FILE \
         (see `metrics-adapter parsers`)\n"
    );
    let dir = TempDir::new("own-recipe");
    let config = dir.write(
        "adapter.toml",
        "[sources.app]\ntype = \"file\"\npath = \"/dev/null\"\nparser = \"myapp\"\n",
    );
    let out = run_cli(
        &["--config", config.to_str().unwrap(), "check"],
        CLI_TIMEOUT,
    );
    assert_eq!(
        out.stderr,
        format!(
            "metrics-adapter: error: {}: sources.app.parser: no parser named \"myapp\"; a recipe \
             of your own goes in a directory listed in parsers.dirs (as myapp.toml) or inline as \
             [recipes.myapp] (see `metrics-adapter parsers`)\n",
            config.display()
        )
    );
}

// ---------------------------------------------------------------------------------------
// k. Graceful shutdown

#[test]
fn sigterm_lets_an_in_flight_scrape_finish_then_exits_0() {
    let hang = Hanging::start();
    let data = TempDir::new("shutdown");
    let ok = data.write("ok.txt", "value: 3\n");
    let config = format!(
        "[sources.good]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n\n\
         [sources.slow]\ntype = \"tcp\"\naddress = \"127.0.0.1:{}\"\nsend = \"stats\\r\\n\"\nparser = \"kv\"\ntimeout = \"2s\"\n",
        toml_str(&ok.display().to_string()),
        hang.port
    );
    let mut adapter = Adapter::start(&config);
    let port = adapter.port;
    let scrape = std::thread::spawn(move || {
        let start = Instant::now();
        let r = http_get(port, "/metrics");
        (start.elapsed(), r)
    });
    // The scrape is in flight once the slow source has connected.
    wait_until("the slow source to connect", Duration::from_secs(5), || {
        hang.accepted() >= 1
    });
    let signalled = Instant::now();
    adapter.sigterm();
    // The listener closes at once; the in-flight scrape carries on.
    wait_until("the listener to close", Duration::from_secs(2), || {
        !port_open(port)
    });
    let (took, r) = scrape.join().expect("scrape thread");
    assert_eq!(r.status, 200, "{}", adapter.stderr());
    let s = parse_page(&r.text(), false);
    assert_eq!(value(&s, "value", &[]), 3.0);
    assert_eq!(source_up(&s, "slow"), 0.0);
    assert!(
        took >= Duration::from_millis(1500),
        "the scrape waited for the timeout: {took:?}"
    );
    let status = adapter
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("still running 10 s after SIGTERM:\n{}", adapter.stderr()));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status; log:\n{}",
        adapter.stderr()
    );
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "exited soon after the scrape finished"
    );
    assert!(
        adapter.stderr().contains("SIGTERM received"),
        "{}",
        adapter.stderr()
    );
}

// ---------------------------------------------------------------------------------------
// The other real servers of the harness (used by the recipe tests) come up and answer.

#[test]
fn harness_servers_for_recipes_start_and_answer() {
    let haproxy = std::thread::spawn(|| {
        let h = Haproxy::start();
        let csv = h.stats_csv();
        assert!(csv.starts_with("# pxname,svname,"), "{csv}");
        assert!(csv.contains("be_app,dead1,"), "{csv}");
        h
    });
    let apache = std::thread::spawn(|| {
        let a = Apache::start();
        let auto = a.status_auto();
        assert!(auto.contains("ServerMPM: event"), "{auto}");
        assert!(auto.contains("Scoreboard: "), "{auto}");
        assert_eq!(http_get(a.port, "/").status, 200);
        a
    });
    let fpm = std::thread::spawn(|| {
        let f = PhpFpm::start();
        let status = f.status("");
        assert!(status.contains("pool:                 www"), "{status}");
        let json = f.status("json");
        let v: serde_json::Value = serde_json::from_str(&json).expect("php-fpm ?json");
        assert_eq!(v["pool"], "www");
        f
    });
    let mc = Memcached::start();
    assert!(mc.stats().contains_key("pid"));
    let servers = (
        haproxy.join().expect("haproxy"),
        apache.join().expect("apache"),
        fpm.join().expect("php-fpm"),
    );
    let pids = [servers.0.pid(), servers.1.pid(), servers.2.pid(), mc.pid()];
    drop(servers);
    drop(mc);
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "server pid {pid} still running after drop"
        );
    }
}
