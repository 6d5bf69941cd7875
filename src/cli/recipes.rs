//! The recipe commands: `parse` (and what it reads a sample with: a recipe by name or file,
//! and with `--source` a config source's framing, relabeling and labels), `test` (a recipe's `[[test]]`
//! cases), `parsers` and `parsers show`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use std::sync::Arc;

use super::{emit, load, Cli, Error};
use crate::exposition::WireFormat;
use crate::family::Family;
use crate::framing::{latest_block, Context, Framing, FramingError};
use crate::recipe::registry::Entry;
use crate::recipe::Registry;
use std::io::Read;

/// What `parse` reads a sample with: the recipe, and how a source would frame and label it.
pub(super) struct ParseWith {
    pub entry: Entry,
    framing: Option<Arc<Framing>>,
    labels: Vec<(String, String)>,
    /// The source's `[[relabel]]` rules.
    rules: Option<Arc<crate::parse::relabel::Relabel>>,
}

impl ParseWith {
    /// The block of `input` the source would read: the latest complete one of an append
    /// log, else all of it.
    pub fn frame<'a>(&self, input: &'a [u8]) -> Result<&'a [u8], FramingError> {
        let Some(framing) = &self.framing else {
            return Ok(input);
        };
        let saved = Context {
            at_file_start: true,
            settled: true,
            known_lines: None,
        };
        latest_block(input, framing, saved).map(|b| b.bytes)
    }

    /// What the source's recipe makes of `block`: a line recipe's lines counted with the
    /// source's relabeling before counting, as its `tail` source counts them; anything else
    /// parsed, then relabeled.
    pub fn parse(&self, block: &[u8]) -> Result<crate::parse::Parsed, crate::parse::ParseError> {
        let Some(rules) = &self.rules else {
            return self.entry.parser.parse(block);
        };
        match self.entry.parser.line_recipe() {
            Some(recipe) => {
                if block.iter().all(u8::is_ascii_whitespace) {
                    return Err(crate::parse::ParseError::Empty);
                }
                let mut totals = recipe.totals();
                totals.relabel_with(Some(rules.clone()));
                let fed = recipe.feed(&crate::parse::text(block), &mut totals, usize::MAX);
                Ok(crate::parse::Parsed {
                    families: totals.families(),
                    issues: fed.first_issues,
                    unmatched: fed.unmatched,
                })
            }
            None => {
                let mut parsed = self.entry.parser.parse(block)?;
                parsed.families = rules.families(std::mem::take(&mut parsed.families)).0;
                Ok(parsed)
            }
        }
    }

    /// The source's `labels` on every sample, replacing any of the same name, as the
    /// scraper adds them.
    pub fn relabel(&self, families: &mut [Family]) {
        if self.labels.is_empty() {
            return;
        }
        for sample in families.iter_mut().flat_map(|f| f.samples.iter_mut()) {
            let mut labels = sample.labels.to_vec();
            for (k, v) in &self.labels {
                match labels.iter_mut().find(|(n, _)| n == k) {
                    Some(slot) => slot.1.clone_from(v),
                    None => labels.push((k.clone(), v.clone())),
                }
            }
            sample.labels = labels.into();
        }
    }
}

/// `parse RECIPE`: a name (the config's recipes too, with `--config`) or a recipe file;
/// with `--source NAME`, that source's framing (a file source's own `block_start`, else
/// the recipe's) and labels.
pub(super) fn for_parse(cli: &Cli, name: &str, source: Option<&str>) -> Result<ParseWith, Error> {
    let (settings, registry) = match &cli.config {
        Some(_) => {
            let (settings, registry) = super::load(cli)?;
            (Some(settings), registry)
        }
        None if source.is_some() => {
            return Err("--source needs --config FILE: it names one of the config's sources".into())
        }
        None => (None, Registry::builtin()?),
    };
    let entry = if name.ends_with(".toml") {
        let mut file = Registry::default();
        file.load_file(Path::new(name))?;
        let entry = file.entries().next().map(|(_, e)| e.clone());
        entry.ok_or_else(|| format!("{name}: no recipe"))?
    } else {
        registry
            .get(name)
            .cloned()
            .ok_or_else(|| unknown_parser(&registry, name))?
    };
    let mut with = ParseWith {
        framing: entry.parser.framing().cloned(),
        entry,
        labels: Vec::new(),
        rules: None,
    };
    if let (Some(source), Some(settings)) = (source, settings) {
        let spec = settings
            .sources
            .iter()
            .find(|s| s.name == source)
            .ok_or_else(|| {
                format!(
                    "no source named {source:?} in {}{}",
                    settings.origin,
                    crate::text::did_you_mean(
                        source,
                        settings.sources.iter().map(|s| s.name.as_str())
                    )
                )
            })?;
        if let crate::source::Source::File(file) = &spec.source {
            if let Some(own) = &file.framing {
                with.framing = Some(own.clone());
            }
        }
        // A tail source's own log format: its lines read as the source reads them.
        if let crate::source::Source::Tail(tail) = &spec.source {
            if let (Some(format), Some(recipe)) =
                (&tail.log_format, with.entry.parser.line_recipe())
            {
                let custom = recipe.with_log_format(format).map_err(|e| {
                    format!("{}: sources.{source}.log_format: {e}", settings.origin)
                })?;
                with.entry.parser = Arc::new(custom);
            }
        }
        with.labels.clone_from(&spec.labels);
        with.rules.clone_from(&spec.relabel);
    }
    Ok(with)
}

/// `test`: the cases of the recipes named, in the order named.
pub(super) fn test_recipes(cli: &Cli, targets: &[String]) -> Result<ExitCode, Error> {
    // (name, entry) in the order named; the same recipe named twice runs once, two
    // recipes of one name from different files both run.
    let mut chosen: Vec<(String, Entry)> = Vec::new();
    let mut add = |name: &str, entry: &Entry| {
        if !chosen
            .iter()
            .any(|(n, e)| n == name && e.origin == entry.origin)
        {
            chosen.push((name.to_string(), entry.clone()));
        }
    };
    if targets.is_empty() {
        let reg = Registry::builtin()?;
        for (name, _) in crate::recipe::registry::EMBEDDED {
            if let Some(entry) = reg.get(name) {
                add(name, entry);
            }
        }
    }
    let mut known: Option<Registry> = None;
    for target in targets {
        let path = Path::new(target);
        // A parser's name has no `/` and no `.toml`: anything with one is a path. A bare
        // word is a name, or a directory of that name when no parser has it.
        let named = !target.contains('/') && !target.ends_with(".toml");
        if named {
            let reg = match &known {
                Some(r) => r,
                None => known.insert(registry_for(cli)?),
            };
            if let Some(entry) = reg.get(target) {
                add(target, entry);
                continue;
            }
            if !path.is_dir() {
                return Err(unknown_parser(reg, target).into());
            }
        }
        let mut reg = Registry::default();
        if path.is_dir() {
            for (file, why) in reg.load_dir(path)?.skipped {
                eprintln!("{}: skipped: {why}", file.display());
            }
        } else {
            reg.load_file(path)?;
        }
        for (name, entry) in reg.entries() {
            add(name, entry);
        }
    }
    let summary = crate::recipe::testing::run_all(chosen.iter().map(|(n, e)| (n.as_str(), e)));
    let recipes = chosen.len();
    let total = summary.passed + summary.failed.len();
    let mut out = summary.text;
    let _ = writeln!(
        out,
        "{recipes} recipe(s), {total} case(s): {} passed, {} failed",
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

pub(super) fn parse(
    cli: &Cli,
    name: &str,
    file: Option<&std::path::Path>,
    openmetrics: bool,
    explain: bool,
    source: Option<&str>,
) -> Result<ExitCode, Error> {
    let with = for_parse(cli, name, source)?;
    let entry = &with.entry;
    let mut input = Vec::new();
    match file {
        None => std::io::stdin().read_to_end(&mut input).map(|_| ())?,
        Some(p) if p.as_os_str() == "-" => std::io::stdin().read_to_end(&mut input).map(|_| ())?,
        Some(p) => input = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?,
    }
    // An append log is cut to its latest complete block, as the file source does, so a
    // saved log shows the numbers the server would serve.
    let block = with
        .frame(&input)
        .map_err(|e| format!("parser {name}: framing: {e}"))?;
    // A FILE is judged as a `file` source would judge it (stdin is any page, fetched
    // however): a last line without a newline is a writer stopped mid-line, never served.
    if let Some(p) = file.filter(|p| p.as_os_str() != "-") {
        let unended = !input.is_empty() && !input.ends_with(b"\n");
        if with.framing.is_none() && unended && !entry.parser.self_delimiting() {
            return Err(format!(
                "{}: {}; a file source would not serve it (`-` reads stdin as a page fetched \
                 some other way)",
                p.display(),
                crate::source::file::UNENDED
            )
            .into());
        }
    }
    if block.len() != input.len() {
        eprintln!(
            "framing: the latest complete block, {} of {} bytes",
            block.len(),
            input.len()
        );
    }
    if explain {
        let text = entry
            .parser
            .explain(block)
            .ok_or_else(|| format!("parser {name} is written in code; --explain reads recipes"))?
            .map_err(|e| format!("parser {name}: {e}"))?;
        // Keys, labels and messages quote the input: its terminal escapes are shown, not run.
        emit(&crate::text::escape_controls(&text))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut parsed = with
        .parse(block)
        .map_err(|e| format!("parser {name}: {e}"))?;
    with.relabel(&mut parsed.families);
    if parsed.unmatched.count > 0 {
        eprintln!(
            "{} unmatched (read, but no rule used them), first: {}",
            parsed.unmatched.count,
            parsed.unmatched.first.as_deref().unwrap_or("")
        );
    }
    let format = if openmetrics {
        WireFormat::OpenMetrics
    } else {
        WireFormat::Text
    };
    let (page, notes) = crate::recipe::preview::render_checked(parsed, format)
        .map_err(|reason| format!("parser {name}: {reason}"))?;
    for note in &notes {
        eprintln!("{note}");
    }
    emit(&page)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn unknown_parser(registry: &Registry, name: &str) -> String {
    let hint = registry.did_you_mean(name);
    // No close built-in name: perhaps the user's own recipe, which needs a path or a config.
    let own = if hint.is_empty() {
        format!(
            "; a recipe file is named by its path (./{name}.toml), and a config's recipes \
             (parsers.dirs, [recipes.NAME]) need --config FILE"
        )
    } else {
        String::new()
    };
    format!("no parser named {name:?}{hint}{own} (see `metrics-adapter parsers`)")
}

/// The parsers `parse` and `parsers` know: the built-in ones, and with `--config` the
/// recipes from its parsers.dirs too.
pub(super) fn registry_for(cli: &Cli) -> Result<Registry, Error> {
    Ok(match &cli.config {
        Some(_) => load(cli)?.1,
        None => Registry::builtin()?,
    })
}

pub(super) fn show_parser(cli: &Cli, name: &str) -> Result<ExitCode, Error> {
    let registry = registry_for(cli)?;
    let text = registry
        .recipe_text(name)
        .ok_or_else(|| unknown_parser(&registry, name))??;
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn parsers(cli: &Cli) -> Result<ExitCode, Error> {
    let registry = registry_for(cli)?;
    let width = registry.names().map(str::len).max().unwrap_or(0);
    let mut out = String::new();
    for (name, entry) in registry.entries() {
        let _ = writeln!(
            out,
            "{name:width$}  {:<16}  {}",
            entry.origin.to_string(),
            entry.parser.description()
        );
    }
    emit(&out)?;
    Ok(ExitCode::SUCCESS)
}
