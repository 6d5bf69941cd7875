//! Environment overrides: `METRICS_ADAPTER__SERVER__LISTEN=...` sets `server.listen` over
//! the file. Applied here, to the file's TOML table, rather than by the `config` crate's
//! environment layer, for four things that layer cannot do:
//!
//! - an error in a value set by a variable names the variable, not the file: each key set
//!   is remembered with its variable ([`EnvKeys`]);
//! - a value is kept as the text it is: `LABELS__ZONE=01` stays `"01"` (the crate turned it
//!   into the number 1). Numeric and boolean keys still read it, through the `config`
//!   crate's lenient conversions;
//! - lists: a list key takes `a,b` or a TOML array `["a", "b,c"]` (see [`LIST_KEYS`]);
//! - names with capitals: variable names arrive in any case and are matched to the file's
//!   keys without regard to case, so `SOURCES__MYREDIS__...` overrides `[sources.MyRedis]`.

use std::collections::BTreeMap;

use super::{ConfigError, ENV_PREFIX};

/// The keys that hold lists, as patterns (`*` is any one key), besides any key the file
/// already gives an array. A variable sets one as `a,b,c` (commas split, spaces around an
/// item trimmed, empty items dropped) or as a TOML array, `["a", "b,c"]`, for items that
/// hold commas (a pattern such as `x{1,3}`).
pub const LIST_KEYS: &[&str] = &[
    "parsers.dirs",
    "sources.*.include",
    "sources.*.exclude",
    "sources.*.command",
];

/// What the environment set: each key (dotted, with the file's spelling of every part) and
/// the variable that set it, and each table a variable made that the file lacks.
#[derive(Debug, Default)]
pub struct EnvKeys {
    set: BTreeMap<String, String>,
    created: BTreeMap<String, String>,
}

impl EnvKeys {
    /// The variable that set `key` or a key inside it, whatever `key`'s depth: for an
    /// error about a key that does not exist (`unknown field`), which only a variable can
    /// have brought when it is one.
    pub fn set_at_or_under(&self, key: &str) -> Option<&str> {
        self.set
            .iter()
            .find(|(k, _)| *k == key || k.strip_prefix(key).is_some_and(|r| r.starts_with('.')))
            .map(|(_, var)| var.as_str())
    }

    /// The first variable that made table `table` (one the file does not have).
    pub fn created(&self, table: &str) -> Option<&str> {
        self.created.get(table).map(String::as_str)
    }
}

/// The variable behind the key an error names (`sources.a.timeout`), if one set it, or
/// set a value inside it (`sources.a.labels` for `...__LABELS__ZONE`). An error about a
/// whole source or section (`sources.a`) is the file's: a variable that set one key there
/// did not make the rest.
pub fn variable_for<'a>(keys: &'a EnvKeys, key: &str) -> Option<&'a str> {
    let within_a_key = key.split('.').count() >= 3;
    keys.set
        .iter()
        .find(|(k, _)| {
            *k == key
                || (within_a_key && k.strip_prefix(key).is_some_and(|r| r.starts_with('.')))
                || key
                    .strip_prefix(k.as_str())
                    .is_some_and(|r| r.starts_with('.'))
        })
        .map(|(_, var)| var.as_str())
}

/// Applies every `METRICS_ADAPTER__*` variable of `env` to `table`. Errors are
/// `(variable, reason)`.
pub fn apply(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<EnvKeys, (String, String)> {
    let prefix = format!("{ENV_PREFIX}__");
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .collect();
    // A fixed order, so two variables for one key always end the same way.
    vars.sort();
    let mut keys = EnvKeys::default();
    for (var, value) in vars {
        let rest = var.get(prefix.len()..).unwrap_or_default();
        let parts: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
        let mut created = Vec::new();
        let key =
            set(table, &parts, &value, &mut created).map_err(|e| (var.clone(), e.to_string()))?;
        for t in created {
            keys.created.entry(t).or_insert_with(|| var.clone());
        }
        keys.set.insert(key, var);
    }
    Ok(keys)
}

/// Why an environment variable cannot be applied to the config.
#[derive(Debug, thiserror::Error)]
enum EnvError {
    #[error("an empty key part (a doubled or trailing `__`)")]
    EmptyPart,
    #[error("inline recipes ([recipes.NAME]) are read from the file only, not the environment")]
    InlineRecipe,
    #[error("no key after the prefix")]
    NoKey,
    #[error("{0} is a value, not a table")]
    NotATable(String),
    #[error("matches {0} (an environment variable cannot tell them apart); rename one")]
    Ambiguous(String),
    #[error("{0:?} is not a TOML array of strings{1}")]
    NotAList(String, String),
}

/// Sets `parts` (lowercase) to `value` in `table`; returns the dotted key as the file
/// spells it, and adds to `created` the tables it had to make.
fn set(
    table: &mut toml::Table,
    parts: &[String],
    value: &str,
    created: &mut Vec<String>,
) -> Result<String, EnvError> {
    if parts.iter().any(String::is_empty) {
        return Err(EnvError::EmptyPart);
    }
    if parts.first().is_some_and(|p| p == "recipes") {
        return Err(EnvError::InlineRecipe);
    }
    let mut spelled: Vec<String> = Vec::with_capacity(parts.len());
    let mut here = table;
    let Some((last, tables)) = parts.split_last() else {
        return Err(EnvError::NoKey);
    };
    for part in tables {
        let name = existing_key(here, part, &spelled)?;
        spelled.push(name.clone());
        if !here.contains_key(&name) {
            created.push(spelled.join("."));
        }
        let next = here
            .entry(name)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        here = match next {
            toml::Value::Table(t) => t,
            _ => return Err(EnvError::NotATable(spelled.join("."))),
        };
    }
    let name = existing_key(here, last, &spelled)?;
    spelled.push(name.clone());
    let dotted = spelled.join(".");
    let is_list = matches!(here.get(&name), Some(toml::Value::Array(_))) || is_list_key(&dotted);
    let value = if is_list {
        toml::Value::Array(list(value)?)
    } else {
        toml::Value::String(value.to_string())
    };
    here.insert(name, value);
    Ok(dotted)
}

/// The key of `table` that `part` (lowercase) names: the one equal to it without regard to
/// case, or `part` itself for a new key.
fn existing_key(table: &toml::Table, part: &str, above: &[String]) -> Result<String, EnvError> {
    let matching: Vec<&String> = table.keys().filter(|k| k.to_lowercase() == part).collect();
    match matching.as_slice() {
        [] => Ok(part.to_string()),
        [one] => Ok((*one).clone()),
        several => {
            let at = |k: &&String| {
                let mut path = above.to_vec();
                path.push((*k).clone());
                path.join(".")
            };
            let names: Vec<String> = several.iter().map(at).collect();
            Err(EnvError::Ambiguous(names.join(" and ")))
        }
    }
}

fn is_list_key(dotted: &str) -> bool {
    let parts: Vec<&str> = dotted.split('.').collect();
    LIST_KEYS.iter().any(|pattern| {
        let want: Vec<&str> = pattern.split('.').collect();
        want.len() == parts.len() && want.iter().zip(&parts).all(|(w, p)| *w == "*" || w == p)
    })
}

/// A list value: a TOML array of strings, or comma-separated items.
fn list(value: &str) -> Result<Vec<toml::Value>, EnvError> {
    let trimmed = value.trim();
    if trimmed.starts_with('[') {
        let parsed: toml::Table = toml::from_str(&format!("v = {trimmed}"))
            .map_err(|e| EnvError::NotAList(trimmed.to_string(), format!(" ({})", e.message())))?;
        return match parsed.get("v") {
            Some(toml::Value::Array(items)) if items.iter().all(toml::Value::is_str) => {
                Ok(items.clone())
            }
            _ => Err(EnvError::NotAList(trimmed.to_string(), String::new())),
        };
    }
    Ok(trimmed
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| toml::Value::String(s.to_string()))
        .collect())
}

/// The variable behind a deserialization error, as an error naming it, when a variable
/// caused it: a value of the wrong type, a key that exists only because a variable named
/// it (`unknown field`), a key missing from a table only a variable made.
pub fn cause(e: &config::ConfigError, keys: &EnvKeys) -> Option<ConfigError> {
    let env = |var: &str, reason: String| ConfigError::Env {
        var: var.to_string(),
        reason,
    };
    let (key, reason) = match e {
        config::ConfigError::Type {
            unexpected,
            expected,
            key: Some(key),
            ..
        } => (
            key.clone(),
            format!("invalid type: {unexpected}, expected {expected}"),
        ),
        config::ConfigError::At { error, key, .. } => {
            (key.clone().unwrap_or_default(), error.to_string())
        }
        config::ConfigError::NotFound(missing) => {
            let (table, _) = missing.rsplit_once('.')?;
            let var = keys.created(table)?;
            return Some(env(
                var,
                format!(
                    "{missing} is missing: this variable made {table}, which the file does \
                     not have (check the name, or set its other keys too)"
                ),
            ));
        }
        other => (String::new(), other.to_string()),
    };
    if let Some(field) = reason
        .strip_prefix("unknown field `")
        .and_then(|r| r.split('`').next())
    {
        let full = match key.as_str() {
            "" => field.to_string(),
            k => format!("{k}.{field}"),
        };
        if let Some(var) = keys.set_at_or_under(&full) {
            return Some(env(var, reason));
        }
    }
    if key.is_empty() {
        return None;
    }
    variable_for(keys, &key).map(|var| env(var, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(file: &str, vars: &[(&str, &str)]) -> Result<(toml::Table, EnvKeys), (String, String)> {
        let mut table: toml::Table = toml::from_str(file).unwrap();
        let env = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let keys = apply(&mut table, env)?;
        Ok((table, keys))
    }

    #[test]
    fn values_stay_text_and_lists_split() {
        let (t, keys) = run(
            "[sources.a]\nlabels = { zone = 'x' }\n",
            &[
                ("METRICS_ADAPTER__SOURCES__A__LABELS__ZONE", "01"),
                ("METRICS_ADAPTER__PARSERS__DIRS", "/a, /b,"),
                ("METRICS_ADAPTER__SOURCES__A__INCLUDE", r#"["x{1,3}", "y"]"#),
                ("OTHER", "1"),
            ],
        )
        .unwrap();
        assert_eq!(
            toml::to_string(&t).unwrap(),
            "[parsers]\ndirs = [\"/a\", \"/b\"]\n\n[sources.a]\ninclude = [\"x{1,3}\", \"y\"]\n\n[sources.a.labels]\nzone = \"01\"\n"
        );
        assert_eq!(
            variable_for(&keys, "sources.a.labels"),
            Some("METRICS_ADAPTER__SOURCES__A__LABELS__ZONE")
        );
        assert_eq!(variable_for(&keys, "sources.a.timeout"), None);
        assert_eq!(
            keys.created("parsers"),
            Some("METRICS_ADAPTER__PARSERS__DIRS")
        );
        assert_eq!(keys.created("sources.a"), None);
        assert_eq!(
            keys.set_at_or_under("parsers"),
            Some("METRICS_ADAPTER__PARSERS__DIRS")
        );
        assert_eq!(variable_for(&keys, "sources.a"), None);
        assert_eq!(
            variable_for(&keys, "sources.a.include"),
            Some("METRICS_ADAPTER__SOURCES__A__INCLUDE")
        );
    }

    #[test]
    fn names_with_capitals_are_matched_without_regard_to_case() {
        let (t, keys) = run(
            "[sources.MyRedis]\naddress = 'a'\n",
            &[("METRICS_ADAPTER__SOURCES__MYREDIS__ADDRESS", "b")],
        )
        .unwrap();
        assert_eq!(t["sources"]["MyRedis"]["address"].as_str(), Some("b"));
        assert!(keys.set.contains_key("sources.MyRedis.address"));
        let e = run(
            "[sources.Redis]\n[sources.redis]\n",
            &[("METRICS_ADAPTER__SOURCES__REDIS__ADDRESS", "b")],
        )
        .unwrap_err();
        assert_eq!(
            e,
            (
                "METRICS_ADAPTER__SOURCES__REDIS__ADDRESS".to_string(),
                "matches sources.Redis and sources.redis (an environment variable cannot tell them apart); rename one".to_string()
            )
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let err = |var: &str, value: &str, file: &str| run(file, &[(var, value)]).unwrap_err().1;
        assert_eq!(
            err(
                "METRICS_ADAPTER__SERVER__LISTEN__X",
                "1",
                "[server]\nlisten = 'a'\n"
            ),
            "server.listen is a value, not a table"
        );
        assert_eq!(
            err("METRICS_ADAPTER__SERVER____LISTEN", "1", ""),
            "an empty key part (a doubled or trailing `__`)"
        );
        assert_eq!(
            err("METRICS_ADAPTER__RECIPES__X__FORMAT", "kv", ""),
            "inline recipes ([recipes.NAME]) are read from the file only, not the environment"
        );
        assert_eq!(
            err("METRICS_ADAPTER__PARSERS__DIRS", "[1, 2]", ""),
            "\"[1, 2]\" is not a TOML array of strings"
        );
    }
}
