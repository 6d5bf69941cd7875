//! The up-front check: every program the integration tests run is installed. On a machine
//! without `bash tests/setup.sh` this is the one failure to read first, since it names
//! every missing package at once; each test that needs one of them also fails on its own,
//! naming it (nothing is skipped).

use crate::harness::*;

#[test]
fn every_program_the_tests_run_is_installed() {
    let missing = missing();
    assert!(
        missing.is_empty(),
        "the integration tests need real servers and checkers that are not installed:\n  {}\n\
         Install them all with `bash tests/setup.sh` (Debian 12, root or sudo), or run only \
         the server-free tier: `cargo test --lib` (unit, golden and property tests).",
        missing.join("\n  ")
    );
}
