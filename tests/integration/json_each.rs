//! `[[json.each]]` beyond one level, end to end: an `exec` source running the real
//! `ip -j addr` (a top-level array of links, each with `addr_info[]`), read by an inline
//! recipe with a nested path, a filter and labels from both levels; and `parse --explain`
//! telling where in the document each record came from.

use std::time::Duration;

use crate::harness::*;

const RECIPE: &str = r#"
[recipes.ip_addr]
description = "IPv4 addresses of each link (ip -j addr)"
format = "json"
[[recipes.ip_addr.json.each]]
path = '[].addr_info[?(@.family=="inet")]'
key_prefix = "addr"
label_fields = { ifname = "[].ifname", address = "local" }
[recipes.ip_addr.mapping]
prefix = "ip_"
unmatched = "drop"
[[recipes.ip_addr.mapping.metric]]
key = "addr.prefixlen"
name = "address_prefix_length"
type = "gauge"
[[recipes.ip_addr.test]]
input = '[{"ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}, {"family": "inet6", "local": "::1", "prefixlen": 128}]}]'
expect = '''ip_address_prefix_length{address="127.0.0.1",ifname="lo"} 8'''
"#;

#[test]
fn nested_json_from_a_real_command_is_labelled_from_both_levels() {
    require_binary("/usr/sbin/ip");
    let adapter = Adapter::start(&format!(
        "[sources.net]\ntype = \"exec\"\nparser = \"ip_addr\"\n\
         command = [\"/usr/sbin/ip\", \"-j\", \"addr\"]\n{RECIPE}"
    ));
    let page = adapter.metrics();
    assert!(
        page.contains("ip_address_prefix_length{address=\"127.0.0.1\",ifname=\"lo\"} 8"),
        "{page}"
    );
    // IPv6 addresses did not pass the filter.
    assert!(!page.contains("address=\"::1\""), "{page}");
}

#[test]
fn explain_tells_where_each_record_of_a_nested_document_came_from() {
    let dir = TempDir::new("json-each");
    let config = dir.write("adapter.toml", RECIPE);
    let sample = dir.write(
        "ip.json",
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/json/iproute2-6.1-ip-addr.json"
        ))
        .unwrap(),
    );
    let out = run_cli(
        &[
            "--config",
            &config.display().to_string(),
            "parse",
            "--explain",
            "ip_addr",
            &sample.display().to_string(),
        ],
        Duration::from_secs(20),
    );
    assert!(out.success(), "{out}");
    assert!(
        out.stdout.contains(
            "record addr.prefixlen\n  read    addr.prefixlen{address=\"127.0.0.1\",ifname=\"lo\"} = \"8\"\n  \
             from    [0].addr_info[0]\n"
        ),
        "{}",
        out.stdout
    );
}
