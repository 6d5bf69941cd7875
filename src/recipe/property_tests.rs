//! Property tests: whatever bytes a source returns, no parser panics, and every page made
//! from what they return is well-formed in both exposition formats. Inputs are arbitrary
//! bytes and the recorded samples (`tests/fixtures/{recipes,samples}/`) with random edits,
//! which reach much deeper into each grammar than noise does. The fuzz targets in `fuzz/`
//! run the same checks ([`crate::recipe::preview::check_input`]) under libFuzzer.

use std::sync::OnceLock;

use proptest::prelude::*;

use crate::recipe::Registry;

// The loader and the edits, shared with the integration tests (which damage inputs the same
// way before Python reads the pages back).
#[path = "../../tests/integration/harness/inputs.rs"]
mod inputs;
use inputs::Edit;

/// The recorded inputs, read once.
fn samples() -> &'static [Vec<u8>] {
    static SAMPLES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SAMPLES.get_or_init(inputs::recorded)
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::builtin().expect("built-in recipes"))
}

/// Values that are valid numbers but easy to write wrongly (the fuzzer found the
/// OpenMetrics encoder writing `inf` for `+Inf`), a label-hostile string, multi-byte
/// characters (a byte-index slice inside one aborted the process, issue 12) and date and
/// time-zone text (the `date` values of meminfo_appended).
const SPECIAL: &[&str] = &[
    "+Inf",
    "-Inf",
    "NaN",
    "1e308",
    "-0",
    "0x10",
    "1_000",
    "\\\"\n",
    "\u{e9}",
    "\u{20ac}",
    "\u{1d11e}",
    "\u{a0}",
    "e\u{301}",
    "Wed Nov 25 03:46:26 UTC 2026\n",
    "Wed, 25 Nov 2026 03:46:26 +0000\n",
    "2026-11-25T03:46:26.5Z\n",
    " CET ",
    "+0530",
    "+\u{e9}12",
];

/// A recorded sample with up to 8 edits: a byte replaced, inserted or removed, a slice
/// cut out (a half-written file), or a special value inserted, at arbitrary positions.
fn mutated_sample() -> impl Strategy<Value = Vec<u8>> {
    let edit = (0u8..5, any::<usize>(), any::<u8>());
    (
        any::<prop::sample::Index>(),
        prop::collection::vec(edit, 0..8),
    )
        .prop_map(|(pick, edits)| {
            let mut data = pick.get(samples()).clone();
            for (kind, at, byte) in edits {
                let edit = match kind {
                    0 => Edit::Replace(byte),
                    1 => Edit::Insert(byte),
                    2 => Edit::Remove,
                    3 => Edit::Truncate,
                    _ => Edit::Splice(SPECIAL[usize::from(byte) % SPECIAL.len()].as_bytes()),
                };
                edit.apply(&mut data, at);
            }
            data
        })
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        mutated_sample(),
        // Text-like noise: the characters the grammars care about.
        prop::collection::vec(
            prop::sample::select(b"ab09:=, \t\n\r#{}[]\",.-+eE_%\\".to_vec()),
            0..512
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn every_parser_survives_any_input(data in input()) {
        for (name, entry) in registry().entries() {
            if let Err(problem) = crate::recipe::preview::check_input(entry.parser.as_ref(), &data) {
                prop_assert!(false, "{name}: {problem}");
            }
        }
    }

    #[test]
    fn config_text_never_panics(text in "(\\[sources\\.[a-z]{1,3}\\]\n|type = \"(file|http|tcp|exec)\"\n|parser = \"kv\"\n|path = \"/x\"\n|[a-z_]{1,8} = [0-9\"a-z]{0,6}\n|\\PC{0,12}\n){0,12}") {
        let _ = crate::config::Settings::from_text(
            crate::config::Origin::Embedded,
            &text,
            Vec::new(),
            &crate::config::Overrides::default(),
        );
    }
}

/// The seeds of the `parsers` fuzz target (`fuzz/seeds/parsers/PARSER.CASE`) start with the
/// byte that picks PARSER (see `fuzz/fuzz_targets/parsers.rs`), every parser has one, and
/// none is longer than the `-max_len` of tests/fuzz.sh. A new parser shifts the order: this
/// test then names the seeds to regenerate (fuzz/README.md says how).
#[test]
fn fuzz_seeds_pick_the_parser_they_are_named_after() {
    let names: Vec<&str> = registry().names().collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/parsers");
    let mut seeded = std::collections::BTreeSet::new();
    for f in std::fs::read_dir(&dir)
        .expect("fuzz/seeds/parsers")
        .flatten()
    {
        let file = f.file_name().to_string_lossy().into_owned();
        let data = std::fs::read(f.path()).expect("a seed");
        let (&pick, _) = data.split_first().expect("a seed is not empty");
        let parser = file.split('.').next().unwrap_or_default();
        let picked = names[usize::from(pick & 0x7f) % names.len()];
        assert_eq!(picked, parser, "{file}: its first byte picks {picked}");
        assert!(data.len() <= 4097, "{file}: over -max_len");
        seeded.insert(picked);
    }
    let missing: Vec<_> = names.iter().filter(|n| !seeded.contains(*n)).collect();
    assert!(missing.is_empty(), "no fuzz seed for {missing:?}");
}
