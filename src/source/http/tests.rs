use super::*;

fn url_error(url: &str) -> Option<String> {
    let c = Config {
        url: Some(url.into()),
        ..Config::default()
    };
    HttpSource::from_config(c).err().map(|e| {
        assert_eq!(e.key(), "url");
        e.to_string()
    })
}

#[test]
fn the_target_is_worked_out_once_from_the_url() {
    for (url, describe, host_header, socket, path) in [
        (
            "http://127.0.0.1/x?auto",
            "http://127.0.0.1/x?auto",
            "127.0.0.1",
            ("127.0.0.1", 80),
            "/x?auto",
        ),
        (
            "http://localhost:8080",
            "http://localhost:8080/",
            "localhost:8080",
            ("localhost", 8080),
            "/",
        ),
        (
            "http://[::1]:81/s",
            "http://[::1]:81/s",
            "[::1]:81",
            ("::1", 81),
            "/s",
        ),
        (
            "http://[::1]/s",
            "http://[::1]/s",
            "[::1]",
            ("::1", 80),
            "/s",
        ),
    ] {
        let c = Config {
            url: Some(url.into()),
            ..Config::default()
        };
        let s = HttpSource::from_config(c).unwrap();
        assert_eq!(s.describe(), describe, "{url}");
        assert_eq!(s.target.authority(), host_header, "{url}");
        assert_eq!(s.target.socket(), socket, "{url}");
        let req = s.request(None, &bytes::Bytes::new()).unwrap();
        assert_eq!(req.uri().to_string(), path, "{url}");
        assert_eq!(req.headers()[hyper::header::HOST], host_header, "{url}");
    }
}

/// Ports `Uri` takes but the connect would turn into 80, and passwords that hide their
/// `@` behind a `/` or `?`: refused, the password never echoed.
#[test]
fn urls_that_cannot_run_as_written_are_refused() {
    for (url, want) in [
        ("http://127.0.0.1:99999/x", "out of range"),
        ("http://127.0.0.1:80a/x", "is not a number"),
        ("http://127.0.0.1:/x", "has no port"),
        ("http://u:pa/Zq9@127.0.0.1/x", "credentials"),
        ("http://u:p?Zq9@127.0.0.1/x", "credentials"),
        ("http://u:Zq9@127.0.0.1/x", "credentials"),
    ] {
        let err = url_error(url).unwrap_or_else(|| panic!("{url} accepted"));
        assert!(err.contains(want), "{url}: {err}");
        assert!(!err.contains("Zq9"), "{err}");
    }
    for ok in [
        "http://127.0.0.1/x",
        "http://127.0.0.1:8080/x?auto",
        "http://[::1]/x",
        "http://[::1]:8080/x",
        "http://localhost:80/",
    ] {
        assert_eq!(url_error(ok), None, "{ok}");
    }
}

#[test]
fn a_socket_replaces_the_connect_not_the_host_header() {
    let c = Config {
        url: Some("http://app.local/status?auto".into()),
        socket: Some("unix:/run/app.sock".into()),
        ..Config::default()
    };
    let s = HttpSource::from_config(c).unwrap();
    assert_eq!(
        s.socket.as_deref(),
        Some(std::path::Path::new("/run/app.sock"))
    );
    assert_eq!(
        s.describe(),
        "http://app.local/status?auto via unix:/run/app.sock"
    );
    let req = s.request(None, &bytes::Bytes::new()).unwrap();
    assert_eq!(req.headers()[hyper::header::HOST], "app.local");
    assert_eq!(req.uri().to_string(), "/status?auto");
    let resolved = s.resolved();
    assert!(
        resolved.contains(&("socket", "\"/run/app.sock\"".into())),
        "{resolved:?}"
    );
    let c = Config {
        url: Some("http://localhost/".into()),
        socket: Some(String::new()),
        ..Config::default()
    };
    assert_eq!(HttpSource::from_config(c).unwrap_err().key(), "socket");
}

#[test]
fn https_defaults_to_port_443_and_a_body_makes_a_post() {
    let c = Config {
        url: Some("https://127.0.0.1/x".into()),
        tls: Some(tls::Config {
            insecure_skip_verify: Some(true),
            ..tls::Config::default()
        }),
        body: Some("{}".into()),
        ..Config::default()
    };
    let s = HttpSource::from_config(c).unwrap();
    assert_eq!(s.target.socket(), ("127.0.0.1", 443));
    assert_eq!(s.describe(), "https://127.0.0.1/x");
    let req = s.request(None, &bytes::Bytes::from_static(b"{}")).unwrap();
    assert_eq!(req.method(), hyper::Method::POST);
    let resolved = s.resolved();
    assert!(
        resolved.contains(&("body", "(2 bytes, not shown)".into())),
        "{resolved:?}"
    );
    assert!(
        resolved.contains(&("tls.insecure_skip_verify", "true".into())),
        "{resolved:?}"
    );
    let c = Config {
        url: Some("https://127.0.0.1/x".into()),
        ..Config::default()
    };
    assert_eq!(HttpSource::from_config(c).unwrap_err().key(), "tls.ca_file");
}
