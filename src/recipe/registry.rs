//! The parser registry: every parser a config can name, by name.
//!
//! Registration is explicit: the embedded recipe files are listed below (`include_str!`, so
//! they ship inside the binary), the bare formats are added with default options, and user
//! recipe directories are read at start-up. A new recipe is one file plus one line here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cases::Case;
use super::compile::{Parser, Recipe, RecipeFile};

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
    recipe!("apache_access"),
    recipe!("apache_status"),
    recipe!("haproxy_csv"),
    recipe!("lighttpd_access"),
    recipe!("meminfo"),
    recipe!("meminfo_appended"),
    recipe!("memcached_stats"),
    recipe!("mysql_slow_log"),
    recipe!("nginx_access"),
    recipe!("nginx_stub_status"),
    recipe!("php_fpm"),
    recipe!("redis_info"),
    recipe!("rsyncd_log"),
    recipe!("sftp_log"),
    recipe!("vmstat"),
    recipe!("vsftpd_log"),
    recipe!("vsftpd_xferlog"),
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
    /// `[recipes.NAME]` in the config file `config`; `text` is the table as TOML.
    Inline {
        config: String,
        text: String,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Embedded => f.write_str("built-in recipe"),
            Origin::Generic => f.write_str("generic format"),
            Origin::User(p) => write!(f, "recipe file {}", p.display()),
            Origin::Inline { config, .. } => write!(f, "inline recipe in {config}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub parser: Arc<dyn Parser>,
    pub origin: Origin,
    /// The recipe's `[[test]]` cases, kept here rather than in the parser, so a serving
    /// process, which drops the registry once its sources hold their parsers, does not
    /// keep the samples.
    pub cases: Arc<[Case]>,
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
    /// Files of recipe directories that were not recipes (see [`Registry::load_dir`]).
    skipped: Vec<String>,
}

/// What [`Registry::load_dir`] did with one directory.
#[derive(Debug, Default)]
pub struct DirLoad {
    pub loaded: usize,
    /// Files that are not recipes, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

fn read_recipe(path: &Path) -> Result<String, RegistryError> {
    crate::small_file::read_to_string(path, crate::small_file::CONFIG_LIMIT).map_err(|e| {
        RegistryError::Recipe {
            origin: format!("recipe file {}", path.display()),
            message: e.to_string(),
        }
    })
}

/// Whether a `.toml` file's text is meant as a recipe: its top level has a key only a
/// recipe has. A config file (`[server]`, `[sources.*]`) has none; a recipe that lacks
/// `format` by mistake still has `description` or `mapping`, so it is loaded and its
/// error shown rather than skipped. Text that is not TOML at all is taken as a broken
/// recipe, so its error is shown too.
fn looks_like_recipe(text: &str) -> bool {
    match toml::from_str::<toml::Table>(text) {
        Ok(table) => {
            let keys = crate::keys::keys_of::<RecipeFile>();
            table.keys().any(|k| keys.contains(&k.as_str()))
        }
        Err(_) => true,
    }
}

impl Registry {
    /// The generic formats and the embedded recipes.
    pub fn builtin() -> Result<Registry, RegistryError> {
        Registry::builtin_only(|_| true)
    }

    /// The generic formats and the embedded recipes `wanted` names. A serving process
    /// compiles only those its sources use: compiling all of them (their patterns) is most
    /// of its start-up time and memory, freed at once but held a while by the allocator.
    pub fn builtin_only(wanted: impl Fn(&str) -> bool) -> Result<Registry, RegistryError> {
        let mut reg = Registry::default();
        for (format, description, options) in GENERIC {
            let recipe = Recipe::generic(format, description, options).map_err(|message| {
                RegistryError::Recipe {
                    origin: format!("generic format {format}"),
                    message: message.to_string(),
                }
            })?;
            reg.insert_recipe(recipe, Origin::Generic);
        }
        for (name, text) in EMBEDDED.iter().filter(|(name, _)| wanted(name)) {
            let recipe =
                Recipe::from_toml(name, text).map_err(|message| RegistryError::Recipe {
                    origin: format!("built-in recipe parsers/{name}.toml"),
                    message: message.to_string(),
                })?;
            reg.insert_recipe(recipe, Origin::Embedded);
        }
        Ok(reg)
    }

    /// Adds every recipe file in `dir` as a recipe named after the file (a user recipe
    /// replaces a built-in one of the same name), and says what it skipped.
    ///
    /// A directory mounted from a ConfigMap may hold the config file and other files
    /// beside the recipes, so only recipe files are read: a `*.toml` whose top level has
    /// one of a recipe's keys (`format`, `description`, `mapping`...). Any other file is
    /// skipped, and said so; a recipe file that does not load is still an error. Hidden
    /// entries (a ConfigMap's `..data`) and subdirectories are passed over silently.
    pub fn load_dir(&mut self, dir: &Path) -> Result<DirLoad, RegistryError> {
        let io = |source| RegistryError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            // Only directories are passed over: anything else named `*.toml` is read, so a
            // FIFO or a device there is refused by the reader, not skipped unseen.
            .filter(|p| !p.is_dir())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('.'))
            })
            .collect();
        paths.sort();
        let mut done = DirLoad::default();
        for path in paths {
            if !path.extension().is_some_and(|e| e == "toml") {
                done.skipped.push((path, "not a .toml file".into()));
                continue;
            }
            let text = read_recipe(&path)?;
            if !looks_like_recipe(&text) {
                done.skipped.push((
                    path,
                    "not a recipe (no top-level format, description or other recipe key)".into(),
                ));
                continue;
            }
            self.load_text(&path, &text)?;
            done.loaded += 1;
        }
        self.skipped.extend(done.skipped.iter().map(|(p, why)| {
            format!(
                "recipe directory {}: skipped {}: {why}",
                dir.display(),
                p.display()
            )
        }));
        Ok(done)
    }

    /// What [`Registry::load_dir`] skipped in every directory so far, one line each, for
    /// the log and `check`.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    pub fn load_file(&mut self, path: &Path) -> Result<(), RegistryError> {
        let text = read_recipe(path)?;
        self.load_text(path, &text)
    }

    fn load_text(&mut self, path: &Path, text: &str) -> Result<(), RegistryError> {
        let origin = || format!("recipe file {}", path.display());
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let recipe = Recipe::from_toml(name, text).map_err(|message| RegistryError::Recipe {
            origin: origin(),
            message: message.to_string(),
        })?;
        self.insert_recipe(recipe, Origin::User(path.to_path_buf()));
        Ok(())
    }

    /// Adds a parser without test cases (one written in code).
    pub fn insert(&mut self, parser: Arc<dyn Parser>, origin: Origin) {
        self.entries.insert(
            parser.name().to_string(),
            Entry {
                parser,
                origin,
                cases: Arc::new([]),
            },
        );
    }

    /// Adds a recipe written in the config file `config` as `[recipes.NAME]`. Its name
    /// must be new: an inline recipe that took a built-in or a file recipe's name would
    /// change what every other source of that name reads, unseen, so it is an error.
    /// Errors read `config: recipes.NAME: reason`.
    pub fn load_inline(
        &mut self,
        name: &str,
        text: &str,
        config: &str,
    ) -> Result<(), RegistryError> {
        let origin = format!("{config}: recipes.{name}");
        if let Some(other) = self.get(name) {
            return Err(RegistryError::Recipe {
                origin,
                message: format!(
                    "the name of a {}; an inline recipe cannot replace another, so name it differently",
                    other.origin
                ),
            });
        }
        let recipe = Recipe::from_toml(name, text).map_err(|message| RegistryError::Recipe {
            origin,
            // The TOML error's position is in the table as re-written, not in the config
            // file: left out rather than pointing at the wrong line.
            message: message
                .to_string()
                .lines()
                .filter(|l| !l.starts_with("TOML parse error at line"))
                .collect::<Vec<_>>()
                .join("\n"),
        })?;
        self.insert_recipe(
            recipe,
            Origin::Inline {
                config: config.to_string(),
                text: text.to_string(),
            },
        );
        Ok(())
    }

    /// Adds `entry` under `name` (a copy from another registry).
    pub fn insert_entry(&mut self, name: &str, entry: Entry) {
        self.entries.insert(name.to_string(), entry);
    }

    /// Adds a recipe, its `[[test]]` cases kept beside it.
    pub fn insert_recipe(&mut self, mut recipe: Recipe, origin: Origin) {
        let cases = std::mem::take(&mut recipe.tests).into();
        let parser: Arc<dyn Parser> = Arc::new(recipe);
        self.entries.insert(
            parser.name().to_string(),
            Entry {
                parser,
                origin,
                cases,
            },
        );
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.get(name)
    }

    /// `; did you mean "x"?` for a name that is not here but close to one that is, or
    /// nothing.
    pub fn did_you_mean(&self, name: &str) -> String {
        // The embedded names too: a registry may hold only the recipes a config uses.
        let embedded = EMBEDDED.iter().map(|(n, _)| *n);
        let mut names: Vec<&str> = self.names().chain(embedded).collect();
        names.sort_unstable();
        names.dedup();
        crate::text::did_you_mean(name, names)
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
            Origin::Inline { text, .. } => Ok(text.clone()),
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

    /// A serving process compiles only the built-in recipes its sources name, and a
    /// misspelt name still gets the built-in one it was meant to be.
    #[test]
    fn builtin_only_compiles_the_wanted_recipes_and_suggests_all() {
        let reg = Registry::builtin_only(|name| name == "meminfo").unwrap();
        assert!(reg.get("meminfo").is_some());
        assert!(
            reg.get("kv").is_some(),
            "the generic formats are always there"
        );
        assert!(reg.get("redis_info").is_none());
        assert_eq!(
            reg.did_you_mean("redis_inf"),
            "; did you mean \"redis_info\"?"
        );
        assert_eq!(
            Registry::builtin().unwrap().names().count(),
            EMBEDDED.len() + GENERIC.len()
        );
    }

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
            reg.did_you_mean("nginx_stub"),
            "; did you mean \"nginx_stub_status\"?"
        );
        assert_eq!(reg.did_you_mean("zzz"), "");
    }

    /// A recipe directory mounted with the config (one ConfigMap) loads its recipes and
    /// skips the rest, saying why; a recipe file with a mistake is still an error.
    #[test]
    fn a_recipe_directory_skips_what_is_not_a_recipe() {
        let dir = std::env::temp_dir().join(format!("ma-registry-dir-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("..data")).unwrap();
        let recipe = "description = 'd'\nformat = 'kv'\n[[test]]\ninput = 'a: 1'\nexpect = 'a 1'\n";
        std::fs::write(dir.join("app.toml"), recipe).unwrap();
        std::fs::write(dir.join("adapter.toml"), "[sources.a]\ntype = 'file'\n").unwrap();
        std::fs::write(dir.join("notes.md"), "# notes\n").unwrap();
        std::fs::write(dir.join(".hidden.toml"), "x = 1\n").unwrap();
        let mut reg = Registry::default();
        let done = reg.load_dir(&dir).unwrap();
        assert_eq!(done.loaded, 1);
        assert_eq!(reg.names().collect::<Vec<_>>(), ["app"]);
        assert_eq!(reg.get("app").unwrap().cases.len(), 1);
        let d = dir.display();
        assert_eq!(
            reg.skipped(),
            [
                format!("recipe directory {d}: skipped {d}/adapter.toml: not a recipe (no top-level format, description or other recipe key)"),
                format!("recipe directory {d}: skipped {d}/notes.md: not a .toml file"),
            ]
        );
        // A recipe without `format` is a recipe with a mistake, not another file.
        std::fs::write(dir.join("broken.toml"), "description = 'd'\n").unwrap();
        let e = Registry::default().load_dir(&dir).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("recipe file {d}/broken.toml: TOML parse error at line 1, column 1\nmissing field `format`")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_inline_recipe_has_a_name_of_its_own() {
        let mut reg = Registry::builtin().unwrap();
        let text = "description = 'mine'\nformat = 'kv'\n";
        reg.load_inline("mine", text, "adapter.toml").unwrap();
        let entry = reg.get("mine").unwrap();
        assert_eq!(entry.origin.to_string(), "inline recipe in adapter.toml");
        assert_eq!(reg.recipe_text("mine").unwrap().unwrap(), text);
        assert_eq!(
            reg.load_inline("meminfo", text, "adapter.toml").unwrap_err().to_string(),
            "adapter.toml: recipes.meminfo: the name of a built-in recipe; an inline recipe cannot replace another, so name it differently"
        );
        assert_eq!(
            reg.load_inline("other", "description = 'd'\nformat = 'kv'\nsurprise = 1\n", "adapter.toml")
                .unwrap_err()
                .to_string(),
            "adapter.toml: recipes.other: unknown field `surprise`, expected one of `description`, `checked_against`, `notes`, `format`, `up_metric`, `kv`, `regex`, `json`, `csv`, `prometheus`, `framing`, `log_format`, `request`, `mapping`, `test`"
        );
    }
}
