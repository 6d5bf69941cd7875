//! `http` sources that POST a query (`method`, `body`, `body_file`) to a real server: PHP's
//! built-in web server running a small stats API that answers only a POSTed JSON query,
//! with numbers worked out from the query, so each number on the page proves which body
//! reached it.

use std::process::Command;
use std::time::Duration;

use crate::harness::*;

const PHP: &str = "/usr/bin/php";

/// Answers `POST` with `{"pool": NAME}`: kv lines whose numbers depend on the query and on
/// the body's Content-Type; 405 to anything else, 400 to a body that is not the query.
const STATS_API: &str = r#"<?php
if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    http_response_code(405);
    echo "POST a query\n";
    return;
}
$query = json_decode(file_get_contents('php://input'), true);
if (!is_array($query) || !isset($query['pool'])) {
    http_response_code(400);
    echo "bad query\n";
    return;
}
header('Content-Type: text/plain');
echo "pool_name_length: " . strlen($query['pool']) . "\n";
echo "json_content_type: " . (($_SERVER['CONTENT_TYPE'] ?? '') === 'application/json' ? 1 : 0) . "\n";
echo "body_bytes: " . strlen(file_get_contents('php://input')) . "\n";
"#;

struct PhpServer {
    _proc: Proc,
    port: u16,
    dir: TempDir,
}

impl PhpServer {
    fn start() -> PhpServer {
        require_binary(PHP);
        let dir = TempDir::new("php-api");
        let script = dir.write("stats.php", STATS_API);
        let port = free_port();
        let mut cmd = Command::new(PHP);
        cmd.arg("-S").arg(format!("127.0.0.1:{port}")).arg(&script);
        let mut proc_ = Proc::spawn("php", cmd, dir.join("php.out"));
        proc_.wait_ready(START_TIMEOUT, || {
            try_http_request(port, "GET", "/stats", &[]).is_ok_and(|r| r.status == 405)
        });
        PhpServer {
            _proc: proc_,
            port,
            dir,
        }
    }
}

fn source(name: &str, port: u16, keys: &str) -> String {
    format!(
        "[sources.{name}]\ntype = \"http\"\nparser = \"kv\"\n\
         url = \"http://127.0.0.1:{port}/stats\"\nlabels = {{ query = \"{name}\" }}\n{keys}\n"
    )
}

#[test]
fn a_posted_query_reaches_the_app_and_its_answer_is_served() {
    let php = PhpServer::start();
    let body_file = php.dir.write("query.json", r#"{"pool": "www"}"#);
    let config = [
        source(
            "inline",
            php.port,
            "body = '{\"pool\": \"checkout\"}'\nheaders = { \"Content-Type\" = \"application/json\" }",
        ),
        source(
            "from_file",
            php.port,
            &format!("method = \"post\"\nbody_file = {}", toml_str(&body_file.display().to_string())),
        ),
        // A GET to an API that wants a query: down, saying what the server answered.
        source("plain_get", php.port, ""),
        // A body file that is not there: down, naming it; the others are untouched.
        source("no_file", php.port, "body_file = \"/nonexistent/query.json\""),
    ]
    .concat();
    let adapter = Adapter::start(&config);
    let s = adapter.samples();
    let v = |name: &str, q: &str| value(&s, name, &[("query", q)]);
    assert_eq!(source_up(&s, "inline"), 1.0, "{}", adapter.metrics());
    assert_eq!(v("pool_name_length", "inline"), 8.0);
    assert_eq!(v("json_content_type", "inline"), 1.0);
    assert_eq!(v("body_bytes", "inline"), 20.0);
    assert_eq!(source_up(&s, "from_file"), 1.0);
    assert_eq!(v("pool_name_length", "from_file"), 3.0);
    assert_eq!(v("json_content_type", "from_file"), 0.0);
    assert_eq!(source_up(&s, "plain_get"), 0.0);
    assert_eq!(source_up(&s, "no_file"), 0.0);
    let status = adapter.get("/").text();
    assert!(status.contains("server answered status 405"), "{status}");
    assert!(
        status.contains("body_file /nonexistent/query.json: No such file or directory"),
        "{status}"
    );
    // body_file is read at each fetch: a new query applies without a reload.
    std::fs::write(&body_file, r#"{"pool": "background"}"#).unwrap();
    wait_until("the new query's answer", Duration::from_secs(10), || {
        value(
            &adapter.samples(),
            "pool_name_length",
            &[("query", "from_file")],
        ) == 10.0
    });
}

#[test]
fn post_config_errors_name_the_key() {
    let dir = TempDir::new("post-config");
    let check = |keys: &str| {
        let path = dir.write(
            "adapter.toml",
            format!("[sources.s]\ntype = \"http\"\nparser = \"kv\"\nurl = \"http://127.0.0.1:1/x\"\n{keys}\n"),
        );
        let out = run_cli(
            &["--config", &path.display().to_string(), "check"],
            Duration::from_secs(20),
        );
        assert!(!out.success(), "{out}");
        out.stderr
    };
    let e = check("method = \"GET\"\nbody = \"x\"");
    assert!(
        e.contains("adapter.toml: sources.s.method: GET sends no body"),
        "{e}"
    );
    let e = check("body = \"x\"\nbody_file = \"/q\"");
    assert!(
        e.contains("sources.s.body_file: give body or body_file, not both"),
        "{e}"
    );
    let e = check("method = \"DELETE\"");
    assert!(
        e.contains("sources.s.method: \"DELETE\": one of GET, POST, PUT, PATCH"),
        "{e}"
    );
}
