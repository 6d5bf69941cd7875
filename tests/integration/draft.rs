//! `metrics-adapter draft`, measured on a corpus of real formats (tests/fixtures/draft/,
//! captured from the real apps; its README says how) and on the built-in recipes' golden
//! inputs. For each: the drafted recipe passes its own cases (`metrics-adapter test`), its
//! page passes `promtool check metrics`, every numeric value of the sample is on the page,
//! repeated structure became labels, and for a golden input, every sample value the
//! hand-written recipe keeps is on the drafted page too.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::*;

const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// Factors a draft or a hand-written recipe may apply to a value (kB, ms, us, ns, MB, bits,
/// minutes, hours, days; and Apache's CPU seconds written as milliseconds).
const SCALES: &[f64] = &[
    1.0,
    1024.0,
    1e-3,
    1e-6,
    1e-9,
    1_048_576.0,
    1e3,
    0.125,
    60.0,
    3600.0,
    86400.0,
];

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// What `draft` made of a sample: the recipe file and the page it gives on the sample.
struct Drafted {
    recipe: String,
    page: String,
    _dir: TempDir,
}

/// `allow`: promtool complaints the app's own words cause (passed to [`promtool_check`]).
fn draft(sample: &Path, later: Option<&Path>, name: &str, allow: &[&str]) -> Drafted {
    let mut args = vec!["draft".to_string(), sample.display().to_string()];
    if let Some(l) = later {
        args.push(l.display().to_string());
    }
    args.extend(["--name".into(), name.into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_cli(&args, CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    let dir = TempDir::new("draft");
    let file = dir.write(format!("{name}.toml"), &out.stdout);
    let file = file.display().to_string();
    // The recipe passes its own cases ...
    let tested = run_cli(&["test", &file], CLI_TIMEOUT);
    assert!(tested.success(), "{tested}\n--- recipe ---\n{}", out.stdout);
    assert!(tested.stdout.contains(": ok"), "{tested}");
    // ... and reads the whole sample.
    let parsed = run_cli(
        &["parse", &file, &sample.display().to_string()],
        CLI_TIMEOUT,
    );
    assert!(parsed.success(), "{parsed}\n--- recipe ---\n{}", out.stdout);
    promtool_check(&parsed.stdout, allow);
    Drafted {
        recipe: out.stdout,
        page: parsed.stdout,
        _dir: dir,
    }
}

/// The sample values on a page, and with `labels` the numeric label values too (a CSV's
/// row-type column).
fn page_values(page: &str, labels: bool) -> Vec<f64> {
    let mut out = Vec::new();
    for line in page.lines().filter(|l| !l.starts_with('#')) {
        if let Some(v) = line.rsplit(' ').next().and_then(|v| v.parse().ok()) {
            out.push(v);
        }
        for part in line.split('"').skip(1).step_by(2).filter(|_| labels) {
            if let Ok(v) = part.parse() {
                out.push(v);
            }
        }
    }
    out
}

fn near(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// The values of `wanted` not on `page`, scaled by any of [`SCALES`].
fn missing(wanted: &[f64], page: &[f64]) -> Vec<f64> {
    wanted
        .iter()
        .copied()
        .filter(|w| !page.iter().any(|p| SCALES.iter().any(|s| near(*p, w * s))))
        .collect()
}

fn number(token: &str) -> Option<f64> {
    let t = token.trim();
    let ok = !t.is_empty()
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && t.chars().any(|c| c.is_ascii_digit());
    ok.then(|| t.parse().ok()).flatten()
}

/// Every number of a JSON document.
fn json_numbers(v: &serde_json::Value, out: &mut Vec<f64>) {
    match v {
        serde_json::Value::Number(n) => out.extend(n.as_f64()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_numbers(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| json_numbers(x, out)),
        _ => {}
    }
}

/// The value of each line: the first token after `sep` (or, with `sep` " ", the second
/// token), when it is a number.
fn line_values(text: &str, sep: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| {
            let rest = if sep == " " {
                l.split_whitespace().nth(1)?
            } else {
                l.split_once(sep)?.1.split_whitespace().next()?
            };
            number(rest)
        })
        .collect()
}

/// One corpus format: the sample, its later sample, how its values are found, and the
/// labelled series repeated structure must have given.
struct Case {
    file: &'static str,
    later: Option<&'static str>,
    name: &'static str,
    values: fn(&str) -> Vec<f64>,
    labelled: &'static [&'static str],
    /// promtool complaints the app's own words cause.
    allow: &'static [&'static str],
}

const CORPUS: &[Case] = &[
    Case {
        file: "draft/unbound-stats.txt",
        later: Some("draft/unbound-stats.2.txt"),
        name: "unbound",
        values: |t| line_values(t, "="),
        labelled: &[
            "unbound_thread_num_queries_total{thread=\"0\"}",
            "unbound_thread_num_queries_total{thread=\"1\"}",
            "unbound_num_query_type_total{type=\"AAAA\"}",
            "unbound_num_answer_rcode_total{rcode=\"NXDOMAIN\"}",
        ],
        allow: &[],
    },
    Case {
        file: "draft/chronyc-tracking.txt",
        later: Some("draft/chronyc-tracking.2.txt"),
        name: "chrony",
        values: |t| line_values(t, ":"),
        labelled: &["chrony_leap_status{chrony_leap_status=\"Normal\"} 1"],
        allow: &[],
    },
    Case {
        file: "draft/varnishstat.txt",
        later: Some("draft/varnishstat.2.txt"),
        name: "varnish",
        values: |t| line_values(t, " "),
        labelled: &[
            "varnish_lck_creat{lck=\"ban\"}",
            "varnish_sma_c_req{sma=\"s0\"}",
            "varnish_mempool_req_live{req=\"0\"}",
        ],
        // Varnish's own `s_` keys (MAIN.s_fetch) read to promtool as seconds abbreviated.
        allow: &["abbreviated units"],
    },
    Case {
        file: "draft/uwsgi-stats.json",
        later: Some("draft/uwsgi-stats.2.json"),
        name: "uwsgi",
        values: |t| {
            let mut out = Vec::new();
            json_numbers(&serde_json::from_str(t).unwrap(), &mut out);
            out
        },
        labelled: &[
            "uwsgi_workers_requests_total{worker=\"1\"}",
            "uwsgi_workers_requests_total{worker=\"2\"}",
            "uwsgi_sockets_max_queue{socket=\"127.0.0.1:6183\"}",
        ],
        allow: &[],
    },
    Case {
        file: "draft/openvpn-status.txt",
        later: Some("draft/openvpn-status.2.txt"),
        name: "openvpn",
        values: |t| line_values(t, ","),
        labelled: &[],
        allow: &[],
    },
    Case {
        file: "draft/openvpn-server-status.txt",
        later: None,
        name: "openvpn_server",
        values: |t| {
            // The numbers of the rows (the header rows name columns; TITLE's version is text).
            t.lines()
                .filter(|l| !l.starts_with("HEADER,") && !l.starts_with("TITLE,"))
                .flat_map(|l| l.split(',').skip(1).filter_map(number).collect::<Vec<_>>())
                .collect()
        },
        labelled: &[
            "openvpn_server_client_list_bytes_received_total{common_name=\"client1\"} 2900",
            "openvpn_server_client_list_bytes_sent_total{common_name=\"client2\"} 3118",
            "openvpn_server_routing_table_last_ref_timestamp_seconds{virtual_address=\"10.8.0.3\"} 1796642982",
        ],
        allow: &[],
    },
];

#[test]
fn draft_reads_every_corpus_format() {
    let mut score = String::new();
    for case in CORPUS {
        let sample = fixture(case.file);
        let text = std::fs::read_to_string(&sample).unwrap();
        let later = case.later.map(fixture);
        let d = draft(&sample, later.as_deref(), case.name, case.allow);
        let wanted = (case.values)(&text);
        let on_page = page_values(&d.page, true);
        let lost = missing(&wanted, &on_page);
        assert!(
            lost.is_empty(),
            "{}: values not on the page: {lost:?}\n{}",
            case.file,
            d.page
        );
        // Each value is a series of its own, not one that happens to be equal.
        let series = d.page.lines().filter(|l| !l.starts_with('#')).count();
        assert!(
            series >= wanted.len(),
            "{}: {series} series for {} values",
            case.file,
            wanted.len()
        );
        for l in case.labelled {
            assert!(
                d.page.lines().any(|p| p.starts_with(l)),
                "{}: no {l} on the page:\n{}",
                case.file,
                d.page
            );
        }
        let families = d.page.lines().filter(|l| l.starts_with("# TYPE")).count();
        let labelled = d
            .recipe
            .lines()
            .filter(|l| l.starts_with("match = "))
            .count();
        score += &format!(
            "{}: {}/{} values, {families} families, {labelled} labelled by key structure, labels {:?}\n",
            case.file,
            wanted.len() - lost.len(),
            wanted.len(),
            label_names(&d.page)
        );
    }
    eprintln!("{score}");
}

/// The label names on a page.
fn label_names(page: &str) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for line in page.lines().filter(|l| !l.starts_with('#')) {
        let Some((_, rest)) = line.split_once('{') else {
            continue;
        };
        for pair in rest.split("\",") {
            if let Some((k, _)) = pair.split_once("=\"") {
                out.insert(k.to_string());
            }
        }
    }
    out
}

/// Every number written in a text, however it is delimited.
fn numbers_in(text: &str) -> Vec<f64> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')))
        .filter_map(number)
        .collect()
}

#[test]
fn draft_keeps_what_each_builtin_recipe_keeps_of_its_golden_inputs() {
    let mut score = String::new();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(fixture("recipes"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "input"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 15, "{inputs:?}");
    for input in &inputs {
        let recipe = input
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let recipe_text = std::fs::read_to_string(format!(
            "{}/parsers/{recipe}.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        if recipe_text.contains("\naccumulate = ") {
            // A log of events, not a page of stats: refused with a pointer to the log recipes.
            let out = run_cli(&["draft", &input.display().to_string()], CLI_TIMEOUT);
            assert!(!out.success(), "{out}");
            assert!(out.stderr.contains("a log of events"), "{out}");
            continue;
        }
        let text = std::fs::read_to_string(input).unwrap();
        // The kernel's `SecPageTables` (secondary page tables) reads to promtool as `sec`,
        // an abbreviated unit: the draft keeps the app's words (the hand-written vmstat
        // recipe's notes say the same of node_exporter's names).
        let d = draft(input, None, "golden", &["abbreviated units"]);
        let golden = std::fs::read_to_string(input.with_extension("prom")).unwrap();
        let sample_numbers = numbers_in(&text);
        // What the hand-written recipe keeps: its page's values that are the sample's own
        // numbers (not counts it derives, such as Apache's scoreboard or a state set's 0/1).
        let kept: Vec<f64> = page_values(&golden, false)
            .into_iter()
            .filter(|v| {
                sample_numbers
                    .iter()
                    .any(|n| SCALES.iter().any(|s| near(*v, n * s)))
            })
            .collect();
        let on_page = page_values(&d.page, true);
        let lost = missing(&kept, &on_page);
        assert!(
            lost.is_empty(),
            "{}: values the hand-written recipe keeps, not on the drafted page: {lost:?}\n{}",
            input.display(),
            d.recipe
        );
        let families = d.page.lines().filter(|l| l.starts_with("# TYPE")).count();
        score += &format!(
            "{recipe}/{}: {}/{} kept values, {families} families, labels {:?}\n",
            input.file_name().unwrap().to_str().unwrap(),
            kept.len() - lost.len(),
            kept.len(),
            label_names(&d.page)
        );
    }
    eprintln!("{score}");
}

#[test]
fn draft_explain_tells_each_line_and_errors_name_the_sample() {
    let sample = fixture("draft/chronyc-tracking.txt");
    let out = run_cli(
        &[
            "draft",
            "--explain",
            &sample.display().to_string(),
            "--name",
            "chrony",
        ],
        CLI_TIMEOUT,
    );
    assert!(out.success(), "{out}");
    assert!(
        out.stdout.contains(
            "line 13: \"Leap status     : Normal\"\n  read    Leap status = \"Normal\"\n  became  chrony_leap_status\n  because state set"
        ),
        "{out}"
    );
    assert!(
        out.stdout.contains("line 2: \"Stratum         : 9\"\n  read    Stratum = \"9\"\n  became  chrony_stratum\n"),
        "{out}"
    );
    let dir = TempDir::new("draft-errors");
    let empty = dir.write("empty.txt", "");
    let out = run_cli(&["draft", &empty.display().to_string()], CLI_TIMEOUT);
    assert!(!out.success(), "{out}");
    assert_eq!(
        out.stderr,
        format!(
            "metrics-adapter: error: {}: the sample is empty\n",
            empty.display()
        )
    );
    let binary = dir.write("core", [0u8, 159, 146, 150, 0, 1]);
    let out = run_cli(&["draft", &binary.display().to_string()], CLI_TIMEOUT);
    assert!(!out.success(), "{out}");
    assert!(out.stderr.contains("not UTF-8 text"), "{out}");
}

/// The fenced block after `<!-- MARKER: NAME -->` in `text`.
fn block_after<'t>(text: &'t str, marker: &str) -> &'t str {
    let at = text.find(marker).unwrap_or_else(|| panic!("no {marker}"));
    let rest = text.split_at(at).1;
    let open = rest.find("```").unwrap();
    let body = rest.split_at(open).1.split_once('\n').unwrap().1;
    body.split_at(body.find("```").unwrap()).0
}

/// docs/tutorial.md's first step, as written: `draft` on its two samples prints every line
/// of the excerpt it shows, in that order.
#[test]
fn the_tutorials_draft_excerpt_is_what_draft_prints() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/tutorial.md"))
            .unwrap();
    let dir = TempDir::new("tutorial-draft");
    let first = dir.write(
        "billing.json",
        block_after(&text, "<!-- tutorial: billing.json -->"),
    );
    let later = dir.write(
        "billing-later.json",
        block_after(&text, "<!-- tutorial: billing-later.json -->"),
    );
    let out = run_cli(
        &[
            "draft",
            &first.display().to_string(),
            &later.display().to_string(),
        ],
        CLI_TIMEOUT,
    );
    assert!(out.success(), "{out}");
    let mut printed = out.stdout.lines();
    let shown: Vec<&str> = block_after(&text, "<!-- draft: billing.json billing-later.json -->")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(shown.len() > 10, "{shown:?}");
    for line in shown {
        assert!(
            printed.any(|p| p == line),
            "the tutorial shows {line:?}, which draft does not print (in that order):\n{}",
            out.stdout
        );
    }
}

/// `-` reads the sample from stdin; the recipe is named by `--name`.
#[test]
fn draft_reads_stdin() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut cmd = Command::new(BIN);
    clean_env(&mut cmd);
    let mut child = cmd
        .args(["draft", "-", "--name", "myapp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"requests: 5\nqueue[high].depth: 2\n")
        .unwrap();
    // The child reads to the end of stdin, now closed, and exits: bounded by its own work.
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("description = \"myapp stats (drafted from stdin)\"\n"),
        "{stdout}"
    );
    assert!(stdout.contains("\nmyapp_requests_total 5.0\n"), "{stdout}");
    assert!(
        stdout.contains("\nmyapp_queue_depth{queue=\"high\"} 2.0\n"),
        "{stdout}"
    );
}
