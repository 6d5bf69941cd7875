//! The rotated files a follower would otherwise miss: when a log is rotated by rename
//! twice between two polls (`access.log` -> `.1` -> `.2`), the middle file was never
//! opened. Before the new file, the files beside the log named as logrotate names its
//! copies (`access.log.1`, `access.log-20261207`: a dot or dash, then a digit), not
//! compressed, modified since the old file's last write and not read already, are read
//! whole, oldest first. A rotated file compressed or deleted
//! before the next poll is out of reach (a poll is a second by default).

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::SystemTime;

/// Files looked at beside the log, at most: a directory of thousands of files costs one
/// bounded listing per rotation, not more.
const MAX_ENTRIES: usize = 4096;

/// What logrotate and its kin name compressed copies: never text to count.
const COMPRESSED: &[&str] = &[".gz", ".bz2", ".xz", ".zst", ".lz4", ".lzo", ".zip", ".Z"];

/// The rotated copies of `log` written to since `since` (the finished file's last write),
/// other than the file at `log` now and those in `done`, oldest first.
pub fn written_since(
    log: &Path,
    since: SystemTime,
    done: &VecDeque<(u64, u64)>,
) -> std::io::Result<VecDeque<File>> {
    let (Some(dir), Some(name)) = (log.parent(), log.file_name()) else {
        return Ok(VecDeque::new());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let current = std::fs::metadata(log).ok().map(|m| (m.dev(), m.ino()));
    let name = name.as_encoded_bytes();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)?.take(MAX_ENTRIES) {
        let Ok(entry) = entry else { continue };
        let file_name = entry.file_name();
        let other = file_name.as_encoded_bytes();
        // What logrotate names a copy: `.1`, `-20261207`, `.2026-12-07`. Not `.json` or
        // `-error`: another log the app writes beside this one.
        let rotated_name = other
            .strip_prefix(name)
            .is_some_and(|rest| matches!(rest, [b'.' | b'-', digit, ..] if digit.is_ascii_digit()))
            && !COMPRESSED.iter().any(|c| other.ends_with(c.as_bytes()));
        if !rotated_name {
            continue;
        }
        // Opened first, then judged by what is open: no race with a rename meanwhile. The
        // directory is the app's: a symbolic link there is not followed (to a secret whose
        // lines would show as unmatched), nor a FIFO waited on.
        let Ok(file) = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(entry.path())
        else {
            continue;
        };
        let Ok(meta) = file.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let id = (meta.dev(), meta.ino());
        let fresh = meta.modified().is_ok_and(|m| m >= since);
        if fresh && Some(id) != current && !done.contains(&id) {
            found.push((meta.modified().unwrap_or(since), file));
        }
    }
    found.sort_by_key(|(modified, _)| *modified);
    Ok(found.into_iter().map(|(_, file)| file).collect())
}
