//! Unix sockets and secrets in requests, against the real servers: the `tcp` source on
//! `unix:/path` (HAProxy's stats socket, redis `unixsocket`), the `http` source through
//! `socket` (nginx `listen unix:`), and `{secret}` in a tcp `send` against
//! `redis-server --requirepass`, the password looked for everywhere the adapter writes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::harness::*;

/// An adapter serving one source, `app`, described by `source_toml`.
fn adapter_for(source_toml: &str) -> Adapter {
    Adapter::start(&format!("[sources.app]\n{source_toml}\ntimeout = \"3s\"\n"))
}

/// `unix:/path`, as a TOML string.
fn unix(path: &Path) -> String {
    toml_str(&format!("unix:{}", path.display()))
}

/// The page of `adapter`, its source `app` up, checked by promtool and parsed back.
fn up_page(adapter: &Adapter, allow: &[&str]) -> Vec<ParsedSample> {
    let page = adapter.metrics();
    promtool_check(&page, allow);
    let s = parse_page(&page, false);
    assert_eq!(source_up(&s, "app"), 1.0, "{page}\n{}", adapter.stderr());
    s
}

/// (name, labels) of every sample of the families starting with `prefix`.
fn series(s: &[ParsedSample], prefix: &str) -> BTreeSet<(String, BTreeMap<String, String>)> {
    s.iter()
        .filter(|x| x.name.starts_with(prefix))
        .map(|x| (x.name.clone(), x.labels.clone()))
        .collect()
}

#[test]
fn haproxy_show_stat_over_the_stats_socket() {
    let haproxy = Haproxy::start();
    let adapter = adapter_for(&format!(
        "type = \"tcp\"\naddress = {}\nsend = \"show stat\\n\"\nparser = \"haproxy_csv\"",
        unix(&haproxy.stats_socket())
    ));
    let s = up_page(&adapter, &[]);
    let csv = haproxy.stats_csv();
    assert_eq!(value(&s, "haproxy_up", &[]), 1.0);
    // Each server's state and weight as the `;csv` page has them.
    for sv in ["up1", "dead1"] {
        let fields: Vec<&str> = csv
            .lines()
            .find(|l| l.starts_with(&format!("be_app,{sv},")))
            .expect("server in the CSV")
            .split(',')
            .collect();
        let labels = [("backend", "be_app"), ("server", sv)];
        let up = if fields[17] == "UP" { 1.0 } else { 0.0 };
        assert_eq!(value(&s, "haproxy_server_up", &labels), up, "{sv}");
        let weight: f64 = fields[18].parse().unwrap();
        assert_eq!(value(&s, "haproxy_server_weight", &labels), weight, "{sv}");
    }
    assert_eq!(
        value(
            &s,
            "haproxy_server_up",
            &[("backend", "be_app"), ("server", "dead1")]
        ),
        0.0
    );
    assert_eq!(
        value(&s, "haproxy_backend_up", &[("backend", "be_app")]),
        1.0
    );
    // The same series as the same recipe reading the `;csv` page over HTTP.
    let http = adapter_for(&format!(
        "type = \"http\"\nurl = {}\nparser = \"haproxy_csv\"",
        toml_str(&haproxy.stats_url("/stats;csv"))
    ));
    let over_http = up_page(&http, &[]);
    assert_eq!(series(&s, "haproxy_"), series(&over_http, "haproxy_"));
}

#[test]
fn redis_info_over_a_unix_socket() {
    let redis = Redis::start();
    for i in 0..20 {
        redis.cli(&["SET", &format!("k{i}"), "v"]);
    }
    let adapter = adapter_for(&format!(
        "type = \"tcp\"\naddress = {}\nsend = \"INFO all\\r\\n\"\nframing = \"resp\"\nparser = \"redis_info\"",
        unix(&redis.socket())
    ));
    let page = adapter.metrics();
    promtool_check_syntax(&page);
    let s = parse_page(&page, false);
    assert_eq!(source_up(&s, "app"), 1.0, "{page}");
    assert_redis_matches(&s, &redis.info(Some("all")), redis.pid());
}

/// Values of `redis_info` that must equal the server's own INFO.
fn assert_redis_matches(s: &[ParsedSample], info: &BTreeMap<String, String>, pid: u32) {
    let num = |k: &str| -> f64 { info[k].parse().unwrap() };
    assert_eq!(value(s, "redis_up", &[]), 1.0);
    assert_eq!(value(s, "redis_process_id", &[]), f64::from(pid));
    assert_eq!(value(s, "redis_db_keys", &[("db", "db0")]), 20.0);
    assert_eq!(value(s, "redis_memory_max_bytes", &[]), num("maxmemory"));
    assert_eq!(value(s, "redis_config_maxclients", &[]), num("maxclients"));
    assert_eq!(value(s, "redis_commands_total", &[("cmd", "set")]), 20.0);
    let labels = &s
        .iter()
        .find(|x| x.name == "redis_instance_info")
        .expect("redis_instance_info")
        .labels;
    for k in ["redis_version", "run_id", "tcp_port"] {
        assert_eq!(labels.get(k), info.get(k), "instance_info label {k}");
    }
}

#[test]
fn nginx_stub_status_through_a_unix_socket() {
    let nginx = Nginx::start();
    for _ in 0..10 {
        assert_eq!(http_get(nginx.port, "/stub_status").status, 200);
    }
    // The host in the URL is only the Host header: nothing resolves or listens there.
    let adapter = adapter_for(&format!(
        "type = \"http\"\nurl = \"http://status.invalid/stub_status\"\nsocket = {}\nparser = \"nginx_stub_status\"",
        toml_str(&nginx.socket().display().to_string())
    ));
    let (accepted0, _, requests0) = nginx.stub_counters();
    let s = up_page(&adapter, &[]);
    let (accepted1, _, requests1) = nginx.stub_counters();
    assert_eq!(value(&s, "nginx_up", &[]), 1.0);
    let requests = value(&s, "nginx_http_requests_total", &[]);
    assert!(requests0 as f64 + 1.0 <= requests && requests < requests1 as f64);
    let accepted = value(&s, "nginx_connections_accepted", &[]);
    assert!(accepted0 as f64 + 1.0 <= accepted && accepted < accepted1 as f64);
    let status = adapter.get("/").text();
    assert!(status.contains("via unix:"), "{status}");
}

const CLI_TIMEOUT: Duration = Duration::from_secs(30);
const PW: &str = "Zq9-redis-pw";
const WRONG: &str = "Xk7-not-the-pw";

/// A config reading a `--requirepass` redis with `secret` lines (may be empty) and `send`.
fn auth_config(redis: &Redis, send: &str, secret: &str) -> String {
    format!(
        "[sources.app]\ntype = \"tcp\"\naddress = {}\nsend = {}\nframing = \"resp\"\nparser = \"redis_info\"\ntimeout = \"3s\"\n{secret}",
        unix(&redis.socket()),
        toml_str(send)
    )
}

/// Neither password appears in `text` (`what` names where it was looked for).
fn no_password(what: &str, text: &str) {
    for pw in [PW, WRONG] {
        assert!(!text.contains(pw), "{what} shows a password:\n{text}");
    }
}

#[test]
fn redis_requirepass_with_the_password_from_a_secret() {
    let redis = Redis::start_with(&["--requirepass", PW]);
    for i in 0..20 {
        redis.cli(&["-a", PW, "--no-auth-warning", "SET", &format!("k{i}"), "v"]);
    }
    let dir = TempDir::new("secret");
    let right = dir.write("pw", format!("{PW}\n"));
    let wrong = dir.write("wrong", WRONG);
    let send = "AUTH {secret}\r\nINFO all\r\n";
    let file = |p: &Path| format!("secret_file = {}\n", toml_str(&p.display().to_string()));

    // The right password: up, with the values of the app's own INFO.
    let config = auth_config(&redis, send, &file(&right));
    let adapter = Adapter::start(&config);
    let page = adapter.metrics();
    let s = parse_page(&page, false);
    assert_eq!(source_up(&s, "app"), 1.0, "{page}\n{}", adapter.stderr());
    let info: BTreeMap<String, String> = redis
        .cli(&["-a", PW, "--no-auth-warning", "INFO", "all"])
        .lines()
        .filter_map(|l| l.trim_end_matches('\r').split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_redis_matches(&s, &info, redis.pid());
    no_password("/metrics", &page);
    no_password("/", &adapter.get("/").text());
    no_password("the log", &adapter.stderr());

    // `check` shows `send` with the placeholder and where the secret is read from.
    let config_path = adapter.config_path();
    let check = run_cli(
        &["check", "--config", config_path.to_str().unwrap()],
        CLI_TIMEOUT,
    );
    assert!(check.success(), "{check}");
    assert!(check.stdout.contains("AUTH {secret}"), "{check}");
    assert!(
        check.stdout.contains(&right.display().to_string()),
        "{check}"
    );
    no_password("check", &format!("{check}"));

    // The wrong password: down, in the server's words, on the page and in the log.
    let adapter = Adapter::start(&auth_config(&redis, send, &file(&wrong)));
    let page = adapter.metrics();
    assert_eq!(source_up(&parse_page(&page, false), "app"), 0.0, "{page}");
    let status = adapter.get("/").text();
    assert!(status.contains("WRONGPASS"), "{status}");
    wait_until("the error is logged", START_TIMEOUT, || {
        adapter.stderr().contains("WRONGPASS")
    });
    no_password("/metrics", &page);
    no_password("/", &status);
    no_password("the log", &adapter.stderr());

    // No AUTH at all: down with NOAUTH.
    let adapter = Adapter::start(&auth_config(&redis, "INFO all\r\n", ""));
    let page = adapter.metrics();
    assert_eq!(source_up(&parse_page(&page, false), "app"), 0.0, "{page}");
    let status = adapter.get("/").text();
    assert!(status.contains("NOAUTH"), "{status}");

    // `once` with the secret in the environment: right, then wrong.
    let config = dir.write(
        "env.toml",
        auth_config(&redis, send, "secret_env = \"REDIS_PW\"\n"),
    );
    let config = config.to_str().unwrap();
    let out = run_cli_with_env(
        &["once", "--config", config],
        &[("REDIS_PW", PW)],
        CLI_TIMEOUT,
    );
    assert_eq!(
        source_up(&parse_page(&out.stdout, false), "app"),
        1.0,
        "{out}"
    );
    no_password("once", &format!("{out}"));
    let out = run_cli_with_env(
        &["once", "--config", config],
        &[("REDIS_PW", WRONG)],
        CLI_TIMEOUT,
    );
    assert!(out.stderr.contains("WRONGPASS"), "{out}");
    no_password("once", &format!("{out}"));
    let out = run_cli(&["once", "--config", config], CLI_TIMEOUT);
    assert!(out.stderr.contains("REDIS_PW is not set"), "{out}");
}
