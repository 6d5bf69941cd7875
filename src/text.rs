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

/// Whether an `Accept`-style header value (`a, b;q=0.5, c;q=0`) lists `token` (case aside)
/// without refusing it with `q=0`.
pub fn lists_accepted(header: &str, token: &str) -> bool {
    header.split(',').any(|part| {
        let mut params = part.split(';').map(str::trim);
        params.next().is_some_and(|t| t.eq_ignore_ascii_case(token))
            && !params.any(|p| p.replace(' ', "") == "q=0")
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
}
