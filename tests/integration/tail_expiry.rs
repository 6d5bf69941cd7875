//! `expire_after` on a tail source: a label set not updated for that long leaves the page,
//! the others keep their exact totals; on a snapshot source the key is refused.

use std::time::{Duration, Instant};

use crate::harness::*;
use crate::tail::{count, follow, wait_ready, LoggingNginx};

#[test]
fn a_label_set_not_updated_for_expire_after_leaves_the_page_and_others_keep_counting() {
    let nginx = LoggingNginx::start();
    let adapter = follow(&nginx.log, "expire_after = \"1s\"\n");
    wait_ready(&adapter);
    nginx.requests("GET", "/missing", 404, 2);
    nginx.requests("GET", "/ok", 200, 1);
    let mut ok = 1.0;
    // 404 is seen, then, while 200 keeps being requested, goes once a second has passed
    // without one. Bounded: one request and one page per turn, for at most 15 s.
    let (start, mut seen_404, mut gone_at) = (Instant::now(), false, None);
    while gone_at.is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "404 never expired:\n{}",
            adapter.metrics()
        );
        nginx.requests("GET", "/ok", 200, 1);
        ok += 1.0;
        let page = adapter.metrics();
        let has_404 = page.contains("status=\"404\"");
        seen_404 |= has_404 && count(&page, "GET", "404") == 2.0;
        if seen_404 && !has_404 {
            gone_at = Some(start.elapsed());
            assert!(count(&page, "GET", "200") > 0.0, "{page}");
        }
    }
    assert!(gone_at >= Some(Duration::from_secs(1)), "{gone_at:?}");
    // 200 never went: all its requests are there, exactly (waited for, bounded).
    let page = crate::tail::wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "200") == ok
    });
    assert!(!page.contains("status=\"404\""), "{page}");
    // Back again: counted from nothing.
    nginx.requests("GET", "/missing", 404, 1);
    crate::tail::wait_page(&adapter, Duration::from_secs(10), |p| {
        count(p, "GET", "404") == 1.0
    });
}

#[test]
fn expire_after_is_refused_on_a_snapshot_source() {
    let dir = TempDir::new("expire-check");
    let config = dir.write(
        "config.toml",
        "[sources.m]\ntype = \"file\"\nparser = \"meminfo\"\npath = \"/proc/meminfo\"\n\
         expire_after = \"10m\"\n",
    );
    let config = config.display().to_string();
    let out = run_cli(&["--config", &config, "check"], Duration::from_secs(30));
    assert!(!out.success(), "{out}");
    let want = format!("{config}: sources.m.expire_after: applies to a source of type tail only");
    assert!(out.stderr.contains(&want), "{}", out.stderr);
}
