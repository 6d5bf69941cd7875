//! The streaming read (each record handed to the mapping as the format reads it) on a big
//! HAProxy table: the same page as the records collected first, with no record kept.

#[path = "../../../benches/support/inputs.rs"]
mod inputs;

use super::*;
use crate::exposition::{encode, WireFormat};
use crate::family::{Family, FamilySet};
use crate::parse::{Record, RecordSink};

/// HAProxy CSV with `servers` server rows, as `benches/pipeline.rs` makes it.
fn haproxy_csv(servers: usize) -> String {
    inputs::haproxy_csv(
        include_str!("../../../tests/fixtures/samples/haproxy/stats.csv"),
        servers,
    )
}

fn page(families: Vec<Family>) -> String {
    let mut set = FamilySet::new();
    let mut conflicts = Vec::new();
    for f in families {
        set.push(f, &mut conflicts);
    }
    assert!(conflicts.is_empty());
    encode(&set, WireFormat::Text)
}

/// Passes records on, counting them. Each is moved in and gone when `push` returns, so at
/// most one record is alive at a time: the memory bound is the sink's signature.
struct Counting<'r, 'm, 'a> {
    run: &'r mut mapping::MappingRun<'m, 'a>,
    records: usize,
}

impl<'a> RecordSink<'a> for Counting<'_, '_, 'a> {
    fn push(&mut self, record: Record<'a>) {
        self.records += 1;
        self.run.push(record);
    }
}

#[test]
fn big_table_streams_to_the_page_of_collected_records() {
    let recipe = Recipe::from_toml(
        "haproxy_csv",
        include_str!("../../../parsers/haproxy_csv.toml"),
    )
    .unwrap();
    let input = haproxy_csv(2000);
    let streamed = recipe.parse(input.as_bytes()).unwrap();

    // The other way, kept for this test: every record collected, then mapped.
    let (mut records, mut issues, mut unmatched) =
        (Vec::<Record>::new(), Vec::new(), Unmatched::default());
    recipe
        .format
        .records(&input, &mut records, &mut issues, &mut unmatched)
        .unwrap();
    let collected = records.len();
    assert!(collected > 100_000, "{collected} records");
    let families = recipe.mapping.apply(records, &mut issues, &mut unmatched);
    assert_eq!(streamed.issues, issues);
    assert_eq!(streamed.unmatched, unmatched);
    let (streamed, collected_page) = (page(streamed.families), page(families));
    assert!(streamed.len() > 1_000_000);
    assert!(streamed == collected_page, "the streamed page differs");

    // The format hands every record over as it reads it: the run sees them all.
    let mut run = recipe.mapping.run(usize::MAX, false);
    let mut sink = Counting {
        run: &mut run,
        records: 0,
    };
    let (mut issues, mut unmatched) = (Vec::new(), Unmatched::default());
    recipe
        .format
        .records(&input, &mut sink, &mut issues, &mut unmatched)
        .unwrap();
    assert_eq!(sink.records, collected);
    assert_eq!(run.finish().records, collected);
}

/// `max_values` counts every record, also those past the limit, and refuses the read.
#[test]
fn past_the_limit_the_read_is_refused_with_the_full_count() {
    let recipe = Recipe::from_toml(
        "haproxy_csv",
        include_str!("../../../parsers/haproxy_csv.toml"),
    )
    .unwrap();
    let input = haproxy_csv(20);
    let all = recipe.parse(input.as_bytes()).unwrap();
    assert!(!all.families.is_empty());
    let mut run = recipe.mapping.run(usize::MAX, false);
    recipe
        .format
        .records(&input, &mut run, &mut Vec::new(), &mut Unmatched::default())
        .unwrap();
    let found = run.finish().records;
    match recipe.parse_capped(input.as_bytes(), 100) {
        Err(ParseError::TooManyValues { found: f, limit }) => {
            assert_eq!((f, limit), (found, 100));
        }
        other => panic!("{other:?}"),
    }
    assert!(recipe.parse_capped(input.as_bytes(), found).is_ok());
}
