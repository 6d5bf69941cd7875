//! The built-in recipes for daemons' logs (mtail's example programs' names), each followed
//! by a `tail` source while the real daemon writes its log: the counts must be exactly what
//! the daemon logged. Every wait is bounded.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::*;
use crate::tail::{series, wait_page, wait_ready};

/// An adapter following `log` with the built-in recipe `parser`, polling every 100 ms.
fn follow(parser: &str, log: &Path) -> Adapter {
    Adapter::start(&format!(
        "[sources.log]\ntype = \"tail\"\nparser = \"{parser}\"\npath = {}\n\
         interval = \"100ms\"\ntimeout = \"5s\"\n",
        toml_str(&log.display().to_string())
    ))
}

/// One slow-log entry as the test reads it from the file: (user, verb, query time, lock time).
fn entries(log: &str) -> Vec<(String, String, f64, f64)> {
    log.split("# User@Host: ")
        .skip(1)
        .map(|e| {
            let user = e.split('[').next().unwrap().to_string();
            let field = |name: &str| -> f64 {
                let at = e.find(name).unwrap() + name.len();
                e[at..].split_whitespace().next().unwrap().parse().unwrap()
            };
            let statement = e
                .split("SET timestamp=")
                .nth(1)
                .unwrap()
                .lines()
                .nth(1)
                .unwrap();
            let verb = statement.split_whitespace().next().unwrap().to_lowercase();
            (user, verb, field("# Query_time: "), field("Lock_time: "))
        })
        .collect()
}

#[test]
fn mysql_slow_log_counts_exactly_what_mariadb_logged() {
    let db = MariaDb::start();
    db.sql(
        "CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY, v INT); \
         CREATE USER app@'%' IDENTIFIED BY 'pw'; GRANT ALL ON shop.* TO app@'%';",
    );
    let adapter = follow("mysql_slow_log", &db.slow_log);
    wait_ready(&adapter);
    let before = std::fs::read_to_string(&db.slow_log).unwrap().len();
    // What was logged before the adapter started is not counted: 10 entries from here.
    db.sql(
        "INSERT INTO shop.t VALUES (1,1),(2,2),(3,3); UPDATE shop.t SET v = v + 1; \
         SELECT * FROM shop.t; SELECT\n  v FROM shop.t WHERE id = 1; SELECT SLEEP(0.05);",
    );
    db.sql_as(
        "app",
        "DELETE FROM shop.t WHERE id = 3; SELECT COUNT(*) FROM shop.t; \
         UPDATE shop.t SET v = 0 WHERE id = 1 # outbox;",
    );
    db.sql("FLUSH STATUS; DROP TABLE shop.t;");
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        series(p, "query_time_total_count") == Some(10.0)
    });
    let log = std::fs::read_to_string(&db.slow_log).unwrap();
    let new = entries(&log[before..]);
    assert_eq!(new.len(), 10, "{log}");
    let sum = |user: &str, verb: &str, lock: bool| -> f64 {
        new.iter()
            .filter(|(u, v, _, _)| u == user && v == verb)
            .map(|(_, _, q, l)| if lock { *l } else { *q })
            .sum()
    };
    let close = |got: Option<f64>, want: f64| {
        assert!(
            got.is_some_and(|g| (g - want).abs() < 1e-9),
            "{got:?} != {want}\n{page}"
        );
    };
    let at = |user: &str, verb: &str, service: &str| {
        format!("{{user=\"{user}\",server=\"localhost\",type=\"{verb}\",service=\"{service}\"}}")
    };
    for (verb, count_in) in [("insert", 1), ("select", 3)] {
        let n = new
            .iter()
            .filter(|(u, v, _, _)| u == "root" && v == verb)
            .count();
        assert_eq!(n, count_in);
        close(
            series(&page, &format!("query_time{}", at("root", verb, "n/a"))),
            sum("root", verb, false),
        );
        close(
            series(&page, &format!("lock_time{}", at("root", verb, "n/a"))),
            sum("root", verb, true),
        );
    }
    close(
        series(&page, &format!("query_time{}", at("root", "update", "n/a"))),
        sum("root", "update", false),
    );
    close(
        series(&page, &format!("query_time{}", at("app", "delete", "n/a"))),
        sum("app", "delete", false),
    );
    close(
        series(&page, &format!("query_time{}", at("app", "select", "n/a"))),
        sum("app", "select", false),
    );
    // The trailing `# outbox` comment names the service.
    let outbox = new
        .iter()
        .find(|(u, v, _, _)| u == "app" && v == "update")
        .unwrap();
    close(
        series(
            &page,
            &format!("query_time{}", at("app", "update", "outbox")),
        ),
        outbox.2,
    );
    // FLUSH and DROP count only overall.
    assert!(
        !page.contains("type=\"flush\"") && !page.contains("type=\"drop\""),
        "{page}"
    );
    close(
        series(&page, "query_time_overall_sum"),
        new.iter().map(|e| e.2).sum(),
    );
    close(
        series(&page, "lock_time_overall_sum"),
        new.iter().map(|e| e.3).sum(),
    );
    assert_eq!(series(&page, "lock_time_total_count"), Some(10.0));
    // SLEEP(0.05) took at least that long: the times are mariadb's, not zeros.
    assert!(sum("root", "select", false) >= 0.05);
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_unmatched_total{source=\"log\"}"
        ),
        Some(0.0),
        "{page}"
    );
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_parse_errors_total{source=\"log\"}"
        ),
        Some(0.0)
    );
    promtool_check(&page, &[]);
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// What `remember` keeps is bounded: a key past `max_keys` and a key older than `expire`
/// are forgotten, each counted on the adapter's page, and the line that needed it counts
/// as unmatched instead of as a wrong number.
#[test]
fn line_state_past_its_bounds_is_counted_on_the_page() {
    let dir = TempDir::new("line-state");
    dir.write(
        "parsers/sessions.toml",
        "description = 'sessions'\nformat = 'regex'\n\
         [[regex.rule]]\npattern = '^(?P<t>[0-9]+) open (?P<id>[0-9]+)$'\nline_key = 'open'\n\
         [[regex.rule]]\npattern = '^(?P<t>[0-9]+) close (?P<id>[0-9]+)$'\nline_key = 'close'\n\
         [mapping.state]\nmax_keys = 2\nexpire = '1s'\n\
         [[mapping.metric]]\nkey = 'open'\nname = 'opened'\naccumulate = 'count'\n\
         drop_labels = ['t', 'id']\nremember = { by = 'id', labels = { start = 't' } }\n\
         [[mapping.metric]]\nkey = 'close'\nname = 'open_seconds'\naccumulate = 'sum'\n\
         recall = { by = 'id', forget = true }\nvalue = 't - start'\ndrop_labels = ['id']\n",
    );
    let log = dir.write("app.log", "");
    let adapter = Adapter::start(&format!(
        "[parsers]\ndirs = [{}]\n[sources.log]\ntype = \"tail\"\nparser = \"sessions\"\n\
         path = {}\ninterval = \"100ms\"\n",
        toml_str(&dir.join("parsers").display().to_string()),
        toml_str(&log.display().to_string())
    ));
    wait_ready(&adapter);
    let dropped = |p: &str, reason: &str| {
        series(
            p,
            &format!("metrics_adapter_source_line_state_dropped_total{{source=\"log\",reason=\"{reason}\"}}"),
        )
    };
    // A third open session past max_keys = 2: the oldest (1) is forgotten.
    append(&log, "100 open 1\n101 open 2\n102 open 3\n103 close 3\n");
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        series(p, "open_seconds_total") == Some(1.0)
    });
    assert_eq!(dropped(&page, "max_keys"), Some(1.0), "{page}");
    assert_eq!(dropped(&page, "expired"), Some(0.0));
    append(&log, "110 close 1\n");
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        series(p, "metrics_adapter_source_unmatched_total{source=\"log\"}") == Some(1.0)
    });
    assert_eq!(series(&page, "open_seconds_total"), Some(1.0));
    // Session 2 was remembered over a second ago (expire = 1s): waiting that long is the
    // condition under test, not a synchronisation.
    std::thread::sleep(Duration::from_millis(1100));
    append(&log, "120 close 2\n");
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        dropped(p, "expired") == Some(1.0)
    });
    assert_eq!(dropped(&page, "max_keys"), Some(1.0));
    assert_eq!(series(&page, "open_seconds_total"), Some(1.0), "{page}");
    assert_eq!(series(&page, "opened_total"), Some(3.0));
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_unmatched_total{source=\"log\"}"
        ),
        Some(2.0)
    );
    promtool_check(&page, &[]);
}

#[test]
fn vsftpd_logs_count_exactly_what_vsftpd_did() {
    let big = vec![b'x'; 5000];
    let ftp = Vsftpd::start(&[("hello.txt", b"hello\n"), ("big.bin", &big)]);
    let adapter = Adapter::start(&format!(
        "[sources.log]\ntype = \"tail\"\nparser = \"vsftpd_log\"\npath = {}\n\
         interval = \"100ms\"\ntimeout = \"5s\"\n\
         [sources.xfer]\ntype = \"tail\"\nparser = \"vsftpd_xferlog\"\npath = {}\n\
         interval = \"100ms\"\ntimeout = \"5s\"\n",
        toml_str(&ftp.log.display().to_string()),
        toml_str(&ftp.xferlog.display().to_string())
    ));
    wait_ready(&adapter);
    for _ in 0..3 {
        assert!(ftp.curl("hello.txt", &[]));
    }
    for _ in 0..2 {
        assert!(ftp.curl("big.bin", &[]));
    }
    let up = ftp.dir.write("up.txt", "uploaded\n");
    for name in ["a.txt", "b.txt"] {
        assert!(ftp.curl(
            &format!("incoming/{name}"),
            &["-T", &up.display().to_string()]
        ));
    }
    // No such file: a session with a 550 and no transfer.
    assert!(!ftp.curl("missing.txt", &[]));
    // A session held open for 2 s: its time is at least that.
    ftp.session(Duration::from_secs(2));
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        series(p, "connects") == Some(9.0)
            && series(p, "commands{command=\"QUIT\"}") == Some(9.0)
            && series(p, "transfers{direction=\"outgoing\"}") == Some(5.0)
            && series(p, "transfers{direction=\"incoming\"}") == Some(2.0)
    });
    assert_eq!(series(&page, "logins"), Some(9.0), "{page}");
    assert_eq!(series(&page, "uploads"), Some(2.0));
    assert_eq!(series(&page, "commands{command=\"USER\"}"), Some(9.0));
    assert_eq!(series(&page, "commands{command=\"RETR\"}"), Some(5.0));
    assert_eq!(series(&page, "commands{command=\"STOR\"}"), Some(2.0));
    assert_eq!(series(&page, "responses{response=\"226\"}"), Some(7.0));
    assert_eq!(series(&page, "responses{response=\"221\"}"), Some(9.0));
    assert_eq!(series(&page, "responses{response=\"550\"}"), Some(1.0));
    // PWD is not a four-letter command: not counted, as mtail's program does not.
    assert!(!page.contains("command=\"PWD\""), "{page}");
    let session = series(&page, "session_time").unwrap();
    assert!((2.0..=12.0).contains(&session), "{session}\n{page}");
    assert_eq!(
        series(&page, "bytes_transferred{direction=\"outgoing\"}"),
        Some(3.0 * 6.0 + 2.0 * 5000.0)
    );
    assert_eq!(
        series(&page, "bytes_transferred{direction=\"incoming\"}"),
        Some(2.0 * 9.0)
    );
    assert!(series(&page, "transfer_time{direction=\"outgoing\"}").is_some());
    for source in ["log", "xfer"] {
        let at = format!("{{source=\"{source}\"}}");
        assert_eq!(
            series(
                &page,
                &format!("metrics_adapter_source_unmatched_total{at}")
            ),
            Some(0.0),
            "{page}"
        );
        assert_eq!(
            series(
                &page,
                &format!("metrics_adapter_source_parse_errors_total{at}")
            ),
            Some(0.0)
        );
    }
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_line_state_dropped_total{source=\"log\",reason=\"expired\"}"
        ),
        Some(0.0)
    );
    promtool_check(&page, &[]);
}

#[test]
fn lighttpd_access_counts_exactly_what_curl_exchanged() {
    let web = Lighttpd::start(&[("index.html", "hello\n"), ("healthz", "ok\n")]);
    let adapter = follow("lighttpd_access", &web.log);
    wait_ready(&adapter);
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(web.request("/index.html", &[]));
    }
    for _ in 0..2 {
        seen.push(web.request("/missing", &[]));
    }
    seen.push(web.request("/index.html", &["-X", "POST", "-d", "a=1&b=2"]));
    for _ in 0..2 {
        seen.push(web.request("/index.html", &["-H", "X-Forwarded-For: 10.0.0.9"]));
    }
    let want = |status: u16, part: fn(&Exchange) -> f64| -> f64 {
        seen.iter().filter(|e| e.status == status).map(part).sum()
    };
    // lighttpd writes its log about once a second, when a request comes: health checks
    // (which the recipe does not count) bring the rest out, bounded.
    let page = wait_page(&adapter, Duration::from_secs(15), |p| {
        web.request("/healthz", &[]);
        series(p, "request{status=\"200\"}") == Some(6.0)
            && series(p, "request{status=\"404\"}") == Some(2.0)
    });
    for status in [200, 404] {
        let at = |more: &str| format!("{{status=\"{status}\"{more}}}");
        assert_eq!(
            series(
                &page,
                &format!("bytes_out{}", at(",subtotal=\"resp_body\""))
            ),
            Some(want(status, |e| e.body_bytes)),
            "{page}"
        );
        assert_eq!(
            series(
                &page,
                &format!("bytes_out{}", at(",subtotal=\"resp_header\""))
            ),
            Some(want(status, |e| e.header_bytes)),
            "{page}"
        );
        assert_eq!(
            series(&page, &format!("bytes_in{}", at(""))),
            Some(want(status, |e| e.request_bytes)),
            "{page}"
        );
        assert!(series(&page, &format!("time_taken{}", at(""))).is_some());
    }
    assert_eq!(
        series(&page, "requests{proxy_cache=\"127.0.0.1\"}"),
        Some(2.0)
    );
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_unmatched_total{source=\"log\"}"
        ),
        Some(0.0),
        "{page}"
    );
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_parse_errors_total{source=\"log\"}"
        ),
        Some(0.0)
    );
    promtool_check(&page, &[]);
}

#[test]
fn rsyncd_log_counts_exactly_what_the_clients_moved() {
    let big = vec![b'z'; 3000];
    let rsyncd = Rsyncd::start(&[("a.txt", b"hello\n"), ("b.bin", &big)]);
    let adapter = follow("rsyncd_log", &rsyncd.log);
    wait_ready(&adapter);
    let got = rsyncd.dir.join("got");
    rsyncd.run(&["-a", "{url}files/", &format!("{}/", got.display())]);
    let up = rsyncd.dir.write("up.txt", "up\n");
    rsyncd.run(&[&up.display().to_string(), "{url}files/"]);
    // 3000 bytes at 1 KiB/s: a connection open for two seconds or more, by the log's clock.
    rsyncd.run(&[
        "--bwlimit=1",
        "{url}files/b.bin",
        &format!("{}/slow.bin", got.display()),
    ]);
    // The daemon writes a session's summary once its client is gone (its own count of the
    // bytes, protocol included, not the client's): wait for all three in the log.
    let summaries = wait_for("three session summaries", Duration::from_secs(10), || {
        let log = std::fs::read_to_string(&rsyncd.log).ok()?;
        let found: Vec<(f64, f64)> = log
            .lines()
            .filter_map(|l| l.split_once("] sent ").map(|(_, rest)| rest))
            .map(|rest| {
                let w: Vec<&str> = rest.split_whitespace().collect();
                (w[0].parse().unwrap(), w[3].parse().unwrap())
            })
            .collect();
        (found.len() == 3).then_some(found)
    });
    let sent: f64 = summaries.iter().map(|s| s.0).sum();
    let received: f64 = summaries.iter().map(|s| s.1).sum();
    assert!(sent > 2.0 * 3000.0, "{summaries:?}");
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        series(p, "bytes_total{operation=\"sent\"}") == Some(sent)
            && series(p, "bytes_total{operation=\"received\"}") == Some(received)
    });
    assert_eq!(series(&page, "connections_total"), Some(3.0), "{page}");
    assert_eq!(
        series(
            &page,
            "transfers_total{operation=\"send\",module=\"files\"}"
        ),
        Some(3.0)
    );
    assert_eq!(
        series(
            &page,
            "transfers_total{operation=\"recv\",module=\"files\"}"
        ),
        Some(1.0),
        "{page}"
    );
    let time = series(&page, "connection_time_total").unwrap();
    assert!((2.0..=10.0).contains(&time), "{time}\n{page}");
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_unmatched_total{source=\"log\"}"
        ),
        Some(0.0),
        "{page}"
    );
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_parse_errors_total{source=\"log\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_line_state_dropped_total{source=\"log\",reason=\"max_keys\"}"
        ),
        Some(0.0)
    );
    promtool_check(&page, &[]);
}

#[test]
fn sftp_log_counts_exactly_what_the_sessions_moved() {
    let sftpd = Sftpd::start(&[("hello.txt", "hello\n")]);
    let adapter = follow("sftp_log", &sftpd.log);
    wait_ready(&adapter);
    let up = sftpd.dir.write("up.bin", vec![b'u'; 1234]);
    let other = sftpd.dir.write("other.bin", vec![b'o'; 500]);
    let got = sftpd.dir.join("got");
    std::fs::create_dir_all(&got).unwrap();
    let (up, other, got) = (
        up.display().to_string(),
        other.display().to_string(),
        got.display().to_string(),
    );
    sftpd.session(&format!(
        "get /home/alice/hello.txt {got}/hello.txt\nput {up} /home/alice/up.bin\n"
    ));
    // A second session: read back what was written, and write outside /home.
    sftpd.session(&format!(
        "get /home/alice/up.bin {got}/up.bin\nput {other} /run/other.bin\nls /home/alice\n"
    ));
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let user = user.trim();
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        series(p, &format!("logout_count{{username=\"{user}\"}}")) == Some(2.0)
    });
    assert_eq!(
        series(&page, &format!("login_count{{username=\"{user}\"}}")),
        Some(2.0),
        "{page}"
    );
    assert_eq!(series(&page, "files_read"), Some(2.0), "{page}");
    assert_eq!(series(&page, "bytes_read"), Some(6.0 + 1234.0));
    assert_eq!(series(&page, "files_written"), Some(2.0));
    assert_eq!(series(&page, "bytes_written"), Some(1234.0 + 500.0));
    assert_eq!(
        series(&page, "user_files_read{username=\"alice\"}"),
        Some(2.0)
    );
    assert_eq!(
        series(&page, "user_bytes_read{username=\"alice\"}"),
        Some(6.0 + 1234.0)
    );
    assert_eq!(
        series(&page, "user_files_written{username=\"alice\"}"),
        Some(1.0)
    );
    assert_eq!(
        series(&page, "user_bytes_written{username=\"alice\"}"),
        Some(1234.0)
    );
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_unmatched_total{source=\"log\"}"
        ),
        Some(0.0),
        "{page}"
    );
    assert_eq!(
        series(
            &page,
            "metrics_adapter_source_parse_errors_total{source=\"log\"}"
        ),
        Some(0.0)
    );
    promtool_check(&page, &[]);
}
