//! Small files named by the user or written by the app (config, recipes, secrets, TLS
//! files): read only when they are regular files, opened without blocking, and bounded in
//! size, so a FIFO or a runaway file at such a path can neither hang nor bloat the adapter.

use std::fs::File;
use std::io::{Error, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

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

/// The whole file, if it is a regular file of at most `limit` bytes.
pub fn read(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    open_regular(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)?;
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
}
