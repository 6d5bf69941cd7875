//! The built-in recipes against the real apps: each test starts the Debian server on
//! 127.0.0.1, puts a small bounded load on it, scrapes it through the adapter and checks
//! the values against the app's own stats read directly around the scrape (exact for
//! stable values, ordered for counters). Where Debian packages the app's official
//! exporter, it runs beside the adapter against the same server, and every family and
//! series it serves must be on the adapter's page too, with the same type, except the
//! differences each recipe documents in its `notes`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use crate::harness::*;

/// An adapter serving one source, `app`, described by `source_toml` (the keys after
/// `[sources.app]`).
fn adapter_for(source_toml: &str) -> Adapter {
    Adapter::start(&format!("[sources.app]\n{source_toml}\ntimeout = \"3s\"\n"))
}

/// The adapter's page, checked by promtool (allowing the lint complaints the recipe
/// inherits from the exporter it is compatible with) and parsed back by Python.
fn checked_page(
    adapter: &Adapter,
    allow: &[&str],
) -> (Vec<ParsedSample>, BTreeMap<String, String>) {
    let page = adapter.metrics();
    promtool_check(&page, allow);
    let (samples, types) = parse_page_typed(&page, false);
    assert_eq!(source_up(&samples, "app"), 1.0, "{page}");
    // The OpenMetrics page of the same source parses too (counters, infos, state sets).
    let om = adapter.get_with(
        "/metrics",
        &[("Accept", "application/openmetrics-text; version=1.0.0")],
    );
    parse_page(&om.text(), true);
    (samples, types)
}

/// `n` plain GETs to `path` (bounded load; each on a new connection).
fn http_load(port: u16, path: &str, n: usize) {
    for _ in 0..n {
        assert_eq!(http_get(port, path).status, 200, "GET {path}");
    }
}

/// A Debian peer exporter started on a free port against the same server.
struct PeerExporter {
    proc_: Proc,
    port: u16,
    _dir: TempDir,
}

impl PeerExporter {
    fn start(bin: &str, args: impl FnOnce(&str) -> Vec<String>) -> PeerExporter {
        require_binary(bin);
        let dir = TempDir::new("peer-exporter");
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args(args(&format!("127.0.0.1:{port}")));
        let name = bin.rsplit('/').next().unwrap_or(bin);
        let mut proc_ = Proc::spawn(name, cmd, dir.join("exporter.log"));
        proc_.wait_ready(Duration::from_secs(10), || {
            try_http_request(port, "GET", "/metrics", &[]).is_ok_and(|r| r.status == 200)
        });
        PeerExporter {
            proc_,
            port,
            _dir: dir,
        }
    }

    fn page(&self) -> (Vec<ParsedSample>, BTreeMap<String, String>) {
        let r = http_get(self.port, "/metrics");
        assert_eq!(r.status, 200, "{}", self.proc_.logs());
        parse_page_typed(&r.text(), false)
    }
}

/// Every family of the peer's page whose name starts with `prefix` (minus its own
/// `<prefix>exporter_*` self-metrics and `skip`, the documented differences) is on ours with
/// the same type, and every series of it (name + labels) too, minus series `series_skip`
/// picks. Family names are the Python parser's (counters without `_total`); series names
/// are compared without `_total` too, as the parser adds it to counters that lack it.
fn assert_covers_peer(
    ours: &(Vec<ParsedSample>, BTreeMap<String, String>),
    peer: &(Vec<ParsedSample>, BTreeMap<String, String>),
    prefix: &str,
    skip: &[&str],
    series_skip: impl Fn(&ParsedSample) -> bool,
) {
    let mut problems = Vec::new();
    let compared: Vec<&String> = peer
        .1
        .keys()
        .filter(|f| {
            f.starts_with(prefix)
                && !f.starts_with(&format!("{prefix}exporter_"))
                && !skip.contains(&f.as_str())
        })
        .collect();
    assert!(compared.len() >= 5, "too few peer families: {:?}", peer.1);
    for family in &compared {
        match ours.1.get(*family) {
            None => problems.push(format!("family {family} missing")),
            Some(t) if *t != peer.1[*family] => problems.push(format!(
                "family {family}: ours {t}, peer {}",
                peer.1[*family]
            )),
            Some(_) => {}
        }
    }
    let series = |s: &[ParsedSample]| -> BTreeSet<(String, Vec<(String, String)>)> {
        s.iter()
            .map(|s| {
                (
                    s.name.trim_end_matches("_total").to_string(),
                    s.labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )
            })
            .collect()
    };
    let ours_series = series(&ours.0);
    for s in &peer.0 {
        let in_scope = compared.iter().any(|f| {
            s.name == **f
                || s.name
                    .strip_prefix(f.as_str())
                    .is_some_and(|r| r.starts_with('_'))
        });
        if !in_scope || series_skip(s) {
            continue;
        }
        let key = (
            s.name.trim_end_matches("_total").to_string(),
            s.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
        if !ours_series.contains(&key) {
            problems.push(format!("series {} {:?} missing", s.name, s.labels));
        }
    }
    assert!(
        problems.is_empty(),
        "differences from the peer exporter:\n{}",
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------

#[test]
fn nginx_stub_status_against_nginx_and_its_exporter() {
    let nginx = Nginx::start();
    nginx.write_file("index.txt", "hello\n");
    http_load(nginx.port, "/files/index.txt", 40);
    let url = nginx.url("/stub_status");
    let adapter = adapter_for(&format!(
        "type = \"http\"\nurl = {}\nparser = \"nginx_stub_status\"",
        toml_str(&url)
    ));

    let (accepted0, handled0, requests0) = nginx.stub_counters();
    let ours = checked_page(&adapter, &[]);
    let (accepted1, _, requests1) = nginx.stub_counters();
    let s = &ours.0;
    assert!(requests0 >= 40, "load reached nginx: {requests0}");
    let requests = value(s, "nginx_http_requests_total", &[]);
    assert!(requests0 as f64 <= requests - 1.0 && requests < requests1 as f64);
    let accepted = value(s, "nginx_connections_accepted", &[]);
    assert!(accepted0 as f64 <= accepted - 1.0 && accepted < accepted1 as f64);
    assert!(value(s, "nginx_connections_handled", &[]) >= handled0 as f64 + 1.0);
    // The adapter's own request is the one being written.
    assert!(value(s, "nginx_connections_writing", &[]) >= 1.0);
    assert!(value(s, "nginx_connections_active", &[]) >= 1.0);
    assert_eq!(value(s, "nginx_up", &[]), 1.0);
    assert_eq!(ours.1["nginx_http_requests"], "counter");
    assert_eq!(ours.1["nginx_connections_active"], "gauge");

    let peer = PeerExporter::start("/usr/bin/prometheus-nginx-exporter", |listen| {
        vec![
            "-nginx.scrape-uri".into(),
            url.clone(),
            "-web.listen-address".into(),
            listen.into(),
        ]
    })
    .page();
    // Documented: the exporter's counters without `_total` are untyped here.
    let ours_retyped = retype(
        &ours,
        &["nginx_connections_accepted", "nginx_connections_handled"],
        "counter",
    );
    assert_covers_peer(&ours_retyped, &peer, "nginx_", &[], |_| false);
    assert_eq!(value(&peer.0, "nginx_up", &[]), 1.0);
}

/// `ours` with the families in `names` given `kind` (for differences a recipe documents).
fn retype(
    ours: &(Vec<ParsedSample>, BTreeMap<String, String>),
    names: &[&str],
    kind: &str,
) -> (Vec<ParsedSample>, BTreeMap<String, String>) {
    let mut types = ours.1.clone();
    for n in names {
        assert!(types.contains_key(*n), "no family {n} on our page");
        types.insert(n.to_string(), kind.to_string());
    }
    let samples = ours
        .0
        .iter()
        .map(|s| ParsedSample {
            name: s.name.clone(),
            labels: s.labels.clone(),
            value: s.value,
        })
        .collect();
    (samples, types)
}

/// Lint complaints redis_info inherits from redis_exporter's names (see its notes); the
/// exporter's type complaints are fixed here.
const REDIS_LINT: &[&str] = &["_duration_sec metric names should not contain abbreviated units"];

#[test]
fn redis_info_against_redis_server_and_its_exporter() {
    let redis = Redis::start();
    // Bounded load: 300 SETs, 200 GETs (100 hits, 100 misses), keys with expiry in db 1.
    let mut script = String::new();
    for i in 0..300 {
        script.push_str(&format!("SET k{i} v{i}\n"));
    }
    for i in 0..200 {
        script.push_str(&format!("GET k{}\n", if i < 100 { i } else { 1000 + i }));
    }
    let out = Command::new(Redis::CLI)
        .args(["-h", "127.0.0.1", "-p", &redis.port.to_string()])
        .stdin(
            std::fs::File::open(TempDir::new("redis-load").write("load.txt", script))
                .expect("load script"),
        )
        .output()
        .expect("redis-cli");
    assert!(out.status.success(), "{out:?}");
    redis.cli(&["-n", "1", "SETEX", "tmp", "3600", "v"]);
    // A slow log of a few entries, then none logged (the exporter's commands neither).
    redis.cli(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    redis.cli(&["SLOWLOG", "RESET"]);
    redis.cli(&["ECHO", "slow"]);
    redis.cli(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);

    // The short form: the recipe says what to send.
    let adapter = adapter_for(&format!(
        "type = \"tcp\"\naddress = \"127.0.0.1:{}\"\nparser = \"redis_info\"",
        redis.port
    ));
    let ours = checked_page(&adapter, REDIS_LINT);
    let info = redis.info(Some("all"));
    let s = &ours.0;
    let num = |k: &str| -> f64 {
        info[k]
            .parse()
            .unwrap_or_else(|_| panic!("{k}: {}", info[k]))
    };

    // Stable values: exact.
    assert_eq!(value(s, "redis_up", &[]), 1.0);
    assert_eq!(value(s, "redis_process_id", &[]), f64::from(redis.pid()));
    assert_eq!(value(s, "redis_db_keys", &[("db", "db0")]), 300.0);
    assert_eq!(value(s, "redis_db_keys", &[("db", "db1")]), 1.0);
    assert_eq!(value(s, "redis_db_keys_expiring", &[("db", "db1")]), 1.0);
    assert_eq!(value(s, "redis_memory_max_bytes", &[]), num("maxmemory"));
    assert_eq!(value(s, "redis_config_maxclients", &[]), num("maxclients"));
    assert_eq!(value(s, "redis_keyspace_hits_total", &[]), 100.0);
    assert_eq!(value(s, "redis_keyspace_misses_total", &[]), 100.0);
    assert_eq!(value(s, "redis_commands_total", &[("cmd", "set")]), 300.0);
    assert_eq!(value(s, "redis_commands_total", &[("cmd", "get")]), 200.0);
    let usec = value(
        s,
        "redis_commands_duration_seconds_total",
        &[("cmd", "set")],
    );
    assert!(usec > 0.0 && usec < 1.0, "300 SETs took {usec} s");
    let info_labels = s
        .iter()
        .find(|x| x.name == "redis_instance_info")
        .map(|x| x.labels.clone())
        .expect("redis_instance_info");
    for k in [
        "redis_version",
        "redis_mode",
        "role",
        "run_id",
        "os",
        "tcp_port",
    ] {
        assert_eq!(info_labels.get(k), info.get(k), "instance_info label {k}");
    }
    assert!(find(
        s,
        "redis_latency_percentiles_usec",
        &[("cmd", "set"), ("quantile", "0.99")]
    )
    .is_some());
    // Counters: the adapter read before redis-cli's own INFO.
    assert!(value(s, "redis_commands_processed_total", &[]) < num("total_commands_processed"));
    assert!(value(s, "redis_connections_received_total", &[]) < num("total_connections_received"));
    assert_eq!(ours.1["redis_commands_processed"], "counter");
    assert_eq!(ours.1["redis_memory_used_bytes"], "gauge");
    assert_eq!(ours.1["redis_instance_info"], "gauge");

    let peer = PeerExporter::start("/usr/bin/prometheus-redis-exporter", |listen| {
        vec![
            "-redis.addr".into(),
            format!("redis://127.0.0.1:{}", redis.port),
            "-web.listen-address".into(),
            listen.into(),
        ]
    })
    .page();
    assert_eq!(value(&peer.0, "redis_up", &[]), 1.0);
    // Documented in parsers/redis_info.toml: what the recipe does not read, and two retyped.
    let not_in_info = [
        "redis_start_time_seconds",
        "redis_last_key_groups_scrape_duration_milliseconds",
        "redis_target_scrape_request_errors",
        // Typed as promtool asks: a counter, and a gauge without `_total` (see its notes).
        "redis_expired_time_cap_reached_total",
        "redis_migrate_cached_sockets_total",
    ];
    let untyped_here = [
        "redis_total_reads_processed",
        "redis_total_writes_processed",
        "redis_io_threaded_reads_processed",
        "redis_io_threaded_writes_processed",
        "redis_total_error_replies",
        "redis_unexpected_error_replies",
        "redis_dump_payload_sanitizations",
    ];
    let ours_retyped = retype(&ours, &untyped_here, "counter");
    assert_covers_peer(&ours_retyped, &peer, "redis_", &not_in_info, |x| {
        // The exporter adds zero series for empty databases; INFO lists those with keys.
        (x.name.starts_with("redis_db_") && x.value == 0.0)
            // Commands whose counts moved after our scrape: the INFO calls themselves and
            // what the exporter sends (CONFIG GET, CLIENT SETNAME, SLOWLOG ...).
            || x.labels.get("cmd").is_some_and(|c| !["set", "get", "select", "setex"].contains(&c.as_str()))
            // The exporter's quantile labels are percentiles ("99"), ours quantiles ("0.99").
            || (x.name == "redis_latency_percentiles_usec" && x.labels.contains_key("quantile"))
    });
    // Stable values agree with the exporter's.
    for (name, labels) in [
        ("redis_db_keys", vec![("db", "db0")]),
        ("redis_config_maxclients", vec![]),
        ("redis_config_maxmemory", vec![]),
        ("redis_config_io_threads", vec![]),
        ("redis_slowlog_length", vec![]),
        ("redis_slowlog_last_id", vec![]),
        ("redis_last_slow_execution_duration_seconds", vec![]),
        ("redis_process_id", vec![]),
        ("redis_commands_total", vec![("cmd", "set")]),
    ] {
        assert_eq!(
            value(s, name, &labels),
            value(&peer.0, name, &labels),
            "{name}"
        );
    }
}

#[test]
fn memcached_stats_against_memcached() {
    let mc = Memcached::start();
    // Bounded load: 100 sets, 150 gets (100 hits, 50 misses), 2 deletes (1 hit).
    for i in 0..100 {
        assert!(mc
            .command(&format!("set k{i} 0 0 2\r\nhi\r\n"), "\r\n")
            .starts_with("STORED"));
    }
    for i in 0..150 {
        mc.command(&format!("get k{i}\r\n"), "END\r\n");
    }
    mc.command("delete k0\r\n", "\r\n");
    mc.command("delete nope\r\n", "\r\n");

    let adapter = adapter_for(&format!(
        "type = \"tcp\"\naddress = \"127.0.0.1:{}\"\nparser = \"memcached_stats\"",
        mc.port
    ));
    let (s, types) = checked_page(&adapter, &[]);
    let stats = mc.stats();
    let num = |k: &str| -> f64 { stats[k].parse().expect(k) };
    let cmd = |c: &str, st: &str| {
        value(
            &s,
            "memcached_commands_total",
            &[("command", c), ("status", st)],
        )
    };
    assert_eq!(value(&s, "memcached_up", &[]), 1.0);
    assert_eq!(cmd("get", "hit"), 100.0);
    assert_eq!(cmd("get", "miss"), 50.0);
    assert_eq!(cmd("delete", "hit"), 1.0);
    assert_eq!(cmd("delete", "miss"), 1.0);
    assert_eq!(value(&s, "memcached_cmd_set_total", &[]), 100.0);
    assert_eq!(value(&s, "memcached_current_items", &[]), 99.0);
    assert_eq!(value(&s, "memcached_current_items", &[]), num("curr_items"));
    assert_eq!(value(&s, "memcached_current_bytes", &[]), num("bytes"));
    assert_eq!(
        value(&s, "memcached_limit_bytes", &[]),
        num("limit_maxbytes")
    );
    assert_eq!(
        value(&s, "memcached_limit_bytes", &[]),
        16.0 * 1024.0 * 1024.0
    );
    assert_eq!(value(&s, "memcached_max_connections", &[]), 64.0);
    assert_eq!(value(&s, "memcached_pid", &[]), f64::from(mc.pid()));
    assert_eq!(
        value(
            &s,
            "memcached_version_info",
            &[("version", stats["version"].as_str())]
        ),
        1.0
    );
    // The adapter's connection came before the direct `stats` one.
    assert!(value(&s, "memcached_connections_total", &[]) < num("total_connections"));
    assert!(value(&s, "memcached_read_bytes_total", &[]) < num("bytes_read"));
    assert_eq!(types["memcached_commands"], "counter");
    assert_eq!(types["memcached_current_items"], "gauge");
}

#[test]
fn haproxy_csv_against_haproxy_and_its_exporter() {
    let haproxy = Haproxy::start();
    http_load(haproxy.frontend_port, "/stats", 30);
    let url = haproxy.stats_url("/stats;csv");
    let adapter = adapter_for(&format!(
        "type = \"http\"\nurl = {}\nparser = \"haproxy_csv\"",
        toml_str(&url)
    ));
    let ours = checked_page(&adapter, &[]);
    let s = &ours.0;
    let csv = haproxy.stats_csv();
    assert_eq!(value(s, "haproxy_up", &[]), 1.0);
    fn server(sv: &str) -> [(&'static str, &str); 2] {
        [("backend", "be_app"), ("server", sv)]
    }
    assert_eq!(value(s, "haproxy_server_up", &server("up1")), 1.0);
    assert_eq!(value(s, "haproxy_server_up", &server("dead1")), 0.0);
    let state = |sv: &str, st: &str| {
        value(
            s,
            "haproxy_server_status",
            &[
                ("backend", "be_app"),
                ("server", sv),
                ("haproxy_server_status", st),
            ],
        )
    };
    assert_eq!((state("up1", "UP"), state("up1", "DOWN")), (1.0, 0.0));
    assert_eq!((state("dead1", "UP"), state("dead1", "DOWN")), (0.0, 1.0));
    assert_eq!(
        value(s, "haproxy_backend_up", &[("backend", "be_app")]),
        1.0
    );
    // 30 requests through fe_app, each a session; the direct read came later.
    let direct_sessions: f64 = csv
        .lines()
        .find(|l| l.starts_with("fe_app,FRONTEND,"))
        .and_then(|l| l.split(',').nth(7))
        .and_then(|v| v.parse().ok())
        .expect("fe_app stot in the CSV");
    let sessions = value(
        s,
        "haproxy_frontend_sessions_total",
        &[("frontend", "fe_app")],
    );
    assert!(
        sessions >= 30.0 && sessions <= direct_sessions,
        "{sessions} vs {direct_sessions}"
    );
    assert_eq!(
        value(
            s,
            "haproxy_frontend_http_requests_total",
            &[("frontend", "fe_app")]
        ),
        30.0
    );
    assert_eq!(value(s, "haproxy_server_weight", &server("up1")), 1.0);

    let peer = PeerExporter::start("/usr/bin/prometheus-haproxy-exporter", |listen| {
        vec![
            format!("--haproxy.scrape-uri={url}"),
            format!("--web.listen-address={listen}"),
        ]
    })
    .page();
    assert_eq!(value(&peer.0, "haproxy_up", &[]), 1.0);
    assert_covers_peer(&ours, &peer, "haproxy_", &[], |_| false);
    for (name, labels) in [
        ("haproxy_server_up", server("up1").to_vec()),
        ("haproxy_server_up", server("dead1").to_vec()),
        ("haproxy_server_weight", server("up1").to_vec()),
        (
            "haproxy_frontend_http_requests_total",
            vec![("frontend", "fe_app")],
        ),
    ] {
        assert_eq!(
            value(s, name, &labels),
            value(&peer.0, name, &labels),
            "{name} {labels:?}"
        );
    }
}

/// Lint complaints apache_status inherits from apache_exporter's names (see its notes).
const APACHE_LINT: &[&str] = &[
    "apache_cpu_time_ms_total metric names should not contain abbreviated units",
    "apache_duration_ms_total metric names should not contain abbreviated units",
    "apache_sent_kilobytes_total use base unit \"bytes\" instead of \"kilobytes\"",
];

#[test]
fn apache_status_against_apache_and_its_exporter() {
    let apache = Apache::start();
    http_load(apache.port, "/", 25);
    let url = apache.url("/server-status?auto");
    let adapter = adapter_for(&format!(
        "type = \"http\"\nurl = {}\nparser = \"apache_status\"",
        toml_str(&url)
    ));
    let before = apache_field(&apache.status_auto(), "Total Accesses");
    let ours = checked_page(&adapter, APACHE_LINT);
    let auto = apache.status_auto();
    let after = apache_field(&auto, "Total Accesses");
    let s = &ours.0;
    assert_eq!(value(s, "apache_up", &[]), 1.0);
    let accesses = value(s, "apache_accesses_total", &[]);
    assert!(
        before >= 25.0 && before < accesses && accesses < after,
        "{before} {accesses} {after}"
    );
    let version = auto
        .lines()
        .find_map(|l| l.strip_prefix("ServerVersion: "))
        .expect("ServerVersion");
    assert_eq!(
        value(s, "apache_info", &[("version", version), ("mpm", "event")]),
        1.0
    );
    // The scoreboard has one character per slot: the state counts add up to its length.
    let slots = auto
        .lines()
        .find_map(|l| l.strip_prefix("Scoreboard: "))
        .expect("Scoreboard")
        .len() as f64;
    let counted: f64 = s
        .iter()
        .filter(|x| x.name == "apache_scoreboard")
        .map(|x| x.value)
        .sum();
    assert_eq!(counted, slots);
    assert_eq!(
        value(s, "apache_generation", &[("type", "config")]),
        apache_field(&auto, "ParentServerConfigGeneration")
    );

    let peer = PeerExporter::start("/usr/bin/prometheus-apache-exporter", |listen| {
        vec![
            format!("--scrape_uri={url}"),
            format!("--telemetry.address={listen}"),
        ]
    })
    .page();
    assert_eq!(value(&peer.0, "apache_up", &[]), 1.0);
    // Documented: no apache_version (the version is a label of apache_info); and Apache
    // leaves `CPULoad` off the page while its CPU times are 0, where the exporter reports
    // 0 and the adapter reports nothing (it never invents a value).
    let mut skip = vec!["apache_version"];
    if !auto.contains("\nCPULoad: ") {
        assert!(find(s, "apache_cpuload", &[]).is_none());
        skip.push("apache_cpuload");
    }
    assert_covers_peer(&ours, &peer, "apache_", &skip, |_| false);
    assert_eq!(
        value(s, "apache_generation", &[("type", "config")]),
        value(&peer.0, "apache_generation", &[("type", "config")])
    );
}

/// A numeric field of Apache's `?auto` page.
fn apache_field(auto: &str, key: &str) -> f64 {
    auto.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} in {auto}"))
}

#[test]
fn php_fpm_against_php_fpm_over_fastcgi() {
    let fpm = PhpFpm::start();
    for _ in 0..10 {
        assert!(fpm.fcgi_get("/ping", "").contains("pong"));
    }
    let adapter = adapter_for(&format!(
        "type = \"fastcgi\"\naddress = {}\nscript = \"/status\"\nquery = \"json&full\"\nparser = \"php_fpm\"",
        toml_str(&fpm.address())
    ));
    let (s, types) = checked_page(&adapter, &[]);
    let direct: serde_json::Value =
        serde_json::from_str(&fpm.status("json&full")).expect("php-fpm JSON");
    let pool = [("pool", "www")];
    assert_eq!(value(&s, "phpfpm_up", &[]), 1.0);
    let accepted = value(&s, "phpfpm_accepted_connections", &pool);
    let direct_accepted = direct["accepted conn"].as_f64().expect("accepted conn");
    // 10 pings and the adapter's status request, before the direct one.
    assert!(
        accepted >= 11.0 && accepted < direct_accepted,
        "{accepted} {direct_accepted}"
    );
    assert_eq!(value(&s, "phpfpm_total_processes", &pool), 2.0);
    assert_eq!(
        value(&s, "phpfpm_total_processes", &pool),
        direct["total processes"].as_f64().expect("total processes")
    );
    assert!(
        value(&s, "phpfpm_start_since", &pool)
            <= direct["start since"].as_f64().expect("start since")
    );
    // One series set per worker, each with its pid as `child`, the same pids php-fpm lists.
    let pids: BTreeSet<String> = direct["processes"]
        .as_array()
        .expect("processes")
        .iter()
        .map(|p| p["pid"].to_string())
        .collect();
    let children: BTreeSet<String> = s
        .iter()
        .filter(|x| x.name == "phpfpm_process_requests")
        .filter_map(|x| x.labels.get("child").cloned())
        .collect();
    assert_eq!(children, pids);
    // Exactly one worker is running: the one answering the adapter's status request.
    let running: f64 = s
        .iter()
        .filter(|x| {
            x.name == "phpfpm_process_state"
                && x.labels.get("state").map(String::as_str) == Some("Running")
        })
        .map(|x| x.value)
        .sum();
    assert_eq!(running, 1.0);
    assert_eq!(types["phpfpm_active_processes"], "gauge");
}

/// One line of Apache's timed access log: (method, status, bytes, microseconds).
fn apache_log_line(line: &str) -> (String, String, f64, f64) {
    // host ident user [time] "request" status bytes "referer" "agent" micros
    let quoted: Vec<&str> = line.split('"').collect();
    assert_eq!(quoted.len(), 7, "not a timed line: {line}");
    let method = quoted[1].split(' ').next().unwrap_or_default().to_string();
    let mut sb = quoted[2].split_whitespace();
    let status = sb.next().expect("status").to_string();
    let bytes = match sb.next().expect("bytes") {
        "-" => 0.0,
        n => n.parse().expect("bytes"),
    };
    let micros = quoted[6].trim().parse().expect("%D");
    (method, status, bytes, micros)
}

#[test]
fn apache_access_against_apache_writing_its_log() {
    let apache = Apache::start();
    let log = apache.access_log();
    let adapter = adapter_for(&format!(
        "type = \"tail\"\npath = {}\nparser = \"apache_access\"\ninterval = \"100ms\"",
        toml_str(&log.display().to_string())
    ));
    // The adapter follows from the log's end: the lines apache2's readiness check wrote
    // are not counted, only what follows.
    wait_until("the adapter ready", START_TIMEOUT, || {
        adapter.get("/readyz").status == 200
    });
    let skip = std::fs::read_to_string(&log).unwrap().lines().count();
    for (method, path, status, n) in [
        ("GET", "/", 200, 5),
        ("HEAD", "/", 200, 2),
        ("GET", "/missing", 404, 3),
    ] {
        for _ in 0..n {
            assert_eq!(http_request(apache.port, method, path, &[]).status, status);
        }
    }
    let s = wait_for("the 10 requests counted", Duration::from_secs(20), || {
        let s = adapter.samples();
        (sum(&s, "apache_http_response_count_total", &[]) >= 10.0).then_some(s)
    });
    assert_eq!(source_up(&s, "app"), 1.0);
    // What apache2 itself logged, per method and status: count, bytes, seconds taken.
    let mut logged: BTreeMap<(String, String), (f64, f64, f64)> = BTreeMap::new();
    let text = std::fs::read_to_string(&log).unwrap();
    for line in text.lines().skip(skip) {
        let (method, status, bytes, micros) = apache_log_line(line);
        let e = logged.entry((method, status)).or_default();
        *e = (e.0 + 1.0, e.1 + bytes, e.2 + micros * 1e-6);
    }
    let index = std::fs::metadata(apache.docroot.join("index.html"))
        .unwrap()
        .len() as f64;
    let get = ("GET".to_string(), "200".to_string());
    assert_eq!(
        logged.get(&get).map(|e| (e.0, e.1)),
        Some((5.0, 5.0 * index))
    );
    assert_eq!(logged.len(), 3, "{text}");
    for ((method, status), (n, bytes, seconds)) in &logged {
        let labels = [("method", method.as_str()), ("status", status.as_str())];
        assert_eq!(value(&s, "apache_http_response_count_total", &labels), *n);
        // HEAD sends no body: `%b` is "-", which adds nothing (and makes no series).
        assert_eq!(
            find(&s, "apache_http_response_size_bytes", &labels).unwrap_or(0.0),
            *bytes,
            "{method} {status}"
        );
        assert_eq!(
            value(&s, "apache_http_response_time_seconds_count", &labels),
            *n
        );
        let got = value(&s, "apache_http_response_time_seconds_sum", &labels);
        assert!(
            (got - seconds).abs() < 1e-9,
            "{method} {status}: {got} != {seconds}"
        );
    }
    promtool_check(&adapter.metrics(), &[]);
}

#[test]
fn vmstat_against_proc_vmstat() {
    let read = || -> BTreeMap<String, f64> {
        std::fs::read_to_string("/proc/vmstat")
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (format!("node_vmstat_{k}"), v.parse().expect("a number")))
            .collect()
    };
    let adapter = adapter_for("type = \"file\"\npath = \"/proc/vmstat\"\nparser = \"vmstat\"");
    let before = read();
    let (s, types) = checked_page(
        &adapter,
        &["node_vmstat_nr_sec_page_table_pages metric names should not contain abbreviated units"],
    );
    let after = read();
    // Every field of the kernel's file, untyped, and nothing else.
    let ours: BTreeMap<String, f64> = s
        .iter()
        .filter(|x| x.name.starts_with("node_vmstat_"))
        .map(|x| (x.name.clone(), x.value))
        .collect();
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    assert!(ours.len() > 100, "{} fields", ours.len());
    for name in ours.keys() {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some("unknown"),
            "{name}"
        );
    }
    // Counters since boot (node_exporter's default set) lie between the reads around
    // the scrape; every value is a whole number the kernel wrote.
    for (name, v) in &ours {
        let key = name.trim_start_matches("node_vmstat_");
        let counter = key.starts_with("pgpg")
            || key.starts_with("pswp")
            || key == "oom_kill"
            || (key.starts_with("pg") && key.contains("fault"));
        if counter {
            assert!(
                before[name] <= *v && *v <= after[name],
                "{name}: {} {v} {}",
                before[name],
                after[name]
            );
        }
        assert!(v.fract() == 0.0 && *v >= 0.0, "{name} {v}");
    }
}
