//! A user recipe file on arbitrary text: loading it never panics, and a recipe that loads
//! makes a parser that survives input (its own text, which is at least plausible) and
//! makes a well-formed page, in one format per input (by the input's length, so both are
//! covered over a run and each input pays for one page).
#![no_main]

use libfuzzer_sys::fuzz_target;
use metrics_adapter::exposition::WireFormat;
use metrics_adapter::recipe::preview::check_input_as;
use metrics_adapter::recipe::Recipe;

/// The longest built-in recipe is 20 KB; longer inputs only slow the run down (see
/// parsers.rs).
const MAX_INPUT: usize = 32 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_INPUT {
        return;
    }
    let text = String::from_utf8_lossy(data);
    if let Ok(recipe) = Recipe::from_toml("fuzz", &text) {
        let format = if data.len() % 2 == 0 {
            WireFormat::Text
        } else {
            WireFormat::OpenMetrics
        };
        if let Err(problem) = check_input_as(&recipe, data, &[format]) {
            panic!("{problem}");
        }
    }
});
