use std::io::Write;
use std::path::{Path, PathBuf};

use super::follow::{load, save, Follower, Position};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ma-tail-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Every line the follower hands over until it says nothing more is waiting.
fn drain(f: &mut Follower, path: &Path, from_start: bool, max: usize) -> String {
    let mut out = String::new();
    for _ in 0..1000 {
        let chunk = f.read(path, from_start, None, max).unwrap();
        out.push_str(std::str::from_utf8(&chunk.lines).unwrap());
        if !chunk.more {
            return out;
        }
    }
    panic!("follower never caught up");
}

#[test]
fn starts_at_the_end_or_the_start() {
    let d = dir("start");
    let log = d.join("a.log");
    append(&log, "old 1\nold 2\n");
    let mut f = Follower::default();
    assert_eq!(drain(&mut f, &log, false, 64), "");
    append(&log, "new 1\n");
    assert_eq!(drain(&mut f, &log, false, 64), "new 1\n");
    let mut f = Follower::default();
    assert_eq!(drain(&mut f, &log, true, 64), "old 1\nold 2\nnew 1\n");
}

#[test]
fn a_partial_line_waits_for_its_newline() {
    let d = dir("partial");
    let log = d.join("a.log");
    append(&log, "");
    let mut f = Follower::default();
    assert_eq!(drain(&mut f, &log, false, 64), "");
    append(&log, "one\ntw");
    assert_eq!(drain(&mut f, &log, false, 64), "one\n");
    append(&log, "o\n");
    assert_eq!(drain(&mut f, &log, false, 64), "two\n");
    // Started in the middle of a line being written: its rest is not a line.
    append(&log, "half-");
    let mut g = Follower::default();
    assert_eq!(drain(&mut g, &log, false, 64), "");
    append(&log, "written\nnext\n");
    assert_eq!(drain(&mut g, &log, false, 64), "next\n");
}

#[test]
fn reads_in_bounded_chunks_and_skips_overlong_lines() {
    let d = dir("chunks");
    let log = d.join("a.log");
    append(&log, "");
    let mut f = Follower::default();
    drain(&mut f, &log, false, 8);
    append(&log, "aaa\nbbb\nccc\n");
    let first = f.read(&log, false, None, 8).unwrap();
    assert_eq!(first.lines, b"aaa\nbbb\n");
    assert!(first.more);
    assert_eq!(drain(&mut f, &log, false, 8), "ccc\n");
    append(&log, "0123456789abcdef\nok\n");
    let mut skipped = 0;
    let mut out = String::new();
    loop {
        let c = f.read(&log, false, None, 8).unwrap();
        skipped += c.too_long;
        out.push_str(std::str::from_utf8(&c.lines).unwrap());
        if !c.more {
            break;
        }
    }
    assert_eq!((out.as_str(), skipped), ("ok\n", 1));
}

#[test]
fn rotation_by_rename_finishes_the_old_file_then_reads_the_new() {
    let d = dir("rotate");
    let log = d.join("a.log");
    append(&log, "");
    let mut f = Follower::default();
    drain(&mut f, &log, false, 64);
    append(&log, "1\n");
    std::fs::rename(&log, d.join("a.log.1")).unwrap();
    // The writer still writes to the old file until it reopens.
    append(&d.join("a.log.1"), "2\n");
    assert_eq!(drain(&mut f, &log, false, 64), "1\n2\n");
    append(&d.join("a.log.1"), "3\n");
    append(&log, "4\n");
    // The old file's last line, then the new file from its first byte.
    assert_eq!(drain(&mut f, &log, false, 64), "3\n4\n");
    append(&log, "5\n");
    assert_eq!(drain(&mut f, &log, false, 64), "5\n");
}

#[test]
fn truncation_starts_again_at_zero() {
    let d = dir("truncate");
    let log = d.join("a.log");
    append(&log, "");
    let mut f = Follower::default();
    drain(&mut f, &log, false, 64);
    append(&log, "one\ntwo\n");
    assert_eq!(drain(&mut f, &log, false, 64), "one\ntwo\n");
    std::fs::write(&log, "").unwrap();
    append(&log, "3\n");
    assert_eq!(drain(&mut f, &log, false, 64), "3\n");
}

#[test]
fn a_saved_position_resumes_the_same_file_and_restarts_a_new_one() {
    let d = dir("state");
    let log = d.join("a.log");
    let state = d.join("state");
    append(&log, "a\nb\n");
    let mut f = Follower::default();
    assert_eq!(drain(&mut f, &log, false, 64), "");
    append(&log, "c\n");
    assert_eq!(drain(&mut f, &log, false, 64), "c\n");
    save(&state, f.position().unwrap()).unwrap();
    // Written while the adapter was away: counted once, at restart.
    append(&log, "d\n");
    let saved = load(&state).unwrap();
    let mut g = Follower::default();
    assert_eq!(g.read(&log, false, saved, 64).unwrap().lines, b"d\n");
    // The log was rotated while away: the new file is read from its start.
    std::fs::rename(&log, d.join("a.log.1")).unwrap();
    append(&log, "e\n");
    let mut h = Follower::default();
    assert_eq!(h.read(&log, false, saved, 64).unwrap().lines, b"e\n");
    assert_eq!(
        Position::from_line("1 2 3\n"),
        Some(Position {
            dev: 1,
            ino: 2,
            offset: 3
        })
    );
    assert_eq!(Position::from_line("1 2\n"), None);
    assert_eq!(Position::from_line("1 2 3 4\n"), None);
    assert_eq!(load(&d.join("none")).unwrap(), None);
}

#[test]
fn a_missing_file_is_an_error_until_it_appears() {
    let d = dir("missing");
    let log = d.join("a.log");
    let mut f = Follower::default();
    let e = f.read(&log, false, None, 64).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    // Created after the start (nginx not up yet when the adapter started): all of it is
    // new, so it is read from its first byte.
    append(&log, "x\ny\n");
    assert_eq!(drain(&mut f, &log, false, 64), "x\ny\n");
    append(&log, "z\n");
    assert_eq!(drain(&mut f, &log, false, 64), "z\n");
}

#[test]
fn a_read_grows_for_a_long_line_up_to_the_limit() {
    let d = dir("grow");
    let log = d.join("a.log");
    append(&log, "");
    let mut f = Follower::default();
    drain(&mut f, &log, false, 4 << 20);
    // Longer than one usual read, shorter than the limit: read whole.
    let long = "x".repeat(1_500_000); // several usual reads
    append(&log, &format!("{long}\nshort\n"));
    assert_eq!(
        drain(&mut f, &log, false, 4 << 20),
        format!("{long}\nshort\n")
    );
}

/// docs/recipes.md describes every key of a tail source, in its own table (the keys come
/// from the `Config` struct, so a new key without a line there fails here).
#[test]
fn the_reference_describes_every_tail_key() {
    let doc = include_str!("../../../docs/recipes.md");
    let section: String = doc
        .split("\n### ")
        .find(|s| s.starts_with("The `tail` source"))
        .expect("a section for the tail source")
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('|').nth(1))
        .collect();
    for key in crate::source::keys_of::<super::Config>() {
        assert!(
            section.contains(&format!("`{key}`")),
            "docs/recipes.md: tail key `{key}`"
        );
    }
}

#[test]
fn a_file_truncated_and_refilled_past_the_offset_is_read_from_its_start() {
    let d = dir("refill");
    let log = d.join("a.log");
    append(&log, "");
    let mut f = Follower::default();
    assert_eq!(drain(&mut f, &log, false, 256), "");
    append(&log, "one 1\n");
    assert_eq!(drain(&mut f, &log, false, 256), "one 1\n");
    // Between two reads: truncated, then more written than the file held.
    std::fs::write(&log, "two: a longer line than the first\n").unwrap();
    let chunk = f.read(&log, false, None, 256).unwrap();
    assert_eq!(chunk.lines, b"two: a longer line than the first\n");
    assert_eq!(
        chunk.event,
        Some("truncated and written again: reading it from the start")
    );
    append(&log, "three\n");
    assert_eq!(drain(&mut f, &log, false, 256), "three\n");
    // Opened at its end: the head is read from the file, and tells a refill just the same.
    let mut g = Follower::default();
    assert_eq!(drain(&mut g, &log, false, 256), "");
    std::fs::write(
        &log,
        "four: longer than both lines before it, and then some more\n",
    )
    .unwrap();
    assert_eq!(
        drain(&mut g, &log, false, 256),
        "four: longer than both lines before it, and then some more\n"
    );
}

#[test]
fn two_rotations_between_reads_read_the_middle_file_once() {
    let d = dir("rotations");
    let log = d.join("a.log");
    // Beside the log before the start: an old rotated copy and a compressed one.
    append(&d.join("a.log.9"), "ancient\n");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(d.join("a.log.9"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    append(&log, "a1\n");
    let mut f = Follower::default();
    assert_eq!(drain(&mut f, &log, false, 256), "");
    append(&log, "a2\n");
    std::fs::rename(&log, d.join("a.log.1")).unwrap();
    append(&log, "b1\nb2");
    std::fs::rename(d.join("a.log.1"), d.join("a.log.2")).unwrap();
    std::fs::rename(&log, d.join("a.log.1")).unwrap();
    append(&log, "c1\n");
    append(&d.join("a.log.2.gz"), "not text\n");
    append(&d.join("a.log.json"), "another log\n");
    std::os::unix::fs::symlink(d.join("a.log.9"), d.join("a.log.link")).unwrap();
    // The middle file's unended last line is a line all the same, once it is finished.
    assert_eq!(drain(&mut f, &log, false, 256), "a2\nb1\nb2\nc1\n");
    append(&log, "c2\n");
    assert_eq!(drain(&mut f, &log, false, 256), "c2\n");
}
