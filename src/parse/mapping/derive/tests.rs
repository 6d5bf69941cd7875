//! Constants, value maps, case, arithmetic, log timestamps and line state, through whole
//! recipes: the lines a log recipe is fed and the totals' page it makes.

use crate::recipe::Recipe;

fn page(recipe: &str, log: &str) -> (Vec<String>, crate::recipe::Fed) {
    let r = Recipe::from_toml("t", recipe).unwrap();
    let mut totals = r.totals();
    let fed = r.feed(log, &mut totals, usize::MAX);
    let mut out = Vec::new();
    for f in totals.families() {
        for s in &f.samples {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push(format!("{}{{{}}} {}", f.name, labels.join(","), s.value));
        }
    }
    (out, fed)
}

const SESSIONS: &str = r#"
description = "sessions"
format = "regex"
[[regex.rule]]
pattern = '^(?P<time>[0-9/]+ [0-9:]+) \[(?P<pid>[0-9]+)\] connect$'
line_key = "connect"
[[regex.rule]]
pattern = '^(?P<time>[0-9/]+ [0-9:]+) \[(?P<pid>[0-9]+)\] (?P<dir>[io]) (?P<verb>[A-Za-z]+) (?P<out>[0-9-]+) (?P<body>[0-9-]+)$'
line_key = "xfer"
[[regex.rule]]
pattern = '^(?P<time>[0-9/]+ [0-9:]+) \[(?P<pid>[0-9]+)\] end$'
line_key = "end"
[mapping.state]
max_keys = 2
[[mapping.metric]]
key = "connect"
name = "connections_total"
accumulate = "count"
drop_labels = ["time", "pid"]
remember = { by = "pid", labels = { start = "time" } }
[[mapping.metric]]
key = "xfer"
name = "header_bytes_total"
accumulate = "sum"
value = "out - body"
map_labels = { dir = { i = "incoming", o = "outgoing" } }
label_case = { verb = "lower" }
labels = { part = "header" }
drop_labels = ["time", "pid"]
continue = true
[[mapping.metric]]
key = "xfer"
name = "doubled_total"
accumulate = "sum"
value = "out * 2"
drop_labels = ["time", "pid", "dir", "verb", "body"]
[[mapping.metric]]
key = "end"
name = "session_seconds_total"
accumulate = "sum"
recall = { by = "pid", forget = true }
value = "time - start"
date_labels = { time = "%Y/%m/%d %H:%M:%S", start = "%Y/%m/%d %H:%M:%S" }
drop_labels = ["pid"]
"#;

#[test]
fn constants_maps_case_and_arithmetic() {
    let (p, fed) = page(
        SESSIONS,
        "2026/12/07 10:00:00 [1] i UPDATE 700 612\n\
         2026/12/07 10:00:00 [1] o Select 100 40\n\
         2026/12/07 10:00:00 [1] i update 500 412\n\
         2026/12/07 10:00:00 [1] x update 20 -\n",
    );
    assert_eq!(
        p,
        [
            "header_bytes{dir=incoming,verb=update,part=header} 176",
            "header_bytes{dir=outgoing,verb=select,part=header} 60",
            "doubled{} 2600",
        ]
    );
    // The last line's `x` is no direction (no line takes it): unmatched, nothing added.
    assert_eq!((fed.issues, fed.unmatched.count), (0, 1));
}

#[test]
fn an_operand_that_is_not_a_number_is_a_parse_error() {
    let (p, fed) = page(SESSIONS, "2026/12/07 10:00:00 [1] i GET 5 9\n");
    // 5 - 9 is negative: a counter cannot add it.
    assert_eq!(p, ["doubled{} 10"]);
    assert_eq!(fed.issues, 1);
    assert_eq!(
        fed.first_issues[0].to_string(),
        "line 1: xfer: a counter cannot add -4"
    );
}

#[test]
fn a_session_time_from_its_start_line_kept_per_pid() {
    let (p, fed) = page(
        SESSIONS,
        "2026/12/07 10:00:00 [1] connect\n\
         2026/12/07 10:00:02 [2] connect\n\
         2026/12/07 10:00:05 [1] end\n\
         2026/12/07 10:01:02 [2] end\n\
         2026/12/07 10:01:03 [2] end\n",
    );
    assert_eq!(p, ["connections{} 2", "session_seconds{} 65",]);
    // pid 2's second end: forgotten by the first, so nothing, counted as unmatched.
    assert_eq!((fed.issues, fed.unmatched.count), (0, 1));
    assert_eq!(
        fed.unmatched.first.as_deref(),
        Some("line 5: end: nothing remembered for pid=\"2\" (no earlier line, or it expired)")
    );
}

#[test]
fn state_outlives_a_read_and_is_bounded() {
    let r = Recipe::from_toml("t", SESSIONS).unwrap();
    let mut totals = r.totals();
    r.feed("2026/12/07 10:00:00 [1] connect\n", &mut totals, usize::MAX);
    // Later reads: pid 1 is still known; three more pids go past max_keys = 2.
    r.feed(
        "2026/12/07 10:00:01 [2] connect\n2026/12/07 10:00:02 [3] connect\n",
        &mut totals,
        usize::MAX,
    );
    assert_eq!((totals.line_state.len(), totals.line_state.evicted), (2, 1));
    let fed = r.feed(
        "2026/12/07 10:00:09 [1] end\n2026/12/07 10:00:09 [3] end\n",
        &mut totals,
        usize::MAX,
    );
    // pid 1 (the oldest) made room for pid 3: its end line finds nothing.
    assert_eq!(fed.unmatched.count, 1);
    let families = totals.families();
    let time = families
        .iter()
        .find(|f| f.name == "session_seconds")
        .unwrap();
    assert_eq!(time.samples[0].value, 7.0);
}

#[test]
fn bad_keys_are_refused_with_where_and_why() {
    let bad = |from: &str, to: &str| {
        let text = SESSIONS.replacen(from, to, 1);
        Recipe::from_toml("t", &text).unwrap_err().to_string()
    };
    assert_eq!(
        bad("value = \"out - body\"", "value = \"out -\""),
        "mapping.metric[1]: value: ends where a name or number belongs"
    );
    assert_eq!(
        bad(
            "label_case = { verb = \"lower\" }",
            "label_case = { verb = \"title\" }"
        ),
        "mapping.metric[1]: label_case.verb: expected \"lower\" or \"upper\", not \"title\""
    );
    assert!(bad("start = \"%Y/%m/%d %H:%M:%S\" }", "start = \"%Q\" }")
        .starts_with("mapping.metric[3]: date_labels.start: date layout \"%Q\": unknown field %Q"));
    assert_eq!(
        bad("max_keys = 2", "max_keys = 0"),
        "mapping.state.max_keys: must be between 1 and 10000000"
    );
    assert!(bad(
        "accumulate = \"count\"\ndrop_labels = [\"time\", \"pid\"]",
        "accumulate = \"count\"\nvalue = \"1\""
    )
    .contains("`value` applies to a rule that reads a number"));
}

/// `parse --explain` tells each step: a label mapped and cased, a value computed from its
/// operands, and the line a recalled label was remembered on.
#[test]
fn explain_shows_each_step_and_where_a_value_came_from() {
    let r = Recipe::from_toml("t", SESSIONS).unwrap();
    let text = crate::recipe::Parser::explain(
        &r,
        b"2026/12/07 10:00:00 [7] connect\n2026/12/07 10:00:00 [7] i UPDATE 700 612\n2026/12/07 10:00:04 [7] end\n",
    )
    .unwrap()
    .unwrap();
    for line in [
        "  derived remembered start=\"2026/12/07 10:00:00\" for pid=\"7\"",
        "  derived dir \"i\" -> \"incoming\" (map_labels)",
        "  derived verb \"UPDATE\" -> \"update\" (label_case)",
        "  derived value = out - body = 88 (out = 700, body = 612)",
        "  derived recalled start=\"2026/12/07 10:00:00\" for pid=\"7\", remembered from line 1 (now forgotten)",
        "  derived value = time - start = 4 (time = 1796637604, start = 1796637600)",
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    }
}
