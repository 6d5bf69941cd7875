//! Keys of the recipe language that were renamed or replaced, each refused with an error
//! that names the new form (it would otherwise be an unknown key, or one of another meaning).

use crate::parse::RecipeError;

/// Keys that meant something else in another table and were renamed so each key has one
/// meaning across the language: (table, old key, new key). `[]` is every item of an array.
/// `values` is the captures holding values (regex) and `words` the words standing for
/// numbers; `key` is a record's key a rule matches, `record_key` the key a regex rule
/// makes; `labels` is static labels, `label_fields` labels read from JSON fields;
/// `prefix` is a metric name prefix, `key_prefix` a record key prefix; `include`/`exclude`
/// filter metric names (a source's), `include_keys`/`exclude_keys` record keys.
pub const RENAMED: &[(&str, &str, &str)] = &[
    ("regex.rule[]", "key", "record_key"),
    ("json", "labels", "label_fields"),
    ("json.each[]", "labels", "label_fields"),
    ("json.each[]", "prefix", "key_prefix"),
    ("mapping", "include", "include_keys"),
    ("mapping", "exclude", "exclude_keys"),
    ("mapping.metric[]", "values", "words"),
    ("mapping.group[].metric[]", "values", "words"),
];

/// The `[log]` table and `format = "log"` are gone: a log recipe is written in the one
/// mapping language now, and the error says how.
pub(super) fn old_log_table(file: &toml::Table) -> Result<(), RecipeError> {
    let format_log = file.get("format").and_then(toml::Value::as_str) == Some("log");
    if file.contains_key("log") || format_log {
        return Err(RecipeError::new(crate::parse::ErrorKind::Renamed, OLD_LOG));
    }
    Ok(())
}

/// What an old log recipe is told.
pub const OLD_LOG: &str = "format = \"log\" and its [log] table are replaced: a log recipe is \
    format = \"regex\" with [[regex.rule]] patterns (line_key = \"request\" makes a record \
    per line) and [[mapping.metric]] rules with accumulate = \"count\", \"sum\", \"observe\" \
    or \"set\" ([[log.metric]] label_captures are the pattern's other captures); see \
    docs/recipes.md, \"Logs\"";

/// An old key name in a recipe is an error that names the new one (it would otherwise be
/// an unknown key, or a key of another meaning).
pub(super) fn renamed_key(file: &toml::Table) -> Result<(), RecipeError> {
    /// The tables at `path` (`a.b[].c`), with their path as written (`a.b[2].c`).
    fn tables<'t>(
        at: &'t toml::Table,
        path: &str,
        written: String,
        out: &mut Vec<(String, &'t toml::Table)>,
    ) {
        let (head, rest) = path.split_once('.').unwrap_or((path, ""));
        let (name, each) = match head.strip_suffix("[]") {
            Some(n) => (n, true),
            None => (head, false),
        };
        let here = if written.is_empty() {
            name.to_string()
        } else {
            format!("{written}.{name}")
        };
        let found: Vec<(String, &toml::Table)> = match at.get(name) {
            Some(toml::Value::Table(t)) if !each => vec![(here, t)],
            Some(toml::Value::Array(a)) if each => a
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.as_table().map(|t| (format!("{here}[{i}]"), t)))
                .collect(),
            _ => Vec::new(),
        };
        for (w, t) in found {
            if rest.is_empty() {
                out.push((w, t));
            } else {
                tables(t, rest, w, out);
            }
        }
    }
    for (path, old, new) in RENAMED {
        let mut found = Vec::new();
        tables(file, path, String::new(), &mut found);
        if let Some((at, _)) = found.iter().find(|(_, t)| t.contains_key(*old)) {
            return Err(RecipeError::new(
                crate::parse::ErrorKind::Renamed,
                format!("`{old}` is now `{new}`"),
            )
            .at(at.clone()));
        }
    }
    Ok(())
}
