//! Sizes in the config: `max_bytes = 16777216`, `"64KiB"`, `"1MB"`, `"1.5MiB"`. One parser
//! for every size key, so each reads the same units.

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A size as written, read as text whatever its TOML type (an integer from the file, a
/// string from the file or from an environment variable); [`parse_size`] reads it when the
/// settings are checked, where the error can name the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSize(pub String);

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawSize, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSize;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a size: bytes, or a number and a unit (\"64KiB\")")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSize, E> {
                Ok(RawSize(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSize, E> {
                Ok(RawSize(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawSize, E> {
                Ok(RawSize(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSize, E> {
                Ok(RawSize(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Units, lowercase: powers of 1000 (as `MB` means on a disk label) and of 1024.
const UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

/// Reads a size: a whole number of bytes, or a number and a unit (`64KiB`, `1MB`,
/// `1.5 MiB`; units in any case). At least one byte.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "{text:?} is not a size: write bytes (65536) or a number and a unit: B, kB, MB, GB, \
             TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)"
        )
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let (_, multiplier) = UNITS.iter().find(|(u, _)| *u == unit).ok_or_else(bad)?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
        return Err(bad());
    }
    // Exact integer arithmetic: `1.5MiB` is 1572864 bytes, not a float's rounding of it.
    let scale = 10u128.pow(fraction.len() as u32);
    let digits: u128 = format!("{whole}{fraction}").parse().map_err(|_| bad())?;
    let bytes = digits
        .checked_mul(u128::from(*multiplier))
        .ok_or_else(bad)?;
    if bytes % scale != 0 {
        return Err(format!("{text:?} is not a whole number of bytes"));
    }
    let bytes = u64::try_from(bytes / scale).map_err(|_| format!("{text:?} is too large"))?;
    if bytes == 0 {
        return Err(format!("{text:?}: must be at least 1 byte"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_and_without_units() {
        for (text, bytes) in [
            ("16777216", 16_777_216),
            ("64KiB", 65_536),
            ("64 kib", 65_536),
            ("1MB", 1_000_000),
            ("1MiB", 1_048_576),
            ("1.5MiB", 1_572_864),
            ("2GB", 2_000_000_000),
            ("1TiB", 1 << 40),
            ("512B", 512),
            (" 10 kB ", 10_000),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn bad_sizes_say_why() {
        let units = "write bytes (65536) or a number and a unit: B, kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)";
        for text in ["64 kilobytes", "KiB", "-1", "1e3", "1.2.3MB", "", "64 K"] {
            assert_eq!(
                parse_size(text),
                Err(format!("{text:?} is not a size: {units}")),
                "{text}"
            );
        }
        assert_eq!(
            parse_size("0.5B"),
            Err("\"0.5B\" is not a whole number of bytes".into())
        );
        assert_eq!(
            parse_size("0"),
            Err("\"0\": must be at least 1 byte".into())
        );
        assert_eq!(
            parse_size("100000000TiB"),
            Err("\"100000000TiB\" is too large".into())
        );
    }
}
