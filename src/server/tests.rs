use super::*;

#[test]
fn times_are_written_in_utc_with_their_age() {
    let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
    assert_eq!(when(at(0), at(42)), "1970-01-01 00:00:00 UTC (42 s ago)");
    // A leap day, and the last second of a year.
    assert_eq!(
        when(at(1_709_210_096), at(1_709_210_096)),
        "2024-02-29 12:34:56 UTC (0 s ago)"
    );
    assert_eq!(
        when(at(1_767_225_599), at(1_767_225_600)),
        "2025-12-31 23:59:59 UTC (1 s ago)"
    );
    // A clock that went back shows no negative age.
    assert_eq!(when(at(60), at(0)), "1970-01-01 00:01:00 UTC (0 s ago)");
}

mod page_body {
    use std::io::Read;

    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use hyper::header::CONTENT_ENCODING;

    use super::super::page::{page_response, PageBody};
    use super::*;
    use crate::config::{Overrides, RawConfig, Settings};
    use crate::recipe::Registry;
    use crate::scrape::Scraper;

    fn scraper() -> Scraper {
        let dir = std::env::temp_dir().join(format!("ma-server-page-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kv = dir.join("app.txt");
        std::fs::write(&kv, "hits: 5\nratio: +Inf\nname_len: 3\n").unwrap();
        let stub = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/recipes/nginx_stub_status/nginx-1.22.input"
        );
        let raw: RawConfig = toml::from_str(&format!(
            "[sources.web]\ntype='file'\npath='{stub}'\nparser='nginx_stub_status'\n\
             [sources.app]\ntype='file'\npath='{}'\nparser='kv'\n",
            kv.display()
        ))
        .unwrap();
        let settings =
            Settings::from_raw(crate::config::Origin::Embedded, raw, &Overrides::default())
                .unwrap();
        Scraper::new(&settings, &Registry::builtin().unwrap()).unwrap()
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    async fn frames(r: Response<PageBody>) -> Vec<Bytes> {
        let mut body = r.into_body();
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            out.push(frame.unwrap().into_data().unwrap());
        }
        out
    }

    /// The body is the page the server built before it sent frames (the sources' part
    /// and the adapter's own part joined into one buffer), plain and gzipped, in both
    /// formats; the sources' part is sent as it is kept, not copied.
    #[tokio::test]
    async fn the_page_in_frames_is_the_joined_page() {
        let s = scraper();
        for format in [WireFormat::Text, WireFormat::OpenMetrics] {
            let (data, own) = s.scrape_page(None, format).await;
            let own = exposition::encode_own(&own, format);
            // What the server sent before: one buffer, the two parts joined.
            let mut joined = String::with_capacity(data.len() + own.len());
            joined.push_str(std::str::from_utf8(&data).unwrap());
            joined.push_str(&own);

            let r = page_response(format, data.clone(), own.clone(), false).await;
            assert_eq!(r.headers()[CONTENT_TYPE], format.content_type());
            assert_eq!(r.headers()[VARY], "Accept, Accept-Encoding");
            assert!(r.headers().get(CONTENT_ENCODING).is_none());
            assert_eq!(
                r.headers()[hyper::header::CONTENT_LENGTH],
                joined.len().to_string().as_str()
            );
            let sent = frames(r).await;
            assert_eq!(sent.len(), 2);
            assert_eq!(
                sent[0].as_ptr(),
                data.as_ptr(),
                "the sources' part was copied"
            );
            assert_eq!(sent.concat(), joined.as_bytes());
            if format == WireFormat::OpenMetrics {
                assert!(joined.ends_with("# EOF\n"));
                assert_eq!(joined.matches("# EOF").count(), 1);
            }

            let r = page_response(format, data, own, true).await;
            assert_eq!(r.headers()[CONTENT_ENCODING], "gzip");
            assert_eq!(r.headers()[CONTENT_TYPE], format.content_type());
            let gz = frames(r).await.concat();
            assert_eq!(gunzip(&gz), joined.as_bytes());
        }
    }

    /// Every other endpoint's response is one frame.
    #[tokio::test]
    async fn other_responses_are_one_frame() {
        let sent = frames(text(StatusCode::OK, "ok\n")).await;
        assert_eq!(sent, vec![Bytes::from_static(b"ok\n")]);
    }

    async fn exchange(addr: std::net::SocketAddr, request: &str) -> (String, Vec<u8>) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(raw[..split].to_vec()).unwrap();
        (head.to_ascii_lowercase(), raw[split + 4..].to_vec())
    }

    fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
        head.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    }

    /// Over HTTP: an ordinary response (`Content-Length`, no chunks) whose body is the
    /// sources' part the scraper keeps, then the adapter's own series, a valid page in
    /// both formats, plain and gzipped; HEAD sends the same headers and no body.
    #[tokio::test]
    async fn metrics_over_http_is_one_ordinary_page() {
        let s = scraper();
        let app = Arc::new(App::new(
            Loaded {
                settings: Settings::from_raw(
                    crate::config::Origin::Embedded,
                    toml::from_str("").unwrap(),
                    &Overrides::default(),
                )
                .unwrap(),
                scraper: s,
            },
            None,
        ));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, app.clone(), std::future::pending()));
        for (format, accept) in [
            (WireFormat::Text, "text/plain"),
            (WireFormat::OpenMetrics, "application/openmetrics-text"),
        ] {
            for gzip in [false, true] {
                let encoding = if gzip {
                    "Accept-Encoding: gzip\r\n"
                } else {
                    ""
                };
                let (head, body) = exchange(
                    addr,
                    &format!(
                        "GET /metrics HTTP/1.1\r\nHost: t\r\nAccept: {accept}\r\n{encoding}\
                         Connection: close\r\n\r\n"
                    ),
                )
                .await;
                assert!(head.starts_with("http/1.1 200"), "{head}");
                assert_eq!(
                    header(&head, "content-length"),
                    Some(body.len().to_string().as_str()),
                    "{head}"
                );
                assert_eq!(header(&head, "transfer-encoding"), None, "{head}");
                assert_eq!(
                    header(&head, "content-type"),
                    Some(format.content_type().to_ascii_lowercase().as_str())
                );
                assert_eq!(
                    header(&head, "content-encoding"),
                    gzip.then_some("gzip"),
                    "{head}"
                );
                let page = if gzip { gunzip(&body) } else { body };
                let page = String::from_utf8(page).unwrap();
                let (data, _) = app.live().scraper.scrape_page(None, format).await;
                let data = std::str::from_utf8(&data).unwrap();
                let own = page
                    .strip_prefix(data)
                    .expect("starts with the sources' part");
                assert!(own.starts_with("# HELP metrics_adapter_"), "{own}");
                assert!(data.contains("nginx_up 1") && data.contains("hits 5"));
                crate::exposition::check::check_page(&page, format).unwrap();
            }
            let (head, body) = exchange(
                addr,
                &format!(
                    "HEAD /metrics HTTP/1.1\r\nHost: t\r\nAccept: {accept}\r\n\
                     Connection: close\r\n\r\n"
                ),
            )
            .await;
            assert!(head.starts_with("http/1.1 200"), "{head}");
            assert_eq!(
                header(&head, "content-type"),
                Some(format.content_type().to_ascii_lowercase().as_str())
            );
            assert_eq!(header(&head, "vary"), Some("accept, accept-encoding"));
            assert!(body.is_empty());
        }
        server.abort();
    }
}
