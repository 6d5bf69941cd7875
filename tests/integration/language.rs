//! The recipe language through the real binary: one rule for a static label against a
//! data label of the same name, at recipe and at source level.

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
