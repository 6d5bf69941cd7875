//! Scraping: fetch + parse every source, bounded in time, and assemble one page.
//!
//! By default each `/metrics` request reads every source concurrently, so data is never
//! stale and a scrape never waits past the slowest source's timeout. Scrapes that arrive
//! while a source is being read share that read. A source with an `interval` is read in the
//! background instead and its last result is served, with its age.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use tracing::{debug, warn};

use crate::config::{Refresh, Settings, SourceSpec};
use crate::family::{exposed_name, Family, FamilySet, LabelSet, Labels, MetricKind, PerLabelSet};
use crate::parse::{Parser, Registry};

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
    pub bytes: u64,
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
            bytes: 0,
            duration,
            finished: SystemTime::now(),
        }
    }
}

/// Totals since start, exposed as counters.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub fetches: u64,
    pub failures: u64,
    pub parse_errors: u64,
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct State {
    totals: Totals,
    last: Option<Arc<Outcome>>,
}

type Inflight = watch::Receiver<Option<Arc<Outcome>>>;

/// One configured source with its parser and state.
#[derive(Debug)]
pub struct Target {
    pub spec: SourceSpec,
    pub parser: Arc<dyn Parser>,
    state: Mutex<State>,
    inflight: Mutex<Option<Inflight>>,
}

impl Target {
    /// Reads and parses once, within the timeout.
    async fn run_once(&self) -> Outcome {
        let start = Instant::now();
        let spec = &self.spec;
        let work = async {
            let bytes = spec
                .source
                .fetch(spec.max_bytes)
                .await
                .map_err(|e| e.to_string())?;
            let parsed = self
                .parser
                .parse(&bytes)
                .map_err(|e| format!("parser {}: {e}", self.parser.name()))?;
            Ok::<_, String>((bytes.len() as u64, parsed))
        };
        let (bytes, parsed) = match tokio::time::timeout(spec.timeout, work).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return Outcome::down(e, start.elapsed()),
            Err(_) => {
                return Outcome::down(
                    format!("timed out after {:?}", spec.timeout),
                    start.elapsed(),
                )
            }
        };
        let mut families = parsed.families;
        self.relabel(&mut families);
        let mut set = FamilySet::new();
        let mut conflicts = Vec::new();
        set.extend(families, &mut conflicts);
        for c in &conflicts {
            warn!(source = %spec.name, "{}", c.0);
        }
        Outcome {
            families: set,
            up: true,
            error: None,
            first_issue: (parsed.issues.first().map(ToString::to_string))
                .or_else(|| conflicts.first().map(|c| c.0.clone())),
            issues: (parsed.issues.len() + conflicts.len()) as u64,
            bytes,
            duration: start.elapsed(),
            finished: SystemTime::now(),
        }
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
        state.totals.fetches += 1;
        state.totals.failures += u64::from(!outcome.up);
        state.totals.parse_errors += outcome.issues;
        state.totals.bytes += outcome.bytes;
        state.last = Some(outcome.clone());
        drop(state);
        match &outcome.error {
            Some(e) => warn!(source = %self.spec.name, error = %e, "source down"),
            None if outcome.issues > 0 => debug!(
                source = %self.spec.name,
                skipped = outcome.issues,
                first = outcome.first_issue.as_deref().unwrap_or(""),
                "values skipped"
            ),
            None => {}
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
                        let outcome = Arc::new(me.run_once().await);
                        me.record(&outcome);
                        *me.inflight.lock().unwrap_or_else(PoisonError::into_inner) = None;
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
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last
            .clone()
    }

    pub fn totals(&self) -> Totals {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .totals
            .clone()
    }

    async fn poll_forever(self: Arc<Self>, every: Duration) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let outcome = Arc::new(self.run_once().await);
            self.record(&outcome);
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

#[derive(Debug, thiserror::Error)]
#[error(
    "{origin}: sources.{source_name}.parser: no parser named {parser:?} (see `metrics-adapter parsers`)"
)]
pub struct UnknownParser {
    /// The config file (or the embedded default) that names it.
    pub origin: String,
    pub source_name: String,
    pub parser: String,
}

/// All targets of one configuration.
#[derive(Debug)]
pub struct Scraper {
    targets: Vec<Arc<Target>>,
    pollers: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Scraper {
    fn drop(&mut self) {
        for p in &self.pollers {
            p.abort();
        }
    }
}

/// A page and what went into it.
#[derive(Debug)]
pub struct Page {
    pub families: FamilySet,
}

impl Scraper {
    /// Resolves every source's parser. Does not start anything.
    pub fn new(settings: &Settings, registry: &Registry) -> Result<Scraper, UnknownParser> {
        let targets = settings
            .sources
            .iter()
            .map(|spec| {
                let entry = registry.get(&spec.parser).ok_or_else(|| UnknownParser {
                    origin: settings.origin.to_string(),
                    source_name: spec.name.clone(),
                    parser: spec.parser.clone(),
                })?;
                Ok(Arc::new(Target {
                    spec: spec.clone(),
                    parser: entry.parser.clone(),
                    state: Mutex::default(),
                    inflight: Mutex::default(),
                }))
            })
            .collect::<Result<_, _>>()?;
        Ok(Scraper {
            targets,
            pollers: Vec::new(),
        })
    }

    pub fn targets(&self) -> &[Arc<Target>] {
        &self.targets
    }

    /// Starts background reading for sources with an `interval` (needs a runtime).
    pub fn start_pollers(&mut self) {
        for t in &self.targets {
            if let Refresh::Every(every) = t.spec.refresh {
                self.pollers
                    .push(tokio::spawn(t.clone().poll_forever(every)));
            }
        }
    }

    /// Reads what needs reading and assembles the page.
    pub async fn scrape(&self) -> Page {
        let reads = self.targets.iter().cloned().map(|t| async move {
            match t.spec.refresh {
                Refresh::OnScrape => Some(t.fetch_shared().await),
                Refresh::Every(_) => t.last(),
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
            let mut conflicts = Vec::new();
            set.merge(&outcome.families, &mut conflicts);
            if let Some(up) = t.parser.up_metric() {
                let fam = Family::new(
                    up,
                    MetricKind::Gauge,
                    "Whether the last read of the source succeeded.",
                )
                .with_sample(t.spec.labels.clone(), f64::from(u8::from(outcome.up)));
                set.push(fam, &mut conflicts);
            }
            for c in &conflicts {
                warn!(source = %t.spec.name, "{}", c.0);
            }
            self_metrics.add(t, outcome, conflicts.len() as u64);
        }
        let mut conflicts = Vec::new();
        set.extend(self_metrics.families(), &mut conflicts);
        for c in conflicts {
            warn!("{}", c.0);
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
    bytes: Vec<(Labels, f64)>,
}

impl SelfMetrics {
    fn add(&mut self, t: &Target, o: &Outcome, conflicts: u64) {
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
        let samples = o.families.series_count();
        self.samples.push((l.clone(), samples as f64));
        self.fetches.push((l.clone(), totals.fetches as f64));
        self.failures.push((l.clone(), totals.failures as f64));
        self.parse_errors
            .push((l.clone(), (totals.parse_errors + conflicts) as f64));
        self.bytes.push((l, totals.bytes as f64));
    }

    fn families(self) -> Vec<Family> {
        let fam = |name: &str, kind, help: &str, samples: Vec<(Labels, f64)>| {
            samples.into_iter().fold(
                Family::new(format!("metrics_adapter_{name}"), kind, help),
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
                "source_samples",
                Gauge,
                "Samples the source contributed to the page.",
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
                "source_read_bytes",
                Counter,
                "Bytes read from the source since start.",
                self.bytes,
            ),
            Family::new(
                "metrics_adapter_build",
                MetricKind::Info,
                "Version of metrics-adapter.",
            )
            .with_sample(
                vec![("version".to_string(), env!("CARGO_PKG_VERSION").to_string())],
                1.0,
            ),
        ]
    }
}

#[cfg(test)]
mod tests;
