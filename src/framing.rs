//! Append-log framing: where the latest *complete* block of a log of whole dumps is.
//!
//! A writer that appends `{ date; cat /proc/meminfo; } >> f` every few seconds leaves a file
//! of blocks, each opened by a line `block_start` matches. Knowing that shape belongs to the
//! recipe that reads the dump (`[framing]` in `parsers/*.toml`), so the first config a user
//! writes reads the newest block; a source may override it. Both the `file` source (reading
//! backwards from the end of a live file) and `metrics-adapter parse` (a saved log) use
//! [`latest_block`], so a log checked offline gives the numbers the server serves.
//!
//! # When is a block complete
//! - A block followed by the start of another is complete (with `block_end`: if it holds
//!   its end line; a block cut short by a writer that died is skipped).
//! - The last block may still be growing. Its last line must end in a newline, and then:
//!   - with `block_end`, it is complete when it holds the end line;
//!   - without, it is complete when it has at least as many lines as the block before it,
//!     or, when it is the file's only block, as many as the last complete block this
//!     source read, or, with nothing to compare against, when the file has not changed
//!     for [`SETTLE`] (a writer appends one block in milliseconds).
//! - `block_end` must match only a block's last line: a pattern that matches several lines
//!   of one block (`^DirectMap` against `DirectMap4k`/`2M`/`1G`) cannot tell a cut block
//!   from a whole one, and is reported instead of guessed around.
//!
//! # When is a log stale
//! A recipe whose `block_start` line is the block's `date` (`[framing] dated = true`) gives
//! each block its write time, so the log carries its own clock: the *write period* is the
//! median gap between the start lines of the last blocks read (up to [`PERIOD_BLOCKS`], the
//! upper median of an even count), so neither one late block nor a restart after a pause
//! sets it; the source is stale by default once its newest complete block is older than
//! [`STALE_PERIODS`] periods, and never sooner than [`STALE_FLOOR`] (a `date` line has whole
//! seconds, and a writer's loop drifts). See [`Written::default_limit`].
// Source text is the app's: an index or slice that can panic is a crash on its data.
#![warn(clippy::indexing_slicing)]

use std::time::Duration;

use regex::Regex;

/// How long a file must be unchanged before a lone block without an end marker counts as
/// complete.
pub const SETTLE: Duration = Duration::from_secs(1);
/// Blocks whose start lines give the write period.
pub const PERIOD_BLOCKS: usize = 5;
/// A dated log is stale, by default, past this many write periods...
pub const STALE_PERIODS: u32 = 3;
/// ...and never sooner than this.
pub const STALE_FLOOR: Duration = Duration::from_secs(10);

/// How to find blocks in an append log.
#[derive(Debug, Clone)]
pub struct Framing {
    /// A line matching this starts a block.
    pub start: Regex,
    /// A line matching this is a block's last line.
    pub end: Option<Regex>,
    /// The `block_start` line is the block's write time (a `date` line).
    pub dated: bool,
}

impl Framing {
    /// Compiles the two patterns; errors name the key.
    pub fn new(start: &str, end: Option<&str>) -> Result<Framing, (&'static str, String)> {
        let re = |key, p: &str| Regex::new(p).map_err(|e| (key, e.to_string()));
        Ok(Framing {
            start: re("block_start", start)?,
            end: end.map(|e| re("block_end", e)).transpose()?,
            dated: false,
        })
    }
}

/// What is known about the data besides its bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// The data starts at the beginning of the file (else it is a tail window whose first
    /// bytes may be the middle of a line or block).
    pub at_file_start: bool,
    /// The file has not changed for [`SETTLE`] (always true for a saved log).
    pub settled: bool,
    /// Lines of the last complete block this source read, if any.
    pub known_lines: Option<usize>,
}

/// The latest complete block: its bytes and line count, and when it was written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Block<'a> {
    pub bytes: &'a [u8],
    pub lines: usize,
    /// With dated framing, when its start line parses as a date.
    pub written: Option<Written>,
}

/// When a dated log's latest complete block was written, and how often blocks come.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Written {
    /// Its start line, as Unix time.
    pub at: f64,
    /// The median gap between the start lines of the last blocks read, in seconds; `None`
    /// when the bytes read held one dated block only.
    pub period: Option<f64>,
}

impl Written {
    /// Past this age the writer is taken for stopped when `max_age` is not set:
    /// [`STALE_PERIODS`] write periods, at least [`STALE_FLOOR`]. `None` without a period.
    pub fn default_limit(&self) -> Option<Duration> {
        let periods = Duration::try_from_secs_f64(self.period? * f64::from(STALE_PERIODS)).ok()?;
        Some(periods.max(STALE_FLOOR))
    }

    pub fn time(&self) -> Option<std::time::SystemTime> {
        std::time::UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(self.at).ok()?)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A tail window did not hold enough to decide: read further back.
    #[error("no complete block in the bytes read")]
    NeedMore,
    #[error("no line matches block_start")]
    NoStart,
    #[error(
        "the only block may still be being written (no block before it to compare with, \
         no block_end, and the file changed less than {}s ago)",
        SETTLE.as_secs()
    )]
    Unsettled,
    #[error("no block is complete yet (block_end never matched after a block_start)")]
    NoEnd,
    #[error(
        "block_end matches {0} lines of one block; it must match only a block's last line \
         (else a block cut after the first match looks complete)"
    )]
    AmbiguousEnd(usize),
}

/// A saved input as a parser with `framing` reads it: an append log cut to its latest
/// complete block (the file is taken as settled), anything else as it is.
pub fn saved_input<'a>(
    framing: Option<&Framing>,
    input: &'a [u8],
) -> Result<&'a [u8], FramingError> {
    let Some(framing) = framing else {
        return Ok(input);
    };
    let ctx = Context {
        at_file_start: true,
        settled: true,
        known_lines: None,
    };
    latest_block(input, framing, ctx).map(|b| b.bytes)
}

/// One block's place in the data.
struct Span {
    start: usize,
    end: usize,
    lines: usize,
    /// Lines matching `block_end`.
    end_lines: usize,
}

/// Finds the latest complete block in `data` (see the module doc for the rule).
pub fn latest_block<'a>(
    data: &'a [u8],
    framing: &Framing,
    ctx: Context,
) -> Result<Block<'a>, FramingError> {
    // A last line without its newline is still being written: it belongs to no block yet
    // (not even as the start of the next one, so it cannot spoil the block before it).
    let whole = data.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let data = data.get(..whole).unwrap_or_default();
    let mut spans: Vec<Span> = Vec::new();
    let mut offset = 0;
    // Work on the bytes (offsets must stay exact for invalid UTF-8) and test each line.
    for raw in data.split_inclusive(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_end_matches(['\n', '\r']);
        if framing.start.is_match(line) {
            if let Some(last) = spans.last_mut() {
                last.end = offset;
            }
            spans.push(Span {
                start: offset,
                end: data.len(),
                lines: 0,
                end_lines: 0,
            });
        }
        if let Some(span) = spans.last_mut() {
            span.lines += 1;
            span.end_lines += usize::from(framing.end.as_ref().is_some_and(|e| e.is_match(line)));
        }
        offset += raw.len();
    }
    if spans.is_empty() {
        return Err(if ctx.at_file_start {
            FramingError::NoStart
        } else {
            FramingError::NeedMore
        });
    }
    if let Some(n) = spans.iter().map(|s| s.end_lines).find(|&n| n > 1) {
        if framing.end.is_some() {
            return Err(FramingError::AmbiguousEnd(n));
        }
    }
    let block = |i: usize, s: &Span| Block {
        bytes: data.get(s.start..s.end).unwrap_or_default(),
        lines: s.lines,
        written: match framing.dated {
            true => written(data, spans.get(..=i).unwrap_or_default()),
            false => None,
        },
    };
    let last = spans.len() - 1;
    for (i, span) in spans.iter().enumerate().rev() {
        let complete = match &framing.end {
            Some(_) => span.end_lines == 1,
            None if i < last => true,
            None => match (
                i.checked_sub(1).and_then(|p| spans.get(p)).map(|s| s.lines),
                ctx.known_lines,
            ) {
                (Some(before), _) => span.lines >= before,
                // The window may have cut off the block before this one: read further back.
                (None, _) if !ctx.at_file_start => return Err(FramingError::NeedMore),
                (None, Some(known)) => span.lines >= known || ctx.settled,
                (None, None) => ctx.settled,
            },
        };
        if complete {
            return Ok(block(i, span));
        }
        if i == last && i == 0 && framing.end.is_none() {
            return Err(if ctx.at_file_start {
                FramingError::Unsettled
            } else {
                FramingError::NeedMore
            });
        }
    }
    Err(match (&framing.end, ctx.at_file_start) {
        (_, false) => FramingError::NeedMore,
        (Some(_), true) => FramingError::NoEnd,
        (None, true) => FramingError::Unsettled,
    })
}

/// The write time of the last of `spans` and the write period, from their start lines.
fn written(data: &[u8], spans: &[Span]) -> Option<Written> {
    let time = |s: &Span| {
        let rest = data.get(s.start..s.end)?;
        let line = rest.split(|&b| b == b'\n').next()?;
        crate::parse::date::parse(std::str::from_utf8(line).ok()?.trim()).ok()
    };
    let at = time(spans.last()?)?;
    let first = spans.len().saturating_sub(PERIOD_BLOCKS);
    let times: Vec<f64> = spans.get(first..)?.iter().filter_map(time).collect();
    // A clock set back makes a negative gap: no period from it.
    let mut gaps: Vec<f64> = times
        .windows(2)
        .filter_map(|w| match w {
            [a, b] if b >= a => Some(b - a),
            _ => None,
        })
        .collect();
    gaps.sort_by(f64::total_cmp);
    let period = gaps.get(gaps.len() / 2).copied();
    Some(Written { at, period })
}

#[cfg(test)]
mod tests;
