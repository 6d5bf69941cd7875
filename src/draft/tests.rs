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
            text: "# Stats\nrequests: 10\nrole: leader\n",
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
