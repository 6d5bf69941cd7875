//! The one number grammar: what counts as a sample value in source text.
//!
//! Stricter than `str::parse::<f64>` on purpose: `inf`, `infinity`, `nan` or `1_000` in a
//! status page are words, not numbers, and must not become samples.
// Source text is the app's: an index or slice that can panic is a crash on its data.
#![warn(clippy::indexing_slicing)]

use nom::branch::alt;
use nom::bytes::complete::tag;
use nom::character::complete::{digit0, digit1, one_of};
use nom::combinator::{all_consuming, opt, recognize};
use nom::{IResult, Parser};

fn decimal(input: &str) -> IResult<&str, &str> {
    recognize((
        opt(one_of("+-")),
        alt((
            recognize((digit1, opt((tag("."), digit0)))),
            recognize((tag("."), digit1)),
        )),
        opt((one_of("eE"), opt(one_of("+-")), digit1)),
    ))
    .parse(input)
}

/// Parses a sample value: decimal or scientific notation (`12`, `-3.5`, `.01`, `1e-6`,
/// `1.`), or the exposition spellings `NaN`, `+Inf`, `-Inf`, `Inf`.
pub fn parse(text: &str) -> Option<f64> {
    let text = text.trim();
    // Most values are plain counts: up to 15 digits are below 2^53, so exact as an f64,
    // and need neither the grammar nor the general float parser.
    if !text.is_empty() && text.len() <= 15 && text.bytes().all(|b| b.is_ascii_digit()) {
        let n = text.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
        return Some(n as f64);
    }
    match text {
        "NaN" => return Some(f64::NAN),
        "+Inf" | "Inf" => return Some(f64::INFINITY),
        "-Inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    // The grammar only accepts; the whole text is what it accepted.
    all_consuming(decimal).parse(text).ok()?;
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn accepts_source_spellings() {
        assert_eq!(parse("12"), Some(12.0));
        assert_eq!(parse(" -3.5 "), Some(-3.5));
        assert_eq!(parse(".0384615"), Some(0.0384615));
        assert_eq!(parse("1e-6"), Some(1e-6));
        assert_eq!(parse("1."), Some(1.0));
        assert_eq!(parse("+7"), Some(7.0));
        assert_eq!(parse("18446744073709551615"), Some(18446744073709551615.0));
        assert_eq!(parse("999999999999999"), Some(999999999999999.0));
        assert_eq!(parse("0009"), Some(9.0));
        assert!(parse("NaN").unwrap().is_nan());
        assert_eq!(parse("-Inf"), Some(f64::NEG_INFINITY));
    }

    #[test]
    fn rejects_words_and_garbage() {
        for s in [
            "", "inf", "nan", "infinity", "UP", "1.2.3", "1_000", "0x10", "1e", ".", "-", "12kB",
            "1,5",
        ] {
            assert_eq!(parse(s), None, "{s:?}");
        }
    }
}
