//! The subcommands and their arguments, as `--help` shows them.

use std::path::PathBuf;

use clap::Subcommand;

use super::{draft, ServeArgs};

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve /metrics (the default).
    Run(ServeArgs),
    /// Check the config and recipes (and the serving options given before `check`); print
    /// every source with its resolved settings. Reads no source.
    Check,
    /// Read every source once and print the page; errors go to stderr.
    Once {
        /// Print OpenMetrics instead of the 0.0.4 text format.
        #[arg(long)]
        openmetrics: bool,
    },
    /// Run one parser or recipe on a sample and print the metrics (with --config, the
    /// config's recipes too; with --source, read as that source of the config reads).
    Parse {
        /// A name from `metrics-adapter parsers`, or a recipe file (`.toml`).
        #[arg(value_name = "RECIPE")]
        parser: String,
        /// The sample; `-` or nothing reads stdin.
        file: Option<PathBuf>,
        /// Print OpenMetrics instead of the 0.0.4 text format.
        #[arg(long)]
        openmetrics: bool,
        /// Instead of the page, tell what became of every input line, and why.
        #[arg(long)]
        explain: bool,
        /// Read the sample as this source of the config does: a file source's own
        /// block_start/block_end framing, its relabel rules and labels. Needs --config.
        #[arg(long, value_name = "NAME")]
        source: Option<String>,
    },
    /// Run recipes' `[[test]]` cases and show what differs; exits 1 if one fails (or none
    /// is found).
    ///
    /// Without an argument, every built-in recipe's. An argument is a recipe's name (with
    /// --config, the config's recipes are known too), a recipe file (`.toml`), or a
    /// directory whose recipe files are all tested. docs/recipes.md, `[[test]]`, describes
    /// the cases.
    Test {
        /// Recipe names, recipe files or directories.
        #[arg(value_name = "RECIPE|FILE|DIR")]
        targets: Vec<String>,
    },
    /// Print a first recipe (TOML) for a sample of an app's stats, with test cases from it.
    Draft(draft::DraftArgs),
    /// List the parsers: built-in recipes, generic formats, and recipes from parsers.dirs.
    Parsers {
        #[command(subcommand)]
        action: Option<ParsersCommand>,
    },
}

/// `parsers` without a command lists them.
#[derive(Debug, Clone, Subcommand)]
pub enum ParsersCommand {
    /// Print a parser's recipe (TOML), to copy and adapt.
    ///
    /// A built-in recipe as embedded, a recipe from parsers.dirs (with --config) as its file
    /// reads, a generic format as the minimal recipe it stands for. docs/recipes.md
    /// describes every key.
    Show {
        /// A name from `metrics-adapter parsers`.
        name: String,
    },
}
