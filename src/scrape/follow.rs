//! A `tail` source's read: steps of its follower (each a bounded read, on the blocking
//! pool) until the log's end or half the source timeout, then its running totals as the
//! result. It runs where any read runs (the background poll of an `interval` source, which
//! a tail source always is), so `/readyz`, the status page and reloads treat it as one.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, PoisonError};
use std::time::{Instant, SystemTime};

use super::target::{FailureKind, Outcome, Target};
use crate::family::{bounds, FamilySet};
use crate::parse::accumulate::Rules;
use crate::parse::Unmatched;
use crate::source::tail::{Step, TailSource};

impl Target {
    pub(super) async fn follow(self: &Arc<Self>, tail: &TailSource) -> Outcome {
        let start = Instant::now();
        let spec = &self.spec;
        let Some(rules) = self.parser.log_rules().cloned() else {
            return Outcome::down(
                FailureKind::Parse,
                format!("parser {} is not a log recipe", self.parser.name()),
                start.elapsed(),
            );
        };
        // A burst is consumed chunk after chunk; the rest waits for the next poll once
        // half the timeout is spent, so each result is served on time.
        let budget = spec.timeout / 2;
        let (mut bytes, mut issues, mut first_issue, mut dropped) = (0, 0, None, 0);
        let mut unmatched = Unmatched::default();
        loop {
            let (t, r) = (tail.clone(), rules.clone());
            let (max_bytes, max_series) = (spec.max_bytes, spec.max_series);
            let run = move || {
                std::panic::catch_unwind(AssertUnwindSafe(|| t.step(&r, max_bytes, max_series)))
            };
            let step: Step = match tokio::task::spawn_blocking(run).await {
                Ok(Ok(Ok(step))) => step,
                Ok(Ok(Err(e))) => {
                    return Outcome {
                        bytes,
                        dropped_limit: dropped,
                        ..Outcome::down(FailureKind::Read, e.to_string(), start.elapsed())
                    }
                }
                _ => {
                    return Outcome::down(
                        FailureKind::Bug,
                        "the log follower failed (a bug; please report it)".into(),
                        start.elapsed(),
                    )
                }
            };
            bytes += step.bytes;
            issues += step.fed.issues + step.too_long;
            if first_issue.is_none() {
                first_issue = step.fed.first_issues.first().map(ToString::to_string);
                if step.too_long > 0 {
                    first_issue = first_issue.or(Some(format!(
                        "a line longer than max_bytes ({max_bytes}) was skipped"
                    )));
                }
            }
            unmatched.count += step.fed.unmatched.count;
            if unmatched.first.is_none() {
                unmatched.first = step.fed.unmatched.first;
            }
            dropped += step.fed.dropped;
            if !step.more || start.elapsed() >= budget {
                break;
            }
        }
        let built = match self.built_if_current(tail) {
            Some(built) => built,
            None => {
                let (me, t) = (self.clone(), tail.clone());
                match tokio::task::spawn_blocking(move || me.build(&t, &rules)).await {
                    Ok(Ok(built)) => built,
                    Ok(Err(size)) => {
                        return Outcome {
                            bytes,
                            dropped_limit: dropped,
                            ..Outcome::down(
                                FailureKind::Limit,
                                super::isolated::page_too_big(size),
                                start.elapsed(),
                            )
                        }
                    }
                    Err(_) => {
                        return Outcome::down(
                            FailureKind::Bug,
                            "building the log's totals failed (a bug; please report it)".into(),
                            start.elapsed(),
                        )
                    }
                }
            }
        };
        Outcome {
            families: built.families,
            up: true,
            error: None,
            failure: None,
            first_issue: first_issue.or(built.first_conflict),
            issues: issues + built.conflicts,
            unmatched: unmatched.count,
            first_unmatched: unmatched.first,
            reserved: built.reserved,
            dropped_limit: dropped,
            bytes,
            file_mtime: None,
            duration: start.elapsed(),
            finished: SystemTime::now(),
            families_dropped: false,
        }
    }
}

/// A followed log's page part, built from the totals at `version`.
#[derive(Debug, Clone)]
pub(super) struct Built {
    version: u64,
    families: Arc<FamilySet>,
    reserved: u64,
    conflicts: u64,
    first_conflict: Option<String>,
}

impl Target {
    /// The last page part, when the totals have not changed since it was built: a poll
    /// that read nothing new costs a lock, not a rebuild of every family.
    fn built_if_current(&self, tail: &TailSource) -> Option<Built> {
        let built = self.followed.lock().unwrap_or_else(PoisonError::into_inner);
        built
            .as_ref()
            .filter(|b| b.version == tail.version())
            .cloned()
    }

    /// Builds the page part from the totals (blocking: families, relabelling and merging
    /// of a big state take a while), keeps it for [`Target::built_if_current`]. `Err`
    /// with the size when it passes [`bounds::PAGE_MAX`].
    fn build(&self, tail: &TailSource, rules: &Rules) -> Result<Built, usize> {
        let (version, mut families) = tail.families(rules);
        let size = bounds::page_size(&families);
        if size > bounds::PAGE_MAX {
            return Err(size);
        }
        let reserved = self.drop_reserved(&mut families);
        self.relabel(&mut families);
        let mut set = FamilySet::new();
        let mut conflicts = Vec::new();
        set.extend(families, &mut conflicts);
        let built = Built {
            version,
            families: Arc::new(set),
            reserved,
            conflicts: conflicts.len() as u64,
            first_conflict: conflicts.first().map(ToString::to_string),
        };
        *self.followed.lock().unwrap_or_else(PoisonError::into_inner) = Some(built.clone());
        Ok(built)
    }
}
