//! The recipe tools, with the real binary: `test` (a recipe's `[[test]]` cases), `check`
//! running the cases of the recipes in use, inline `[recipes.NAME]` in the config, recipe
//! directories that also hold other files, and `parse` with a recipe file or a config's
//! source.

use std::time::Duration;

use crate::harness::*;

const CLI_TIMEOUT: Duration = Duration::from_secs(30);

/// A small kv recipe with one case; `expect` is that case's expected line.
fn recipe_with_case(expect: &str) -> String {
    format!(
        "description = 'myapp status'\nformat = 'kv'\n[mapping]\nprefix = 'myapp_'\n\
         [[mapping.metric]]\nkey = 'requests'\ntype = 'counter'\n\
         [[test]]\nname = 'quiet'\ninput = '''\nrequests: 1200\nqueue: 3\n'''\n\
         expect = '''\nmyapp_requests_total {expect}\nmyapp_queue 3\n'''\n"
    )
}

#[test]
fn test_runs_every_builtin_recipes_cases() {
    let out = run_cli(&["test"], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 25, "{out}");
    assert_eq!(
        lines[14],
        "recipe nginx_stub_status (built-in recipe): case \"nginx 1.22 stub_status, the whole page\": ok"
    );
    assert_eq!(lines[24], "17 recipe(s), 24 case(s): 24 passed, 0 failed");
    assert_eq!(out.stderr, "");
}

#[test]
fn test_shows_what_a_failing_case_lacks_and_exits_1() {
    let dir = TempDir::new("recipe-test-fail");
    let file = dir.write("myapp.toml", recipe_with_case("1300"));
    let file = file.display().to_string();
    let out = run_cli(&["test", &file], CLI_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert_eq!(
        out.stdout,
        format!(
            "recipe myapp (recipe file {file}): case \"quiet\": FAILED\n  missing from the page:\n    myapp_requests_total 1300\n      the page has: myapp_requests_total 1200.0\n1 recipe(s), 1 case(s): 0 passed, 1 failed\n"
        )
    );
    // The same recipe with the right number passes; by name, a built-in recipe too.
    dir.write("myapp.toml", recipe_with_case("1200"));
    let out = run_cli(&["test", &file, "vmstat"], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    assert!(
        out.stdout
            .ends_with("2 recipe(s), 2 case(s): 2 passed, 0 failed\n"),
        "{out}"
    );
    // A bare word is a parser's name (or a directory): a misspelt one gets a hint.
    let out = run_cli(&["test", "meminf"], CLI_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert_eq!(
        out.stderr,
        "metrics-adapter: error: no parser named \"meminf\"; did you mean \"meminfo\"? (see `metrics-adapter parsers`)\n"
    );
}

#[test]
fn test_takes_a_directory_and_skips_what_is_not_a_recipe() {
    let dir = TempDir::new("recipe-test-dir");
    dir.write("myapp.toml", recipe_with_case("1200"));
    // A config file and a README mounted beside the recipes (one ConfigMap).
    dir.write(
        "adapter.toml",
        "[sources.app]\ntype = 'file'\npath = '/x'\nparser = 'myapp'\n",
    );
    dir.write("README.txt", "recipes for myapp\n");
    let d = dir.path().display().to_string();
    let out = run_cli(&["test", &d], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout,
        format!(
            "recipe myapp (recipe file {d}/myapp.toml): case \"quiet\": ok\n1 recipe(s), 1 case(s): 1 passed, 0 failed\n"
        )
    );
    assert_eq!(
        out.stderr,
        format!(
            "{d}/README.txt: skipped: not a .toml file\n{d}/adapter.toml: skipped: not a recipe (no top-level format, description or other recipe key)\n"
        )
    );
    // A directory without a case is a failure: a test run that tests nothing is a mistake.
    let empty = TempDir::new("recipe-test-empty");
    empty.write("plain.toml", "description = 'd'\nformat = 'kv'\n");
    let out = run_cli(&["test", &empty.path().display().to_string()], CLI_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stdout.contains("recipe plain ("), "{out}");
    assert!(
        out.stdout
            .ends_with(": no [[test]] cases\n1 recipe(s), 0 case(s): 0 passed, 0 failed\n"),
        "{out}"
    );
}

#[test]
fn check_runs_the_cases_of_the_recipes_in_use() {
    let dir = TempDir::new("recipe-check");
    let recipes = dir.mkdir("recipes");
    std::fs::write(recipes.join("myapp.toml"), recipe_with_case("1300")).unwrap();
    let config = dir.write(
        "adapter.toml",
        format!(
            "[parsers]\ndirs = [{}]\n[sources.app]\ntype = 'file'\npath = '/x'\nparser = 'myapp'\n",
            toml_str(&recipes.display().to_string())
        ),
    );
    let config = config.display().to_string();
    let out = run_cli(&["check", "--config", &config], CLI_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(
        out.stdout.ends_with("recipe tests: 0 passed, 1 failed\n"),
        "{out}"
    );
    assert!(
        out.stderr.ends_with(
            "metrics-adapter: error: recipe tests failed: recipe myapp: case \"quiet\"\n"
        ),
        "{out}"
    );
    assert!(
        out.stderr
            .contains("  missing from the page:\n    myapp_requests_total 1300\n"),
        "{out}"
    );
    std::fs::write(recipes.join("myapp.toml"), recipe_with_case("1200")).unwrap();
    let out = run_cli(&["check", "--config", &config], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    assert!(
        out.stdout.ends_with("recipe tests: 1 passed, 0 failed\n"),
        "{out}"
    );
}

/// One config file holds the whole adapter: the source and its recipe, `[recipes.NAME]`,
/// with its case run by `check`.
#[test]
fn an_inline_recipe_serves_a_page() {
    let data = TempDir::new("inline-recipe");
    let stats = data.write("stats.txt", "requests: 1200\nqueue: 3\n");
    let recipe = "[recipes.myapp]\ndescription = 'myapp status'\nformat = 'kv'\n\
                  [recipes.myapp.mapping]\nprefix = 'myapp_'\n\
                  [[recipes.myapp.mapping.metric]]\nkey = 'requests'\ntype = 'counter'\n\
                  [[recipes.myapp.test]]\ninput = 'requests: 5'\nexpect = 'myapp_requests_total 5'\n";
    let config = format!(
        "[sources.app]\ntype = 'file'\npath = {}\nparser = 'myapp'\n\n{recipe}",
        toml_str(&stats.display().to_string())
    );
    let adapter = Adapter::start(&config);
    let page = adapter.metrics();
    assert!(
        page.contains("# TYPE myapp_requests_total counter\nmyapp_requests_total 1200.0\n"),
        "{page}"
    );
    assert!(page.contains("\nmyapp_queue 3.0\n"), "{page}");
    let path = adapter.config_path().display().to_string();
    let out = run_cli(&["check", "--config", &path], CLI_TIMEOUT);
    assert!(out.success(), "{out}");
    assert!(
        out.stdout.contains(&format!(
            "  app: file {} -> parser myapp (inline recipe in {path})\n",
            stats.display()
        )),
        "{out}"
    );
    assert!(
        out.stdout.ends_with("recipe tests: 1 passed, 0 failed\n"),
        "{out}"
    );
    // Its name must be its own.
    let clash = config.replace("myapp", "meminfo");
    let dir = TempDir::new("inline-clash");
    let clash = dir.write("adapter.toml", clash).display().to_string();
    let out = run_cli(&["check", "--config", &clash], CLI_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert_eq!(
        out.stderr,
        format!("metrics-adapter: error: {clash}: recipes.meminfo: the name of a built-in recipe; an inline recipe cannot replace another, so name it differently\n")
    );
}

/// A ConfigMap mounted as one directory: the config file sits among the recipes, and
/// `parsers.dirs` names that directory. The start is not stopped by the config file; what
/// was skipped is logged.
#[test]
fn a_recipe_directory_may_hold_the_config_file() {
    let dir = TempDir::new("configmap-dir");
    dir.write("myapp.toml", recipe_with_case("1200"));
    let stats = dir.write("stats.txt", "requests: 7\nqueue: 0\n");
    let d = dir.path().display().to_string();
    let config = dir.write(
        "adapter.toml",
        format!(
            "[parsers]\ndirs = [{}]\n[sources.app]\ntype = 'file'\npath = {}\nparser = 'myapp'\n",
            toml_str(&d),
            toml_str(&stats.display().to_string())
        ),
    );
    let config = config.display().to_string();
    let adapter = Adapter::start_with(None, &["--config", &config]);
    let page = adapter.metrics();
    assert!(page.contains("\nmyapp_requests_total 7.0\n"), "{page}");
    let logs = adapter.stderr();
    assert!(
        logs.contains(&format!(
            "recipe directory {d}: skipped {d}/adapter.toml: not a recipe (no top-level format, description or other recipe key)"
        )),
        "{logs}"
    );
    assert!(
        logs.contains(&format!(
            "recipe directory {d}: skipped {d}/stats.txt: not a .toml file"
        )),
        "{logs}"
    );
}

/// With the real binary: a bad value from a variable is reported under the variable's
/// name, and a source whose name has capitals is reached by its (uppercase) variable.
#[test]
fn environment_errors_name_the_variable() {
    let dir = TempDir::new("env-errors");
    let stats = dir.write("stats.txt", "a: 1\n");
    let config = dir
        .write(
            "adapter.toml",
            "[sources.MyApp]\ntype = 'file'\npath = '/nonexistent'\nparser = 'kv'\nmax_bytes = '64KiB'\n",
        )
        .display()
        .to_string();
    let out = run_cli_with_env(
        &["check", "--config", &config],
        &[("METRICS_ADAPTER__SOURCES__MYAPP__TIMEOUT", "soon")],
        CLI_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert_eq!(
        out.stderr,
        "metrics-adapter: error: METRICS_ADAPTER__SOURCES__MYAPP__TIMEOUT: \"soon\" is not a positive duration like 500ms, 5s or 1m\n"
    );
    let stats = stats.display().to_string();
    let out = run_cli_with_env(
        &["once", "--config", &config],
        &[
            ("METRICS_ADAPTER__SOURCES__MYAPP__PATH", &stats),
            ("METRICS_ADAPTER__SOURCES__MYAPP__LABELS__ZONE", "01"),
        ],
        CLI_TIMEOUT,
    );
    assert!(out.success(), "{out}");
    assert!(out.stdout.contains("\na{zone=\"01\"} 1.0\n"), "{out}");
    let out = run_cli(&["check", "--config", &config], CLI_TIMEOUT);
    assert!(out.stdout.contains("    max_bytes = 65536\n"), "{out}");
}

/// `parse` takes a recipe file as RECIPE, and with `--config ... --source NAME` reads the
/// sample as that source does: its own framing (the latest complete block of an append
/// log) and its labels, with the config's inline recipe.
#[test]
fn parse_takes_a_recipe_file_and_a_configs_source() {
    let dir = TempDir::new("parse-source");
    let recipe = dir.write("myapp.toml", recipe_with_case("1200"));
    let sample = dir.write("sample.txt", "requests: 5\n");
    let out = run_cli(
        &[
            "parse",
            &recipe.display().to_string(),
            &sample.display().to_string(),
        ],
        CLI_TIMEOUT,
    );
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout,
        "# HELP myapp_requests_total requests, as the source writes it\n# TYPE myapp_requests_total counter\nmyapp_requests_total 5.0\n"
    );
    let log = dir.write(
        "stats.log",
        "--- 1\nrequests: 1\n--- 2\nrequests: 2\n--- 3\nrequests: 3\n",
    );
    let config = dir.write(
        "adapter.toml",
        format!(
            "[sources.app]\ntype = 'file'\npath = {}\nparser = 'inline'\nblock_start = '^--- '\n\
             labels = {{ zone = '01' }}\n\n[recipes.inline]\ndescription = 'd'\nformat = 'kv'\n\
             [recipes.inline.kv]\ncomment_prefix = '---'\n",
            toml_str(&log.display().to_string())
        ),
    );
    let config = config.display().to_string();
    let log = log.display().to_string();
    let out = run_cli(
        &[
            "parse", "--config", &config, "--source", "app", "inline", &log,
        ],
        CLI_TIMEOUT,
    );
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout,
        "# HELP requests requests, as the source writes it\n# TYPE requests gauge\nrequests{zone=\"01\"} 3.0\n"
    );
    assert_eq!(
        out.stderr,
        "framing: the latest complete block, 18 of 54 bytes\n"
    );
    // Without --source, the whole file through the recipe (no framing of its own): the
    // verdict a source without block_start reaches, not the oldest block.
    let out = run_cli(&["parse", "--config", &config, "inline", &log], CLI_TIMEOUT);
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    assert!(
        out.stderr
            .contains("it looks like an append log of whole dumps"),
        "{out}"
    );
    let out = run_cli(
        &[
            "parse", "--config", &config, "--source", "ap", "inline", &log,
        ],
        CLI_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(1), "{out}");
    assert_eq!(
        out.stderr,
        format!(
            "metrics-adapter: error: no source named \"ap\" in {config}; did you mean \"app\"?\n"
        )
    );
    let out = run_cli(&["parse", "--source", "app", "inline", &log], CLI_TIMEOUT);
    assert_eq!(
        out.stderr,
        "metrics-adapter: error: --source needs --config FILE: it names one of the config's sources\n"
    );
}
