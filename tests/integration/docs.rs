//! The README's and docs/' examples, as written: the quick start's shell loop, config and
//! Prometheus config, the tutorial's recipes and pages, the inline recipe; and every
//! relative link between the pages leads to a file and a heading that exist.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::harness::*;

const CLI_TIMEOUT: Duration = Duration::from_secs(30);

/// A page of the repository's documentation (`README.md`, `docs/recipes.md`).
fn doc(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The fenced blocks of `text` marked `<!-- MARKER: NAME -->` on the line before, by NAME.
fn marked_blocks(text: &str, marker: &str) -> BTreeMap<String, String> {
    let open = format!("<!-- {marker}: ");
    let mut files = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(name) = line
            .strip_prefix(open.as_str())
            .and_then(|l| l.strip_suffix(" -->"))
        else {
            continue;
        };
        assert!(lines.next().unwrap().starts_with("```"), "{name}");
        let body: String = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .map(|l| format!("{l}\n"))
            .collect();
        files.insert(name.to_string(), body);
    }
    files
}

// ---------------------------------------------------------------------------------------
// The README's quick start

/// `text` with `from` (which it must hold) replaced by `to`.
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "no {from:?} in:\n{text}");
    text.replace(from, to)
}

/// A meminfo block as `date` + `cat /proc/meminfo` wrote it: the date line and its fields.
struct Block<'a> {
    date: &'a str,
    fields: Vec<&'a str>,
}

/// The blocks of an append log, each starting at a `date` line (C locale: `Mon Dec  7 ...`).
fn blocks(log: &str) -> Vec<Block<'_>> {
    const DAYS: [&str; 7] = ["Mon ", "Tue ", "Wed ", "Thu ", "Fri ", "Sat ", "Sun "];
    let mut out: Vec<Block> = Vec::new();
    for line in log.lines() {
        if DAYS.iter().any(|d| line.starts_with(d)) {
            out.push(Block {
                date: line,
                fields: Vec::new(),
            });
        } else {
            out.last_mut()
                .expect("the log starts with a date line")
                .fields
                .push(line);
        }
    }
    out
}

/// `date`'s own reading of a date line, as Unix time.
fn unix_time(date_line: &str) -> f64 {
    let out = Command::new("date")
        .args(["-u", "+%s", "-d", date_line])
        .env("LC_ALL", "C")
        .output()
        .expect("run date");
    assert!(out.status.success(), "date -d {date_line:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The README's quick start as written: its shell loop appends `date` + /proc/meminfo to a
/// real file every 5 s, and the adapter serving its config shows exactly the latest
/// complete block of that file: every field (kB scaled to bytes) and the block's date. Its
/// Prometheus config, with the shipped alerting rules, passes `promtool check config`.
#[test]
fn readme_quick_start_serves_the_appended_files_numbers() {
    let files = marked_blocks(&doc("README.md"), "quickstart");
    let dir = TempDir::new("quickstart");
    let stats = dir.path().display().to_string();

    // The loop runs in the foreground of its own shell here, so that dropping the process
    // stops it; the C locale and UTC are what the recipe's notes ask of `date`.
    let writer = replaced(&files["writer.sh"], "/tmp/stats", &stats);
    let writer = replaced(&writer, "sleep 5; done &\n", "sleep 5; done\n");
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", &writer])
        .env("LC_ALL", "C")
        .env("TZ", "UTC");
    let mut app = Proc::spawn("writer", cmd, dir.join("writer.out"));

    let config = replaced(&files["adapter.toml"], "/tmp/stats", &stats);
    let adapter = Adapter::start(&config);
    let log = dir.join("meminfo.log");
    // Two blocks, so the second is complete by the recipe's rule (as many lines as the
    // block before it), about 5 s apart.
    app.wait_ready(Duration::from_secs(30), || {
        blocks(&read_lossy(&log)).len() >= 2
    });
    wait_until("the source up", Duration::from_secs(20), || {
        find(
            &adapter.samples(),
            "metrics_adapter_source_up",
            &[("source", "meminfo")],
        ) == Some(1.0)
    });
    app.stop();

    // The latest complete block: whole lines, as many as the first block's (the loop may
    // have been stopped between its `date` and its `cat`).
    let text = read_lossy(&log);
    let whole = text.rfind('\n').map_or("", |end| &text[..=end]);
    let all = blocks(whole);
    let block = all
        .iter()
        .rev()
        .find(|b| b.fields.len() == all[0].fields.len())
        .unwrap();
    assert!(block.fields.len() > 20, "{:?}", block.fields);

    let page = adapter.metrics();
    let samples = parse_page(&page, false);
    assert_eq!(source_up(&samples, "meminfo"), 1.0, "{page}");
    assert_eq!(
        value(&samples, "meminfo_block_timestamp_seconds", &[]),
        unix_time(block.date),
        "{page}"
    );
    for field in &block.fields {
        let (key, rest) = field.split_once(':').unwrap();
        let mut words = rest.split_whitespace();
        let number: f64 = words.next().unwrap().parse().unwrap();
        let name = key.replace('(', "_").replace(')', "");
        let (name, want) = match words.next() {
            Some("kB") => (format!("node_memory_{name}_bytes"), number * 1024.0),
            None => (format!("node_memory_{name}"), number),
            Some(unit) => panic!("{field}: unit {unit}"),
        };
        assert_eq!(value(&samples, &name, &[]), want, "{field}");
    }
    let served = samples
        .iter()
        .filter(|s| s.name.starts_with("node_memory_"))
        .count();
    assert_eq!(served, block.fields.len(), "one series per field:\n{page}");

    // The Prometheus config, its rule file the one in deploy/prometheus/.
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/alerts.yaml");
    let prometheus = replaced(
        &files["prometheus.yml"],
        "- deploy/prometheus/alerts.yaml",
        &format!("- {}", rules.display()),
    );
    let prometheus = dir.write("prometheus.yml", prometheus);
    require_binary("/usr/bin/promtool");
    let out = Command::new("/usr/bin/promtool")
        .arg("check")
        .arg("config")
        .arg(&prometheus)
        .output()
        .expect("run promtool");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{out:?}");
    assert!(said.contains("SUCCESS: 1 rule files found"), "{said}");
}

// ---------------------------------------------------------------------------------------
// docs/tutorial.md and docs/configuration.md

/// The tutorial, as written: each sample through its recipe (under the tutorial's config)
/// gives exactly the page it shows, and the config checks.
#[test]
fn tutorial_recipes_give_the_pages_shown() {
    // `<!-- tutorial: NAME -->` then a fenced block: the block's text is file NAME.
    let files = marked_blocks(&doc("docs/tutorial.md"), "tutorial");
    let dir = TempDir::new("tutorial");
    let recipes = dir.mkdir("recipes");
    for (name, body) in &files {
        dir.write(name, body);
    }
    let config = replaced(
        &files["adapter.toml"],
        "\"/etc/metrics-adapter/recipes\"",
        &toml_str(&recipes.display().to_string()),
    );
    let config = dir.write("adapter.toml", config).display().to_string();
    for (parser, sample, page) in [
        ("queued", "queued.txt", "queued.prom"),
        ("billing", "billing.json", "billing.prom"),
    ] {
        let sample = dir.join(sample).display().to_string();
        let out = run_cli(
            &["parse", "--config", &config, parser, &sample],
            CLI_TIMEOUT,
        );
        assert!(out.success(), "{parser}: {out}");
        assert_eq!(out.stdout, files[page], "{parser}: the tutorial's page");
        assert_eq!(out.stderr, "", "{parser}: nothing unmatched or skipped");
        promtool_check(&out.stdout, &[]);
    }
    let out = run_cli(&["check", "--config", &config], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
}

/// docs/configuration.md's inline-recipe example checks as written, its case included.
#[test]
fn inline_recipe_example_checks() {
    let text = doc("docs/configuration.md");
    let section = text
        .split("### One file for the whole adapter")
        .nth(1)
        .unwrap();
    let block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```\n").next())
        .unwrap();
    let dir = TempDir::new("inline-recipe");
    let config = dir.write("adapter.toml", block).display().to_string();
    let out = run_cli(&["check", "--config", &config], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    assert!(
        out.stdout.ends_with("recipe tests: 1 passed, 0 failed\n"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------
// Links

/// A heading's anchor as GitHub makes it: lower case, spaces to `-`, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown page's headings (outside code blocks), a repeated heading's
/// with `-1`, `-2`... as GitHub numbers them.
fn anchors(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let base = anchor(line.trim_start_matches('#'));
        let mut name = base.clone();
        let mut n = 0;
        while out.contains(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        out.push(name);
    }
    out
}

/// The targets of a page's Markdown links (`[text](target)`) outside code blocks.
fn link_targets(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if in_code {
            continue;
        }
        for (_, rest) in line.match_indices("](").map(|(i, _)| line.split_at(i + 2)) {
            if let Some(end) = rest.find(')') {
                out.push(rest[..end].to_string());
            }
        }
    }
    out
}

/// Every relative link of the README, docs/ and deploy/README.md leads to a file or
/// directory that exists, and an `#anchor` to a heading of its page: links moved between
/// pages at different depths break silently otherwise.
#[test]
fn relative_links_between_the_pages_resolve() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md"), root.join("deploy/README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        pages.push(entry.unwrap().path());
    }
    let mut checked = 0;
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let name = page.strip_prefix(root).unwrap().display().to_string();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(path)
            };
            if !file.exists() {
                broken.push(format!("{name}: {target}: no such file"));
                continue;
            }
            if !fragment.is_empty() {
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                if !anchors(&text).iter().any(|a| a == fragment) {
                    broken.push(format!("{name}: {target}: no such heading"));
                }
            }
        }
    }
    assert!(checked > 40, "{checked} links checked");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}
