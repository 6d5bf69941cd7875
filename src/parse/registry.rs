//! The parser registry: every parser a config can name, by name.
//!
//! Registration is explicit: the embedded recipe files are listed below (`include_str!`, so
//! they ship inside the binary), the bare formats are added with default options, and user
//! recipe directories are read at start-up. A new recipe is one file plus one line here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Parser, Recipe};

/// `recipe!("name")`: the file `parsers/name.toml`, embedded at build time.
macro_rules! recipe {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../parsers/", $name, ".toml")),
        )
    };
}

/// Recipes shipped in the binary: (name, TOML text). A new recipe is one line here.
pub const EMBEDDED: &[(&str, &str)] = &[
    recipe!("apache_status"),
    recipe!("haproxy_csv"),
    recipe!("meminfo"),
    recipe!("meminfo_appended"),
    recipe!("memcached_stats"),
    recipe!("nginx_stub_status"),
    recipe!("php_fpm"),
    recipe!("redis_info"),
    recipe!("vmstat"),
];

/// Bare formats usable as parsers: (format, description, options table). Options are the
/// defaults except where a bare format needs more to give every value its own series: a
/// recipe names its CSV's label columns, bare `csv` cannot, so it finds them (see
/// [`super::format::csv`]).
const GENERIC: &[(&str, &str, &str)] = &[
    (
        "kv",
        "generic key: value lines, every numeric value as a gauge",
        "",
    ),
    (
        "json",
        "generic JSON document, every numeric leaf as a gauge named by its path",
        "",
    ),
    (
        "csv",
        "generic CSV with a header row: numeric cells as gauges, rows labelled by their text columns (else `row`)",
        "[csv]\nauto_labels = true\n",
    ),
    (
        "prometheus",
        "an app that already speaks the Prometheus text format, passed through",
        "",
    ),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Embedded,
    Generic,
    User(PathBuf),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Embedded => f.write_str("built-in recipe"),
            Origin::Generic => f.write_str("generic format"),
            Origin::User(p) => write!(f, "recipe file {}", p.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub parser: Arc<dyn Parser>,
    pub origin: Origin,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{origin}: {message}")]
    Recipe { origin: String, message: String },
    #[error("recipe directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Default)]
pub struct Registry {
    entries: BTreeMap<String, Entry>,
}

impl Registry {
    /// The generic formats and the embedded recipes.
    pub fn builtin() -> Result<Registry, RegistryError> {
        let mut reg = Registry::default();
        for (format, description, options) in GENERIC {
            let recipe = Recipe::generic(format, description, options).map_err(|message| {
                RegistryError::Recipe {
                    origin: format!("generic format {format}"),
                    message,
                }
            })?;
            reg.insert(Arc::new(recipe), Origin::Generic);
        }
        for (name, text) in EMBEDDED {
            let recipe =
                Recipe::from_toml(name, text).map_err(|message| RegistryError::Recipe {
                    origin: format!("built-in recipe parsers/{name}.toml"),
                    message,
                })?;
            reg.insert(Arc::new(recipe), Origin::Embedded);
        }
        Ok(reg)
    }

    /// Adds every `*.toml` in `dir` as a recipe named after the file; a user recipe replaces
    /// a built-in one of the same name.
    pub fn load_dir(&mut self, dir: &Path) -> Result<usize, RegistryError> {
        let io = |source| RegistryError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for path in &paths {
            self.load_file(path)?;
        }
        Ok(paths.len())
    }

    pub fn load_file(&mut self, path: &Path) -> Result<(), RegistryError> {
        let origin = || format!("recipe file {}", path.display());
        let text = crate::small_file::read_to_string(path, crate::small_file::CONFIG_LIMIT)
            .map_err(|e| RegistryError::Recipe {
                origin: origin(),
                message: e.to_string(),
            })?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let recipe = Recipe::from_toml(name, &text).map_err(|message| RegistryError::Recipe {
            origin: origin(),
            message,
        })?;
        self.insert(Arc::new(recipe), Origin::User(path.to_path_buf()));
        Ok(())
    }

    pub fn insert(&mut self, parser: Arc<dyn Parser>, origin: Origin) {
        self.entries
            .insert(parser.name().to_string(), Entry { parser, origin });
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }

    /// `; did you mean "x"?` for a name that is not here but close to one that is, or
    /// nothing.
    pub fn did_you_mean(&self, name: &str) -> String {
        crate::text::did_you_mean(name, self.names())
    }

    /// The recipe text behind a parser, for `parsers show`: a built-in recipe's embedded
    /// file, a user recipe's file as it is now, and for a generic format the minimal recipe
    /// it stands for. `None` for a name that is not here.
    pub fn recipe_text(&self, name: &str) -> Option<Result<String, RegistryError>> {
        let entry = self.get(name)?;
        Some(match &entry.origin {
            Origin::Embedded => Ok(EMBEDDED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, text)| text.to_string())
                .unwrap_or_default()),
            Origin::Generic => Ok(GENERIC
                .iter()
                .find(|(n, _, _)| *n == name)
                .map(|(format, description, options)| {
                    Recipe::generic_toml(format, description, options)
                })
                .unwrap_or_default()),
            Origin::User(path) => {
                crate::small_file::read_to_string(path, crate::small_file::CONFIG_LIMIT).map_err(
                    |e| RegistryError::Recipe {
                        origin: format!("recipe file {}", path.display()),
                        message: e.to_string(),
                    },
                )
            }
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `parsers show` prints loads as the parser it shows, for every built-in one.
    #[test]
    fn recipe_text_is_the_parser_as_written() {
        let reg = Registry::builtin().unwrap();
        for name in reg.names() {
            let text = reg.recipe_text(name).unwrap().unwrap();
            let again = Recipe::from_toml(name, &text).unwrap();
            assert_eq!(
                again.description,
                reg.get(name).unwrap().parser.description(),
                "{name}"
            );
        }
        assert_eq!(
            reg.recipe_text("csv").unwrap().unwrap(),
            "description = \"generic CSV with a header row: numeric cells as gauges, rows labelled by their text columns (else `row`)\"\nformat = \"csv\"\n[csv]\nauto_labels = true\n[mapping]\nunmatched_help = \"{key}, read by the generic csv parser\"\n"
        );
        assert_eq!(
            reg.recipe_text("meminfo").unwrap().unwrap(),
            include_str!("../../parsers/meminfo.toml")
        );
        assert!(reg.recipe_text("nope").is_none());
        assert_eq!(
            reg.did_you_mean("nginx"),
            "; did you mean \"nginx_stub_status\"?"
        );
        assert_eq!(reg.did_you_mean("zzz"), "");
    }
}
