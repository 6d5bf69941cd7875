//! `tail`: follows an appended log (an access log on a shared volume) and delivers its new
//! lines; it keeps only its position in the file. The scrape target adds the lines into
//! running totals with a line recipe (see [`crate::parse::totals`]).
//!
//! Unlike the other sources it is not read on a scrape: a background task polls the file
//! every `interval` (default [`DEFAULT_POLL`]) and the target serves the running totals. Plain polling,
//! not inotify: it works the same on every filesystem a pod may share a log through
//! (overlay, NFS, a kubelet emptyDir), costs one `stat` and one `pread` per second, and
//! cannot miss an event. Reads are small (256 KiB, more only for a longer line, up to
//! `max_bytes`), so a burst takes bounded memory; while more is waiting the next read
//! follows at once, off the runtime thread.
//!
//! The file's position is in memory and, with `state_file`, written atomically after each
//! read that advanced, so a restarted adapter neither counts a line twice nor skips one.
//! Rotation and truncation: see [`follow`].

mod follow;
pub mod glob;
mod rotated;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;
use tracing::{info, warn};

use follow::Follower;
pub use follow::Position;

use super::{quote, KeyError, SourceError, UNSET};

/// How often the file is polled when the source sets no `interval`.
pub const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// Files a glob `path` follows when the source sets no `max_files`: a file descriptor,
/// a follower and its totals each; a directory of more logs than this is rarely meant.
pub const DEFAULT_MAX_FILES: usize = 64;

/// The keys of a `tail` source, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub path: Option<String>,
    pub from_start: Option<bool>,
    pub state_file: Option<String>,
    pub follow_links: Option<bool>,
    pub log_format: Option<String>,
    pub max_files: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct TailSource {
    pub path: PathBuf,
    /// Count the lines already in the file at start (else only those appended after).
    pub from_start: bool,
    pub state_file: Option<PathBuf>,
    /// Open the log through a symbolic link (off by default: the app may plant one).
    pub follow_links: bool,
    /// `path`'s file name holds `*` or `?`: the matching files are followed, each its own.
    pub glob: Option<glob::Pattern>,
    /// The most files a glob follows.
    pub max_files: usize,
    /// Series not updated for this long leave the totals (the common key `expire_after`,
    /// refused on other sources: see [`crate::config`]).
    pub expire_after: Option<Duration>,
    /// The app's own format string (nginx `log_format`, Apache `LogFormat`): the recipe's
    /// pattern is compiled from it (see [`crate::recipe::log_format`]).
    pub log_format: Option<String>,
    /// The follower: shared by the clones of the source, and handed on to the next config
    /// when a reload leaves the source as it was.
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    follower: Follower,
    /// The state file's position, read at the first step.
    saved: Option<Option<Position>>,
    /// The position last written to the state file.
    written: Option<Position>,
    /// A glob's files.
    files: glob::Files,
    /// The last write of the state file failed (and was warned about): the next failures
    /// are not warned again until one succeeds, or the poll would warn every second.
    save_failing: bool,
}

/// What one step did.
#[derive(Debug, Default)]
pub struct Step {
    /// The new complete lines.
    pub lines: Vec<u8>,
    /// Bytes consumed from the file.
    pub bytes: u64,
    /// Lines longer than `max_bytes`, skipped.
    pub too_long: u64,
    /// More is waiting: step again now.
    pub more: bool,
}

impl TailSource {
    pub fn from_config(c: Config) -> Result<TailSource, KeyError> {
        let path = c
            .path
            .ok_or_else(|| KeyError::missing("path", "the log file to follow"))?;
        if c.state_file.as_deref() == Some(path.as_str()) {
            return Err(KeyError::invalid(
                "state_file",
                "must not be the log itself",
            ));
        }
        let glob = glob::Pattern::of(Path::new(&path)).map_err(|e| KeyError::invalid("path", e))?;
        if glob.is_some() && c.state_file.is_some() {
            return Err(KeyError::invalid(
                "state_file",
                "not with a wildcard path (it holds one file's position)",
            ));
        }
        let max_files = c.max_files.unwrap_or(DEFAULT_MAX_FILES);
        if max_files == 0 {
            return Err(KeyError::invalid("max_files", "must be at least 1"));
        }
        if glob.is_none() && c.max_files.is_some() {
            return Err(KeyError::invalid(
                "max_files",
                "only for a path with a wildcard (`*`, `?`) in its file name",
            ));
        }
        let follow_links = c.follow_links.unwrap_or(false);
        let state = State {
            follower: Follower::new(follow_links),
            ..State::default()
        };
        Ok(TailSource {
            path: PathBuf::from(path),
            from_start: c.from_start.unwrap_or(false),
            state_file: c.state_file.map(PathBuf::from),
            follow_links,
            log_format: c.log_format,
            glob,
            max_files,
            expire_after: None,
            state: Arc::new(Mutex::new(state)),
        })
    }

    /// Every key with the value in force (see [`super::Source::resolved`]).
    pub fn resolved(&self) -> Vec<(&'static str, String)> {
        vec![
            ("path", quote(&self.path.display().to_string())),
            ("from_start", self.from_start.to_string()),
            (
                "state_file",
                self.state_file
                    .as_ref()
                    .map_or_else(|| UNSET.to_string(), |p| quote(&p.display().to_string())),
            ),
            ("follow_links", self.follow_links.to_string()),
            ("max_files", self.max_files.to_string()),
            (
                "expire_after",
                (self.expire_after).map_or_else(|| UNSET.to_string(), |d| format!("{d:?}")),
            ),
            (
                "log_format",
                self.log_format
                    .as_deref()
                    .map_or_else(|| UNSET.to_string(), quote),
            ),
        ]
    }

    /// Refuses a `state_file` that is the log or the config file under another spelling
    /// (`dir/./access.log`, a link, `..`): writing it would overwrite them. Compared as
    /// real paths; a file not there yet is its real directory and its name.
    pub fn check_state_file(&self, config: Option<&Path>) -> Result<(), KeyError> {
        let Some(state) = &self.state_file else {
            return Ok(());
        };
        let real = real_path(state);
        let taken = [
            (Some(self.path.as_path()), "the log itself"),
            (config, "the config file"),
        ];
        for (other, what) in taken {
            if other.is_some_and(|o| real_path(o) == real) {
                return Err(KeyError::invalid(
                    "state_file",
                    format!(
                        "must not be {what} ({} is {})",
                        state.display(),
                        real.display()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Carries on where `old` (the same source in the previous config) is: its position,
    /// so a reload neither recounts nor skips a line.
    pub fn adopt(&mut self, old: &TailSource) {
        self.state = old.state.clone();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One bounded read of new lines (`max_bytes`: the longest line). Blocking: run it on
    /// the blocking pool. The caller holds the running totals' lock around the step and
    /// the adding of its lines, so reading, counting and moving the offset are one step
    /// even if two followers (an old config's, going away) overlap.
    pub fn step(&self, max_bytes: u64) -> Result<Step, SourceError> {
        let mut state = self.lock();
        let state = &mut *state;
        let saved = match (&state.saved, &self.state_file) {
            (Some(saved), _) => *saved,
            (None, None) => None,
            (None, Some(file)) => {
                let saved = follow::load(file).unwrap_or_else(|e| {
                    warn!(file = %file.display(), error = %e, "tail state file unreadable; starting anew");
                    None
                });
                state.saved = Some(saved);
                saved
            }
        };
        let max = usize::try_from(max_bytes).unwrap_or(usize::MAX);
        let chunk = state
            .follower
            .read(&self.path, self.from_start, saved, max)
            .map_err(SourceError::io(format!(
                "following {}",
                self.path.display()
            )))?;
        if let Some(event) = chunk.event {
            info!(path = %self.path.display(), "{event}");
        }
        let step = Step {
            bytes: chunk.consumed,
            too_long: chunk.too_long,
            more: chunk.more,
            lines: chunk.lines,
        };
        if let (Some(file), Some(pos)) = (&self.state_file, state.follower.position()) {
            if state.written != Some(pos) {
                match follow::save(file, pos) {
                    Ok(()) => {
                        if std::mem::take(&mut state.save_failing) {
                            info!(file = %file.display(), "tail state file written again");
                        }
                        state.written = Some(pos);
                    }
                    Err(e) if !state.save_failing => {
                        state.save_failing = true;
                        warn!(
                            file = %file.display(),
                            error = %e,
                            "tail state file not written (warned once until it is again)"
                        );
                    }
                    Err(_) => {}
                }
            }
        }
        Ok(step)
    }
}

impl TailSource {
    /// One bounded read of each file of a glob `path` (see [`glob`]); blocking, called as
    /// [`TailSource::step`] is.
    pub fn step_files(&self, max_bytes: u64) -> Result<glob::FilesStep, SourceError> {
        let Some(pattern) = &self.glob else {
            return Ok(glob::FilesStep::default());
        };
        let max = usize::try_from(max_bytes).unwrap_or(usize::MAX);
        let mut state = self.lock();
        (state.files)
            .step(
                pattern,
                self.from_start,
                self.follow_links,
                self.max_files,
                max,
            )
            .map_err(SourceError::io(format!(
                "listing {}",
                pattern.dir.display()
            )))
    }
}

/// `path` with links, `.` and `..` resolved: the file's real path, or its real directory
/// and its name when it is not there yet (else the path as written, made absolute).
fn real_path(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (absolute.parent(), absolute.file_name()) {
        (Some(dir), Some(name)) => {
            std::fs::canonicalize(dir).map_or_else(|_| absolute.clone(), |d| d.join(name))
        }
        _ => absolute,
    }
}

#[cfg(test)]
mod tests;
