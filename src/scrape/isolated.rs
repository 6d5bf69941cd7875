//! Running a parser on a source's bytes: off the runtime thread for a big input, a panic
//! caught (it takes down the source, never the process), and one parse per source at a
//! time.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::failure::FailureKind;
use crate::family::bounds;
use crate::parse::Parsed;
use crate::recipe::Parser;

/// Inputs larger than this are parsed on the blocking pool, so a big page never holds the
/// runtime thread (and `/healthz`, and other sources) while it parses.
const PARSE_INLINE_MAX: usize = 256 * 1024;

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// A parse with its label values cut to [`bounds::LABEL_VALUE_MAX`].
pub(super) struct Bounded {
    pub parsed: Parsed,
    /// Label values cut, and the first described.
    pub cut: u64,
    pub first_cut: Option<String>,
    /// About how many bytes the families take on a page.
    pub size: usize,
}

fn bounded(mut parsed: Parsed) -> Bounded {
    let (cut, first_cut) = bounds::cut_long_label_values(&mut parsed.families);
    let size = bounds::page_size(&parsed.families);
    Bounded {
        parsed,
        cut,
        first_cut,
        size,
    }
}

/// Runs the parser, catching a panic: a parser bug marks this source down with the reason
/// and leaves the process and the other sources running. Big inputs go to the blocking pool.
///
/// One parse per source at a time (`slot`, the source's): a parse abandoned at the source
/// timeout runs on to its end on its thread, holding the slot, and a read meanwhile is
/// refused rather than starting another (54 scrapes of a source that timed out mid-parse
/// would otherwise be 54 parses, and their memory).
///
/// The result is bounded there too ([`bounds`]): long label values cut (how many, and the
/// first, are returned with it), and a part of the page past [`bounds::PAGE_MAX`] an error.
pub(super) async fn parse_isolated(
    slot: &Arc<Semaphore>,
    parser: Arc<dyn Parser>,
    bytes: Arc<Vec<u8>>,
    max_values: usize,
) -> Result<Bounded, (FailureKind, String)> {
    let name = parser.name().to_string();
    let Ok(permit) = slot.clone().try_acquire_owned() else {
        return Err((
            FailureKind::Timeout,
            format!(
                "parser {name}: the previous parse, abandoned at the source timeout, is still \
                 running; not started again until it ends"
            ),
        ));
    };
    let inline = bytes.len() <= PARSE_INLINE_MAX;
    let run = move || {
        let parsed = std::panic::catch_unwind(AssertUnwindSafe(|| {
            parser.parse_capped(&bytes, max_values).map(bounded)
        }))
        .map_err(|p| panic_message(p.as_ref()));
        drop(permit);
        parsed
    };
    let result = if inline {
        run()
    } else {
        tokio::task::spawn_blocking(run)
            .await
            .unwrap_or_else(|e| Err(format!("parse task failed: {e}")))
    };
    match result {
        Ok(Ok(b)) if b.size > bounds::PAGE_MAX => {
            Err((FailureKind::Limit, super::failure::page_too_big(b.size)))
        }
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err((FailureKind::of_parse(&e), format!("parser {name}: {e}"))),
        Err(panic) => Err((
            FailureKind::Bug,
            format!("parser {name} panicked (a bug; please report it with the input): {panic}"),
        )),
    }
}
