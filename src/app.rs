//! The running configuration, swapped whole on a hot reload (`SIGHUP`, `POST /-/reload`).
//!
//! A request takes a snapshot ([`App::live`]) and uses it to the end, so a reload never
//! mixes two configs in one page. A reload builds the new config completely (file, env,
//! flags, recipes, parsers) before swapping; if anything fails, the old one keeps serving
//! and `metrics_adapter_config_last_reload_successful` drops to 0, as Prometheus' own
//! `prometheus_config_last_reload_successful` does.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{error, info, warn};

use crate::config::Settings;
use crate::family::FamilySet;
use crate::parse::Registry;
use crate::scrape::Scraper;

/// One loaded configuration with its resolved sources.
#[derive(Debug)]
pub struct Loaded {
    pub settings: Settings,
    pub scraper: Scraper,
}

/// Loads the configuration again (file, environment, flags, recipe directories).
pub type Loader = Box<dyn Fn() -> Result<(Settings, Registry), String> + Send + Sync>;

pub struct App {
    live: RwLock<Arc<Loaded>>,
    /// Shared with the blocking thread a reload runs it on.
    loader: Option<Arc<Loader>>,
    status: Mutex<ReloadStatus>,
    /// One reload at a time: a second SIGHUP waits instead of racing the first.
    reloading: tokio::sync::Mutex<()>,
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
    pub async fn reload(&self) -> Result<(), String> {
        let _one_at_a_time = self.reloading.lock().await;
        let result = self.build().await;
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        match result {
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
    async fn build(&self) -> Result<Loaded, String> {
        let loader = self
            .loader
            .clone()
            .ok_or("reloading is not available for this configuration")?;
        let old = self.live();
        let load = move || -> Result<(Settings, Scraper), String> {
            let (settings, registry) = loader()?;
            for skipped in registry.skipped() {
                info!("{skipped}");
            }
            let scraper = Scraper::with_previous(&settings, &registry, Some(&old.scraper))
                .map_err(|e| e.to_string())?;
            Ok((settings, scraper))
        };
        let (settings, mut scraper) = tokio::task::spawn_blocking(load)
            .await
            .map_err(|e| format!("the reload task failed: {e}"))??;
        scraper.start();
        Ok(Loaded { settings, scraper })
    }

    /// `metrics_adapter_config_last_reload_successful` and `..._success_timestamp_seconds`.
    pub fn reload_families(&self, set: &mut FamilySet) {
        let status = *self.status.lock().unwrap_or_else(PoisonError::into_inner);
        let when = status
            .last_success
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut conflicts = Vec::new();
        set.extend(
            crate::scrape::reload_families(status.last_ok, when),
            &mut conflicts,
        );
        for c in conflicts {
            warn!("{c}");
        }
    }
}
