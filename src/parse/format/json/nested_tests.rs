//! `[[json.each]]` beyond one level: nested iteration labelled from every level, a
//! top-level array, filters, on a recorded `ip -j addr` (iproute2 6.1) and php-fpm's
//! `?json&full`, and on small documents for each rule.

use super::*;

type Flat = (String, String, crate::family::Labels, Option<String>);

fn run(opts: &str, text: &str) -> (Vec<Flat>, Vec<String>) {
    let j = Json::new(toml::from_str(opts).unwrap()).unwrap();
    let (mut r, mut i) = (Vec::new(), Vec::new());
    j.records(text, &mut r, &mut i).unwrap();
    let flat = r
        .iter()
        .map(|r| {
            (
                r.key.to_string(),
                r.value.to_string(),
                r.labels.to_vec(),
                r.from.as_deref().map(str::to_string),
            )
        })
        .collect();
    (flat, i.iter().map(ToString::to_string).collect())
}

fn l(pairs: &[(&str, &str)]) -> crate::family::Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn error(opts: &str) -> String {
    Json::new(toml::from_str(opts).unwrap())
        .unwrap_err()
        .to_string()
}

const POOLS: &str = r#"{"pools": [
  {"name": "web", "workers": [{"id": 1, "state": "ACTIVE", "requests": 10},
                              {"id": 2, "state": "IDLE", "requests": 3}]},
  {"name": "api", "workers": [{"id": 7, "state": "ACTIVE", "requests": 5}]},
  {"name": "spare"}
]}"#;

#[test]
fn nested_items_are_labelled_from_every_level() {
    let (r, i) = run(
        "[[each]]\npath = \"pools[].workers[]\"\nlabel_fields = { pool = \"pools[].name\", worker = \"id\" }\n",
        POOLS,
    );
    assert!(i.is_empty(), "{i:?}");
    let requests: Vec<_> = r
        .iter()
        .filter(|r| r.0 == "pools.workers.requests")
        .collect();
    assert_eq!(
        requests,
        vec![
            &(
                "pools.workers.requests".to_string(),
                "10".to_string(),
                l(&[("pool", "web"), ("worker", "1")]),
                Some("pools[0].workers[0]".to_string())
            ),
            &(
                "pools.workers.requests".to_string(),
                "3".to_string(),
                l(&[("pool", "web"), ("worker", "2")]),
                Some("pools[0].workers[1]".to_string())
            ),
            &(
                "pools.workers.requests".to_string(),
                "5".to_string(),
                l(&[("pool", "api"), ("worker", "7")]),
                Some("pools[1].workers[0]".to_string())
            ),
        ]
    );
    // The label fields are not also records; a pool without workers has none.
    assert!(!r.iter().any(|r| r.0 == "pools.workers.id"), "{r:?}");
    assert_eq!(r.len(), 6, "{r:?}");
}

#[test]
fn a_filter_keeps_the_items_whose_field_has_the_value() {
    let (r, _) = run(
        "[[each]]\npath = 'pools[].workers[?(@.state==\"ACTIVE\")]'\nlabel_fields = { pool = \"pools[].name\", worker = \"id\" }\n",
        POOLS,
    );
    let got: Vec<_> = r
        .iter()
        .filter(|r| r.0 == "pools.workers.requests")
        .map(|r| (r.1.as_str(), r.2.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("10", l(&[("pool", "web"), ("worker", "1")])),
            ("5", l(&[("pool", "api"), ("worker", "7")])),
        ]
    );
    // != and a single-quoted value, and a filter on an outer level.
    let (r, _) = run(
        "[[each]]\npath = \"pools[?(@.name != 'web')].workers[?(@.id == 7)]\"\nlabel_fields = { pool = \"pools[].name\" }\n",
        POOLS,
    );
    let got: Vec<_> = r.iter().map(|r| (r.0.as_str(), r.1.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("pools.workers.id", "7"),
            ("pools.workers.requests", "5"),
            ("pools.workers.state", "ACTIVE")
        ]
    );
}

#[test]
fn an_outer_level_and_the_nested_one_are_read_apart() {
    // The pool's own numbers from one `each`, its workers' from another: the outer one
    // leaves the nested array to the inner one.
    let doc =
        r#"{"pools": [{"name": "web", "accepted": 9, "workers": [{"id": 1, "requests": 4}]}]}"#;
    let (r, _) = run(
        "[[each]]\npath = \"pools[]\"\nlabel_fields = { pool = \"name\" }\n\
         [[each]]\npath = \"pools[].workers[]\"\nlabel_fields = { pool = \"pools[].name\", worker = \"id\" }\n",
        doc,
    );
    let got: Vec<_> = r
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_str(), r.2.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("pools.accepted", "9", l(&[("pool", "web")])),
            (
                "pools.workers.requests",
                "4",
                l(&[("pool", "web"), ("worker", "1")])
            ),
        ]
    );
}

#[test]
fn a_level_gives_its_key_or_index_and_object_entries_iterate() {
    let doc = r#"{"upstreams": {"app": {"peers": [{"server": "10.0.0.1:80", "active": 2}]},
                                "db": {"peers": [{"server": "10.0.0.2:5432", "active": 1}]}}}"#;
    let (r, _) = run(
        "[[each]]\npath = \"upstreams[].peers[]\"\nlabel_fields = { upstream = \"upstreams[]\", peer = \"server\", n = \"upstreams[].peers[]\" }\n",
        doc,
    );
    let got: Vec<_> = r
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_str(), r.2.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "upstreams.peers.active",
                "2",
                l(&[("n", "0"), ("peer", "10.0.0.1:80"), ("upstream", "app")])
            ),
            (
                "upstreams.peers.active",
                "1",
                l(&[("n", "0"), ("peer", "10.0.0.2:5432"), ("upstream", "db")])
            ),
        ]
    );
}

#[test]
fn a_missing_label_field_at_any_level_skips_the_item_and_says_where() {
    let doc = r#"{"pools": [{"workers": [{"id": 1, "requests": 2}]}, {"name": "b", "workers": [{"requests": 3}]}]}"#;
    let (r, i) = run(
        "[[each]]\npath = \"pools[].workers[]\"\nlabel_fields = { pool = \"pools[].name\", worker = \"id\" }\n",
        doc,
    );
    assert!(r.is_empty(), "{r:?}");
    assert_eq!(
        i,
        vec![
            "pools[0].workers[0]: no field \"name\" for label pool; item skipped",
            "pools[1].workers[0]: no field \"id\" for label worker; item skipped",
        ]
    );
}

#[test]
fn a_recorded_ip_addr_top_level_array_with_nested_addresses() {
    // `ip -j addr` (iproute2 6.1): a top-level array of links, each with addr_info[].
    let text = include_str!("../../../../tests/fixtures/json/iproute2-6.1-ip-addr.json");
    let (r, i) = run(
        "[[each]]\npath = '[].addr_info[?(@.family==\"inet\")]'\nkey_prefix = \"addr\"\n\
         label_fields = { ifname = \"[].ifname\", address = \"local\" }\n",
        text,
    );
    assert!(i.is_empty(), "{i:?}");
    let lo = r
        .iter()
        .find(|r| r.0 == "addr.prefixlen" && r.2.contains(&("ifname".into(), "lo".into())))
        .unwrap();
    assert_eq!(lo.1, "8");
    assert_eq!(lo.2, l(&[("address", "127.0.0.1"), ("ifname", "lo")]));
    assert_eq!(lo.3.as_deref(), Some("[0].addr_info[0]"));
    // Only IPv4 addresses passed the filter; the links' own fields are not read.
    assert!(r.iter().all(|r| r.0.starts_with("addr.")), "{r:?}");
    assert!(!r.iter().any(|r| r.1 == "inet6"), "{r:?}");
    let v4 = text.matches("\"family\":\"inet\"").count();
    assert_eq!(r.iter().filter(|r| r.0 == "addr.prefixlen").count(), v4);
}

#[test]
fn php_fpm_full_filtered_on_state_as_json_exporter_users_do() {
    let text = include_str!("../../../../tests/fixtures/samples/php-fpm/status-full.json");
    let (r, i) = run(
        "label_fields = { pool = \"pool\" }\n[[each]]\n\
         path = 'processes[?(@.state==\"Idle\")]'\nlabel_fields = { pid = \"pid\" }\n",
        text,
    );
    assert!(i.is_empty(), "{i:?}");
    let idle = text.matches("\"state\":\"Idle\"").count();
    assert!(idle >= 1);
    let states: Vec<_> = r.iter().filter(|r| r.0 == "processes.state").collect();
    assert_eq!(states.len(), idle);
    assert!(states.iter().all(|r| r.1 == "Idle"), "{states:?}");
}

#[test]
fn a_path_that_cannot_be_read_is_a_recipe_error() {
    assert_eq!(
        error("[[each]]\npath = \"pools[].workers\"\n"),
        "json.each[0].path \"pools[].workers\": \"workers\" must end with [] or a filter"
    );
    assert_eq!(
        error("[[each]]\npath = \"pools[state=1]\"\n"),
        "json.each[0].path \"pools[state=1]\": [state=1]: a filter is written [?(@.field==\"value\")] (or !=)"
    );
    assert_eq!(
        error("[[each]]\npath = \"pools[?(@.state==ACTIVE)]\"\n"),
        "json.each[0].path \"pools[?(@.state==ACTIVE)]\": [?(@.state==ACTIVE)]: ACTIVE is not a JSON string, number, true, false or null"
    );
    assert_eq!(
        error("[[each]]\npath = \"pools[?(@.a==1)\"\n"),
        "json.each[0].path \"pools[?(@.a==1)\": unclosed [ in \"[?(@.a==1)\""
    );
}
