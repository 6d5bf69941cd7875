//! Multi-line records of a followed log (`[framing] record_start`; the append-log block
//! framing is [`crate::framing`], a layer up, as it reads sources): a line `record_start` matches opens a record, the
//! lines after it belong to it until one `record_end` matches (its last line) or the next
//! record starts. A MySQL slow-query entry (`# User@Host:`, `# Query_time:`, the statement)
//! or a stack trace is then one record, read by one `[[regex.rule]]` pattern (whose `.` and
//! `\n` see the whole record). Lines outside any record are records of their own.
//!
//! A followed log delivers lines as they are written, so its last record may not be whole
//! yet: it is kept (see [`RecordFraming::complete_len`]) and read with the lines that
//! follow. With `record_end`, a record is whole once its end line is read; without, once
//! the next record starts (a saved log read by `parse`, or a `[[test]]`, is whole at its end).
// Source text is the app's: an index or slice that can panic is a crash on its data.
#![warn(clippy::indexing_slicing)]

use regex::Regex;

/// The most lines one record takes; a record that would be longer is cut there (the rest
/// are lines of their own), so a missing end line cannot hold a log's lines forever.
pub const MAX_RECORD_LINES: usize = 1000;

/// The most bytes a followed log's open record is kept for the lines after it; a longer
/// one is read as it is.
pub const MAX_PENDING: usize = 1 << 20;

#[derive(Debug)]
pub struct RecordFraming {
    start: Regex,
    end: Option<Regex>,
}

/// One record: its first line's number (1-based), its text (lines joined by `\n`, without
/// the last newline), and whether it is whole.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Framed<'t> {
    pub line: usize,
    pub text: &'t str,
    /// Where it starts in the input, in bytes.
    pub offset: usize,
    whole: bool,
}

impl RecordFraming {
    /// Errors name the key (`record_start`, `record_end`) and why.
    pub fn new(start: &str, end: Option<&str>) -> Result<Self, (&'static str, String)> {
        let start = Regex::new(start).map_err(|e| ("record_start", e.to_string()))?;
        let end = end
            .map(Regex::new)
            .transpose()
            .map_err(|e| ("record_end", e.to_string()))?;
        Ok(RecordFraming { start, end })
    }

    /// The records of `text` (whole lines), in order.
    pub fn records<'t>(&'t self, text: &'t str) -> impl Iterator<Item = Framed<'t>> + 't {
        let mut lines = Lines {
            text,
            offset: 0,
            number: 0,
        }
        .peekable();
        std::iter::from_fn(move || {
            let (n, first, start, mut end) = lines.next()?;
            let trimmed = |l: &'t str| l.strip_suffix('\r').unwrap_or(l);
            if !self.start.is_match(trimmed(first)) {
                return Some(Framed {
                    line: n,
                    text: trimmed(first),
                    offset: start,
                    whole: true,
                });
            }
            let ends = |l: &str| self.end.as_ref().is_some_and(|e| e.is_match(l));
            let mut whole = ends(trimmed(first));
            let mut count = 1;
            while !whole {
                match lines.peek() {
                    Some((_, l, _, _)) if !self.start.is_match(trimmed(l)) => {}
                    // The next record starts: this one is whole.
                    Some(_) => {
                        whole = true;
                        break;
                    }
                    None => break,
                }
                let Some((_, line, _, e)) = lines.next() else {
                    break;
                };
                end = e;
                count += 1;
                whole = ends(trimmed(line)) || count >= MAX_RECORD_LINES;
            }
            let body = text.get(start..end).unwrap_or_default();
            let body = body.strip_suffix('\n').unwrap_or(body);
            Some(Framed {
                line: n,
                text: body.strip_suffix('\r').unwrap_or(body),
                offset: start,
                whole,
            })
        })
    }

    /// How much of `text` (whole lines) holds whole records: the rest is the start of a
    /// record whose end is not written yet.
    pub fn complete_len(&self, text: &str) -> usize {
        match self.records(text).last() {
            Some(last) if !last.whole => last.offset,
            _ => text.len(),
        }
    }
}

/// Lines with their number and byte range (the newline included).
struct Lines<'t> {
    text: &'t str,
    offset: usize,
    number: usize,
}

impl<'t> Iterator for Lines<'t> {
    /// (number, line without its newline, start, end)
    type Item = (usize, &'t str, usize, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.text.get(self.offset..).filter(|r| !r.is_empty())?;
        let len = rest.find('\n').map_or(rest.len(), |i| i + 1);
        let (line, _) = rest.split_at_checked(len)?;
        let start = self.offset;
        self.offset += len;
        self.number += 1;
        Some((
            self.number,
            line.strip_suffix('\n').unwrap_or(line),
            start,
            self.offset,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOW: &str = "# Time: 261207 11:00:00\n# User@Host: a[a] @ localhost []\n# Query_time: 1.5  Lock_time: 0.1\nSET timestamp=1;\nSELECT 1\n  FROM t;\n# User@Host: b[b] @ h []\n# Query_time: 2  Lock_time: 0\nSET timestamp=2;\nUPDATE t SET x = 1;\n";

    fn texts(f: &RecordFraming, text: &str) -> Vec<(usize, String, bool)> {
        f.records(text)
            .map(|r| (r.line, r.text.to_string(), r.whole))
            .collect()
    }

    #[test]
    fn records_start_and_run_to_the_next_start() {
        let f = RecordFraming::new("^# User@Host:", None).unwrap();
        let got = texts(&f, SLOW);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (1, "# Time: 261207 11:00:00".into(), true));
        assert_eq!(
            got[1],
            (2, "# User@Host: a[a] @ localhost []\n# Query_time: 1.5  Lock_time: 0.1\nSET timestamp=1;\nSELECT 1\n  FROM t;".into(), true)
        );
        // Without an end pattern the last one is whole only once another starts.
        assert_eq!((got[2].0, got[2].2), (7, false));
        assert_eq!(f.complete_len(SLOW), SLOW.find("# User@Host: b").unwrap());
    }

    #[test]
    fn an_end_line_closes_a_record() {
        let f = RecordFraming::new("^# User@Host:", Some("^[^#S].*;$")).unwrap();
        let got = texts(&f, SLOW);
        assert!(got.iter().all(|(_, _, whole)| *whole));
        assert_eq!(f.complete_len(SLOW), SLOW.len());
        // Cut mid-record (a writer's lines not all there yet): kept for the next read.
        let cut = SLOW.find("SET timestamp=2").unwrap();
        assert_eq!(
            f.complete_len(SLOW.split_at(cut).0),
            SLOW.find("# User@Host: b").unwrap()
        );
        // CRLF lines, and a start line that is also an end line.
        let f = RecordFraming::new("^BEGIN", Some("END$")).unwrap();
        assert_eq!(
            texts(&f, "BEGIN a END\r\nx\r\nBEGIN\r\ny END\r\n"),
            [
                (1, "BEGIN a END".into(), true),
                (2, "x".into(), true),
                (3, "BEGIN\r\ny END".into(), true)
            ]
        );
    }

    /// A followed log's record cut between two reads is read whole with the second; one
    /// without an end line waits for the next start (a saved log: for its end).
    #[test]
    fn a_record_split_across_reads_is_read_once_whole() {
        let recipe = |end: &str| {
            crate::recipe::Recipe::from_toml(
                "slow",
                &format!(
                    "description = 'd'\nformat = 'regex'\n[framing]\nrecord_start = '^# User@Host:'\n{end}\n\
                     [[regex.rule]]\npattern = '(?s)^# User@Host: (?P<user>[a-z]+).*\\n# Query_time: (?P<t>[0-9.]+)'\n\
                     values = ['t']\n[[regex.rule]]\npattern = '^# Time:'\ndrop = true\n\
                     [[mapping.metric]]\nkey = 't'\nname = 'query_time'\naccumulate = 'sum'\n"
                ),
            )
            .unwrap()
        };
        let sum = |totals: &crate::parse::totals::RunningTotals| -> Vec<String> {
            totals
                .families()
                .iter()
                .flat_map(|f| {
                    f.samples
                        .iter()
                        .map(|s| format!("{:?} {}", s.labels, s.value))
                })
                .collect()
        };
        let r = recipe("record_end = '^[^#S].*;$'");
        let cut = SLOW.find("SET timestamp=2").unwrap();
        let mut totals = r.totals();
        let fed = r.feed(SLOW.split_at(cut).0, &mut totals, usize::MAX);
        assert_eq!(sum(&totals), ["[(\"user\", \"a\")] 1.5"]);
        assert_eq!((fed.issues, fed.unmatched.count), (0, 0));
        r.feed(SLOW.split_at(cut).1, &mut totals, usize::MAX);
        assert_eq!(
            sum(&totals),
            ["[(\"user\", \"a\")] 1.5", "[(\"user\", \"b\")] 2"]
        );
        assert!(totals.line_state.pending.is_empty());
        // No end line: b's record is kept until another starts.
        let r = recipe("");
        let mut totals = r.totals();
        r.feed(SLOW, &mut totals, usize::MAX);
        assert_eq!(sum(&totals), ["[(\"user\", \"a\")] 1.5"]);
        r.feed("# User@Host: c[c] @ h []\n", &mut totals, usize::MAX);
        assert_eq!(
            sum(&totals),
            ["[(\"user\", \"a\")] 1.5", "[(\"user\", \"b\")] 2"]
        );
        // A saved log is whole at its end.
        let parsed = crate::recipe::Parser::parse(&r, SLOW.as_bytes()).unwrap();
        assert_eq!(parsed.families[0].samples.len(), 2);
    }

    #[test]
    fn framing_keys_are_checked() {
        let load = |framing: &str, rules: &str| {
            crate::recipe::Recipe::from_toml(
                "x",
                &format!("description = 'd'\nformat = 'regex'\n[framing]\n{framing}\n[[regex.rule]]\npattern = '(?P<value>.)'\n{rules}"),
            )
            .unwrap_err()
            .to_string()
        };
        let count = "[[mapping.metric]]\nkey = 'value'\naccumulate = 'count'\n";
        assert_eq!(
            load("record_start = '('", count).split(':').next(),
            Some("framing.record_start")
        );
        assert_eq!(
            load("record_end = 'x'", count),
            "framing.record_end: needs record_start"
        );
        assert!(load("record_start = 'x'", "")
            .starts_with("framing.record_start: multi-line records are for a log recipe"));
        assert!(load("record_start = 'x'\nblock_start = 'y'", count)
            .contains("do not apply to a recipe whose rules accumulate"));
    }

    #[test]
    fn a_record_is_cut_at_the_line_limit() {
        let f = RecordFraming::new("^start", Some("^end")).unwrap();
        let text = format!("start\n{}", "x\n".repeat(MAX_RECORD_LINES + 5));
        let got: Vec<_> = f.records(&text).collect();
        assert_eq!(got[0].text.lines().count(), MAX_RECORD_LINES);
        assert_eq!(got.len(), 7);
        assert!(RecordFraming::new("(", None).unwrap_err().0 == "record_start");
    }
}
