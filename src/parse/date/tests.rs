//! Unit tests for the timestamp spellings. Expected values come from GNU `date -u -d ...
//! +%s`, not from this module's arithmetic.

use proptest::prelude::*;

use super::{parse, DateError};

/// 2026-11-25 03:46:26 UTC, a Wednesday.
const T: f64 = 1_795_578_386.0;

#[test]
fn every_spelling_date_writes() {
    for (text, expected) in [
        // `date` and `date -u` in the C locale, GNU and busybox alike.
        ("Wed Nov 25 03:46:26 UTC 2026", T),
        ("Wed Nov 25 03:46:26 GMT 2026", T),
        // TZ='<+03>-3' and TZ='<-0530>5:30' print numeric zones instead of names.
        ("Wed Nov 25 06:46:26 +03 2026", T),
        ("Tue Nov 24 22:16:26 -0530 2026", T),
        ("Wed Nov 25 03:46:26 +0000 2026", T),
        ("Wed Nov 25 03:46:26 -00 2026", T),
        ("Thu Jan  1 00:00:00 UTC 1970", 0.0),
        ("  Wed Nov 25 03:46:26 UTC 2026\n", T),
        // `date -R`.
        ("Wed, 25 Nov 2026 03:46:26 +0000", T),
        ("Wed, 25 Nov 2026 04:46:26 +0100", T),
        ("Tue, 24 Nov 2026 22:16:26 -0530", T),
        ("Wed, 25 Nov 2026 03:46:26 GMT", T),
        // `date -Is`, `date -Ins`, `date --rfc-3339=seconds`, busybox `date -Iseconds`.
        ("2026-11-25T03:46:26+00:00", T),
        ("2026-11-25T04:46:26+01:00", T),
        ("2026-11-25T04:46:26,000000000+01:00", T),
        ("2026-11-25 04:46:26+01:00", T),
        ("2026-11-25T03:46:26+0000", T),
        ("2026-11-25T06:46:26+03", T),
        // RFC 3339 with fraction and Z.
        ("2026-11-25T03:46:26Z", T),
        ("2026-11-25t03:46:26z", T),
        ("2026-11-25T03:46:26.5Z", T + 0.5),
        ("2026-11-25T03:46:26.25+00:00", T + 0.25),
        ("2026-11-25T03:46:26.123456789123Z", T + 0.123_456_789),
        // `date '+%F %T %Z'`.
        ("2026-11-25 03:46:26 UTC", T),
        // A leap second counts as the next minute's first second, as mktime does.
        ("2016-12-31T23:59:60Z", 1_483_228_800.0),
    ] {
        assert_eq!(parse(text), Ok(expected), "{text:?}");
    }
}

#[test]
fn leap_years_and_calendar_edges() {
    for (text, expected) in [
        ("2000-02-29T12:00:00Z", 951_825_600.0),
        ("Tue Feb 29 12:00:00 UTC 2000", 951_825_600.0),
        ("Thu, 29 Feb 2024 23:59:59 +0000", 1_709_251_199.0),
        ("1900-03-01T00:00:00Z", -2_203_891_200.0),
        ("2100-12-31T23:59:59Z", 4_133_980_799.0),
        ("1969-12-31T23:59:59Z", -1.0),
        ("1600-02-29T00:00:00Z", -11_670_998_400.0),
        ("Fri Dec 31 23:59:59 UTC 9999", 253_402_300_799.0),
    ] {
        assert_eq!(parse(text), Ok(expected), "{text:?}");
    }
}

#[test]
fn invalid_days_and_times_are_refused() {
    for (text, error) in [
        ("2026-02-29T00:00:00Z", "there is no day 2026-02-29"),
        ("1900-02-29T00:00:00Z", "there is no day 1900-02-29"),
        ("2100-02-29T00:00:00Z", "there is no day 2100-02-29"),
        ("2026-11-31T00:00:00Z", "there is no day 2026-11-31"),
        ("2026-13-01T00:00:00Z", "there is no day 2026-13-01"),
        ("2026-00-10T00:00:00Z", "there is no day 2026-00-10"),
        ("2026-01-00T00:00:00Z", "there is no day 2026-01-00"),
        ("Mon Nov 31 03:46:26 UTC 2026", "there is no day 2026-11-31"),
        ("2026-11-25T24:00:00Z", "there is no time of day 24:00:00"),
        ("2026-11-25T23:60:00Z", "there is no time of day 23:60:00"),
        (
            "Wed Nov 25 03:46:61 UTC 2026",
            "there is no time of day 03:46:61",
        ),
        (
            "Thu Nov 25 03:46:26 UTC 2026",
            "2026-11-25 is a Wednesday, not a Thursday",
        ),
        (
            "Mon, 25 Nov 2026 03:46:26 +0000",
            "2026-11-25 is a Wednesday, not a Monday",
        ),
    ] {
        assert_eq!(
            parse(text).map_err(|e| e.to_string()),
            Err(error.to_string()),
            "{text:?}"
        );
    }
}

#[test]
fn zone_names_are_never_guessed() {
    for (text, name) in [
        ("Wed Nov 25 04:46:26 CET 2026", "CET"),
        ("Tue Nov 24 22:46:26 EST 2026", "EST"),
        ("Wed, 25 Nov 2026 04:46:26 CET", "CET"),
        ("Tue, 24 Nov 2026 22:46:26 EST", "EST"),
        ("2026-11-25 04:46:26 CET", "CET"),
    ] {
        assert_eq!(
            parse(text),
            Err(DateError::ZoneName(name.into())),
            "{text:?}"
        );
    }
    assert_eq!(
        parse("Wed Nov 25 04:46:26 CET 2026")
            .unwrap_err()
            .to_string(),
        "time zone name \"CET\" cannot be resolved: write UTC (date -u), a numeric offset \
         (date -R) or RFC 3339 (date -Is)"
    );
}

#[test]
fn a_missing_zone_is_not_taken_for_utc() {
    for text in [
        "2026-11-25T03:46:26",
        "2026-11-25 03:46:26.5",
        "Wed Nov 25 03:46:26 2026",
        "Wed, 25 Nov 2026 03:46:26",
    ] {
        assert_eq!(parse(text), Err(DateError::NoZone), "{text:?}");
    }
}

#[test]
fn malformed_zones_and_spellings_say_what_was_expected() {
    for (text, error) in [
        (
            "Wed Nov 25 03:46:26 +2400 2026",
            DateError::Zone("+2400".into()),
        ),
        (
            "Wed Nov 25 03:46:26 +0060 2026",
            DateError::Zone("+0060".into()),
        ),
        ("Wed Nov 25 03:46:26 +3 2026", DateError::Zone("+3".into())),
        ("2026-11-25T03:46:26+00:0", DateError::Zone("+00:0".into())),
        (
            "2026-11-25T03:46:26Zulu",
            DateError::ZoneName("Zulu".into()),
        ),
        ("yesterday", DateError::Spelling(super::C_LOCALE)),
        (
            "Wed Foo 25 03:46:26 UTC 2026",
            DateError::Spelling(super::C_LOCALE),
        ),
        (
            "Wed Nov 25 03:46 UTC 2026",
            DateError::Spelling(super::C_LOCALE),
        ),
        (
            "Wed Nov 25 03:46:26 UTC 26",
            DateError::Spelling(super::C_LOCALE),
        ),
        (
            "Wed, 25 Nov 26 03:46:26 +0000",
            DateError::Spelling(super::RFC2822),
        ),
        ("2026-11-25", DateError::Spelling(super::RFC3339)),
        ("2026-11-25T03:46:26.Z", DateError::Spelling(super::RFC3339)),
        ("1795578386", DateError::Spelling(super::RFC3339)),
        ("", DateError::Spelling(super::UNKNOWN)),
        ("   ", DateError::Spelling(super::UNKNOWN)),
        ("-1", DateError::Spelling(super::UNKNOWN)),
    ] {
        assert_eq!(parse(text), Err(error), "{text:?}");
    }
}

/// The line that aborted the process (issue 12): a two-byte character where the zone goes.
#[test]
fn the_crash_line_is_an_error() {
    assert_eq!(
        parse("Wed Nov 25 03:46:26 \u{e9}123 2026"),
        Err(DateError::Zone("\u{e9}123".into()))
    );
    // Five bytes and six: the lengths of `+0100` and `+01:00`, which the old parser sliced.
    for zone in [
        "\u{e9}123",
        "\u{e9}1234",
        "+\u{e9}12",
        "+0\u{e9}1",
        "\u{20ac}12",
        "\u{1d11e}1",
    ] {
        let text = format!("Wed Nov 25 03:46:26 {zone} 2026");
        assert!(parse(&text).is_err(), "{text:?}");
        let text = format!("2026-11-25T03:46:26{zone}");
        assert!(parse(&text).is_err(), "{text:?}");
    }
}

/// A zone message quotes at most 32 characters of the app's text.
#[test]
fn messages_are_bounded() {
    let long = "X".repeat(10_000);
    let Err(DateError::ZoneName(name)) = parse(&format!("2026-11-25 03:46:26 {long}")) else {
        panic!("a long zone name is a zone name");
    };
    assert_eq!(name.len(), 32);
}

/// Every spelling with a multi-byte character inserted at, or put in place of, every
/// character: never a panic, never a time.
#[test]
fn multi_byte_text_in_every_position() {
    let spellings = [
        "Wed Nov 25 03:46:26 UTC 2026",
        "Tue Nov 24 22:16:26 -0530 2026",
        "Wed, 25 Nov 2026 03:46:26 +0000",
        "2026-11-25T03:46:26.5+00:00",
    ];
    for text in spellings {
        assert!(parse(text).is_ok(), "{text:?}");
        let chars: Vec<char> = text.chars().collect();
        for odd in ['\u{e9}', '\u{20ac}', '\u{1d11e}', '\u{0}', '\u{fffd}'] {
            for at in 0..=chars.len() {
                let mut inserted = chars.clone();
                inserted.insert(at, odd);
                let inserted: String = inserted.into_iter().collect();
                assert!(parse(&inserted).is_err(), "{inserted:?}");
                if at < chars.len() {
                    let mut replaced = chars.clone();
                    replaced[at] = odd;
                    let replaced: String = replaced.into_iter().collect();
                    assert!(parse(&replaced).is_err(), "{replaced:?}");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary text never panics.
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&text);
    }

    /// Text shaped like a timestamp, with arbitrary characters (multi-byte ones included)
    /// in each field, never panics either; noise rarely gets this deep.
    #[test]
    fn timestamp_shaped_text_never_panics(
        fields in proptest::collection::vec("[0-9A-Za-z:+,.\\-\u{e9}\u{20ac}\u{1d11e} ]{0,6}", 0..8),
        sep in prop::sample::select(vec![" ", "T", ", ", "-", ":"]),
    ) {
        let _ = parse(&fields.join(sep));
    }

    /// The three spellings of one instant agree, for any instant `date` can write and any
    /// offset; and a second later is one more.
    #[test]
    fn spellings_agree(
        days in 0i64..2_932_897, // 1970-01-01 up to 9999-12-31
        second_of_day in 0i64..86_400,
        offset_minutes in -(23 * 60 + 59)..=(23i64 * 60 + 59),
    ) {
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
        let weekday = super::WEEKDAYS[(days + 4).rem_euclid(7) as usize];
        let month = super::MONTHS[(m - 1) as usize];
        let sign = if offset_minutes < 0 { '-' } else { '+' };
        let (oh, om) = (offset_minutes.abs() / 60, offset_minutes.abs() % 60);
        let expected = (days * 86_400 + second_of_day - offset_minutes * 60) as f64;
        let texts = [
            format!("{weekday} {month} {d:2} {hh:02}:{mm:02}:{ss:02} {sign}{oh:02}{om:02} {y}"),
            format!("{weekday}, {d:02} {month} {y} {hh:02}:{mm:02}:{ss:02} {sign}{oh:02}{om:02}"),
            format!("{y}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{sign}{oh:02}:{om:02}"),
        ];
        for text in &texts {
            prop_assert_eq!(parse(text), Ok(expected), "{:?}", text);
        }
    }
}

/// The inverse of `days_from_civil`, written independently (Hinnant's `civil_from_days`),
/// so the property above checks one against the other.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}
