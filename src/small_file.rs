//! Small files named by the user or written by the app (config, recipes, secrets, TLS
//! files): read only when they are regular files, opened without blocking, and bounded in
//! size, so a FIFO or a runaway file at such a path can neither hang nor bloat the adapter.
//!
//! Files on a volume the app shares ([`open_app_file`]: a `file` source's stats file, a
//! `tail` source's log and state file) are the app's to plant: a symbolic link there is not
//! followed unless the config allows links, and the adapter's own `/proc/<pid>` (its
//! environment, its memory) is never read, whatever the path or links lead to.

use std::fs::File;
use std::io::{Error, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Config, recipe and web config files.
pub const CONFIG_LIMIT: u64 = 1 << 20;
/// Passwords, tokens, certificates and keys.
pub const SECRET_LIMIT: u64 = 256 << 10;

/// Opens `path` for reading without blocking, and only if it is a regular file.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    // O_NONBLOCK: opening a FIFO for reading blocks until a writer comes; a regular file
    // ignores the flag.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(Error::other(
            "not a regular file (a directory, FIFO, socket or device); not read",
        ));
    }
    Ok(file)
}

/// Opens a file the app controls for reading: without blocking, only a regular file, not
/// through a symbolic link as the last component unless `follow_links`, and never a file
/// of the adapter's own process (`/proc/self/environ` holds its secrets).
pub fn open_app_file(path: &Path, follow_links: bool) -> std::io::Result<File> {
    let nofollow = if follow_links {
        0
    } else {
        nix::libc::O_NOFOLLOW
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nofollow)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(nix::libc::ELOOP) if !follow_links => Error::other(
                "a symbolic link; not followed (the app could point it anywhere; set \
                 follow_links = true on the source to allow links)",
            ),
            _ => e,
        })?;
    if let Some(own) = own_process_file(&file) {
        return Err(Error::other(format!(
            "leads to {}, a file of the adapter's own process; never read",
            own.display()
        )));
    }
    if !file.metadata()?.is_file() {
        return Err(Error::other(
            "not a regular file (a directory, FIFO, socket or device); not read",
        ));
    }
    Ok(file)
}

/// Where an open file really is, when that is under the adapter's own `/proc/<pid>`
/// (whatever links or `/proc/self` spellings led there). Without procfs there is no such
/// file to read, so an unreadable descriptor link means none.
fn own_process_file(file: &File) -> Option<PathBuf> {
    let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    let own = Path::new("/proc").join(std::process::id().to_string());
    real.starts_with(&own).then_some(real)
}

/// [`read`] of a small file the app controls (see [`open_app_file`]; links not followed).
pub fn read_app_file(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    read_bounded(open_app_file(path, false)?, limit)
}

/// The whole file, if it is a regular file of at most `limit` bytes.
pub fn read(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    read_bounded(open_regular(path)?, limit)
}

fn read_bounded(file: File, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(Error::other(format!("larger than {limit} bytes")));
    }
    Ok(buf)
}

/// [`read`], as UTF-8 text.
pub fn read_to_string(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read(path, limit)?)
        .map_err(|_| Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_fifos_directories_and_big_files_without_blocking() {
        let dir = std::env::temp_dir().join(format!("ma-small-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("fifo");
        let _ = std::fs::remove_file(&fifo);
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let err = read(&fifo, 10).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
        assert!(read(&dir, 10).is_err());
        let big = dir.join("big");
        std::fs::write(&big, "12345678901").unwrap();
        assert_eq!(
            read(&big, 10).unwrap_err().to_string(),
            "larger than 10 bytes"
        );
        assert_eq!(read_to_string(&big, 11).unwrap(), "12345678901");
    }

    #[test]
    fn app_files_refuse_links_and_the_adapters_own_process() {
        let dir = std::env::temp_dir().join(format!("ma-small-app-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let real = dir.join("real");
        std::fs::write(&real, "a 1\n").unwrap();
        let link = dir.join("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = open_app_file(&link, false).unwrap_err().to_string();
        assert!(err.contains("a symbolic link; not followed"), "{err}");
        assert!(open_app_file(&link, true).is_ok());
        assert!(open_app_file(&real, false).is_ok());
        let environ = dir.join("environ");
        let _ = std::fs::remove_file(&environ);
        std::os::unix::fs::symlink("/proc/self/environ", &environ).unwrap();
        for path in [environ.as_path(), Path::new("/proc/self/environ")] {
            let err = open_app_file(path, true).unwrap_err().to_string();
            assert!(
                err.contains("the adapter's own process; never read"),
                "{err}"
            );
        }
        // Other procfs files (the default source reads /proc/meminfo) stay readable.
        assert!(open_app_file(Path::new("/proc/meminfo"), false).is_ok());
    }
}
