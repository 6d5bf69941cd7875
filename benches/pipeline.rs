//! Parser and encoder throughput on recorded samples scaled up (issue: performance).
//!
//! `cargo bench --bench pipeline`; inputs are built in memory from tests/fixtures, so the
//! run needs nothing else. Throughput is reported per input byte (parsers) or per series
//! (encoding), so cost per unit can be compared across sizes.
#![allow(clippy::unwrap_used, clippy::string_slice)] // test code: a panic is a failed test

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use metrics_adapter::exposition::{encode, WireFormat};
use metrics_adapter::family::{Family, FamilySet, MetricKind};
use metrics_adapter::parse::Registry;

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// HAProxy CSV with `servers` server rows (copies of the sample's server rows, renamed).
fn haproxy_csv(servers: usize) -> String {
    let text = fixture("samples/haproxy/stats.csv");
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let rows: Vec<&str> = lines.collect();
    let server_rows: Vec<&str> = rows
        .iter()
        .copied()
        .filter(|r| !r.contains(",FRONTEND,") && !r.contains(",BACKEND,"))
        .collect();
    let mut out = format!("{header}\n");
    for r in &rows {
        out.push_str(r);
        out.push('\n');
    }
    for i in 0..servers {
        let row = server_rows[i % server_rows.len()];
        let (px, rest) = row.split_once(',').unwrap_or((row, ""));
        let (_, rest) = rest.split_once(',').unwrap_or(("", rest));
        out.push_str(&format!("{px},srv{i},{rest}\n"));
    }
    out
}

/// A PHP-FPM full status document with `n` processes (about 10 MB at 40k).
fn php_fpm_json(n: usize) -> String {
    let mut out = String::from(
        r#"{"pool":"www","process manager":"dynamic","start time":1795582802,"start since":1,"accepted conn":4,"listen queue":0,"max listen queue":0,"listen queue len":4096,"idle processes":1,"active processes":1,"total processes":2,"max active processes":1,"max children reached":0,"slow requests":0, "processes":["#,
    );
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(r#"{{"pid":{},"state":"Idle","start time":1795582802,"start since":1,"requests":{},"request duration":196,"request method":"GET","request uri":"\/index.php?id={i}","content length":0,"user":"-","script":"\/var\/www\/index.php","last request cpu":0.00,"last request memory":2097152}}"#, 1000 + i, i * 3));
    }
    out.push_str("]}");
    out
}

/// Redis `INFO all` with `commands` extra `cmdstat_` and latency lines and `dbs` keyspace
/// lines added to the recorded reply.
fn redis_info_all(commands: usize, dbs: usize) -> String {
    let mut out = fixture("recipes/redis_info/redis-7.0-info-all.input");
    out.push_str("\r\n# Commandstats\r\n");
    for i in 0..commands {
        out.push_str(&format!(
            "cmdstat_cmd{i}:calls={},usec={},usec_per_call=0.54,rejected_calls=0,failed_calls=0\r\n",
            i * 11,
            i * 7
        ));
        out.push_str(&format!(
            "latency_percentiles_usec_cmd{i}:p50=0.001,p99=2.007,p99.9=27.007\r\n"
        ));
    }
    out.push_str("\r\n# Keyspace\r\n");
    for i in 0..dbs {
        out.push_str(&format!(
            "db{}:keys={},expires=0,avg_ttl=0\r\n",
            100 + i,
            i * 3
        ));
    }
    out
}

fn parsers(c: &mut Criterion) {
    let registry = Registry::builtin().expect("built-in recipes");
    let cases: Vec<(&str, String)> = vec![
        ("meminfo", fixture("recipes/meminfo/host.input")),
        ("vmstat", fixture("recipes/vmstat/linux-6.18.input")),
        (
            "nginx_stub_status",
            fixture("recipes/nginx_stub_status/nginx-1.22.input"),
        ),
        (
            "apache_status",
            fixture("recipes/apache_status/apache-2.4-event.input"),
        ),
        ("haproxy_csv", haproxy_csv(2000)),
        ("redis_info", redis_info_all(2000, 1000)),
        ("kv", redis_info_all(2000, 1000)),
        (
            "memcached_stats",
            fixture("recipes/memcached_stats/memcached-1.6.input"),
        ),
        ("php_fpm", php_fpm_json(40_000)),
        ("csv", haproxy_csv(2000)),
        ("json", php_fpm_json(40_000)),
    ];
    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    for (name, input) in &cases {
        let parser = registry.get(name).expect("registered").parser.clone();
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(
            BenchmarkId::new(*name, input.len()),
            input.as_bytes(),
            |b, input| b.iter(|| black_box(parser.parse(input).expect("parses"))),
        );
    }
    group.finish();
}

fn page(series: usize) -> Arc<FamilySet> {
    let mut set = FamilySet::new();
    let mut conflicts = Vec::new();
    let per_family = 100;
    for f in 0..series.div_ceil(per_family) {
        let mut fam = Family::new(
            format!("app_metric_{f}"),
            if f % 2 == 0 {
                MetricKind::Counter
            } else {
                MetricKind::Gauge
            },
            "A benchmark metric.",
        );
        for s in 0..per_family.min(series - f * per_family) {
            fam = fam.with_sample(
                vec![
                    ("instance".into(), format!("host-{s}")),
                    ("code".into(), "200".into()),
                ],
                (s * 7) as f64 + 0.5,
            );
        }
        set.push(fam, &mut conflicts);
    }
    Arc::new(set)
}

fn encoding(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.sample_size(10);
    for series in [1_000, 10_000, 100_000, 1_000_000] {
        group.throughput(Throughput::Elements(series as u64));
        for (fmt_name, fmt) in [
            ("text", WireFormat::Text),
            ("openmetrics", WireFormat::OpenMetrics),
        ] {
            // The page is built inside, so a filtered-out size costs nothing (nor pollutes
            // a profile of another bench).
            group.bench_function(BenchmarkId::new(fmt_name, series), |b| {
                let set = page(series);
                b.iter(|| black_box(encode(&set, fmt)))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, parsers, encoding);
criterion_main!(benches);
