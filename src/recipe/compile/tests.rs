use super::*;

#[test]
fn errors_name_the_key() {
    let err = Recipe::from_toml("x", "description = 'd'\nformat = 'kv'\nsurprise = 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `surprise`"), "{err}");
    let err = Recipe::from_toml("x", "description = 'd'\nformat = 'kv'\n[regex]\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("[regex] options given"), "{err}");
    let err = Recipe::from_toml(
        "x",
        "description = 'd'\nformat = 'kv'\n[kv]\nseparatr = ':'\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("[kv]") && err.contains("separatr"), "{err}");
    let err = Recipe::from_toml("x", "description = 'd'\nformat = 'yaml'\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown format"), "{err}");
}

/// A typo in a key, a format or a type names the word most likely meant.
#[test]
fn typos_get_a_suggestion() {
    let err = |toml: &str| Recipe::from_toml("x", toml).unwrap_err().to_string();
    let e = err("description = 'd'\nformat = 'kv'\n[kv]\nseparatr = ':'\n");
    assert!(
        e.starts_with("[kv] unknown field `separatr`, expected one of `separator`,")
            && e.ends_with("; did you mean `separator`?"),
        "{e}"
    );
    let e = err("description = 'd'\nformat = 'kv'\nup_metrc = 'x'\n");
    assert!(e.ends_with("; did you mean `up_metric`?"), "{e}");
    let e = err("description = 'd'\nformat = 'kv'\n[mapping]\nunmatch = 'drop'\n");
    assert!(e.ends_with("; did you mean `unmatched`?"), "{e}");
    let e = err(
        "description = 'd'\nformat = 'kv'\n[[mapping.metric]]\nkey = 'a'\nnon_numerc = 'skip'\n",
    );
    assert!(e.ends_with("; did you mean `non_numeric`?"), "{e}");
    assert_eq!(
        err("description = 'd'\nformat = 'jsno'\n"),
        "[jsno] unknown format \"jsno\"; expected one of kv, regex, json, csv, prometheus; did you mean \"json\"?"
    );
    assert_eq!(
        err("description = 'd'\nformat = 'kv'\n[[mapping.metric]]\nkey = 'a'\ntype = 'guage'\n"),
        "mapping.metric[0]: unknown type \"guage\"; expected one of gauge, counter, info, stateset, enum, untyped, unknown; did you mean \"gauge\"?"
    );
}

/// A key renamed so each key has one meaning: the old name says what it is now.
#[test]
fn old_key_names_name_the_new_key() {
    let err = |toml: &str| Recipe::from_toml("x", toml).unwrap_err().to_string();
    let head = "description = 'd'\n";
    for (body, want) in [
        (
            "format = 'regex'\n[[regex.rule]]\npattern = '(?P<value>x)'\n[[regex.rule]]\npattern = '(?P<value>x)'\nkey = 'a'\n",
            "regex.rule[1]: `key` is now `record_key`",
        ),
        (
            "format = 'json'\n[json]\nlabels = { a = 'b' }\n",
            "json: `labels` is now `label_fields`",
        ),
        (
            "format = 'json'\n[[json.each]]\npath = 'p'\nprefix = 'q'\n",
            "json.each[0]: `prefix` is now `key_prefix`",
        ),
        (
            "format = 'kv'\n[mapping]\nexclude = ['a']\n",
            "mapping: `exclude` is now `exclude_keys`",
        ),
        (
            "format = 'kv'\n[[mapping.metric]]\nkey = 'a'\nvalues = { UP = 1 }\n",
            "mapping.metric[0]: `values` is now `words`",
        ),
        (
            "format = 'kv'\n[[mapping.group]]\n[[mapping.group.metric]]\nkey = 'a'\nvalues = { UP = 1 }\n",
            "mapping.group[0].metric[0]: `values` is now `words`",
        ),
    ] {
        assert_eq!(err(&format!("{head}{body}")), want, "{body}");
    }
    // The same word where it still means what it always did is fine.
    Recipe::from_toml(
        "x",
        "description = 'd'\nformat = 'regex'\n[[regex.rule]]\npattern = '(?P<a>x)'\nvalues = ['a']\n[[mapping.metric]]\nkey = 'a'\nlabels = { k = 'v' }\n",
    )
    .unwrap();
}

/// The reference, docs/recipes.md, as the sections under its headings: (heading, text).
fn reference_sections() -> Vec<(&'static str, String)> {
    let mut sections: Vec<(&str, String)> = Vec::new();
    let mut in_code = false;
    for line in include_str!("../../../docs/recipes.md").lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        }
        match sections.last_mut() {
            _ if !in_code && line.starts_with('#') => sections.push((line, String::new())),
            Some((_, text)) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    sections
}

/// Every key a recipe table accepts is described in docs/recipes.md, in a table row of
/// that table's section (up to the next heading), and no row describes a key the table
/// does not take: the keys come from the structs themselves, so a new key without a
/// line in the reference, or a line left for a removed one, fails here.
#[test]
fn the_reference_describes_every_key() {
    use crate::keys::keys_of;
    use crate::parse::format;
    let tables: &[(&str, &[&str])] = &[
        ("Top-level keys", keys_of::<RecipeFile>()),
        ("`[kv]`", keys_of::<format::kv::Options>()),
        ("`[regex]`", keys_of::<format::regex::Options>()),
        ("`[[regex.rule]]`", keys_of::<format::regex::RuleOptions>()),
        ("`[json]`", keys_of::<format::json::Options>()),
        ("`[[json.each]]`", keys_of::<format::json::EachOptions>()),
        ("`[csv]`", keys_of::<format::csv::Options>()),
        ("`[prometheus]`", keys_of::<format::prometheus::Options>()),
        ("`[framing]`", keys_of::<FramingOptions>()),
        (
            "`[[request]]`",
            keys_of::<crate::recipe::request::RequestOptions>(),
        ),
        ("`[mapping]`", keys_of::<mapping::Options>()),
        ("`[mapping.units.UNIT]`", keys_of::<mapping::UnitOptions>()),
        ("`[[mapping.metric]]`", keys_of::<mapping::RuleOptions>()),
        ("`[[mapping.group]]`", keys_of::<mapping::GroupOptions>()),
        (
            "`[mapping.defaults]`",
            keys_of::<mapping::DefaultsOptions>(),
        ),
        (
            "`[mapping.state]`",
            keys_of::<mapping::state::StateOptions>(),
        ),
        ("`[[test]]`", keys_of::<crate::recipe::cases::Case>()),
    ];
    // The probe works: the structs do list their keys (renamed ones as written).
    assert!(keys_of::<mapping::RuleOptions>().contains(&"continue"));
    assert!(keys_of::<RecipeFile>().contains(&"mapping"));
    let sections = reference_sections();
    let mut missing = Vec::new();
    for (table, keys) in tables {
        let found: Vec<&String> = sections
            .iter()
            .filter(|(heading, _)| heading.contains(table))
            .map(|(_, text)| text)
            .collect();
        let [text] = found.as_slice() else {
            missing.push(format!(
                "one section headed {table} ({} found)",
                found.len()
            ));
            continue;
        };
        // The first cells of the section's table rows: where a key is described.
        let described: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("| "))
            .filter_map(|l| l.split('|').nth(1))
            .collect();
        for key in *keys {
            let quoted = format!("`{key}`");
            if !described.iter().any(|cell| cell.contains(&quoted)) {
                missing.push(format!("{table}: `{key}`"));
            }
        }
        // Nor does it describe a key the table no longer takes.
        for cell in &described {
            for word in cell.split('`').skip(1).step_by(2) {
                if !keys.contains(&word) {
                    missing.push(format!("{table}: `{word}` is no key of this table"));
                }
            }
        }
    }
    // Every format has its section.
    for name in format::NAMES {
        if !sections
            .iter()
            .any(|(h, _)| h.contains(&format!("`[{name}]`")))
        {
            missing.push(format!("a section for format {name}"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/recipes.md is out of step with the recipe structs (a key is described by a \
         table row whose first cell holds `key`, in its table's section):\n{}",
        missing.join("\n")
    );
}

/// Every TOML example in the reference loads as (part of) a recipe: fragments get the
/// two required top-level keys put before them.
#[test]
fn the_reference_examples_load() {
    let doc = include_str!("../../../docs/recipes.md");
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line) {
            (None, "```toml") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(text), line) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(blocks.len() >= 10, "{} toml blocks", blocks.len());
    for block in blocks {
        let mut text = String::new();
        let has = |key: &str| block.lines().any(|l| l.starts_with(key));
        if !has("description =") {
            text.push_str("description = 'd'\n");
        }
        if !has("format =") {
            text.push_str("format = 'kv'\n");
        }
        text.push_str(&block);
        if let Err(e) = Recipe::from_toml("doc", &text) {
            panic!("docs/recipes.md example does not load: {e}\n{block}");
        }
    }
}

#[test]
fn parses_end_to_end() {
    let r = Recipe::from_toml(
        "t",
        "description = 'd'\nformat = 'kv'\n[mapping]\nprefix = 'app_'\n[[mapping.metric]]\nkey = 'hits'\ntype = 'counter'\n",
    )
    .unwrap();
    let parsed = r.parse(b"hits: 5\nload: 0.5\nbad line\n").unwrap();
    assert_eq!(parsed.families.len(), 2);
    assert_eq!(parsed.families[0].name, "app_hits");
    assert_eq!(parsed.families[1].samples[0].value, 0.5);
    assert_eq!(parsed.issues.len(), 1);
    assert!(matches!(r.parse(b" \n"), Err(ParseError::Empty)));
}

/// `parse --explain` on a format without lines (JSON): one block per record.
#[test]
fn explain_tells_each_json_record() {
    let r = Recipe::from_toml(
        "j",
        "description = 'd'\nformat = 'json'\n[mapping]\nprefix = 'app_'\n[[mapping.metric]]\nkey = 'up'\ntype = 'counter'\n[[mapping.metric]]\nkey = 'name'\ndrop = true\n",
    )
    .unwrap();
    let text = r
        .explain(br#"{"up": 5, "name": "x", "load": "high"}"#)
        .unwrap()
        .unwrap();
    assert_eq!(
        text,
        "record load\n  read    load = \"high\"\n  no rule matched: made by unmatched (the catch-all)\n  \
         nothing: load: value \"high\" is not a number (a parse error)\n\n\
         record name\n  read    name = \"x\"\n  dropped: mapping.metric[1] (key \"name\") has drop = true\n\n\
         record up\n  read    up = \"5\"\n  rule    mapping.metric[0] (key \"up\")\n  series  app_up_total 5 (counter)\n\n\
         in all: 1 series in 1 families, 1 parse errors, 0 duplicates, 0 unmatched\n"
    );
}

/// A runaway input is refused before its families are built (a 1M-key kv page took
/// 950 MB to map; refused after its records, 145 MB).
#[test]
fn too_many_values_are_refused_early() {
    let r = Recipe::generic("kv", "d", "").unwrap();
    let input = (0..11).map(|i| format!("k{i}: 1\n")).collect::<String>();
    assert_eq!(
        r.parse_capped(input.as_bytes(), 10).unwrap_err(),
        ParseError::TooManyValues {
            found: 11,
            limit: 10
        }
    );
    assert_eq!(
        r.parse_capped(input.as_bytes(), 11).unwrap().families.len(),
        11
    );
}

/// Nothing found means down, the same for every format: an empty page, a page of
/// comments, a CSV header alone, lines no rule reads.
#[test]
fn nothing_found_is_down_for_every_format() {
    for (format, input) in [
        ("kv", "\n\n"),
        ("json", "{}"),
        ("csv", "a,b\n"),
        ("prometheus", "# HELP x y\n"),
    ] {
        let r = Recipe::generic(format, "d", "").unwrap();
        assert_eq!(
            r.parse(input.as_bytes()).unwrap_err(),
            ParseError::Empty,
            "{format}"
        );
    }
    let regex = Recipe::from_toml(
        "r",
        "description = 'd'\nformat = 'regex'\n[[regex.rule]]\npattern = '^a (?P<value>[0-9]+)$'\n",
    )
    .unwrap();
    assert_eq!(regex.parse(b"hello\n").unwrap_err(), ParseError::Empty);
    let kv = Recipe::generic("kv", "d", "").unwrap();
    let err = kv.parse(b"no separator\n").unwrap_err().to_string();
    assert!(
        err.starts_with("no values in the input; 1 line(s) could not be read, first: line 1:"),
        "{err}"
    );
}
