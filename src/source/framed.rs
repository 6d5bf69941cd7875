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
//!
//! A cut looks at the data's end first, in windows that double (as the file source reads),
//! so a whole 16 MiB answer costs about one block to cut, not a scan of every line; data
//! larger than [`CUT_INLINE_MAX`] is cut on the blocking pool all the same, since a log
//! without a single block start is scanned whole.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use super::{Fetch, SourceError};
use crate::framing::{latest_block, Context, Framing, FramingError, Written, SETTLE};

/// The first tail asked of an HTTP append log, and the first window a cut looks at; each
/// doubles until a block is found.
const FIRST_RANGE: u64 = 8 * 1024;
/// Data larger than this is cut on the blocking pool.
const CUT_INLINE_MAX: usize = 256 * 1024;

/// A recipe's framing as a fetch applies it, with what the source learnt of its blocks.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub framing: &'a Arc<Framing>,
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

    /// The latest complete block of `data` (which starts at the log's start, or inside it
    /// for a tail), remembered as this source's shape; off the runtime thread when big.
    async fn block(
        &self,
        data: Vec<u8>,
        ctx: Context,
    ) -> Result<Result<(Vec<u8>, Option<Written>), FramingError>, SourceError> {
        let framing = Arc::clone(self.framing);
        let small = data.len() <= CUT_INLINE_MAX;
        let cut = move || from_the_end(&data, &framing, ctx);
        let cut = if small {
            cut()
        } else {
            tokio::task::spawn_blocking(cut)
                .await
                .map_err(|e| SourceError::Protocol(format!("framing task failed: {e}")))?
        };
        Ok(cut.map(|(bytes, lines, written)| {
            self.known_lines.fetch_max(lines, Ordering::Relaxed);
            (bytes, written)
        }))
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
            let got = answer.body.len();
            let ctx = self.context(at_file_start, settled(fetch.modified));
            let cut = match self.block(answer.body, ctx).await {
                Ok(cut) => cut,
                Err(e) => {
                    return Fetch {
                        data: Err(e),
                        ..fetch
                    }
                }
            };
            match cut {
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
                        "{what}: no complete block in the last {got} bytes (max_bytes)"
                    )));
                    return fetch;
                }
                Err(e) => {
                    let empty = got == 0;
                    fetch.data = Err(framing_error(&what, e, fetch.modified.is_some(), empty));
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
pub async fn cut(
    mut fetch: Fetch,
    frame: Option<Frame<'_>>,
    what: impl FnOnce() -> String,
) -> Fetch {
    let Some(frame) = frame else {
        return fetch;
    };
    let data = match std::mem::replace(&mut fetch.data, Ok(Vec::new())) {
        Ok(data) => data,
        Err(e) => {
            return Fetch {
                data: Err(e),
                ..fetch
            }
        }
    };
    let empty = data.is_empty();
    fetch.data = match frame.block(data, frame.context(true, false)).await {
        Ok(Ok((bytes, written))) => {
            fetch.written = written;
            Ok(bytes)
        }
        Ok(Err(e)) => Err(framing_error(&what(), e, false, empty)),
        Err(e) => Err(e),
    };
    fetch
}

/// The latest complete block of `data`, looked for in windows from its end that double
/// until one holds a block (a window that starts inside the log starts mid-line, so its
/// first line is skipped); its bytes, lines and write time.
fn from_the_end(
    data: &[u8],
    framing: &Framing,
    ctx: Context,
) -> Result<(Vec<u8>, usize, Option<Written>), FramingError> {
    let mut size = usize::try_from(FIRST_RANGE).unwrap_or(usize::MAX);
    loop {
        let from = data.len().saturating_sub(size);
        let window = match from == 0 && ctx.at_file_start {
            true => data,
            false => data
                .get(from..)
                .and_then(|w| {
                    w.iter()
                        .position(|&b| b == b'\n')
                        .and_then(|i| w.get(i + 1..))
                })
                .unwrap_or_default(),
        };
        let inner = Context {
            at_file_start: ctx.at_file_start && from == 0,
            ..ctx
        };
        match latest_block(window, framing, inner) {
            Ok(b) => return Ok((b.bytes.to_vec(), b.lines, b.written)),
            Err(FramingError::NeedMore) if from > 0 => size = size.saturating_mul(2),
            Err(e) => return Err(e),
        }
    }
}

/// A framing error in words that fit the source: only a file or an HTTP answer with
/// `Last-Modified` has a change time to wait on for a lone block; an empty answer is an
/// empty log, not a wrong one.
fn framing_error(what: &str, e: FramingError, has_mtime: bool, empty: bool) -> SourceError {
    let reason = match e {
        FramingError::NoStart if empty => "the log is empty: no block written yet".to_string(),
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
    #[tokio::test]
    async fn a_whole_answer_is_cut_to_its_latest_block() {
        let mut framing = Framing::new(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} ", None).unwrap();
        framing.dated = true;
        let framing = Arc::new(framing);
        let known = AtomicUsize::new(0);
        let frame = Frame {
            framing: &framing,
            known_lines: &known,
        };
        let b1 = "Wed Nov 25 03:46:26 UTC 2026\nMemTotal: 1 kB\nMemFree: 2 kB\n";
        let b2 = "Wed Nov 25 03:46:31 UTC 2026\nMemTotal: 1 kB\nMemFree: 3 kB\n";
        let input = format!("{b1}{b2}Wed Nov 25 03:46:36 UTC 2026\nMemTo");
        let what = || "exec".to_string();
        let got = cut(Ok(input.into_bytes()).into(), Some(frame), what).await;
        assert_eq!(got.data.unwrap(), b2.as_bytes());
        assert_eq!(got.written.and_then(|w| w.period), Some(5.0));
        assert_eq!(known.load(Ordering::Relaxed), 3);
        // A lone block is judged against the shape learnt.
        let got = cut(Ok(b1.as_bytes().to_vec()).into(), Some(frame), what).await;
        assert_eq!(got.data.unwrap(), b1.as_bytes());
        let fresh = AtomicUsize::new(0);
        let frame = Frame {
            known_lines: &fresh,
            ..frame
        };
        let got = cut(Ok(b1.as_bytes().to_vec()).into(), Some(frame), what).await;
        let e = got.data.unwrap_err().to_string();
        assert!(
            e.starts_with("exec: the only block may still be being written"),
            "{e}"
        );
        let got = cut(Ok(b"a: 1\n".to_vec()).into(), Some(frame), what).await;
        let e = got.data.unwrap_err().to_string();
        assert!(
            e.contains("not the append log the recipe's [framing] expects"),
            "{e}"
        );
    }

    /// A big answer is cut from its end: the block is found without reading the rest (a
    /// start of garbage far back changes nothing), and a tail that starts mid-line skips
    /// its first line.
    #[test]
    fn the_cut_starts_at_the_end() {
        let framing = Framing::new("^--- ", None).unwrap();
        let block = |i: usize| format!("--- {i}\na: {i}\nb: {i}\n");
        let mut log = String::from("garbage that matches no block start\n");
        for i in 0..50_000 {
            log.push_str(&block(i));
        }
        let ctx = |at_file_start| Context {
            at_file_start,
            settled: true,
            known_lines: None,
        };
        let (bytes, lines, _) = from_the_end(log.as_bytes(), &framing, ctx(true)).unwrap();
        assert_eq!(bytes, block(49_999).as_bytes());
        assert_eq!(lines, 3);
        // A tail cut in the middle of a `---` line: that partial line is not a block start.
        let tail = "- 7\na: 7\nb: 7\n--- 8\na: 8\nb: 8\n--- 9\na: 9\n";
        let (bytes, _, _) = from_the_end(tail.as_bytes(), &framing, ctx(false)).unwrap();
        assert_eq!(bytes, block(8).as_bytes());
        let short = "--- 8\na: 8\nb: 8\n";
        assert_eq!(
            from_the_end(short.as_bytes(), &framing, ctx(false)),
            Err(FramingError::NeedMore)
        );
    }
}
