//! The draft as recipe TOML: the format and its options, a `[[mapping.metric]]` rule per
//! family with a comment for each guess, `required` keys, and `[[test]]` cases cut from the
//! sample whose expected lines are what the recipe itself gives. The whole text is compiled
//! and its cases run before it is returned.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::layout::{toml_pattern, toml_str, Layout};
use super::types::Kind;
use super::{DraftError, Matcher, Rule, Seen};
use crate::exposition::WireFormat;
use crate::recipe::compile::Parser as _;
use crate::recipe::{preview, testing, Recipe};

/// Lines of a line format a test case keeps.
const CASE_LINES: usize = 40;
/// A JSON document longer than this is cut (each array to its first two items).
const CASE_JSON_BYTES: usize = 4096;
/// Page lines a case expects at most.
const CASE_EXPECT: usize = 24;
/// Keys `required` names at most.
const REQUIRED: usize = 5;

pub struct Input<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub layout: &'a Layout,
    pub rules: &'a [Rule],
    pub seen: &'a [Seen],
    pub later: Option<&'a [Seen]>,
    pub first: &'a str,
    pub sample_name: &'a str,
    pub second_name: Option<&'a str>,
}

fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "# {line}");
    }
}

fn rule_text(out: &mut String, rule: &Rule, app: &str) {
    let mut why = vec![rule.typed.why.clone()];
    if let Some(u) = &rule.named.why {
        why.push(u.clone());
    }
    if let Matcher::Pattern(shape) = &rule.matcher {
        why.push(format!(
            "{} ({} keys: {}{})",
            shape.why,
            shape.keys.len(),
            shape
                .keys
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if shape.keys.len() > 3 { ", ..." } else { "" }
        ));
    }
    if rule.typed.mixed {
        why.push("some values are words: skipped quietly".into());
    }
    comment(out, &why.join("; "));
    out.push_str("[[mapping.metric]]\n");
    let help = match &rule.matcher {
        Matcher::Key(k) => {
            let _ = writeln!(out, "key = {}", toml_str(k));
            format!("{k}, as {app} writes it")
        }
        Matcher::Pattern(shape) => {
            let _ = writeln!(out, "match = {}", toml_pattern(&shape.pattern));
            let by = shape.labels.join(", ");
            format!("{}, by {by}, as {app} writes it", shape.base)
        }
    };
    if rule.typed.kind == Kind::Drop {
        out.push_str("drop = true\n\n");
        return;
    }
    let _ = writeln!(out, "name = {}", toml_str(&rule.named.name));
    let kind = match &rule.typed.kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
        Kind::Info => "info",
        Kind::StateSet(_) => "stateset",
        Kind::Drop => "",
    };
    let _ = writeln!(out, "type = \"{kind}\"");
    if let Some(u) = rule.named.unit {
        let _ = writeln!(out, "unit = \"{u}\"");
    }
    if let Some(s) = rule.named.scale {
        let _ = writeln!(out, "scale = {s:e}");
    }
    if rule.typed.kind == Kind::Info {
        // The key as written may be camelCase (`ServerVersion`): the label is the name.
        let _ = writeln!(out, "label = {}", toml_str(&rule.named.name));
    }
    if let Kind::StateSet(states) = &rule.typed.kind {
        let states: Vec<String> = states.iter().map(|s| toml_str(s)).collect();
        let _ = writeln!(out, "states = [{}]", states.join(", "));
    }
    if rule.typed.mixed {
        out.push_str("non_numeric = \"skip\"\n");
    }
    let help = rule.help.clone().unwrap_or(help);
    let _ = writeln!(out, "help = {}", toml_str(&help.replace(['\r', '\n'], " ")));
    out.push('\n');
}

/// The part of the sample a test case keeps, and how it was cut.
fn cut(layout: &Layout, text: &str) -> (String, Option<String>) {
    let lines: Vec<&str> = text.lines().collect();
    match layout.format {
        "json" if text.len() > CASE_JSON_BYTES => {
            fn shorten(v: &mut serde_json::Value) {
                match v {
                    serde_json::Value::Array(a) => {
                        a.truncate(2);
                        a.iter_mut().for_each(shorten);
                    }
                    serde_json::Value::Object(m) => m.values_mut().for_each(shorten),
                    _ => {}
                }
            }
            match serde_json::from_str::<serde_json::Value>(text) {
                Ok(mut doc) => {
                    shorten(&mut doc);
                    let short = serde_json::to_string_pretty(&doc).unwrap_or_default();
                    (short, Some("each list cut to its first two items".into()))
                }
                Err(_) => (text.to_string(), None),
            }
        }
        "json" => (text.to_string(), None),
        _ if lines.len() <= CASE_LINES => (text.to_string(), None),
        "prometheus" => {
            // Cut where a family starts, so no family is cut in two.
            let at = lines
                .iter()
                .enumerate()
                .skip(CASE_LINES)
                .find(|(i, l)| {
                    l.starts_with('#')
                        && i.checked_sub(1)
                            .and_then(|p| lines.get(p))
                            .is_some_and(|p| !p.starts_with('#'))
                })
                .map_or(lines.len(), |(i, _)| i);
            let kept = lines.get(..at).unwrap_or(&lines).join("\n") + "\n";
            (kept, Some(format!("its first {at} lines")))
        }
        _ => {
            let kept = lines.get(..CASE_LINES).unwrap_or(&lines).join("\n") + "\n";
            (kept, Some(format!("its first {CASE_LINES} lines")))
        }
    }
}

/// A TOML string holding `text` across lines when it can (a literal `'''` string).
fn multiline(text: &str) -> String {
    let plain = !text.contains("'''")
        && !text.ends_with('\'')
        && !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t');
    if plain {
        format!("'''\n{text}'''")
    } else {
        toml_str(text)
    }
}

/// The sample lines of `page` a case expects: the first series of each family.
fn expected(page: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut last_family = String::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            last_family = rest.split(' ').next().unwrap_or("").to_string();
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() || last_family.is_empty() {
            continue;
        }
        out.push(line.to_string());
        last_family.clear();
        if out.len() >= CASE_EXPECT {
            break;
        }
    }
    out
}

fn compile(text: &str, name: &str) -> Result<Recipe, DraftError> {
    Recipe::from_toml(name, text).map_err(|e| DraftError::SelfCheck(e.to_string()))
}

pub fn recipe(i: &Input) -> Result<String, DraftError> {
    let mut out = String::new();
    let from = match i.second_name {
        Some(s) => format!("{} and {s}", i.sample_name),
        None => i.sample_name.to_string(),
    };
    comment(
        &mut out,
        &format!(
            "Drafted by `metrics-adapter draft` from {from}: a first recipe to check and refine\n\
             (docs/recipes.md, \"Refining a draft\"). Each guess has a comment above it.\n\
             `metrics-adapter test FILE` runs the cases at the end; `metrics-adapter parse\n\
             --explain FILE SAMPLE` shows what each line becomes."
        ),
    );
    let _ = writeln!(
        out,
        "description = {}",
        toml_str(&format!(
            "{} stats (drafted from {})",
            i.name, i.sample_name
        ))
    );
    let _ = writeln!(out, "format = \"{}\"\n", i.layout.format);
    comment(&mut out, &i.layout.why.join("\n"));
    if !i.layout.options.is_empty() {
        out.push_str(&i.layout.options);
        out.push('\n');
    }
    out.push_str("[mapping]\n");
    let (cut_text, how) = cut(i.layout, i.first);
    if i.layout.format == "prometheus" {
        comment(
            &mut out,
            "The page's own names, types and help are kept: rules here can rename, relabel or\n\
             drop (`exclude_keys`) what it serves.",
        );
    } else {
        let _ = writeln!(out, "prefix = {}", toml_str(i.prefix));
        comment(
            &mut out,
            "A key the sample did not have is not exposed, and counted as unmatched (`parse`\n\
             names the first); \"gauge\" would expose it as it comes.",
        );
        out.push_str("unmatched = \"drop\"\n");
        let required = required(i, &cut_text)?;
        if !required.is_empty() {
            comment(
                &mut out,
                "A read without these keys fails (the source is down): every sample had them.",
            );
            let keys: Vec<String> = required.iter().map(|k| toml_str(k)).collect();
            let _ = writeln!(out, "required = [{}]", keys.join(", "));
        }
        out.push('\n');
        for u in &i.layout.units {
            let named = super::names::name("value", Some(u));
            let _ = writeln!(out, "[mapping.units.{}]", toml_str(u));
            if let Some(s) = named.scale {
                let _ = writeln!(out, "scale = {s:e}");
            }
            if let Some(base) = named.unit {
                let _ = writeln!(out, "unit = \"{base}\"");
            }
            out.push('\n');
        }
        for rule in i.rules {
            rule_text(&mut out, rule, i.name);
        }
    }
    // The case: what this very recipe makes of the cut sample.
    let recipe = compile(&out, i.name)?;
    let parsed = recipe
        .parse(cut_text.as_bytes())
        .map_err(|e| DraftError::SelfCheck(format!("the sample does not parse: {e}")))?;
    let (page, _) = preview::render(parsed, WireFormat::Text);
    let lines = expected(&page);
    if lines.is_empty() {
        return Err(DraftError::NoValues);
    }
    let _ = writeln!(
        out,
        "# The sample{}, and the first series of each family it gave.",
        how.map_or(String::new(), |h| format!(" ({h})"))
    );
    out.push_str("[[test]]\n");
    let _ = writeln!(
        out,
        "name = {}",
        toml_str(&format!("the sample {}", i.sample_name))
    );
    let _ = writeln!(out, "input = {}", multiline(&cut_text));
    let _ = writeln!(out, "expect = {}", multiline(&(lines.join("\n") + "\n")));
    let done = compile(&out, i.name)?;
    for case in &done.tests {
        testing::run(&done, case).map_err(|e| DraftError::SelfCheck(e.to_string()))?;
    }
    Ok(out)
}

/// Plain keys with numbers in every sample and in the case's input.
fn keys(seen: &[Seen]) -> HashSet<&str> {
    seen.iter().map(|s| s.key.as_str()).collect()
}

fn required(i: &Input, cut_text: &str) -> Result<Vec<String>, DraftError> {
    let in_cut = super::read(i.layout, cut_text)?;
    let (cut_keys, first_keys) = (keys(&in_cut), keys(i.seen));
    let later_keys = i.later.map(keys);
    let mut out: Vec<String> = Vec::new();
    for rule in i.rules {
        let Matcher::Key(k) = &rule.matcher else {
            continue;
        };
        if !matches!(rule.typed.kind, Kind::Gauge | Kind::Counter) || rule.typed.mixed {
            continue;
        }
        let k = k.as_str();
        // A key with a brace would read as a series with labels.
        if k.contains(['{', '}', '"']) {
            continue;
        }
        let later = later_keys.as_ref().map_or(true, |l| l.contains(k));
        if cut_keys.contains(k) && first_keys.contains(k) && later {
            out.push(k.to_string());
        }
        if out.len() >= REQUIRED {
            break;
        }
    }
    Ok(out)
}
