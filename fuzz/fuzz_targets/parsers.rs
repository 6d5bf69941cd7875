//! Every built-in parser (recipes and generic formats) on arbitrary bytes: no panic, and
//! the page made from whatever it returns is well-formed. The first byte picks the parser
//! (low 7 bits, modulo the number of parsers, in `metrics-adapter parsers` order) and the
//! page format (high bit: OpenMetrics, else the 0.0.4 text format), so one corpus covers
//! them all and each input pays for one page, not two.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use metrics_adapter::exposition::WireFormat;
use metrics_adapter::recipe::registry::Entry;
use metrics_adapter::recipe::Registry;
use metrics_adapter::recipe::preview::check_input_as;

/// Longer inputs are skipped, not parsed: the parsers work line by line or value by value,
/// so a bug needs a few lines to show, and long inputs only slow every run down. tests/fuzz.sh
/// also passes `-max_len=4096`; this guards runs started by hand on an old corpus.
const MAX_INPUT: usize = 8 * 1024;

fn parsers() -> &'static [(&'static str, &'static Entry)] {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    static PARSERS: OnceLock<Vec<(&'static str, &'static Entry)>> = OnceLock::new();
    PARSERS.get_or_init(|| {
        REGISTRY
            .get_or_init(|| Registry::builtin().expect("built-in recipes"))
            .entries()
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else {
        return;
    };
    if input.len() > MAX_INPUT {
        return;
    }
    let parsers = parsers();
    let (name, entry) = parsers[usize::from(pick & 0x7f) % parsers.len()];
    let format = if pick & 0x80 == 0 {
        WireFormat::Text
    } else {
        WireFormat::OpenMetrics
    };
    if let Err(problem) = check_input_as(entry.parser.as_ref(), input, &[format]) {
        panic!("{name}: {problem}");
    }
});
