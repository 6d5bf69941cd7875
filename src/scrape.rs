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

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use foldhash::HashSet;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::config::{Refresh, Settings, SourceSpec};
use crate::family::{
    exposed_name, ConflictKind, Family, FamilySet, LabelSet, Labels, MetricKind, PerLabelSet,
};
use crate::parse::{Parsed, Parser, Registry};
use crate::source::Source;

/// Inputs larger than this are parsed on the blocking pool, so a big page never holds the
/// runtime thread (and `/healthz`, and other sources) while it parses.
const PARSE_INLINE_MAX: usize = 256 * 1024;

/// The result of reading and parsing one source once.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Checked once here (names, kinds, repeated series), so each scrape only merges it.
    pub families: FamilySet,
    pub up: bool,
    /// Why the source is down.
    pub error: Option<String>,
    /// The first value skipped, if any (for the status page).
    pub first_issue: Option<String>,
    /// Values skipped this time.
    pub issues: u64,
    /// Input no rule used this time, and the first of it.
    pub unmatched: u64,
    pub first_unmatched: Option<String>,
    /// Series the source's own data wrote under a name the adapter reserves; dropped.
    pub reserved: u64,
    /// Bytes read from the source (more than the data when an append log is searched).
    pub bytes: u64,
    /// A file source's modification time, as Unix time.
    pub file_mtime: Option<f64>,
    pub duration: Duration,
    pub finished: SystemTime,
}

impl Outcome {
    fn down(error: String, duration: Duration) -> Outcome {
        Outcome {
            families: FamilySet::new(),
            up: false,
            error: Some(error),
            first_issue: None,
            issues: 0,
            unmatched: 0,
            first_unmatched: None,
            reserved: 0,
            bytes: 0,
            file_mtime: None,
            duration,
            finished: SystemTime::now(),
        }
    }
}

/// Totals since start (and across reloads that leave the source as it was): counters.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub fetches: u64,
    pub failures: u64,
    pub parse_errors: u64,
    pub unmatched: u64,
    pub bytes: u64,
    /// Series left off pages because an earlier source wrote them.
    pub dropped_collision: u64,
    /// Series of the source's data under a name the adapter reserves.
    pub dropped_reserved: u64,
}

#[derive(Debug, Default)]
struct State {
    totals: Totals,
    last: Option<Arc<Outcome>>,
    /// The last result that was up: while the source is down it still holds its series'
    /// places on the page (see [`FamilySet::reserve`]).
    last_good: Option<Arc<Outcome>>,
    /// When "source down" was last logged.
    down_logged: Option<Instant>,
    /// The last error and when it happened, kept after the source recovers: the status
    /// page shows why a source that flaps was down.
    last_error: Option<(String, SystemTime)>,
}

/// While a source stays down with the same error, it is logged again this often.
const DOWN_REMINDER: Duration = Duration::from_secs(60);

type Inflight = watch::Receiver<Option<Arc<Outcome>>>;

/// One configured source with its parser and state.
#[derive(Debug)]
pub struct Target {
    pub spec: SourceSpec,
    pub parser: Arc<dyn Parser>,
    /// Names the adapter writes itself on this page (its own and the recipes' up metrics):
    /// source data cannot write them.
    reserved: Arc<HashSet<String>>,
    state: Arc<Mutex<State>>,
    inflight: Mutex<Option<Inflight>>,
}

/// Clears a target's in-flight slot when the read ends, however it ends (finished, failed,
/// or its task dropped), so a later scrape never waits on a read that is gone.
struct InflightSlot<'a>(&'a Mutex<Option<Inflight>>);

impl Drop for InflightSlot<'_> {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Runs the parser, catching a panic: a parser bug marks this source down with the reason
/// and leaves the process and the other sources running. Big inputs go to the blocking pool.
async fn parse_isolated(parser: Arc<dyn Parser>, bytes: Vec<u8>) -> Result<Parsed, String> {
    let name = parser.name().to_string();
    let inline = bytes.len() <= PARSE_INLINE_MAX;
    let run = move || {
        std::panic::catch_unwind(AssertUnwindSafe(|| parser.parse(&bytes)))
            .map_err(|p| panic_message(p.as_ref()))
    };
    let result = if inline {
        run()
    } else {
        tokio::task::spawn_blocking(run)
            .await
            .unwrap_or_else(|e| Err(format!("parse task failed: {e}")))
    };
    match result {
        Ok(Ok(parsed)) => Ok(parsed),
        Ok(Err(e)) => Err(format!("parser {name}: {e}")),
        Err(panic) => Err(format!(
            "parser {name} panicked (a bug; please report it with the input): {panic}"
        )),
    }
}

/// Seconds since the epoch.
fn unix_time(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Target {
    /// Reads and parses once, within the timeout.
    async fn run_once(&self) -> Outcome {
        let start = Instant::now();
        let spec = &self.spec;
        let mut read_bytes = 0;
        let mut file_mtime = None;
        let work = async {
            let fetch = spec.source.fetch(spec.max_bytes, spec.timeout).await;
            read_bytes = fetch.read_bytes;
            file_mtime = fetch.modified.map(unix_time);
            let bytes = fetch.data.map_err(|e| e.to_string())?;
            if let (Some(max_age), Some(modified)) = (spec.source.max_age(), fetch.modified) {
                let age = SystemTime::now()
                    .duration_since(modified)
                    .unwrap_or_default();
                if age > max_age {
                    return Err(format!(
                        "{}: not modified for {}s (max_age {}s): is the writer still running?",
                        spec.source.describe(),
                        age.as_secs(),
                        max_age.as_secs_f64()
                    ));
                }
            }
            parse_isolated(self.parser.clone(), bytes).await
        };
        let result = tokio::time::timeout(spec.timeout, work).await;
        let parsed = match result {
            Ok(Ok(parsed)) => parsed,
            Ok(Err(e)) => {
                return Outcome {
                    bytes: read_bytes,
                    file_mtime,
                    ..Outcome::down(e, start.elapsed())
                }
            }
            Err(_) => {
                return Outcome {
                    bytes: read_bytes,
                    file_mtime,
                    ..Outcome::down(
                        format!("timed out after {:?}", spec.timeout),
                        start.elapsed(),
                    )
                }
            }
        };
        let mut families = parsed.families;
        let series: usize = families.iter().map(|f| f.samples.len()).sum();
        if series > spec.max_series {
            return Outcome {
                bytes: read_bytes,
                file_mtime,
                ..Outcome::down(
                    format!(
                        "{series} series, more than max_series ({}); raise it, or drop what is \
                         not needed with exclude",
                        spec.max_series
                    ),
                    start.elapsed(),
                )
            };
        }
        let reserved = self.drop_reserved(&mut families);
        self.relabel(&mut families);
        let mut set = FamilySet::new();
        let mut conflicts = Vec::new();
        set.extend(families, &mut conflicts);
        let repeats = conflicts
            .iter()
            .filter(|c| c.kind == ConflictKind::DuplicateSeries)
            .count();
        // Every series again, block after block: an append log read as one dump. Serving
        // the first copy would be serving the oldest numbers.
        if repeats > 0 && repeats >= set.series_count() {
            return Outcome {
                bytes: read_bytes,
                file_mtime,
                ..Outcome::down(
                    format!(
                        "the input repeats its series ({repeats} repeated, {} distinct): it looks \
                         like an append log of whole dumps; use a recipe with [framing] (such as \
                         meminfo_appended) or set block_start on the source",
                        set.series_count()
                    ),
                    start.elapsed(),
                )
            };
        }
        for c in &conflicts {
            debug!(source = %spec.name, "{c}");
        }
        Outcome {
            families: set,
            up: true,
            error: None,
            first_issue: (parsed.issues.first().map(ToString::to_string))
                .or_else(|| conflicts.first().map(ToString::to_string)),
            issues: (parsed.issues.len() + conflicts.len()) as u64,
            unmatched: parsed.unmatched.count,
            first_unmatched: parsed.unmatched.first,
            reserved,
            bytes: read_bytes,
            file_mtime,
            duration: start.elapsed(),
            finished: SystemTime::now(),
        }
    }

    /// Drops the families source data wrote under a reserved name; returns how many series.
    fn drop_reserved(&self, families: &mut Vec<Family>) -> u64 {
        let mut dropped = 0;
        families.retain(|f| {
            let taken = f.name.starts_with(SELF_PREFIX)
                || crate::process::RESERVED.contains(&f.name.as_str())
                || self.reserved.contains(&f.name)
                || self.reserved.contains(&exposed_name(&f.name, f.kind));
            if taken {
                dropped += f.samples.len() as u64;
            }
            !taken
        });
        dropped
    }

    /// Applies the source's `include`/`exclude` (on names as written) and static labels.
    fn relabel(&self, families: &mut Vec<Family>) {
        let spec = &self.spec;
        if !spec.include.is_empty() || !spec.exclude.is_empty() {
            families.retain(|f| {
                let names = [f.name.clone(), exposed_name(&f.name, f.kind)];
                (spec.include.is_empty()
                    || names
                        .iter()
                        .any(|n| spec.include.iter().any(|r| r.is_match(n))))
                    && !names
                        .iter()
                        .any(|n| spec.exclude.iter().any(|r| r.is_match(n)))
            });
        }
        if !spec.labels.is_empty() {
            // Samples share label sets (one per row or section): relabel each set once.
            let mut relabelled = PerLabelSet::default();
            for s in families.iter_mut().flat_map(|f| f.samples.iter_mut()) {
                s.labels = relabelled
                    .get_or_insert_with(&s.labels, || with_labels(&s.labels, &spec.labels));
            }
        }
    }

    fn record(&self, outcome: &Arc<Outcome>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let changed = state.last.as_ref().map(|l| (l.up, l.error.clone()))
            != Some((outcome.up, outcome.error.clone()));
        let remind = !outcome.up
            && (changed
                || state
                    .down_logged
                    .map_or(true, |t| t.elapsed() >= DOWN_REMINDER));
        if remind {
            state.down_logged = Some(Instant::now());
        }
        state.totals.fetches += 1;
        state.totals.failures += u64::from(!outcome.up);
        state.totals.parse_errors += outcome.issues;
        state.totals.unmatched += outcome.unmatched;
        state.totals.dropped_reserved += outcome.reserved;
        state.totals.bytes += outcome.bytes;
        if let Some(e) = &outcome.error {
            state.last_error = Some((e.clone(), outcome.finished));
        }
        state.last = Some(outcome.clone());
        if outcome.up {
            state.last_good = Some(outcome.clone());
        }
        drop(state);
        // A source that stays down is logged when its error changes, and then once a minute,
        // not on every read. The error may quote the app's text: `?` escapes control
        // characters, so a newline in it cannot forge a log line.
        match &outcome.error {
            Some(e) if remind => warn!(source = %self.spec.name, error = ?e, "source down"),
            Some(_) => {}
            None if changed => debug!(source = %self.spec.name, "source up"),
            None => {}
        }
        if outcome.issues > 0 || outcome.unmatched > 0 || outcome.reserved > 0 {
            debug!(
                source = %self.spec.name,
                skipped = outcome.issues,
                first = outcome.first_issue.as_deref().unwrap_or(""),
                unmatched = outcome.unmatched,
                first_unmatched = outcome.first_unmatched.as_deref().unwrap_or(""),
                reserved = outcome.reserved,
                "values not used"
            );
        }
    }

    /// Reads the source, joining a read already in flight.
    pub async fn fetch_shared(self: &Arc<Self>) -> Arc<Outcome> {
        let mut rx = {
            let mut slot = self.inflight.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.as_ref() {
                Some(rx) => rx.clone(),
                None => {
                    let (tx, rx) = watch::channel(None);
                    *slot = Some(rx.clone());
                    let me = self.clone();
                    // A task of its own: a scraper that hangs up does not cancel the read
                    // others are waiting on, and the timeout bounds it anyway.
                    tokio::spawn(async move {
                        let _slot = InflightSlot(&me.inflight);
                        let outcome = Arc::new(me.run_once().await);
                        me.record(&outcome);
                        let _ = tx.send(Some(outcome));
                    });
                    rx
                }
            }
        };
        let result = rx
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|v| v.clone());
        result.unwrap_or_else(|| Arc::new(Outcome::down("read task failed".into(), Duration::ZERO)))
    }

    /// The last result, for polled sources and the status page.
    pub fn last(&self) -> Option<Arc<Outcome>> {
        self.lock().last.clone()
    }

    /// The last error of the source (even if it is up now), and when it happened.
    pub fn last_error(&self) -> Option<(String, SystemTime)> {
        self.lock().last_error.clone()
    }

    fn last_good(&self) -> Option<Arc<Outcome>> {
        self.lock().last_good.clone()
    }

    pub fn totals(&self) -> Totals {
        self.lock().totals.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn poll_forever(self: Arc<Self>, every: Duration) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            self.fetch_shared().await;
        }
    }
}

/// A sample's labels with `extra` added, replacing any label of the same name.
fn with_labels(labels: &[(String, String)], extra: &[(String, String)]) -> LabelSet {
    let mut labels = labels.to_vec();
    for (k, v) in extra {
        match labels.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v.clone(),
            None => labels.push((k.clone(), v.clone())),
        }
    }
    labels.into()
}

/// A configuration whose sources cannot be run as written; in the config error shape
/// (`origin: key: reason`).
#[derive(Debug, thiserror::Error)]
pub enum ScraperError {
    #[error(
        "{origin}: sources.{source_name}.parser: no parser named {parser:?} (see `metrics-adapter parsers`)"
    )]
    UnknownParser {
        /// The config file (or the embedded default) that names it.
        origin: String,
        source_name: String,
        parser: String,
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

/// Two sources with the same recipe and the same static labels write the same series (and
/// the same `nginx_up`): one would mask the other. A generic format (`kv`, `json`...) names
/// series after the input, so two of those need not collide; the page sorts that out at
/// run time.
fn check_same_series(settings: &Settings, registry: &Registry) -> Result<(), ScraperError> {
    let sources = &settings.sources;
    for (i, b) in sources.iter().enumerate() {
        let recipe = registry
            .get(&b.parser)
            .is_some_and(|e| e.origin != crate::parse::registry::Origin::Generic);
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

/// A page and what went into it.
#[derive(Debug)]
pub struct Page {
    pub families: FamilySet,
}

/// The adapter's own namespace: source data never writes it.
const SELF_PREFIX: &str = "metrics_adapter_";

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
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
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
                if let Source::File(file) = &mut spec.source {
                    file.frame_with(parser.framing());
                }
                let state = previous
                    .and_then(|p| {
                        p.targets
                            .iter()
                            .find(|t| t.spec.definition == spec.definition)
                    })
                    .map(|t| {
                        let old = t.lock();
                        Arc::new(Mutex::new(State {
                            totals: old.totals.clone(),
                            last_error: old.last_error.clone(),
                            ..State::default()
                        }))
                    })
                    .unwrap_or_default();
                Arc::new(Target {
                    spec,
                    parser,
                    reserved: reserved.clone(),
                    state,
                    inflight: Mutex::default(),
                })
            })
            .collect();
        Ok(Scraper {
            targets,
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

    /// Reads what needs reading and assembles the page.
    pub async fn scrape(&self) -> Page {
        self.read(false).await
    }

    /// Reads every source now, background ones too (`metrics-adapter once`).
    pub async fn scrape_now(&self) -> Page {
        self.read(true).await
    }

    async fn read(&self, all: bool) -> Page {
        let reads = self.targets.iter().cloned().map(|t| async move {
            match t.spec.refresh {
                Refresh::Every(_) if !all => t.last(),
                _ => Some(t.fetch_shared().await),
            }
        });
        let outcomes = futures_join_all(reads).await;
        self.assemble(&outcomes)
    }

    fn assemble(&self, outcomes: &[Option<Arc<Outcome>>]) -> Page {
        let mut set = FamilySet::new();
        let mut self_metrics = SelfMetrics::default();
        for (t, outcome) in self.targets.iter().zip(outcomes) {
            let waiting;
            let outcome = match outcome {
                Some(o) => o.as_ref(),
                None => {
                    waiting = Outcome::down(
                        "no result yet (first background read pending)".into(),
                        Duration::ZERO,
                    );
                    &waiting
                }
            };
            let before = set.series_count();
            let mut conflicts = Vec::new();
            if outcome.up {
                set.merge(&outcome.families, &mut conflicts);
            } else if let Some(good) = t.last_good() {
                set.reserve(&good.families);
            }
            let reached = set.series_count() - before;
            let lost = outcome.families.series_count().saturating_sub(reached);
            if let Some(up) = t.parser.up_metric() {
                let fam = Family::new(
                    up,
                    MetricKind::Gauge,
                    "Whether the last read of the source succeeded.",
                )
                .with_sample(t.spec.labels.clone(), f64::from(u8::from(outcome.up)));
                set.push(fam, &mut conflicts);
            }
            if lost > 0 {
                t.lock().totals.dropped_collision += lost as u64;
                debug!(
                    source = %t.spec.name,
                    lost,
                    first = %conflicts.first().map(ToString::to_string).unwrap_or_default(),
                    "series already written by an earlier source"
                );
            }
            self_metrics.add(t, outcome, reached);
        }
        let mut conflicts = Vec::new();
        set.extend(self_metrics.families(), &mut conflicts);
        for c in conflicts {
            warn!("{c}");
        }
        Page { families: set }
    }
}
/// Runs futures concurrently and keeps their order (what `futures::join_all` does).
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
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
            out[i] = Some(v);
        }
    }
    out.into_iter().flatten().collect()
}

/// The adapter's own families, one sample per source.
#[derive(Default)]
struct SelfMetrics {
    up: Vec<(Labels, f64)>,
    duration: Vec<(Labels, f64)>,
    age: Vec<(Labels, f64)>,
    samples: Vec<(Labels, f64)>,
    fetches: Vec<(Labels, f64)>,
    failures: Vec<(Labels, f64)>,
    parse_errors: Vec<(Labels, f64)>,
    unmatched: Vec<(Labels, f64)>,
    dropped: Vec<(Labels, f64)>,
    bytes: Vec<(Labels, f64)>,
    mtime: Vec<(Labels, f64)>,
}

impl SelfMetrics {
    /// `reached`: the series of this source that made it onto the page.
    fn add(&mut self, t: &Target, o: &Outcome, reached: usize) {
        let l = vec![("source".to_string(), t.spec.name.clone())];
        let totals = t.totals();
        self.up.push((l.clone(), f64::from(u8::from(o.up))));
        self.duration.push((l.clone(), o.duration.as_secs_f64()));
        if matches!(t.spec.refresh, Refresh::Every(_)) {
            let age = SystemTime::now()
                .duration_since(o.finished)
                .unwrap_or_default();
            self.age.push((l.clone(), age.as_secs_f64()));
        }
        if let Some(mtime) = o.file_mtime {
            self.mtime.push((l.clone(), mtime));
        }
        self.samples.push((l.clone(), reached as f64));
        self.fetches.push((l.clone(), totals.fetches as f64));
        self.failures.push((l.clone(), totals.failures as f64));
        self.parse_errors
            .push((l.clone(), totals.parse_errors as f64));
        self.unmatched.push((l.clone(), totals.unmatched as f64));
        for (reason, n) in [
            ("collision", totals.dropped_collision),
            ("reserved", totals.dropped_reserved),
        ] {
            let mut l = l.clone();
            l.push(("reason".to_string(), reason.to_string()));
            self.dropped.push((l, n as f64));
        }
        self.bytes.push((l, totals.bytes as f64));
    }

    fn families(self) -> Vec<Family> {
        let fam = |name: &str, kind, help: &str, samples: Vec<(Labels, f64)>| {
            samples.into_iter().fold(
                Family::new(format!("{SELF_PREFIX}{name}"), kind, help),
                |f, (l, v)| f.with_sample(l, v),
            )
        };
        use MetricKind::{Counter, Gauge};
        vec![
            fam(
                "source_up",
                Gauge,
                "Whether the last read and parse of the source succeeded (1) or not (0).",
                self.up,
            ),
            fam(
                "source_duration_seconds",
                Gauge,
                "How long the last read and parse of the source took.",
                self.duration,
            ),
            fam(
                "source_age_seconds",
                Gauge,
                "Age of the served result of a background-read source.",
                self.age,
            ),
            fam(
                "source_file_mtime_seconds",
                Gauge,
                "Modification time of a file source's file, as Unix time.",
                self.mtime,
            ),
            fam(
                "source_samples",
                Gauge,
                "Series of the source that reached this page.",
                self.samples,
            ),
            fam(
                "source_reads",
                Counter,
                "Reads of the source since start.",
                self.fetches,
            ),
            fam(
                "source_read_failures",
                Counter,
                "Reads of the source that failed (source down) since start.",
                self.failures,
            ),
            fam(
                "source_parse_errors",
                Counter,
                "Values skipped because they could not be used, since start.",
                self.parse_errors,
            ),
            fam(
                "source_unmatched",
                Counter,
                "Input the recipe read but no rule used (lines, keys, words), since start.",
                self.unmatched,
            ),
            fam(
                "source_dropped_series",
                Counter,
                "Series of the source left off pages: written by an earlier source (collision) or under a name the adapter reserves (reserved).",
                self.dropped,
            ),
            fam(
                "source_read_bytes",
                Counter,
                "Bytes read from the source since start.",
                self.bytes,
            ),
            Family::new(
                "metrics_adapter_build",
                MetricKind::Info,
                "A metric with a constant '1' value labeled by version, revision, branch, and rustversion from which metrics-adapter was built.",
            )
            .with_sample(build_labels(), 1.0),
        ]
    }
}

/// The labels of `metrics_adapter_build_info`, as the Go exporters' `<name>_build_info` has
/// them (`version`, `revision`, `branch`, `goversion`). The compiler's label is
/// `rustversion`: Go's name with the language swapped, so a query written for Go
/// exporters needs one word changed, and the label cannot be read as the adapter's own
/// version. Facts from build.rs; "unknown" when built without git.
pub fn build_labels() -> Labels {
    [
        ("version", env!("CARGO_PKG_VERSION")),
        ("revision", env!("METRICS_ADAPTER_REVISION")),
        ("branch", env!("METRICS_ADAPTER_BRANCH")),
        ("rustversion", env!("METRICS_ADAPTER_RUST_VERSION")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[cfg(test)]
mod tests;
