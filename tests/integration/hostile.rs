//! The app on the other side is hostile (issue 27): it plants links and FIFOs on the
//! shared volume, echoes secrets back, and feeds unbounded input. Each test reproduces one
//! attack against the real binary (real nginx and redis where the app is one) and checks
//! the adapter's answer, and that `/healthz` stays quick meanwhile.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::tail::{wait_page, LoggingNginx};

/// What the kubelet allows a probe.
const PROBE: Duration = Duration::from_secs(1);

/// `/healthz` answers 200 within [`PROBE`].
fn assert_healthz_quick(adapter: &Adapter) {
    let start = Instant::now();
    let r = adapter.get("/healthz");
    let took = start.elapsed();
    assert_eq!(r.status, 200, "/healthz");
    assert!(took < PROBE, "/healthz took {took:?}");
}

/// Scrapes (a file source is read on a scrape) until the status page `/` holds `text`;
/// returns the page. Bounded.
fn wait_landing(adapter: &Adapter, text: &str) -> String {
    let start = Instant::now();
    loop {
        adapter.metrics();
        let page = adapter.get("/").text();
        if page.contains(text) {
            return page;
        }
        assert!(
            start.elapsed() < START_TIMEOUT,
            "{text:?} not on / within {START_TIMEOUT:?}:\n{page}\nlog:\n{}",
            adapter.stderr()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn file_source(path: &Path, parser: &str, extra: &str) -> String {
    format!(
        "[sources.app]\ntype = \"file\"\nparser = \"{parser}\"\npath = {}\n{extra}",
        toml_str(&path.display().to_string())
    )
}

#[test]
fn a_stats_file_swapped_for_a_link_to_proc_self_environ_is_not_read() {
    let dir = TempDir::new("environ-link");
    let link = dir.join("stats");
    std::os::unix::fs::symlink("/proc/self/environ", &link).unwrap();
    // A linked directory reaches the same file with a plain last component.
    std::os::unix::fs::symlink("/proc/self", dir.join("procdir")).unwrap();
    let secret = "env-secret-Vq7-never-shown";
    let config = dir.write("config.toml", file_source(&link, "kv", ""));
    let once = run_cli_with_env(
        &["once", "--config", config.to_str().unwrap()],
        &[("APP_TOKEN", secret)],
        START_TIMEOUT,
    );
    let all = format!("{}{}", once.stdout, once.stderr);
    assert!(!all.contains(secret), "{once}");
    assert!(
        once.stderr.contains("a symbolic link; not followed"),
        "{once}"
    );
    assert!(once
        .stdout
        .contains("metrics_adapter_source_up{source=\"app\"} 0"));

    // Links allowed: still never the adapter's own process, through a link or a directory.
    for (path, follow) in [
        (link.clone(), "true"),
        (dir.join("procdir/environ"), "false"),
    ] {
        let config = dir.write(
            "config.toml",
            file_source(&path, "kv", &format!("follow_links = {follow}\n")),
        );
        let once = run_cli_with_env(
            &["once", "--config", config.to_str().unwrap()],
            &[("APP_TOKEN", secret)],
            START_TIMEOUT,
        );
        assert!(
            !format!("{}{}", once.stdout, once.stderr).contains(secret),
            "{once}"
        );
        assert!(
            once.stderr
                .contains("a file of the adapter's own process; never read"),
            "{once}"
        );
    }

    // The served status page: the adapter's environment (NO_COLOR=1, set by the harness)
    // is not on it.
    let adapter = Adapter::start(&file_source(&link, "kv", ""));
    let page = wait_landing(&adapter, "not followed");
    assert!(!page.contains("NO_COLOR"), "{page}");
    assert_healthz_quick(&adapter);

    // A link the config allows, to an ordinary file, is read.
    let real = dir.write("real", "requests: 7\n");
    let linked = dir.join("linked");
    std::os::unix::fs::symlink(&real, &linked).unwrap();
    let config = dir.write(
        "config.toml",
        file_source(&linked, "kv", "follow_links = true\n"),
    );
    let once = run_cli(
        &["once", "--config", config.to_str().unwrap()],
        START_TIMEOUT,
    );
    assert!(once.stdout.contains("\nrequests 7.0\n"), "{once}");
}

#[test]
fn the_status_page_shows_a_short_escaped_excerpt_of_input() {
    let dir = TempDir::new("excerpt");
    // One unusable line: 20,000 characters, a terminal escape and a carriage return.
    let line = format!("key: \x1b[2J\r{}", "x".repeat(20_000));
    let stats = dir.write("stats", format!("{line}\nok: 1\n"));
    let adapter = Adapter::start(&file_source(&stats, "kv", ""));
    let page = wait_landing(&adapter, "skipped");
    let row = page
        .lines()
        .find(|l| l.contains("skipped"))
        .unwrap()
        .to_string();
    assert!(!row.contains('\x1b') && !row.contains('\r'), "{row:?}");
    assert!(row.len() < 1_000, "{} bytes: {row}", row.len());
    assert!(row.contains("\\u{1b}[2J\\r"), "{row}");
    let config = dir.write("config.toml", file_source(&stats, "kv", ""));
    let once = run_cli(
        &["once", "--config", config.to_str().unwrap()],
        START_TIMEOUT,
    );
    assert!(!once.stderr.contains('\x1b'), "{once}");
    assert!(once.stderr.len() < 1_000, "{once}");
}

#[test]
fn a_secret_echoed_back_by_redis_is_redacted_everywhere() {
    let redis = Redis::start();
    let dir = TempDir::new("echo");
    let secret = "pw-echo-Zr81-never-shown";
    let secret_file = dir.write("password", format!("{secret}\n"));
    // Real redis echoes an unknown command's first argument in its error reply.
    let config = format!(
        "[sources.cache]\ntype = \"tcp\"\nparser = \"redis_info\"\naddress = \"127.0.0.1:{}\"\n\
         send = \"FOO {{secret}}\\r\\nINFO\\r\\n\"\nframing = \"resp\"\nsecret_file = {}\n",
        redis.port,
        toml_str(&secret_file.display().to_string())
    );
    let adapter = Adapter::start(&config);
    let page = wait_landing(&adapter, "unknown command");
    assert!(!page.contains(secret), "{page}");
    assert!(page.contains("&lt;secret&gt;"), "{page}");
    let metrics = adapter.metrics();
    assert!(!metrics.contains(secret));
    wait_until("the log says the source is down", START_TIMEOUT, || {
        adapter.stderr().contains("source down")
    });
    assert!(!adapter.stderr().contains(secret), "{}", adapter.stderr());

    let config_path = dir.write("config.toml", &config);
    let once = run_cli(
        &["once", "--config", config_path.to_str().unwrap()],
        START_TIMEOUT,
    );
    assert!(
        !format!("{}{}", once.stdout, once.stderr).contains(secret),
        "{once}"
    );
    assert!(once.stderr.contains("<secret>"), "{once}");
}

fn tail_config(log: &Path, state: &Path) -> String {
    format!(
        "[sources.web]\ntype = \"tail\"\nparser = \"nginx_access\"\npath = {}\n\
         state_file = {}\ninterval = \"100ms\"\ntimeout = \"5s\"\nfrom_start = true\n",
        toml_str(&log.display().to_string()),
        toml_str(&state.display().to_string())
    )
}

/// Waits until the page counts every line of `log` (all `GET /ok`, 200); returns the page.
fn wait_gets(adapter: &Adapter, log: &Path) -> String {
    let n = std::fs::read_to_string(log).unwrap().lines().count();
    let series = format!("nginx_http_response_count_total{{method=\"GET\",status=\"200\"}} {n}.0");
    let start = Instant::now();
    loop {
        let page = adapter.metrics();
        if page.contains(&series) {
            return page;
        }
        assert!(
            start.elapsed() < START_TIMEOUT,
            "{series} not reached:\n{page}\nlog:\n{}",
            adapter.stderr()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn a_state_file_that_is_the_log_or_the_config_under_another_spelling_is_refused() {
    let nginx = LoggingNginx::start();
    nginx.requests("GET", "/ok", 200, 1);
    let dir = nginx.dir.path();
    let respelled = dir.join(".").join("access.log");
    let config = nginx
        .dir
        .write("config.toml", tail_config(&nginx.log, &respelled));
    let check = run_cli(
        &["check", "--config", config.to_str().unwrap()],
        START_TIMEOUT,
    );
    assert!(!check.status.success(), "{check}");
    assert!(
        check
            .stderr
            .contains("sources.web.state_file: must not be the log itself"),
        "{check}"
    );
    // The config file, through a link to its directory.
    std::os::unix::fs::symlink(dir, nginx.dir.join("again")).unwrap();
    let config = nginx.dir.write(
        "config.toml",
        tail_config(&nginx.log, &nginx.dir.join("again/config.toml")),
    );
    let check = run_cli(
        &["check", "--config", config.to_str().unwrap()],
        START_TIMEOUT,
    );
    assert!(
        check
            .stderr
            .contains("sources.web.state_file: must not be the config file"),
        "{check}"
    );
    let before = std::fs::read(&nginx.log).unwrap();
    assert!(before.ends_with(b"\n") && before.len() > 20);
}

#[test]
fn a_planted_state_tmp_link_is_not_written_through() {
    let nginx = LoggingNginx::start();
    let victim = nginx.dir.write("victim", "precious\n");
    let state = nginx.dir.join("web.pos");
    std::os::unix::fs::symlink(&victim, nginx.dir.join("web.pos.tmp")).unwrap();
    let adapter = Adapter::start(&tail_config(&nginx.log, &state));
    nginx.requests("GET", "/ok", 200, 3);
    wait_gets(&adapter, &nginx.log);
    wait_until("the state file written", START_TIMEOUT, || {
        std::fs::read_to_string(&state).is_ok_and(|s| s.split_whitespace().count() == 3)
    });
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(!std::fs::symlink_metadata(&state)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn a_fifo_huge_or_device_state_file_neither_blocks_nor_bloats_the_source() {
    for plant in ["fifo", "sparse", "zero"] {
        let nginx = LoggingNginx::start();
        let state = nginx.dir.join("web.pos");
        match plant {
            "fifo" => assert!(Command::new("mkfifo")
                .arg(&state)
                .status()
                .unwrap()
                .success()),
            "sparse" => std::fs::File::create(&state)
                .unwrap()
                .set_len(2 << 30)
                .unwrap(),
            _ => std::os::unix::fs::symlink("/dev/zero", &state).unwrap(),
        }
        nginx.requests("GET", "/ok", 200, 2);
        let mut adapter = Adapter::start(&tail_config(&nginx.log, &state));
        wait_until(&format!("{plant}: ready"), Duration::from_secs(3), || {
            adapter.get("/readyz").status == 200
        });
        wait_gets(&adapter, &nginx.log);
        assert_healthz_quick(&adapter);
        assert!(
            adapter.stderr().contains("tail state file unreadable"),
            "{plant}: {}",
            adapter.stderr()
        );
        let rss_kib = std::fs::read_to_string(format!("/proc/{}/status", adapter.pid()))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap();
        assert!(rss_kib < 200 << 10, "{plant}: peak RSS {rss_kib} KiB");
        adapter.sigterm();
        let start = Instant::now();
        assert!(
            adapter.wait_exit(Duration::from_secs(5)).is_some(),
            "{plant}: SIGTERM"
        );
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{plant}: exit took long"
        );
    }
}

/// The samples of source `web`'s data on a page (not the adapter's own series).
fn data_samples(page: &str) -> usize {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter(|l| !l.starts_with("metrics_adapter_") && !l.starts_with("process_"))
        .count()
}

fn tail_source(log: &Path, extra: &str) -> String {
    format!(
        "[sources.web]\ntype = \"tail\"\nparser = \"nginx_access\"\npath = {}\n\
         interval = \"100ms\"\ntimeout = \"5s\"\nfrom_start = true\n{extra}",
        toml_str(&log.display().to_string())
    )
}

/// Appends lines to the log nginx writes, as the app beside it may.
fn append(log: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(log).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// A line in nginx's `timed` format with `method`.
fn nginx_line(method: &str) -> String {
    format!(
        "127.0.0.1 - - [07/Dec/2026:08:00:00 +0000] \"{method} /ok HTTP/1.1\" 200 3 \"-\" \"t\" 0.000 -\n"
    )
}

#[test]
fn a_tail_sources_max_series_counts_the_samples_on_the_page() {
    let nginx = LoggingNginx::start();
    // Each method and status: a counter, a size and a 14-sample histogram: 16 samples.
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
        nginx.requests(method, "/ok", 200, 1);
    }
    let adapter = Adapter::start(&tail_source(&nginx.log, "max_series = 40\n"));
    let page = wait_page(&adapter, START_TIMEOUT, |p| {
        p.contains("metrics_adapter_source_dropped_series_total{source=\"web\",reason=\"limit\"}")
            && !p.contains("reason=\"limit\"} 0")
    });
    let n = data_samples(&page);
    assert!((32..=40).contains(&n), "{n} samples:\n{page}");
}

#[test]
fn label_values_from_a_log_are_cut_and_counted() {
    let nginx = LoggingNginx::start();
    nginx.requests("GET", "/ok", 200, 1);
    let long = "A".repeat(100 << 10);
    for _ in 0..5 {
        append(&nginx.log, &nginx_line(&long));
    }
    let adapter = Adapter::start(&tail_source(&nginx.log, ""));
    let page = wait_page(&adapter, START_TIMEOUT, |p| {
        // Three metrics take the method as a label: three values cut per line.
        p.contains("metrics_adapter_source_parse_errors_total{source=\"web\"} 15.0\n")
    });
    assert!(page.len() < 200_000, "a page of {} bytes", page.len());
    let cut = format!("method=\"{}\"", "A".repeat(1024));
    assert!(page.contains(&cut));
    assert!(!page.contains(&format!("method=\"{}", "A".repeat(1025))));
    assert_healthz_quick(&adapter);
}

/// A method name of letters for `i` (the recipe's method is `[A-Za-z]+`).
fn letters(mut i: usize) -> String {
    let mut s = String::from("M");
    loop {
        s.push(char::from(b'a' + (i % 26) as u8));
        i /= 26;
        if i == 0 {
            return s;
        }
    }
}

/// CPU time (user + system) the process used so far, in seconds (clock ticks of 10 ms).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    let f: Vec<&str> = after.split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

#[test]
fn an_idle_tail_source_with_a_big_state_does_not_rebuild_its_page_every_poll() {
    let nginx = LoggingNginx::start();
    nginx.requests("GET", "/ok", 200, 1);
    let text: String = (0..5_000).map(|i| nginx_line(&letters(i))).collect();
    append(&nginx.log, &text);
    let adapter = Adapter::start(&tail_source(&nginx.log, ""));
    wait_page(&adapter, START_TIMEOUT, |p| {
        p.contains(&format!("method=\"{}\"", letters(4_999)))
    });
    // 80,000 samples. Polled every 100 ms with nothing new: 20 polls in two seconds.
    let before = cpu_seconds(adapter.pid());
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        assert_healthz_quick(&adapter);
        std::thread::sleep(Duration::from_millis(100));
    }
    let used = cpu_seconds(adapter.pid()) - before;
    assert!(used < 0.3, "{used} s of CPU in 2 s idle");
}

#[test]
fn a_bare_csv_that_would_make_a_huge_page_makes_its_source_down() {
    let dir = TempDir::new("csv-amplify");
    // 100 number columns and 100 text columns of 300 characters: each row, 30 KB, writes
    // 100 samples with 30 KB of labels each (3 MB of page).
    let mut csv = String::new();
    let header: Vec<String> = (0..200).map(|i| format!("c{i}")).collect();
    csv.push_str(&header.join(","));
    csv.push('\n');
    for r in 0..30 {
        let row: Vec<String> = (0..200)
            .map(|i| match i % 2 {
                0 => i.to_string(),
                _ => format!("{r}{}", "t".repeat(300)),
            })
            .collect();
        csv.push_str(&row.join(","));
        csv.push('\n');
    }
    assert!(csv.len() < 1 << 20);
    let stats = dir.write("stats.csv", &csv);
    let adapter = Adapter::start(&file_source(&stats, "csv", "timeout = \"20s\"\n"));
    let page = wait_landing(&adapter, "more than the 64 MiB a source may produce");
    assert!(page.contains("down"), "{page}");
    let metrics = adapter.metrics();
    assert!(metrics.contains("metrics_adapter_source_up{source=\"app\"} 0"));
    assert!(metrics.len() < 1 << 20, "{} bytes", metrics.len());
    assert_healthz_quick(&adapter);
}

#[test]
fn accept_encoding_gzip_with_a_zero_weight_is_a_refusal() {
    let adapter = Adapter::start_default();
    for (accept, gzipped) in [
        ("gzip;q=0.0", false),
        ("gzip; q=0.000", false),
        ("identity, gzip;q=0", false),
        ("gzip;q=0.5", true),
        ("gzip", true),
    ] {
        let r = adapter.get_with("/metrics", &[("Accept-Encoding", accept)]);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-encoding") == Some("gzip"),
            gzipped,
            "Accept-Encoding: {accept}"
        );
    }
}

/// The longest `/healthz` took while `attack` ran on `threads` other threads (bounded:
/// `attack` is given a deadline), probing every 50 ms.
fn slowest_healthz_during(
    adapter: &Adapter,
    threads: usize,
    attack: impl Fn(Instant) + Send + Sync,
    for_: Duration,
) -> Duration {
    let until = Instant::now() + for_;
    std::thread::scope(|s| {
        let attack = &attack;
        for _ in 0..threads {
            s.spawn(move || attack(until));
        }
        let mut slowest = Duration::ZERO;
        std::thread::sleep(Duration::from_millis(200));
        while Instant::now() < until {
            let start = Instant::now();
            let r = try_http_request(adapter.port, "GET", "/healthz", &[]);
            let took = start.elapsed();
            assert!(r.is_ok_and(|r| r.status == 200), "/healthz failed");
            slowest = slowest.max(took);
            std::thread::sleep(Duration::from_millis(50));
        }
        slowest
    })
}

/// A `prometheus` file of about `mib` MiB: 1,000-character label values.
fn big_prom(dir: &TempDir, mib: usize) -> std::path::PathBuf {
    let filler = "x".repeat(1000);
    dir.write(
        "big.prom",
        (0..mib * 1024)
            .map(|i| format!("big{{n=\"{i}\",pad=\"{filler}\"}} 1\n"))
            .collect::<String>(),
    )
}

#[test]
fn gzip_scrapes_of_a_big_page_do_not_stall_healthz() {
    let dir = TempDir::new("gzip-flood");
    let big = big_prom(&dir, 16);
    let adapter = Adapter::start(&file_source(
        &big,
        "prometheus",
        "timeout = \"30s\"\nmax_bytes = 67108864\n",
    ));
    assert!(adapter.metrics().len() > 16 << 20);
    let gzipped = std::sync::atomic::AtomicUsize::new(0);
    // 12 clients: with the prober, within the 16 connections one address may hold.
    let slowest = slowest_healthz_during(
        &adapter,
        12,
        |until| {
            while Instant::now() < until {
                let r = adapter.get_with("/metrics", &[("Accept-Encoding", "gzip")]);
                assert_eq!(r.status, 200);
                if r.header("content-encoding") == Some("gzip") {
                    gzipped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        },
        Duration::from_secs(4),
    );
    assert!(
        slowest < PROBE,
        "/healthz took {slowest:?} during gzip scrapes"
    );
    assert!(gzipped.into_inner() > 0, "no page was gzipped");
}

#[test]
fn a_reload_compiles_recipes_off_the_runtime_thread() {
    // Recipes whose patterns take a while to compile (wide Unicode classes, repeated).
    let mut config = String::from(
        "[sources.m]\ntype = \"file\"\npath = \"/proc/meminfo\"\nparser = \"meminfo\"\n",
    );
    for i in 0..6 {
        config.push_str(&format!(
            "[recipes.r{i}]\ndescription = \"slow to compile\"\nformat = \"regex\"\n\
             [[recipes.r{i}.regex.rule]]\n\
             pattern = '^(?P<a>\\w{{60}}) (?P<b>\\w{{60}}) (?P<c>\\w{{60}})$'\n\
             line_key = \"line\"\n\
             [[recipes.r{i}.mapping.metric]]\nkey = \"line\"\nname = \"lines{i}\"\n\
             accumulate = \"count\"\n"
        ));
    }
    let adapter = Adapter::start_with(Some(&config), &["--web.enable-lifecycle"]);
    let slowest = slowest_healthz_during(
        &adapter,
        2,
        |until| {
            while Instant::now() < until {
                let r = adapter.request("POST", "/-/reload", &[]);
                assert_eq!(r.status, 200, "{}", r.text());
            }
        },
        Duration::from_secs(4),
    );
    assert!(slowest < PROBE, "/healthz took {slowest:?} during reloads");
}

/// Threads of process `pid` now.
fn threads(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

#[test]
fn a_source_runs_at_most_one_parse_at_a_time() {
    let dir = TempDir::new("parse-pileup");
    let big = big_prom(&dir, 24);
    // The parse of 24 MiB takes longer than the timeout: each scrape abandons one.
    let adapter = Adapter::start(&file_source(
        &big,
        "prometheus",
        "timeout = \"1s\"\nmax_bytes = 67108864\n",
    ));
    let base = threads(adapter.pid());
    let mut most = base;
    let mut refused = false;
    for _ in 0..8 {
        let page = adapter.metrics();
        assert!(page.contains("metrics_adapter_source_up{source=\"app\"} 0"));
        most = most.max(threads(adapter.pid()));
        refused |= adapter
            .get("/")
            .text()
            .contains("the previous parse, abandoned at the source timeout, is still running");
    }
    assert!(most <= base + 3, "threads: {base} at start, {most} at most");
    assert!(refused, "no read was refused for a running parse");
    assert_healthz_quick(&adapter);
}

/// The adapter with basic auth (user `prometheus`, `password`, bcrypt cost 8: about 80 ms
/// a check in a debug build); ready when the port accepts connections.
fn auth_adapter(password: &str) -> (Proc, u16, TempDir) {
    let dir = TempDir::new("auth-flood");
    let hash = bcrypt::hash(password, 8).unwrap();
    let web = dir.write(
        "web.yml",
        format!("basic_auth_users:\n  prometheus: {hash}\n"),
    );
    let port = free_port();
    let mut cmd = Command::new(BIN);
    clean_env(&mut cmd);
    cmd.arg("--web.config.file")
        .arg(&web)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .current_dir(dir.path());
    let mut proc_ = Proc::spawn("metrics-adapter", cmd, dir.join("adapter.log"));
    proc_.wait_ready(START_TIMEOUT, || port_open(port));
    (proc_, port, dir)
}

/// A connection to the adapter from local address `from` (any of 127.0.0.0/8).
fn connect_from(from: [u8; 4], port: u16) -> std::net::TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = rt
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind((from, 0).into())?;
            socket.connect(([127, 0, 0, 1], port).into()).await
        })
        .unwrap()
        .into_std()
        .unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// `GET /healthz` from local address `from` with basic auth `user:password`: the status.
fn healthz_from(from: [u8; 4], port: u16, password: &str) -> u16 {
    use base64::Engine;
    use std::io::{Read, Write};
    let stream = connect_from(from, port);
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("prometheus:{password}"));
    let mut s = stream;
    s.write_all(
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_right_password_gets_in_while_the_same_address_floods_a_wrong_one() {
    let (_adapter, port, _dir) = auth_adapter("right-pw");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let ok = std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let deadline = Instant::now() + Duration::from_secs(20);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline
                {
                    assert_eq!(healthz_from([127, 0, 0, 1], port, "wrong-pw"), 401);
                }
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        let ok = (0..10)
            .filter(|_| {
                std::thread::sleep(Duration::from_millis(50));
                healthz_from([127, 0, 0, 1], port, "right-pw") == 200
            })
            .count();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        ok
    });
    assert_eq!(ok, 10, "right password accepted {ok} times of 10");
}

#[test]
fn a_first_login_is_quick_while_many_addresses_flood_wrong_passwords() {
    let (_adapter, port, _dir) = auth_adapter("right-pw");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let took = std::thread::scope(|s| {
        for a in 0..48u8 {
            let stop = &stop;
            s.spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline
                {
                    n += 1;
                    let status = healthz_from([127, 0, 1, a + 1], port, &format!("guess-{a}-{n}"));
                    assert!(status == 401 || status == 0, "{status}");
                }
            });
        }
        // Every flooding address has been refused once by now.
        std::thread::sleep(Duration::from_secs(4));
        let start = Instant::now();
        let status = healthz_from([127, 0, 0, 1], port, "right-pw");
        let took = start.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(status, 200);
        took
    });
    assert!(took < PROBE, "a first login took {took:?} during the flood");
}

#[test]
fn idle_connections_from_many_loopback_addresses_leave_room_for_a_new_client() {
    let adapter = Adapter::start("");
    // 16 addresses × 16 connections (each address's limit): all 256 slots, idle.
    let mut idle = Vec::new();
    for a in 1..=16u8 {
        for _ in 0..16 {
            idle.push(connect_from([127, 0, 3, a], adapter.port));
        }
    }
    // The server has taken them all (a 17th from the same address is refused).
    wait_until("the server holding 256 connections", START_TIMEOUT, || {
        let out = Command::new("ss")
            .args([
                "-tnH",
                "state",
                "established",
                "( sport = :PORT )"
                    .replace("PORT", &adapter.port.to_string())
                    .as_str(),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count() >= 256
    });
    for _ in 0..3 {
        let start = Instant::now();
        let r = try_http_request(adapter.port, "GET", "/healthz", &[]);
        let took = start.elapsed();
        assert!(
            r.is_ok_and(|r| r.status == 200),
            "a new client was shut out"
        );
        assert!(took < PROBE, "/healthz took {took:?}");
    }
    // The oldest idle ones made room: the first connection opened is closed.
    use std::io::Read;
    let mut first = idle.remove(0);
    first
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        first.read(&mut buf).unwrap_or(0),
        0,
        "the oldest idle connection is open"
    );
}

#[test]
fn an_exec_child_that_calls_setsid_is_killed_at_the_timeout() {
    // The child leaves the command's process group (setsid) and holds its stdout.
    let adapter = Adapter::start(
        "[sources.cmd]\ntype = \"exec\"\nparser = \"kv\"\ntimeout = \"1s\"\n\
         command = [\"sh\", \"-c\", \"setsid sleep 312.5 & echo 'v: 1'; sleep 60\"]\n",
    );
    let page = adapter.metrics();
    assert!(
        page.contains("metrics_adapter_source_up{source=\"cmd\"} 0"),
        "{page}"
    );
    let left = || pids_with_cmdline(&["sleep", "312.5"]);
    let gone = {
        let start = Instant::now();
        loop {
            if left().is_empty() {
                break true;
            }
            if start.elapsed() > Duration::from_secs(5) {
                break false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    for pid in left() {
        send_signal("KILL", i64::from(pid));
    }
    assert!(gone, "the setsid child outlived the timeout");
    assert_healthz_quick(&adapter);
}

#[test]
fn an_interval_below_the_floor_is_a_config_error() {
    let dir = TempDir::new("interval-floor");
    let config = dir.write(
        "config.toml",
        "[sources.cmd]\ntype = \"exec\"\nparser = \"kv\"\ncommand = [\"true\"]\ninterval = \"1e-9s\"\n",
    );
    let check = run_cli(
        &["check", "--config", config.to_str().unwrap()],
        START_TIMEOUT,
    );
    assert!(!check.status.success(), "{check}");
    assert!(
        check.stderr.contains(&format!(
            "{}: sources.cmd.interval: \"1e-9s\" is shorter than 100ms",
            config.display()
        )),
        "{check}"
    );
    let config = dir.write(
        "config.toml",
        "[sources.cmd]\ntype = \"exec\"\nparser = \"kv\"\ncommand = [\"true\"]\ninterval = \"100ms\"\n",
    );
    let check = run_cli(
        &["check", "--config", config.to_str().unwrap()],
        START_TIMEOUT,
    );
    assert!(check.status.success(), "{check}");
}

#[test]
fn parse_explain_escapes_terminal_control_sequences() {
    let dir = TempDir::new("explain-escapes");
    let sample = dir.write("sample", "k\x1b[31mred: 1\nx: \x1b]0;title\x07\n");
    let out = run_cli(
        &["parse", "kv", sample.to_str().unwrap(), "--explain"],
        START_TIMEOUT,
    );
    assert!(out.status.success(), "{out}");
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !all.chars().any(|c| c.is_control() && c != '\n'),
        "a raw control character:\n{all:?}"
    );
    assert!(
        out.stdout.contains("read    k\\u{1b}[31mred = \"1\""),
        "{out}"
    );
}
