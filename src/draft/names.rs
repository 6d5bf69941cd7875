//! Metric names for a draft: a key as the app writes it (`Total kBytes`, `thread0.num.queries`,
//! `request_time_ms`) becomes a snake_case name part, with a unit the key or the words after
//! the value give (`_seconds` from `ms` with a scale, `_bytes` from `kB` times 1024). The
//! mapping appends the unit and `_total` itself, so only counters get `_total`.

/// A name part with the unit found in the key or the words after the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    /// snake_case, without the unit and without a trailing `total` (the mapping adds
    /// `_total` to counters, and only to them).
    pub name: String,
    /// The base unit the mapping appends (`seconds`, `bytes`), if any.
    pub unit: Option<&'static str>,
    /// The factor into that unit (`0.001` for ms), if not 1.
    pub scale: Option<f64>,
    /// Why the unit, for the recipe's comments and `--explain`.
    pub why: Option<String>,
}

/// A unit word: what it converts to. `None` for the base unit means the word is kept in the
/// name as it is (`ppm`, `percent`).
struct Unit {
    words: &'static [&'static str],
    base: Option<&'static str>,
    scale: f64,
}

const UNITS: &[Unit] = &[
    Unit {
        words: &[
            "ms",
            "msec",
            "msecs",
            "millis",
            "milliseconds",
            "millisecond",
        ],
        base: Some("seconds"),
        scale: 1e-3,
    },
    Unit {
        words: &[
            "us",
            "usec",
            "usecs",
            "micros",
            "microseconds",
            "microsecond",
        ],
        base: Some("seconds"),
        scale: 1e-6,
    },
    Unit {
        words: &["ns", "nsec", "nsecs", "nanos", "nanoseconds"],
        base: Some("seconds"),
        scale: 1e-9,
    },
    Unit {
        words: &["s", "sec", "secs", "seconds", "second"],
        base: Some("seconds"),
        scale: 1.0,
    },
    Unit {
        words: &["kb", "kbytes", "kilobytes", "kib"],
        base: Some("bytes"),
        scale: 1024.0,
    },
    Unit {
        words: &["mb", "mbytes", "megabytes", "mib"],
        base: Some("bytes"),
        scale: 1_048_576.0,
    },
    Unit {
        words: &["bytes", "byte"],
        base: Some("bytes"),
        scale: 1.0,
    },
    Unit {
        words: &["bits"],
        base: Some("bytes"),
        scale: 0.125,
    },
    Unit {
        words: &["minutes", "mins", "min"],
        base: Some("seconds"),
        scale: 60.0,
    },
    Unit {
        words: &["hours", "hrs"],
        base: Some("seconds"),
        scale: 3600.0,
    },
    Unit {
        words: &["days"],
        base: Some("seconds"),
        scale: 86400.0,
    },
    Unit {
        words: &["ppm"],
        base: None,
        scale: 1.0,
    },
    Unit {
        words: &["percent", "pct", "%"],
        base: None,
        scale: 1.0,
    },
];

fn unit_of(word: &str) -> Option<&'static Unit> {
    let lower = word.to_ascii_lowercase();
    UNITS.iter().find(|u| u.words.contains(&lower.as_str()))
}

/// The lower-case words of a key. A case change splits only after two lower letters
/// (`ParentServerConfig` -> `parent`, `server`, `config`), so a unit's prefix stays on it
/// (`Total kBytes` -> `total`, `kbytes`).
pub fn words(key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev: Option<char> = None;
    for c in key.chars() {
        if c.is_ascii_alphanumeric() {
            let split = match prev {
                // fooBar, but not kBytes (one lower letter before: a unit prefix) nor ABc.
                Some(p) => p.is_ascii_lowercase() && c.is_ascii_uppercase() && word.len() > 1,
                None => false,
            };
            if split && !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            word.push(c.to_ascii_lowercase());
            prev = Some(c);
        } else {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev = None;
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Names `key`; `trailing` is the text after the value on its line (chronyc's
/// `seconds fast of NTP time`), whose first word may be the unit.
pub fn name(key: &str, trailing: Option<&str>) -> Named {
    let mut parts = words(key);
    let mut unit = None;
    let mut scale = None;
    let mut why = None;
    // A unit word last in the key (`time_ms`, `Total kBytes`) ...
    let last_unit = parts
        .last()
        .and_then(|w| unit_of(w).map(|u| (w.clone(), u)));
    if let Some((word, u)) = last_unit.filter(|(w, _)| w != "s" || parts.len() > 1) {
        parts.pop();
        match u.base {
            Some(base) => {
                unit = Some(base);
                if u.scale != 1.0 {
                    scale = Some(u.scale);
                    why = Some(format!(
                        "`{word}` in the key: {base}, scaled by {}",
                        u.scale
                    ));
                } else {
                    why = Some(format!("`{word}` in the key: {base}"));
                }
            }
            None => parts.push(word),
        }
    } else if let Some(first) = trailing.and_then(|t| t.split_whitespace().next()) {
        // ... or the first word after the value (`0.25 seconds`, `1.2 ppm`).
        if let Some(u) = unit_of(first) {
            match u.base {
                Some(base) => {
                    unit = Some(base);
                    if u.scale != 1.0 {
                        scale = Some(u.scale);
                    }
                    why = Some(format!("`{first}` after the value: {base}"));
                }
                None => {
                    let word = first.to_ascii_lowercase().replace('%', "percent");
                    if parts.last() != Some(&word) {
                        parts.push(word);
                    }
                    why = Some(format!("`{first}` after the value, kept in the name"));
                }
            }
        }
    }
    // `time_t`: seconds since the epoch.
    if unit.is_none() && parts.len() >= 2 && parts.ends_with(&["time".to_string(), "t".to_string()])
    {
        parts.truncate(parts.len() - 2);
        parts.push("timestamp".into());
        unit = Some("seconds");
        why = Some("`time_t` in the key: a timestamp in seconds".into());
    }
    // A type's name in a metric's name misleads (promtool says so): unbound's
    // `histogram.*` keys are buckets of a distribution.
    for w in parts.iter_mut() {
        if w == "histogram" {
            *w = "distribution".into();
        }
    }
    // `_total` is the mapping's to add, to counters only.
    if parts.len() > 1 && parts.last().is_some_and(|w| w == "total") {
        parts.pop();
    }
    let mut name = parts.join("_");
    if name.is_empty() {
        name = "value".into();
    }
    if let Some(u) = unit {
        // The mapping appends the unit unless the name ends with it.
        if name.ends_with(u) && name.len() > u.len() {
            name.truncate(name.len() - u.len());
            name = name.trim_end_matches('_').to_string();
        }
    }
    Named {
        name,
        unit,
        scale,
        why,
    }
}

/// The prefix a draft's names get: `--name` or the sample's file stem, folded into a name
/// part, with a trailing `_`.
pub fn prefix(name: &str) -> String {
    let part = words(name).join("_");
    match part.chars().next() {
        None => "app_".into(),
        Some(c) if c.is_ascii_digit() => format!("app_{part}_"),
        Some(_) => format!("{part}_"),
    }
}

/// A label name from a word of the key (`thread`, `type`, `queue`).
pub fn label_name(word: &str) -> String {
    let part = words(word).join("_");
    match part.chars().next() {
        None => "label".into(),
        Some(c) if c.is_ascii_digit() => format!("l_{part}"),
        Some(_) if matches!(part.as_str(), "le" | "quantile" | "job" | "instance") => {
            format!("{part}_")
        }
        Some(_) => part,
    }
}
