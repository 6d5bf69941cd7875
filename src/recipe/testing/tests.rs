use super::*;
use crate::recipe::{Recipe, Registry};

const RECIPE: &str = "description = 'd'\nformat = 'kv'\n[mapping]\nprefix = 'app_'\n[[mapping.metric]]\nkey = 'hits'\ntype = 'counter'\nhelp = 'Hits.'\n";

fn case(input: &str, expect: &str, exact: bool) -> Case {
    Case {
        name: None,
        input: input.into(),
        expect: expect.into(),
        exact,
        log_format: None,
    }
}

fn recipe() -> Recipe {
    Recipe::from_toml("t", RECIPE).unwrap()
}

#[test]
fn a_case_passes_when_its_lines_are_on_the_page() {
    let r = recipe();
    assert_eq!(
        run(
            &r,
            &case(
                "hits: 5\nload: 2\n",
                "app_hits_total 5\n\napp_load 2\n",
                false
            )
        ),
        Ok(())
    );
    // Comment lines are page lines too.
    assert_eq!(
        run(
            &r,
            &case("hits: 5\n", "# TYPE app_hits_total counter\n", false)
        ),
        Ok(())
    );
}

#[test]
fn a_missing_line_is_shown_with_what_the_page_has_instead() {
    let r = recipe();
    let report = run(
        &r,
        &case(
            "hits: 5\nload: 2\n",
            "app_hits_total 6\napp_uptime 1\n",
            false,
        ),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        report,
        "  missing from the page:\n    app_hits_total 6\n      the page has: app_hits_total 5.0\n    app_uptime 1\n      (no line for app_uptime on the page)\n"
    );
}

#[test]
fn an_exact_case_shows_a_line_diff() {
    let r = recipe();
    let page = "# HELP app_hits_total Hits.\n# TYPE app_hits_total counter\napp_hits_total 5\n";
    assert_eq!(run(&r, &case("hits: 5\n", page, true)), Ok(()));
    let report = run(&r, &case("hits: 5\nload: 2\n", page, true))
        .unwrap_err()
        .to_string();
    assert_eq!(
        report,
        "  the page differs from expect (- expected, + on the page):\n    + # HELP app_load load, as the source writes it   (line 4)\n    + # TYPE app_load gauge   (line 5)\n    + app_load 2.0   (line 6)\n"
    );
    let report = run(&r, &case("hits: 7\n", page, true))
        .unwrap_err()
        .to_string();
    assert_eq!(
        report,
        "  the page differs from expect (- expected, + on the page):\n    - app_hits_total 5\n    + app_hits_total 7.0   (line 3)\n"
    );
}

#[test]
fn a_parse_failure_and_skipped_values_are_reported() {
    let r = recipe();
    assert_eq!(
        run(&r, &case(" \n", "app_hits_total 5\n", false))
            .unwrap_err()
            .to_string(),
        "  the input did not parse: no values in the input\n"
    );
    let report = run(&r, &case("hits: 5\nnope\n", "app_hits_total 6\n", false))
        .unwrap_err()
        .to_string();
    assert!(
        report.ends_with("  note: skipped: line 2: no \":\" separator in \"nope\"\n"),
        "{report}"
    );
}

#[test]
fn cases_load_with_the_recipe_and_are_checked() {
    let text = format!(
        "{RECIPE}[[test]]\nname = 'one'\ninput = 'hits: 1'\nexpect = '''\napp_hits_total 1\n'''\n[[test]]\ninput = 'hits: 2'\nexpect = 'app_hits_total 2'\nexact = false\n"
    );
    let r = Recipe::from_toml("t", &text).unwrap();
    assert_eq!(r.tests.len(), 2);
    assert_eq!(r.tests[0].label(0), "\"one\"");
    assert_eq!(r.tests[1].label(1), "#2");
    for c in &r.tests {
        assert_eq!(run(&r, c), Ok(()));
    }
    let err = |extra: &str| {
        Recipe::from_toml("t", &format!("{RECIPE}{extra}"))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("[[test]]\ninput = 'hits: 1'\nexpect = \"\\n \\n\"\n"),
        "test[0].expect: empty; list the page lines the input must give"
    );
    assert_eq!(
        err("[[test]]\ninput = ' '\nexpect = 'x 1'\n"),
        "test[0].input: empty; give the sample to parse"
    );
    assert!(
        err("[[test]]\ninput = 'hits: 1'\nexpected = 'x 1'\n").contains("unknown field `expected`"),
    );
    // `expect` may be a list of lines too.
    let listed = Recipe::from_toml(
        "t",
        &format!("{RECIPE}[[test]]\ninput = 'hits: 3'\nexpect = ['app_hits_total 3', '# TYPE app_hits_total counter']\n"),
    )
    .unwrap();
    assert_eq!(
        listed.tests[0].expect,
        "app_hits_total 3\n# TYPE app_hits_total counter"
    );
    assert_eq!(run(&listed, &listed.tests[0]), Ok(()));
    assert!(
        err("[[test]]\ninput = 'hits: 1'\nexpect = 5\n")
            .contains("a string (one line each) or a list of strings"),
        "{}",
        err("[[test]]\ninput = 'hits: 1'\nexpect = 5\n")
    );
    // The registry keeps the cases beside the parser.
    let mut reg = Registry::default();
    reg.insert_recipe(r, crate::recipe::registry::Origin::Generic);
    assert_eq!(reg.get("t").unwrap().cases.len(), 2);
}

/// Every built-in recipe carries at least one case, and all of them pass.
#[test]
fn every_builtin_recipe_has_passing_cases() {
    let reg = Registry::builtin().unwrap();
    for (name, _) in crate::recipe::registry::EMBEDDED {
        let entry = reg.get(name).unwrap();
        assert!(!entry.cases.is_empty(), "{name} has no [[test]] case");
        for (i, c) in entry.cases.iter().enumerate() {
            if let Err(report) = run(entry.parser.as_ref(), c) {
                panic!("{name}: case {}:\n{report}", c.label(i));
            }
        }
    }
}

#[test]
fn large_pages_fall_back_to_missing_and_unexpected_lines() {
    let a = ["x 1".to_string(), "y 2".to_string()];
    let b = ["y 2".to_string(), "z 3".to_string()];
    let ops = naive_diff(&a, &b);
    let text: Vec<String> = ops
        .iter()
        .map(|op| match op {
            Op::Removed(i) => format!("-{i}"),
            Op::Added(j) => format!("+{j}"),
        })
        .collect();
    assert_eq!(text, ["-0", "+1"]);
    assert_eq!(normal("a{b=\"c d\"} 5.0"), "a{b=\"c d\"} 5");
    assert_eq!(normal("a 1e3"), "a 1000");
    assert_eq!(normal("a NaN"), normal("a nan"));
    assert_eq!(normal("# HELP a 5.0"), "# HELP a 5.0");
}

/// The example in docs/recipes.md's `[[test]]` section passes as written.
#[test]
fn the_reference_example_passes() {
    let doc = include_str!("../../../docs/recipes.md");
    let section = doc.split("## `[[test]]`").nth(1).unwrap();
    let block = section
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .unwrap();
    let r = Recipe::from_toml("myapp", block).unwrap();
    assert_eq!(r.tests.len(), 2);
    for c in &r.tests {
        assert_eq!(run(&r, c), Ok(()), "{}", c.label(0));
    }
}
