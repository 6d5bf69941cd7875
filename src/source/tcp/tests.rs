use super::*;

use std::path::Path;

use tokio::io::AsyncReadExt;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/replies")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What `source` reads from a server that answers with `recorded` (its replies, as a real
/// server sent them), and what it sent.
fn converse(
    source: &TcpSource,
    recorded: &[u8],
    secret: Option<&str>,
) -> (Result<String, String>, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        use tokio::io::AsyncWriteExt;
        server.write_all(recorded).await.unwrap();
        // The recording ends where the server closed (or would wait forever).
        server.shutdown().await.unwrap();
        let replies = Replies::new(client, 100_000, "tcp t".into());
        let got = source.converse(replies, secret.map(str::to_string)).await;
        let mut sent = Vec::new();
        server.read_to_end(&mut sent).await.unwrap();
        let got = got
            .map(|b| String::from_utf8(b).unwrap())
            .map_err(|e| e.to_string());
        (got, String::from_utf8_lossy(&sent).into_owned())
    })
}

/// A source of `pairs` read by built-in recipe `recipe`.
fn read_by(recipe: &str, pairs: &[(&str, &str)]) -> TcpSource {
    let registry = crate::recipe::Registry::builtin().unwrap();
    let mut s = TcpSource::from_config(config(pairs)).unwrap();
    s.read_by(registry.get(recipe).unwrap().parser.as_ref());
    s
}

/// The recorded replies of redis 7.0 to redis_info's four requests become INFO's text and
/// one section per later reply: exactly the golden input of the recipe's golden test.
#[test]
fn redis_replies_become_sections() {
    let s = read_by("redis_info", &[("address", "a:1")]);
    let (got, sent) = converse(&s, &fixture("redis-7.0-requests.resp"), None);
    assert_eq!(
        sent,
        "INFO all\r\nSLOWLOG LEN\r\nSLOWLOG GET 1\r\nCONFIG GET io-threads\r\n"
    );
    let got = got.unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/recipes/redis_info/redis-7.0-requests.input");
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&golden, &got).unwrap();
    }
    assert_eq!(got, std::fs::read_to_string(&golden).unwrap());
    assert!(
        got.starts_with("# Server\r\nredis_version:7.0.15\r\n"),
        "{got}"
    );
    assert!(
        got.ends_with("# slowlog_length\nvalue:4\n# slowlog_last\n0.0:4\n0.1:1796641045\n0.2:7\n0.3.0:GET\n0.3.1:a\n0.4:127.0.0.1:49504\n0.5:\n# config\nio-threads:1\n"),
        "{got}"
    );
}

#[test]
fn memcached_replies_become_sections() {
    let s = read_by("memcached_stats", &[("address", "a:1")]);
    let recorded = fixture("memcached-1.6-requests.txt");
    let (got, sent) = converse(&s, &recorded, None);
    assert_eq!(sent, "stats\r\nstats slabs\r\nstats items\r\n");
    let got = got.unwrap();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/recipes/memcached_stats/memcached-1.6-requests.input");
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&golden, &got).unwrap();
    }
    assert_eq!(got, std::fs::read_to_string(&golden).unwrap());
    // The replies as sent, each after its section line.
    let replies: Vec<&str> = String::from_utf8(recorded.clone())
        .unwrap()
        .split_inclusive("END\r\n")
        .map(str::to_string)
        .collect::<Vec<_>>()
        .leak()
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(replies.len(), 3);
    assert_eq!(
        got,
        format!(
            "{}# slabs\n{}# items\n{}",
            replies[0], replies[1], replies[2]
        )
    );
}

/// A source's own `send` replaces the recipe's requests, and its framing theirs.
#[test]
fn a_sources_own_send_and_framing_win() {
    let s = read_by(
        "redis_info",
        &[
            ("address", "a:1"),
            ("send", "INFO\r\n"),
            ("framing", "resp"),
        ],
    );
    let (got, sent) = converse(&s, b"$8\r\na:1\r\nb:2\r\n", None);
    assert_eq!(
        (got.unwrap().as_str(), sent.as_str()),
        ("a:1\r\nb:2\n", "INFO\r\n")
    );
    let s = read_by(
        "memcached_stats",
        &[("address", "a:1"), ("until", "DONE\r\n")],
    );
    assert!(s
        .requests()
        .iter()
        .all(|r| r.framing == Framing::Until(b"DONE\r\n".to_vec())));
    assert_eq!(s.requests().len(), 3);
}

#[test]
fn auth_is_sent_first_and_its_ok_passed_over() {
    let s = read_by(
        "redis_info",
        &[
            ("address", "a:1"),
            ("auth", "{secret}"),
            ("secret_env", "PW"),
        ],
    );
    let mut recorded = b"+OK\r\n".to_vec();
    recorded.extend(fixture("redis-7.0-requests.resp"));
    let (got, sent) = converse(&s, &recorded, Some("s3cret pw"));
    assert!(got.unwrap().contains("# slowlog_length\nvalue:4\n"));
    // One RESP command: the space in the password cannot split it.
    assert!(
        sent.starts_with("*2\r\n$4\r\nAUTH\r\n$9\r\ns3cret pw\r\nINFO all\r\n"),
        "{sent}"
    );
    let s = read_by(
        "redis_info",
        &[
            ("address", "a:1"),
            ("auth", "app {secret}"),
            ("secret_env", "PW"),
        ],
    );
    let (_, sent) = converse(&s, b"+OK\r\n", Some("pw"));
    assert!(
        sent.starts_with("*3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$2\r\npw\r\n"),
        "{sent}"
    );
}

/// A refused password, or none given to a server that wants one: the read fails with the
/// server's words, and nothing after the AUTH is sent.
#[test]
fn a_refused_auth_is_the_sources_error() {
    let s = read_by(
        "redis_info",
        &[
            ("address", "a:1"),
            ("auth", "{secret}"),
            ("secret_env", "PW"),
        ],
    );
    let (got, sent) = converse(&s, &fixture("redis-7.0-wrongpass.resp"), Some("wrong"));
    assert_eq!(
        got.unwrap_err(),
        "tcp t: AUTH refused: server replied -WRONGPASS invalid username-password pair or user is disabled."
    );
    assert!(!sent.contains("INFO"), "{sent}");
    let s = read_by("redis_info", &[("address", "a:1")]);
    let (got, _) = converse(&s, &fixture("redis-7.0-noauth.resp"), None);
    assert_eq!(
        got.unwrap_err(),
        "tcp t: server replied -NOAUTH Authentication required."
    );
}

/// An optional request the server refuses leaves its section out; the others are read.
#[test]
fn an_optional_request_refused_is_left_out() {
    let s = read_by("redis_info", &[("address", "a:1")]);
    let recorded = b"$5\r\na:1\r\n\r\n:2\r\n*0\r\n-ERR unknown command 'CONFIG'\r\n";
    let (got, _) = converse(&s, recorded, None);
    assert_eq!(
        got.unwrap(),
        "a:1\r\n# slowlog_length\nvalue:2\n# slowlog_last\n"
    );
}

#[test]
fn replies_are_bounded_and_must_be_whole() {
    let s = read_by("redis_info", &[("address", "a:1")]);
    let (got, _) = converse(&s, b"$5\r\nab", None);
    assert_eq!(
        got.unwrap_err(),
        "tcp t: connection closed mid-reply (6 bytes read)"
    );
    let (got, _) = converse(&s, b"", None);
    assert_eq!(got.unwrap_err(), "tcp t: connection closed before a reply");
    let (got, _) = converse(&s, b":x\r\n", None);
    assert_eq!(got.unwrap_err(), "tcp t: expected a RESP reply, got \":x\"");
    let big = format!("${}\r\n{}\r\n", 200_000, "x".repeat(200_000));
    let (got, _) = converse(&s, big.as_bytes(), None);
    assert_eq!(got.unwrap_err(), "more than 100000 bytes (max_bytes)");
    let s = read_by("memcached_stats", &[("address", "a:1")]);
    let (got, _) = converse(&s, b"STAT pid 1\r\n", None);
    assert_eq!(
        got.unwrap_err(),
        "tcp t: connection closed before the terminator (12 bytes read)"
    );
}

fn config(pairs: &[(&str, &str)]) -> Config {
    let mut c = Config::default();
    for (k, v) in pairs {
        let v = Some(v.to_string());
        match *k {
            "address" => c.address = v,
            "send" => c.send = v,
            "secret_file" => c.secret_file = v,
            "secret_env" => c.secret_env = v,
            "framing" => c.framing = v,
            "until" => c.until = v,
            "auth" => c.auth = v,
            _ => panic!("{k}"),
        }
    }
    c
}

#[test]
fn unix_addresses_and_secrets_are_checked_at_load() {
    let ok = TcpSource::from_config(config(&[("address", "unix:/run/haproxy.sock")]));
    assert_eq!(ok.unwrap().address, "unix:/run/haproxy.sock");
    let e = TcpSource::from_config(config(&[("address", "unix:")])).unwrap_err();
    assert_eq!(
        (e.key(), e.to_string().as_str()),
        (
            "address",
            "\"unix:\" needs the socket's path, as in unix:/run/redis/redis.sock"
        )
    );
    let e = TcpSource::from_config(config(&[("address", "a:1"), ("send", "AUTH {secret}\r\n")]))
        .unwrap_err();
    assert_eq!(e.key(), "secret_file");
    let e = TcpSource::from_config(config(&[
        ("address", "a:1"),
        ("send", "INFO\r\n"),
        ("secret_env", "PW"),
    ]))
    .unwrap_err();
    assert_eq!(e.key(), "auth");
    let e = TcpSource::from_config(config(&[("address", "a:1"), ("auth", "hunter2")])).unwrap_err();
    assert_eq!(e.key(), "auth");
    let e =
        TcpSource::from_config(config(&[("address", "a:1"), ("auth", "{secret}")])).unwrap_err();
    assert_eq!(
        (e.key(), e.to_string().as_str()),
        (
            "secret_file",
            "missing: `auth` holds {secret}: give secret_file or secret_env"
        )
    );
    let e = TcpSource::from_config(config(&[
        ("address", "a:1"),
        ("send", "AUTH {secret}\r\n"),
        ("secret_env", "PW"),
        ("secret_file", "/pw"),
    ]))
    .unwrap_err();
    assert_eq!(e.key(), "secret_file");
}

#[test]
fn the_secret_is_filled_at_each_read_and_shown_nowhere() {
    let dir = std::env::temp_dir().join(format!("ma-tcp-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pw");
    std::fs::write(&file, "Zq9-first\n").unwrap();
    let s = TcpSource::from_config(config(&[
        ("address", "a:1"),
        ("send", "AUTH {secret}\r\nINFO all\r\n"),
        ("secret_file", file.to_str().unwrap()),
        ("framing", "resp"),
    ]))
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let read = |s: &TcpSource| {
        let value = rt.block_on(s.secret_value()).unwrap().unwrap();
        converse(s, b"+OK\r\n$3\r\nabc\r\n", Some(&value))
    };
    let (got, sent) = read(&s);
    assert_eq!(
        (got.unwrap().as_str(), sent.as_str()),
        ("abc\n", "AUTH Zq9-first\r\nINFO all\r\n")
    );
    // Rotated: the next read sends the new one.
    std::fs::write(&file, "Zq9-second").unwrap();
    assert_eq!(read(&s).1, "AUTH Zq9-second\r\nINFO all\r\n");
    // A line break would split the command: refused, and not echoed.
    std::fs::write(&file, "Zq9\r\nFLUSHALL").unwrap();
    let (got, sent) = read(&s);
    let e = got.unwrap_err();
    assert!(e.contains("control character") && !e.contains("Zq9"), "{e}");
    assert_eq!(sent, "");
    let shown = format!("{:?} {s:?}", s.resolved());
    assert!(!shown.contains("Zq9"), "{shown}");
    assert!(shown.contains("AUTH {secret}"), "{shown}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `check` lists what a read sends, the AUTH first, with `{secret}` for the secret.
#[test]
fn check_shows_every_request_with_the_secret_masked() {
    let s = read_by(
        "redis_info",
        &[
            ("address", "a:1"),
            ("auth", "{secret}"),
            ("secret_env", "PW"),
        ],
    );
    let shown: Vec<String> = s
        .resolved()
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    assert_eq!(
        shown,
        [
            "address = \"a:1\"",
            "send = \"AUTH {secret}\\r\\n\" then \"INFO all\\r\\n\" then \"SLOWLOG LEN\\r\\n\" then \"SLOWLOG GET 1\\r\\n\" then \"CONFIG GET io-threads\\r\\n\" (from recipe redis_info)",
            "framing = \"resp\" (from recipe redis_info)",
            "until = (unset)",
            "auth = \"{secret}\"",
            "secret_file = (unset)",
            "secret_env = \"PW\"",
        ]
    );
}
