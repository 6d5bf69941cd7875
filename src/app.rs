//! The running configuration, swapped whole on a hot reload (`SIGHUP`, `POST /-/reload`,
//! or a change of the files it was read from: [`watch`]).
//!
//! A request takes a snapshot ([`App::live`]) and uses it to the end, so a reload never
//! mixes two configs in one page. A reload builds the new config completely (file, env,
//! flags, recipes, parsers) before swapping; if anything fails, the old one keeps serving
//! and `metrics_adapter_config_last_reload_successful` drops to 0, as Prometheus' own
//! `prometheus_config_last_reload_successful` does.
//!
//! The web config (TLS, basic auth) is held here too, and reloaded with the config, or alone
//! when only it or its certificates changed; a broken one likewise keeps the last good one
//! (`metrics_adapter_web_config_last_reload_successful`).

pub mod watch;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{error, info, warn};

use crate::config::{Origin, Settings};
use crate::family::{Family, MetricKind};
use crate::recipe::Registry;
use crate::scrape::{Scraper, SELF_PREFIX};
use crate::web::Web;

/// One loaded configuration with its resolved sources.
#[derive(Debug)]
pub struct Loaded {
    pub settings: Settings,
    pub scraper: Scraper,
}

/// Loads the configuration again (file, environment, flags, recipe directories).
pub type Loader = Box<dyn Fn() -> Result<(Settings, Registry), ReloadError> + Send + Sync>;

/// Why a reload failed; the configuration in force keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("reloading is not available for this configuration")]
    NotAvailable,
    /// The configuration or a recipe could not be loaded: the loader's message
    /// (`origin: key: reason`).
    #[error("{0}")]
    Load(String),
    #[error(transparent)]
    Sources(#[from] crate::scrape::ScraperError),
    #[error("the reload task failed: {0}")]
    Task(tokio::task::JoinError),
    #[error("web config reload failed: {0}")]
    WebTask(tokio::task::JoinError),
    #[error(transparent)]
    Web(#[from] crate::web::WebConfigError),
}

pub struct App {
    live: RwLock<Arc<Loaded>>,
    /// Shared with the blocking thread a reload runs it on.
    loader: Option<Arc<Loader>>,
    status: Mutex<ReloadStatus>,
    /// One reload at a time: a second SIGHUP waits instead of racing the first.
    reloading: tokio::sync::Mutex<()>,
    web: RwLock<Arc<Web>>,
    /// Whether the last web config load succeeded.
    web_ok: Mutex<bool>,
}

#[derive(Debug, Clone, Copy)]
struct ReloadStatus {
    last_ok: bool,
    last_success: SystemTime,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("live", &self.live).finish()
    }
}

impl App {
    /// `loader` re-reads the configuration on reload; `None` disables reloading.
    pub fn new(live: Loaded, loader: Option<Loader>) -> App {
        App {
            live: RwLock::new(Arc::new(live)),
            loader: loader.map(Arc::new),
            status: Mutex::new(ReloadStatus {
                last_ok: true,
                last_success: SystemTime::now(),
            }),
            reloading: tokio::sync::Mutex::new(()),
            web: RwLock::new(Arc::new(Web::disabled())),
            web_ok: Mutex::new(true),
        }
    }

    /// With `web` (loaded from the config's web config file) in front of every request.
    pub fn with_web(self, web: Web) -> App {
        *self.web.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(web);
        self
    }

    /// The web config in force now: a connection takes it once, at its start.
    pub fn web(&self) -> Arc<Web> {
        self.web
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The files the configuration was read from, whose change reloads it: the config
    /// file and the recipe directories.
    pub fn config_files(&self) -> Vec<PathBuf> {
        let live = self.live();
        let mut files = match &live.settings.origin {
            Origin::File(path) => vec![path.clone()],
            Origin::Embedded => Vec::new(),
        };
        files.extend(live.settings.parser_dirs.iter().cloned());
        files
    }

    /// Reads the web config file named by the configuration in force again (off the
    /// runtime thread) and swaps it in; on error the old one stays.
    pub async fn reload_web(&self) -> Result<(), ReloadError> {
        let path = self.live().settings.server.web_config_file.clone();
        let loaded = tokio::task::spawn_blocking(move || Web::load(path.as_deref()))
            .await
            .map_err(ReloadError::WebTask)
            .and_then(|r| r.map_err(ReloadError::from));
        let mut ok = self.web_ok.lock().unwrap_or_else(PoisonError::into_inner);
        match loaded {
            Ok(web) => {
                for w in web.warnings() {
                    warn!("web config: {w}");
                }
                if web.file().is_some() {
                    info!(web = %web.summary(), "web config loaded");
                }
                *self.web.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(web);
                *ok = true;
                Ok(())
            }
            Err(e) => {
                error!("web config reload failed, the previous one keeps serving: {e}");
                *ok = false;
                Err(e)
            }
        }
    }

    /// The configuration in force now.
    pub fn live(&self) -> Arc<Loaded> {
        self.live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the configuration and swaps it in; on error the old one stays.
    /// Needs a Tokio runtime (the new sources' background readers start here).
    pub async fn reload(&self) -> Result<(), ReloadError> {
        let _one_at_a_time = self.reloading.lock().await;
        self.swap(self.build().await)?;
        // The web config may be another file now, or the same one changed.
        self.reload_web().await
    }

    /// Puts a newly built configuration in force, or records that building one failed.
    fn swap(&self, built: Result<Loaded, ReloadError>) -> Result<(), ReloadError> {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        match built {
            Ok(new) => {
                let old = self.live();
                if new.settings.server.listen != old.settings.server.listen {
                    warn!(
                        "server.listen changed to {}; still listening on {} until restarted",
                        new.settings.server.listen, old.settings.server.listen
                    );
                }
                info!(
                    config = %new.settings.origin,
                    sources = new.settings.sources.len(),
                    "configuration reloaded"
                );
                *self.live.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(new);
                *status = ReloadStatus {
                    last_ok: true,
                    last_success: SystemTime::now(),
                };
                Ok(())
            }
            Err(e) => {
                error!("reload failed, the previous configuration keeps serving: {e}");
                status.last_ok = false;
                Err(e)
            }
        }
    }

    /// The new configuration. Reading files and compiling recipes (every regex of every
    /// recipe) run on the blocking pool: a big config takes seconds of CPU, which the
    /// runtime thread (and `/healthz`) must not wait on. Only starting the readers runs
    /// here.
    async fn build(&self) -> Result<Loaded, ReloadError> {
        let loader = self.loader.clone().ok_or(ReloadError::NotAvailable)?;
        let old = self.live();
        let load = move || -> Result<(Settings, Scraper), ReloadError> {
            let (settings, registry) = loader()?;
            for skipped in registry.skipped() {
                info!("{skipped}");
            }
            let scraper = Scraper::with_previous(&settings, &registry, Some(&old.scraper))?;
            Ok((settings, scraper))
        };
        let (settings, mut scraper) = tokio::task::spawn_blocking(load)
            .await
            .map_err(ReloadError::Task)??;
        scraper.start();
        Ok(Loaded { settings, scraper })
    }

    /// `metrics_adapter_config_last_reload_successful` and `..._success_timestamp_seconds`
    /// (and the web config's, when there is a web config file).
    pub fn reload_families(&self) -> Vec<Family> {
        let status = *self.status.lock().unwrap_or_else(PoisonError::into_inner);
        let when = status
            .last_success
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut families = crate::scrape::reload_families(status.last_ok, when);
        if self.web().file().is_some() {
            let ok = *self.web_ok.lock().unwrap_or_else(PoisonError::into_inner);
            families.push(
                Family::new(
                    format!("{SELF_PREFIX}web_config_last_reload_successful"),
                    MetricKind::Gauge,
                    "Whether the last load of the web config file (TLS, basic auth) was successful.",
                )
                .with_sample(vec![], f64::from(u8::from(ok))),
            );
        }
        families
    }
}
