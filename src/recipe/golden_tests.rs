//! Golden tests for every built-in recipe: `tests/fixtures/recipes/<recipe>/<case>.input`
//! must parse to exactly `<case>.prom` (the 0.0.4 page of that recipe's families). Any
//! skipped value must be expected in `<case>.issues`, one per line.
//! `UPDATE_GOLDEN=1 cargo test golden` rewrites the expected files after an intended change.

use std::path::{Path, PathBuf};

use crate::exposition::WireFormat;
use crate::recipe::preview::render;
use crate::recipe::registry::EMBEDDED;
use crate::recipe::Registry;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recipes")
}

/// Runs one case; returns (page, issues) as text.
pub fn run_case(registry: &Registry, recipe: &str, input: &[u8]) -> (String, String) {
    let entry = registry
        .get(recipe)
        .unwrap_or_else(|| panic!("no recipe {recipe}"));
    let input = crate::framing::saved_input(entry.parser.framing().map(|f| &**f), input)
        .unwrap_or_else(|e| panic!("{recipe}: framing: {e}"));
    let parsed = entry
        .parser
        .parse(input)
        .unwrap_or_else(|e| panic!("{recipe}: {e}"));
    let unmatched = parsed.unmatched.clone();
    let (page, notes) = render(parsed, WireFormat::Text);
    // As `metrics-adapter parse` prints them to stderr, one per line; input no rule used is
    // pinned too, so a recipe that stops reading part of its format shows here.
    let mut issues: String = notes.iter().map(|n| format!("{n}\n")).collect();
    if unmatched.count > 0 {
        issues += &format!(
            "{} unmatched, first: {}\n",
            unmatched.count,
            unmatched.first.unwrap_or_default()
        );
    }
    (page, issues)
}

/// Whether `UPDATE_GOLDEN` asks for a rewrite: exactly `1` does, unset does not, and any
/// other value is refused, so `UPDATE_GOLDEN=0` (or empty) cannot rewrite every golden
/// file and pass.
fn update_requested(switch: Option<&std::ffi::OsStr>) -> Result<bool, String> {
    match switch {
        None => Ok(false),
        Some(v) if v == "1" => Ok(true),
        Some(v) => Err(format!(
            "UPDATE_GOLDEN={v:?}: set it to exactly 1 to rewrite the golden files, or unset it"
        )),
    }
}

#[test]
fn only_update_golden_1_rewrites() {
    use std::ffi::OsStr;
    assert_eq!(update_requested(None), Ok(false));
    assert_eq!(update_requested(Some(OsStr::new("1"))), Ok(true));
    for v in ["0", "", "true", "yes", " 1", "1 "] {
        let err = update_requested(Some(OsStr::new(v))).unwrap_err();
        assert!(err.contains("exactly 1"), "{v:?}: {err}");
    }
}

#[test]
fn golden() {
    let registry = Registry::builtin().unwrap();
    let update = update_requested(std::env::var_os("UPDATE_GOLDEN").as_deref())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    let mut cases = 0;
    for (recipe, _) in EMBEDDED {
        let rdir = dir().join(recipe);
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&rdir)
            .unwrap_or_else(|e| {
                panic!(
                    "recipe {recipe} has no golden cases in {}: {e}",
                    rdir.display()
                )
            })
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "input"))
            .collect();
        inputs.sort();
        assert!(
            !inputs.is_empty(),
            "recipe {recipe} has no *.input in {}",
            rdir.display()
        );
        for input in inputs {
            cases += 1;
            let (page, issues) = run_case(&registry, recipe, &std::fs::read(&input).unwrap());
            assert!(!page.is_empty(), "{}: no metrics at all", input.display());
            for (ext, got) in [("prom", &page), ("issues", &issues)] {
                let path = input.with_extension(ext);
                if update {
                    if got.is_empty() {
                        let _ = std::fs::remove_file(&path);
                    } else {
                        std::fs::write(&path, got).unwrap();
                    }
                    continue;
                }
                let want = std::fs::read_to_string(&path).unwrap_or_default();
                if &want != got {
                    failures.push(format!(
                        "{}: differs (UPDATE_GOLDEN=1 to accept)\n--- want\n{want}\n--- got\n{got}",
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases >= EMBEDDED.len());
}
