//! Configuration: the embedded default or a TOML file, then `METRICS_ADAPTER__*` environment
//! overrides, then command-line flags; checked into typed settings before anything runs.
//!
//! The serde structs are flat on purpose (the `config` crate's environment layer cannot
//! reach into tagged enums); [`Settings::from_raw`] turns them into typed values and names
//! the file, key and reason for anything wrong. Unknown keys are errors.
//!
//! A source table is split here: the keys every source takes (the scrape's: parser,
//! timeout, limits, labels, filters) become the [`SourceSpec`]; the rest go to the source
//! kind named by `type`, whose own struct reads them (see [`crate::source::KINDS`]). So
//! this module knows no kind's keys, and no source module knows this one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::source::{KeyError, Source};

mod env;
mod error;
mod size;

pub use error::{ConfigError, Origin};

pub use crate::source::parse_duration;
pub use env::LIST_KEYS;
pub use size::{parse_size, RawSize};

/// The config used when no file is given.
pub const DEFAULT_CONFIG: &str = include_str!("default-config.toml");
/// Environment variables with this prefix override keys: `METRICS_ADAPTER__SERVER__LISTEN`.
pub const ENV_PREFIX: &str = "METRICS_ADAPTER";
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9898";

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub parsers: RawParsers,
    #[serde(default)]
    pub sources: BTreeMap<String, RawSource>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawServer {
    pub listen: String,
    pub metrics_path: String,
    pub header_read_timeout: String,
    /// A client that reads nothing of an answer for this long is disconnected.
    pub write_timeout: String,
    pub max_connections: usize,
    /// Connections one client address may hold at once.
    pub max_connections_per_client: usize,
    pub shutdown_timeout: String,
    /// TLS and basic auth for the endpoints: a web config file in the Prometheus
    /// exporter-toolkit format (see [`crate::web`]). Empty: plain HTTP, no auth.
    pub web_config_file: String,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: DEFAULT_LISTEN.into(),
            metrics_path: "/metrics".into(),
            header_read_timeout: "10s".into(),
            write_timeout: "10s".into(),
            max_connections: 256,
            max_connections_per_client: 16,
            shutdown_timeout: "10s".into(),
            web_config_file: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLog {
    pub level: String,
    pub format: String,
}

impl Default for RawLog {
    fn default() -> Self {
        RawLog {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct RawParsers {
    /// Directories of user recipe files (`*.toml`).
    pub dirs: Vec<String>,
}

/// One `[sources.NAME]` table: the keys every source takes, typed here so the `config`
/// crate converts them (and names them in errors) as it does every other key, and the
/// rest, read by the source's kind. A map of tables rather than a tagged enum, so
/// `METRICS_ADAPTER__SOURCES__NAME__KEY` overrides one key of one source.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct RawSource {
    #[serde(rename = "type")]
    pub kind: String,
    pub parser: String,
    pub timeout: Option<String>,
    pub interval: Option<String>,
    /// Bytes, or a number and a unit (`"64KiB"`): see [`parse_size`].
    pub max_bytes: Option<RawSize>,
    pub max_series: Option<usize>,
    /// A duration, or `off`: see [`MaxAge`].
    pub max_age: Option<String>,
    /// A duration: a tail source's series not updated for that long are removed.
    pub expire_after: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// `[[sources.NAME.relabel]]`: Prometheus' `metric_relabel_configs` (see
    /// [`crate::parse::relabel`]).
    #[serde(default)]
    pub relabel: Vec<crate::parse::relabel::RawRule>,
    /// The kind's own keys, unread until `type` is known.
    #[serde(flatten)]
    pub keys: crate::source::Keys,
}

/// The keys of [`RawSource`] every source takes, as written, for the hint on an unknown
/// key. (A flattened struct does not list its fields to serde; a test keeps this in step.)
const COMMON_KEYS: &[&str] = &[
    "type",
    "parser",
    "timeout",
    "interval",
    "max_bytes",
    "max_series",
    "max_age",
    "expire_after",
    "labels",
    "include",
    "exclude",
    "relabel",
];

/// A recipe written in the config file, `[recipes.NAME]`: its table as TOML text, loaded
/// as a recipe file would be (see [`crate::recipe::Registry::load_inline`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineRecipe {
    pub name: String,
    pub text: String,
}

/// Command-line values that override the file and environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen` / `--web.listen-address`; wins over `server.listen`.
    pub listen: Option<String>,
    /// `--web.telemetry-path`; wins over `server.metrics_path`.
    pub metrics_path: Option<String>,
    pub log_level: Option<String>,
    pub log_format: Option<String>,
    /// `--web.config.file`; wins over `server.web_config_file`.
    pub web_config_file: Option<String>,
    /// `--web.enable-lifecycle`: accept `POST /-/reload`.
    pub enable_lifecycle: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: std::net::SocketAddr,
    pub metrics_path: String,
    pub header_read_timeout: Duration,
    pub write_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    pub shutdown_timeout: Duration,
    /// The web config file (TLS, basic auth), if any; read at startup by [`crate::web`].
    pub web_config_file: Option<PathBuf>,
    /// Whether `POST /-/reload` is served (`--web.enable-lifecycle`).
    pub enable_lifecycle: bool,
}

/// How old a source's data may be before its writer is taken for stopped (`max_age`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxAge {
    /// Not set: a dated append log is stale past a few write periods (see
    /// [`crate::framing`]); anything else is never stale.
    Auto,
    /// `off`: never stale.
    Off,
    /// Stale when the newest block (by its date), else the file's mtime or the HTTP
    /// answer's `Last-Modified`, is older than this.
    After(Duration),
}

/// When a source is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// On every scrape (the default): never stale.
    OnScrape,
    /// In the background every interval; scrapes serve the last result and its age.
    Every(Duration),
}

#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub name: String,
    /// The source's table as loaded: a reload that leaves it alone keeps its counters.
    pub definition: String,
    pub source: Source,
    pub parser: String,
    pub timeout: Duration,
    pub refresh: Refresh,
    pub max_bytes: u64,
    /// More series than this in one read make the source down.
    pub max_series: usize,
    pub max_age: MaxAge,
    pub labels: Vec<(String, String)>,
    pub include: Vec<regex::Regex>,
    pub exclude: Vec<regex::Regex>,
    /// The relabeling rules, when there are any.
    pub relabel: Option<std::sync::Arc<crate::parse::relabel::Relabel>>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub origin: Origin,
    pub server: ServerSettings,
    pub log_level: String,
    pub log_format: LogFormat,
    pub parser_dirs: Vec<PathBuf>,
    /// `[recipes.NAME]` tables, in name order.
    pub recipes: Vec<InlineRecipe>,
    pub sources: Vec<SourceSpec>,
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The shortest `interval` a source may have.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
pub const DEFAULT_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Generous for a 2,000-server HAProxy page (about 82,000 series), small enough that a
/// runaway source cannot take the pod's memory.
pub const DEFAULT_MAX_SERIES: usize = 250_000;

impl Settings {
    /// Loads the file (or the embedded default when `path` is `None`), applies environment
    /// overrides from `env` (name, value) pairs and the flags, and checks everything.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Settings, ConfigError> {
        let (origin, source) = match path {
            Some(p) => (
                Origin::File(p.to_path_buf()),
                crate::small_file::read_to_string(p, crate::small_file::CONFIG_LIMIT).map_err(
                    |e| ConfigError::Load {
                        origin: Origin::File(p.to_path_buf()),
                        message: format!("cannot read: {e}"),
                    },
                )?,
            ),
            None => (Origin::Embedded, DEFAULT_CONFIG.to_string()),
        };
        Self::from_text(origin, &source, env, overrides)
    }

    /// Like [`Settings::load`], from config text already read (`origin` names it in errors).
    pub fn from_text(
        origin: Origin,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Settings, ConfigError> {
        let (raw, recipes, env_keys) = Self::layer(&origin, text, env)?;
        let mut settings = Self::from_raw(origin, raw, overrides).map_err(|e| match e {
            ConfigError::Invalid { key, reason, .. }
                if env::variable_for(&env_keys, &key).is_some() =>
            {
                let var = env::variable_for(&env_keys, &key).unwrap_or_default();
                ConfigError::Env {
                    var: var.to_string(),
                    reason,
                }
            }
            e => e,
        })?;
        settings.recipes = recipes;
        Ok(settings)
    }

    /// The file's table, `[recipes.*]` taken out, with the environment applied over it
    /// (see [`env`]), read into the raw structs.
    fn layer(
        origin: &Origin,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(RawConfig, Vec<InlineRecipe>, env::EnvKeys), ConfigError> {
        let load = |message: String| ConfigError::Load {
            origin: origin.clone(),
            message: crate::text::without_quoted_lines(&message),
        };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| load(e.to_string()))?;
        let recipes = match table.remove("recipes") {
            None => Vec::new(),
            Some(toml::Value::Table(recipes)) => recipes
                .into_iter()
                .map(|(name, value)| match value {
                    toml::Value::Table(t) => Ok(InlineRecipe {
                        text: toml::to_string(&t).map_err(|e| load(e.to_string()))?,
                        name,
                    }),
                    _ => Err(ConfigError::Invalid {
                        origin: origin.clone(),
                        key: format!("recipes.{name}"),
                        reason: "a recipe is a table: [recipes.NAME] with format, mapping..."
                            .into(),
                    }),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    origin: origin.clone(),
                    key: "recipes".into(),
                    reason: "a table of recipes: [recipes.NAME]".into(),
                })
            }
        };
        let env_keys = env::apply(&mut table, env)
            .map_err(|(var, reason)| ConfigError::Env { var, reason })?;
        let merged = toml::to_string(&table).map_err(|e| load(e.to_string()))?;
        let built = config::Config::builder()
            .add_source(config::File::from_str(&merged, config::FileFormat::Toml))
            .build()
            .map_err(|e| load(e.to_string()))?;
        let raw = built
            .try_deserialize()
            .map_err(|e| env::cause(&e, &env_keys).unwrap_or_else(|| load(e.to_string())))?;
        Ok((raw, recipes, env_keys))
    }

    pub fn from_raw(
        origin: Origin,
        raw: RawConfig,
        overrides: &Overrides,
    ) -> Result<Settings, ConfigError> {
        let bad = |key: &str, reason: String| ConfigError::Invalid {
            origin: origin.clone(),
            key: key.to_string(),
            reason,
        };
        let listen_text = overrides.listen.clone().unwrap_or(raw.server.listen);
        let listen = parse_listen(&listen_text).map_err(|e| {
            bad(
                "server.listen",
                format!("{listen_text:?} is not an address:port ({e})"),
            )
        })?;
        let metrics_path = overrides
            .metrics_path
            .clone()
            .unwrap_or(raw.server.metrics_path);
        if !metrics_path.starts_with('/') {
            return Err(bad(
                "server.metrics_path",
                format!("{metrics_path:?} must start with /"),
            ));
        }
        if raw.server.max_connections == 0 {
            return Err(bad("server.max_connections", "must be at least 1".into()));
        }
        if raw.server.max_connections_per_client == 0 {
            return Err(bad(
                "server.max_connections_per_client",
                "must be at least 1".into(),
            ));
        }
        let server = ServerSettings {
            listen,
            metrics_path,
            header_read_timeout: parse_duration(&raw.server.header_read_timeout)
                .map_err(|r| bad("server.header_read_timeout", r))?,
            write_timeout: parse_duration(&raw.server.write_timeout)
                .map_err(|r| bad("server.write_timeout", r))?,
            max_connections: raw.server.max_connections,
            max_connections_per_client: raw.server.max_connections_per_client,
            shutdown_timeout: parse_duration(&raw.server.shutdown_timeout)
                .map_err(|r| bad("server.shutdown_timeout", r))?,
            web_config_file: Some(
                overrides
                    .web_config_file
                    .clone()
                    .unwrap_or(raw.server.web_config_file),
            )
            .filter(|p| !p.trim().is_empty())
            .map(PathBuf::from),
            enable_lifecycle: overrides.enable_lifecycle,
        };
        let log_level = overrides.log_level.clone().unwrap_or(raw.log.level);
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            return Err(bad(
                "log.level",
                format!("{log_level:?} is not a level or filter (error, warn, info, debug, trace)"),
            ));
        }
        let log_format = match overrides.log_format.as_deref().unwrap_or(&raw.log.format) {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(bad(
                    "log.format",
                    format!("expected \"text\" or \"json\", not {other:?}"),
                ))
            }
        };
        let mut sources = Vec::with_capacity(raw.sources.len());
        for (name, mut rs) in raw.sources {
            let key = |k: &str| format!("sources.{name}.{k}");
            if !crate::family::is_valid_label_name(&name) {
                return Err(bad(
                    &format!("sources.{name}"),
                    "a source name must be a valid label value of letters, digits and _".into(),
                ));
            }
            if rs.parser.is_empty() {
                return Err(bad(
                    &key("parser"),
                    "missing: name a parser (see `metrics-adapter parsers`)".into(),
                ));
            }
            let (mut source, keys_read) = Source::from_keys(&rs.kind, std::mem::take(&mut rs.keys))
                .map_err(|e| {
                    let k = match e.key() {
                        "" => format!("sources.{name}"),
                        k => key(k),
                    };
                    let reason = match e {
                        KeyError::Unknown { reason, .. } => format!(
                            "{reason} (or one every source takes: {})",
                            COMMON_KEYS.join(", ")
                        ),
                        e => e.to_string(),
                    };
                    bad(&k, reason)
                })?;
            if let Source::Tail(tail) = &source {
                let config = match &origin {
                    Origin::File(p) => Some(p.as_path()),
                    Origin::Embedded => None,
                };
                tail.check_state_file(config)
                    .map_err(|e| bad(&key(e.key()), e.to_string()))?;
            }
            let timeout = match &rs.timeout {
                Some(t) => parse_duration(t).map_err(|r| bad(&key("timeout"), r))?,
                None => DEFAULT_TIMEOUT,
            };
            let refresh = match &rs.interval {
                Some(t) => {
                    let every = parse_duration(t).map_err(|r| bad(&key("interval"), r))?;
                    if every < MIN_INTERVAL {
                        return Err(bad(
                            &key("interval"),
                            format!(
                                "{t:?} is shorter than {MIN_INTERVAL:?}: reading (an exec \
                                 source forking) that often would be load, not freshness"
                            ),
                        ));
                    }
                    Refresh::Every(every)
                }
                None => source
                    .default_interval()
                    .map_or(Refresh::OnScrape, Refresh::Every),
            };
            let max_age = match rs.max_age.as_deref().map(str::trim) {
                None => MaxAge::Auto,
                Some("off") => MaxAge::Off,
                Some(t) => MaxAge::After(
                    parse_duration(t)
                        .map_err(|r| bad(&key("max_age"), format!("{r}, or \"off\"")))?,
                ),
            };
            match (&source, max_age) {
                (Source::Tail(_), MaxAge::After(_) | MaxAge::Off) => {
                    return Err(bad(
                        &key("max_age"),
                        "does not apply to a source of type tail (a followed log is counted \
                         line by line; a quiet log is not a stale one)"
                            .into(),
                    ))
                }
                (Source::File(f), MaxAge::After(_)) if f.is_kernel_file() => {
                    return Err(bad(
                        &key("max_age"),
                        format!(
                            "{} is a kernel file (procfs, sysfs): its text is made at each \
                             read and its mtime is not when its numbers changed, so there is \
                             no writer to be stale; remove max_age",
                            f.path.display()
                        ),
                    ))
                }
                _ => {}
            }
            if let Some(t) = rs.expire_after.as_deref() {
                (parse_duration(t.trim()).and_then(|d| source.expire_after(d)))
                    .map_err(|r| bad(&key("expire_after"), r))?;
            }
            let regexes = |list: &[String], k: &str| -> Result<Vec<regex::Regex>, ConfigError> {
                list.iter()
                    .map(|p| {
                        regex::Regex::new(&format!("^(?:{p})$"))
                            .map_err(|e| bad(&key(k), e.to_string()))
                    })
                    .collect()
            };
            for label in rs.labels.keys() {
                if !crate::family::is_valid_label_name(label) {
                    return Err(bad(
                        &key("labels"),
                        format!("{label:?} is not a valid label name"),
                    ));
                }
            }
            let relabel = crate::parse::relabel::Relabel::new(&rs.relabel)
                .map_err(|e| bad(&key(&format!("relabel[{}].{}", e.index, e.key)), e.reason))?;
            // The common keys (`rs`, its kind's keys taken out) and the kind's keys as read.
            let definition = format!("{name}: {rs:?} {keys_read}");
            sources.push(SourceSpec {
                definition,
                include: regexes(&rs.include, "include")?,
                exclude: regexes(&rs.exclude, "exclude")?,
                relabel: (!relabel.is_empty()).then(|| std::sync::Arc::new(relabel)),
                labels: rs.labels.into_iter().collect(),
                max_bytes: match &rs.max_bytes {
                    Some(RawSize(text)) => {
                        parse_size(text).map_err(|r| bad(&key("max_bytes"), r))?
                    }
                    None => DEFAULT_MAX_BYTES,
                },
                max_series: rs.max_series.unwrap_or(DEFAULT_MAX_SERIES),
                max_age,
                name,
                source,
                parser: rs.parser,
                timeout,
                refresh,
            });
        }
        Ok(Settings {
            origin,
            server,
            log_level,
            log_format,
            parser_dirs: raw.parsers.dirs.into_iter().map(PathBuf::from).collect(),
            recipes: Vec::new(),
            sources,
        })
    }
}

/// A listen address: `host:port`, or `:port` for every IPv4 interface. The Go exporters
/// take `--web.listen-address=:9100`, so a command line copied from one works here; the
/// host is the default's (`0.0.0.0`), not Go's dual-stack any-address.
pub fn parse_listen(text: &str) -> Result<std::net::SocketAddr, std::net::AddrParseError> {
    match text.strip_prefix(':') {
        Some(port) if !port.starts_with(':') => format!("0.0.0.0:{port}").parse(),
        _ => text.parse(),
    }
}

#[cfg(test)]
mod tests;
