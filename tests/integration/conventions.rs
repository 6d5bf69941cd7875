//! What Prometheus users expect of any exporter (issue 17): the `process_*` family with the
//! values the kernel reports for the adapter, the exporter-toolkit flag names, build info,
//! a help text per command, and a status page and `check` that show what is in force.

use std::fs;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::harness::*;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// A `kB` line of `/proc/PID/status`, in bytes.
fn status_bytes(pid: u32, key: &str) -> f64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {status}"));
    kb * 1024.0
}

/// utime + stime of `/proc/PID/stat`, in clock ticks.
fn cpu_ticks(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    let (_, rest) = stat.rsplit_once(')').expect("stat has a command name");
    let fields: Vec<f64> = rest
        .split_whitespace()
        .skip(1) // state
        .map(|f| f.parse().unwrap_or(f64::NAN))
        .collect();
    // Fields 14 and 15 of the man page; `fields` starts at field 4.
    fields[10] + fields[11]
}

fn clock_ticks() -> f64 {
    let out = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .expect("getconf");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("CLK_TCK is a number")
}

fn open_fds(pid: u32) -> f64 {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("list fds")
        .count() as f64
}

/// The soft limit of a row of `/proc/PID/limits`, `unlimited` as u64::MAX (as Go writes it).
fn soft_limit(pid: u32, row: &str) -> f64 {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).expect("read limits");
    let soft = limits
        .lines()
        .find_map(|l| l.strip_prefix(row))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no {row} in {limits}"));
    match soft {
        "unlimited" => u64::MAX as f64,
        n => n.parse().expect("a number"),
    }
}

/// `lo - slack <= v <= hi + slack`, with the bounds in either order.
fn assert_between(what: &str, v: f64, a: f64, b: f64, slack: f64) {
    let (lo, hi) = (a.min(b) - slack, a.max(b) + slack);
    assert!(
        (lo..=hi).contains(&v),
        "{what} = {v}, expected within [{lo}, {hi}]"
    );
}

#[test]
fn process_metrics_match_what_the_kernel_reports() {
    let started = unix_now();
    let adapter = Adapter::start_default();
    let running = unix_now();
    let pid = adapter.pid();
    // Warm up: the first scrapes start the blocking pool's thread (a stack mapping) and
    // grow the heap; measured afterwards, the page and /proc agree closely.
    for _ in 0..3 {
        adapter.metrics();
    }
    let (rss_before, vsz_before, cpu_before) = (
        status_bytes(pid, "VmRSS:"),
        status_bytes(pid, "VmSize:"),
        cpu_ticks(pid),
    );
    let page = adapter.metrics();
    let fds_after = open_fds(pid);
    let (rss_after, vsz_after, cpu_after) = (
        status_bytes(pid, "VmRSS:"),
        status_bytes(pid, "VmSize:"),
        cpu_ticks(pid),
    );
    let (s, types) = parse_page_typed(&page, false);

    // Same names, types and help as the Go client's process collector.
    for (name, kind, help) in [
        (
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
        ),
        (
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
        ),
        (
            "process_virtual_memory_max_bytes",
            "gauge",
            "Maximum amount of virtual memory available in bytes.",
        ),
        (
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
        ),
        (
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
        ),
    ] {
        assert!(
            page.contains(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n")),
            "{name}:\n{page}"
        );
    }
    assert_eq!(
        types.get("process_cpu_seconds").map(String::as_str),
        Some("counter"),
        "{types:?}"
    );

    const MIB: f64 = 1024.0 * 1024.0;
    // Memory moves a little while the page is encoded and sent: bracketed by the readings
    // before and after the request, give or take 1 MiB.
    assert_between(
        "process_resident_memory_bytes",
        value(&s, "process_resident_memory_bytes", &[]),
        rss_before,
        rss_after,
        MIB,
    );
    assert_between(
        "process_virtual_memory_bytes",
        value(&s, "process_virtual_memory_bytes", &[]),
        vsz_before,
        vsz_after,
        MIB,
    );
    // CPU time is read from the same counter, so it lies between the two readings exactly.
    let hz = clock_ticks();
    assert_between(
        "process_cpu_seconds_total",
        value(&s, "process_cpu_seconds_total", &[]),
        cpu_before / hz,
        cpu_after / hz,
        1e-9,
    );
    // While it counted, the adapter also held this request's connection; the directory's
    // own descriptor (a listing counts its own) is kept open by the adapter, so it is in
    // `fds_after` too. By the time we count, the connection is closed (or still closing).
    let fds = value(&s, "process_open_fds", &[]);
    assert!(
        fds == fds_after + 1.0 || fds == fds_after,
        "process_open_fds = {fds}, /proc/{pid}/fd has {fds_after} entries now"
    );
    assert_eq!(
        value(&s, "process_max_fds", &[]),
        soft_limit(pid, "Max open files")
    );
    assert_eq!(
        value(&s, "process_virtual_memory_max_bytes", &[]),
        soft_limit(pid, "Max address space")
    );
    // The boot time is whole seconds, the start tick 1/100 s: within 1.5 s of the start we
    // saw from outside.
    assert_between(
        "process_start_time_seconds",
        value(&s, "process_start_time_seconds", &[]),
        started,
        running,
        1.5,
    );
    // node_exporter's own meminfo names are camelCase; nothing else may complain.
    promtool_check(&page, &["camelCase"]);

    // The counter grows with work, and the same family is on the OpenMetrics page.
    let r = adapter.get_with("/metrics", &[("Accept", "application/openmetrics-text")]);
    let om = parse_page(&r.text(), true);
    assert!(
        value(&om, "process_cpu_seconds_total", &[]) >= value(&s, "process_cpu_seconds_total", &[])
    );
}

/// Output of a command, trimmed, if it ran and succeeded.
fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

#[test]
fn build_info_carries_revision_branch_and_compiler() {
    let adapter = Adapter::start_default();
    let s = adapter.samples();
    let info = s
        .iter()
        .find(|s| s.name == "metrics_adapter_build_info")
        .expect("metrics_adapter_build_info on the page");
    assert_eq!(info.value, 1.0);
    let dir = env!("CARGO_MANIFEST_DIR");
    // Built from this checkout: its HEAD (the binary is rebuilt when HEAD moves). From a
    // tarball without .git, "unknown".
    let git = |args: &[&str]| {
        let mut all = vec!["-C", dir];
        all.extend_from_slice(args);
        command_output("git", &all).unwrap_or_else(|| "unknown".into())
    };
    let rustc = command_output("rustc", &["--version"]).expect("rustc --version");
    let want = [
        ("version", env!("CARGO_PKG_VERSION").to_string()),
        ("revision", git(&["rev-parse", "HEAD"])),
        ("branch", git(&["rev-parse", "--abbrev-ref", "HEAD"])),
        (
            "rustversion",
            rustc.split_whitespace().nth(1).unwrap_or("").to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(info.labels, want);
}

const CLI_TIMEOUT: Duration = Duration::from_secs(30);

/// `--web.listen-address` and `--web.telemetry-path`, the exporter-toolkit names, beside
/// `--listen` and `server.metrics_path`; before the command or after `run`.
#[test]
fn exporter_toolkit_flag_names_work() {
    let adapter = Adapter::start_listening(
        None,
        |port| vec!["--web.listen-address".into(), format!("127.0.0.1:{port}")],
        &["--web.telemetry-path", "/custom/metrics"],
    );
    let r = adapter.get("/custom/metrics");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        source_up(&parse_page(&r.text(), false), "meminfo"),
        1.0,
        "{}",
        r.text()
    );
    assert_eq!(adapter.get("/metrics").status, 404);
    assert!(adapter.get("/").text().contains("href=\"/custom/metrics\""));
    drop(adapter);

    // `:PORT`, as Go exporters take it, after `run`; the flag wins over the config key.
    let adapter = Adapter::start_listening(
        Some("[server]\nmetrics_path = \"/from-config\"\n"),
        |port| {
            vec![
                "run".into(),
                "--web.listen-address".into(),
                format!(":{port}"),
                "--web.telemetry-path".into(),
                "/from-flag".into(),
            ]
        },
        &[],
    );
    assert_eq!(adapter.get("/from-flag").status, 200);
    assert_eq!(adapter.get("/from-config").status, 404);
    assert!(adapter
        .stderr()
        .contains(&format!("0.0.0.0:{}", adapter.port)));
    drop(adapter);

    // One address, two spellings: giving both is an error, not a silent choice.
    let out = run_cli(
        &[
            "--listen",
            "127.0.0.1:1",
            "--web.listen-address",
            "127.0.0.1:2",
        ],
        CLI_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("cannot be used multiple times"),
        "{out}"
    );

    // `check` shows what the flags before it resolve to.
    let out = run_cli(
        &[
            "--web.listen-address",
            ":9999",
            "--web.telemetry-path",
            "/x",
            "check",
        ],
        CLI_TIMEOUT,
    );
    assert!(out.success(), "{out}");
    assert!(
        out.stdout
            .contains("listen: 0.0.0.0:9999  metrics path: /x"),
        "{out}"
    );
    let out = run_cli(&["--web.telemetry-path", "metrics", "check"], CLI_TIMEOUT);
    assert!(!out.success(), "{out}");
    assert!(
        out.stderr
            .contains("server.metrics_path: \"metrics\" must start with /"),
        "{out}"
    );
}

/// Each command's help lists what applies to it: the serving options only where it serves.
#[test]
fn each_command_has_its_own_help() {
    const SERVING: &[&str] = &[
        "--listen",
        "--web.listen-address",
        "--web.telemetry-path",
        "--web.config.file",
        "--log-level",
        "--log-format",
    ];
    for args in [&["--help"][..], &["run", "--help"]] {
        let out = run_cli(args, CLI_TIMEOUT);
        assert!(out.success(), "{out}");
        for flag in SERVING.iter().chain(&["--config"]) {
            assert!(out.stdout.contains(flag), "{args:?} lacks {flag}:\n{out}");
        }
    }
    for verb in ["check", "once", "parse", "parsers"] {
        let out = run_cli(&[verb, "--help"], CLI_TIMEOUT);
        assert!(out.success(), "{out}");
        assert!(out.stdout.contains("--config"), "{verb}:\n{out}");
        for flag in SERVING {
            assert!(
                !out.stdout.contains(flag),
                "{verb} --help lists {flag}:\n{out}"
            );
        }
        // An option that does nothing there is refused, not ignored.
        // ... with a tip saying where it goes (clap's own tip, `-- --listen`, would not).
        for flag in ["--listen", "--web.listen-address=:1", "--web.config.file"] {
            let out = run_cli(&[verb, flag, "127.0.0.1:1"], CLI_TIMEOUT);
            assert_eq!(out.status.code(), Some(2), "{verb}: {out}");
            let name = flag.split('=').next().unwrap();
            assert!(
                out.stderr.ends_with(&format!(
                    "\ntip: {name} is a serving option: it goes before the command \
                     (metrics-adapter {name} ... check) or after `run`\n"
                )),
                "{verb} {flag}: {out}"
            );
        }
    }
    // Another unknown option gets clap's error alone.
    let out = run_cli(&["check", "--no-such-flag"], CLI_TIMEOUT);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(!out.stderr.contains("serving option"), "{out}");
    // Every option says what it does.
    for verb in ["once", "parse"] {
        let out = run_cli(&[verb, "--help"], CLI_TIMEOUT);
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("--openmetrics"))
            .unwrap_or_else(|| panic!("{verb}: no --openmetrics:\n{out}"));
        assert!(
            line.contains("Print OpenMetrics instead of the 0.0.4 text format"),
            "{verb}: {line:?}"
        );
    }
}

/// The status page names the column for what it holds, and shows each source's last error
/// with its time, still after the source recovers.
#[test]
fn status_page_shows_the_last_error_with_its_time() {
    let data = TempDir::new("conv-status");
    let stats = data.join("stats.txt");
    let adapter = Adapter::start(&format!(
        "[sources.app]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n",
        toml_str(&stats.display().to_string())
    ));
    let before = SystemTime::now();
    assert_eq!(source_up(&adapter.samples(), "app"), 0.0);
    let html = adapter.get("/").text();
    assert!(
        html.contains("<th>path, URL, address or command</th>") && !html.contains(">reads<"),
        "{html}"
    );
    let row = |html: &str| -> Vec<String> {
        let line = html
            .lines()
            .find(|l| l.starts_with("<tr><td>app</td>"))
            .unwrap_or_else(|| panic!("no row for app:\n{html}"))
            .to_string();
        line.trim_start_matches("<tr><td>")
            .trim_end_matches("</td></tr>")
            .split("</td><td>")
            .map(str::to_string)
            .collect()
    };
    let cells = row(&html);
    assert_eq!(cells[2], stats.display().to_string());
    assert_eq!(cells[4], "down");
    // The time is the read's, in UTC, to the second (formatted here by `date`, not by us).
    let stamp = |t: SystemTime| {
        let secs = t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
        let out = Command::new("date")
            .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%d %H:%M:%S UTC"])
            .output()
            .expect("date");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let error = &cells[6];
    assert!(
        [stamp(before), stamp(SystemTime::now())]
            .iter()
            .any(|s| error.starts_with(&format!("{s} ("))),
        "{error}"
    );
    assert!(error.contains(" s ago): "), "{error}");
    assert!(error.contains("No such file or directory"), "{error}");

    // Up again: the state says so, the last error stays with its time.
    fs::write(&stats, "hits: 1\n").expect("write stats");
    assert_eq!(source_up(&adapter.samples(), "app"), 1.0);
    let cells = row(&adapter.get("/").text());
    assert_eq!(cells[4], "up");
    // The same error at the same time (only its age moves on).
    let without_age = |e: &str| {
        let (at, rest) = e.split_once(" (").unwrap_or((e, ""));
        (
            at.to_string(),
            rest.split_once("): ").map(|(_, m)| m.to_string()),
        )
    };
    assert_eq!(
        without_age(&cells[6]),
        without_age(error),
        "the last error is kept"
    );
}

/// `check` prints every key of each source with the value in force: defaults, the recipe's
/// framing, limits; never a secret.
#[test]
fn check_prints_every_resolved_key() {
    let dir = TempDir::new("conv-check");
    let config = dir.write(
        "config.toml",
        r#"[server]
max_connections = 7

[sources.log]
type = "file"
path = "/var/stats/meminfo.log"
parser = "meminfo_appended"
max_age = "30s"
interval = "15s"
labels = { instance = "a" }
include = ['node_memory_\w+']

[sources.own]
type = "file"
path = "/var/stats/app.log"
block_start = '^--- \d+'
parser = "kv"
max_bytes = 1000

[sources.mc]
type = "tcp"
address = "127.0.0.1:11211"
send = "stats\r\n"
until = "END\r\n"
parser = "kv"
timeout = "250ms"
labels = { instance = "mc" }

[sources.web]
type = "http"
url = "http://127.0.0.1:8080/status?auto"
headers = { Authorization = "Bearer header-secret-x7" }
basic_auth_user = "stats"
basic_auth_password_env = "WEB_PASSWORD"
parser = "kv"
labels = { instance = "web" }

[sources.seed]
type = "http"
url = "http://127.0.0.1/index.html"
gzip = false
parser = "meminfo_appended"
"#,
    );
    let out = run_cli(
        &["--config", config.to_str().expect("utf-8 path"), "check"],
        CLI_TIMEOUT,
    );
    assert!(out.success(), "{out}");
    assert!(!out.stdout.contains("header-secret-x7"), "{out}");
    let block = |name: &str| -> Vec<String> {
        let mut lines = out
            .stdout
            .lines()
            .skip_while(|l| !l.starts_with(&format!("  {name}: ")));
        lines
            .next()
            .unwrap_or_else(|| panic!("no source {name}:\n{out}"));
        lines
            .take_while(|l| l.starts_with("    "))
            .map(|l| l.trim().to_string())
            .collect()
    };
    assert!(
        out.stdout.contains(
            "server limits: max_connections = 7, header_read_timeout = 10s, shutdown_timeout = 10s"
        ),
        "{out}"
    );
    let log = block("log");
    assert_eq!(log[0], "path = \"/var/stats/meminfo.log\"");
    assert!(
        log[1].starts_with("block_start = '^(?:")
            && log[1].ends_with("' (from recipe meminfo_appended)"),
        "{log:?}"
    );
    assert_eq!(
        log[2..],
        [
            "block_end = (unset)",
            "follow_links = false",
            "max_age = 30s",
            "timeout = 5s",
            "interval = 15s (read in the background)",
            "max_bytes = 16777216",
            "labels = { instance = \"a\" }",
            r"include = ['node_memory_\w+']",
            "exclude = (unset)",
            "relabel = (unset)",
        ]
    );
    assert_eq!(
        block("own")[..6],
        [
            "path = \"/var/stats/app.log\"",
            r"block_start = '^--- \d+'",
            "block_end = (unset)",
            "follow_links = false",
            "max_age = (unset)",
            "timeout = 5s",
        ]
    );
    assert!(block("own").contains(&"max_bytes = 1000".to_string()));
    assert_eq!(
        block("mc")[..9],
        [
            "address = \"127.0.0.1:11211\"",
            r#"send = "stats\r\n""#,
            "framing = \"until\"",
            r#"until = "END\r\n""#,
            "auth = (unset)",
            "secret_file = (unset)",
            "secret_env = (unset)",
            "max_age = (unset)",
            "timeout = 250ms",
        ]
    );
    assert_eq!(
        block("web")[..14],
        [
            "url = \"http://127.0.0.1:8080/status?auto\"",
            "socket = (unset)",
            "headers = authorization (values not shown)",
            "basic_auth_user = \"stats\"",
            "basic_auth_password_file = (unset)",
            "basic_auth_password_env = \"WEB_PASSWORD\"",
            "bearer_token_file = (unset)",
            "bearer_token_env = (unset)",
            "gzip = true",
            "method = GET",
            "body = (unset)",
            "body_file = (unset)",
            "tls = (unset)",
            "max_age = (unset)",
        ]
    );
    // An http source applies its recipe's framing too, and a dated recipe's default stale
    // rule is spelled out.
    let seed = block("seed");
    assert!(
        seed[13].starts_with("block_start = '^(?:")
            && seed[13].ends_with("' (from recipe meminfo_appended)"),
        "{seed:?}"
    );
    assert_eq!(
        seed[14],
        "max_age = (unset) (the recipe's blocks are dated: stale past 3 write periods, at least 10s)"
    );
}

/// config.example.toml, the file a newcomer copies from, checks as a whole; and its `exec`
/// example, which needs nothing but this host, serves its three values (it once served
/// nothing: `kv` on /proc/loadavg, a line with no separator).
#[test]
fn config_example_checks_and_its_exec_example_serves() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml");
    let out = run_cli(&["--config", example, "check"], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    let text = fs::read_to_string(example).unwrap();
    let start = text.find("[sources.loadavg]\n").expect("the exec example");
    let section: String = text[start..]
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    let adapter = Adapter::start(&section);
    // A background source (interval): served once its first read is done.
    wait_until(
        "the first read of the exec example",
        Duration::from_secs(10),
        || adapter.get("/readyz").status == 200,
    );
    let s = adapter.samples();
    assert_eq!(source_up(&s, "loadavg"), 1.0, "{}", adapter.metrics());
    let loadavg = fs::read_to_string("/proc/loadavg").unwrap();
    let one: f64 = loadavg.split(' ').next().unwrap().parse().unwrap();
    for name in ["load1", "load5", "load15"] {
        let v = value(&s, name, &[]);
        assert!(v >= 0.0 && v.is_finite(), "{name} {v}");
    }
    // Same minute, same machine: load1 as /proc says it within a wide margin.
    assert!((value(&s, "load1", &[]) - one).abs() < 5.0, "{one}");
}
