//! Checks of a page by parsers we did not write: `promtool check metrics`
//! ([`promtool_check`]) and the Python `prometheus_client` parsers ([`parse_page`], text and
//! OpenMetrics), plus lookups in what they read ([`value`], [`find`], [`source_up`]).

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

use super::{pipe_through, require_binary};

/// Runs `promtool check metrics` on a 0.0.4 text page and panics with its output if it
/// reports anything — an error or any lint line — except lines containing one of the
/// `allow` substrings (known lint complaints such as node_exporter's camelCase names:
/// `"should be written in 'snake_case' not 'camelCase'"`). promtool cannot read
/// OpenMetrics (`info` types); check those with [`parse_page`].
pub fn promtool_check(page: &str, allow: &[&str]) {
    let (out, text) = promtool_check_metrics(page);
    let complaints: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !allow.iter().any(|a| l.contains(a)))
        .collect();
    if !complaints.is_empty() {
        panic!(
            "promtool check metrics ({}) complained:\n{}\n--- page ---\n{page}",
            out.status,
            complaints.join("\n")
        );
    }
}

/// The lines `promtool check metrics` prints about a page it could read (its lint
/// complaints, `NAME MESSAGE`); none for a clean page.
pub fn promtool_lint(page: &str) -> Vec<String> {
    let (_, text) = promtool_check_metrics(page);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// Runs `promtool check metrics` for syntax only: panics if promtool cannot parse the page
/// (exit status 1, an `error` line) or did not finish, ignoring its lint advice. For pages whose names are
/// the app's own (Redis `INFO` keys through a generic recipe), where lint is not ours to fix.
pub fn promtool_check_syntax(page: &str) {
    let (out, text) = promtool_check_metrics(page);
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("error"))
        .collect();
    if !errors.is_empty() {
        panic!(
            "promtool check metrics ({}) cannot read the page:\n{}\n--- page ---\n{page}",
            out.status,
            errors.join("\n")
        );
    }
}

/// `promtool check metrics` on `page`: how it exited, and its stdout and stderr as one text.
fn promtool_check_metrics(page: &str) -> (Output, String) {
    const PROMTOOL: &str = "/usr/bin/promtool";
    require_binary(PROMTOOL);
    let out = pipe_through(
        Command::new(PROMTOOL).args(["check", "metrics"]),
        page.as_bytes(),
        Duration::from_secs(30),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // promtool exits 0 for a clean page, 3 for lint problems only, 1 when it cannot read
    // the page; anything else (killed by the timeout, a signal) checked nothing.
    match out.status.code() {
        Some(0 | 3) => {}
        Some(1) => {
            panic!("promtool check metrics cannot read the page:\n{text}\n--- page ---\n{page}")
        }
        _ => panic!(
            "promtool check metrics did not finish its check ({}):\n{text}\n--- page ---\n{page}",
            out.status
        ),
    }
    (out, text)
}

/// One sample as an independent parser read it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Python, with Debian's `python3-prometheus-client`: reads the page from stdin and prints
/// `{"families": {name: type}, "samples": [{"name", "labels", "value"}]}` (values as
/// `repr(float)` strings, so NaN and infinities survive JSON).
const PY_PARSE: &str = r#"
import json, sys
if sys.argv[1] == "openmetrics":
    from prometheus_client.openmetrics.parser import text_string_to_metric_families
else:
    from prometheus_client.parser import text_string_to_metric_families
text = sys.stdin.buffer.read().decode("utf-8")
families, samples = {}, []
for f in text_string_to_metric_families(text):
    families[f.name] = f.type
    for s in f.samples:
        samples.append({"name": s.name, "labels": dict(s.labels), "value": repr(float(s.value))})
json.dump({"families": families, "samples": samples}, sys.stdout)
"#;

/// The system Python (Debian's, which has `python3-prometheus-client`), not a pyenv one.
pub const PYTHON: &str = "/usr/bin/python3";

/// Runs `script` with [`PYTHON`] (`python3 -c script args...`, `PYTHONPATH` and
/// `PYTHONHOME` removed) with `input` on stdin, killed after `timeout`. Panics naming the
/// Debian package when Python or its `prometheus_client` is missing.
pub fn run_python(script: &str, args: &[&str], input: &[u8], timeout: Duration) -> Output {
    require_binary(PYTHON);
    let out = pipe_through(
        Command::new(PYTHON)
            .arg("-c")
            .arg(script)
            .args(args)
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME"),
        input,
        timeout,
    );
    if String::from_utf8_lossy(&out.stderr).contains("No module named 'prometheus_client") {
        panic!(
            "{PYTHON} has no prometheus_client: install the Debian package \
             `python3-prometheus-client` (`bash tests/setup.sh`)"
        );
    }
    out
}

/// Parses a page with the Python `prometheus_client` parser (the OpenMetrics one when
/// `openmetrics`), returning every sample and every family's type. Panics with the
/// parser's error if it rejects the page.
pub fn parse_page_typed(
    page: &str,
    openmetrics: bool,
) -> (Vec<ParsedSample>, BTreeMap<String, String>) {
    let mode = if openmetrics { "openmetrics" } else { "text" };
    let out = run_python(PY_PARSE, &[mode], page.as_bytes(), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Python {mode} parser rejected the page:\n{stderr}\n--- page ---\n{page}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("parser JSON");
    let families = v["families"]
        .as_object()
        .expect("families")
        .iter()
        .map(|(k, t)| (k.clone(), t.as_str().unwrap_or("").to_string()))
        .collect();
    let samples = v["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|s| ParsedSample {
            name: s["name"].as_str().expect("name").to_string(),
            labels: s["labels"]
                .as_object()
                .expect("labels")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect(),
            value: s["value"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .expect("value"),
        })
        .collect();
    (samples, families)
}

/// The samples of a page as the Python `prometheus_client` parser reads them.
pub fn parse_page(page: &str, openmetrics: bool) -> Vec<ParsedSample> {
    parse_page_typed(page, openmetrics).0
}

/// The value of the sample named `name` whose labels are exactly `labels`.
pub fn find(samples: &[ParsedSample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
}

/// The sum of the samples named `name` whose labels include `labels` (a counter split by
/// another label, such as `kind`): 0 when there is none.
pub fn sum(samples: &[ParsedSample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).is_some_and(|x| x == v))
        })
        .map(|s| s.value)
        .sum()
}

/// Like [`find`], panicking (listing the samples of that name) when there is none.
pub fn value(samples: &[ParsedSample], name: &str, labels: &[(&str, &str)]) -> f64 {
    find(samples, name, labels).unwrap_or_else(|| {
        let same: Vec<String> = samples
            .iter()
            .filter(|s| s.name == name)
            .map(|s| format!("{:?} = {}", s.labels, s.value))
            .collect();
        panic!(
            "no sample {name} with labels {labels:?}; samples of that name: {same:?}; \
             {} samples in all",
            samples.len()
        )
    })
}

/// The `metrics_adapter_source_up` value of `source`.
pub fn source_up(samples: &[ParsedSample], source: &str) -> f64 {
    value(samples, "metrics_adapter_source_up", &[("source", source)])
}

/// Escapes a label value as the text formats require (`\\`, `\"`, `\n`).
pub fn escape_label_value(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}
