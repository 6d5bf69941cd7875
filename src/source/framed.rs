//! A recipe's `[framing]` applied to whatever source delivers an append log: the latest
//! complete block is served, by the rules of [`crate::framing`], from a file (read backwards
//! by [`super::file`]), an HTTP page (its tail, here) or a command's or socket's answer (cut
//! here). So a recipe reads the same block however its log is reached.
//!
//! Over HTTP only the tail is asked for, `Range: bytes=-N` (nginx and most static servers
//! answer 206 with the last N bytes), and N doubles until the window holds a complete block,
//! as the file source reads backwards: a read costs about one block whatever the log's size.
//! A server that ignores ranges answers 200 with the whole body, which is read (at most
//! `max_bytes`) and cut the same way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use super::{Fetch, SourceError};
use crate::framing::{latest_block, Context, Framing, FramingError, Written, SETTLE};

/// The first tail asked of an HTTP append log; it doubles until a block is found.
const FIRST_RANGE: u64 = 8 * 1024;

/// A recipe's framing as a fetch applies it, with what the source learnt of its blocks.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub framing: &'a Framing,
    /// Lines of the longest block served so far (0 before the first): a lone block with
    /// fewer may still be growing.
    pub known_lines: &'a AtomicUsize,
}

impl Frame<'_> {
    fn context(&self, at_file_start: bool, settled: bool) -> Context {
        Context {
            at_file_start,
            settled,
            known_lines: Some(self.known_lines.load(Ordering::Relaxed)).filter(|&n| n > 0),
        }
    }

    /// The latest complete block of `window`, remembered as this source's shape.
    fn block(
        &self,
        window: &[u8],
        ctx: Context,
    ) -> Result<(Vec<u8>, Option<Written>), FramingError> {
        let block = latest_block(window, self.framing, ctx)?;
        self.known_lines.fetch_max(block.lines, Ordering::Relaxed);
        Ok((block.bytes.to_vec(), block.written))
    }

    /// The latest complete block of an append log served over HTTP, from its tail.
    pub async fn http_tail(&self, source: &super::http::HttpSource, max_bytes: u64) -> Fetch {
        let what = source.describe();
        let mut fetch = Fetch::default();
        let mut want = FIRST_RANGE.min(max_bytes);
        loop {
            let answer = match source.get(max_bytes, Some(want)).await {
                Ok(answer) => answer,
                Err(SourceError::TooLarge { limit }) => {
                    fetch.data = Err(SourceError::Protocol(format!(
                        "{what}: the server ignored the Range request and sent more than \
                         max_bytes ({limit}) of the log: raise max_bytes, or serve the file \
                         from a server that answers ranges (nginx does)"
                    )));
                    return fetch;
                }
                Err(e) => {
                    return Fetch {
                        data: Err(e),
                        ..fetch
                    }
                }
            };
            fetch.read_bytes += answer.read_bytes;
            fetch.modified = answer.last_modified;
            // 206: the last bytes (the whole file when it is shorter than asked); 200: the
            // whole file (ranges ignored); 416: nothing to give, an empty file.
            let at_file_start = match answer.status.as_u16() {
                206 => range_start(answer.content_range.as_deref()) == Some(0),
                416 => true,
                s if answer.status.is_success() => s == 200,
                s => return Fetch::failed(SourceError::Status(s)).with_read(fetch.read_bytes),
            };
            let window = match at_file_start {
                true => &answer.body[..],
                // A window that starts inside the file starts mid-line: skip to the next.
                false => answer
                    .body
                    .iter()
                    .position(|&b| b == b'\n')
                    .and_then(|i| answer.body.get(i + 1..))
                    .unwrap_or_default(),
            };
            let ctx = self.context(at_file_start, settled(fetch.modified));
            match self.block(window, ctx) {
                Ok((bytes, written)) => {
                    fetch.data = Ok(bytes);
                    fetch.written = written;
                    return fetch;
                }
                Err(FramingError::NeedMore) if want < max_bytes => {
                    want = want.saturating_mul(2).min(max_bytes);
                }
                Err(FramingError::NeedMore) => {
                    fetch.data = Err(SourceError::Protocol(format!(
                        "{what}: no complete block in the last {} bytes (max_bytes)",
                        answer.body.len()
                    )));
                    return fetch;
                }
                Err(e) => {
                    fetch.data = Err(framing_error(&what, e, fetch.modified.is_some()));
                    return fetch;
                }
            }
        }
    }
}

impl Fetch {
    fn with_read(mut self, read_bytes: u64) -> Fetch {
        self.read_bytes = read_bytes;
        self
    }
}

/// A whole answer (a command's output, a socket's reply) cut to its latest complete block.
/// It is all there is, so it starts at the start of the log; whether its writer is done
/// with a lone block nothing tells, so that waits for the block after it.
pub fn cut(fetch: Fetch, frame: Option<Frame<'_>>, what: impl FnOnce() -> String) -> Fetch {
    let (Some(frame), Ok(data)) = (frame, &fetch.data) else {
        return fetch;
    };
    let data = match frame.block(data, frame.context(true, false)) {
        Ok((bytes, written)) => {
            return Fetch {
                data: Ok(bytes),
                written,
                ..fetch
            }
        }
        Err(e) => Err(framing_error(&what(), e, false)),
    };
    Fetch { data, ..fetch }
}

/// A framing error in words that fit the source: only a file or an HTTP answer with
/// `Last-Modified` has a change time to wait on for a lone block.
fn framing_error(what: &str, e: FramingError, has_mtime: bool) -> SourceError {
    let reason = match e {
        FramingError::Unsettled if !has_mtime => "the only block may still be being written \
             (no block before it to compare with, no block_end, and no modification time): \
             it is served once the next block follows it"
            .to_string(),
        FramingError::NoStart => format!(
            "no line matches the recipe's block_start: the input is not the append log the \
             recipe's [framing] expects ({e})"
        ),
        e => e.to_string(),
    };
    SourceError::Protocol(format!("{what}: {reason}"))
}

/// The first byte's offset in a `Content-Range: bytes 100-199/200` value.
fn range_start(value: Option<&str>) -> Option<u64> {
    let (start, _) = value?.trim().strip_prefix("bytes ")?.split_once('-')?;
    start.trim().parse().ok()
}

/// Whether a page last modified at `modified` has been quiet for [`SETTLE`].
fn settled(modified: Option<SystemTime>) -> bool {
    modified
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age >= SETTLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_gives_the_first_byte() {
        assert_eq!(range_start(Some("bytes 0-99/100")), Some(0));
        assert_eq!(range_start(Some("bytes 4096-8191/8192")), Some(4096));
        assert_eq!(range_start(Some("bytes 7-9/*")), Some(7));
        for bad in [None, Some("bytes */100"), Some("items 0-1/2"), Some("")] {
            assert_eq!(range_start(bad), None, "{bad:?}");
        }
    }

    /// The seed's shape, delivered whole by a command or socket: the latest complete block,
    /// its clock, and a clear reason when the input is not the recipe's log.
    #[test]
    fn a_whole_answer_is_cut_to_its_latest_block() {
        let mut framing = Framing::new(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} ", None).unwrap();
        framing.dated = true;
        let known = AtomicUsize::new(0);
        let frame = Frame {
            framing: &framing,
            known_lines: &known,
        };
        let b1 = "Wed Nov 25 03:46:26 UTC 2026\nMemTotal: 1 kB\nMemFree: 2 kB\n";
        let b2 = "Wed Nov 25 03:46:31 UTC 2026\nMemTotal: 1 kB\nMemFree: 3 kB\n";
        let input = format!("{b1}{b2}Wed Nov 25 03:46:36 UTC 2026\nMemTo");
        let what = || "exec".to_string();
        let got = cut(Ok(input.into_bytes()).into(), Some(frame), what);
        assert_eq!(got.data.unwrap(), b2.as_bytes());
        assert_eq!(got.written.and_then(|w| w.period), Some(5.0));
        assert_eq!(known.load(Ordering::Relaxed), 3);
        // A lone block is judged against the shape learnt.
        let got = cut(Ok(b1.as_bytes().to_vec()).into(), Some(frame), what);
        assert_eq!(got.data.unwrap(), b1.as_bytes());
        let fresh = AtomicUsize::new(0);
        let frame = Frame {
            known_lines: &fresh,
            ..frame
        };
        let got = cut(Ok(b1.as_bytes().to_vec()).into(), Some(frame), what);
        let e = got.data.unwrap_err().to_string();
        assert!(
            e.starts_with("exec: the only block may still be being written"),
            "{e}"
        );
        let got = cut(Ok(b"a: 1\n".to_vec()).into(), Some(frame), what);
        let e = got.data.unwrap_err().to_string();
        assert!(
            e.contains("not the append log the recipe's [framing] expects"),
            "{e}"
        );
    }
}
