//! What a source's data may not keep (the names the adapter and Prometheus write
//! themselves) and what the source's config adds to it (`include`/`exclude`, `labels`).

use super::Target;
use crate::family::{exposed_name, Family, LabelSet, PerLabelSet};
use crate::parse::relabel::BAD_NAME;
use crate::scrape::self_metrics::SELF_PREFIX;
use crate::source::Source;
use tracing::debug;

impl Target {
    /// Drops the families source data wrote under a reserved name; returns how many series.
    pub(in crate::scrape) fn drop_reserved(&self, families: &mut Vec<Family>) -> u64 {
        let mut dropped = 0;
        families.retain(|f| {
            // The written name (`x_total`) is only built when a recipe up metric could match.
            let taken = f.name.starts_with(SELF_PREFIX)
                || prometheus_own(&f.name)
                || crate::process::RESERVED.contains(&f.name.as_str())
                || (!self.reserved.is_empty()
                    && (self.reserved.contains(&f.name)
                        || self.reserved.contains(&exposed_name(&f.name, f.kind))));
            if taken {
                dropped += f.samples.len() as u64;
            }
            !taken
        });
        dropped
    }

    /// Applies the source's `relabel` rules, `include`/`exclude` (on names as written) and
    /// static labels, in that order. A followed log's rules ran before its lines were
    /// counted (see [`crate::parse::relabel`]), so not again here.
    pub(in crate::scrape) fn relabel(&self, families: &mut Vec<Family>) {
        let spec = &self.spec;
        if let (Some(rules), false) = (&spec.relabel, matches!(spec.source, Source::Tail(_))) {
            let (relabeled, bad_names) = rules.families(std::mem::take(families));
            *families = relabeled;
            if bad_names > 0 {
                debug!(source = %spec.name, "{bad_names} series dropped: {BAD_NAME}");
            }
            // A rule may rename a series into a name the adapter or Prometheus writes.
            let reserved = self.drop_reserved(families);
            if reserved > 0 {
                debug!(source = %spec.name, "{reserved} series renamed to a reserved name dropped");
            }
        }
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
}

/// A name Prometheus writes itself for every target (`up`, `scrape_duration_seconds`,
/// `scrape_samples_scraped`...): a page that held its own `up 0` (another exporter's page
/// passed through) would be stored as the target's health and fire its alerts.
fn prometheus_own(name: &str) -> bool {
    name == "up" || name.starts_with("scrape_")
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
