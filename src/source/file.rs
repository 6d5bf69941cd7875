//! `file`: a stats file on a shared volume, read at fetch time.
//!
//! A missing file is an error (the source is down). Files are opened anew each time, so a
//! file replaced by rename is picked up. With `block_start`, the file is an append log of
//! whole dumps (`date` + `/proc/meminfo` every 5 s) and only the latest complete block is
//! returned, read from the file's tail so the cost does not grow with the file.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

use regex::Regex;

use super::SourceError;
use crate::config::RawSource;

pub const KEYS: &[&str] = &["path", "block_start", "block_end"];

#[derive(Debug, Clone)]
pub struct FileSource {
    pub path: PathBuf,
    pub blocks: Option<Blocks>,
}

/// How to find the latest complete block in an append log.
#[derive(Debug, Clone)]
pub struct Blocks {
    /// A line matching this starts a block.
    pub start: Regex,
    /// A line matching this ends a block; without it, a block is complete when it is
    /// followed by another, or when it ends in a newline and is no shorter than the one
    /// before it (a writer appends whole dumps of the same shape).
    pub end: Option<Regex>,
}

impl FileSource {
    pub fn from_config(raw: &RawSource) -> Result<FileSource, (&'static str, String)> {
        let path = raw
            .path
            .clone()
            .ok_or(("path", "missing: the file to read".to_string()))?;
        let regex = |key: &'static str, p: &str| Regex::new(p).map_err(|e| (key, e.to_string()));
        let blocks = match (&raw.block_start, &raw.block_end) {
            (Some(s), e) => Some(Blocks {
                start: regex("block_start", s)?,
                end: e.as_deref().map(|e| regex("block_end", e)).transpose()?,
            }),
            (None, Some(_)) => return Err(("block_end", "needs block_start".to_string())),
            (None, None) => None,
        };
        Ok(FileSource {
            path: PathBuf::from(path),
            blocks,
        })
    }

    pub async fn fetch(&self, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.read(max_bytes))
            .await
            .map_err(|e| SourceError::Protocol(format!("file reader task failed: {e}")))?
    }

    fn read(&self, max_bytes: u64) -> Result<Vec<u8>, SourceError> {
        let what = || format!("reading {}", self.path.display());
        let mut file = std::fs::File::open(&self.path).map_err(SourceError::io(what()))?;
        let Some(blocks) = &self.blocks else {
            let mut buf = Vec::new();
            (&mut file)
                .take(max_bytes.saturating_add(1))
                .read_to_end(&mut buf)
                .map_err(SourceError::io(what()))?;
            if buf.len() as u64 > max_bytes {
                return Err(SourceError::TooLarge { limit: max_bytes });
            }
            return Ok(buf);
        };
        // An append log grows without bound: read only its tail (max_bytes of it).
        let len = file.metadata().map_err(SourceError::io(what()))?.len();
        let from = len.saturating_sub(max_bytes);
        file.seek(SeekFrom::Start(from))
            .map_err(SourceError::io(what()))?;
        let mut buf = Vec::new();
        file.take(max_bytes)
            .read_to_end(&mut buf)
            .map_err(SourceError::io(what()))?;
        if from > 0 {
            // The window starts mid-line: drop that partial line.
            let cut = buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(buf.len(), |i| i + 1);
            buf.drain(..cut);
        }
        latest_block(&buf, blocks)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                SourceError::Protocol(format!(
                    "{}: no complete block (block_start) in the last {} bytes",
                    self.path.display(),
                    max_bytes
                ))
            })
    }
}

/// The latest complete block of an append log.
pub fn latest_block<'a>(data: &'a [u8], blocks: &Blocks) -> Option<&'a [u8]> {
    // A last line without its newline is still being written: it belongs to no block yet
    // (not even as the start of the next one, so it cannot spoil the block before it).
    let data = &data[..data.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)];
    // Work on the bytes (offsets must stay exact for invalid UTF-8) and test each line.
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in data.split_inclusive(|&b| b == b'\n') {
        let s = String::from_utf8_lossy(line);
        if blocks.start.is_match(s.trim_end_matches(['\n', '\r'])) {
            starts.push(offset);
        }
        offset += line.len();
    }
    let spans: Vec<&[u8]> = starts
        .iter()
        .enumerate()
        .map(|(i, &s)| &data[s..starts.get(i + 1).copied().unwrap_or(data.len())])
        .collect();
    let lines = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count();
    let complete = |i: usize| -> bool {
        let block = spans[i];
        match &blocks.end {
            Some(end) => block
                .split(|&b| b == b'\n')
                .any(|l| end.is_match(String::from_utf8_lossy(l).trim_end_matches('\r'))),
            None if i + 1 < spans.len() => true,
            None => i == 0 || lines(block) >= lines(spans[i - 1]),
        }
    };
    (0..spans.len())
        .rev()
        .find(|&i| complete(i))
        .map(|i| spans[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(end: Option<&str>) -> Blocks {
        Blocks {
            start: Regex::new(r"^\w{3} \w{3} +\d+ ").unwrap(),
            end: end.map(|e| Regex::new(e).unwrap()),
        }
    }

    const B1: &str = "Wed Nov 25 03:46:26 UTC 2026\nMemTotal: 100 kB\nMemFree: 50 kB\n";
    const B2: &str = "Wed Nov 25 03:46:31 UTC 2026\nMemTotal: 100 kB\nMemFree: 40 kB\n";

    #[test]
    fn picks_the_last_complete_block() {
        let all = format!("{B1}{B2}");
        assert_eq!(
            latest_block(all.as_bytes(), &blocks(None)),
            Some(B2.as_bytes())
        );
    }

    #[test]
    fn skips_a_half_written_block() {
        for partial in [
            "Wed Nov 25 03:46:36 UTC 2026\n",
            "Wed Nov 25 03:46:36 UTC 2026\nMemTotal: 100 kB\nMemFr",
        ] {
            let all = format!("{B1}{B2}{partial}");
            assert_eq!(
                latest_block(all.as_bytes(), &blocks(None)),
                Some(B2.as_bytes()),
                "{partial:?}"
            );
        }
    }

    #[test]
    fn end_marker_decides_when_given() {
        let all = format!("{B1}Wed Nov 25 03:46:31 UTC 2026\nMemTotal: 100 kB\n");
        assert_eq!(
            latest_block(all.as_bytes(), &blocks(Some("^MemFree:"))),
            Some(B1.as_bytes())
        );
        assert_eq!(latest_block(b"no blocks here\n", &blocks(None)), None);
    }
}
