//! The validity dates of an X.509 certificate, read from its DER: enough to warn, at start
//! and in `check`, about a server certificate that has expired or is not valid yet (rustls
//! loads it either way, and clients would only fail later). A few lines of DER walking
//! instead of an X.509 library.

/// Unix times, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Validity {
    pub not_before: f64,
    pub not_after: f64,
}

/// One DER element: (tag, content, what follows).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, rest) = rest.split_at(n);
        (
            bytes.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b)),
            rest,
        )
    };
    if rest.len() < len {
        return None;
    }
    let (content, rest) = rest.split_at(len);
    Some((tag, content, rest))
}

/// UTCTime (`YYMMDDHHMMSSZ`, 1950-2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn time(tag: u8, content: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(content).ok()?;
    let full = match tag {
        0x17 => {
            let yy: u32 = text.get(..2)?.parse().ok()?;
            format!("{}{text}", if yy >= 50 { "19" } else { "20" })
        }
        0x18 => text.to_string(),
        _ => return None,
    };
    let (digits, zone) = full.split_at_checked(14)?;
    if zone != "Z" || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = |from: usize, to: usize| digits.get(from..to);
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        part(0, 4)?,
        part(4, 6)?,
        part(6, 8)?,
        part(8, 10)?,
        part(10, 12)?,
        part(12, 14)?
    );
    crate::parse::date::parse(&rfc3339).ok()
}

/// The certificate's notBefore and notAfter, or `None` if the DER is not one.
pub fn validity(der: &[u8]) -> Option<Validity> {
    let (0x30, cert, _) = element(der)? else {
        return None;
    };
    let (0x30, mut tbs, _) = element(cert)? else {
        return None;
    };
    // [0] version (optional), serialNumber, signature, issuer, then validity.
    if tbs.first() == Some(&0xa0) {
        tbs = element(tbs)?.2;
    }
    for _ in 0..3 {
        tbs = element(tbs)?.2;
    }
    let (0x30, validity, _) = element(tbs)? else {
        return None;
    };
    let (tag, before, rest) = element(validity)?;
    let not_before = time(tag, before)?;
    let (tag, after, _) = element(rest)?;
    Some(Validity {
        not_before,
        not_after: time(tag, after)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate made by `openssl req -x509 -days 1` the moment the test runs.
    #[test]
    fn reads_the_dates_openssl_wrote() {
        let dir = std::env::temp_dir().join(format!("ma-validity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (key, crt) = (dir.join("k.pem"), dir.join("c.der"));
        let status = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-subj", "/CN=t", "-days", "1", "-outform", "DER"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let v = validity(&std::fs::read(&crt).unwrap()).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!((now - v.not_before).abs() < 120.0, "{v:?}");
        assert!((v.not_after - v.not_before - 86_400.0).abs() < 1.0, "{v:?}");
        assert_eq!(validity(b"\x30\x03\x02\x01\x01"), None);
        assert_eq!(validity(b""), None);
    }

    #[test]
    fn both_time_forms() {
        assert_eq!(time(0x17, b"261125034626Z"), Some(1_795_578_386.0));
        assert_eq!(time(0x18, b"20261125034626Z"), Some(1_795_578_386.0));
        assert_eq!(time(0x17, b"491231235959Z"), Some(2_524_607_999.0));
        assert_eq!(time(0x17, b"26112503462\xc3\xa9"), None);
        assert_eq!(time(0x17, b"2611250346+0100"), None);
    }
}

/// What to warn about a server certificate at `now`, if anything.
pub fn warning(v: Validity, now: f64) -> Option<String> {
    let date = |t: f64| {
        let secs = t as i64;
        let days = secs.div_euclid(86_400);
        // civil_from_days (Howard Hinnant): the inverse of the epoch-day count.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        let s = secs.rem_euclid(86_400);
        format!(
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    };
    if now > v.not_after {
        Some(format!(
            "the server certificate expired on {} (valid from {}): clients will refuse it",
            date(v.not_after),
            date(v.not_before)
        ))
    } else if now < v.not_before {
        Some(format!(
            "the server certificate is not valid until {} (valid to {}): check the clocks",
            date(v.not_before),
            date(v.not_after)
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod warning_tests {
    use super::*;

    #[test]
    fn expired_and_not_yet_valid_are_named_with_dates() {
        let v = Validity {
            not_before: 1_795_578_386.0,
            not_after: 1_795_578_386.0 + 86_400.0,
        };
        assert_eq!(warning(v, 1_795_578_386.0 + 3600.0), None);
        assert_eq!(
            warning(v, 1_795_578_386.0 + 2.0 * 86_400.0).as_deref(),
            Some("the server certificate expired on 2026-11-26 03:46:26 UTC (valid from 2026-11-25 03:46:26 UTC): clients will refuse it")
        );
        assert!(warning(v, 0.0)
            .unwrap()
            .starts_with("the server certificate is not valid until 2026-11-25 03:46:26 UTC"));
    }
}
