//! The seed's own pod (issues 29 and 21): a writer appends `date` + `/proc/meminfo` to a
//! file that nginx serves, and the adapter reads it through the volume and over HTTP with
//! the same recipe. The recipe's framing applies to every source; over HTTP only the log's
//! tail is read; a dated log goes stale by itself when its writer stops. Real processes:
//! nginx, `sh`/`date`/`cat` writers, the binary.

use std::fs;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::harness::*;

const CLI_TIMEOUT: Duration = Duration::from_secs(30);

/// A dump of this machine's meminfo under an old `date` line, with a `MemFree` no live
/// dump has: served, it would mean the oldest block was read.
fn old_block() -> String {
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap();
    let dump: String = meminfo
        .lines()
        .map(|l| match l.starts_with("MemFree:") {
            true => "MemFree:               1 kB\n".to_string(),
            false => format!("{l}\n"),
        })
        .collect();
    format!("Wed Nov 25 03:46:26 UTC 2026\n{dump}")
}

/// Blocks dated `start`, `start + 5`...: three by default, `MemFree` 10, 20, 30 kB.
fn dated_log(start: u64, blocks: u64) -> String {
    (1..=blocks)
        .map(|i| {
            let date = date_line(start + 5 * (i - 1));
            format!("{date}\nMemTotal:  100 kB\nMemFree:  {} kB\n", 10 * i)
        })
        .collect()
}

/// `date -u` of Unix time `t`, C locale, as the writer prints it.
fn date_line(t: u64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{t}")])
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// `MemFree` of each dump in `text`, in bytes as served.
fn mem_free_values(text: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("MemFree:"))
        .filter_map(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb * 1024.0)
        .collect()
}

fn read_bytes(s: &[ParsedSample], source: &str) -> f64 {
    value(
        s,
        "metrics_adapter_source_read_bytes_total",
        &[("source", source)],
    )
}

/// The seed's pod with real processes: a 40 MB log, a writer appending every 0.5 s, nginx
/// serving the file, the adapter reading it over HTTP and from the volume. Both serve the
/// newest complete block, each scrape reads a few KiB, and both go stale when the writer
/// stops (no max_age: the dated blocks give the write period).
#[test]
fn the_seeds_pod_over_http_reads_the_tail_and_goes_stale_with_its_writer() {
    let nginx = Nginx::start();
    let old = old_block();
    let mut log = String::with_capacity(41_000_000);
    while log.len() < 40_000_000 {
        log.push_str(&old);
    }
    let path = nginx.write_file("index.html", &log);
    drop(log);
    let size = fs::metadata(&path).unwrap().len();
    assert!(size >= 40_000_000, "{size}");
    let dir = TempDir::new("seed-pod");
    let mut writer_cmd = Command::new("sh");
    writer_cmd
        .arg("-c")
        .arg(format!(
            "while :; do date >> '{p}'; cat /proc/meminfo >> '{p}'; sleep 0.5; done",
            p = path.display()
        ))
        .env("LC_ALL", "C")
        .env("TZ", "UTC");
    let mut writer = Proc::spawn("writer", writer_cmd, dir.join("writer.out"));
    let url = toml_str(&nginx.url("/files/index.html"));
    let file = toml_str(&path.display().to_string());
    let adapter = Adapter::start(&format!(
        "[sources.http]\ntype = \"http\"\nurl = {url}\nparser = \"meminfo_appended\"\n\
         labels = {{ via = \"http\" }}\n\
         [sources.volume]\ntype = \"file\"\npath = {file}\nparser = \"meminfo_appended\"\n\
         labels = {{ via = \"volume\" }}\n"
    ));
    // Up, on a block the writer just wrote (the log's first blocks are from 2026-11-25).
    let s = wait_for(
        "both sources up on a fresh block",
        Duration::from_secs(20),
        || {
            let s = adapter.samples();
            let fresh = ["http", "volume"].iter().all(|via| {
                find(&s, "meminfo_block_timestamp_seconds", &[("via", via)])
                    .is_some_and(|t| (now() - t).abs() < 5.0)
            });
            (source_up(&s, "http") == 1.0 && source_up(&s, "volume") == 1.0 && fresh).then_some(s)
        },
    );
    // The numbers are one of the writer's dumps, not the old blocks' 1 kB.
    let tail = {
        let all = fs::read(&path).unwrap();
        String::from_utf8_lossy(&all[all.len() - 256 * 1024..]).into_owned()
    };
    let written = mem_free_values(&tail);
    for via in ["http", "volume"] {
        let served = value(&s, "node_memory_MemFree_bytes", &[("via", via)]);
        assert_ne!(served, 1024.0, "{via}: the oldest block was served");
        assert!(
            written.contains(&served),
            "{via}: MemFree {served} is in no recent dump"
        );
    }
    // A few KiB per scrape, whatever the log's size: nginx answered the Range requests.
    let mut last = (read_bytes(&s, "http"), read_bytes(&s, "volume"));
    for _ in 0..5 {
        let s = adapter.samples();
        let current = (read_bytes(&s, "http"), read_bytes(&s, "volume"));
        let per_scrape = (current.0 - last.0, current.1 - last.1);
        assert!(
            per_scrape.0 > 0.0 && per_scrape.0 <= 16384.0,
            "http read {} bytes in one scrape of a {size}-byte log",
            per_scrape.0
        );
        assert!(
            per_scrape.1 > 0.0 && per_scrape.1 <= 16384.0,
            "volume read {} bytes in one scrape",
            per_scrape.1
        );
        assert_eq!(source_up(&s, "http"), 1.0, "{}", adapter.get("/").text());
        last = current;
    }
    // A few seconds of the writer's rhythm in the log, as in a pod that has been running.
    let first = value(&s, "meminfo_block_timestamp_seconds", &[("via", "http")]);
    wait_until("3 s of fresh blocks", Duration::from_secs(15), || {
        find(
            &adapter.samples(),
            "meminfo_block_timestamp_seconds",
            &[("via", "http")],
        )
        .is_some_and(|t| t >= first + 3.0)
    });
    // The writer stops: past 3 write periods and the 10 s floor, both sources are stale.
    writer.stop();
    let stopped = now();
    let s = wait_for("both sources stale", Duration::from_secs(30), || {
        let s = adapter.samples();
        (source_up(&s, "http") == 0.0 && source_up(&s, "volume") == 0.0).then_some(s)
    });
    assert!(
        now() - stopped >= 8.0,
        "stale {} s after the writer stopped: sooner than the 10 s floor",
        now() - stopped
    );
    for source in ["http", "volume"] {
        assert_eq!(
            value(
                &s,
                "metrics_adapter_source_read_failures_total",
                &[("source", source), ("kind", "stale")]
            ),
            1.0,
            "{source}"
        );
    }
    let status = adapter.get("/").text();
    assert!(
        status.contains("is the writer still running? (a dated log is stale past 3 write periods"),
        "{status}"
    );
}

/// A server that ignores `Range` (nginx `max_ranges 0`) sends the whole log: it is cut the
/// same way, within `max_bytes`, and a log too big for that is refused with the reason.
/// `max_age = "off"` serves old blocks; without it, their age makes the source stale.
#[test]
fn a_server_that_ignores_ranges_gets_the_whole_log_cut() {
    let nginx = Nginx::start();
    let log = dated_log(1_795_578_386, 3);
    nginx.write_file("meminfo.log", &log);
    let whole = toml_str(&nginx.url("/whole/meminfo.log"));
    let ranged = toml_str(&nginx.url("/files/meminfo.log"));
    let adapter = Adapter::start(&format!(
        "[sources.whole]\ntype = \"http\"\nurl = {whole}\nparser = \"meminfo_appended\"\n\
         max_age = \"off\"\nlabels = {{ s = \"whole\" }}\n\
         [sources.small]\ntype = \"http\"\nurl = {whole}\nparser = \"meminfo_appended\"\n\
         max_age = \"off\"\nmax_bytes = 100\nlabels = {{ s = \"small\" }}\n\
         [sources.old]\ntype = \"http\"\nurl = {ranged}\nparser = \"meminfo_appended\"\n\
         labels = {{ s = \"old\" }}\n"
    ));
    let s = adapter.samples();
    assert_eq!(source_up(&s, "whole"), 1.0, "{}", adapter.get("/").text());
    assert_eq!(
        value(&s, "node_memory_MemFree_bytes", &[("s", "whole")]),
        30.0 * 1024.0
    );
    assert_eq!(read_bytes(&s, "whole"), log.len() as f64);
    assert_eq!(source_up(&s, "small"), 0.0);
    assert_eq!(source_up(&s, "old"), 0.0);
    let status = adapter.get("/").text();
    assert!(
        status.contains("the server ignored the Range request"),
        "{status}"
    );
    assert!(
        status.contains("the newest block was written") && status.contains("blocks came every 5s"),
        "{status}"
    );
}

/// The same log printed by a command: the recipe's framing cuts it, where before the source
/// went down for repeated series while using `meminfo_appended`.
#[test]
fn an_exec_source_serves_the_latest_block_of_a_framed_log() {
    let dir = TempDir::new("seed-exec");
    let start = now() as u64 - 10;
    let path = dir.write("meminfo.log", dated_log(start, 3));
    let file = toml_str(&path.display().to_string());
    let adapter = Adapter::start(&format!(
        "[sources.cat]\ntype = \"exec\"\ncommand = [\"cat\", {file}]\nparser = \"meminfo_appended\"\n"
    ));
    let s = adapter.samples();
    assert_eq!(source_up(&s, "cat"), 1.0, "{}", adapter.get("/").text());
    assert_eq!(value(&s, "node_memory_MemFree_bytes", &[]), 30.0 * 1024.0);
    assert_eq!(
        value(&s, "meminfo_block_timestamp_seconds", &[]),
        (start + 10) as f64
    );
}

/// The embedded default reads /proc/meminfo, made at each read: no mtime is offered (the
/// README's alert on it fired at once), and `max_age` on it is refused with the reason.
#[test]
fn a_kernel_file_offers_no_mtime() {
    let adapter = Adapter::start_default();
    let s = adapter.samples();
    assert_eq!(source_up(&s, "meminfo"), 1.0);
    assert_eq!(
        find(&s, "metrics_adapter_source_file_mtime_seconds", &[]),
        None,
        "{}",
        adapter.metrics()
    );
    let dir = TempDir::new("seed-proc");
    let config = dir.write(
        "adapter.toml",
        "[sources.m]\ntype = \"file\"\npath = \"/proc/meminfo\"\nparser = \"meminfo\"\nmax_age = \"1m\"\n",
    );
    let out = run_cli(
        &["--config", config.to_str().unwrap(), "check"],
        CLI_TIMEOUT,
    );
    assert!(!out.success(), "{out}");
    assert!(
        out.stderr
            .contains("sources.m.max_age: /proc/meminfo is a kernel file (procfs, sysfs)"),
        "{out}"
    );
}

/// `max_age` where nothing could ever be too old (a command's output read by a recipe
/// without dates) is refused, naming the key; with a dated recipe it is taken.
#[test]
fn max_age_without_a_clock_is_refused() {
    let dir = TempDir::new("seed-clock");
    let check = |config: &str| {
        let path = dir.write("adapter.toml", config);
        run_cli(&["--config", path.to_str().unwrap(), "check"], CLI_TIMEOUT)
    };
    let out = check(
        "[sources.e]\ntype = \"exec\"\ncommand = [\"cat\", \"/proc/loadavg\"]\nparser = \"kv\"\nmax_age = \"1m\"\n",
    );
    assert!(!out.success(), "{out}");
    assert!(
        out.stderr.contains(
            "sources.e.max_age: the answer of a source of type exec has no modification time, and recipe \
             \"kv\" finds no dates in it ([framing] dated = true), so nothing could ever be too \
             old; remove max_age"
        ),
        "{out}"
    );
    let out = check(
        "[sources.e]\ntype = \"exec\"\ncommand = [\"cat\", \"/x.log\"]\nparser = \"meminfo_appended\"\nmax_age = \"1m\"\n",
    );
    assert!(out.success(), "{out}");
}

/// A recipe without framing on an append log served over HTTP: the source is down and the
/// message names what is wrong (this recipe has no framing) and the fix that applies to an
/// http source (no `block_start` there).
#[test]
fn an_unframed_recipe_on_an_append_log_names_the_recipe() {
    let nginx = Nginx::start();
    nginx.write_file("meminfo.log", dated_log(1_795_578_386, 3));
    let url = toml_str(&nginx.url("/files/meminfo.log"));
    let adapter = Adapter::start(&format!(
        "[sources.plain]\ntype = \"http\"\nurl = {url}\nparser = \"meminfo\"\n"
    ));
    assert_eq!(source_up(&adapter.samples(), "plain"), 0.0);
    let status = adapter.get("/").text();
    assert!(
        status.contains(
            "the input repeats its series (4 repeated, 2 distinct): it looks like an append \
             log of whole dumps, and recipe &quot;meminfo&quot; has no [framing]; use one that \
             has (such as meminfo_appended)<"
        ),
        "{status}"
    );
}

/// Over HTTP, nginx's `Last-Modified` is the served file's mtime: on the page, and what
/// `max_age` compares when the data has no dates of its own.
#[test]
fn an_http_sources_last_modified_is_its_mtime() {
    let nginx = Nginx::start();
    let path = nginx.write_file("stats.txt", "hits: 5\n");
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    let url = toml_str(&nginx.url("/files/stats.txt"));
    let adapter = Adapter::start(&format!(
        "[sources.fresh]\ntype = \"http\"\nurl = {url}\nparser = \"kv\"\nlabels = {{ s = \"a\" }}\n\
         [sources.stale]\ntype = \"http\"\nurl = {url}\nparser = \"kv\"\nmax_age = \"10m\"\n"
    ));
    let s = adapter.samples();
    let mtime = an_hour_ago.duration_since(UNIX_EPOCH).unwrap().as_secs() as f64;
    for source in ["fresh", "stale"] {
        let got = value(
            &s,
            "metrics_adapter_source_file_mtime_seconds",
            &[("source", source)],
        );
        // Last-Modified has whole seconds.
        assert_eq!(got, mtime, "{source}");
    }
    assert_eq!(source_up(&s, "fresh"), 1.0);
    assert_eq!(source_up(&s, "stale"), 0.0);
    let status = adapter.get("/").text();
    assert!(
        status.contains("not modified for 3600s (max_age 600s): is the writer still running?")
            || status.contains("not modified for 3601s (max_age 600s)"),
        "{status}"
    );
}

/// An empty log (the writer has not written yet) over HTTP: the source says the log is
/// empty, not that it is the wrong log (nginx answers 200 to a suffix range on an empty
/// file; a server that answers 416 gets the same words).
#[test]
fn an_empty_log_over_http_says_so() {
    let nginx = Nginx::start();
    nginx.write_file("index.html", "");
    let url = toml_str(&nginx.url("/files/index.html"));
    let adapter = Adapter::start(&format!(
        "[sources.seed]\ntype = \"http\"\nurl = {url}\nparser = \"meminfo_appended\"\n"
    ));
    assert_eq!(source_up(&adapter.samples(), "seed"), 0.0);
    let status = adapter.get("/").text();
    assert!(
        status.contains("/files/index.html: the log is empty: no block written yet"),
        "{status}"
    );
}
