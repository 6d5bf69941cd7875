//! Timestamps as a log writes them, read by a layout the recipe gives (`%d/%b/%Y:%H:%M:%S
//! %z`, strftime's letters): a log's own clock, for values taken from its lines (when the
//! event happened, how long a session lasted). The spellings `date` writes are
//! [`super::parse`]'s; a log's are many, so the recipe says which.
//!
//! A layout without `%z` reads the time as UTC: logs that write local time without a zone
//! (rsyncd, vsftpd) give exact *differences* (session times) this way, except across a
//! daylight-saving change, and an absolute time that is as far off as the host's zone.
// Source text is the app's: an index or slice that can panic is a crash on its data.
#![warn(clippy::indexing_slicing)]

use super::{Fields, MONTHS, WEEKDAYS};

/// A compiled layout: literal bytes and fields, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Literal(u8),
    /// One or more spaces (a space in the layout: `%e` and syslog pad with spaces).
    Space,
    Year,
    ShortYear,
    Month,
    MonthName,
    Day,
    WeekdayName,
    Hour,
    Minute,
    Second,
    /// `.123`: a fraction of a second, after `%S`.
    Fraction,
    Zone,
}

/// The letters a layout takes, for the error that names them.
const LETTERS: &str = "%Y %y %m %b %d %e %a %H %M %S %f %z %%";

impl Layout {
    pub fn new(text: &str) -> Result<Layout, String> {
        let mut parts = Vec::new();
        let mut bytes = text.bytes();
        while let Some(b) = bytes.next() {
            let part = match b {
                b'%' => match bytes.next() {
                    Some(b'Y') => Part::Year,
                    Some(b'y') => Part::ShortYear,
                    Some(b'm') => Part::Month,
                    Some(b'b') => Part::MonthName,
                    Some(b'd' | b'e') => Part::Day,
                    Some(b'a') => Part::WeekdayName,
                    Some(b'H') => Part::Hour,
                    Some(b'M') => Part::Minute,
                    Some(b'S') => Part::Second,
                    Some(b'f') => Part::Fraction,
                    Some(b'z') => Part::Zone,
                    Some(b'%') => Part::Literal(b'%'),
                    other => {
                        let shown = other.map_or(String::new(), |b| char::from(b).to_string());
                        return Err(format!(
                            "date layout {text:?}: unknown field %{shown}; expected one of {LETTERS}"
                        ));
                    }
                },
                b' ' => Part::Space,
                b => Part::Literal(b),
            };
            parts.push(part);
        }
        let has = |p: Part| parts.contains(&p);
        if !(has(Part::Year) || has(Part::ShortYear))
            || !(has(Part::Month) || has(Part::MonthName))
            || !has(Part::Day)
            || !has(Part::Hour)
        {
            return Err(format!(
                "date layout {text:?}: needs a year (%Y or %y), a month (%m or %b), a day (%d) \
                 and an hour (%H): a time without them is not one moment"
            ));
        }
        Ok(Layout {
            text: text.to_string(),
            parts,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Seconds since the epoch of `text` written in this layout (the whole text, surrounding
    /// white space aside).
    pub fn parse(&self, text: &str) -> Result<f64, String> {
        let wrong = || format!("{text:?} is not written as {:?}", self.text);
        let mut rest = text.trim().as_bytes();
        let mut f = Fields {
            weekday: None,
            year: 0,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            fraction: 0.0,
            offset: 0,
        };
        for part in &self.parts {
            match part {
                Part::Literal(b) => match rest.split_first() {
                    Some((first, tail)) if first == b => rest = tail,
                    _ => return Err(wrong()),
                },
                Part::Space => {
                    let n = rest.iter().take_while(|b| **b == b' ').count();
                    if n == 0 {
                        return Err(wrong());
                    }
                    rest = rest.get(n..).unwrap_or_default();
                }
                Part::Year => f.year = digits(&mut rest, 4, 4).ok_or_else(wrong)?,
                Part::ShortYear => f.year = 2000 + digits(&mut rest, 2, 2).ok_or_else(wrong)?,
                Part::Month => f.month = digits(&mut rest, 1, 2).ok_or_else(wrong)?,
                Part::Day => {
                    // `%e` pads with a space, which a layout's own space already took.
                    f.day = digits(&mut rest, 1, 2).ok_or_else(wrong)?;
                }
                Part::Hour => f.hour = digits(&mut rest, 1, 2).ok_or_else(wrong)?,
                Part::Minute => f.minute = digits(&mut rest, 2, 2).ok_or_else(wrong)?,
                Part::Second => f.second = digits(&mut rest, 2, 2).ok_or_else(wrong)?,
                Part::MonthName => {
                    let i = name(&mut rest, &MONTHS).ok_or_else(wrong)?;
                    f.month = u32::try_from(i + 1).unwrap_or(1);
                }
                Part::WeekdayName => {
                    f.weekday = Some(name(&mut rest, &WEEKDAYS).ok_or_else(wrong)?)
                }
                Part::Fraction => {
                    let Some((b'.', tail)) = rest.split_first() else {
                        return Err(wrong());
                    };
                    let n = tail.iter().take_while(|b| b.is_ascii_digit()).count();
                    let (frac, tail) = tail.split_at_checked(n).ok_or_else(wrong)?;
                    let frac = std::str::from_utf8(frac).map_err(|_| wrong())?;
                    f.fraction = format!("0.{frac}").parse().map_err(|_| wrong())?;
                    rest = tail;
                }
                Part::Zone => {
                    let n = rest.iter().take_while(|b| !b.is_ascii_whitespace()).count();
                    let (word, tail) = rest.split_at_checked(n).ok_or_else(wrong)?;
                    f.offset = super::zone(word).map_err(|e| e.to_string())?;
                    rest = tail;
                }
            }
        }
        if !rest.is_empty() {
            return Err(wrong());
        }
        f.epoch().map_err(|e| e.to_string())
    }
}

/// `min..=max` ASCII digits from the front of `rest`.
fn digits(rest: &mut &[u8], min: usize, max: usize) -> Option<u32> {
    let n = rest
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    let (word, tail) = rest.split_at_checked(n)?;
    let value = super::number(word, min, max)?;
    *rest = tail;
    Some(value)
}

/// A three-letter English name (`Jan`, `Mon`) from the front of `rest`: its index.
fn name(rest: &mut &[u8], names: &[&str]) -> Option<usize> {
    let (word, tail) = rest.split_at_checked(3)?;
    let i = super::name_index(names, word)?;
    *rest = tail;
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::Layout;

    #[test]
    fn log_layouts_read_as_the_daemons_write_them() {
        let clf = Layout::new("%d/%b/%Y:%H:%M:%S %z").unwrap();
        // `date -d '2026-11-29 22:39:38 UTC' +%s`
        assert_eq!(clf.parse("29/Nov/2026:22:39:38 +0000"), Ok(1_795_991_978.0));
        assert_eq!(clf.parse("29/Nov/2026:23:39:38 +0100"), Ok(1_795_991_978.0));
        let rsyncd = Layout::new("%Y/%m/%d %H:%M:%S").unwrap();
        assert_eq!(rsyncd.parse("2026/11/29 22:39:38"), Ok(1_795_991_978.0));
        // vsftpd and ctime: the day padded with a space.
        let ctime = Layout::new("%a %b %e %H:%M:%S %Y").unwrap();
        assert_eq!(ctime.parse("Mon Dec  7 10:00:00 2026"), Ok(1_796_637_600.0));
        let frac = Layout::new("%Y-%m-%d %H:%M:%S%f").unwrap();
        assert_eq!(frac.parse("2026-12-07 10:00:00.25"), Ok(1_796_637_600.25));
    }

    #[test]
    fn wrong_text_and_bad_layouts_say_why() {
        let rsyncd = Layout::new("%Y/%m/%d %H:%M:%S").unwrap();
        assert_eq!(
            rsyncd.parse("2026/11/29"),
            Err("\"2026/11/29\" is not written as \"%Y/%m/%d %H:%M:%S\"".into())
        );
        assert_eq!(
            rsyncd.parse("2026/02/30 10:00:00"),
            Err("there is no day 2026-02-30".into())
        );
        let ctime = Layout::new("%a %b %e %H:%M:%S %Y").unwrap();
        assert_eq!(
            ctime.parse("Tue Dec  7 10:00:00 2026"),
            Err("2026-12-07 is a Monday, not a Tuesday".into())
        );
        assert!(Layout::new("%H:%M:%S")
            .unwrap_err()
            .contains("needs a year"));
        assert!(Layout::new("%Y %Q")
            .unwrap_err()
            .contains("unknown field %Q"));
        // Multi-byte text never panics.
        assert!(rsyncd.parse("2026/1é/29 22:39:38").is_err());
    }
}
