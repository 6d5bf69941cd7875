//! One source's reads: fetch + parse within the timeout, the result ([`Outcome`]), the
//! counters that outlive it ([`Totals`]), and a read shared by the scrapes that arrive
//! while it is in flight. A parser that panics takes down its source, never the process.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use foldhash::HashSet;
use tokio::sync::watch;
use tracing::{debug, info, warn};

pub use super::failure::FailureKind;
use super::isolated::parse_isolated;
use crate::config::SourceSpec;
use crate::family::FamilySet;
use crate::recipe::Parser;

mod names;
mod outcome;

pub use outcome::{Outcome, Totals};

#[derive(Debug, Default)]
struct State {
    totals: Totals,
    last: Option<Arc<Outcome>>,
    /// The last result that was up: while the source is down it still holds its series'
    /// places on the page (see [`FamilySet::reserve`]).
    last_good: Option<Arc<Outcome>>,
    /// The bytes `last` was parsed from, while `last` is up.
    last_input: Option<Arc<Vec<u8>>>,
    /// When "source down" was last logged.
    down_logged: Option<Instant>,
    /// Since when the source is down (`None` while up), for the recovery's log line.
    down_since: Option<Instant>,
    /// What the last "unmatched" warning was about (see [`unmatched_key`]), and when.
    unmatched_warned: Option<(String, Instant)>,
    /// The latest first unmatched input, kept while later reads have none (a followed
    /// log's polls without new lines): for the status page.
    last_unmatched: Option<String>,
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
    /// Lines of the longest block the recipe's framing cut from this source's answers.
    block_lines: std::sync::atomic::AtomicUsize,
    /// A followed log's last page part, and the totals' version it was built from: while
    /// nothing new is read it is served again, not rebuilt (see [`Target::follow`]).
    pub(super) followed: Mutex<Option<Built>>,
    /// A followed log's running totals: its lines, added up by the line recipe. Shared
    /// with the next config's target when a reload leaves the source as it was.
    pub(super) running: Arc<Mutex<super::file_totals::FileTotals>>,
    /// One parse at a time (see [`parse_isolated`]).
    parsing: Arc<tokio::sync::Semaphore>,
}

/// Clears a target's in-flight slot when the read ends, however it ends (finished, failed,
/// or its task dropped), so a later scrape never waits on a read that is gone.
struct InflightSlot<'a>(&'a Mutex<Option<Inflight>>);

impl Drop for InflightSlot<'_> {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// Seconds since the epoch.
fn unix_time(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Target {
    /// A target; `same` is the target of the previous config with the same definition,
    /// whose counters (and last error) it carries on.
    pub(super) fn new(
        spec: SourceSpec,
        parser: Arc<dyn Parser>,
        reserved: Arc<HashSet<String>>,
        same: Option<&Target>,
    ) -> Target {
        let mut spec = spec;
        let mut running = Arc::default();
        if let (crate::source::Source::Tail(new), Some(old)) = (&mut spec.source, same) {
            if let crate::source::Source::Tail(old_tail) = &old.spec.source {
                // The position and the totals go on together: neither recounts.
                new.adopt(old_tail);
                running = old.running.clone();
            }
        }
        if let (crate::source::Source::Tail(_), None) = (&spec.source, same) {
            // A followed log's events are relabeled before they are counted.
            let totals: &Mutex<super::file_totals::FileTotals> = &running;
            (totals.lock().unwrap_or_else(PoisonError::into_inner))
                .relabel_with(spec.relabel.clone());
        }
        let state = same.map_or_else(State::default, |t| {
            let old = t.lock();
            State {
                totals: old.totals.clone(),
                last_error: old.last_error.clone(),
                ..State::default()
            }
        });
        Target {
            spec,
            parser,
            reserved,
            state: Arc::new(Mutex::new(state)),
            inflight: Mutex::default(),
            block_lines: std::sync::atomic::AtomicUsize::new(0),
            followed: Mutex::default(),
            running,
            parsing: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// Reads and parses once, within `timeout` (the source's, or less when the scrape that
    /// started the read has less time left); with the result, the bytes it was parsed from
    /// when it is up.
    async fn run_once(self: &Arc<Self>, timeout: Duration) -> (Outcome, Option<Arc<Vec<u8>>>) {
        if let crate::source::Source::Tail(tail) = &self.spec.source {
            // A followed log's reads are never the same input twice.
            return (self.follow(tail).await.for_showing(), None);
        }
        let mut input = None;
        let outcome = self.read_and_parse(timeout, &mut input).await;
        let input = input.filter(|_| outcome.up);
        (outcome.for_showing(), input)
    }

    /// When the source gives the same bytes as the last read, and that read was up (an
    /// unchanged file, a status page between changes), its result is served again without
    /// parsing: parsing is pure, so it would give the same families, issues and counts.
    async fn read_and_parse(&self, timeout: Duration, input: &mut Option<Arc<Vec<u8>>>) -> Outcome {
        let start = Instant::now();
        let spec = &self.spec;
        let mut read_bytes = 0;
        let mut file_mtime = None;
        let work = async {
            let frame = self.parser.framing().map(|framing| crate::source::Frame {
                framing,
                known_lines: &self.block_lines,
            });
            let fetch = spec.source.fetch(spec.max_bytes, timeout, frame).await;
            read_bytes = fetch.read_bytes;
            file_mtime = fetch.modified.map(unix_time);
            let stale = super::stale::check(spec.max_age, &fetch, SystemTime::now());
            let bytes = fetch
                .data
                .map_err(|e| (FailureKind::of_source(&e), e.to_string()))?;
            if let Some(reason) = stale {
                let what = spec.source.describe();
                return Err((FailureKind::Stale, format!("{what}: {reason}")));
            }
            let bytes = Arc::new(bytes);
            *input = Some(bytes.clone());
            if let Some(same) = self.same_as_last(&bytes) {
                return Ok(Err(same));
            }
            parse_isolated(&self.parsing, self.parser.clone(), bytes, spec.max_series)
                .await
                .map(Ok)
        };
        let result = tokio::time::timeout(timeout, work).await;
        // What was read is reported even when the read did not give a page.
        let down = |kind, error| Outcome {
            bytes: read_bytes,
            file_mtime,
            ..Outcome::down(kind, error, start.elapsed())
        };
        let bounded = match result {
            Ok(Ok(Ok(bounded))) => bounded,
            Ok(Ok(Err(same))) => {
                return Outcome {
                    bytes: read_bytes,
                    file_mtime,
                    duration: start.elapsed(),
                    finished: SystemTime::now(),
                    ..(*same).clone()
                }
            }
            Ok(Err((kind, e))) => return down(kind, e),
            Err(_) => return down(FailureKind::Timeout, format!("timed out after {timeout:?}")),
        };
        let (cut, first_cut) = (bounded.cut, bounded.first_cut);
        let parsed = bounded.parsed;
        let mut families = parsed.families;
        let series: usize = families.iter().map(|f| f.samples.len()).sum();
        if series > spec.max_series {
            return down(
                FailureKind::Limit,
                format!(
                    "{series} series, more than max_series ({}); raise it, or drop what is not \
                     needed with exclude",
                    spec.max_series
                ),
            );
        }
        let reserved = self.drop_reserved(&mut families);
        self.relabel(&mut families);
        let mut set = FamilySet::new();
        let mut conflicts = Vec::new();
        set.extend(families, &mut conflicts);
        // Every series again, block after block: an append log read as one dump. Serving
        // the first copy would be serving the oldest numbers.
        if let Some((repeats, distinct)) = crate::family::repeated_series(&set, &conflicts) {
            let counts = format!("{repeats} repeated, {distinct} distinct");
            return down(FailureKind::Parse, self.repeats_reason(&counts));
        }
        for c in &conflicts {
            debug!(source = %spec.name, "{c}");
        }
        set.compact();
        Outcome {
            families: Arc::new(set),
            up: true,
            error: None,
            failure: None,
            first_issue: (parsed.issues.first().map(ToString::to_string))
                .or(first_cut)
                .or_else(|| conflicts.first().map(ToString::to_string)),
            issues: (parsed.issues.len() + conflicts.len()) as u64 + cut,
            unmatched: parsed.unmatched.count,
            first_unmatched: parsed.unmatched.first,
            reserved,
            dropped_limit: 0,
            state_dropped: [0; 2],
            bytes: read_bytes,
            file_mtime,
            duration: start.elapsed(),
            finished: SystemTime::now(),
            families_dropped: false,
        }
    }

    /// Why an input that repeats every series is refused, in terms of what is really wrong:
    /// no framing at all, or a framing whose blocks still hold several dumps.
    fn repeats_reason(&self, counts: &str) -> String {
        // A file source may set its own framing (it holds the recipe's otherwise).
        let (own_keys, framing) = match &self.spec.source {
            crate::source::Source::File(f) => (true, f.framing.as_ref()),
            _ => (false, self.parser.framing()),
        };
        let or_source = if own_keys {
            " or set block_start on the source"
        } else {
            ""
        };
        match framing {
            Some(f) => format!(
                "the block the framing cut still repeats its series ({counts}): block_start \
                 {:?} does not match the first line of each dump",
                f.start.as_str()
            ),
            None => format!(
                "the input repeats its series ({counts}): it looks like an append log of \
                 whole dumps, and recipe {:?} has no [framing]; use one that has (such as \
                 meminfo_appended){or_source}",
                self.spec.parser
            ),
        }
    }

    /// The last result, when it is up and was parsed from `bytes`.
    fn same_as_last(&self, bytes: &[u8]) -> Option<Arc<Outcome>> {
        let state = self.lock();
        let same = state.last_input.as_deref().is_some_and(|b| b[..] == *bytes);
        state.last.clone().filter(|last| same && last.up)
    }

    fn record(&self, outcome: &Arc<Outcome>, input: Option<Arc<Vec<u8>>>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.last_input = input;
        // Keyed on the kind of failure, not its text: a stale file's message holds its
        // age, which changes every second.
        let changed =
            state.last.as_ref().map(|l| (l.up, l.failure)) != Some((outcome.up, outcome.failure));
        let remind = !outcome.up
            && (changed
                || state
                    .down_logged
                    .map_or(true, |t| t.elapsed() >= DOWN_REMINDER));
        if remind {
            state.down_logged = Some(Instant::now());
        }
        let was_down = match (outcome.up, state.down_since) {
            (true, since) => {
                state.down_since = None;
                since.filter(|_| state.last.is_some())
            }
            (false, None) => {
                state.down_since = Some(Instant::now());
                None
            }
            (false, Some(_)) => None,
        };
        let tail = matches!(self.spec.source, crate::source::Source::Tail(_));
        let warn_unmatched = outcome.first_unmatched.as_deref().and_then(|first| {
            let key = unmatched_key(first, tail);
            let again = state
                .unmatched_warned
                .as_ref()
                .is_some_and(|(k, at)| *k == key && (!tail || at.elapsed() < DOWN_REMINDER));
            state.last_unmatched = Some(first.to_string());
            (!again).then(|| {
                state.unmatched_warned = Some((key, Instant::now()));
                first.to_string()
            })
        });
        state.totals.fetches += 1;
        state.totals.failures += u64::from(!outcome.up);
        if let Some(kind) = outcome.failure {
            if let Some(i) = FailureKind::ALL.iter().position(|k| *k == kind) {
                if let Some(n) = state.totals.failures_by_kind.get_mut(i) {
                    *n += 1;
                }
            }
        }
        state.totals.parse_errors += outcome.issues;
        state.totals.unmatched += outcome.unmatched;
        state.totals.dropped_reserved += outcome.reserved;
        state.totals.dropped_limit += outcome.dropped_limit;
        for (total, n) in state
            .totals
            .state_dropped
            .iter_mut()
            .zip(outcome.state_dropped)
        {
            *total += n;
        }
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
        // not on every read. The error may quote the app's text: its control characters are
        // escaped already (`Outcome::for_showing`), so a newline in it cannot forge a log
        // line.
        match &outcome.error {
            Some(e) if remind => warn!(source = %self.spec.name, error = %e, "source down"),
            Some(_) => {}
            None => match was_down {
                Some(since) => info!(
                    source = %self.spec.name,
                    "source up again after {} s down",
                    since.elapsed().as_secs()
                ),
                None if changed => debug!(source = %self.spec.name, "source up"),
                None => {}
            },
        }
        if let Some(first) = warn_unmatched {
            warn!(
                source = %self.spec.name,
                unmatched = outcome.unmatched,
                first = ?first,
                "input no rule matches (unmatched): the app's format may have changed"
            );
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
        self.fetch_shared_within(self.spec.timeout).await
    }

    /// [`Target::fetch_shared`] for a scrape that must be answered within `budget` (what
    /// Prometheus' `X-Prometheus-Scrape-Timeout-Seconds` leaves): a slow app then shows as
    /// `up 0` on a page that arrives in time, not as a failed scrape. A read this call
    /// starts is cut at the budget; a read in flight is waited on for the budget only (it
    /// goes on, bounded by its own timeout, and records its result for later scrapes).
    pub async fn fetch_within(self: &Arc<Self>, budget: Option<Duration>) -> Arc<Outcome> {
        let Some(budget) = budget.filter(|b| *b < self.spec.timeout) else {
            return self.fetch_shared().await;
        };
        match tokio::time::timeout(budget, self.fetch_shared_within(budget)).await {
            Ok(outcome) => outcome,
            Err(_) => Arc::new(Outcome::down(
                FailureKind::Timeout,
                format!(
                    "no result within the scrape's budget of {budget:?} (from \
                     X-Prometheus-Scrape-Timeout-Seconds; the source's timeout is {:?})",
                    self.spec.timeout
                ),
                budget,
            )),
        }
    }

    async fn fetch_shared_within(self: &Arc<Self>, timeout: Duration) -> Arc<Outcome> {
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
                        let (outcome, input) = me.run_once(timeout).await;
                        let outcome = Arc::new(outcome);
                        me.record(&outcome, input);
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
        result.unwrap_or_else(|| {
            Arc::new(Outcome::down(
                FailureKind::Bug,
                "read task failed".into(),
                Duration::ZERO,
            ))
        })
    }

    /// Replaces `outcome`, the last result, by a copy without its families, once its page
    /// is encoded (see [`super::Scraper::scrape_page`]); only a result a read of the same
    /// bytes would reuse (not a followed log's). The copy's families, or `None`.
    pub(super) fn drop_families(&self, outcome: &Arc<Outcome>) -> Option<Arc<FamilySet>> {
        let mut state = self.lock();
        let last = state.last.as_ref()?;
        if !Arc::ptr_eq(&last.families, &outcome.families)
            || !outcome.up
            || state.last_input.is_none()
        {
            return None;
        }
        let slim = Arc::new(Outcome {
            families: Arc::default(),
            families_dropped: true,
            ..(**outcome).clone()
        });
        if state
            .last_good
            .as_ref()
            .is_some_and(|g| Arc::ptr_eq(&g.families, &outcome.families))
        {
            state.last_good = Some(slim.clone());
        }
        let families = slim.families.clone();
        state.last = Some(slim);
        Some(families)
    }

    /// Makes the next read parse whatever it reads (after the families were dropped).
    pub(super) fn forget_input(&self) {
        self.lock().last_input = None;
    }

    /// The last result, for polled sources and the status page.
    pub fn last(&self) -> Option<Arc<Outcome>> {
        self.lock().last.clone()
    }

    /// The last error of the source (even if it is up now), and when it happened.
    pub fn last_error(&self) -> Option<(String, SystemTime)> {
        self.lock().last_error.clone()
    }

    pub(super) fn last_good(&self) -> Option<Arc<Outcome>> {
        self.lock().last_good.clone()
    }

    /// The latest first unmatched input seen (escaped by the caller), for the status page.
    pub fn last_unmatched(&self) -> Option<String> {
        self.lock().last_unmatched.clone()
    }

    /// Series of this source left off a page because an earlier source wrote them.
    pub(super) fn count_dropped_collisions(&self, n: u64) {
        self.lock().totals.dropped_collision += n;
    }

    pub fn totals(&self) -> Totals {
        self.lock().totals.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) async fn poll_forever(self: Arc<Self>, every: Duration) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            self.fetch_shared().await;
        }
    }
}

/// What an "unmatched" warning is about: the first unmatched input without its digits
/// (a value that changes is not a new format); for a followed log, whose lines all
/// differ, only that there are such lines (reminded once a minute while they come).
fn unmatched_key(first: &str, tail: bool) -> String {
    if tail {
        return String::new();
    }
    first.chars().filter(|c| !c.is_ascii_digit()).collect()
}

/// A followed log's page part, built from its running totals at `version` (see
/// [`Target::follow`], in `follow.rs`).
#[derive(Debug, Clone)]
pub(super) struct Built {
    pub(super) version: u64,
    pub(super) families: Arc<crate::family::FamilySet>,
    pub(super) reserved: u64,
    pub(super) conflicts: u64,
    pub(super) first_conflict: Option<String>,
}
