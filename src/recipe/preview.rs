//! Previews: one parser's result as a page, without a scraper. What `metrics-adapter parse`
//! prints, what the golden tests compare, and what the property tests and fuzz targets check
//! for well-formedness. It sits above both parsing and exposition, so neither depends on
//! the other.

use super::compile::Parser;
use crate::exposition::{check::check_page, encode, WireFormat};
use crate::family::{repeated_dump, Conflict, FamilySet};
use crate::parse::Parsed;

/// One parser's result as a page: the families merged and checked into a set, then
/// encoded. Also returns what was left out: skipped values (`skipped: ...`) and families or
/// series the set refused (`dropped: ...`).
pub fn render(parsed: Parsed, format: WireFormat) -> (String, Vec<String>) {
    let (set, conflicts, mut notes) = merge(parsed);
    notes.extend(conflicts.into_iter().map(|c| format!("dropped: {c}")));
    (encode(&set, format), notes)
}

/// [`render`] for `metrics-adapter parse`: the verdict a source reading the same input
/// reaches comes first, so an input the server refuses (an append log read as one dump)
/// is refused here too, with the same reason, rather than printed.
pub fn render_checked(parsed: Parsed, format: WireFormat) -> Result<(String, Vec<String>), String> {
    let (set, conflicts, mut notes) = merge(parsed);
    if let Some(reason) = repeated_dump(&set, &conflicts) {
        return Err(reason);
    }
    notes.extend(conflicts.into_iter().map(|c| format!("dropped: {c}")));
    Ok((encode(&set, format), notes))
}

/// The families merged into a set, what the set refused, and the skipped values as notes.
fn merge(parsed: Parsed) -> (FamilySet, Vec<Conflict>, Vec<String>) {
    let notes = parsed
        .issues
        .iter()
        .map(|i| format!("skipped: {i}"))
        .collect();
    let mut set = FamilySet::new();
    let mut conflicts = Vec::new();
    set.extend(parsed.families, &mut conflicts);
    (set, conflicts, notes)
}

/// A page that is not well-formed: the format, what is wrong, and the page itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format:?} page: {problem}\n{page}")]
pub struct MalformedPage {
    pub format: WireFormat,
    pub problem: String,
    pub page: String,
}

/// Runs `parser` on `input` and checks what comes out: the page in both formats is
/// well-formed. A parse error is a fine answer; a panic or a malformed page is not. The
/// property tests and the fuzz targets (`fuzz/`) share this.
pub fn check_input(parser: &dyn Parser, input: &[u8]) -> Result<(), MalformedPage> {
    check_input_as(parser, input, &[WireFormat::Text, WireFormat::OpenMetrics])
}

/// [`check_input`] with the page rendered and checked in `formats` only. The fuzz targets
/// check one format per input (chosen by the input), which halves the cost of an input
/// without losing either format over a run.
pub fn check_input_as(
    parser: &dyn Parser,
    input: &[u8],
    formats: &[WireFormat],
) -> Result<(), MalformedPage> {
    let Ok(parsed) = parser.parse(input) else {
        return Ok(());
    };
    let check = |parsed, format| {
        let (page, _) = render(parsed, format);
        check_page(&page, format).map_err(|problem| MalformedPage {
            format,
            problem,
            page,
        })
    };
    // The last format takes the result itself: no copy of a big parse for one format.
    let Some((&last, others)) = formats.split_last() else {
        return Ok(());
    };
    for &format in others {
        check(parsed.clone(), format)?;
    }
    check(parsed, last)
}
