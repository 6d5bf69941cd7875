//! The recipe commands' work: `test` (a recipe's `[[test]]` cases) and what `parse` reads
//! a sample with (a recipe by name or file, and with `--source` a config source's framing
//! and labels).

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::{emit, registry_for, unknown_parser, Cli, Error};
use crate::parse::Registry;

/// `test`: the cases of the recipes named, in the order named.
pub(super) fn test_recipes(cli: &Cli, targets: &[String]) -> Result<ExitCode, Error> {
    let mut selected = Registry::default();
    let mut order: Vec<String> = Vec::new();
    let mut known: Option<Registry> = None;
    let mut take = |reg: &Registry, names: Vec<String>, order: &mut Vec<String>| {
        for name in names {
            if let Some(entry) = reg.get(&name) {
                selected.insert_entry(&name, entry.clone());
                if !order.contains(&name) {
                    order.push(name);
                }
            }
        }
    };
    if targets.is_empty() {
        let reg = Registry::builtin()?;
        let names = crate::parse::registry::EMBEDDED
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        take(&reg, names, &mut order);
    }
    for target in targets {
        let path = Path::new(target);
        let mut reg = Registry::default();
        if path.is_dir() {
            let skipped = reg.load_dir(path)?.skipped;
            for (file, why) in skipped {
                eprintln!("{}: skipped: {why}", file.display());
            }
        } else if target.ends_with(".toml") || path.is_file() {
            reg.load_file(path)?;
        } else {
            let reg = match &known {
                Some(r) => r,
                None => known.insert(registry_for(cli)?),
            };
            if reg.get(target).is_none() {
                return Err(unknown_parser(reg, target).into());
            }
            take(reg, vec![target.clone()], &mut order);
            continue;
        }
        let names = reg.names().map(str::to_string).collect();
        take(&reg, names, &mut order);
    }
    let summary = crate::parse::cases::run_all(
        order
            .iter()
            .filter_map(|n| selected.get(n).map(|e| (n.as_str(), e))),
    );
    let total = summary.passed + summary.failed.len();
    let mut out = summary.text;
    let _ = writeln!(
        out,
        "{} recipe(s), {total} case(s): {} passed, {} failed",
        order.len(),
        summary.passed,
        summary.failed.len()
    );
    emit(&out)?;
    if total == 0 {
        eprintln!("metrics-adapter: no [[test]] cases found (docs/recipes.md, `[[test]]`)");
    }
    Ok(if summary.failed.is_empty() && total > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
