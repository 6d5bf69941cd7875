//! Timestamps in source text, as seconds since the Unix epoch. Two spellings, both what
//! shell scripts write: RFC 3339 (`date -Is`, `2026-11-25T03:46:26+00:00`) and `date`'s
//! default output in the C locale (`Wed Nov 25 03:46:26 UTC 2026`). Zone names other than
//! UTC/GMT need a zone database the adapter does not carry: such a value is not a date.

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    // Howard Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn epoch(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: f64, offset_secs: i64) -> Option<f64> {
    let valid = (1..=12).contains(&mo)
        && (1..=31).contains(&d)
        && (0..24).contains(&h)
        && (0..60).contains(&mi)
        && (0.0..61.0).contains(&s);
    valid
        .then(|| (days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 - offset_secs) as f64 + s)
}

fn offset(zone: &str) -> Option<i64> {
    match zone {
        "UTC" | "GMT" | "Z" | "z" => Some(0),
        z if z.len() == 5 || z.len() == 6 => {
            let sign = match &z[..1] {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let h: i64 = digits[..2].parse().ok()?;
            let m: i64 = digits[2..].parse().ok()?;
            Some(sign * (h * 3600 + m * 60))
        }
        _ => None,
    }
}

fn int(s: &str) -> Option<i64> {
    (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn rfc3339(t: &str) -> Option<f64> {
    let (date, rest) = t.split_once(['T', 't', ' '])?;
    let mut dp = date.split('-');
    let (y, mo, d) = (int(dp.next()?)?, int(dp.next()?)?, int(dp.next()?)?);
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let mut cp = clock.split(':');
    let (h, mi) = (int(cp.next()?)?, int(cp.next()?)?);
    let s: f64 = cp.next()?.parse().ok()?;
    epoch(
        y,
        mo,
        d,
        h,
        mi,
        s,
        offset(if zone.is_empty() { "Z" } else { zone })?,
    )
}

fn c_locale(t: &str) -> Option<f64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = t.split_whitespace().collect();
    let [_weekday, month, day, clock, zone, year] = parts[..] else {
        return None;
    };
    let mo = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let mut cp = clock.split(':');
    let (h, mi, s) = (int(cp.next()?)?, int(cp.next()?)?, int(cp.next()?)?);
    epoch(int(year)?, mo, int(day)?, h, mi, s as f64, offset(zone)?)
}

/// Seconds since the epoch, or `None` if the text is not one of the two spellings.
pub fn parse(text: &str) -> Option<f64> {
    let t = text.trim();
    rfc3339(t).or_else(|| c_locale(t))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn both_spellings() {
        assert_eq!(parse("Wed Nov 25 03:46:26 UTC 2026"), Some(1_795_578_386.0));
        assert_eq!(parse("2026-11-25T03:46:26+00:00"), Some(1_795_578_386.0));
        assert_eq!(parse("2026-11-25T04:46:26+01:00"), Some(1_795_578_386.0));
        assert_eq!(parse("2026-11-25T03:46:26.5Z"), Some(1_795_578_386.5));
        assert_eq!(parse("Thu Jan  1 00:00:00 UTC 1970"), Some(0.0));
        assert_eq!(parse("Sun Feb 29 12:00:00 GMT 2004"), Some(1_078_056_000.0));
    }

    #[test]
    fn rejects_what_it_cannot_know() {
        for t in [
            "Wed Nov 25 03:46:26 CET 2026",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "Wed Foo 25 03:46:26 UTC 2026",
            "",
        ] {
            assert_eq!(parse(t), None, "{t}");
        }
    }
}
