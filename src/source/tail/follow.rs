//! Where a followed log is read next: the open file, its identity (device, inode) and the
//! offset of the first byte not yet counted. Plain `std::fs`, run on the blocking pool.
//!
//! - **Start**: at the end (or the beginning with `from_start`), or where a state file says
//!   this same file (device and inode) was left. A log that does not exist yet is read from
//!   its first byte once it appears: all of it came after the start.
//! - **Rotation by rename** (`mv access.log access.log.1`, then the writer reopens): the old
//!   file is kept open and read to its end; once the path names another file and one more
//!   read of the old one finds nothing new, the new file is read from its first byte.
//!   Rotated twice between two polls, the middle file was never opened: before the new
//!   file, the files beside the log named after it (`access.log.1`, `access.log-2026...`;
//!   not compressed ones) that were modified since the old file's last write are read
//!   whole, oldest first (see [`super::rotated`]).
//! - **Truncation** (`: > access.log`, copytruncate): a file shorter than the offset is
//!   read again from 0, and so is one whose first bytes (up to [`HEAD`], as log shippers
//!   fingerprint a file) are no longer those read: truncated and refilled past the old
//!   offset between two polls. Only a refill whose first kilobyte is the old one's, byte
//!   for byte, passes for an appended file (access log lines carry their time).
//! - **Partial lines**: the offset only moves past a newline, so a half-written line is
//!   read again, whole, at the next poll.

use std::collections::VecDeque;
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

/// The usual read: about 1,500 access log lines. Larger reads gain no speed (the lines'
/// regexes are the cost) and add to the peak RSS.
const READ_SIZE: usize = 256 << 10;

/// How much of a file's start is kept to know it again (Filebeat's fingerprint reads as
/// much): one `pread` of it per poll.
pub const HEAD: usize = 1024;

/// Finished files remembered, so a rotated copy is never read twice.
const DONE_KEPT: usize = 16;

/// A file's identity and the offset reached in it; what a state file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub dev: u64,
    pub ino: u64,
    pub offset: u64,
}

impl Position {
    /// `dev ino offset`, one line: small enough to write atomically on every advance.
    pub fn to_line(self) -> String {
        format!("{} {} {}\n", self.dev, self.ino, self.offset)
    }

    pub fn from_line(text: &str) -> Option<Position> {
        let mut words = text.split_ascii_whitespace().map(|w| w.parse::<u64>().ok());
        let p = Position {
            dev: words.next()??,
            ino: words.next()??,
            offset: words.next()??,
        };
        words.next().is_none().then_some(p)
    }
}

/// What one read gave.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Chunk {
    /// Complete lines (each ending in `\n`), or empty.
    pub lines: Vec<u8>,
    /// Bytes consumed from the file (lines, and any over-long line skipped).
    pub consumed: u64,
    /// More may be waiting: read again without waiting for the next poll.
    pub more: bool,
    /// Lines longer than a read's limit, skipped.
    pub too_long: u64,
    /// What happened to the file, for the log (a rotation, a truncation).
    pub event: Option<&'static str>,
}

#[derive(Debug)]
struct Open {
    file: File,
    pos: Position,
    /// The file's first bytes as read (up to [`HEAD`]): other bytes there now mean it was
    /// truncated and written again.
    head: Vec<u8>,
    /// A rotated file found beside the log ([`Follower::queue`]): read whole, then closed.
    rotated: bool,
}

/// The follower's place in the log. See the module doc.
#[derive(Debug, Default)]
pub struct Follower {
    open: Option<Open>,
    /// The next file opened is a new one after a rotation: read from its first byte.
    next_from_zero: bool,
    /// The path names another file now: the old one is being read to its end.
    draining: bool,
    /// Inside a line longer than a read: its bytes are dropped up to its newline.
    skipping: bool,
    /// Rotated files to read whole before the new file, oldest first.
    queue: VecDeque<File>,
    /// The last files read to their end (device, inode).
    done: VecDeque<(u64, u64)>,
    /// Open the log through a symbolic link (see [`crate::small_file::open_app_file`]).
    follow_links: bool,
}

impl Follower {
    pub fn new(follow_links: bool) -> Follower {
        Follower {
            follow_links,
            ..Follower::default()
        }
    }

    /// Where the follower is (for the state file), once a file is open.
    pub fn position(&self) -> Option<Position> {
        self.open.as_ref().map(|o| o.pos)
    }

    /// Reads at most `max` bytes of complete lines. `saved` is where a state file says a
    /// previous run stopped (used when the file is first opened).
    pub fn read(
        &mut self,
        path: &Path,
        from_start: bool,
        saved: Option<Position>,
        max: usize,
    ) -> std::io::Result<Chunk> {
        let mut chunk = Chunk::default();
        if self.open.is_none() {
            if let Some(file) = self.queue.pop_front() {
                let meta = file.metadata()?;
                let pos = Position {
                    dev: meta.dev(),
                    ino: meta.ino(),
                    offset: 0,
                };
                self.draining = false;
                self.skipping = false;
                self.open = Some(Open {
                    file,
                    pos,
                    head: Vec::new(),
                    rotated: true,
                });
            }
        }
        let open = match &mut self.open {
            Some(open) => open,
            None => {
                let file = match crate::small_file::open_app_file(path, self.follow_links) {
                    Ok(file) => file,
                    Err(e) => {
                        // Not there yet (the app has not written its first line): all of
                        // the file that appears later came after the start, so it is read
                        // from its first byte, as a rotated-in file is.
                        if e.kind() == ErrorKind::NotFound {
                            self.next_from_zero = true;
                        }
                        return Err(e);
                    }
                };
                let meta = file.metadata()?;
                let (dev, ino, len) = (meta.dev(), meta.ino(), meta.len());
                let offset = match saved {
                    _ if self.next_from_zero => 0,
                    // Where the last run stopped, unless the file shrank since.
                    Some(s) if (s.dev, s.ino) == (dev, ino) => {
                        if s.offset <= len {
                            s.offset
                        } else {
                            0
                        }
                    }
                    // Rotated while the adapter was away: all of this file came after the
                    // saved position. (What the old file got meanwhile is out of reach.)
                    Some(_) => 0,
                    None if from_start => 0,
                    None => len,
                };
                // Starting at the end, possibly inside a line being written: skip its rest.
                self.skipping = offset > 0 && !ends_line(&file, offset)?;
                self.next_from_zero = false;
                self.draining = false;
                let mut head = vec![0; HEAD.min(usize::try_from(offset).unwrap_or(HEAD))];
                let n = read_full(&file, &mut head, 0)?;
                head.truncate(n);
                self.open.insert(Open {
                    file,
                    pos: Position { dev, ino, offset },
                    head,
                    rotated: false,
                })
            }
        };
        let len = open.file.metadata()?.len();
        if len < open.pos.offset {
            open.pos.offset = 0;
            open.head.clear();
            self.skipping = false;
            chunk.event = Some("truncated: reading it again from the start");
        } else if !same_head(&open.file, &open.head)? {
            open.pos.offset = 0;
            open.head.clear();
            self.skipping = false;
            chunk.event = Some("truncated and written again: reading it from the start");
        }
        let from = open.pos.offset;
        let avail = usize::try_from(len - open.pos.offset).unwrap_or(usize::MAX);
        // Reads of READ_SIZE bound the memory a burst takes (and the page's peak RSS); only
        // a line longer than that makes a read grow, up to `max`.
        let mut size = READ_SIZE.min(max).min(avail);
        let (mut buf, mut n);
        loop {
            buf = vec![0; size];
            n = read_full(&open.file, &mut buf, open.pos.offset)?;
            buf.truncate(n);
            let limit = max.min(avail);
            if self.skipping || n < size || size >= limit || buf.contains(&b'\n') {
                break;
            }
            size = size.saturating_mul(4).min(limit);
        }
        // The start of the file, while the head has not reached HEAD: kept once consumed.
        let head_part = match open.head.len() {
            have if have < HEAD && have as u64 == from => buf.get(..(HEAD - have).min(n)),
            _ => None,
        }
        .map(<[u8]>::to_vec);
        let mut start = 0;
        if self.skipping {
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    start = i + 1;
                    self.skipping = false;
                }
                None => {
                    // Still inside the long line: drop what there is of it.
                    open.pos.offset += n as u64;
                    chunk.consumed = n as u64;
                    chunk.more = n < avail;
                    return Ok(chunk);
                }
            }
        }
        let rest = buf.get(start..).unwrap_or_default();
        match rest.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                let end = start + last + 1;
                buf.truncate(end);
                buf.drain(..start);
                open.pos.offset += end as u64;
                chunk.consumed = end as u64;
                chunk.lines = buf;
                // At the end of a file that was renamed away: come back at once to finish
                // it and go on to the new one, rather than a poll later.
                chunk.more = n < avail || renamed(path, open.pos)?;
            }
            // A whole read without a newline: a line longer than the limit; dropped.
            None if n == max && max > 0 => {
                open.pos.offset += n as u64;
                chunk.consumed = n as u64;
                chunk.too_long = 1;
                self.skipping = true;
                chunk.more = true;
            }
            // At the end (perhaps with a partial line): has the file been rotated?
            None => {
                open.pos.offset += start as u64;
                chunk.consumed = start as u64;
                if !renamed(path, open.pos)? {
                    self.draining = false;
                } else if !self.draining {
                    // One more read of the old file: the writer may still have been
                    // writing to it when the new one appeared.
                    self.draining = true;
                    chunk.more = true;
                } else {
                    // Finished: a last line the writer never ended is a line all the same.
                    if let Some(tail) = rest.get(..).filter(|r| !r.is_empty()) {
                        chunk.lines = tail.to_vec();
                        chunk.lines.push(b'\n');
                        chunk.consumed += tail.len() as u64;
                    }
                    self.finished(path)?;
                    chunk.more = true;
                    chunk.event = Some("rotated: finished the old file, reading the next one");
                }
            }
        }
        if let (Some(open), Some(part)) = (&mut self.open, head_part) {
            extend_head(open, from, &part);
        }
        Ok(chunk)
    }

    /// The open file has been read to its end and is closed. The log's own old file (not
    /// one from the queue) is followed by the rotated files written since its last write,
    /// then by the file at the path, from its first byte.
    fn finished(&mut self, path: &Path) -> std::io::Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        if self.done.len() == DONE_KEPT {
            self.done.pop_front();
        }
        self.done.push_back((open.pos.dev, open.pos.ino));
        if !open.rotated {
            let since = open.file.metadata()?.modified()?;
            self.queue = super::rotated::written_since(path, since, &self.done)?;
        }
        self.next_from_zero = true;
        Ok(())
    }
}

/// Whether `file` still starts with `head` (the bytes read there before).
fn same_head(file: &File, head: &[u8]) -> std::io::Result<bool> {
    if head.is_empty() {
        return Ok(true);
    }
    let mut now = vec![0; head.len()];
    let n = read_full(file, &mut now, 0)?;
    Ok(now.get(..n) == Some(head))
}

/// Adds to the file's head the bytes a read at `from` (right after the head) gave and
/// consumed: bytes just read, never what might be another file's content since.
fn extend_head(open: &mut Open, from: u64, part: &[u8]) {
    if open.head.len() as u64 != from {
        return;
    }
    let consumed = usize::try_from(open.pos.offset.saturating_sub(from)).unwrap_or(0);
    open.head
        .extend_from_slice(part.get(..consumed.min(part.len())).unwrap_or_default());
}

/// Whether `path` names another file than the one at `pos` now.
fn renamed(path: &Path, pos: Position) -> std::io::Result<bool> {
    match std::fs::metadata(path) {
        Ok(m) => Ok((m.dev(), m.ino()) != (pos.dev, pos.ino)),
        // Renamed away and not yet created again: keep reading the old one.
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the byte before `offset` is a newline (a line starts at `offset`).
fn ends_line(file: &File, offset: u64) -> std::io::Result<bool> {
    let mut b = [0u8; 1];
    let n = file.read_at(&mut b, offset.saturating_sub(1))?;
    Ok(n == 0 || b == [b'\n'])
}

/// Reads until `buf` is full or the file ends.
fn read_full(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
        match file.read_at(rest, offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The most a state file may hold: one position line is at most 62 bytes. A bigger file
/// (a 2 GiB sparse one the app planted) is not ours, and is not read.
const STATE_LIMIT: u64 = 4096;

/// Writes the state file atomically: a temporary file beside it, then a rename, so a crash
/// leaves the old state or the new one, never half of one. The temporary file is created
/// anew (`O_EXCL|O_NOFOLLOW`, mode 0600): a `<state_file>.tmp` the app planted (a link to
/// a file to overwrite) is removed, never written through. The rename replaces a link at
/// the state file's path, not its target.
pub fn save(path: &Path, pos: Position) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(&tmp)
    };
    let mut file = match create() {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            // Left by a crash, or planted: unlinking removes the entry itself (a link, not
            // what it points to). Planted again at once: this write fails, the next retries.
            std::fs::remove_file(&tmp)?;
            create()?
        }
        other => other?,
    };
    file.write_all(pos.to_line().as_bytes())?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// The state file's position; `None` when there is none yet (or it is not ours to read).
/// Read as a small regular file, not through a link, without blocking: a FIFO, a device
/// or a huge file there is an error, never a hang or a big read.
pub fn load(path: &Path) -> std::io::Result<Option<Position>> {
    match crate::small_file::read_app_file(path, STATE_LIMIT) {
        Ok(bytes) => Ok(std::str::from_utf8(&bytes)
            .ok()
            .and_then(Position::from_line)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
