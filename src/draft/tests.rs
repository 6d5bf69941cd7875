//! The draft on small samples of each shape the issue names: the page its recipe gives
//! (compiled and run as `parse` runs it), the guesses' comments, `--explain`, and the
//! samples it refuses.

use super::names::{name, words};
use super::{draft, DraftError, Sample};
use crate::exposition::WireFormat;
use crate::recipe::compile::Parser as _;
use crate::recipe::{preview, Recipe};

/// The recipe drafted from `text` (and `later`), and the page it gives on `text`.
fn drafted(text: &str, later: Option<&str>) -> (String, String) {
    let d = draft(
        Sample {
            name: "s.txt",
            text,
        },
        later.map(|t| Sample {
            name: "s2.txt",
            text: t,
        }),
        "app",
    )
    .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let recipe =
        Recipe::from_toml("app", &d.recipe).unwrap_or_else(|e| panic!("{e}\n{}", d.recipe));
    let parsed = recipe.parse(text.as_bytes()).unwrap();
    assert!(
        parsed.issues.is_empty(),
        "{:?}\n{}",
        parsed.issues,
        d.recipe
    );
    let (page, _) = preview::render(parsed, WireFormat::Text);
    (d.recipe, page)
}

fn has(page: &str, line: &str) {
    assert!(
        page.lines().any(|l| l == line),
        "no {line:?} on the page:\n{page}"
    );
}

#[test]
fn key_colon_value_lines_with_counter_words() {
    let (recipe, page) = drafted("requests: 10\nqueue: 3\n", None);
    has(&page, "app_requests_total 10.0");
    has(&page, "app_queue 3.0");
    assert!(
        recipe.contains("# counter: the key says `requests`"),
        "{recipe}"
    );
    assert!(recipe.contains("format = \"kv\""), "{recipe}");
    assert!(
        recipe.contains("required = [\"requests\", \"queue\"]"),
        "{recipe}"
    );
}

#[test]
fn equals_lines_with_bracketed_names_and_milliseconds() {
    let (recipe, page) = drafted(
        "queue[high].depth=3\nqueue[low].depth=0\nrequest_time_ms=1500\n",
        None,
    );
    has(&page, "app_queue_depth{queue=\"high\"} 3.0");
    has(&page, "app_queue_depth{queue=\"low\"} 0.0");
    has(&page, "app_request_time_seconds 1.5");
    assert!(recipe.contains("separator = \"=\""), "{recipe}");
    assert_eq!(page.matches("# TYPE app_queue_depth ").count(), 1, "{page}");
}

#[test]
fn numbered_copies_and_enumerations_become_labels() {
    let (_, page) = drafted(
        "thread0.num.queries=5\nthread1.num.queries=7\nnum.query.type.A=3\nnum.query.type.AAAA=1\n",
        None,
    );
    has(&page, "app_thread_num_queries_total{thread=\"0\"} 5.0");
    has(&page, "app_thread_num_queries_total{thread=\"1\"} 7.0");
    has(&page, "app_num_query_type{type=\"A\"} 3.0");
    has(&page, "app_num_query_type{type=\"AAAA\"} 1.0");
}

#[test]
fn a_table_of_prefixed_names_becomes_labels() {
    let (_, page) = drafted(
        "uptime:5\ncmdstat_get:calls=5,depth=10\ncmdstat_set:calls=2,depth=4\n",
        None,
    );
    has(&page, "app_cmdstat_calls_total{cmdstat=\"get\"} 5.0");
    has(&page, "app_cmdstat_depth{cmdstat=\"set\"} 4.0");
    let (_, page) = drafted(
        "LCK.ban.creat=1\nLCK.cli.creat=2\nLCK.ban.locks=7\nLCK.cli.locks=3\n",
        None,
    );
    has(&page, "app_lck_locks{lck=\"ban\"} 7.0");
}

#[test]
fn tab_separated_lines() {
    let (recipe, page) = drafted("hits\t5\nmisses\t2\n", None);
    has(&page, "app_hits_total 5.0");
    has(&page, "app_misses_total 2.0");
    assert!(recipe.contains("format = \"kv\""), "{recipe}");
}

#[test]
fn aligned_columns_with_trailing_text_take_it_as_help() {
    let (recipe, page) = drafted(
        "MAIN.uptime            4         1.00 Child process uptime\n\
         MAIN.sess_conn         3         0.75 Sessions accepted\n",
        None,
    );
    assert!(recipe.contains("format = \"regex\""), "{recipe}");
    has(&page, "# HELP app_main_uptime Child process uptime");
    has(&page, "app_main_uptime 4.0");
    has(&page, "# HELP app_main_sess_conn_total Sessions accepted");
}

#[test]
fn a_unit_word_after_the_value_scales_kilobytes() {
    let (_, page) = drafted(
        "MemTotal:  16 kB\nMemFree:   4 kB\nHugePages_Total: 0\n",
        None,
    );
    has(&page, "app_mem_bytes 16384.0");
    has(&page, "app_mem_free_bytes 4096.0");
    // A total that is a size: `_total` is for counters only.
    assert!(!page.contains("app_mem_bytes_total"), "{page}");
}

#[test]
fn two_samples_tell_counters_from_gauges() {
    let (recipe, page) = drafted("a: 5\nb: 5\nc: 1\n", Some("a: 7\nb: 4\nc: 1\n"));
    has(&page, "app_a_total 5.0");
    has(&page, "app_b 5.0");
    has(&page, "app_c 1.0");
    assert!(
        recipe.contains("# counter: it only grew between the two samples"),
        "{recipe}"
    );
    assert!(
        recipe.contains("# gauge: it went down between the two samples"),
        "{recipe}"
    );
}

#[test]
fn words_become_state_sets_and_versions_info() {
    let (recipe, page) = drafted("role: leader\nversion: 3.8.4\nconns: 2\n", None);
    has(&page, "app_role{app_role=\"leader\"} 1.0");
    has(&page, "app_version_info{version=\"3.8.4\"} 1");
    assert!(recipe.contains("states = [\"leader\"]"), "{recipe}");
}

#[test]
fn json_lists_of_objects_are_labelled_by_their_id() {
    let (recipe, page) = drafted(
        r#"{"pool": "www", "accepted": 9, "workers": [{"id": "w1", "jobs": 3}, {"id": "w2", "jobs": 5}]}"#,
        None,
    );
    has(&page, "app_workers_jobs{pool=\"www\",worker=\"w1\"} 3.0");
    has(&page, "app_workers_jobs{pool=\"www\",worker=\"w2\"} 5.0");
    has(&page, "app_accepted_total{pool=\"www\"} 9.0");
    assert!(
        recipe.contains("label_fields = { worker = \"id\" }"),
        "{recipe}"
    );
}

#[test]
fn csv_tables_told_apart_by_a_row_type_column() {
    let (recipe, page) = drafted(
        "type,name,requests,depth\nserver,web1,10,\nserver,web2,4,\nqueue,high,,5\n",
        None,
    );
    assert!(
        recipe.contains("label_columns = [\"type\", \"name\"]"),
        "{recipe}"
    );
    has(
        &page,
        "app_requests_total{type=\"server\",name=\"web1\"} 10.0",
    );
    has(
        &page,
        "app_requests_total{type=\"server\",name=\"web2\"} 4.0",
    );
    has(&page, "app_depth{type=\"queue\",name=\"high\"} 5.0");
}

#[test]
fn a_numeric_row_type_column_labels_too() {
    let (recipe, page) = drafted(
        "# pxname,svname,scur,type,\nweb,FRONTEND,3,0,\nweb,BACKEND,1,1,\nweb,s1,1,2,\napi,FRONTEND,0,0,\n",
        None,
    );
    assert!(
        recipe.contains("column `type` says which table"),
        "{recipe}"
    );
    has(
        &page,
        "app_scur{pxname=\"web\",svname=\"BACKEND\",type=\"1\"} 1.0",
    );
}

#[test]
fn tables_named_by_header_rows_openvpn_status_version_3() {
    let (recipe, page) = drafted(
        "TITLE\tOpenVPN 2.6.14\nHEADER\tCLIENT_LIST\tCommon Name\tBytes Received\tConnected Since (time_t)\n\
         CLIENT_LIST\tc1\t5\t1796642982\nCLIENT_LIST\tc2\t7\t1796642983\n\
         GLOBAL_STATS\tMax bcast/mcast queue length\t0\nGLOBAL_STATS\tdco_enabled\t1\nEND\n",
        None,
    );
    assert!(recipe.contains("format = \"regex\""), "{recipe}");
    has(
        &page,
        "app_client_list_bytes_received_total{common_name=\"c1\"} 5.0",
    );
    has(
        &page,
        "app_client_list_bytes_received_total{common_name=\"c2\"} 7.0",
    );
    has(
        &page,
        "app_client_list_connected_since_timestamp_seconds{common_name=\"c2\"} 1796642983.0",
    );
    has(&page, "app_global_stats_dco_enabled 1.0");
}

#[test]
fn prometheus_text_passes_through() {
    let (recipe, page) = drafted("# TYPE x_total counter\nx_total 3\ny{a=\"1\"} 2\n", None);
    assert!(recipe.contains("format = \"prometheus\""), "{recipe}");
    has(&page, "x_total 3.0");
    has(&page, "y{a=\"1\"} 2.0");
}

#[test]
fn a_long_sample_is_cut_for_its_case() {
    let text: String = (0..100).map(|i| format!("key_{i}_value: {i}\n")).collect();
    let (recipe, _) = drafted(&text, None);
    assert!(recipe.contains("(its first 40 lines)"), "{recipe}");
    assert!(recipe.contains("key_39_value: 39\n"), "{recipe}");
    assert!(!recipe.contains("key_40_value: 40\n"), "{recipe}");
}

#[test]
fn explain_tells_each_line_what_it_became_and_why() {
    let d = draft(
        Sample {
            name: "s.txt",
            text: "# Stats\nrequests: 10\nrole: leader\nstarted: Mon Dec 07 10:54:05 2026\n",
        },
        None,
        "app",
    )
    .unwrap();
    let e = d.explain;
    assert!(
        e.contains("line 1: \"# Stats\"\n  nothing: no value on it"),
        "{e}"
    );
    assert!(
        e.contains("line 2: \"requests: 10\"\n  read    requests = \"10\"\n  became  app_requests_total\n  because counter: the key says `requests`"),
        "{e}"
    );
    assert!(e.contains("became  app_role\n  because state set"), "{e}");
    assert!(
        e.contains("  read    started = \"Mon Dec 07 10:54:05 2026\"\n  dropped: text, neither"),
        "{e}"
    );
}

#[test]
fn samples_it_cannot_draft_are_refused_with_a_reason() {
    let refuse = |text: &str| draft(Sample { name: "s", text }, None, "app").unwrap_err();
    assert_eq!(refuse("  \n\n"), DraftError::Empty);
    assert_eq!(
        refuse("10.0.0.1 - - [29/Nov/2026:22:39:38 +0000] \"GET / HTTP/1.1\" 200 6 \"-\" \"c\"\n"),
        DraftError::Log
    );
    assert_eq!(
        refuse("just some words\nand more words here\n"),
        DraftError::NoLayout
    );
}

#[test]
fn versions_are_three_dotted_numbers() {
    use super::types::is_version;
    for v in [
        "7.0.15",
        "Apache/2.4.71 (Debian)",
        "2.0.21-debian",
        "1.6.18",
    ] {
        assert!(is_version(v), "{v}");
    }
    for v in ["1.06M", "94.41%", "12.5", "127.0.", "a.b.c"] {
        assert!(!is_version(v), "{v}");
    }
}

#[test]
fn names_and_units() {
    assert_eq!(
        words("ParentServerConfigGeneration"),
        ["parent", "server", "config", "generation"]
    );
    assert_eq!(words("Total kBytes"), ["total", "kbytes"]);
    let n = name("request_time_ms", None);
    assert_eq!(
        (n.name.as_str(), n.unit, n.scale),
        ("request_time", Some("seconds"), Some(1e-3))
    );
    let n = name("Total kBytes", None);
    assert_eq!(
        (n.name.as_str(), n.unit, n.scale),
        ("total", Some("bytes"), Some(1024.0))
    );
    let n = name("Frequency", Some("ppm slow"));
    assert_eq!((n.name.as_str(), n.unit), ("frequency_ppm", None));
    let n = name("requests_total", None);
    assert_eq!(n.name, "requests");
}

#[test]
fn a_sample_with_too_many_families_is_refused_quickly() {
    let text: String = (0..6000).map(|i| format!("k{i}x: {i}\n")).collect();
    let start = std::time::Instant::now();
    let err = draft(
        Sample {
            name: "big",
            text: &text,
        },
        None,
        "app",
    )
    .unwrap_err();
    assert_eq!(err, DraftError::TooManyRules(6000));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn many_copies_of_few_keys_draft_in_bounded_time() {
    // 4,000 workers, each with 3 values: one family per value, labelled by worker.
    let text: String = (0..4000)
        .map(|i| format!("worker{i}.jobs={i}\nworker{i}.busy=1\nworker{i}.queue[main].depth=2\n"))
        .collect();
    let start = std::time::Instant::now();
    let (recipe, page) = drafted(&text, None);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    has(&page, "app_worker_jobs{worker=\"3999\"} 3999.0");
    has(
        &page,
        "app_worker_queue_depth{worker=\"7\",queue=\"main\"} 2.0",
    );
    assert_eq!(recipe.matches("[[mapping.metric]]").count(), 3, "{recipe}");
}

// The recorded inputs and their edits, shared with the recipes' property tests (which
// include the file the same way: it is test code in two crates, with no `crate::` paths).
#[allow(clippy::duplicate_mod)]
#[path = "../../tests/integration/harness/inputs.rs"]
mod inputs;

mod properties {
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::super::{draft, DraftError, Sample};
    use super::inputs::{self, Edit};

    /// The recorded inputs as text, and the draft corpus, read once.
    fn samples() -> &'static [String] {
        static SAMPLES: OnceLock<Vec<String>> = OnceLock::new();
        SAMPLES.get_or_init(|| {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/draft");
            let mut all: Vec<String> = inputs::recorded()
                .into_iter()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect();
            let mut corpus: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            corpus.sort();
            all.extend(
                corpus
                    .iter()
                    .filter(|p| p.extension().is_some_and(|e| e != "md" && e != "conf"))
                    .map(|p| std::fs::read_to_string(p).unwrap()),
            );
            all
        })
    }

    /// Bytes the formats care about, and values easy to get wrong.
    const BYTES: &[u8] = b"ab09:=, \t\n#{}[]\".-_";
    const SPLICES: &[&str] = &["1e308", " kB", "NaN", "thread7.", "[x]", "\u{e9}t\u{e9}"];

    /// A recorded sample with up to 6 edits (bytes replaced, inserted, removed, text
    /// spliced in, the rest cut off), as text.
    fn mutated() -> impl Strategy<Value = String> {
        let edit = (0u8..5, any::<usize>(), any::<prop::sample::Index>());
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(edit, 0..6),
        )
            .prop_map(|(pick, edits)| {
                let mut data = pick.get(samples()).clone().into_bytes();
                for (kind, at, which) in edits {
                    let e = match kind {
                        0 => Edit::Replace(*which.get(BYTES)),
                        1 => Edit::Insert(*which.get(BYTES)),
                        2 => Edit::Remove,
                        3 => Edit::Splice(which.get(SPLICES).as_bytes()),
                        _ => Edit::Truncate,
                    };
                    e.apply(&mut data, at);
                }
                String::from_utf8_lossy(&data).into_owned()
            })
    }

    /// Whatever the sample, a draft is a recipe that passes its own case, or a refusal
    /// with a reason: never a panic, never a recipe that fails its own check.
    fn holds(text: &str) -> Result<(), TestCaseError> {
        let later = text.replace('1', "2");
        let got = draft(
            Sample { name: "s", text },
            Some(Sample {
                name: "s2",
                text: &later,
            }),
            "app",
        );
        if let Err(DraftError::SelfCheck(e)) = got {
            return Err(TestCaseError::fail(format!("{e}\n--- sample ---\n{text}")));
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn key_value_lines_always_draft_a_recipe_that_passes_its_case(
            text in "(([A-Za-z_]{1,6}[0-9]{0,2}(\\.|\\[[a-z]{1,3}\\]\\.)?){1,3}[ \t]*[:=, \t][ \t]{0,3}(-?[0-9]{1,6}(\\.[0-9]{1,3})?|[A-Za-z]{1,6}|[0-9]{1,3}\\.[0-9]\\.[0-9]|[0-9]{1,4} [a-zA-Z]{1,6}( [a-z]{1,5}){0,3})[ ]?\n|# [A-Z][a-z]{1,5}\n|\n){1,25}"
        ) {
            holds(&text)?;
        }

        #[test]
        fn any_text_never_panics(text in "\\PC{0,300}") {
            holds(&text)?;
        }

        #[test]
        fn edited_recorded_samples_always_draft_a_recipe_that_passes_its_case(text in mutated()) {
            holds(&text)?;
        }

        #[test]
        fn csv_and_json_shapes_always_draft(
            rows in prop::collection::vec(("[a-z]{1,4}", "[A-Z]{0,3}", 0u32..1000, "[0-9]{0,3}|UP|DOWN"), 1..12),
            json in any::<bool>()
        ) {
            let text = if json {
                let items: Vec<String> = rows
                    .iter()
                    .map(|(a, b, n, c)| format!("{{\"name\": \"{a}{b}\", \"n\": {n}, \"s\": \"{c}\"}}"))
                    .collect();
                format!("{{\"up\": 1, \"items\": [{}]}}", items.join(", "))
            } else {
                let lines: Vec<String> =
                    rows.iter().map(|(a, b, n, c)| format!("{a},{b},{n},{c}")).collect();
                format!("name,kind,count,state\n{}\n", lines.join("\n"))
            };
            holds(&text)?;
        }
    }
}
