use super::*;
use crate::family::{LabelSet, Sample};

fn mapping(toml_text: &str) -> Mapping {
    Mapping::new(toml::from_str(toml_text).unwrap()).unwrap()
}

fn rec<'a>(key: &'a str, value: &'a str) -> Record<'a> {
    Record::new(key, value)
}

fn l(pairs: &[(&str, &str)]) -> LabelSet {
    crate::family::labels(pairs)
}

#[test]
fn unmatched_uses_prefix_and_source_units() {
    let m = mapping("prefix = 'node_memory_'\n[units.kB]\nscale = 1024\nunit = 'bytes'\n");
    let mut r1 = rec("Active(anon)", "2");
    r1.unit = Some("kB");
    let mut issues = Vec::new();
    let f = m.apply(
        vec![r1, rec("HugePages_Total", "0"), rec("version", "abc")],
        &mut issues,
        &mut Unmatched::default(),
    );
    // The word is skipped and counted, not emitted.
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(issues[0]
        .message
        .contains("version: value \"abc\" is not a number"));
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].name, "node_memory_Active_anon_bytes");
    assert_eq!(f[0].samples[0].value, 2048.0);
    assert_eq!(f[1].name, "node_memory_HugePages_Total");
}

#[test]
fn captures_become_labels_unless_used_in_the_name() {
    let m = mapping(
        r#"
        prefix = "redis_"
        [[metric]]
        match = 'cmdstat_(?P<cmd>.+)\.calls'
        name = "commands"
        type = "counter"
        [[metric]]
        match = 'cmdstat_(?P<cmd>.+)\.usec'
        name = "commands_duration"
        unit = "seconds"
        type = "counter"
        scale = 1e-6
        [[metric]]
        match = '(?P<field>.+)_human'
        drop = true
        "#,
    );
    let mut issues = Vec::new();
    let f = m.apply(
        vec![
            rec("cmdstat_get.calls", "3"),
            rec("cmdstat_get.usec", "2000000"),
            rec("used_memory_human", "1.2M"),
        ],
        &mut issues,
        &mut Unmatched::default(),
    );
    assert!(issues.is_empty());
    assert_eq!(f.len(), 2);
    assert_eq!(
        (f[0].name.as_str(), f[0].kind),
        ("redis_commands", MetricKind::Counter)
    );
    assert_eq!(f[0].samples[0].labels, l(&[("cmd", "get")]));
    assert_eq!(f[1].name, "redis_commands_duration_seconds");
    assert_eq!(f[1].samples[0].value, 2.0);
}

#[test]
fn value_words_states_and_infos() {
    let m = mapping(
        r#"
        [[metric]]
        key = "status"
        name = "up"
        words = { UP = 1, DOWN = 0 }
        continue = true
        [[metric]]
        key = "status"
        name = "state"
        type = "stateset"
        states = ["UP", "DOWN", "MAINT"]
        [[metric]]
        match = "version|os"
        name = "instance"
        type = "info"
        "#,
    );
    let mut issues = Vec::new();
    let f = m.apply(
        vec![
            rec("status", "DOWN"),
            rec("version", "7.0"),
            rec("os", "Linux \"x\""),
        ],
        &mut issues,
        &mut Unmatched::default(),
    );
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(f[0].samples[0].value, 0.0);
    assert_eq!(
        f[1].samples.iter().map(|s| s.value).collect::<Vec<_>>(),
        [0.0, 1.0, 0.0]
    );
    assert_eq!(f[1].samples[1].labels, l(&[("state", "DOWN")]));
    assert_eq!(f[2].kind, MetricKind::Info);
    assert_eq!(f[2].samples.len(), 1);
    assert_eq!(
        f[2].samples[0].labels,
        l(&[("version", "7.0"), ("os", "Linux \"x\"")])
    );
}

#[test]
fn non_numbers_are_issues_never_samples() {
    let m = mapping("[[metric]]\nkey = 'a'\n[[metric]]\nkey = 'b'\nnon_numeric = 'skip'\n");
    let mut issues = Vec::new();
    let f = m.apply(
        vec![rec("a", "UP"), rec("b", "x"), rec("c", "inf")],
        &mut issues,
        &mut Unmatched::default(),
    );
    // `b` is skipped quietly (non_numeric = "skip"); `a` (a rule) and `c` (the catch-all)
    // are counted.
    assert!(f.is_empty());
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert!(issues[0].message.contains("\"UP\" is not a number"));
    assert!(issues[1]
        .message
        .contains("c: value \"inf\" is not a number"));
}

#[test]
fn include_exclude_and_static_labels() {
    let m = mapping("include_keys = ['a.*']\nexclude_keys = ['ab']\n[labels]\nenv = 'prod'\n");
    let f = m.apply(
        vec![rec("aa", "1"), rec("ab", "2"), rec("b", "3")],
        &mut Vec::new(),
        &mut Unmatched::default(),
    );
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].samples[0].labels, l(&[("env", "prod")]));
}

#[test]
fn bad_options_are_rejected_with_the_key() {
    let err = Mapping::new(toml::from_str("[[metric]]\nmatch = '('\n").unwrap()).unwrap_err();
    // Where and what, typed: the key path and a kind; the message as users read it.
    assert_eq!(err.key_path(), "mapping.metric[0].match");
    assert_eq!(err.kind(), crate::parse::ErrorKind::Pattern);
    let err = err.to_string();
    assert!(err.starts_with("mapping.metric[0]: match"), "{err}");
    let err = Mapping::new(toml::from_str("[[metric]]\nkey = 'a'\ntype = 'stateset'\n").unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("states"), "{err}");
    let err = Mapping::new(toml::from_str("unmatched = 'info'\n").unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("mapping.unmatched"), "{err}");
}

#[test]
fn names_tables_chars_dates_and_label_edits() {
    let m = mapping(
        r#"
        prefix = "apache_"
        [[metric]]
        names = { "Total Accesses" = "accesses", "Total kBytes" = "sent_kilobytes" }
        type = "counter"
        help = "From {key}."
        [[metric]]
        key = "Scoreboard"
        name = "scoreboard"
        chars = { "_" = "idle", "W" = "reply", "." = "open_slot" }
        [[metric]]
        key = "when"
        prefix = ""
        name = "stamp_seconds"
        value_format = "date"
        [[metric]]
        key = "scur"
        name = "current"
        rename_labels = { pxname = "backend" }
        drop_labels = ["svname"]
        "#,
    );
    let mut issues = Vec::new();
    let mut scur = rec("scur", "7");
    scur.labels = l(&[("pxname", "web"), ("svname", "BACKEND")]);
    let f = m.apply(
        vec![
            rec("Total Accesses", "350"),
            rec("Total kBytes", "133"),
            rec("Scoreboard", "__W..._"),
            rec("when", "Thu Jan  1 00:01:00 UTC 1970"),
            rec("when", "tomorrow"),
            rec("when", "Wed Nov 25 04:46:26 CET 2026"),
            scur,
        ],
        &mut issues,
        &mut Unmatched::default(),
    );
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert!(issues[0].message.contains("is not a date"));
    // The reason reaches the user: a zone name is refused, not guessed.
    assert_eq!(
        issues[1].message,
        "when: value \"Wed Nov 25 04:46:26 CET 2026\" is not a date: time zone name \"CET\" \
         cannot be resolved: write UTC (date -u), a numeric offset (date -R) or RFC 3339 \
         (date -Is)"
    );
    assert_eq!(f[0].name, "apache_accesses");
    assert_eq!(f[0].help, "From Total Accesses.");
    assert_eq!(f[1].name, "apache_sent_kilobytes");
    let board: Vec<_> = f[2]
        .samples
        .iter()
        .map(|s| (s.labels[0].1.as_str(), s.value))
        .collect();
    // One series per character, in the characters' order.
    assert_eq!(board, [("open_slot", 3.0), ("reply", 1.0), ("idle", 3.0)]);
    assert_eq!(
        (f[3].name.as_str(), f[3].samples[0].value),
        ("stamp_seconds", 60.0)
    );
    assert_eq!(f[4].samples[0].labels, l(&[("backend", "web")]));
}

#[test]
fn when_conditions_on_labels() {
    let m = mapping(
        r#"
        unmatched = "drop"
        [[metric]]
        key = "scur"
        when = { svname = "FRONTEND" }
        name = "frontend_current_sessions"
        rename_labels = { pxname = "frontend" }
        drop_labels = ["svname"]
        [[metric]]
        match = ".*"
        when = { svname = "FRONTEND|BACKEND" }
        drop = true
        [[metric]]
        key = "scur"
        name = "server_current_sessions"
        rename_labels = { pxname = "backend", svname = "server" }
        "#,
    );
    let row = |sv: &str, v: &'static str| {
        let mut r = rec("scur", v);
        r.labels = l(&[("pxname", "web"), ("svname", sv)]);
        r
    };
    let f = m.apply(
        vec![row("FRONTEND", "1"), row("BACKEND", "2"), row("s1", "3")],
        &mut Vec::new(),
        &mut Unmatched::default(),
    );
    assert_eq!(f.len(), 2);
    assert_eq!(
        f[0].samples,
        vec![Sample::new(l(&[("frontend", "web")]), 1.0)]
    );
    assert_eq!(
        f[1].samples,
        vec![Sample::new(l(&[("backend", "web"), ("server", "s1")]), 3.0)]
    );
}

/// Format drift: under `unmatched = "drop"` a key no rule names is counted, a deliberate
/// `drop = true` rule is not, and a quietly skipped word is counted too.
#[test]
fn input_no_rule_used_is_counted() {
    let m = mapping(
        "unmatched = 'drop'\n[[metric]]\nkey = 'cache_state'\nwords = { WARM = 1, COLD = 0 }\nnon_numeric = 'skip'\n[[metric]]\nkey = 'pid'\ndrop = true\n",
    );
    let mut u = Unmatched::default();
    let f = m.apply(
        vec![rec("cache_state", "WARM"), rec("pid", "12")],
        &mut Vec::new(),
        &mut u,
    );
    assert_eq!((f.len(), u.count), (1, 0));
    let f = m.apply(
        vec![
            rec("cache_state", "warm"),
            rec("pid", "12"),
            rec("last_gc", "3"),
        ],
        &mut Vec::new(),
        &mut u,
    );
    assert_eq!((f.len(), u.count), (0, 2));
    assert_eq!(
        u.first.as_deref(),
        Some("cache_state: value \"warm\" skipped (non_numeric)")
    );
}

#[test]
fn required_keys_name_what_is_missing() {
    let m = mapping("required = ['MemTotal', 'MemFree', 'timestamp']\n");
    assert_eq!(
        m.check_required(&[rec("MemTotal", "1"), rec("x", "2")]),
        Err(ParseError::MissingKeys(vec![
            "MemFree".into(),
            "timestamp".into()
        ]))
    );
    assert_eq!(
        m.check_required(&[
            rec("timestamp", "1"),
            rec("MemFree", "1"),
            rec("MemTotal", "1")
        ]),
        Ok(())
    );
}

/// A key that means nothing for the rule's type is refused, naming the key and the type.
#[test]
fn keys_that_do_not_apply_to_the_type_are_errors() {
    let err = |rule: &str| {
        Mapping::new(toml::from_str(&format!("[[metric]]\nkey = 'a'\n{rule}")).unwrap())
            .unwrap_err()
            .to_string()
    };
    for (rule, want) in [
        (
            "type = 'info'\nstates = ['x']\n",
            "mapping.metric[0]: `states` does not apply to type \"info\"",
        ),
        (
            "type = 'info'\nchars = { x = 'y' }\n",
            "mapping.metric[0]: `chars` does not apply to type \"info\"",
        ),
        (
            "type = 'info'\nscale = 2.0\n",
            "mapping.metric[0]: `scale` does not apply to type \"info\"",
        ),
        (
            "type = 'stateset'\nstates = ['x']\nwords = { x = 1 }\n",
            "mapping.metric[0]: `words` does not apply to type \"stateset\"",
        ),
        (
            "states = ['x']\n",
            "mapping.metric[0]: `states` does not apply to type \"gauge\"",
        ),
        (
            "type = 'counter'\nlabel = 'x'\n",
            "mapping.metric[0]: `label` does not apply to type \"counter\"",
        ),
        (
            "chars = { x = 'y' }\nscale = 2.0\n",
            "mapping.metric[0]: `scale` does not apply to a rule with `chars`",
        ),
        (
            "words = { x = 1 }\nvalue_format = 'date'\n",
            "mapping.metric[0]: `words` does not apply to value_format = \"date\"",
        ),
        (
            "drop = true\nname = 'x'\n",
            "mapping.metric[0]: `name` does not apply to a `drop` rule, which makes nothing",
        ),
        (
            "ignore_case = true\n",
            "mapping.metric[0]: `ignore_case` applies to `words` or `states`; neither is given",
        ),
        (
            "words = { warm = 1, WARM = 2 }\nignore_case = true\n",
            "mapping.metric[0]: words: \"warm\" is another word's spelling under ignore_case",
        ),
    ] {
        assert_eq!(err(rule), want, "{rule}");
    }
    // `enum` is a state set.
    let m = mapping("[[metric]]\nkey = 'a'\ntype = 'enum'\nstates = ['x', 'y']\n");
    let f = m.apply(
        vec![rec("a", "y")],
        &mut Vec::new(),
        &mut Unmatched::default(),
    );
    assert_eq!(f[0].kind, MetricKind::StateSet);
}

/// A static label and a data label of the same name: the static one wins (as a source's
/// `labels` do), and a rule's static label wins over the mapping's.
#[test]
fn static_labels_replace_data_labels_of_the_same_name() {
    let m = mapping(
        r#"
        labels = { zone = "recipe", env = "prod" }
        [[metric]]
        key = "a"
        labels = { env = "rule" }
        "#,
    );
    let mut a = rec("a", "1");
    a.labels = l(&[("zone", "data"), ("host", "h1")]);
    let mut b = rec("b", "2");
    b.labels = l(&[("env", "data")]);
    let mut issues = Vec::new();
    let f = m.apply(vec![a, b], &mut issues, &mut Unmatched::default());
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(
        f[0].samples[0].labels,
        l(&[("zone", "recipe"), ("host", "h1"), ("env", "rule")])
    );
    assert_eq!(
        f[1].samples[0].labels,
        l(&[("env", "prod"), ("zone", "recipe")])
    );
}

/// A group's `when`, label edits, prefix and type go to each of its rules (a rule's own
/// win); groups come after the ungrouped rules.
#[test]
fn groups_share_settings_and_come_after_ungrouped_rules() {
    let m = mapping(
        r#"
        unmatched = "drop"
        [[metric]]
        key = "x"
        name = "first"
        continue = true
        [[group]]
        when = { type = "0" }
        rename_labels = { pxname = "frontend" }
        drop_labels = ["type"]
        prefix = "fe_"
        type = "counter"
        [[group.metric]]
        key = "x"
        [[group.metric]]
        key = "y"
        type = "gauge"
        prefix = ""
        when = { extra = "1" }
        [[group]]
        rename_labels = { pxname = "proxy" }
        [[group.metric]]
        match = ".*"
        drop = true
        "#,
    );
    let row = |key: &'static str, t: &str, extra: &str| {
        let mut r = rec(key, "5");
        r.labels = l(&[("pxname", "web"), ("type", t), ("extra", extra)]);
        r
    };
    let mut u = Unmatched::default();
    let f = m.apply(
        vec![
            row("x", "0", ""),
            row("y", "0", "1"),
            row("y", "0", "2"),
            row("x", "1", ""),
        ],
        &mut Vec::new(),
        &mut u,
    );
    let got: Vec<_> = f
        .iter()
        .map(|f| (f.name.as_str(), f.kind, f.samples.len()))
        .collect();
    assert_eq!(
        got,
        [
            ("first", MetricKind::Gauge, 2),
            ("fe_x", MetricKind::Counter, 1),
            ("y", MetricKind::Gauge, 1)
        ]
    );
    assert_eq!(
        f[1].samples[0].labels,
        l(&[("frontend", "web"), ("extra", "")])
    );
    // The second `y` (extra = 2) fails the rule's own `when` and is dropped by the last
    // group, on purpose: nothing is unmatched.
    assert_eq!(u.count, 0);
    let err = Mapping::new(
        toml::from_str("[[group]]\ntype = 'info'\n[[group.metric]]\nkey = 'a'\nscale = 2.0\n")
            .unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "mapping.group[0].metric[0]: `scale` does not apply to type \"info\""
    );
}

/// `ignore_case` makes word maps and states match whatever the value's case.
#[test]
fn word_maps_and_states_can_ignore_case() {
    let m = mapping(
        r#"
        [[metric]]
        key = "cache"
        words = { WARM = 1, cold = 0 }
        ignore_case = true
        continue = true
        [[metric]]
        key = "cache"
        name = "cache_state"
        type = "stateset"
        states = ["WARM", "COLD"]
        ignore_case = true
        "#,
    );
    let mut issues = Vec::new();
    let f = m.apply(
        vec![
            rec("cache", "warm"),
            rec("cache", "COLD"),
            rec("cache", "Warm"),
        ],
        &mut issues,
        &mut Unmatched::default(),
    );
    assert!(issues.is_empty(), "{issues:?}");
    let values: Vec<f64> = f[0].samples.iter().map(|s| s.value).collect();
    assert_eq!(values, [1.0, 0.0, 1.0]);
    let states: Vec<(&str, f64)> = f[1]
        .samples
        .iter()
        .map(|s| (s.labels[0].1.as_str(), s.value))
        .collect();
    assert_eq!(
        states,
        [
            ("WARM", 1.0),
            ("COLD", 0.0),
            ("WARM", 0.0),
            ("COLD", 1.0),
            ("WARM", 1.0),
            ("COLD", 0.0)
        ]
    );
}

/// Keys met by one read are kept for the next (see `Known`): a later read gives exactly
/// what a first one gives, `when` still decides per record, unmatched keys are still
/// counted, and a key first met in a later read is worked out then.
#[test]
fn keys_kept_across_reads_decide_as_a_first_read() {
    let m = mapping(
        r#"
        unmatched = "drop"
        exclude_keys = ['skip_.*']
        [[metric]]
        match = 'cmdstat_(?P<cmd>[a-z]+)\.calls'
        name = "commands_total"
        type = "counter"
        [[metric]]
        key = "scur"
        when = { svname = "FRONTEND" }
        name = "frontend_sessions"
        [[metric]]
        key = "scur"
        name = "server_sessions"
        "#,
    );
    let row = |sv: &str, v: &'static str| {
        let mut r = rec("scur", v);
        r.labels = l(&[("svname", sv)]);
        r
    };
    let read = |extra: Option<Record<'static>>| {
        let mut records = vec![
            rec("cmdstat_get.calls", "5"),
            row("FRONTEND", "1"),
            row("s1", "3"),
            rec("skip_me", "1"),
            rec("unknown", "2"),
            rec("cmdstat_set.calls", "7"),
        ];
        records.extend(extra);
        let mut u = Unmatched::default();
        let f = m.apply(records, &mut Vec::new(), &mut u);
        let samples: Vec<_> = f
            .iter()
            .flat_map(|f| {
                f.samples
                    .iter()
                    .map(|s| (f.name.clone(), s.labels.to_vec(), s.value))
            })
            .collect();
        (samples, u.count)
    };
    let first = read(None);
    assert_eq!(m.known().len(), 5, "every key met is kept");
    assert_eq!(read(None), first);
    assert_eq!(first.1, 1, "`unknown` is counted, `skip_me` excluded");
    let (later, _) = read(Some(rec("cmdstat_del.calls", "9")));
    assert_eq!(later.len(), first.0.len() + 1);
    assert!(later.contains(&(
        "commands_total".to_string(),
        vec![("cmd".to_string(), "del".to_string())],
        9.0
    )));
    assert_eq!(m.known().len(), 6);
}
