//! One read through a mapping ([`MappingRun`]): records are fed one at a time, as the format
//! reads them, and the families come out at the end, so no read holds all its records.

use std::borrow::Cow;

use foldhash::HashMap;

use super::build::Builder;
use super::required::Seen;
use super::{KeyRules, Known, Mapping, KNOWN_KEYS};
use crate::family::Family;
use crate::parse::totals::RunningTotals;
use crate::parse::trace::{Step, Trace};
use crate::parse::{Issue, ParseError, Record, RecordSink, Unmatched};

/// A key's cached resolution: `None` until the key repeats, then [`Mapping::resolve`]'s.
type Resolved = Option<Option<KeyRules>>;

/// A read in progress, fed one record at a time by a format (it is the format's
/// [`RecordSink`]): the families being built, the per-key rule cache, the mapping's issues
/// and unmatched, the `required` keys seen, the trace when explaining.
pub struct MappingRun<'m, 'a> {
    mapping: &'m Mapping,
    out: Builder,
    /// The mapping's own issues: they follow the format's in the read's list, as they did
    /// when the format read everything first.
    issues: Vec<Issue>,
    required: Seen<'m>,
    records: usize,
    limit: usize,
    /// What depends on the key alone (include/exclude, the rules whose key or pattern
    /// matches, their captures) is worked out once per key that repeats: a table repeats
    /// its columns' keys on every row, and the patterns were most of the mapping's time.
    /// Not when the first 512 keys hardly repeat (a kv dump), nor when explaining (the trace
    /// tells each record's way in full).
    cache: bool,
    by_key: HashMap<Cow<'a, str>, Resolved>,
    /// The keys earlier reads met, as this read started; the keys it meets that are not
    /// there are added at its end (while there is room).
    known: Known,
    /// Running totals that accumulating rules add into as the read goes, a batch at a
    /// time, so a long log read whole holds no more than a batch of its events.
    feeding: Option<Feeding>,
}

/// Running totals a read adds into (see [`Mapping::run_into`]).
struct Feeding {
    totals: RunningTotals,
    max_series: usize,
    dropped: u64,
}

/// Events kept before they are added into the totals.
const BATCH: usize = 4096;

/// What a run made: the families, and what the read needs to decide whether it stands.
pub struct Finished {
    pub families: Vec<Family>,
    /// The mapping's issues (the format's are kept apart by the caller).
    pub issues: Vec<Issue>,
    /// What the mapping did not use.
    pub unmatched: Unmatched,
    /// Records fed, also those past the limit.
    pub records: usize,
    /// `Err` when a `required` key was never seen.
    pub required: Result<(), ParseError>,
    pub trace: Option<Trace>,
    /// What accumulating rules made: values to add into running totals (empty when the
    /// run added them itself, see [`Mapping::run_into`]).
    pub observed: Vec<super::Observation>,
    /// The totals given to [`Mapping::run_into`], with what was added.
    pub totals: Option<RunningTotals>,
    /// New label sets the totals refused: `max_series` reached.
    pub dropped: u64,
}

impl Finished {
    /// Adds the mapping's issues and unmatched after the format's, as one list.
    pub fn merge_into(&mut self, issues: &mut Vec<Issue>, unmatched: &mut Unmatched) {
        issues.append(&mut self.issues);
        let mine = std::mem::take(&mut self.unmatched);
        unmatched.count += mine.count;
        if unmatched.first.is_none() {
            unmatched.first = mine.first;
        }
    }
}

impl Mapping {
    /// Starts a read. Past `limit` records the families are dropped and records only
    /// counted (the read is refused; see [`crate::recipe::Parser::parse_capped`]). `traced`
    /// records what became of each record, for `parse --explain`.
    pub fn run(&self, limit: usize, traced: bool) -> MappingRun<'_, '_> {
        let mut out = Builder::new(self);
        out.trace = traced.then(Trace::default);
        MappingRun {
            mapping: self,
            out,
            issues: Vec::new(),
            required: Seen::new(&self.required),
            records: 0,
            limit,
            cache: !traced,
            by_key: HashMap::default(),
            known: if traced {
                Known::default()
            } else {
                self.known()
            },
            feeding: None,
        }
    }

    /// Starts a read whose accumulating rules add into `totals` (bounded by `max_series`)
    /// as it goes; [`Finished::totals`] hands them back.
    pub fn run_into(&self, totals: RunningTotals, max_series: usize) -> MappingRun<'_, '_> {
        let mut run = self.run(usize::MAX, false);
        let mut totals = totals;
        run.out.state = std::mem::take(&mut totals.line_state);
        run.feeding = Some(Feeding {
            totals,
            max_series,
            dropped: 0,
        });
        run
    }
}

impl<'a> RecordSink<'a> for MappingRun<'_, 'a> {
    fn push(&mut self, record: Record<'a>) {
        let (m, issues, out) = (self.mapping, &mut self.issues, &mut self.out);
        self.required.see(&record.key);
        self.records += 1;
        if self.records > self.limit {
            if self.records == self.limit.saturating_add(1) {
                // Refused at the end whatever comes: what was built is no longer needed.
                *out = Builder::new(m);
                self.by_key = HashMap::default();
                self.cache = false;
            }
            return;
        }
        if self.cache {
            if let Some(hits) = self.known.get(record.key.as_ref()) {
                if let Some(hits) = hits {
                    m.apply_cached(hits, &record, issues, out);
                }
                if self.out.observed.len() >= BATCH {
                    self.add_observed();
                }
                return;
            }
        }
        // Keys that hardly repeat within a read and cannot be kept for the next (no room
        // left) are not worth a cache entry each.
        let full = self.known.len() >= KNOWN_KEYS;
        if self.cache && full && self.records == 513 && self.by_key.len() > 384 {
            self.cache = false;
            self.by_key = HashMap::default();
        }
        if self.cache {
            match self.by_key.get_mut(record.key.as_ref()) {
                None => {
                    self.by_key.insert(record.key.clone(), None);
                    m.apply_one(&record, issues, out);
                }
                Some(again) => {
                    let hits = again.get_or_insert_with(|| m.resolve(&record.key));
                    if let Some(hits) = hits {
                        m.apply_cached(hits, &record, issues, out);
                    }
                }
            }
            if self.out.observed.len() >= BATCH {
                self.add_observed();
            }
            return;
        }
        let before = issues.len();
        if let Some(t) = &mut out.trace {
            t.start(&record);
        }
        m.apply_one(&record, issues, out);
        if let Some(t) = &mut out.trace {
            for issue in issues.iter().skip(before) {
                t.step(Step::Problem(issue.message.clone()));
            }
        }
    }
}

impl MappingRun<'_, '_> {
    /// Adds the events so far into the run's totals, if it has them.
    fn add_observed(&mut self) {
        if let Some(f) = &mut self.feeding {
            f.dropped += f.totals.add(
                self.mapping,
                &self.out.families,
                &self.out.observed,
                f.max_series,
                &mut self.issues,
            );
            self.out.observed.clear();
        }
    }

    /// Ends the read: summaries and histograms are completed and the families handed over.
    pub fn finish(mut self) -> Finished {
        self.add_observed();
        // A read past its limit is refused whatever it met: its keys are not kept.
        if self.cache && !self.by_key.is_empty() && self.known.len() < KNOWN_KEYS {
            self.mapping.publish(self.by_key.drain());
        }
        let (totals, dropped) = match self.feeding.take() {
            Some(mut f) => {
                f.totals.line_state = std::mem::take(&mut self.out.state);
                (Some(f.totals), f.dropped)
            }
            None => (None, 0),
        };
        self.out.finish(&mut self.issues);
        let required = self.required.check(&self.out.families);
        Finished {
            families: self.out.families,
            issues: self.issues,
            unmatched: self.out.unused,
            records: self.records,
            required,
            trace: self.out.trace,
            observed: self.out.observed,
            totals,
            dropped,
        }
    }
}
