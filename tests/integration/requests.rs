//! A recipe's `[[request]]`s against the real servers: `type`, `address` and `parser` (plus
//! `auth` and the secret for a redis with `requirepass`) are a whole config, and the later
//! replies (SLOWLOG, CONFIG GET, `stats slabs`, `stats items`) serve the values the server
//! itself gives, read directly around the scrape.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::harness::*;

const CLI_TIMEOUT: Duration = Duration::from_secs(30);
const PW: &str = "Qv4-requests-pw";
const WRONG: &str = "Hn2-not-it";

/// The short form: a source of `type`, `address` and `parser`, and `extra` keys.
fn short_form(address: &str, parser: &str, extra: &str) -> String {
    format!(
        "[sources.app]\ntype = \"tcp\"\naddress = {}\nparser = \"{parser}\"\ntimeout = \"3s\"\n{extra}",
        toml_str(address)
    )
}

fn up_page(adapter: &Adapter) -> (String, Vec<ParsedSample>) {
    let page = adapter.metrics();
    promtool_check(
        &page,
        &["_duration_sec metric names should not contain abbreviated units"],
    );
    let s = parse_page(&page, false);
    assert_eq!(source_up(&s, "app"), 1.0, "{page}\n{}", adapter.stderr());
    (page, s)
}

/// The families of a recipe's golden page: what a read with every request serves.
fn golden_families(recipe: &str, case: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/recipes")
        .join(recipe)
        .join(format!("{case}.prom"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect()
}

fn families(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect()
}

/// `redis-cli` with the password when there is one.
fn cli(redis: &Redis, pw: Option<&str>, args: &[&str]) -> String {
    let mut all: Vec<&str> = Vec::new();
    if let Some(pw) = pw {
        all.extend(["-a", pw, "--no-auth-warning"]);
    }
    all.extend(args);
    redis.cli(&all)
}

/// A slow log holding a known number of entries: everything is logged while the threshold
/// is 0, nothing once it is -1 (so neither the adapter's reads nor redis-cli's add any).
fn fill_slowlog(redis: &Redis, pw: Option<&str>) -> usize {
    cli(
        redis,
        pw,
        &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
    );
    cli(redis, pw, &["SLOWLOG", "RESET"]);
    for i in 0..5 {
        cli(redis, pw, &["SET", &format!("slow{i}"), "v"]);
    }
    cli(
        redis,
        pw,
        &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
    );
    let len: usize = cli(redis, pw, &["SLOWLOG", "LEN"]).trim().parse().unwrap();
    assert!(len >= 5, "SLOWLOG LEN {len}");
    len
}

/// What the page says of SLOWLOG and CONFIG GET equals what redis itself answers.
fn assert_slowlog_and_config(s: &[ParsedSample], redis: &Redis, pw: Option<&str>, len: usize) {
    assert_eq!(value(s, "redis_slowlog_length", &[]), len as f64);
    // SLOWLOG GET 1: id, time, duration (us), then the arguments: one line each.
    let last = cli(redis, pw, &["SLOWLOG", "GET", "1"]);
    let last: Vec<&str> = last.lines().collect();
    assert_eq!(
        value(s, "redis_slowlog_last_id", &[]),
        last[0].parse::<f64>().unwrap()
    );
    let duration = last[2].parse::<f64>().unwrap() / 1e6;
    let ours = value(s, "redis_last_slow_execution_duration_seconds", &[]);
    assert!((ours - duration).abs() < 1e-12, "{ours} vs {duration}");
    for (series, key) in [
        ("redis_config_io_threads", "io-threads"),
        ("redis_config_maxclients", "maxclients"),
        ("redis_config_maxmemory", "maxmemory"),
    ] {
        let got = cli(redis, pw, &["CONFIG", "GET", key]);
        let want: f64 = got.lines().nth(1).unwrap().trim().parse().unwrap();
        assert_eq!(value(s, series, &[]), want, "{series}");
    }
}

#[test]
fn redis_address_and_parser_serve_every_documented_series() {
    let redis = Redis::start();
    redis.cli(&["SET", "a", "1"]);
    // An error reply, so INFO's Errorstats section has a line (as in the golden capture).
    let reply = raw_exchange(redis.port, b"NOSUCHCOMMAND\r\n", b"\r\n").unwrap();
    assert!(reply.starts_with(b"-ERR unknown command"), "{reply:?}");
    let len = fill_slowlog(&redis, None);
    let address = format!("127.0.0.1:{}", redis.port);
    let adapter = Adapter::start(&short_form(&address, "redis_info", ""));
    let (page, s) = up_page(&adapter);
    assert_slowlog_and_config(&s, &redis, None, len);
    assert_eq!(value(&s, "redis_up", &[]), 1.0);
    // Every family of the golden page read with every request, and those of INFO alone.
    let missing: Vec<String> = golden_families("redis_info", "redis-7.0-requests")
        .union(&golden_families("redis_info", "redis-7.0-info-all"))
        .filter(|f| !families(&page).contains(*f))
        .cloned()
        .collect();
    assert!(missing.is_empty(), "missing {missing:?}\n{page}");

    // The same over the unix socket.
    let socket = format!("unix:{}", redis.socket().display());
    let adapter = Adapter::start(&short_form(&socket, "redis_info", ""));
    let (_, s) = up_page(&adapter);
    assert_slowlog_and_config(&s, &redis, None, len);
}

#[test]
fn redis_with_requirepass_needs_only_auth_and_the_secret() {
    let redis = Redis::start_with(&["--requirepass", PW]);
    let len = fill_slowlog(&redis, Some(PW));
    let dir = TempDir::new("requests-secret");
    let right = dir.write("pw", format!("{PW}\n"));
    let wrong = dir.write("wrong", WRONG);
    let address = format!("127.0.0.1:{}", redis.port);
    let with = |secret: &Path| {
        format!(
            "auth = \"{{secret}}\"\nsecret_file = {}\n",
            toml_str(&secret.display().to_string())
        )
    };

    let adapter = Adapter::start(&short_form(&address, "redis_info", &with(&right)));
    let (page, s) = up_page(&adapter);
    assert_slowlog_and_config(&s, &redis, Some(PW), len);
    assert!(!page.contains(PW) && !adapter.stderr().contains(PW));
    // `check` lists what a read sends, the AUTH first, the password masked.
    let config = adapter.config_path();
    let check = run_cli(
        &["check", "--config", config.to_str().unwrap()],
        CLI_TIMEOUT,
    );
    assert!(check.success(), "{check}");
    let want = r#"send = "AUTH {secret}\r\n" then "INFO all\r\n" then "SLOWLOG LEN\r\n" then "SLOWLOG GET 1\r\n" then "CONFIG GET io-threads\r\n" (from recipe redis_info)"#;
    assert!(check.stdout.contains(want), "{check}");
    assert!(!format!("{check}").contains(PW), "{check}");

    // The wrong password: down, the server's reply in the error, no number served.
    let adapter = Adapter::start(&short_form(&address, "redis_info", &with(&wrong)));
    let page = adapter.metrics();
    let s = parse_page(&page, false);
    assert_eq!(source_up(&s, "app"), 0.0, "{page}");
    assert_eq!(value(&s, "redis_up", &[]), 0.0, "{page}");
    assert!(find(&s, "redis_slowlog_length", &[]).is_none(), "{page}");
    let status = adapter.get("/").text();
    assert!(
        status.contains("AUTH refused: server replied -WRONGPASS"),
        "{status}"
    );
    assert!(!status.contains(WRONG) && !adapter.stderr().contains(WRONG));

    // No auth at all: down with NOAUTH, in the server's words.
    let adapter = Adapter::start(&short_form(&address, "redis_info", ""));
    let page = adapter.metrics();
    assert_eq!(source_up(&parse_page(&page, false), "app"), 0.0, "{page}");
    let status = adapter.get("/").text();
    assert!(
        status.contains("server replied -NOAUTH Authentication required."),
        "{status}"
    );
}

/// `STAT <slab>:<field> <value>` lines of a memcached reply, by slab and field.
fn per_slab(reply: &str, prefix: &str) -> BTreeMap<(String, String), f64> {
    reply
        .lines()
        .filter_map(|l| l.trim_end_matches('\r').strip_prefix("STAT "))
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(|l| {
            let (key, v) = l.split_once(' ')?;
            let (slab, field) = key.split_once(':')?;
            Some(((slab.to_string(), field.to_string()), v.parse().ok()?))
        })
        .collect()
}

/// `slab="<slab>"` and `extra`.
fn labels<'a>(slab: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![("slab", slab)];
    v.extend_from_slice(extra);
    v
}

#[test]
fn memcached_address_and_parser_serve_per_slab_series() {
    let mc = Memcached::start();
    // Items of three sizes, so three slab classes; some hits.
    for (i, size) in [10, 10, 10, 500, 500, 5000].iter().enumerate() {
        let set = format!("set k{i} 0 0 {size}\r\n{}\r\n", "x".repeat(*size));
        assert!(mc.command(&set, "\r\n").starts_with("STORED"));
    }
    for i in 0..4 {
        mc.command(&format!("get k{i}\r\n"), "END\r\n");
    }
    let address = format!("127.0.0.1:{}", mc.port);
    let adapter = Adapter::start(&short_form(&address, "memcached_stats", ""));
    let (page, s) = up_page(&adapter);
    let slabs = per_slab(&mc.command("stats slabs\r\n", "END\r\n"), "");
    let items = per_slab(&mc.command("stats items\r\n", "END\r\n"), "items:");
    let classes: BTreeSet<&String> = slabs.keys().map(|(slab, _)| slab).collect();
    assert_eq!(classes.len(), 3, "{slabs:?}");
    for ((slab, field), want) in &slabs {
        let l = |extra: &[(&'static str, &'static str)]| labels(slab, extra);
        let got = match field.as_str() {
            "chunk_size" => value(&s, "memcached_slab_chunk_size_bytes", &l(&[])),
            "chunks_per_page" => value(&s, "memcached_slab_chunks_per_page", &l(&[])),
            "total_pages" => value(&s, "memcached_slab_current_pages", &l(&[])),
            "total_chunks" => value(&s, "memcached_slab_current_chunks", &l(&[])),
            "used_chunks" => value(&s, "memcached_slab_chunks_used", &l(&[])),
            "free_chunks" => value(&s, "memcached_slab_chunks_free", &l(&[])),
            "free_chunks_end" => value(&s, "memcached_slab_chunks_free_end", &l(&[])),
            "get_hits" => value(
                &s,
                "memcached_slab_commands_total",
                &l(&[("command", "get"), ("status", "hit")]),
            ),
            "cas_badval" => value(
                &s,
                "memcached_slab_commands_total",
                &l(&[("command", "cas"), ("status", "badval")]),
            ),
            "cmd_set" => value(&s, "memcached_slab_cmd_set_total", &l(&[])),
            other => {
                let (command, _) = other.split_once("_hits").expect(other);
                let mut with = labels(slab, &[("status", "hit")]);
                with.push(("command", command));
                value(&s, "memcached_slab_commands_total", &with)
            }
        };
        assert_eq!(got, *want, "stats slabs {slab}:{field}");
    }
    let mut compared = 0;
    for ((slab, field), want) in &items {
        let (name, extra): (&str, &[(&str, &str)]) = match field.as_str() {
            "number" => ("memcached_slab_current_items", &[]),
            "number_cold" => ("memcached_slab_cold_items", &[]),
            "mem_requested" => ("memcached_slab_mem_requested_bytes", &[]),
            "evicted" => ("memcached_slab_items_evicted_total", &[]),
            "outofmemory" => ("memcached_slab_items_outofmemory_total", &[]),
            "moves_to_cold" => ("memcached_slab_items_moves_to_cold", &[]),
            "hits_to_hot" => ("memcached_slab_lru_hits_total", &[("lru", "hot")]),
            "hits_to_temp" => ("memcached_slab_lru_hits_total", &[("lru", "temporary")]),
            // Ages move with the clock.
            _ => continue,
        };
        let with = labels(slab, extra);
        assert_eq!(value(&s, name, &with), *want, "stats items {slab}:{field}");
        compared += 1;
    }
    assert_eq!(compared, 3 * 8, "{items:?}");
    let active = mc.command("stats slabs\r\n", "END\r\n");
    assert!(active.contains("STAT active_slabs 3\r\n"), "{active}");
    assert_eq!(value(&s, "memcached_active_slabs", &[]), 3.0);
    // And `stats` as before.
    assert_eq!(value(&s, "memcached_current_items", &[]), 6.0);
    let missing: Vec<String> = golden_families("memcached_stats", "memcached-1.6-requests")
        .into_iter()
        .filter(|f| !families(&page).contains(f))
        .collect();
    assert!(missing.is_empty(), "missing {missing:?}\n{page}");
}
