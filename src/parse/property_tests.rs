//! Property tests: whatever bytes a source returns, no parser panics, and every page made
//! from what they return is well-formed in both exposition formats. Inputs are arbitrary
//! bytes and the recorded samples (`tests/fixtures/{recipes,samples}/`) with random edits,
//! which reach much deeper into each grammar than noise does. The fuzz targets in `fuzz/`
//! run the same checks ([`crate::parse::check_input`]) under libFuzzer.

use std::sync::OnceLock;

use proptest::prelude::*;

use crate::parse::Registry;

fn samples() -> &'static [Vec<u8>] {
    static SAMPLES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        // Golden inputs, and the raw captures under samples/ (an exporter's page for the
        // `prometheus` format, php-fpm's own OpenMetrics, a RESP reply...).
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut out = Vec::new();
        for group in ["recipes", "samples"] {
            for dir in std::fs::read_dir(root.join(group))
                .into_iter()
                .flatten()
                .flatten()
            {
                for f in std::fs::read_dir(dir.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let p = f.path();
                    if group == "samples" || p.extension().is_some_and(|e| e == "input") {
                        out.extend(std::fs::read(p));
                    }
                }
            }
        }
        assert!(out.len() >= 20, "recorded samples under {}", root.display());
        out
    })
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::builtin().expect("built-in recipes"))
}

/// Values that are valid numbers but easy to write wrongly (the fuzzer found the
/// OpenMetrics encoder writing `inf` for `+Inf`), and a label-hostile string.
const SPECIAL: &[&str] = &[
    "+Inf", "-Inf", "NaN", "1e308", "-0", "0x10", "1_000", "\\\"\n",
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
                let at = if data.is_empty() { 0 } else { at % data.len() };
                match kind {
                    0 if !data.is_empty() => data[at] = byte,
                    1 => data.insert(at, byte),
                    2 if !data.is_empty() => {
                        data.remove(at);
                    }
                    3 => data.truncate(at),
                    _ => {
                        let special = SPECIAL[usize::from(byte) % SPECIAL.len()].as_bytes();
                        data.splice(at..at, special.iter().copied());
                    }
                }
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
            if let Err(problem) = crate::parse::check_input(entry.parser.as_ref(), &data) {
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
