//! A user recipe file on arbitrary text: loading it never panics, and a recipe that loads
//! makes a parser that survives input (its own text, which is at least plausible).
#![no_main]

use libfuzzer_sys::fuzz_target;
use metrics_adapter::parse::check_input;
use metrics_adapter::parse::recipe::Recipe;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(recipe) = Recipe::from_toml("fuzz", &text) {
        if let Err(problem) = check_input(&recipe, data) {
            panic!("{problem}");
        }
    }
});
