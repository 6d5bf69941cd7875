//! Damaged inputs made from the recorded ones, in one place for two crates: the library's
//! property tests (`src/parse/property_tests.rs` includes this file with `#[path]`) and
//! the integration tests (as `harness::inputs`). Each picks edits with its own randomness
//! (proptest there, a fixed-seed generator here); what an edit does is decided only here.
//! Hence std only, and no `crate::` paths.

use std::fs;
use std::path::{Path, PathBuf};

/// Every recorded input: the golden inputs (`tests/fixtures/recipes/*/*.input`) and the raw
/// captures under `tests/fixtures/samples/` (an exporter's page for the `prometheus`
/// format, php-fpm's own OpenMetrics, a RESP reply...). In path order, so a fixed seed
/// picks the same inputs on every machine (`read_dir` order is the file system's).
pub fn recorded() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<PathBuf> = Vec::new();
    for group in ["recipes", "samples"] {
        let dirs = fs::read_dir(root.join(group))
            .unwrap_or_else(|e| panic!("{}: {e}", root.join(group).display()));
        for dir in dirs.flatten() {
            for f in fs::read_dir(dir.path()).into_iter().flatten().flatten() {
                let p = f.path();
                if group == "samples" || p.extension().is_some_and(|e| e == "input") {
                    paths.push(p);
                }
            }
        }
    }
    paths.sort();
    let inputs: Vec<Vec<u8>> = paths
        .iter()
        .map(|p| fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .collect();
    assert!(
        inputs.len() >= 20,
        "only {} recorded inputs under {}",
        inputs.len(),
        root.display()
    );
    inputs
}

/// One edit of an input.
#[derive(Debug, Clone, Copy)]
pub enum Edit<'a> {
    /// A byte replaced (no change to an empty input).
    Replace(u8),
    /// A byte inserted.
    Insert(u8),
    /// A byte removed (no change to an empty input).
    Remove,
    /// The rest cut off: a half-written file.
    Truncate,
    /// Text inserted: a value that is easy to get wrong.
    Splice(&'a [u8]),
}

impl Edit<'_> {
    /// Applies the edit at `at` (taken modulo the length: any number picks a position).
    pub fn apply(self, data: &mut Vec<u8>, at: usize) {
        let at = if data.is_empty() { 0 } else { at % data.len() };
        match self {
            Edit::Replace(byte) => {
                if let Some(b) = data.get_mut(at) {
                    *b = byte;
                }
            }
            Edit::Insert(byte) => data.insert(at, byte),
            Edit::Remove => {
                if at < data.len() {
                    data.remove(at);
                }
            }
            Edit::Truncate => data.truncate(at),
            Edit::Splice(text) => {
                data.splice(at..at, text.iter().copied());
            }
        }
    }
}
