//! The config loader on arbitrary text: an error is fine, a panic is not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use metrics_adapter::config::{Origin, Overrides, Settings};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Settings::from_text(Origin::Embedded, &text, Vec::new(), &Overrides::default());
});
