use super::*;
use crate::config::{Overrides, RawConfig};

fn scraper(toml_text: &str) -> Scraper {
    let raw: RawConfig = toml::from_str(toml_text).unwrap();
    let settings =
        Settings::from_raw(crate::config::Origin::Embedded, raw, &Overrides::default()).unwrap();
    Scraper::new(&settings, &Registry::builtin().unwrap()).unwrap()
}

fn value(page: &FamilySet, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let f = page.get(name)?;
    f.samples
        .iter()
        .find(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(a, b)| a == k && b == v))
        })
        .map(|s| s.value)
}

fn temp_file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("ma-scrape-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[tokio::test]
async fn broken_source_is_down_and_others_are_served() {
    let good = temp_file("good.txt", "hits: 5\n");
    let s = scraper(&format!(
        "[sources.good]\ntype='file'\npath='{good}'\nparser='kv'\nlabels={{env='prod'}}\n\
         [sources.missing]\ntype='file'\npath='/nonexistent/x'\nparser='kv'\n"
    ));
    let page = s.scrape().await;
    assert_eq!(value(&page, "hits", &[("env", "prod")]), Some(5.0));
    assert_eq!(
        value(&page, "metrics_adapter_source_up", &[("source", "good")]),
        Some(1.0)
    );
    assert_eq!(
        value(&page, "metrics_adapter_source_up", &[("source", "missing")]),
        Some(0.0)
    );
    assert_eq!(
        value(
            &page,
            "metrics_adapter_source_read_failures",
            &[("source", "missing")]
        ),
        Some(1.0)
    );
    let err = s.targets()[1].last().unwrap().error.clone().unwrap();
    assert!(err.contains("/nonexistent/x"), "{err}");
}

#[tokio::test]
async fn a_hung_source_times_out_without_holding_the_page() {
    let s = scraper(
        "[sources.slow]\ntype='exec'\ncommand=['sleep','5']\nparser='kv'\ntimeout='200ms'\n",
    );
    let start = std::time::Instant::now();
    let page = s.scrape().await;
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        value(&page, "metrics_adapter_source_up", &[("source", "slow")]),
        Some(0.0)
    );
    assert!(s.targets()[0]
        .last()
        .unwrap()
        .error
        .as_deref()
        .unwrap()
        .contains("timed out"));
}

#[tokio::test]
async fn concurrent_scrapes_share_one_read() {
    let s = scraper(
        "[sources.x]\ntype='exec'\ncommand=['sh','-c','sleep 0.3; echo v: 1']\nparser='kv'\n",
    );
    let (a, b, c) = tokio::join!(s.scrape(), s.scrape(), s.scrape());
    for p in [&a, &b, &c] {
        assert_eq!(value(p, "v", &[]), Some(1.0));
    }
    assert_eq!(s.targets()[0].totals().fetches, 1);
    s.scrape().await;
    assert_eq!(s.targets()[0].totals().fetches, 2);
}

#[tokio::test]
async fn include_exclude_and_parse_errors() {
    let f = temp_file("ie.txt", "a: 1\nb: 2\nc: 3\nnonsense line\n");
    let s = scraper(&format!(
        "[sources.x]\ntype='file'\npath='{f}'\nparser='kv'\ninclude=['a|b']\nexclude=['b']\n"
    ));
    let page = s.scrape().await;
    assert_eq!(value(&page, "a", &[]), Some(1.0));
    assert!(page.get("b").is_none() && page.get("c").is_none());
    assert_eq!(
        value(
            &page,
            "metrics_adapter_source_parse_errors",
            &[("source", "x")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn recipe_up_metric_follows_the_source() {
    let s =
        scraper("[sources.n]\ntype='file'\npath='/nonexistent/stub'\nparser='nginx_stub_status'\n");
    let page = s.scrape().await;
    assert_eq!(value(&page, "nginx_up", &[]), Some(0.0));
}

#[tokio::test]
async fn background_sources_serve_the_last_result_with_its_age() {
    let f = temp_file("bg.txt", "v: 7\n");
    let mut s = scraper(&format!(
        "[sources.bg]\ntype='file'\npath='{f}'\nparser='kv'\ninterval='100ms'\n"
    ));
    s.start();
    for _ in 0..100 {
        if s.targets()[0].last().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let page = s.scrape().await;
    assert_eq!(value(&page, "v", &[]), Some(7.0));
    let age = value(
        &page,
        "metrics_adapter_source_age_seconds",
        &[("source", "bg")],
    )
    .unwrap();
    assert!((0.0..5.0).contains(&age), "{age}");
}

/// A parser that panics on one input: a stand-in for a parser bug.
#[derive(Debug)]
struct Panicky;

impl crate::recipe::Parser for Panicky {
    fn name(&self) -> &str {
        "panicky"
    }
    fn description(&self) -> &str {
        "panics on `boom`"
    }
    #[allow(clippy::string_slice)] // the panic under test
    fn parse(&self, input: &[u8]) -> Result<crate::parse::Parsed, crate::parse::ParseError> {
        if input.starts_with(b"boom") {
            // As a byte-index slice of multi-byte text would.
            let s = "\u{e9}t\u{e9}";
            let _ = &s[..std::hint::black_box(1)];
        }
        Ok(crate::parse::Parsed::default())
    }
}

/// A parser bug marks its own source down with the reason; the other sources, the next
/// reads and the in-flight slot are unharmed.
#[tokio::test]
async fn a_panicking_parser_takes_down_only_its_source() {
    let bad = temp_file("boom.txt", "boom\n");
    let good = temp_file("fine.txt", "v: 3\n");
    let raw: RawConfig = toml::from_str(&format!(
        "[sources.bad]\ntype='file'\npath='{bad}'\nparser='panicky'\n\
         [sources.good]\ntype='file'\npath='{good}'\nparser='kv'\n"
    ))
    .unwrap();
    let settings =
        Settings::from_raw(crate::config::Origin::Embedded, raw, &Overrides::default()).unwrap();
    let mut registry = Registry::builtin().unwrap();
    registry.insert(Arc::new(Panicky), crate::recipe::registry::Origin::Generic);
    let s = Scraper::new(&settings, &registry).unwrap();
    for read in 1..=3 {
        let page = s.scrape().await;
        assert_eq!(
            value(&page, "metrics_adapter_source_up", &[("source", "bad")]),
            Some(0.0)
        );
        assert_eq!(value(&page, "v", &[]), Some(3.0));
        assert_eq!(s.targets()[0].totals().fetches, read, "a read was lost");
    }
    let err = s.targets()[0].last().unwrap().error.clone().unwrap();
    assert!(
        err.starts_with("parser panicky panicked") && err.contains("char boundary"),
        "{err}"
    );
}

/// Counts its parses; otherwise `kv`.
#[derive(Debug)]
struct Counting(
    Arc<std::sync::atomic::AtomicUsize>,
    Arc<dyn crate::recipe::Parser>,
);

impl crate::recipe::Parser for Counting {
    fn name(&self) -> &str {
        "counting"
    }
    fn description(&self) -> &str {
        "kv, counting its parses"
    }
    fn parse(&self, input: &[u8]) -> Result<crate::parse::Parsed, crate::parse::ParseError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.1.parse(input)
    }
}

/// A scraper of one file source `x` at `path`, read by `kv` through [`Counting`]: the
/// scraper, and how many parses ran.
fn counting_scraper(path: &str) -> (Scraper, Arc<std::sync::atomic::AtomicUsize>) {
    let raw: RawConfig = toml::from_str(&format!(
        "[sources.x]\ntype='file'\npath='{path}'\nparser='counting'\n"
    ))
    .unwrap();
    let settings =
        Settings::from_raw(crate::config::Origin::Embedded, raw, &Overrides::default()).unwrap();
    let mut registry = Registry::builtin().unwrap();
    let parses = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let kv = registry.get("kv").unwrap().parser.clone();
    registry.insert(
        Arc::new(Counting(parses.clone(), kv)),
        crate::recipe::registry::Origin::Generic,
    );
    (Scraper::new(&settings, &registry).unwrap(), parses)
}

/// The same bytes as the last read that was up are not parsed again: the result is reused,
/// with this read's time and size; new bytes, or a read after a failure, are parsed.
#[tokio::test]
async fn unchanged_input_reuses_the_last_result() {
    let f = temp_file("same.txt", "v: 1\nbad line\n");
    let (s, parses) = counting_scraper(&f);
    let parsed = || parses.load(std::sync::atomic::Ordering::SeqCst);
    let t = s.targets()[0].clone();
    let page = s.scrape().await;
    let first = t.last().unwrap();
    for read in 2..=3 {
        let page = s.scrape().await;
        assert_eq!(value(&page, "v", &[]), Some(1.0));
        let last = t.last().unwrap();
        assert!(Arc::ptr_eq(&first.families, &last.families));
        assert!(last.finished >= first.finished);
        // Counted as a read each time, skipped line included, as a parse would count it.
        assert_eq!(t.totals().fetches, read);
        assert_eq!(t.totals().parse_errors, read);
    }
    assert_eq!(parsed(), 1);
    assert_eq!(value(&page, "v", &[]), Some(1.0));

    std::fs::write(&f, "v: 2\n").unwrap();
    assert_eq!(value(&s.scrape().await, "v", &[]), Some(2.0));
    assert_eq!(parsed(), 2);
    // Down in between: the next read of the old bytes is parsed again.
    std::fs::remove_file(&f).unwrap();
    assert_eq!(
        value(
            &s.scrape().await,
            "metrics_adapter_source_up",
            &[("source", "x")]
        ),
        Some(0.0)
    );
    std::fs::write(&f, "v: 2\n").unwrap();
    assert_eq!(value(&s.scrape().await, "v", &[]), Some(2.0));
    assert_eq!(parsed(), 3);
}

/// The page served in two parts (the sources' part, kept encoded while no source changes,
/// then the adapter's own) is the page encoded in one piece, in both wire formats.
#[tokio::test]
async fn the_encoded_sources_part_is_reused_and_matches_the_whole_page() {
    use crate::exposition::{encode, WireFormat};
    let stub = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/recipes/nginx_stub_status/nginx-1.22.input"
    );
    let kv = temp_file("parts.txt", "hits: 5\nratio: +Inf\n");
    let s = scraper(&format!(
        "[sources.web]\ntype='file'\npath='{stub}'\nparser='nginx_stub_status'\n\
         [sources.app]\ntype='file'\npath='{kv}'\nparser='kv'\n"
    ));
    for format in [WireFormat::Text, WireFormat::OpenMetrics] {
        let (first, _) = s.scrape_page(None, format).await;
        // Two sources: the families stay (the second's could collide with the first's).
        assert!(!s.targets()[0].last().unwrap().families_dropped);
        let (again, own) = s.scrape_page(None, format).await;
        // The same buffer, not a copy of it.
        assert_eq!(first.as_ptr(), again.as_ptr(), "not reused");
        let again = std::str::from_utf8(&again).unwrap();
        assert!(own.iter().any(|f| f.name == "metrics_adapter_source_up"));
        let whole = encode(&s.scrape().await, format);
        let (data, _) = whole.split_at(whole.find("# HELP metrics_adapter_").unwrap());
        assert_eq!(again, data);
        assert!(again.contains("nginx_up 1") && again.contains("hits 5"));
    }
    std::fs::write(&kv, "hits: 6\n").unwrap();
    let (changed, _) = s.scrape_page(None, WireFormat::Text).await;
    let changed = std::str::from_utf8(&changed).unwrap();
    assert!(
        changed.contains("hits 6") && !changed.contains("ratio"),
        "{changed}"
    );
}

/// The adapter's own part is written without the family set (see
/// [`crate::exposition::encode_own`]): through the set it would be the same bytes, with no
/// conflict, so the set has nothing to check in it.
#[tokio::test]
async fn own_families_need_no_family_set() {
    let kv = temp_file("own.txt", "hits: 5\n");
    let s = scraper(&format!(
        "[sources.app]\ntype='file'\npath='{kv}'\nparser='kv'\n\
         [sources.gone]\ntype='file'\npath='/nonexistent/x'\nparser='kv'\n\
         [sources.log]\ntype='tail'\npath='{kv}'\nparser='nginx_access'\n"
    ));
    for format in [WireFormat::Text, WireFormat::OpenMetrics] {
        let (_, mut own) = s.scrape_page(None, format).await;
        own.extend(reload_families(false, 1.5));
        own.extend(crate::process::families());
        let mut set = FamilySet::new();
        let mut conflicts = Vec::new();
        set.extend(own.clone(), &mut conflicts);
        assert_eq!(conflicts, vec![]);
        assert_eq!(
            crate::exposition::encode_own(&own, format),
            crate::exposition::encode(&set, format)
        );
        assert!(own.len() >= 20, "{own:?}");
    }
}

/// One source: once its page is encoded nothing else needs its families (no later source
/// collides with them), so they are dropped. The kept page is still served; the other wire
/// format, and a scrape's family set, read the source again and parse it whole.
#[tokio::test]
async fn a_single_sources_families_are_dropped_once_its_page_is_encoded() {
    use crate::exposition::{encode, WireFormat};
    let f = temp_file("dropped.txt", "hits: 5\nratio: 0.5\n");
    let (s, parses) = counting_scraper(&f);
    let parsed = || parses.load(std::sync::atomic::Ordering::SeqCst);
    let t = s.targets()[0].clone();
    let (first, _) = s.scrape_page(None, WireFormat::Text).await;
    let last = t.last().unwrap();
    assert!(last.up && last.families_dropped && last.families.is_empty());
    assert!(t.last_good().unwrap().families.is_empty());
    let (again, own) = s.scrape_page(None, WireFormat::Text).await;
    assert_eq!(first.as_ptr(), again.as_ptr(), "not reused");
    assert_eq!(parsed(), 1);
    let samples = own
        .iter()
        .find(|f| f.name.ends_with("source_samples"))
        .unwrap();
    assert_eq!(samples.samples[0].value, 2.0);
    for format in [WireFormat::OpenMetrics, WireFormat::Text] {
        let (part, _) = s.scrape_page(None, format).await;
        let whole = s.scrape().await;
        assert_eq!(value(&whole, "hits", &[]), Some(5.0));
        assert_eq!(value(&whole, "ratio", &[]), Some(0.5));
        let whole = encode(&whole, format);
        let (data, _) = whole.split_at(whole.find("# HELP metrics_adapter_").unwrap());
        assert_eq!(std::str::from_utf8(&part).unwrap(), data);
    }
    // OpenMetrics, the set, the set again: parsed anew; Text reused the set's result
    // (whose families a family set keeps).
    assert_eq!(parsed(), 4);
}

/// A page of one source is written from its result without the family set; byte for byte
/// what the set gives, up metric and static labels included, up or down.
#[tokio::test]
async fn one_sources_part_is_what_the_family_set_writes() {
    use crate::exposition::{encode, WireFormat};
    let stub = temp_file(
        "one-stub.txt",
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/recipes/nginx_stub_status/nginx-1.22.input"
        ))
        .unwrap(),
    );
    let s = scraper(&format!(
        "[sources.web]\ntype='file'\npath='{stub}'\nparser='nginx_stub_status'\n\
         labels={{ instance='a\"b' }}\n"
    ));
    for up in [true, false] {
        if !up {
            std::fs::remove_file(&stub).unwrap();
        }
        for format in [WireFormat::Text, WireFormat::OpenMetrics] {
            let (part, _) = s.scrape_page(None, format).await;
            let part = std::str::from_utf8(&part).unwrap();
            let whole = encode(&s.scrape().await, format);
            let (data, _) = whole.split_at(whole.find("# HELP metrics_adapter_").unwrap());
            assert_eq!(part, data);
            let want = if up {
                "nginx_up{instance=\"a\\\"b\"} 1"
            } else {
                "nginx_up{instance=\"a\\\"b\"} 0"
            };
            assert!(part.contains(want), "{part}");
            assert_eq!(part.contains("nginx_connections_active"), up, "{part}");
        }
    }
}
