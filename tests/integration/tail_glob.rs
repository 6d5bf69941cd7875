//! A `tail` source whose `path` is a glob: each matching file followed, its series labelled
//! `file`, files appearing later picked up from their first line, and files past
//! `max_files` skipped and counted, not silently.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::harness::*;
use crate::tail::{self_metric, series, wait_page, wait_ready};

/// Appends `n` lines of `method` (a combined line as nginx writes it) to `path`.
fn append(path: &Path, method: &str, n: usize) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let line = format!(
        "127.0.0.1 - - [07/Dec/2026:11:00:00 +0000] \"{method} /x HTTP/1.1\" 200 10 \"-\" \"curl/7.88.1\"\n"
    );
    f.write_all(line.repeat(n).as_bytes()).unwrap();
}

fn counted(page: &str, file: &str, method: &str) -> Option<f64> {
    series(
        page,
        &format!(
            "nginx_http_response_count_total{{file=\"{file}\",method=\"{method}\",status=\"200\"}}"
        ),
    )
}

#[test]
fn a_glob_follows_each_file_labelled_by_name_new_ones_too_up_to_max_files() {
    let dir = TempDir::new("tail-glob");
    let (a, b) = (dir.join("a.log"), dir.join("b.log"));
    append(&a, "GET", 5);
    append(&b, "GET", 5);
    append(&dir.join("notes.txt"), "GET", 1);
    let pattern = dir.join("*.log").display().to_string();
    let adapter = Adapter::start(&format!(
        "[sources.web]\ntype = \"tail\"\nparser = \"nginx_access\"\npath = {}\n\
         interval = \"100ms\"\nmax_files = 3\n",
        toml_str(&pattern)
    ));
    wait_ready(&adapter);
    // What the files held at start is not counted; what they get from now on is.
    append(&a, "GET", 2);
    append(&b, "POST", 3);
    // A file that appears later: all of it came after the start.
    append(&dir.join("c.log"), "PUT", 4);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        counted(p, "a.log", "GET") == Some(2.0)
            && counted(p, "b.log", "POST") == Some(3.0)
            && counted(p, "c.log", "PUT") == Some(4.0)
    });
    assert_eq!(counted(&page, "b.log", "GET"), None, "{page}");
    assert_eq!(self_metric(&page, "source_parse_errors_total"), 0.0);
    assert!(!page.contains("notes.txt"), "{page}");
    promtool_check(&page, &[]);
    // A fourth file is past max_files: not followed, counted once, told on the status page.
    append(&dir.join("d.log"), "GET", 1);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        self_metric(p, "source_parse_errors_total") == 1.0
    });
    assert!(!page.contains("d.log"), "{page}");
    let status = adapter.get("/").text();
    assert!(
        status.contains("1 file(s) match the path past max_files (3), not followed: d.log"),
        "{status}"
    );
    // The others go on counting.
    append(&a, "GET", 1);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        counted(p, "a.log", "GET") == Some(3.0)
    });
    assert_eq!(self_metric(&page, "source_parse_errors_total"), 1.0);
    // A file of the glob rotated by rename (to a name the glob does not match) and written
    // again: neither line lost nor doubled.
    append(&a, "GET", 1);
    std::fs::rename(&a, dir.join("a.log.1")).unwrap();
    append(&a, "GET", 2);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        counted(p, "a.log", "GET") >= Some(6.0)
    });
    assert_eq!(counted(&page, "a.log", "GET"), Some(6.0), "{page}");
    assert!(!page.contains("a.log.1"), "{page}");
}

#[test]
fn a_wildcard_outside_the_file_name_or_with_a_state_file_is_refused() {
    let dir = TempDir::new("tail-glob-check");
    for (extra, path, want) in [
        (
            "",
            "/var/*/a.log",
            "sources.web.path: /var/*/a.log: a wildcard may only be in the file name",
        ),
        (
            "state_file = \"/tmp/x.pos\"\n",
            "/var/log/*.log",
            "sources.web.state_file: not with a wildcard path",
        ),
        (
            "max_files = 2\n",
            "/var/log/a.log",
            "sources.web.max_files: only for a path with a wildcard",
        ),
    ] {
        let config = dir.write(
            "config.toml",
            format!(
                "[sources.web]\ntype = \"tail\"\nparser = \"nginx_access\"\npath = \"{path}\"\n{extra}"
            ),
        );
        let config = config.display().to_string();
        let out = run_cli(&["--config", &config, "check"], Duration::from_secs(30));
        assert!(!out.success(), "{out}");
        assert!(out.stderr.contains(want), "{want}\n{}", out.stderr);
    }
}

/// The source's relabeling runs on each file's events before they are counted; the `file`
/// label comes after it.
#[test]
fn a_globs_files_are_relabeled_before_counting() {
    let dir = TempDir::new("tail-glob-relabel");
    let pattern = dir.join("*.log").display().to_string();
    let adapter = Adapter::start(&format!(
        "[sources.web]\ntype = \"tail\"\nparser = \"nginx_access\"\npath = {}\n\
         interval = \"100ms\"\n\
         [[sources.web.relabel]]\nsource_labels = [\"method\"]\nregex = \"P(OST|UT)\"\n\
         target_label = \"method\"\nreplacement = \"write\"\n",
        toml_str(&pattern)
    ));
    wait_ready(&adapter);
    append(&dir.join("a.log"), "POST", 2);
    append(&dir.join("b.log"), "PUT", 3);
    append(&dir.join("b.log"), "GET", 1);
    let page = wait_page(&adapter, Duration::from_secs(10), |p| {
        counted(p, "a.log", "write") == Some(2.0)
            && counted(p, "b.log", "write") == Some(3.0)
            && counted(p, "b.log", "GET") == Some(1.0)
    });
    assert!(!page.contains("method=\"PUT\""), "{page}");
}
