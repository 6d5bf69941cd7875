//! Timestamps in source text, as seconds since the Unix epoch: the spellings shell scripts
//! write with `date` (GNU coreutils and busybox alike).
//!
//! - `date` and `date -u` in the C locale: `Wed Nov 25 03:46:26 UTC 2026`; some `TZ`
//!   settings print a numeric zone instead of a name (`+03`, `-0530`).
//! - `date -R` (RFC 2822): `Wed, 25 Nov 2026 03:46:26 +0000`.
//! - `date -Is`, `date -Ins`, `--rfc-3339` and RFC 3339 in general:
//!   `2026-11-25T03:46:26+00:00`, `2026-11-25T03:46:26.5Z`; busybox writes `+0000`.
//!
//! A time zone *name* other than UTC/GMT/UT/Z is refused with a reason, never guessed: `CST`
//! is three different offsets and `IST` three more, and the adapter carries no zone
//! database. A text without any zone is refused too, for the same reason.
//!
//! Why hand-written and not a date library: jiff (the well-kept choice) was tried. Its
//! strptime refuses to parse `%Z` (by design, for the reason above) and its `%z` does not
//! take `+03`, so the C-locale spelling, the one `{ date; cat ...; } >> log` writes, needs
//! this tokenizer anyway; its RFC 2822 parser maps `EST` to -05:00 (RFC 2822's obsolete
//! zones), which is exactly the guess this module must not make; and its 1.x series needs a
//! newer Rust than our `rust-version`. What is left for a library to do, the calendar, is
//! [`days_from_civil`] and [`days_in_month`] below, and the tests pin them against `date`.
//!
//! The scanner works on bytes with checked access only (`split_first`, `get`,
//! `split_at_checked`): source text is UTF-8 from an app we do not control, and slicing a
//! `&str` by a byte offset that lands inside a multi-byte character aborts the process.
// Source text is the app's: an index or slice that can panic is a crash on its data.
#![warn(clippy::indexing_slicing)]

use thiserror::Error;

/// Why a text is not a timestamp, in words fit for the user (shown by `parse`, `check` and
/// the status page after the key and value).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DateError {
    #[error(
        "time zone name {0:?} cannot be resolved: write UTC (date -u), a numeric offset \
         (date -R) or RFC 3339 (date -Is)"
    )]
    ZoneName(String),
    #[error(
        "time zone {0:?} is not UTC, GMT, Z or a numeric offset (+HH, +HHMM, +HH:MM up to \
         23:59)"
    )]
    Zone(String),
    #[error(
        "no time zone, so the time is ambiguous: write UTC (date -u), a numeric offset \
         (date -R) or RFC 3339 (date -Is)"
    )]
    NoZone,
    #[error("there is no day {year:04}-{month:02}-{day:02}")]
    Day { year: u32, month: u32, day: u32 },
    #[error("there is no time of day {hour:02}:{minute:02}:{second:02}")]
    Time { hour: u32, minute: u32, second: u32 },
    #[error("{year:04}-{month:02}-{day:02} is a {actual}, not a {written}")]
    Weekday {
        year: u32,
        month: u32,
        day: u32,
        written: &'static str,
        actual: &'static str,
    },
    #[error("not a date: {0}")]
    Spelling(&'static str),
}

const C_LOCALE: &str = "expected `date` in the C locale, like `Wed Nov 25 03:46:26 UTC 2026`";
const RFC2822: &str = "expected `date -R` (RFC 2822), like `Wed, 25 Nov 2026 03:46:26 +0000`";
const RFC3339: &str = "expected RFC 3339 (`date -Is`), like `2026-11-25T03:46:26+00:00`";
const UNKNOWN: &str = "expected `date` in the C locale (`Wed Nov 25 03:46:26 UTC 2026`), \
                       `date -R` (`Wed, 25 Nov 2026 03:46:26 +0000`) or RFC 3339 \
                       (`2026-11-25T03:46:26+00:00`)";

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const WEEKDAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Seconds since the epoch of a timestamp in one of the spellings in the module doc.
/// Surrounding white space is ignored.
pub fn parse(text: &str) -> Result<f64, DateError> {
    let text = text.trim().as_bytes();
    let first_word = words(text).next().ok_or(DateError::Spelling(UNKNOWN))?;
    // The first word says which spelling this claims to be, so an error can say what is
    // wrong with it rather than that none of three fit.
    match first_word {
        [b'0'..=b'9', ..] => rfc3339(text),
        [.., b','] => rfc2822(text),
        [b'A'..=b'Z' | b'a'..=b'z', ..] => c_locale(text),
        _ => Err(DateError::Spelling(UNKNOWN)),
    }
}

/// The fields of a timestamp as written, before any check.
struct Fields {
    weekday: Option<usize>,
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// Fraction of a second, in [0, 1).
    fraction: f64,
    /// East of UTC, in seconds.
    offset: i64,
}

impl Fields {
    /// Checks the calendar and clock and turns the fields into Unix time.
    fn epoch(&self) -> Result<f64, DateError> {
        let (year, month, day) = (self.year, self.month, self.day);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return Err(DateError::Day { year, month, day });
        }
        // 60 is a leap second (RFC 3339 allows it); Unix time has none, so it counts as
        // the first second of the next minute, as mktime does.
        if self.hour > 23 || self.minute > 59 || self.second > 60 {
            return Err(DateError::Time {
                hour: self.hour,
                minute: self.minute,
                second: self.second,
            });
        }
        let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
        if let Some(written) = self.weekday {
            // 1970-01-01 was a Thursday.
            let actual = usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
            if actual != written {
                return Err(DateError::Weekday {
                    year,
                    month,
                    day,
                    written: WEEKDAY_NAMES.get(written % 7).copied().unwrap_or("?"),
                    actual: WEEKDAY_NAMES.get(actual % 7).copied().unwrap_or("?"),
                });
            }
        }
        let seconds = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - self.offset;
        Ok(seconds as f64 + self.fraction)
    }
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`). Exact for any `u32` year: no step overflows an `i64`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The white-space separated words of `text`. ASCII white space only: a split at an ASCII
/// byte is always at a character boundary.
fn words(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty())
}

/// A number of `min..=max` ASCII digits (at most 9, so it fits a `u32`), all of `word`.
fn number(word: &[u8], min: usize, max: usize) -> Option<u32> {
    let ok = (min..=max.min(9)).contains(&word.len()) && word.iter().all(u8::is_ascii_digit);
    ok.then(|| {
        word.iter()
            .fold(0, |n, b| n * 10 + u32::from(b.wrapping_sub(b'0')))
    })
}

/// Index of `word` in `names` (English abbreviations, as the C locale writes them).
fn name_index(names: &[&str], word: &[u8]) -> Option<usize> {
    names.iter().position(|n| n.as_bytes() == word)
}

/// `H:MM:SS` (1-2 digits each; `date` writes two).
fn clock(word: &[u8]) -> Option<(u32, u32, u32)> {
    let mut parts = word.split(|b| *b == b':');
    let h = number(parts.next()?, 1, 2)?;
    let m = number(parts.next()?, 1, 2)?;
    let s = number(parts.next()?, 1, 2)?;
    parts.next().is_none().then_some((h, m, s))
}

/// A zone as one word: a name or a numeric offset. Returns seconds east of UTC.
fn zone(word: &[u8]) -> Result<i64, DateError> {
    let shown = || {
        // At most 32 characters of the app's text go into a message.
        String::from_utf8_lossy(word).chars().take(32).collect()
    };
    match word {
        b"UTC" | b"GMT" | b"UT" | b"Z" | b"z" => Ok(0),
        [sign @ (b'+' | b'-'), digits @ ..] => {
            let (h, m) = match digits {
                [_, _] => (number(digits, 2, 2), Some(0)),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => {
                    (number(&[*h1, *h2], 2, 2), number(&[*m1, *m2], 2, 2))
                }
                _ => (None, None),
            };
            match (h, m) {
                (Some(h), Some(m)) if h <= 23 && m <= 59 => {
                    let east = i64::from(h * 3600 + m * 60);
                    Ok(if *sign == b'-' { -east } else { east })
                }
                _ => Err(DateError::Zone(shown())),
            }
        }
        // A name from a TZ database (CET, EST, IST...): ambiguous without one.
        _ if word.iter().all(u8::is_ascii_alphabetic) => Err(DateError::ZoneName(shown())),
        _ => Err(DateError::Zone(shown())),
    }
}

/// `Wed Nov 25 03:46:26 UTC 2026`: `%a %b %e %H:%M:%S %Z %Y`.
fn c_locale(text: &[u8]) -> Result<f64, DateError> {
    let w: Vec<&[u8]> = words(text).collect();
    let bad = DateError::Spelling(C_LOCALE);
    let (weekday, month, day, time, zone_word, year) = match w[..] {
        [a, b, e, t, z, y] => (a, b, e, t, z, y),
        // `date +'%a %b %e %T %Y'`: the zone left out.
        [_, _, _, _, y] if number(y, 4, 4).is_some() => return Err(DateError::NoZone),
        _ => return Err(bad),
    };
    named(weekday, day, month, year, time, zone_word, bad)
}

/// `Wed, 25 Nov 2026 03:46:26 +0000`: `%a, %d %b %Y %H:%M:%S %z`.
fn rfc2822(text: &[u8]) -> Result<f64, DateError> {
    let w: Vec<&[u8]> = words(text).collect();
    let bad = DateError::Spelling(RFC2822);
    let (weekday, day, month, year, time, zone_word) = match w[..] {
        [a, d, b, y, t, z] => (a, d, b, y, t, z),
        [_, _, _, _, _] => return Err(DateError::NoZone),
        _ => return Err(bad),
    };
    let weekday = weekday.strip_suffix(b",").ok_or(bad.clone())?;
    named(weekday, day, month, year, time, zone_word, bad)
}

/// The words of a date with named weekday and month (`date`'s and RFC 2822's), whatever
/// their order in the text; `bad` is the error for a word that is not what it should be.
fn named(
    weekday: &[u8],
    day: &[u8],
    month: &[u8],
    year: &[u8],
    time: &[u8],
    zone_word: &[u8],
    bad: DateError,
) -> Result<f64, DateError> {
    let weekday = name_index(&WEEKDAYS, weekday).ok_or(bad.clone())?;
    let month = name_index(&MONTHS, month).ok_or(bad.clone())?;
    let day = number(day, 1, 2).ok_or(bad.clone())?;
    let (hour, minute, second) = clock(time).ok_or(bad.clone())?;
    let year = number(year, 4, 4).ok_or(bad)?;
    let offset = zone(zone_word)?;
    Fields {
        weekday: Some(weekday),
        year,
        month: month as u32 + 1,
        day,
        hour,
        minute,
        second,
        fraction: 0.0,
        offset,
    }
    .epoch()
}

/// Takes exactly `n` digits from the front of `rest`.
fn digits(rest: &mut &[u8], n: usize) -> Option<u32> {
    let (head, tail) = rest.split_at_checked(n)?;
    let value = number(head, n, n)?;
    *rest = tail;
    Some(value)
}

/// Takes the byte `b` from the front of `rest`.
fn byte(rest: &mut &[u8], b: u8) -> Option<()> {
    let (first, tail) = rest.split_first()?;
    (*first == b).then(|| *rest = tail)
}

/// `2026-11-25T03:46:26.123+00:00`: RFC 3339, also with a space for the `T` (`--rfc-3339`),
/// a comma before the fraction (`date -Ins`), `+0000` or `+00` (busybox, ISO 8601) and,
/// after white space, a zone word (`date '+%F %T %Z'`).
fn rfc3339(text: &[u8]) -> Result<f64, DateError> {
    let bad = DateError::Spelling(RFC3339);
    let mut rest = text;
    let r = &mut rest;
    let year = digits(r, 4).ok_or(bad.clone())?;
    byte(r, b'-').ok_or(bad.clone())?;
    let month = digits(r, 2).ok_or(bad.clone())?;
    byte(r, b'-').ok_or(bad.clone())?;
    let day = digits(r, 2).ok_or(bad.clone())?;
    byte(r, b'T')
        .or_else(|| byte(r, b't'))
        .or_else(|| byte(r, b' '))
        .ok_or(bad.clone())?;
    let hour = digits(r, 2).ok_or(bad.clone())?;
    byte(r, b':').ok_or(bad.clone())?;
    let minute = digits(r, 2).ok_or(bad.clone())?;
    byte(r, b':').ok_or(bad.clone())?;
    let second = digits(r, 2).ok_or(bad.clone())?;
    let mut fraction = 0.0;
    if byte(r, b'.').or_else(|| byte(r, b',')).is_some() {
        let n = r.iter().take_while(|b| b.is_ascii_digit()).count();
        let (frac, tail) = r.split_at_checked(n).ok_or(bad.clone())?;
        if frac.is_empty() {
            return Err(bad);
        }
        // Nanoseconds are the finest `date` writes, and far finer than an f64 holds at
        // today's Unix time (about 0.2 us); the digits beyond the ninth change nothing.
        let kept = frac.get(..9).unwrap_or(frac);
        let value = number(kept, 1, 9).ok_or(bad.clone())?;
        fraction = f64::from(value) / 10f64.powi(kept.len() as i32);
        *r = tail;
    }
    let zone_text = rest.trim_ascii_start();
    if zone_text.is_empty() {
        return Err(DateError::NoZone);
    }
    let offset = zone(zone_text)?;
    Fields {
        weekday: None,
        year,
        month,
        day,
        hour,
        minute,
        second,
        fraction,
        offset,
    }
    .epoch()
}

mod layout;
pub use layout::Layout;

#[cfg(test)]
mod tests;
