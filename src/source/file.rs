//! `file`: a stats file on a shared volume, read at fetch time, off the runtime thread.
//!
//! A missing file is an error (the source is down), and so is anything but a regular file:
//! the path is the app's to choose, and a FIFO would block a reader forever. Nor is a
//! symbolic link followed unless `follow_links` says so (see [`crate::small_file`]). Files are
//! opened anew each time, so a file replaced by rename is picked up.
//!
//! Two shapes, and a rule for each that never serves a half-written page as healthy:
//! - **An append log** (framing from the recipe, or `block_start` here): only the latest
//!   complete block is returned, found by reading backwards from the end in growing chunks,
//!   so a read costs about one block whatever the file's size (see [`crate::framing`]).
//! - **A file rewritten in place** (`cat /proc/meminfo > f`): a read is trusted when the
//!   file did not change while it was read and looks whole: not empty, its last line ends
//!   in a newline (always: a writer may pause mid-line for longer than any settle time;
//!   only a JSON recipe's document, which cannot parse cut, needs none), and no fewer
//!   lines than the last trusted read unless the file has been quiet for [`SETTLE`]. Until
//!   then it is read again, every 25 ms within the source timeout (not when the file has
//!   been quiet for [`SETTLE`] already); then the source is down for that read, saying why. A shorter shape that lasts to the timeout is taken as the
//!   new one from the next read on (the app dropped a key), so it costs one read.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use super::{quote, Fetch, KeyError, SourceError, UNSET};
use crate::framing::{latest_block, Context, Framing, FramingError, SETTLE};

/// The keys of a `file` source, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub path: Option<String>,
    pub block_start: Option<String>,
    pub block_end: Option<String>,
    pub follow_links: Option<bool>,
}

/// Why a read of a rewritten file whose last line has no newline is not served (also what
/// `metrics-adapter parse` says of such a file, so both reach one verdict).
pub const UNENDED: &str = "its last line has no newline: a writer stopped mid-line";

/// The first chunk read from an append log's end; it doubles until a block is found.
const FIRST_CHUNK: u64 = 8 * 1024;
/// The wait before a suspicious read of a rewritten file is read again.
const CONFIRM_GAP: Duration = Duration::from_millis(25);

#[derive(Debug, Clone)]
pub struct FileSource {
    pub path: PathBuf,
    /// Append-log framing: the source's own `block_start`/`block_end`, else the recipe's
    /// (filled in by [`FileSource::frame_with`]).
    pub framing: Option<Arc<Framing>>,
    /// Open the file through a symbolic link (off by default: the app may plant one).
    pub follow_links: bool,
    /// Lines of the last block (or whole file) trusted, 0 before the first: a shorter read
    /// is suspect. Shared by the clones a fetch makes.
    shape: Arc<AtomicUsize>,
    /// The recipe's format shows by itself that a document is whole (JSON): a last line
    /// without a newline is no sign of a cut (see [`FileSource::read_by`]).
    self_delimiting: bool,
}

impl FileSource {
    pub fn from_config(c: Config) -> Result<FileSource, KeyError> {
        let path = c
            .path
            .ok_or_else(|| KeyError::missing("path", "the file to read"))?;
        let framing = match (&c.block_start, &c.block_end) {
            (Some(s), e) => Some(Arc::new(
                Framing::new(s, e.as_deref()).map_err(|(key, e)| KeyError::invalid(key, e))?,
            )),
            (None, Some(_)) => return Err(KeyError::invalid("block_end", "needs block_start")),
            (None, None) => None,
        };
        Ok(FileSource {
            path: PathBuf::from(path),
            framing,
            follow_links: c.follow_links.unwrap_or(false),
            shape: Arc::default(),
            self_delimiting: false,
        })
    }

    /// Every key with the value in force (see [`super::Source::resolved`]).
    pub fn resolved(&self) -> Vec<(&'static str, String)> {
        let unset = || UNSET.to_string();
        vec![
            ("path", quote(&self.path.display().to_string())),
            (
                "block_start",
                self.framing
                    .as_ref()
                    .map_or_else(unset, |f| quote(f.start.as_str())),
            ),
            (
                "block_end",
                self.framing
                    .as_ref()
                    .and_then(|f| f.end.as_ref())
                    .map_or_else(unset, |e| quote(e.as_str())),
            ),
            ("follow_links", self.follow_links.to_string()),
        ]
    }

    /// Uses a recipe's framing unless the source sets its own.
    pub fn frame_with(&mut self, framing: Option<&Arc<Framing>>) {
        if self.framing.is_none() {
            self.framing = framing.cloned();
        }
    }

    /// Takes what the source needs to know of the recipe that reads it: its framing
    /// ([`FileSource::frame_with`]), and whether its format is self-delimiting.
    pub fn read_by(&mut self, parser: &dyn crate::recipe::Parser) {
        self.frame_with(parser.framing());
        self.self_delimiting = parser.self_delimiting();
    }

    pub async fn fetch(&self, max_bytes: u64, timeout: Duration) -> Fetch {
        let this = self.clone();
        // Re-reads stop well inside the timeout, so the reason reaches the page rather than
        // a bare "timed out".
        let deadline = Instant::now() + timeout.mul_f64(0.75);
        match tokio::task::spawn_blocking(move || this.read(max_bytes, deadline)).await {
            Ok(fetch) => fetch,
            Err(e) => Fetch::failed(SourceError::Protocol(format!(
                "file reader task failed: {e}"
            ))),
        }
    }

    fn read(&self, max_bytes: u64, deadline: Instant) -> Fetch {
        let mut fetch = Fetch::default();
        let data = crate::small_file::open_app_file(&self.path, self.follow_links)
            .map_err(self.io())
            .and_then(|file| match &self.framing {
                Some(framing) => self.read_block(&file, framing, max_bytes, deadline, &mut fetch),
                None => self.read_whole(&file, max_bytes, deadline, &mut fetch),
            });
        fetch.data = data;
        if self.is_kernel_file() {
            // procfs and sysfs make a file's text at each read: its mtime says nothing
            // about when its numbers changed, so none is reported.
            fetch.modified = None;
        }
        fetch
    }

    /// Whether the path is under `/proc` or `/sys`, whose files have no meaningful mtime.
    pub fn is_kernel_file(&self) -> bool {
        self.path.starts_with("/proc") || self.path.starts_with("/sys")
    }

    fn io(&self) -> impl FnOnce(std::io::Error) -> SourceError {
        SourceError::io(format!("reading {}", self.path.display()))
    }

    /// The latest complete block of an append log, reading backwards from the end.
    fn read_block(
        &self,
        file: &File,
        framing: &Framing,
        max_bytes: u64,
        deadline: Instant,
        fetch: &mut Fetch,
    ) -> Result<Vec<u8>, SourceError> {
        loop {
            let meta = file.metadata().map_err(self.io())?;
            fetch.modified = meta.modified().ok();
            let ctx = Context {
                at_file_start: false,
                settled: settled(fetch.modified),
                known_lines: Some(self.shape.load(Ordering::Relaxed)).filter(|&n| n > 0),
            };
            match self.find_block(file, meta.len(), framing, max_bytes, ctx, fetch) {
                Ok(Some(block)) => return Ok(block),
                // Truncated under us (rotation by `: > f`): start again on the new content.
                Ok(None) if Instant::now() < deadline => continue,
                Ok(None) => {
                    return Err(SourceError::Protocol(format!(
                        "{}: the file kept shrinking while it was read",
                        self.path.display()
                    )))
                }
                // A lone block that may still grow: wait until the file has been quiet for
                // SETTLE (if the timeout allows), then judge it again.
                Err(Unsettled) => {
                    let wait = fetch
                        .modified
                        .and_then(|m| (m + SETTLE).duration_since(SystemTime::now()).ok())
                        .unwrap_or(CONFIRM_GAP)
                        .max(CONFIRM_GAP);
                    if Instant::now() + wait >= deadline {
                        return Err(SourceError::Protocol(format!(
                            "{}: {}",
                            self.path.display(),
                            FramingError::Unsettled
                        )));
                    }
                    std::thread::sleep(wait);
                }
                Err(Failed(e)) => return Err(e),
            }
        }
    }

    /// One backwards pass over `len` bytes; `None` when the file shrank meanwhile.
    fn find_block(
        &self,
        file: &File,
        len: u64,
        framing: &Framing,
        max_bytes: u64,
        mut ctx: Context,
        fetch: &mut Fetch,
    ) -> Result<Option<Vec<u8>>, BlockError> {
        let mut buf: Vec<u8> = Vec::new();
        let mut from = len;
        let mut chunk = FIRST_CHUNK;
        loop {
            let next = from.saturating_sub(chunk.min(max_bytes - buf.len() as u64));
            let mut part = vec![0; (from - next) as usize];
            match file.read_exact_at(&mut part, next) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(Failed(self.io()(e))),
            }
            fetch.read_bytes += part.len() as u64;
            part.extend_from_slice(&buf);
            buf = part;
            from = next;
            ctx.at_file_start = from == 0;
            // A window that starts inside the file starts mid-line: skip to the next line.
            let window = match from {
                0 => &buf[..],
                _ => buf
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(&buf[buf.len()..], |i| &buf[i + 1..]),
            };
            match latest_block(window, framing, ctx) {
                Ok(block) => {
                    fetch.written = block.written;
                    // The most lines a block had: a shorter last block is suspect (a read
                    // that is refused later, such as a lone date line, cannot lower it).
                    self.shape.fetch_max(block.lines, Ordering::Relaxed);
                    return Ok(Some(block.bytes.to_vec()));
                }
                Err(FramingError::NeedMore) if from > 0 && (buf.len() as u64) < max_bytes => {
                    chunk = chunk.saturating_mul(2);
                }
                Err(FramingError::NeedMore) => {
                    return Err(Failed(SourceError::Protocol(format!(
                        "{}: no complete block in the last {} bytes (max_bytes)",
                        self.path.display(),
                        buf.len()
                    ))))
                }
                Err(FramingError::Unsettled) => return Err(Unsettled),
                Err(e) => {
                    return Err(Failed(SourceError::Protocol(format!(
                        "{}: {e}",
                        self.path.display()
                    ))))
                }
            }
        }
    }

    /// The whole file, once a read can be trusted (see the module doc).
    fn read_whole(
        &self,
        file: &File,
        max_bytes: u64,
        deadline: Instant,
        fetch: &mut Fetch,
    ) -> Result<Vec<u8>, SourceError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let before = file.metadata().map_err(self.io())?;
            let mut buf = Vec::new();
            let mut reader = file;
            std::io::Seek::rewind(&mut reader).map_err(self.io())?;
            let read = super::read_limited_blocking(reader, max_bytes, &mut buf, self.io());
            fetch.read_bytes += buf.len() as u64;
            read?;
            let after = file.metadata().map_err(self.io())?;
            fetch.modified = after.modified().ok();
            // procfs and sysfs files say size 0 and are made whole on each read.
            let still = before.len() == after.len()
                && before.modified().ok() == after.modified().ok()
                && (buf.len() as u64 == after.len() || after.len() == 0);
            let lines = buf.iter().filter(|&&b| b == b'\n').count();
            let known = self.shape.load(Ordering::Relaxed);
            // However long the file has been quiet: a writer may pause mid-line for longer
            // than any settle time, and `b: 2` of `b: 25` is a number all the same.
            let ended = buf.ends_with(b"\n") || (self.self_delimiting && !buf.is_empty());
            let shrunk = lines < known;
            let quiet = settled(fetch.modified);
            if still && ended && (!shrunk || quiet) {
                self.shape.store(lines, Ordering::Relaxed);
                return Ok(buf);
            }
            // Quiet for SETTLE and still not whole: no use waiting out the timeout (which
            // would hold every page that long).
            if (still && quiet) || Instant::now() + CONFIRM_GAP >= deadline {
                let path = self.path.display();
                let why = if !still {
                    format!("the file was being written while read ({tries} tries)")
                } else if buf.is_empty() {
                    "the file is empty (truncated by a writer that has not written since?)"
                        .to_string()
                } else if !ended {
                    UNENDED.to_string()
                } else {
                    // Served from the next read on if it keeps this shape: the app may
                    // have dropped a key for good.
                    self.shape.store(lines, Ordering::Relaxed);
                    format!(
                        "{lines} lines, fewer than the {known} of the last good read, while \
                         the file is still being written (a cut page would look like a \
                         counter reset)"
                    )
                };
                return Err(SourceError::Protocol(format!(
                    "{path}: {why}; not served half-written"
                )));
            }
            std::thread::sleep(CONFIRM_GAP);
        }
    }
}

/// Why one backwards pass found no block.
enum BlockError {
    /// The only block may still be growing: worth waiting for.
    Unsettled,
    Failed(SourceError),
}
use BlockError::{Failed, Unsettled};

/// Whether a file last modified at `modified` has been quiet for [`SETTLE`].
fn settled(modified: Option<SystemTime>) -> bool {
    modified
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age >= SETTLE)
}
