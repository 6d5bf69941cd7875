//! A `tail` source's read: steps of its follower (each a bounded read of new lines, added
//! into the target's running totals by the line recipe, on the blocking pool) until the
//! log's end or half the source timeout, then the running totals as the result: records ->
//! mapping -> totals, the one path every line takes. It runs where any read runs (the background poll of an `interval` source, which
//! a tail source always is), so `/readyz`, the status page and reloads treat it as one.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, PoisonError};
use std::time::{Instant, SystemTime};

use super::failure::FailureKind;
use super::file_totals::FileTotals;
use super::target::{Built, Outcome, Target};
use crate::family::{bounds, FamilySet};
use crate::parse::Unmatched;
use crate::recipe::Fed;
use crate::source::tail::{Step, TailSource};

impl Target {
    pub(super) async fn follow(self: &Arc<Self>, tail: &TailSource) -> Outcome {
        let start = Instant::now();
        let spec = &self.spec;
        if self.parser.line_recipe().is_none() {
            return Outcome::down(
                FailureKind::Parse,
                format!("parser {} is not a line recipe", self.parser.name()),
                start.elapsed(),
            );
        }
        // A burst is consumed chunk after chunk; the rest waits for the next poll once
        // half the timeout is spent, so each result is served on time.
        let budget = spec.timeout / 2;
        let (mut bytes, mut issues, mut first_issue, mut dropped) = (0, 0, None, 0);
        let mut unmatched = Unmatched::default();
        let mut state_dropped = [0; 2];
        loop {
            let (me, t) = (self.clone(), tail.clone());
            let run = move || std::panic::catch_unwind(AssertUnwindSafe(|| me.step(&t)));
            let (step, fed): (Step, Fed) = match tokio::task::spawn_blocking(run).await {
                Ok(Ok(Ok(done))) => done,
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
            issues += fed.issues + step.too_long;
            if first_issue.is_none() {
                first_issue = fed.first_issues.first().map(ToString::to_string);
                if step.too_long > 0 {
                    first_issue = first_issue.or(Some(format!(
                        "a line longer than max_bytes ({}) was skipped",
                        spec.max_bytes
                    )));
                }
            }
            unmatched.count += fed.unmatched.count;
            if unmatched.first.is_none() {
                unmatched.first = fed.unmatched.first;
            }
            dropped += fed.dropped;
            for (total, n) in state_dropped.iter_mut().zip(fed.state_dropped) {
                *total += n;
            }
            if !step.more || start.elapsed() >= budget {
                break;
            }
        }
        let built = match self.built_if_current() {
            Some(built) => built,
            None => {
                let me = self.clone();
                match tokio::task::spawn_blocking(move || me.build()).await {
                    Ok(Ok(built)) => built,
                    Ok(Err(size)) => {
                        return Outcome {
                            bytes,
                            dropped_limit: dropped,
                            ..Outcome::down(
                                FailureKind::Limit,
                                super::failure::page_too_big(size),
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
            state_dropped,
            bytes,
            file_mtime: None,
            duration: start.elapsed(),
            finished: SystemTime::now(),
            families_dropped: false,
        }
    }
}

impl Target {
    /// One step of the follower, its lines added into the running totals (blocking). The
    /// totals' lock is held throughout, so two followers (an old config's, going away)
    /// cannot both count the same lines.
    fn step(&self, tail: &TailSource) -> Result<(Step, Fed), crate::source::SourceError> {
        let Some(recipe) = self.parser.line_recipe() else {
            return Ok((Step::default(), Fed::default()));
        };
        let mut all = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(after) = tail.expire_after {
            all.expire(after);
        }
        if tail.glob.is_some() {
            return self.step_files(tail, recipe, &mut all);
        }
        // A reload that changed the recipe starts its totals over.
        let totals = all.of(None, recipe.fingerprint());
        let step = tail.step(self.spec.max_bytes)?;
        let fed = if step.lines.is_empty() {
            Fed::default()
        } else {
            let text = crate::parse::text(&step.lines);
            recipe.feed(&text, totals, self.spec.max_series)
        };
        Ok((step, fed))
    }

    /// [`Target::step`] for a glob `path`: one read of each file, each into its own totals
    /// (`max_series` bounds them together). Files past `max_files` are told as an issue.
    fn step_files(
        &self,
        tail: &TailSource,
        recipe: &crate::recipe::Recipe,
        all: &mut FileTotals,
    ) -> Result<(Step, Fed), crate::source::SourceError> {
        let files = tail.step_files(self.spec.max_bytes)?;
        let (mut step, mut fed) = (Step::default(), Fed::default());
        for (name, one) in files.files {
            step.bytes += one.bytes;
            step.too_long += one.too_long;
            step.more |= one.more;
            if one.lines.is_empty() {
                continue;
            }
            let room = (self.spec.max_series).saturating_sub(all.samples_except(Some(&name)));
            let totals = all.of(Some(&name), recipe.fingerprint());
            let text = crate::parse::text(&one.lines);
            let more = recipe.feed(&text, totals, room);
            fed.issues += more.issues;
            fed.dropped += more.dropped;
            fed.unmatched.count += more.unmatched.count;
            if fed.unmatched.first.is_none() {
                fed.unmatched.first = more.unmatched.first.map(|u| format!("{name}: {u}"));
            }
            fed.first_issues.extend(more.first_issues);
        }
        if let Some(first) = files.first_skipped {
            fed.issues += files.newly_skipped as u64;
            fed.first_issues.insert(
                0,
                crate::parse::Issue::new(
                    0,
                    format!(
                        "{} file(s) match the path past max_files ({}), not followed: {first}...",
                        files.skipped, tail.max_files
                    ),
                ),
            );
        }
        Ok((step, fed))
    }

    fn version(&self) -> u64 {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .version()
    }

    /// The last page part, when the totals have not changed since it was built: a poll
    /// that read nothing new costs a lock, not a rebuild of every family.
    fn built_if_current(&self) -> Option<Built> {
        let version = self.version();
        let built = self.followed.lock().unwrap_or_else(PoisonError::into_inner);
        built.as_ref().filter(|b| b.version == version).cloned()
    }

    /// Builds the page part from the totals (blocking: families, relabelling and merging
    /// of a big state take a while), keeps it for [`Target::built_if_current`]. `Err`
    /// with the size when it passes [`bounds::PAGE_MAX`].
    fn build(&self) -> Result<Built, usize> {
        let (version, mut families) = {
            let totals = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            (totals.version(), totals.families())
        };
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
