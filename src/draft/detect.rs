//! Which format reads a sample, with which options: JSON, Prometheus text, CSV with a
//! header, key/value lines (`:`, `=`, `,`, tabs or aligned columns; a line prefix such as
//! memcached's `STAT `, an end line, `# Section` lines, nested `a=1,b=2` values, a unit
//! word after the value), or lines of a name, a value and trailing text (varnishstat,
//! chronyc), read by a regex whose trailing text becomes the HELP.

use super::layout::{toml_pattern, toml_str, Layout};
use super::{csv, json, tables, DraftError};
use crate::parse::number;

pub fn detect(text: &str) -> Result<Layout, DraftError> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(DraftError::Empty);
    }
    if trimmed.starts_with(['{', '[']) {
        if let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) {
            return Ok(json::layout(&doc));
        }
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if is_log(&lines) {
        return Err(DraftError::Log);
    }
    if is_prometheus(&lines) {
        return Ok(Layout::new(
            "prometheus",
            String::new(),
            vec!["format prometheus: the sample has `# TYPE`/`# HELP` lines or labelled samples; the page's own names, types and help pass through".into()],
        ));
    }
    if let Some(layout) = tables::layout(&lines) {
        return Ok(layout);
    }
    if let Some(layout) = csv::layout(&lines) {
        return Ok(layout);
    }
    if let Some(layout) = mixed(&lines) {
        return Ok(layout);
    }
    key_value(&lines).ok_or(DraftError::NoLayout)
}

/// Most lines hold a request in quotes and a date in brackets (`[29/Nov/2026:22:39:38`).
fn is_log(lines: &[&str]) -> bool {
    let logged = lines
        .iter()
        .filter(|l| {
            let request = ["\"GET ", "\"POST ", "\"HEAD ", "\"PUT "]
                .iter()
                .any(|m| l.contains(m));
            request && l.contains(" [") && l.contains("] ")
        })
        .count();
    // Other logs: most lines start with when they happened (syslog's `Dec  7 10:00:00`,
    // `2026/12/07 10:00:00`, ctime); a slow-query log's entries say their query time.
    let timed = lines.iter().filter(|l| starts_with_a_time(l)).count();
    let slow_queries = lines.iter().any(|l| l.starts_with("# Query_time:"));
    !lines.is_empty() && (logged * 2 > lines.len() || timed * 2 > lines.len() || slow_queries)
}

/// A time of day (`10:00:00`) within a line's first 32 bytes.
fn starts_with_a_time(line: &str) -> bool {
    let head = line
        .as_bytes()
        .iter()
        .take(32)
        .copied()
        .collect::<Vec<u8>>();
    head.windows(8).any(|w| {
        w.iter().enumerate().all(|(i, b)| match i {
            2 | 5 => *b == b':',
            _ => b.is_ascii_digit(),
        })
    })
}

fn is_prometheus(lines: &[&str]) -> bool {
    let typed = lines
        .iter()
        .any(|l| l.starts_with("# TYPE ") || l.starts_with("# HELP "));
    let labelled = lines.iter().filter(|l| !l.starts_with('#')).all(|l| {
        let name_end = l
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(l.len());
        name_end > 0 && l.split_at(name_end).1.starts_with('{') && l.contains("} ")
    });
    typed || (labelled && !lines.is_empty())
}

/// What follows a key on a line.
#[derive(Debug, Clone, PartialEq)]
enum Value<'a> {
    Number,
    /// A number and one word of letters (`16 kB`).
    Unit(&'a str),
    /// A number and more text (`0.75 Management process uptime`).
    Trailing(&'a str),
    /// `a=1,b=2`.
    Nested,
    Text,
}

fn classify(value: &str) -> Value<'_> {
    let value = value.trim();
    if number::parse(value).is_some() {
        return Value::Number;
    }
    let mut split = value.splitn(2, [' ', '\t']);
    let first = split.next().unwrap_or("");
    let rest = split.next().map(str::trim).unwrap_or("");
    if number::parse(first).is_some() && !rest.is_empty() {
        if !rest.contains([' ', '\t']) && rest.chars().all(|c| c.is_ascii_alphabetic()) {
            return Value::Unit(rest);
        }
        return Value::Trailing(rest);
    }
    let nested = value.contains('=')
        && value.split(',').all(|part| {
            part.split_once('=')
                .is_some_and(|(k, _)| !k.is_empty() && !k.contains(' '))
        });
    if nested {
        Value::Nested
    } else {
        Value::Text
    }
}

const SEPARATORS: &[&str] = &[":", "=", "\t", ",", " "];

fn split<'a>(line: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let (key, value) = if sep == " " {
        let line = line.trim_start();
        let at = line.find([' ', '\t'])?;
        let (k, v) = line.split_at(at);
        (k, v)
    } else {
        line.split_once(sep)?
    };
    let (key, value) = (key.trim(), value.trim());
    (!key.is_empty() && !value.is_empty()).then_some((key, value))
}

/// A word every line starts with (`STAT `): stripped as `line_prefix`.
fn line_prefix(lines: &[&str]) -> Option<String> {
    let first = lines.first()?.split_once(' ')?.0;
    let is_word = first.len() >= 2 && first.chars().all(|c| c.is_ascii_uppercase());
    let with = lines
        .iter()
        .filter(|l| l.starts_with(first) && l.split_at(first.len()).1.starts_with(' '))
        .count();
    (is_word && lines.len() >= 2 && with * 10 >= lines.len() * 8).then(|| format!("{first} "))
}

fn key_value(all: &[&str]) -> Option<Layout> {
    let mut why = Vec::new();
    let mut options: Vec<String> = Vec::new();
    let mut lines: Vec<&str> = all.to_vec();
    // `END` closing the dump (memcached, OpenVPN). Not when it also closes earlier replies
    // (memcached's `stats`, `stats slabs`, `stats items` read together): then it ends only
    // one, and the lines are skipped as lines without a value.
    let is_end = |l: &str| l.trim() == "END" || l.trim() == "EOF";
    let end = lines
        .last()
        .copied()
        .filter(|l| is_end(l))
        .filter(|_| lines.iter().filter(|l| is_end(l)).count() == 1);
    if let Some(end) = end {
        lines.pop();
        options.push(format!("end_line = {}", toml_str(end.trim())));
        why.push(format!("`{}` ends the dump", end.trim()));
    }
    let sections = lines.iter().filter(|l| l.starts_with("# ")).count();
    if sections > 0 && sections < lines.len() {
        lines.retain(|l| !l.starts_with("# "));
        options.push("section_prefix = \"# \"".into());
        why.push("`# Name` lines open sections".into());
    }
    let prefix = line_prefix(&lines);
    let stripped: Vec<&str> = lines
        .iter()
        .map(|l| match &prefix {
            Some(p) => l.strip_prefix(p.as_str()).unwrap_or(l),
            None => l,
        })
        .collect();
    let score = |sep: &str| {
        stripped
            .iter()
            .filter_map(|l| split(l, sep))
            .map(|(_, v)| {
                let first = v.split_whitespace().next().unwrap_or("");
                1 + usize::from(number::parse(first).is_some())
            })
            .sum::<usize>()
    };
    let (sep, best) = SEPARATORS
        .iter()
        .map(|s| (*s, score(s)))
        .fold(("", 0), |best, s| if s.1 > best.1 { s } else { best });
    if best == 0 || best < stripped.len() {
        return None;
    }
    let pairs: Vec<(&str, &str)> = stripped.iter().filter_map(|l| split(l, sep)).collect();
    let malformed: Vec<&str> = stripped
        .iter()
        .copied()
        .filter(|l| split(l, sep).is_none())
        .collect();
    let kinds: Vec<(&str, Value)> = pairs.iter().map(|(k, v)| (*k, classify(v))).collect();
    if kinds.iter().all(|(_, v)| matches!(v, Value::Text)) {
        // Prose, not stats: no line holds a number.
        return None;
    }
    let trailing = kinds.iter().any(|(_, v)| matches!(v, Value::Trailing(_)));
    let shown = match sep {
        "\t" => "a tab",
        " " => "spaces (aligned columns)",
        other => other,
    };
    let mut layout = if trailing {
        regex_layout(sep, prefix.as_deref(), &malformed, shown)
    } else {
        let mut o = vec![format!("separator = {}", toml_str(sep))];
        why.insert(0, format!("format kv: lines of a key, {shown:?}, a value"));
        if let Some(p) = &prefix {
            o.push(format!("line_prefix = {}", toml_str(p)));
            why.push(format!("every line starts with {p:?}"));
        }
        if kinds.iter().any(|(_, v)| matches!(v, Value::Nested)) {
            o.push("nested = true".into());
            why.push("values such as `a=1,b=2` are read as keys `key.a`, `key.b`".into());
        }
        if kinds.iter().any(|(_, v)| matches!(v, Value::Unit(_))) {
            o.push("value_unit = true".into());
            why.push("a word after a number is its unit (`16 kB`)".into());
        }
        if let Some(first) = malformed.first() {
            o.push("malformed = \"skip\"".into());
            why.push(format!(
                "lines without the separator are skipped ({} of them, first {first:?})",
                malformed.len()
            ));
        }
        o.extend(options);
        Layout::new("kv", format!("[kv]\n{}\n", o.join("\n")), why)
    };
    for (key, v) in &kinds {
        match v {
            Value::Trailing(t) => {
                layout.trailing.insert((*key).to_string(), (*t).to_string());
            }
            Value::Unit(u) => {
                layout.trailing.insert((*key).to_string(), (*u).to_string());
                if !layout.units.iter().any(|x| x == u) {
                    layout.units.push((*u).to_string());
                }
            }
            _ => {}
        }
    }
    if trailing {
        layout.units.clear();
    }
    Some(layout)
}

/// Lines of a key, a value and more text: a regex takes the key and the value (a number,
/// or the whole text when it is not one), the rest is left for the HELP.
fn regex_layout(sep: &str, prefix: Option<&str>, malformed: &[&str], shown: &str) -> Layout {
    let lead = match prefix {
        Some(p) => format!("^{}", regex::escape(p)),
        None => r"^[ \t]*".to_string(),
    };
    let key = match sep {
        " " => r"(?P<key>[^ \t]+)[ \t]+".to_string(),
        "\t" => r"(?P<key>[^\t]*[^ \t])[ \t]*\t[ \t]*".to_string(),
        other => {
            let s = regex::escape(other);
            format!(r"(?P<key>[^{s}]*[^{s} \t])[ \t]*{s}[ \t]*")
        }
    };
    let value = r"(?P<value>[-+]?\.?[0-9][^ \t]*|[^ \t](?:.*[^ \t])?)";
    let mut rules = format!(
        "[[regex.rule]]\npattern = {}\nrecord_key = \"{{key}}\"\n",
        toml_pattern(&format!("{lead}{key}{value}"))
    );
    for line in malformed.iter().take(8) {
        rules.push_str(&format!(
            "\n[[regex.rule]]\npattern = {}\ndrop = true\n",
            toml_pattern(&format!("^{}$", regex::escape(line.trim_end())))
        ));
    }
    let mut why = vec![format!(
        "format regex: lines of a key, {shown:?}, a value and more text (the text becomes the HELP)"
    )];
    if !malformed.is_empty() {
        why.push(format!(
            "{} line(s) without a value are known and dropped",
            malformed.len().min(8)
        ));
    }
    Layout::new("regex", rules, why)
}

/// `Word: 1 Other: 2` on one line: the pairs.
fn pairs(line: &str) -> Option<Vec<&str>> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    if tokens.len() < 4 || tokens.len() % 2 != 0 {
        return None;
    }
    let mut words = Vec::new();
    for pair in tokens.chunks(2) {
        match pair {
            [word, value] if word.ends_with(':') && number::parse(value).is_some() => {
                words.push(word.trim_end_matches(':'));
            }
            _ => return None,
        }
    }
    Some(words)
}

/// A line of words, each naming a column of numbers on the next line (after a first word
/// that names the row, as nginx's `server accepts handled requests`).
fn header_row<'a>(line: &'a str, next: &str) -> Option<Vec<&'a str>> {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    let numbers: Vec<&str> = next.split_whitespace().collect();
    if words.len() == numbers.len() + 1 {
        words.remove(0);
    }
    let ok = words.len() >= 2
        && words.len() == numbers.len()
        && words
            .iter()
            .all(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
        && numbers.iter().all(|n| number::parse(n).is_some());
    ok.then_some(words)
}

/// Lines of several shapes (nginx's stub_status): single `Key: value` lines, lines of
/// several `Key: value` pairs, and a row of numbers under a row of their names. A regex
/// rule per shape.
fn mixed(lines: &[&str]) -> Option<Layout> {
    let mut rules = String::new();
    let mut why = vec!["format regex: lines of several shapes, a rule for each".to_string()];
    let mut shaped = false;
    let capture = |w: &str, taken: &mut Vec<String>| {
        let mut name = super::names::label_name(w);
        while taken.contains(&name) {
            name.push_str("_2");
        }
        taken.push(name.clone());
        name
    };
    let mut taken = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(words) = pairs(line) {
            let parts: Vec<String> = words
                .iter()
                .map(|w| {
                    let c = capture(w, &mut taken);
                    format!(r"{}:[ \t]*(?P<{c}>[-+]?[0-9.]+)", regex::escape(w))
                })
                .collect();
            let names: Vec<String> = taken
                .iter()
                .rev()
                .take(words.len())
                .rev()
                .map(|n| toml_str(n))
                .collect();
            rules.push_str(&format!(
                "[[regex.rule]]\npattern = {}\nvalues = [{}]\n\n",
                toml_pattern(&format!(r"^[ \t]*{}[ \t]*$", parts.join(r"[ \t]+"))),
                names.join(", ")
            ));
            why.push(format!(
                "line {:?} holds {} `Key: value` pairs",
                line.trim(),
                words.len()
            ));
            shaped = true;
        } else if let Some(words) = lines.get(i + 1).and_then(|next| header_row(line, next)) {
            let caps: Vec<String> = words.iter().map(|w| capture(w, &mut taken)).collect();
            let parts: Vec<String> = caps
                .iter()
                .map(|c| format!("(?P<{c}>[-+]?[0-9.]+)"))
                .collect();
            let names: Vec<String> = caps.iter().map(|n| toml_str(n)).collect();
            rules.push_str(&format!(
                "[[regex.rule]]\npattern = {}\ndrop = true\n\n[[regex.rule]]\npattern = {}\nvalues = [{}]\n\n",
                toml_pattern(&format!("^{}$", regex::escape(line.trim_end()))),
                toml_pattern(&format!(r"^[ \t]*{}[ \t]*$", parts.join(r"[ \t]+"))),
                names.join(", ")
            ));
            why.push(format!(
                "line {:?} names the numbers of the line under it",
                line.trim()
            ));
            shaped = true;
        }
    }
    if !shaped {
        return None;
    }
    rules.push_str(&format!(
        "[[regex.rule]]\npattern = {}\nrecord_key = \"{{key}}\"\n",
        toml_pattern(
            r"^[ \t]*(?P<key>[^: \t][^:]*[^: \t])[ \t]*:[ \t]*(?P<value>[-+]?[0-9.]+)[ \t]*$"
        )
    ));
    why.push("other lines are `Key: value`".into());
    Some(Layout::new("regex", rules, why))
}
