//! Scraping: fetch + parse every source, bounded in time, and assemble one page.
//!
//! By default each `/metrics` request reads every source concurrently, so data is never
//! stale and a scrape never waits past the slowest source's timeout. Scrapes that arrive
//! while a source is being read share that read. A source with an `interval` is read in the
//! background instead and its last result is served, with its age.
//!
//! Sources never mask each other: series are merged in config order and the first source
//! to write a series keeps it, even while it is down (its last good result holds its place),
//! so the winner never switches with who is up; what a later source loses is counted
//! against it. A parser that panics takes down its source, never the process.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use foldhash::HashSet;
use tracing::warn;

use crate::config::{Refresh, Settings, SourceSpec};
use crate::exposition::{self, WireFormat};
use crate::family::{Family, FamilySet};
use crate::recipe::{Parser, Registry};
use crate::source::Source;

mod failure;
mod file_totals;
mod follow;
mod isolated;
mod part;
mod self_metrics;
mod stale;
mod target;

use part::{assemble_data, one_source_part, DataCache, DataKey};
use self_metrics::SelfMetrics;
pub use self_metrics::{build_labels, reload_families, SELF_PREFIX};

/// Pages of up to this many series are built on the runtime thread (see
/// [`Scraper::build_part`]): a few hundred microseconds at most.
const BUILD_INLINE_MAX_SERIES: usize = 2_000;
pub use target::{FailureKind, Outcome, Target, Totals};

/// A configuration whose sources cannot be run as written; in the config error shape
/// (`origin: key: reason`).
#[derive(Debug, thiserror::Error)]
pub enum ScraperError {
    #[error(
        "{origin}: sources.{source_name}.parser: no parser named {parser:?}{hint} (see `metrics-adapter parsers`)"
    )]
    UnknownParser {
        /// The config file (or the embedded default) that names it.
        origin: String,
        source_name: String,
        parser: String,
        /// `; did you mean "x"?`, or empty.
        hint: String,
    },
    /// A `log` recipe on a source that is not followed, or a followed log without one.
    #[error("{origin}: sources.{source_name}.parser: {reason}")]
    LogRecipe {
        origin: String,
        source_name: String,
        reason: String,
    },
    /// A tail source's `log_format` that the recipe cannot read (see
    /// [`crate::recipe::log_format`]).
    #[error("{origin}: sources.{source_name}.log_format: {reason}")]
    LogFormat {
        origin: String,
        source_name: String,
        reason: String,
    },
    /// `max_age` on a source that has no clock to compare it with.
    #[error("{origin}: sources.{source_name}.max_age: {reason}")]
    NoClock {
        origin: String,
        source_name: String,
        reason: String,
    },
    #[error(
        "{origin}: sources.{second}: writes the same series as sources.{first} (same recipe \
         {parser:?}, same labels), so one would mask the other; add a label that tells them \
         apart, e.g. labels = {{ instance = {second:?} }}"
    )]
    SameSeries {
        origin: String,
        first: String,
        second: String,
        parser: String,
    },
}

/// `parser`, or for a tail source with `log_format`, its recipe reading that format.
fn with_log_format(
    spec: &SourceSpec,
    parser: Arc<dyn Parser>,
    origin: &str,
) -> Result<Arc<dyn Parser>, ScraperError> {
    let Source::Tail(crate::source::tail::TailSource {
        log_format: Some(format),
        ..
    }) = &spec.source
    else {
        return Ok(parser);
    };
    let error = |reason: String| ScraperError::LogFormat {
        origin: origin.to_string(),
        source_name: spec.name.clone(),
        reason,
    };
    let Some(recipe) = parser.line_recipe() else {
        return Err(error(format!(
            "{:?} is not a line recipe; log_format is read by nginx_access or apache_access",
            spec.parser
        )));
    };
    match recipe.with_log_format(format) {
        Ok(recipe) => Ok(Arc::new(recipe)),
        Err(e) => Err(error(e.to_string())),
    }
}

/// Two sources with the same recipe and the same static labels write the same series (and
/// the same `nginx_up`): one would mask the other. A generic format (`kv`, `json`...) names
/// series after the input, so two of those need not collide; the page sorts that out at
/// run time.
fn check_same_series(settings: &Settings, registry: &Registry) -> Result<(), ScraperError> {
    let sources = &settings.sources;
    for (i, b) in sources.iter().enumerate() {
        let recipe = registry
            .get(&b.parser)
            .is_some_and(|e| e.origin != crate::recipe::registry::Origin::Generic);
        if !recipe {
            continue;
        }
        if let Some(a) = sources[..i]
            .iter()
            .find(|a| a.parser == b.parser && a.labels == b.labels)
        {
            return Err(ScraperError::SameSeries {
                origin: settings.origin.to_string(),
                first: a.name.clone(),
                second: b.name.clone(),
                parser: b.parser.clone(),
            });
        }
    }
    Ok(())
}

/// All targets of one configuration.
#[derive(Debug)]
pub struct Scraper {
    targets: Vec<Arc<Target>>,
    /// The sources' part of the last page, encoded (see [`Scraper::scrape_page`]).
    cache: Mutex<Option<DataCache>>,
    /// Held while the sources' part is built (see [`Scraper::scrape_page`]).
    building: tokio::sync::Mutex<()>,
    /// Background work (pollers, the first reads): stopped when the scraper goes, so a
    /// reload never leaves the old config's readers running.
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Scraper {
    fn drop(&mut self) {
        for p in &self.tasks {
            p.abort();
        }
    }
}

impl Scraper {
    /// Resolves every source's parser. Does not start anything.
    pub fn new(settings: &Settings, registry: &Registry) -> Result<Scraper, ScraperError> {
        Self::with_previous(settings, registry, None)
    }

    /// Like [`Scraper::new`]; a source whose definition is the same as in `previous` keeps
    /// its counters (a reload must not make a `_total` go down).
    pub fn with_previous(
        settings: &Settings,
        registry: &Registry,
        previous: Option<&Scraper>,
    ) -> Result<Scraper, ScraperError> {
        check_same_series(settings, registry)?;
        let parsers = settings
            .sources
            .iter()
            .map(|spec| {
                registry
                    .get(&spec.parser)
                    .map(|e| e.parser.clone())
                    .ok_or_else(|| ScraperError::UnknownParser {
                        origin: settings.origin.to_string(),
                        source_name: spec.name.clone(),
                        parser: spec.parser.clone(),
                        hint: match registry.did_you_mean(&spec.parser) {
                            // No close name: perhaps a recipe of the user's own, not found.
                            h if h.is_empty() => format!(
                                "; a recipe of your own goes in a directory listed in \
                                 parsers.dirs (as {}.toml) or inline as [recipes.{}]",
                                spec.parser, spec.parser
                            ),
                            h => h,
                        },
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let parsers = (settings.sources.iter().zip(parsers))
            .map(|(spec, parser)| with_log_format(spec, parser, &settings.origin.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        for (spec, parser) in settings.sources.iter().zip(&parsers) {
            let tail = matches!(spec.source, Source::Tail(_));
            let reason = match (tail, parser.line_recipe().is_some()) {
                (true, false) => format!(
                    "{:?} is not a line recipe (rules with `accumulate`); a tail source counts \
                     lines with one, such as nginx_access or apache_access",
                    spec.parser
                ),
                (false, true) => format!(
                    "{:?} counts the lines of a log as they are appended; use it with \
                     type = \"tail\"",
                    spec.parser
                ),
                _ => continue,
            };
            return Err(ScraperError::LogRecipe {
                origin: settings.origin.to_string(),
                source_name: spec.name.clone(),
                reason,
            });
        }
        for (spec, parser) in settings.sources.iter().zip(&parsers) {
            // A file has its mtime and an HTTP answer may have Last-Modified; a command's
            // or a socket's answer has only the dates a dated recipe finds in it.
            let clockless = matches!(
                spec.source,
                Source::Tcp(_) | Source::Exec(_) | Source::FastCgi(_)
            );
            let dated = parser.framing().is_some_and(|f| f.dated);
            if clockless && !dated && matches!(spec.max_age, crate::config::MaxAge::After(_)) {
                return Err(ScraperError::NoClock {
                    origin: settings.origin.to_string(),
                    source_name: spec.name.clone(),
                    reason: format!(
                        "the answer of a source of type {} has no modification time, and \
                         recipe {:?} finds no dates in it ([framing] dated = true), so \
                         nothing could ever be too old; remove max_age",
                        spec.source.kind(),
                        spec.parser
                    ),
                });
            }
        }
        let reserved: Arc<HashSet<String>> = Arc::new(
            parsers
                .iter()
                .filter_map(|p| p.up_metric().map(str::to_string))
                .collect(),
        );
        let targets = settings
            .sources
            .iter()
            .zip(parsers)
            .map(|(spec, parser)| {
                let mut spec = spec.clone();
                match &mut spec.source {
                    Source::File(file) => file.read_by(parser.as_ref()),
                    Source::Tcp(tcp) => tcp.read_by(parser.as_ref()),
                    _ => {}
                }
                let same = previous.and_then(|p| {
                    p.targets
                        .iter()
                        .find(|t| t.spec.definition == spec.definition)
                });
                Arc::new(Target::new(
                    spec,
                    parser,
                    reserved.clone(),
                    same.map(Arc::as_ref),
                ))
            })
            .collect();
        Ok(Scraper {
            targets,
            cache: Mutex::default(),
            building: tokio::sync::Mutex::default(),
            tasks: Vec::new(),
        })
    }

    pub fn targets(&self) -> &[Arc<Target>] {
        &self.targets
    }

    /// Starts background reading for sources with an `interval` (needs a runtime).
    pub fn start(&mut self) {
        for t in &self.targets {
            if let Refresh::Every(every) = t.spec.refresh {
                self.tasks.push(tokio::spawn(t.clone().poll_forever(every)));
            }
        }
    }

    /// Whether every source has a result to serve: background sources once their first
    /// read ended (up or down); a source read on each scrape always has one (the scrape
    /// reads it), so it is not read early just for this.
    pub fn ready(&self) -> bool {
        self.targets
            .iter()
            .all(|t| t.spec.refresh == Refresh::OnScrape || t.last().is_some())
    }

    /// Reads what needs reading and assembles the page's families.
    pub async fn scrape(&self) -> FamilySet {
        self.read(false, None).await
    }

    /// [`Scraper::scrape`] for a scraper that gives up after `budget`: no source read waits
    /// longer (a source's own `timeout` still applies when it is shorter).
    pub async fn scrape_within(&self, budget: Option<Duration>) -> FamilySet {
        self.read(false, budget).await
    }

    /// Reads every source now, background ones too (`metrics-adapter once`).
    pub async fn scrape_now(&self) -> FamilySet {
        self.read(true, None).await
    }

    /// The page for one `/metrics` request, as text: the sources' part, and the adapter's
    /// own families (`self_metrics`, to which the caller adds its own) to be encoded after
    /// it. The sources' part is encoded again only when a source's result changed: an
    /// unchanged source (the same bytes, or an `interval` source between reads) reuses its
    /// result ([`Target`]), so a big page costs neither a merge nor an encoding per scrape.
    /// The part is shared [`Bytes`], not copied: every response in flight sends the same
    /// buffer (src/server.rs sends it as a frame of its own), so a big page is in memory
    /// once, not once per response. Byte for byte the page [`Scraper::scrape`] gives,
    /// encoded in one piece.
    pub async fn scrape_page(
        &self,
        budget: Option<Duration>,
        format: WireFormat,
    ) -> (Bytes, Vec<Family>) {
        let mut outcomes = self.outcomes(false, budget).await;
        let mut key: Vec<DataKey> = self.keys(&outcomes);
        let (text, reached, lost) = match self.cached(&key, format) {
            Some(hit) => hit,
            None => {
                // One page part built at a time, off the runtime thread (merging and
                // encoding a big page takes a while): scrapes that miss together wait
                // for the first and take its result from the cache.
                let _building = self.building.lock().await;
                match self.cached(&key, format) {
                    Some(hit) => hit,
                    None => {
                        if outcomes.iter().any(|o| o.families_dropped) {
                            outcomes = self.with_families(outcomes, budget).await;
                            key = self.keys(&outcomes);
                        }
                        self.build_part(key, &outcomes, format).await
                    }
                }
            }
        };
        (text, self.own_families(&outcomes, &reached, &lost))
    }

    /// The sources' part in `format` and who reached it, when the cache was made from
    /// `key`.
    fn cached(
        &self,
        key: &[DataKey],
        format: WireFormat,
    ) -> Option<(Bytes, Vec<usize>, Vec<usize>)> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.as_ref().filter(|c| c.made_from(key)).and_then(|c| {
            let (_, text) = c.text.iter().find(|(f, _)| *f == format)?;
            Some((text.clone(), c.reached.clone(), c.lost.clone()))
        })
    }

    /// Merges and encodes the sources' part (on the blocking pool when it is large), and
    /// caches it.
    async fn build_part(
        &self,
        key: Vec<DataKey>,
        outcomes: &[Arc<Outcome>],
        format: WireFormat,
    ) -> (Bytes, Vec<usize>, Vec<usize>) {
        let (targets, outs) = (self.targets.clone(), outcomes.to_vec());
        let build = move || {
            let (text, data) = match one_source_part(&targets, &outs, format) {
                Some(part) => part,
                None => {
                    let data = assemble_data(&targets, &outs);
                    (exposition::encode_part(&data.set, format), data)
                }
            };
            // The adapter's part follows, with the page's end marker. `Bytes` takes the
            // String's buffer as is: no copy of the page.
            (Bytes::from(text), data.reached, data.lost)
        };
        // A small page is built where it is asked for: handing it to the blocking pool and
        // back costs two thread switches each way (about 25 µs a scrape on a shared vCPU,
        // more than encoding a few hundred series), and it holds the runtime thread for no
        // longer than a read's other steps do. A large one goes to the pool.
        let series: usize = outcomes.iter().map(|o| o.families.series_count()).sum();
        let small = !outcomes.iter().any(|o| o.families_dropped);
        let built = if small && series <= BUILD_INLINE_MAX_SERIES {
            Ok(build())
        } else {
            tokio::task::spawn_blocking(build).await
        };
        let (text, reached, lost) = match built {
            Ok(built) => built,
            Err(e) => {
                warn!("building the page failed: {e}");
                (
                    Bytes::new(),
                    vec![0; outcomes.len()],
                    vec![0; outcomes.len()],
                )
            }
        };
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if !cache.as_ref().is_some_and(|c| c.made_from(&key)) {
            *cache = Some(DataCache {
                key,
                text: Vec::new(),
                reached: reached.clone(),
                lost: lost.clone(),
            });
        }
        if let Some(c) = cache.as_mut() {
            c.text.retain(|(f, _)| *f != format);
            c.text.push((format, text.clone()));
            self.drop_families(c, outcomes);
        }
        (text, reached, lost)
    }

    /// Each source's result for this scrape: read now, or (background sources) the last.
    async fn outcomes(&self, all: bool, budget: Option<Duration>) -> Vec<Arc<Outcome>> {
        let reads = self.targets.iter().cloned().map(|t| async move {
            match t.spec.refresh {
                Refresh::Every(_) if !all => t.last(),
                _ => Some(t.fetch_within(budget).await),
            }
        });
        join_in_order(reads)
            .await
            .into_iter()
            .map(|joined| match joined {
                Some(Some(outcome)) => outcome,
                Some(None) => Arc::new(Outcome::down(
                    FailureKind::Read,
                    "no result yet (first background read pending)".into(),
                    Duration::ZERO,
                )),
                None => Arc::new(Outcome::down(
                    FailureKind::Bug,
                    "read task failed".into(),
                    Duration::ZERO,
                )),
            })
            .collect()
    }

    /// With only one source, nothing but its encoded page needs its families once the
    /// page is encoded (no later source's series can collide with them, none holds places
    /// for it), so they are dropped: the big page's families (~74k samples) are not held
    /// between scrapes. A page in the other wire format, or a scrape's family set, then
    /// reads the source again ([`Scraper::with_families`]).
    fn drop_families(&self, cache: &mut DataCache, outcomes: &[Arc<Outcome>]) {
        let ([target], [outcome], [key]) = (&self.targets[..], outcomes, &mut cache.key[..]) else {
            return;
        };
        if Arc::ptr_eq(&key.families, &outcome.families) {
            if let Some(slim) = target.drop_families(outcome) {
                key.families = slim;
            }
        }
    }

    /// `outcomes`, with the results whose families were dropped read again (parsed, not
    /// reused); background sources too. A scrape racing this one may drop them again
    /// before they are read: tried three times, then that source is down for this page.
    async fn with_families(
        &self,
        mut outcomes: Vec<Arc<Outcome>>,
        budget: Option<Duration>,
    ) -> Vec<Arc<Outcome>> {
        for _ in 0..3 {
            if !outcomes.iter().any(|o| o.families_dropped) {
                return outcomes;
            }
            for (t, o) in self.targets.iter().zip(&outcomes) {
                if o.families_dropped {
                    t.forget_input();
                }
            }
            outcomes = self.outcomes(true, budget).await;
        }
        outcomes
            .into_iter()
            .map(|o| match o.families_dropped {
                true => Arc::new(Outcome::down(
                    FailureKind::Bug,
                    "its series were dropped while this page was made; read again".into(),
                    Duration::ZERO,
                )),
                false => o,
            })
            .collect()
    }

    async fn read(&self, all: bool, budget: Option<Duration>) -> FamilySet {
        let outcomes = self.outcomes(all, budget).await;
        let outcomes = self.with_families(outcomes, budget).await;
        let data = assemble_data(&self.targets, &outcomes);
        let mut set = data.set;
        let mut conflicts = Vec::new();
        set.extend(
            self.own_families(&outcomes, &data.reached, &data.lost),
            &mut conflicts,
        );
        for c in conflicts {
            warn!("{c}");
        }
        set
    }

    /// What the sources' part of a page is made from: per source, its result's families,
    /// whether it is up, and the families it holds places for while down.
    fn keys(&self, outcomes: &[Arc<Outcome>]) -> Vec<DataKey> {
        let last = self.targets.len().saturating_sub(1);
        self.targets
            .iter()
            .zip(outcomes)
            .enumerate()
            .map(|(i, (t, o))| DataKey {
                families: o.families.clone(),
                up: o.up,
                held: (!o.up && i < last)
                    .then(|| t.last_good().map(|g| g.families.clone()))
                    .flatten(),
            })
            .collect()
    }

    /// The adapter's own families for this page; counts the series each source lost to
    /// an earlier one (once per page, as they are left off each page).
    fn own_families(
        &self,
        outcomes: &[Arc<Outcome>],
        reached: &[usize],
        lost: &[usize],
    ) -> Vec<Family> {
        let mut self_metrics = SelfMetrics::default();
        for (i, (t, outcome)) in self.targets.iter().zip(outcomes).enumerate() {
            let lost = lost.get(i).copied().unwrap_or(0);
            if lost > 0 {
                t.count_dropped_collisions(lost as u64);
            }
            self_metrics.add(t, outcome, reached.get(i).copied().unwrap_or(0));
        }
        self_metrics.families()
    }
}

/// Runs futures concurrently, in tasks of their own, and returns their outputs in their
/// order; a task that failed (panicked) leaves `None` in its place, so the outputs still
/// pair with their inputs.
async fn join_in_order<F>(futures: impl IntoIterator<Item = F>) -> Vec<Option<F::Output>>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    let mut n = 0;
    for (i, f) in futures.into_iter().enumerate() {
        set.spawn(async move { (i, f.await) });
        n += 1;
    }
    let mut out: Vec<Option<F::Output>> = (0..n).map(|_| None).collect();
    while let Some(res) = set.join_next().await {
        if let Ok((i, v)) = res {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
