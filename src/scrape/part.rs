//! The sources' part of a page: every source's result merged in config order (a source
//! that is down holds its places against later ones), each followed by its recipe's up
//! metric; written straight from the result when there is one source; and kept encoded,
//! per wire format, while no source's result changed ([`DataCache`]).

use std::sync::Arc;

use bytes::Bytes;
use tracing::debug;

use super::{Outcome, Target};
use crate::exposition::{self, WireFormat};
use crate::family::{Family, FamilySet, MetricKind};

/// The sources' part of the page: their families merged in config order, each
/// followed by its recipe's up metric.
pub(super) fn assemble_data(targets: &[Arc<Target>], outcomes: &[Arc<Outcome>]) -> DataPart {
    let mut set = FamilySet::new();
    let (mut reached_all, mut lost_all) = (Vec::new(), Vec::new());
    let last = targets.len().saturating_sub(1);
    for (i, (t, outcome)) in targets.iter().zip(outcomes).enumerate() {
        let before = set.series_count();
        let mut conflicts = Vec::new();
        if outcome.up {
            set.merge(&outcome.families, &mut conflicts);
        } else if i < last {
            // Only a later source could take the places of a source that is down.
            if let Some(good) = t.last_good() {
                set.reserve(&good.families);
            }
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
            debug!(
                source = %t.spec.name,
                lost,
                first = %conflicts.first().map(ToString::to_string).unwrap_or_default(),
                "series already written by an earlier source"
            );
        }
        reached_all.push(reached);
        lost_all.push(lost);
    }
    DataPart {
        set,
        reached: reached_all,
        lost: lost_all,
    }
}

/// The sources' part of a page of one source, written from its result as it is: the
/// family set of [`assemble_data`] would be a copy of it (nothing to collide
/// with) plus the up metric, built, checked and dropped on every changed read. `None`
/// (made the general way) when a name of the source's could meet the up metric's.
pub(super) fn one_source_part(
    targets: &[Arc<Target>],
    outcomes: &[Arc<Outcome>],
    format: WireFormat,
) -> Option<(String, DataPart)> {
    let ([t], [o]) = (targets, outcomes) else {
        return None;
    };
    let up = t.parser.up_metric().map(|up| {
        Family::new(
            up,
            MetricKind::Gauge,
            "Whether the last read of the source succeeded.",
        )
        .with_sample(t.spec.labels.clone(), f64::from(u8::from(o.up)))
    });
    let families = o.families.families();
    if let Some(up) = &up {
        if families
            .iter()
            .any(|f| f.name.starts_with(&up.name) || up.name.starts_with(&f.name))
        {
            return None;
        }
    }
    let empty = FamilySet::new();
    let shown = if o.up { o.families.as_ref() } else { &empty };
    let reached = shown.series_count();
    let text = exposition::encode_one_source(shown, up.as_ref(), format);
    let lost = o.families.series_count().saturating_sub(reached);
    let data = DataPart {
        set: empty,
        reached: vec![reached],
        lost: vec![lost],
    };
    Some((text, data))
}

/// One source's share of the sources' part of a page (see [`super::Scraper::scrape_page`]).
#[derive(Debug)]
pub(super) struct DataKey {
    pub(super) families: Arc<FamilySet>,
    pub(super) up: bool,
    pub(super) held: Option<Arc<FamilySet>>,
}

impl DataKey {
    /// The same result (the very same families, held alive here, so an address cannot
    /// be reused by another set while it is compared).
    fn same(&self, other: &DataKey) -> bool {
        Arc::ptr_eq(&self.families, &other.families)
            && self.up == other.up
            && match (&self.held, &other.held) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

/// The sources' part of a page, and per source its series on it and those it lost.
pub(super) struct DataPart {
    pub(super) set: FamilySet,
    pub(super) reached: Vec<usize>,
    pub(super) lost: Vec<usize>,
}

/// The last sources' part encoded, per wire format, with what it was made from.
#[derive(Debug)]
pub(super) struct DataCache {
    pub(super) key: Vec<DataKey>,
    pub(super) text: Vec<(WireFormat, Bytes)>,
    pub(super) reached: Vec<usize>,
    pub(super) lost: Vec<usize>,
}

impl DataCache {
    /// Whether the part was made from these very results.
    pub(super) fn made_from(&self, key: &[DataKey]) -> bool {
        self.key.len() == key.len() && self.key.iter().zip(key).all(|(a, b)| a.same(b))
    }
}
