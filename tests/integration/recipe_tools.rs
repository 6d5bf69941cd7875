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
    assert_eq!(lines.len(), 10, "{out}");
    assert_eq!(
        lines[5],
        "recipe nginx_stub_status (built-in recipe): case \"nginx 1.22 stub_status, the whole page\": ok"
    );
    assert_eq!(lines[9], "9 recipe(s), 9 case(s): 9 passed, 0 failed");
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
