//! Small text helpers shared by stages that must not depend on each other.

/// A short excerpt of a line for error messages.
pub fn excerpt(line: &str) -> String {
    const MAX: usize = 60;
    if line.chars().count() <= MAX {
        format!("{line:?}")
    } else {
        let cut: String = line.chars().take(MAX).collect();
        format!("{cut:?}...")
    }
}

/// The most characters of a text (an error, a skipped value) stored and shown: a message
/// and an excerpt of input, never a page of the app's data.
pub const SHOWN_MAX: usize = 300;

/// `text` fit to show on a page or a terminal: control characters escaped (`\n`, `\u{1b}`),
/// so input cannot forge a log line or drive a terminal, and cut at [`SHOWN_MAX`]
/// characters.
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(SHOWN_MAX + 3));
    for (n, c) in text.chars().enumerate() {
        if n >= SHOWN_MAX {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` with every control character but the line break escaped (`\u{1b}`), so text
/// quoting the app's input cannot drive the terminal it is printed on.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether an `Accept`-style header value (`a, b;q=0.5, c;q=0`) lists `token` (case aside)
/// without refusing it with a zero weight (`q=0`, `q=0.0`, `q=0.000`; RFC 9110 12.4.2).
pub fn lists_accepted(header: &str, token: &str) -> bool {
    header.split(',').any(|part| {
        let mut params = part.split(';').map(str::trim);
        params.next().is_some_and(|t| t.eq_ignore_ascii_case(token))
            && !params.any(|p| {
                let p = p.replace(' ', "");
                p.strip_prefix("q=")
                    .or_else(|| p.strip_prefix("Q="))
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            })
    })
}

/// A TOML error without the lines it quotes from the file: a config or recipe line may
/// hold a secret (a token someone pasted), and these messages reach logs and HTTP answers
/// (`/-/reload`). What is left names the line, the column and the reason.
pub fn without_quoted_lines(message: &str) -> String {
    let gutter = |l: &str| {
        let t = l.trim_start();
        let digits = t.trim_start_matches(|c: char| c.is_ascii_digit());
        digits.trim_start().starts_with('|')
    };
    let kept: Vec<&str> = message.lines().filter(|l| !gutter(l)).collect();
    kept.join("\n")
}

/// The candidate `word` is most likely a typo of: the nearest by edit distance (a swap of
/// two letters counts one) when at most a third of its letters differ, else the only
/// candidate that starts with `word` (`nginx` for `nginx_stub_status`). `None` when
/// nothing is close (a far-fetched guess is worse than the list of names) or `word` is one
/// of the candidates.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&str> = candidates.into_iter().collect();
    if candidates.contains(&word) {
        return None;
    }
    let near = candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= (word.chars().count().max(c.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c);
    near.or_else(|| {
        let mut prefixed = candidates
            .iter()
            .filter(|c| word.chars().count() >= 3 && c.starts_with(word));
        match (prefixed.next(), prefixed.next()) {
            (Some(only), None) => Some(*only),
            _ => None,
        }
    })
}

/// `; did you mean "x"?` for the closest candidate ([`closest`]), or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|c| format!("; did you mean {c:?}?"))
        .unwrap_or_default()
}

/// A serde message with a suggestion added to its `unknown field` (or `unknown variant`)
/// line: serde lists the expected names, this names the one most likely meant
/// (``unknown field `separatr`, expected one of `separator`, ...; did you mean `separator`?``).
pub fn with_field_suggestion(message: &str) -> String {
    let lines: Vec<String> = message
        .lines()
        .map(|line| {
            if !(line.contains("unknown field `") || line.contains("unknown variant `")) {
                return line.to_string();
            }
            // Odd pieces are the quoted names: the unknown one first, then the expected.
            let mut quoted = line.split('`').skip(1).step_by(2);
            let Some(word) = quoted.next() else {
                return line.to_string();
            };
            match closest(word, quoted) {
                Some(c) => format!("{line}; did you mean `{c}`?"),
                None => line.to_string(),
            }
        })
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_lines_are_removed() {
        let msg = "TOML parse error at line 3, column 9\n  |\n3 | token = secret-Abc\n  |         ^^^^^^^^^^\nstring values must be quoted, expected literal string\n";
        assert_eq!(
            without_quoted_lines(msg),
            "TOML parse error at line 3, column 9\nstring values must be quoted, expected literal string"
        );
        assert_eq!(
            without_quoted_lines("unknown field `colour`"),
            "unknown field `colour`"
        );
    }

    #[test]
    fn closest_names_a_likely_typo_only() {
        let names = [
            "meminfo",
            "meminfo_appended",
            "nginx_stub_status",
            "kv",
            "csv",
        ];
        assert_eq!(closest("meminfo_apended", names), Some("meminfo_appended"));
        assert_eq!(closest("meminf", names), Some("meminfo"));
        assert_eq!(closest("nginx", names), Some("nginx_stub_status"));
        assert_eq!(closest("kb", names), Some("kv"));
        assert_eq!(
            closest("memnifo", names),
            Some("meminfo"),
            "a swap is one edit"
        );
        assert_eq!(closest("redis", names), None);
        assert_eq!(
            closest("meminfo", names),
            None,
            "an exact name is not a suggestion"
        );
        assert_eq!(did_you_mean("csb", names), "; did you mean \"csv\"?");
        assert_eq!(did_you_mean("yaml", names), "");
    }

    #[test]
    fn serde_unknown_fields_get_a_suggestion() {
        assert_eq!(
            with_field_suggestion(
                "TOML parse error at line 2, column 1\nunknown field `separatr`, expected one of `separator`, `section_prefix`"
            ),
            "TOML parse error at line 2, column 1\nunknown field `separatr`, expected one of `separator`, `section_prefix`; did you mean `separator`?"
        );
        assert_eq!(
            with_field_suggestion("unknown field `zzz`, expected `key`"),
            "unknown field `zzz`, expected `key`"
        );
        assert_eq!(
            with_field_suggestion("missing field `format`"),
            "missing field `format`"
        );
    }
}
