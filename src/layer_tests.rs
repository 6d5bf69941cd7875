//! The module graph, measured: the crate's own `crate::...` paths (its `use` lines and the
//! paths written inline), read from the source files, must run down the declared layers
//! and make no cycle between top-level modules. A lower layer cannot import an upper one
//! (as ripgrep's `searcher` crate cannot see its `printer`), so the parser stays pure and
//! the recipe tools stay above it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules, lowest layer first. A module may use modules of its own layer or
/// below; one of its own layer only without a cycle.
const LAYERS: &[&[&str]] = &[
    // Data and small helpers that know no stage.
    &["text", "keys", "small_file", "reaper"],
    &["family"],
    // The pure parser, the wire format, the adapter's own process metrics.
    &["parse", "exposition", "process"],
    // Where the latest complete block of an append log is (reads `parse::date`).
    &["framing"],
    // Recipes, their registry, tests, explanation and preview.
    &["recipe"],
    // `draft`: a first recipe from a sample, checked by compiling it (above the recipes).
    &["draft"],
    // I/O: sources, the web config (TLS, basic auth).
    &["source", "web"],
    &["config"],
    &["scrape"],
    &["app"],
    &["server"],
    &["cli"],
];

/// The top-level module a file under `src/` belongs to (`None`: the crate root itself).
fn module_of(path: &Path, src: &Path) -> Option<String> {
    let rel = path.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// Test code may reach anywhere (a parser's test renders a page): a test file, and what
/// follows `#[cfg(test)]` + `mod tests {` in a file, are not read.
fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "tests.rs" || name.ends_with("_tests.rs")
}

fn production_text(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => text.split_at(at).0,
        None => text,
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module -> the modules it names as `crate::X`, with a file that does.
fn imports() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in files.iter().filter(|f| !is_test_file(f)) {
        let Some(from) = module_of(file, &src) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let edges = graph.entry(from.clone()).or_default();
        for line in production_text(&text).lines() {
            // Doc comments name modules to point the reader at them, which imports nothing.
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (at, _) in line.match_indices("crate::") {
                let rest = line.split_at(at + "crate::".len()).1;
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != from {
                    let shown = file.strip_prefix(&src).unwrap().display().to_string();
                    edges.entry(name).or_insert(shown);
                }
            }
        }
    }
    graph
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

#[test]
fn every_module_has_a_layer() {
    let lib = include_str!("lib.rs");
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert!(declared.contains(&"parse"), "{declared:?}");
    let missing: Vec<_> = declared.iter().filter(|m| layer_of(m).is_none()).collect();
    assert!(
        missing.is_empty(),
        "modules with no layer in LAYERS: {missing:?}"
    );
}

#[test]
fn no_import_runs_up_the_layers() {
    let graph = imports();
    let mut upward = Vec::new();
    for (from, edges) in &graph {
        for (to, file) in edges {
            if let (Some(a), Some(b)) = (layer_of(from), layer_of(to)) {
                if b > a {
                    upward.push(format!("{file}: {from} (layer {a}) uses {to} (layer {b})"));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports running up:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_import_cycle_between_modules() {
    let graph = imports();
    // Depth-first search; a module reached again while on the path closes a cycle.
    fn visit<'g>(
        at: &'g str,
        graph: &'g BTreeMap<String, BTreeMap<String, String>>,
        path: &mut Vec<&'g str>,
        done: &mut BTreeSet<&'g str>,
        cycles: &mut Vec<String>,
    ) {
        if let Some(start) = path.iter().position(|m| *m == at) {
            let mut cycle = path.split_at(start).1.to_vec();
            cycle.push(at);
            cycles.push(cycle.join(" -> "));
            return;
        }
        if !done.insert(at) {
            return;
        }
        path.push(at);
        for to in graph.get(at).into_iter().flat_map(|e| e.keys()) {
            visit(to, graph, path, done, cycles);
        }
        path.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for from in graph.keys() {
        visit(from, &graph, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(cycles.is_empty(), "import cycles: {cycles:?}");
}

/// The probe can fail: a graph with an upward edge and a cycle is caught.
#[test]
fn the_checks_see_what_they_look_for() {
    assert!(layer_of("parse") < layer_of("recipe"));
    let graph = imports();
    let recipe = graph.get("recipe").expect("recipe imports something");
    assert!(recipe.contains_key("parse"), "{recipe:?}");
    assert!(!graph.get("parse").is_some_and(|e| e.contains_key("recipe")));
}
