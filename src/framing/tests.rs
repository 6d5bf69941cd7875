use super::*;

fn framing(end: Option<&str>) -> Framing {
    Framing::new(r"^[A-Za-z]{3} [A-Za-z]{3} +[0-9]+ ", end).unwrap()
}

const B1: &str = "Wed Nov 25 03:46:26 UTC 2026\nMemTotal: 100 kB\nMemFree: 50 kB\n";
const B2: &str = "Wed Nov 25 03:46:31 UTC 2026\nMemTotal: 100 kB\nMemFree: 40 kB\n";

fn file_start() -> Context {
    Context {
        at_file_start: true,
        ..Context::default()
    }
}

fn latest<'a>(data: &'a str, f: &Framing, ctx: Context) -> Result<&'a str, FramingError> {
    latest_block(data.as_bytes(), f, ctx).map(|b| std::str::from_utf8(b.bytes).unwrap())
}

#[test]
fn picks_the_last_complete_block() {
    let all = format!("{B1}{B2}");
    assert_eq!(latest(&all, &framing(None), file_start()), Ok(B2));
    let b = latest_block(all.as_bytes(), &framing(None), file_start()).unwrap();
    assert_eq!(b.lines, 3);
}

#[test]
fn skips_a_half_written_block() {
    for partial in [
        "Wed Nov 25 03:46:36 UTC 2026\n",
        "Wed Nov 25 03:46:36 UTC 2026\nMemTotal: 100 kB\n",
        "Wed Nov 25 03:46:36 UTC 2026\nMemTotal: 100 kB\nMemFr",
        "Wed No",
    ] {
        let all = format!("{B1}{B2}{partial}");
        assert_eq!(
            latest(&all, &framing(None), file_start()),
            Ok(B2),
            "{partial:?}"
        );
    }
}

/// `: > f; date >> f`: a fresh file with only the first line of its first block.
#[test]
fn a_lone_growing_block_is_not_served() {
    let lone = "Wed Nov 25 03:46:36 UTC 2026\n";
    assert_eq!(
        latest(lone, &framing(None), file_start()),
        Err(FramingError::Unsettled)
    );
    // Compared with the shape this source read before: still short.
    let known = Context {
        known_lines: Some(3),
        ..file_start()
    };
    assert_eq!(
        latest(lone, &framing(None), known),
        Err(FramingError::Unsettled)
    );
    assert_eq!(latest(B1, &framing(None), known), Ok(B1));
    // Quiet for long enough: the writer is done with it.
    let settled = Context {
        settled: true,
        ..file_start()
    };
    assert_eq!(latest(lone, &framing(None), settled), Ok(lone));
}

/// A tail window that begins inside the file cannot judge its first block alone.
#[test]
fn a_window_asks_for_more_when_it_cannot_decide() {
    let tail = Context::default();
    assert_eq!(
        latest(B2, &framing(None), tail),
        Err(FramingError::NeedMore)
    );
    assert_eq!(
        latest("MemFree: 40 kB\n", &framing(None), tail),
        Err(FramingError::NeedMore)
    );
    assert_eq!(latest(&format!("{B1}{B2}"), &framing(None), tail), Ok(B2));
}

#[test]
fn end_marker_decides_when_given() {
    let end = framing(Some("^MemFree:"));
    let all = format!("{B1}Wed Nov 25 03:46:31 UTC 2026\nMemTotal: 100 kB\n");
    assert_eq!(latest(&all, &end, file_start()), Ok(B1));
    // A block cut short (no end line) before a newer one is skipped, not served.
    let all = format!("{B1}Wed Nov 25 03:46:31 UTC 2026\nMemTotal: 100 kB\n{B2}");
    assert_eq!(latest(&all, &end, file_start()), Ok(B2));
    assert_eq!(
        latest(
            "Wed Nov 25 03:46:31 UTC 2026\nMemTotal: 1 kB\n",
            &end,
            file_start()
        ),
        Err(FramingError::NoEnd)
    );
    assert_eq!(
        latest("no blocks here\n", &framing(None), file_start()),
        Err(FramingError::NoStart)
    );
}

/// `block_end = '^DirectMap'` matches three lines of a meminfo dump: a block cut after the
/// first would look complete, so the pattern is refused rather than trusted.
#[test]
fn an_end_marker_matching_several_lines_is_reported() {
    let block = "Wed Nov 25 03:46:26 UTC 2026\nMemTotal: 1 kB\nDirectMap4k: 1 kB\nDirectMap2M: 2 kB\nDirectMap1G: 0 kB\n";
    let cut = "Wed Nov 25 03:46:31 UTC 2026\nMemTotal: 1 kB\nDirectMap4k: 1 kB\n";
    let all = format!("{block}{cut}");
    assert_eq!(
        latest(&all, &framing(Some("^DirectMap")), file_start()),
        Err(FramingError::AmbiguousEnd(3))
    );
    assert_eq!(
        latest(&all, &framing(Some("^DirectMap1G:")), file_start()),
        Ok(block)
    );
}

#[test]
fn invalid_utf8_keeps_offsets_exact() {
    let all = format!("{B1}Wed Nov 25 03:46:31 UTC 2026\n\u{e9}\u{1F600}: 1\nMemFree: \u{fffd}\n");
    let bytes = [all.as_bytes(), b"\xff\xfe\n"].concat();
    let b = latest_block(&bytes, &framing(None), file_start()).unwrap();
    assert!(b.bytes.starts_with(b"Wed Nov 25 03:46:31"));
    assert!(b.bytes.ends_with(b"\xff\xfe\n"));
}

/// A dated log knows when its newest block was written and how often blocks come: the
/// median gap between the last start lines, so neither jitter nor a restart after a pause
/// (one long gap) sets it.
#[test]
fn a_dated_log_carries_its_write_period() {
    let mut f = framing(None);
    let b3 = B2.replace("03:46:31", "03:46:37");
    let all = format!("{B1}{B2}{b3}Wed Nov 25 03:46:41 UTC 2026\n");
    let undated = latest_block(all.as_bytes(), &f, file_start()).unwrap();
    assert_eq!(undated.written, None);
    f.dated = true;
    let b = latest_block(all.as_bytes(), &f, file_start()).unwrap();
    assert_eq!(b.bytes, b3.as_bytes());
    // 03:46:37 UTC on 2026-11-25; gaps 5 s and 6 s, the upper median 6 (the growing block
    // does not count).
    assert_eq!(
        b.written,
        Some(Written {
            at: 1_795_578_397.0,
            period: Some(6.0)
        })
    );
    // A writer restarted after a day's pause: one long gap among short ones.
    let restarted = format!(
        "{}{B1}{B2}{b3}{}",
        B1.replace("Wed Nov 25", "Tue Nov 24"),
        b3.replace("03:46:37", "03:46:42")
    );
    let b = latest_block(restarted.as_bytes(), &f, file_start()).unwrap();
    assert_eq!(b.written.and_then(|w| w.period), Some(6.0));
    assert_eq!(
        b.written.unwrap().default_limit(),
        Some(Duration::from_secs(18))
    );
    // A fast writer is held to the floor; one block alone gives no period.
    let fast = Written {
        at: 0.0,
        period: Some(1.0),
    };
    assert_eq!(fast.default_limit(), Some(STALE_FLOOR));
    let lone = latest_block(
        B1.as_bytes(),
        &f,
        Context {
            settled: true,
            ..file_start()
        },
    )
    .unwrap();
    assert_eq!(lone.written.map(|w| w.period), Some(None));
    assert_eq!(lone.written.unwrap().default_limit(), None);
    // A start line that is not a date gives no write time (the recipe reports the line).
    let odd = format!("{B1}{}", B2.replace("UTC", "CET"));
    let b = latest_block(odd.as_bytes(), &f, file_start()).unwrap();
    assert_eq!(b.written, None);
}
