//! A `tail` source's read: steps of its follower (each a bounded read, on the blocking
//! pool) until the log's end or half the source timeout, then its running totals as the
//! result. It runs where any read runs (the background poll of an `interval` source, which
//! a tail source always is), so `/readyz`, the status page and reloads treat it as one.

use std::panic::AssertUnwindSafe;
use std::time::{Instant, SystemTime};

use super::target::{FailureKind, Outcome, Target};
use crate::family::FamilySet;
use crate::parse::Unmatched;
use crate::source::tail::{Step, TailSource};

impl Target {
    pub(super) async fn follow(&self, tail: &TailSource) -> Outcome {
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
        let (mut bytes, mut issues, mut first_issue) = (0, 0, None);
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
            if step.fed.dropped > 0 {
                self.count_dropped_limit(step.fed.dropped);
            }
            if !step.more || start.elapsed() >= budget {
                break;
            }
        }
        let (t, r) = (tail.clone(), rules.clone());
        let mut families: Vec<crate::family::Family> =
            tokio::task::spawn_blocking(move || t.families(&r))
                .await
                .unwrap_or_default();
        let reserved = self.drop_reserved(&mut families);
        self.relabel(&mut families);
        let mut set = FamilySet::new();
        let mut conflicts = Vec::new();
        set.extend(families, &mut conflicts);
        Outcome {
            families: std::sync::Arc::new(set),
            up: true,
            error: None,
            failure: None,
            first_issue: first_issue.or_else(|| conflicts.first().map(ToString::to_string)),
            issues: issues + conflicts.len() as u64,
            unmatched: unmatched.count,
            first_unmatched: unmatched.first,
            reserved,
            bytes,
            file_mtime: None,
            duration: start.elapsed(),
            finished: SystemTime::now(),
            families_dropped: false,
        }
    }
}
