use super::*;
use crate::recipe::{Parser, Registry};

fn nginx() -> LogFormat {
    let options: Options = toml::from_str(
        "syntax = 'nginx'\n[variables]\nstatus = '(?P<status>[0-9]{3})'\n\
         request_time = '(?P<request_time>[0-9.]+)'\n",
    )
    .unwrap();
    LogFormat::new(options).unwrap()
}

#[test]
fn known_variables_take_their_pattern_and_others_are_skipped_to_the_next_text() {
    let pattern = nginx()
        .compile(r#"$remote_addr [$time_local] "$request" $status ${request_time}s"#)
        .unwrap();
    assert_eq!(
        pattern,
        r#"^[^ ]* \[[^\]]*\] "[^"]*" (?:(?P<status>[0-9]{3})) (?:(?P<request_time>[0-9.]+))s$"#
    );
    // Written twice: the second is skipped (its captures are the first's); last: to the end.
    let twice = nginx().compile("$status $status $x").unwrap();
    assert_eq!(twice, "^(?:(?P<status>[0-9]{3})) [^ ]* .*$");
    regex::Regex::new(&twice).unwrap();
}

#[test]
fn apache_directives_with_modifiers_arguments_and_percent() {
    let options: Options =
        toml::from_str("syntax = 'apache'\n[variables]\ns = '(?P<status>[0-9]{3})'\n").unwrap();
    let apache = LogFormat::new(options).unwrap();
    let pattern = apache
        .compile(r#"%h "%{Referer}i" %>s 100%% %400,501s"#)
        .unwrap();
    assert_eq!(
        pattern,
        r#"^(?:[^ \\]|\\.)* "(?:[^"\\]|\\.)*" (?:(?P<status>[0-9]{3})) 100% .*$"#
    );
}

#[test]
fn a_format_that_cannot_be_compiled_names_the_variable() {
    let cases = [
        (
            "$remote_addr$status",
            "$remote_addr is followed directly by $status",
        ),
        ("$ x", "$: a variable without a name"),
        ("${status x", "${status: no closing `}`"),
        ("just text", "the format names no variable"),
    ];
    for (format, want) in cases {
        let got = nginx().compile(format).unwrap_err().to_string();
        assert!(got.starts_with(want), "{format}: {got}");
    }
    let apache = LogFormat::new(Options {
        syntax: "apache".into(),
        variables: BTreeMap::new(),
    })
    .unwrap();
    assert_eq!(
        apache.compile("%h %{Referer i").unwrap_err().to_string(),
        "%{Referer i: no closing `}`"
    );
    assert!(apache
        .compile("%h %")
        .unwrap_err()
        .to_string()
        .starts_with("%: not an Apache LogFormat directive"));
    let bad = Options {
        syntax: "lighttpd".into(),
        variables: BTreeMap::new(),
    };
    let err = LogFormat::new(bad).unwrap_err();
    assert_eq!(err.key_path(), "log_format.syntax");
    assert_eq!(
        err.to_string(),
        "log_format.syntax: \"lighttpd\"; expected \"nginx\" or \"apache\""
    );
}

/// The built-in recipes read a custom format with their own mapping: same names and labels.
#[test]
fn nginx_access_with_a_custom_format_counts_with_its_own_mapping() {
    let registry = Registry::builtin().unwrap();
    let nginx = registry
        .get("nginx_access")
        .unwrap()
        .parser
        .line_recipe()
        .unwrap();
    let custom = nginx
        .with_log_format(
            r#"$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time"#,
        )
        .unwrap();
    let input = "10.0.0.1 [07/Dec/2026:10:00:00 +0000] \"GET /a HTTP/1.1\" 200 12 0.004\n\
         10.0.0.1 [07/Dec/2026:10:00:01 +0000] \"GET /b HTTP/1.1\" 200 30 0.300\n\
         not a line\n";
    let parsed = custom.parse(input.as_bytes()).unwrap();
    assert_eq!((parsed.unmatched.count, parsed.issues.len()), (1, 0));
    let (page, _) = crate::recipe::preview::render(parsed, crate::exposition::WireFormat::Text);
    assert!(
        page.contains("nginx_http_response_count_total{method=\"GET\",status=\"200\"} 2"),
        "{page}"
    );
    assert!(
        page.contains("nginx_http_response_size_bytes{method=\"GET\",status=\"200\"} 42"),
        "{page}"
    );
    assert!(
        page.contains("nginx_http_response_time_seconds_sum{method=\"GET\",status=\"200\"} 0.304"),
        "{page}"
    );
    assert_ne!(custom.fingerprint(), nginx.fingerprint());
    let no = registry
        .get("apache_access")
        .unwrap()
        .parser
        .line_recipe()
        .unwrap();
    assert!(no.with_log_format("%h %>s %b %D").is_ok());
}

/// The patterns compiled from usual formats are one-pass, as the built-in line patterns are
/// (`builtin_line_patterns_are_one_pass`): a custom format costs no more per line.
#[test]
fn compiled_formats_are_one_pass() {
    let cases = [
        (
            "nginx_access",
            r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for" $request_time $upstream_response_time"#,
        ),
        (
            "nginx_access",
            r#"$remote_addr [$time_local] "$request" $status $body_bytes_sent $request_time"#,
        ),
        ("apache_access", r#"%h %l %u %t "%r" %>s %b %D"#),
        (
            "apache_access",
            r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D"#,
        ),
    ];
    for (recipe, format) in cases {
        let path = format!("{}/parsers/{recipe}.toml", env!("CARGO_MANIFEST_DIR"));
        let file: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
        let options: Options = file["log_format"].clone().try_into().unwrap();
        let pattern = LogFormat::new(options).unwrap().compile(format).unwrap();
        if let Err(e) = regex_automata::dfa::onepass::DFA::new(&pattern) {
            panic!("{recipe}: {format}: not one-pass ({e}): {pattern}");
        }
    }
}

/// A format without the request line: no method label, the rest as usual.
#[test]
fn a_format_without_a_request_has_no_method() {
    let registry = Registry::builtin().unwrap();
    let nginx = registry
        .get("nginx_access")
        .unwrap()
        .parser
        .line_recipe()
        .unwrap();
    let custom = nginx
        .with_log_format("$remote_addr $status $body_bytes_sent")
        .unwrap();
    let parsed = custom.parse(b"10.0.0.1 200 5\n10.0.0.1 200 7\n").unwrap();
    let (page, _) = crate::recipe::preview::render(parsed, crate::exposition::WireFormat::Text);
    assert!(
        page.contains("nginx_http_response_count_total{status=\"200\"} 2"),
        "{page}"
    );
    assert!(
        page.contains("nginx_http_response_size_bytes{status=\"200\"} 12"),
        "{page}"
    );
}
