//! `metrics-adapter draft SAMPLE [SAMPLE2]`: prints a first recipe for a sample of an app's
//! stats (see `crate::draft`), or with `--explain`, what each line of it became and why.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{emit, Error};
use crate::draft::{self, Sample, MAX_SAMPLE_BYTES};

/// `draft`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct DraftArgs {
    /// A sample of the app's stats: a file, or `-` for stdin.
    #[arg(value_name = "SAMPLE")]
    pub sample: PathBuf,
    /// A second sample of the same stats, taken some time later: values that only grew
    /// between the two are counters, values that went down gauges.
    #[arg(value_name = "SAMPLE2")]
    pub later: Option<PathBuf>,
    /// The recipe's name, and its metrics' prefix (default: the sample's file name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Instead of the recipe, tell what each line of the sample became, and why.
    #[arg(long)]
    pub explain: bool,
}

/// Reads a sample, at most [`MAX_SAMPLE_BYTES`]; `-` is stdin.
fn read(path: &Path) -> Result<String, Error> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_SAMPLE_BYTES + 1).unwrap_or(u64::MAX);
    if path.as_os_str() == "-" {
        std::io::stdin().take(limit).read_to_end(&mut bytes)?;
    } else {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        file.take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if bytes.len() > MAX_SAMPLE_BYTES {
        return Err(format!(
            "{}: more than {} MiB: a sample of a status page is enough",
            path.display(),
            MAX_SAMPLE_BYTES >> 20
        )
        .into());
    }
    String::from_utf8(bytes).map_err(|e| format!("{}: not UTF-8 text: {e}", path.display()).into())
}

fn stem(path: &Path) -> String {
    if path.as_os_str() == "-" {
        return "stdin".into();
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("app");
    name.split('.').next().unwrap_or(name).to_string()
}

pub(super) fn run(args: &DraftArgs) -> Result<ExitCode, Error> {
    let first = read(&args.sample)?;
    let later = args.later.as_deref().map(read).transpose()?;
    let name = args.name.clone().unwrap_or_else(|| stem(&args.sample));
    let shown = |p: &Path| match p.file_name().and_then(|n| n.to_str()) {
        Some(name) if p.as_os_str() != "-" => name.to_string(),
        _ => "stdin".to_string(),
    };
    let first_name = shown(&args.sample);
    let later_name = args.later.as_deref().map(shown);
    let drafted = draft::draft(
        Sample {
            name: &first_name,
            text: &first,
        },
        later
            .as_deref()
            .zip(later_name.as_deref())
            .map(|(text, name)| Sample { name, text }),
        &name,
    )
    .map_err(|e| format!("{}: {e}", args.sample.display()))?;
    emit(if args.explain {
        &drafted.explain
    } else {
        &drafted.recipe
    })?;
    Ok(ExitCode::SUCCESS)
}
