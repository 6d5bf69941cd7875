//! The recipe language through the real binary: one rule for a static label against a
//! data label of the same name, at recipe and at source level; `parse --explain`.

use std::time::Duration;

use crate::harness::*;

const CLI_TIMEOUT: Duration = Duration::from_secs(30);

fn write_config(dir: &TempDir, text: &str) -> String {
    dir.write("config.toml", text).display().to_string()
}

/// A recipe's static labels (`[mapping] labels`, a rule's `labels`) and a source's
/// `labels` follow one rule: a static label replaces a data label of the same name (the
/// sample is kept, with the static value), and the more specific static label wins.
#[test]
fn static_labels_win_over_data_labels_at_recipe_and_source_level() {
    let dir = TempDir::new("static-labels");
    let recipes = dir.mkdir("recipes");
    std::fs::write(
        recipes.join("zoned.toml"),
        r#"description = "values with a zone label in the data"
format = "regex"

[[regex.rule]]
pattern = '^(?P<key>[a-z]+) zone=(?P<zone>[a-z]+) (?P<value>[0-9]+)$'
record_key = "{key}"

[mapping]
prefix = "zoned_"
labels = { zone = "recipe" }

[[mapping.metric]]
key = "ruled"
labels = { zone = "rule" }
"#,
    )
    .unwrap();
    let data = dir.write("data.txt", "plain zone=data 1\nruled zone=data 2\n");
    let config = |source_labels: &str| {
        format!(
            "[parsers]\ndirs = [{}]\n\n[sources.z]\ntype = \"file\"\npath = {}\nparser = \"zoned\"\n{source_labels}",
            toml_str(&recipes.display().to_string()),
            toml_str(&data.display().to_string())
        )
    };
    // Recipe level: the recipe's static zone replaces the data's; a rule's wins over the
    // mapping's. No sample is lost to a repeated label.
    let path = write_config(&dir, &config(""));
    let out = run_cli(&["once", "--config", &path], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    let s = parse_page(&out.stdout, false);
    assert_eq!(value(&s, "zoned_plain", &[("zone", "recipe")]), 1.0);
    assert_eq!(value(&s, "zoned_ruled", &[("zone", "rule")]), 2.0);
    // Source level: the source's static zone replaces what the recipe made.
    let path = write_config(&dir, &config("labels = { zone = \"source\" }\n"));
    let out = run_cli(&["once", "--config", &path], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    let s = parse_page(&out.stdout, false);
    assert_eq!(value(&s, "zoned_plain", &[("zone", "source")]), 1.0);
    assert_eq!(value(&s, "zoned_ruled", &[("zone", "source")]), 2.0);
}

const JOBS_RECIPE: &str = r#"description = "a job runner's status text"
format = "regex"

[[regex.rule]]
pattern = '^(?P<key>[a-z_]+) queue=(?P<queue>[a-z]+): (?P<value>\S+)$'
record_key = "{key}"

[[regex.rule]]
pattern = '^== status =='
drop = true

[mapping]
prefix = "jobs_"
unmatched = "drop"

[[mapping.metric]]
key = "depth"
when = { queue = "mail|sms" }
help = "Jobs waiting."

[[mapping.metric]]
key = "debug_level"
drop = true

[[mapping.metric]]
key = "state"
words = { running = 1, paused = 0 }
"#;

/// `parse --explain` on a user's regex recipe: per input line, what the format read, the
/// rule that took it and the series it became, or why nothing came of it (a format drop
/// rule, a failed `when`, a mapping drop rule, not a number, a duplicate, no rule).
#[test]
fn parse_explain_tells_what_became_of_every_line() {
    let dir = TempDir::new("explain");
    let recipes = dir.mkdir("recipes");
    std::fs::write(recipes.join("jobs.toml"), JOBS_RECIPE).unwrap();
    let input = dir.write(
        "jobs.txt",
        "== status ==\ndepth queue=mail: 12\ndepth queue=push: 3\ndebug_level queue=mail: 2\n\
         state queue=mail: broken\ndepth queue=mail: 13\nlatency queue=mail: 5\n\nhello world\n",
    );
    let config = write_config(
        &dir,
        &format!(
            "[parsers]\ndirs = [{}]\n",
            toml_str(&recipes.display().to_string())
        ),
    );
    let out = run_cli(
        &[
            "--config",
            &config,
            "parse",
            "--explain",
            "jobs",
            &input.display().to_string(),
        ],
        CLI_TIMEOUT,
    );
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout,
        r#"line 1: "== status =="
  nothing: a known line: regex.rule[1] has drop = true

line 2: "depth queue=mail: 12"
  read    depth{queue="mail"} = "12"
  rule    mapping.metric[0] (key "depth")
  series  jobs_depth{queue="mail"} 12 (gauge)

line 3: "depth queue=push: 3"
  read    depth{queue="push"} = "3"
  skipped mapping.metric[0] (key "depth"): its `when` does not hold
  no rule matched: unmatched = "drop": not exposed, counted as unmatched

line 4: "debug_level queue=mail: 2"
  read    debug_level{queue="mail"} = "2"
  dropped: mapping.metric[1] (key "debug_level") has drop = true

line 5: "state queue=mail: broken"
  read    state{queue="mail"} = "broken"
  rule    mapping.metric[2] (key "state")
  nothing: state: value "broken" is not a number (a parse error)

line 6: "depth queue=mail: 13"
  read    depth{queue="mail"} = "13"
  rule    mapping.metric[0] (key "depth")
  duplicate: jobs_depth{queue="mail"} (line 2 made it first), dropped

line 7: "latency queue=mail: 5"
  read    latency{queue="mail"} = "5"
  no rule matched: unmatched = "drop": not exposed, counted as unmatched

line 9: "hello world"
  nothing: no [[regex.rule]] matches it (counted as unmatched)

in all: 1 series in 1 families, 1 parse errors, 1 duplicates, 3 unmatched
"#
    );
}

/// `parse --explain` on a built-in recipe (nginx's stub_status through `regex`), and a
/// word where a number belongs and a line without a separator in bare `kv`.
#[test]
fn parse_explain_on_built_in_recipes() {
    let dir = TempDir::new("explain-builtin");
    let stub = dir.write(
        "stub.txt",
        "Active connections: 5 \nserver accepts handled requests\n 84 84 1055 \n\
         Reading: 0 Writing: 1 Waiting: 4 \nnot nginx\n",
    );
    let out = run_cli(
        &[
            "parse",
            "--explain",
            "nginx_stub_status",
            &stub.display().to_string(),
        ],
        CLI_TIMEOUT,
    );
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout,
        r#"line 1: "Active connections: 5 "
  read    active = "5"
  rule    mapping.metric[0] (key "active")
  series  nginx_connections_active 5 (gauge)

line 2: "server accepts handled requests"
  nothing: a known line: regex.rule[3] has drop = true

line 3: " 84 84 1055 "
  read    accepted = "84"
  rule    mapping.metric[1] (key "accepted")
  series  nginx_connections_accepted 84 (untyped)
  read    handled = "84"
  rule    mapping.metric[2] (key "handled")
  series  nginx_connections_handled 84 (untyped)
  read    requests = "1055"
  rule    mapping.metric[6] (key "requests")
  series  nginx_http_requests_total 1055 (counter)

line 4: "Reading: 0 Writing: 1 Waiting: 4 "
  read    reading = "0"
  rule    mapping.metric[3] (key "reading")
  series  nginx_connections_reading 0 (gauge)
  read    writing = "1"
  rule    mapping.metric[4] (key "writing")
  series  nginx_connections_writing 1 (gauge)
  read    waiting = "4"
  rule    mapping.metric[5] (key "waiting")
  series  nginx_connections_waiting 4 (gauge)

line 5: "not nginx"
  nothing: no [[regex.rule]] matches it (counted as unmatched)

in all: 7 series in 7 families, 0 parse errors, 0 duplicates, 1 unmatched
"#
    );
    let kv = dir.write("kv.txt", "load: 0.5\nversion: 1.2.3\n\nbroken line\n");
    let out = run_cli(
        &["parse", "--explain", "kv", &kv.display().to_string()],
        CLI_TIMEOUT,
    );
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout,
        r##"line 1: "load: 0.5"
  read    load = "0.5"
  no rule matched: made by unmatched (the catch-all)
  series  load 0.5 (gauge)

line 2: "version: 1.2.3"
  read    version = "1.2.3"
  no rule matched: made by unmatched (the catch-all)
  nothing: version: value "1.2.3" is not a number (a parse error)

line 4: "broken line"
  not read: no ":" separator in "broken line"

in all: 1 series in 1 families, 2 parse errors, 0 duplicates, 0 unmatched
"##
    );
}

const ABBREVIATED: &str = "metric names should not contain abbreviated units";
const CAMEL_CASE: &str = "metric names should be written in 'snake_case' not 'camelCase'";

/// The promtool lint complaints a recipe's golden pages may draw, all names kept from the
/// exporter (or kernel field) the recipe is compatible with, each named in its notes and in
/// the README: (recipe, name, message); a `*` in the name stands for any text.
const INHERITED_LINTS: &[(&str, &str, &str)] = &[
    ("apache_status", "apache_cpu_time_ms_total", ABBREVIATED),
    ("apache_status", "apache_duration_ms_total", ABBREVIATED),
    (
        "apache_status",
        "apache_sent_kilobytes_total",
        "use base unit \"bytes\" instead of \"kilobytes\"",
    ),
    ("meminfo", "node_memory_*", CAMEL_CASE),
    ("meminfo_appended", "node_memory_*", CAMEL_CASE),
    ("redis_info", "redis_*_duration_sec", ABBREVIATED),
    ("vmstat", "node_vmstat_nr_sec_page_table_pages", ABBREVIATED),
];

/// `name` against a pattern whose one optional `*` stands for any text.
fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        Some((head, tail)) => {
            name.len() >= head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail)
        }
        None => name == pattern,
    }
}

/// promtool finds nothing on any built-in recipe's golden page but the lint complaints
/// listed in [`INHERITED_LINTS`] for that recipe (each of which still shows somewhere, so the
/// list cannot go stale), and a bare generic format's page passes its lint whole (every
/// family has a HELP text).
#[test]
fn promtool_has_no_type_complaint_on_any_built_in_page() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recipes");
    let mut pages = 0;
    let mut used = vec![false; INHERITED_LINTS.len()];
    for recipe in std::fs::read_dir(&root).unwrap() {
        let recipe = recipe.unwrap();
        let name = recipe.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(recipe.path()).unwrap() {
            let path = file.unwrap().path();
            if !path.extension().is_some_and(|e| e == "prom") {
                continue;
            }
            pages += 1;
            for line in promtool_lint(&std::fs::read_to_string(&path).unwrap()) {
                let (metric, message) = line.split_once(' ').unwrap_or((&line, ""));
                let rule = INHERITED_LINTS.iter().position(|(r, pattern, m)| {
                    *r == name && *m == message && name_matches(pattern, metric)
                });
                match rule {
                    Some(i) => used[i] = true,
                    None => panic!("{}: promtool: {line}", path.display()),
                }
            }
        }
    }
    for (rule, used) in INHERITED_LINTS.iter().zip(used) {
        assert!(used, "no golden page draws {rule:?} any more: drop it");
    }
    assert!(pages >= 9, "{pages} golden pages");
    let dir = TempDir::new("bare-formats");
    for (format, input) in [
        ("kv", "requests: 5\nload: 0.5\n"),
        ("json", r#"{"requests": 5, "pool": {"idle": 2}}"#),
        ("csv", "name,requests\napi,5\nweb,7\n"),
        (
            "prometheus",
            "# TYPE rpc_seconds summary\nrpc_seconds{quantile=\"0.5\"} 0.2\nrpc_seconds_sum 9\nrpc_seconds_count 30\nplain 1\n",
        ),
    ] {
        let file = dir.write(format!("{format}.txt"), input);
        let out = run_cli(&["parse", format, &file.display().to_string()], CLI_TIMEOUT);
        assert!(out.success(), "{format}: {out}");
        promtool_check(&out.stdout, &[]);
    }
}
