//! The `regex` format on small inputs, and the built-in line patterns' form.
use super::*;

const STUB_STATUS: &str = "Active connections: 5 \nserver accepts handled requests\n 84 84 1055 \nReading: 0 Writing: 1 Waiting: 4 \n";

fn nginx() -> RegexFormat {
    let opts: Options = toml::from_str(
        r#"
        [[rule]]
        pattern = '^Active connections:\s+(?P<value>\d+)'
        record_key = "active"
        [[rule]]
        pattern = '^\s*(?P<accepted>\d+)\s+(?P<handled>\d+)\s+(?P<requests>\d+)\s*$'
        values = ["accepted", "handled", "requests"]
        [[rule]]
        pattern = '(?P<state>Reading|Writing|Waiting):\s+(?P<value>\d+)'
        record_key = "state"
        "#,
    )
    .unwrap();
    RegexFormat::new(opts).unwrap()
}

#[test]
fn stub_status_positional_values() {
    let (mut r, mut u) = (Vec::new(), Unmatched::default());
    let format = nginx();
    format.records(STUB_STATUS, &mut r, &mut u).unwrap();
    let got: Vec<_> = r
        .iter()
        .map(|r| (r.key.as_ref(), r.value.as_ref(), r.line))
        .collect();
    assert_eq!(
        got[..4],
        [
            ("active", "5", 1),
            ("accepted", "84", 3),
            ("handled", "84", 3),
            ("requests", "1055", 3)
        ]
    );
    // Per-line matching finds only the first state on a line; whole_text would find all.
    assert_eq!(
        r[4].labels.to_vec(),
        vec![("state".to_string(), "Reading".to_string())]
    );
}

#[test]
fn key_templates_and_units() {
    let opts: Options = toml::from_str(
        r#"
        [[rule]]
        pattern = '^(?P<key>[^:]+):\s+(?P<value>\d+)(?:\s+(?P<unit>\w+))?$'
        record_key = "{key}"
        "#,
    )
    .unwrap();
    let (mut r, mut u) = (Vec::new(), Unmatched::default());
    let format = RegexFormat::new(opts).unwrap();
    format
        .records("MemFree: 5 kB\nHugePages_Total: 0\n", &mut r, &mut u)
        .unwrap();
    assert_eq!(
        (r[0].key.as_ref(), r[0].value.as_ref(), r[0].unit),
        ("MemFree", "5", Some("kB"))
    );
    assert_eq!((r[1].key.as_ref(), r[1].unit), ("HugePages_Total", None));
    assert!(r[0].labels.is_empty());
}

/// The header line is unmatched unless a `drop` rule claims it; blank lines never count.
#[test]
fn lines_no_rule_reads_are_counted() {
    let mut u = Unmatched::default();
    nginx()
        .records(STUB_STATUS, &mut Vec::new(), &mut u)
        .unwrap();
    assert_eq!(u.count, 1);
    assert_eq!(
        u.first.as_deref(),
        Some("line 2: no rule matches \"server accepts handled requests\"")
    );
    let opts: Options = toml::from_str(
        "[[rule]]\npattern = '^a (?P<value>[0-9]+)$'\n[[rule]]\npattern = '^server '\ndrop = true\n",
    )
    .unwrap();
    let mut u = Unmatched::default();
    let mut r = Vec::new();
    let format = RegexFormat::new(opts).unwrap();
    format
        .records("a 1\n\nserver accepts\n  \na 2\n", &mut r, &mut u)
        .unwrap();
    assert_eq!((r.len(), u.count), (2, 0));
}

#[test]
fn bad_pattern_is_rejected() {
    let bad: Options = toml::from_str("[[rule]]\npattern = '(?P<x>'\n").unwrap();
    let err = RegexFormat::new(bad).unwrap_err();
    assert_eq!(err.kind(), crate::parse::ErrorKind::Pattern);
    assert_eq!(err.key_path(), "regex.rule[0].pattern");
    let novalue: Options = toml::from_str("[[rule]]\npattern = '(?P<x>a)'\n").unwrap();
    assert!(RegexFormat::new(novalue)
        .unwrap_err()
        .to_string()
        .contains("\"value\""));
    // A `drop` rule makes no record: keys that shape records would do nothing.
    let dropped: Options =
        toml::from_str("[[rule]]\npattern = 'a'\ndrop = true\nrecord_key = 'x'\n").unwrap();
    assert_eq!(
        RegexFormat::new(dropped).unwrap_err().to_string(),
        "regex.rule[0]: `drop` makes no record; drop `values`, `record_key` and `line_key`"
    );
}

/// `derive` takes a capture from another's text; the source capture is no label.
#[test]
fn derive_reads_a_capture_of_a_capture() {
    let opts: Options = toml::from_str(
        r#"
        [[rule]]
        pattern = '^"(?P<request>[^"]*)" (?P<status>[0-9]+)$'
        line_key = "line"
        [[rule.derive]]
        name = "method"
        from = "request"
        pattern = '^([A-Za-z]+) '
        "#,
    )
    .unwrap();
    let format = RegexFormat::new(opts).unwrap();
    let (mut r, mut u) = (Vec::new(), Unmatched::default());
    format
        .records("\"GET / HTTP/1.1\" 200\n\"garbage\" 400\n", &mut r, &mut u)
        .unwrap();
    let labels: Vec<_> = r.iter().map(|r| r.labels.to_vec()).collect();
    let pair = |m: &str, s: &str| {
        vec![
            ("method".to_string(), m.to_string()),
            ("status".to_string(), s.to_string()),
        ]
    };
    assert_eq!(labels, vec![pair("GET", "200"), pair("", "400")]);
    let bad = |derive: &str| {
        let text =
            format!("[[rule]]\npattern = '(?P<value>a)(?P<r>b)'\n[[rule.derive]]\n{derive}\n");
        RegexFormat::new(toml::from_str(&text).unwrap())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        bad("name = 'm'\nfrom = 'x'\npattern = '(a)'"),
        "regex.rule[0].derive[0].from: the pattern has no capture named \"x\""
    );
    assert_eq!(
        bad("name = 'value'\nfrom = 'r'\npattern = '(a)'"),
        "regex.rule[0].derive[0].name: \"value\" is already a capture of this rule"
    );
    assert_eq!(
        bad("name = 'm'\nfrom = 'r'\npattern = 'a'"),
        "regex.rule[0].derive[0].pattern: needs a group, whose text is \"m\""
    );
}

/// The built-in log recipes' line patterns are one-pass: the regex engine then reads a
/// line once, where a pattern with a choice it settles later (`(?:(?P<m>[A-Z]+) x|y)`)
/// is searched, then backtracked, at about three times the cost per line.
#[test]
fn builtin_line_patterns_are_one_pass() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/parsers");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let recipe: toml::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let rules = recipe.get("regex").and_then(|r| r.get("rule"));
        for rule in rules.and_then(|r| r.as_array()).into_iter().flatten() {
            if rule.get("line_key").is_none() {
                continue;
            }
            let pattern = rule["pattern"].as_str().unwrap();
            if let Err(e) = regex_automata::dfa::onepass::DFA::new(pattern) {
                panic!("{}: not one-pass ({e}): {pattern}", path.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "nginx_access and apache_access at least");
}
