//! Every built-in parser (recipes and generic formats) on arbitrary bytes: no panic, and
//! the page made from whatever it returns is well-formed in both formats. The first byte
//! picks the parser, so one corpus covers them all.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use metrics_adapter::parse::{check_input, Registry};

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::builtin().expect("built-in recipes"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else {
        return;
    };
    let entries: Vec<_> = registry().entries().collect();
    let (name, entry) = entries[usize::from(pick) % entries.len()];
    if let Err(problem) = check_input(entry.parser.as_ref(), input) {
        panic!("{name}: {problem}");
    }
});
