//! Reliability, round two (issue 12): the monitored app cannot crash, freeze or fool the
//! adapter. Each test reproduces a failure found on the old main, with the real binary.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::*;

/// The CPU time a process has used, user and system, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name, which is in parentheses and may hold spaces; utime
    // and stime are fields 14 and 15 of the whole line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    rest.split_whitespace()
        .skip(11)
        .take(2)
        .map(|t| t.parse::<u64>().expect("a tick count"))
        .sum()
}

fn mkfifo(path: &std::path::Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

/// A FIFO where a file is expected (the app controls its own stats path, and the user its
/// secret, recipe and config paths) is refused at once, never read and waited on.
#[test]
fn fifos_are_refused_not_waited_on() {
    let dir = TempDir::new("fifo");
    let fifo = dir.join("stats");
    mkfifo(&fifo);
    let adapter = Adapter::start(&format!(
        "[sources.fifo]\ntype = \"file\"\npath = {}\nparser = \"kv\"\n",
        toml_str(&fifo.display().to_string())
    ));
    for _ in 0..5 {
        let start = Instant::now();
        let s = adapter.samples();
        assert!(start.elapsed() < Duration::from_secs(2), "a scrape waited");
        assert_eq!(source_up(&s, "fifo"), 0.0);
    }
    assert!(adapter.get("/").text().contains("not a regular file"));

    // The config file itself, and a recipe in a recipe directory.
    let out = run_cli(
        &["--config", &fifo.display().to_string(), "check"],
        Duration::from_secs(10),
    );
    assert!(!out.success(), "{out}");
    assert!(out.stderr.contains("not a regular file"), "{out}");
    let recipes = dir.mkdir("recipes");
    mkfifo(&recipes.join("app.toml"));
    let config = dir.write(
        "config.toml",
        format!(
            "[parsers]\ndirs = [{}]\n",
            toml_str(&recipes.display().to_string())
        ),
    );
    let out = run_cli(
        &["--config", &config.display().to_string(), "check"],
        Duration::from_secs(10),
    );
    assert!(!out.success(), "{out}");
    assert!(
        out.stderr.contains("app.toml") && out.stderr.contains("not a regular file"),
        "{out}"
    );
}

/// A source too big to parse within its timeout is down with "timed out" when the timeout
/// says, and `/healthz` answers meanwhile; a series cap makes a runaway source down.
#[test]
fn a_huge_source_cannot_freeze_the_adapter() {
    let dir = TempDir::new("huge");
    let mut text = String::with_capacity(9 << 20);
    for i in 0..1_000_000 {
        text += &format!("k{i}: 1\n");
    }
    let huge = dir.write("huge.txt", &text);
    let many = dir.write(
        "many.txt",
        (0..5000).map(|i| format!("k{i}: 1\n")).collect::<String>(),
    );
    let adapter = Adapter::start(&format!(
        "[sources.huge]\ntype = \"file\"\npath = {}\nparser = \"kv\"\ntimeout = \"1s\"\n\
         [sources.many]\ntype = \"file\"\npath = {}\nparser = \"kv\"\nmax_series = 1000\nlabels = {{ f = \"many\" }}\n",
        toml_str(&huge.display().to_string()),
        toml_str(&many.display().to_string())
    ));
    let port = adapter.port;
    let idle = cpu_ticks(adapter.pid());
    let scrape = std::thread::spawn(move || {
        let start = Instant::now();
        let page = http_get(port, "/metrics");
        (start.elapsed(), page)
    });
    // The parse is under way once the adapter has spent 0.1 s of CPU time on the scrape.
    wait_until("the adapter busy parsing", Duration::from_secs(10), || {
        cpu_ticks(adapter.pid()) >= idle + 10
    });
    // While the big read is being parsed, the adapter keeps answering.
    let mut probes = 0;
    while !scrape.is_finished() && probes < 100 {
        let start = Instant::now();
        assert_eq!(adapter.get("/healthz").status, 200);
        assert!(
            start.elapsed() < Duration::from_millis(500),
            "/healthz took {:?}",
            start.elapsed()
        );
        probes += 1;
    }
    assert!(probes > 0, "the scrape ended before /healthz was asked");
    let (took, page) = scrape.join().unwrap();
    assert!(took < Duration::from_secs(3), "the scrape took {took:?}");
    let s = parse_page(&page.text(), false);
    assert_eq!(source_up(&s, "huge"), 0.0);
    assert_eq!(source_up(&s, "many"), 0.0);
    let status = adapter.get("/").text();
    assert!(status.contains("timed out after 1s"), "{status}");
    assert!(
        status.contains("5000 values, more than max_series (1000)"),
        "{status}"
    );
}

/// An app's error text with a bare newline cannot forge a log line, and a source that
/// stays down is logged once, not on every read.
#[test]
fn source_errors_are_escaped_and_logged_once() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(false).unwrap();
    let server = std::thread::spawn(move || {
        // Bounded: as many connections as the test scrapes.
        for _ in 0..4 {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            let mut buf = [0u8; 256];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"-ERR bad\nlevel=ERROR msg=\"forged line\"\r\n");
        }
    });
    let adapter = Adapter::start(&format!(
        "[sources.redis]\ntype = \"tcp\"\naddress = \"127.0.0.1:{port}\"\nsend = \"INFO\\r\\n\"\nframing = \"resp\"\nparser = \"redis_info\"\n"
    ));
    for _ in 0..4 {
        assert_eq!(source_up(&adapter.samples(), "redis"), 0.0);
    }
    server.join().unwrap();
    let log = adapter.stderr();
    assert!(
        !log.lines().any(|l| l.starts_with("level=ERROR")),
        "a forged log line:\n{log}"
    );
    assert!(log.contains(r"bad\nlevel=ERROR"), "escaped:\n{log}");
    assert_eq!(
        log.matches("source down").count(),
        1,
        "one line per change of state:\n{log}"
    );
}

/// A reload stops the background readers of the config it replaces.
#[test]
fn a_reload_stops_the_old_background_readers() {
    let dir = TempDir::new("reload-pollers");
    let marks = dir.join("marks");
    let config = format!(
        "[sources.ticker]\ntype = \"exec\"\ncommand = [\"sh\", \"-c\", \"echo x >> '{}'; echo v: 1\"]\nparser = \"kv\"\ninterval = \"100ms\"\n",
        marks.display()
    );
    let mut adapter = Adapter::start(&config);
    let lines = |path: &std::path::Path| fs::read_to_string(path).map_or(0, |m| m.lines().count());
    wait_until("the poller runs", Duration::from_secs(10), || {
        lines(&marks) >= 3
    });
    // The new config's own ticker is the clock: the old one's marks are counted after
    // three new ticks (a read in flight at the reload has ended by then), and again eight
    // ticks later.
    let new_marks = dir.join("new-marks");
    fs::write(
        adapter.config_path(),
        format!(
            "[sources.ticker2]\ntype = \"exec\"\ncommand = [\"sh\", \"-c\", \"echo x >> '{}'; echo v: 1\"]\nparser = \"kv\"\ninterval = \"100ms\"\n",
            new_marks.display()
        ),
    )
    .unwrap();
    assert!(send_signal("HUP", adapter.pid() as i64));
    wait_until("the reload", Duration::from_secs(10), || {
        adapter.stderr().contains("configuration reloaded")
    });
    wait_until(
        "three ticks of the new poller",
        Duration::from_secs(10),
        || lines(&new_marks) >= 3,
    );
    let after_reload = lines(&marks);
    wait_until("eight more ticks", Duration::from_secs(20), || {
        lines(&new_marks) >= 11
    });
    let later = lines(&marks);
    assert_eq!(
        later, after_reload,
        "the removed source is still being read"
    );
    adapter.terminate(Duration::from_secs(10));
}

/// Clients that ask for the page and never read it are cut off after `write_timeout`, and
/// one client address cannot take every connection slot.
#[test]
fn slow_readers_and_greedy_clients_are_bounded() {
    use std::net::TcpStream;
    require_binary("/usr/bin/curl");
    require_binary("/usr/bin/ss");
    let dir = TempDir::new("slow-readers");
    // A page bigger than what loopback socket buffers absorb (up to 10 MB here), made of
    // few series with long label values so that a debug build makes it quickly.
    let filler = "x".repeat(4000);
    let big = dir.write(
        "big.prom",
        (0..5000)
            .map(|i| format!("big{{n=\"{i}\",pad=\"{filler}\"}} 1\n"))
            .collect::<String>(),
    );
    let adapter = Adapter::start(&format!(
        "[server]\nwrite_timeout = \"1s\"\nmax_connections_per_client = 3\n\
         [sources.big]\ntype = \"file\"\npath = {}\nparser = \"prometheus\"\ntimeout = \"60s\"\nmax_bytes = 67108864\n",
        toml_str(&big.display().to_string())
    ));
    let mut stuck = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(("127.0.0.1", adapter.port)).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        stuck.push(s);
    }
    // A third connection from the same address is still allowed; a fourth is not.
    let third = TcpStream::connect(("127.0.0.1", adapter.port)).unwrap();
    let mut fourth = TcpStream::connect(("127.0.0.1", adapter.port)).unwrap();
    fourth
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = fourth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut answer = Vec::new();
    // Closed at once (end of stream, or a reset when our request arrived after the close),
    // not left hanging until our read timeout.
    let read = fourth.read_to_end(&mut answer);
    assert!(
        matches!(&read, Ok(0))
            || read
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the 4th connection was not closed: {read:?}"
    );
    assert!(answer.is_empty(), "a 4th connection was served");
    // Another client address is served meanwhile.
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--interface",
            "127.0.0.2",
        ])
        .arg(format!("http://127.0.0.1:{}/healthz", adapter.port))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    drop(third);

    // The stuck readers: the server gives up on them (its side of the connection goes to
    // FIN-WAIT-1, the FIN queued behind the unread bytes), and what they can still read is
    // a cut-off answer. Watched with `ss` rather than by reading, since reading would let
    // the writes go on.
    let ports: Vec<String> = stuck
        .iter()
        .map(|s| s.local_addr().unwrap().port().to_string())
        .collect();
    wait_until(
        "the server closing the stuck connections",
        Duration::from_secs(90),
        || {
            let out = Command::new("ss")
                .args(["-tnH", "state", "fin-wait-1"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            ports.iter().all(|p| {
                text.lines()
                    .any(|l| l.trim_end().ends_with(&format!("127.0.0.1:{p}")))
            })
        },
    );
    for mut s in stuck {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        let text = String::from_utf8_lossy(&got);
        let length: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("a content-length");
        let body = got.len() - text.find("\r\n\r\n").unwrap() - 4;
        assert!(body < length, "the whole page ({length} bytes) was written");
    }
    assert!(adapter.get("/healthz").status == 200);
}

/// As PID 1 (the shipped image's entrypoint), the adapter reaps the orphans an `exec`
/// command leaves behind, instead of collecting a zombie per scrape.
#[test]
fn as_pid_1_orphans_are_reaped() {
    require_binary("/usr/bin/unshare");
    let dir = TempDir::new("pid1");
    let port = free_port();
    let config = dir.write(
        "config.toml",
        "[sources.leaky]\ntype = \"exec\"\ncommand = [\"sh\", \"-c\", \"sleep 0.05 & echo v: 1\"]\nparser = \"kv\"\n",
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", BIN, "--config"])
        .arg(&config)
        .args(["--listen", &format!("127.0.0.1:{port}")]);
    let mut adapter = Proc::spawn("unshare metrics-adapter", cmd, dir.join("adapter.log"));
    adapter.wait_ready(Duration::from_secs(20), || port_open(port));
    for _ in 0..20 {
        assert!(http_ok_text(port, "/metrics").contains("v 1"));
    }
    // The adapter is the child of `unshare`; once every `sleep 0.05` it orphaned has
    // ended, none of them may stay behind as its zombie (nor run on).
    let unshare = adapter.pid();
    let stat = |pid: &str| fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields = |s: &str| -> Vec<String> {
        s.rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    let procs = || -> Vec<(String, Vec<String>)> {
        fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
            .map(|p| {
                let f = fields(&stat(&p));
                (p, f)
            })
            .collect()
    };
    let pid1 = procs()
        .iter()
        .find(|(_, f)| f.get(1).is_some_and(|pp| *pp == unshare.to_string()))
        .map(|(p, _)| p.clone())
        .expect("the adapter under unshare");
    let mut left = Vec::new();
    let reaped = Instant::now() + Duration::from_secs(10);
    while Instant::now() < reaped {
        left = procs()
            .into_iter()
            .filter(|(_, f)| f.get(1) == Some(&pid1))
            .map(|(p, f)| format!("{p} ({})", f.first().map_or("?", |s| s.as_str())))
            .collect();
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        left.is_empty(),
        "children (state) left under the adapter as PID 1: {left:?}"
    );
    adapter.stop();
}

/// SIGTERM ends the process within `shutdown_timeout` even while a parse that outlived its
/// scrape is still running on the blocking pool.
#[test]
fn sigterm_does_not_wait_for_stuck_work() {
    let dir = TempDir::new("stuck-term");
    let huge = dir.write(
        "huge.txt",
        (0..1_500_000)
            .map(|i| format!("k{i}: 1\n"))
            .collect::<String>(),
    );
    let mut adapter = Adapter::start(&format!(
        "[server]\nshutdown_timeout = \"1s\"\n\
         [sources.huge]\ntype = \"file\"\npath = {}\nparser = \"kv\"\ntimeout = \"1s\"\nmax_series = 10000000\n",
        toml_str(&huge.display().to_string())
    ));
    // The scrape gives up after 1 s; the parse it started goes on in the background.
    let s = adapter.samples();
    assert_eq!(source_up(&s, "huge"), 0.0);
    let start = Instant::now();
    let status = adapter.terminate(Duration::from_secs(10));
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "exit took {:?}",
        start.elapsed()
    );
    assert!(status.success(), "{status}");
}
