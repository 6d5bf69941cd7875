//! Metric families: the plain data every parser produces and the exposition consumes.
//!
//! [`FamilySet`] is the one place where names are sanitised, kinds checked and families from
//! several sources merged, so parsers can stay simple and the page can never hold a repeated
//! block or a duplicate series.

use std::sync::Arc;

use foldhash::{HashMap, HashSet};

pub mod bounds;
mod names;
pub use names::{
    exposed_name, is_valid_label_name, is_valid_metric_name, name_part, sanitize_label_name,
    sanitize_metric_name,
};
use names::{has_repeated_label, single_line, strip_kind_suffix};

/// The kind of a metric family, as far as the text formats can express it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Gauge,
    /// Monotonic; the exposition appends `_total`.
    Counter,
    /// One series of value 1 carrying string data as labels; the exposition appends `_info`.
    Info,
    /// One series per state, exactly one of them 1. Typed `stateset` in OpenMetrics when
    /// the state label is named after the family (as OpenMetrics requires), else `gauge`.
    StateSet,
    Untyped,
    /// `_bucket` samples (labels ending with `le`, ascending, the last `+Inf`), then `_sum`
    /// and `_count`, per label set.
    Histogram,
    /// Quantile samples (label `quantile`), then `_sum` and `_count`, per label set.
    Summary,
}

impl MetricKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "gauge" => Self::Gauge,
            "counter" => Self::Counter,
            "info" => Self::Info,
            // `enum` is the name people search for; OpenMetrics calls it a state set.
            "stateset" | "enum" => Self::StateSet,
            "untyped" | "unknown" => Self::Untyped,
            "histogram" => Self::Histogram,
            "summary" => Self::Summary,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gauge => "gauge",
            Self::Counter => "counter",
            Self::Info => "info",
            Self::StateSet => "stateset",
            Self::Untyped => "untyped",
            Self::Histogram => "histogram",
            Self::Summary => "summary",
        }
    }
}

/// Label pairs in the order they are written, while being assembled.
pub type Labels = Vec<(String, String)>;

/// A finished label set, shared: the samples of one CSV row, JSON item or INFO section
/// point to one copy instead of each holding their own (an HAProxy page has 160k samples
/// and a few thousand label sets).
pub type LabelSet = Arc<[(String, String)]>;

/// A value worked out from a label set, kept for the last set seen: the samples of one row
/// share their label set and come one after another, so the work is done once per row.
#[derive(Debug, Clone)]
pub struct PerLabelSet<T>(Option<(LabelSet, T)>);

impl<T> Default for PerLabelSet<T> {
    fn default() -> Self {
        PerLabelSet(None)
    }
}

impl<T: Clone> PerLabelSet<T> {
    pub fn get_or_insert_with(&mut self, labels: &LabelSet, make: impl FnOnce() -> T) -> T {
        if let Some((from, value)) = &self.0 {
            if Arc::ptr_eq(from, labels) {
                return value.clone();
            }
        }
        let value = make();
        // Holding the set keeps its address from being reused by another label set.
        self.0 = Some((labels.clone(), value.clone()));
        value
    }
}

/// Which series of its family a sample is: histograms and summaries write several.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Suffix {
    /// The family's own name (a summary's quantiles, every sample of the other kinds).
    #[default]
    None,
    /// `_bucket`, a histogram's cumulative count up to its `le` label.
    Bucket,
    Sum,
    Count,
}

impl Suffix {
    pub fn as_str(self) -> &'static str {
        match self {
            Suffix::None => "",
            Suffix::Bucket => "_bucket",
            Suffix::Sum => "_sum",
            Suffix::Count => "_count",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: LabelSet,
    pub value: f64,
    pub suffix: Suffix,
}

impl Sample {
    pub fn new(labels: impl Into<LabelSet>, value: f64) -> Sample {
        Sample {
            labels: labels.into(),
            value,
            suffix: Suffix::None,
        }
    }
}

/// A histogram bucket bound as the `le` label value, written as Go clients write it
/// (`strconv.FormatFloat(v, 'g', -1, 64)`: `0.25`, `1`, `1e+06`, `+Inf`), so series match
/// what other exporters expose.
pub fn le_label(bound: f64) -> String {
    if bound.is_nan() {
        return "NaN".into();
    }
    if bound.is_infinite() {
        return if bound > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let abs = bound.abs();
    if abs == 0.0 {
        return "0".into();
    }
    if (1e-4..1e6).contains(&abs) {
        // Rust's shortest form prints the same digits as Go's here (`1`, not `1.0`).
        return format!("{bound}");
    }
    // Outside [1e-4, 1e6) Go switches to exponent form with a sign and two digits at least.
    let sci = format!("{bound:e}");
    match sci.split_once('e') {
        Some((mantissa, exponent)) => match exponent.parse::<i32>() {
            Ok(e) => format!("{mantissa}e{e:+03}"),
            Err(_) => sci,
        },
        None => sci,
    }
}

/// One metric family. `name` is the base name: no `_total` for counters, no `_info` for infos.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub kind: MetricKind,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn new(name: impl Into<String>, kind: MetricKind, help: impl Into<String>) -> Self {
        Family {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    pub fn with_sample(mut self, labels: impl Into<LabelSet>, value: f64) -> Self {
        self.samples.push(Sample::new(labels, value));
        self
    }

    /// Adds one series of a histogram or summary (`_bucket`, `_sum`, `_count`).
    pub fn with_suffixed_sample(
        mut self,
        labels: impl Into<LabelSet>,
        suffix: Suffix,
        value: f64,
    ) -> Self {
        self.samples.push(Sample {
            suffix,
            ..Sample::new(labels, value)
        });
        self
    }
}

/// The reason an input that repeats every series is refused: an append log of whole
/// dumps read as one dump, whose first copy of each series is the oldest number. One
/// verdict for the server's read and `metrics-adapter parse`.
pub fn repeated_dump(set: &FamilySet, conflicts: &[Conflict]) -> Option<String> {
    repeated_series(set, conflicts).map(|(repeats, distinct)| {
        format!(
            "the input repeats its series ({repeats} repeated, {distinct} distinct): it looks \
             like an append log of whole dumps; use a recipe with [framing] (such as \
             meminfo_appended) or set block_start on the source"
        )
    })
}

/// When every series of `set` came again ([`repeated_dump`]'s test): how many repeats, how
/// many distinct series. A source words its own reason from them (it knows its framing).
pub fn repeated_series(set: &FamilySet, conflicts: &[Conflict]) -> Option<(usize, usize)> {
    let repeats = conflicts
        .iter()
        .filter(|c| c.kind == ConflictKind::DuplicateSeries)
        .count();
    (repeats > 0 && repeats >= set.series_count()).then(|| (repeats, set.series_count()))
}

/// A problem found while assembling families; the offending data is dropped, never emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub kind: ConflictKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// One name, two kinds.
    KindClash,
    /// The name as written (`x_total`) is another family's.
    NameTaken,
    RepeatedLabel,
    /// A series already on the page (within one source: the input repeats itself).
    DuplicateSeries,
}

impl Conflict {
    fn new(kind: ConflictKind, message: String) -> Conflict {
        Conflict { kind, message }
    }
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// An ordered, validated collection of families with unique names and unique series.
#[derive(Debug, Default, Clone)]
pub struct FamilySet {
    families: Vec<Family>,
    index: HashMap<String, usize>,
    /// Names as written on the page (`x_total` for counter `x`), so two families can never
    /// write the same series name.
    exposed: HashSet<String>,
    /// (family, suffix, label set in any order): the series already on the page, for the families
    /// marked in `indexed`. A family taken whole from another set (see [`FamilySet::merge`])
    /// is only indexed if more samples come for it.
    series: HashSet<(usize, Suffix, SeriesKey)>,
    indexed: Vec<bool>,
    /// Samples held (what [`FamilySet::series_count`] answers without a walk).
    samples: usize,
}

impl FamilySet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn families(&self) -> &[Family] {
        &self.families
    }

    pub fn len(&self) -> usize {
        self.families.len()
    }

    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    /// Number of series (samples) held.
    pub fn series_count(&self) -> usize {
        self.samples
    }

    /// Adds a family, merging it into an existing one of the same name. Names and label names
    /// are sanitised; a kind clash or a repeated series is dropped and reported.
    pub fn push(&mut self, mut family: Family, conflicts: &mut Vec<Conflict>) {
        // In place: a name that is valid as written (most are) costs no copy.
        let base = strip_kind_suffix(&family.name, family.kind).len();
        family.name.truncate(base);
        if !is_valid_metric_name(&family.name) {
            family.name = sanitize_metric_name(&family.name);
        }
        single_line(&mut family.help);
        let mut samples = std::mem::take(&mut family.samples);
        let idx = match self.index.get(&family.name) {
            Some(&idx) => {
                if self.families[idx].kind != family.kind {
                    conflicts.push(Conflict::new(
                        ConflictKind::KindClash,
                        format!(
                            "metric {} is both {} and {}; dropped the {} samples",
                            family.name,
                            self.families[idx].kind.as_str(),
                            family.kind.as_str(),
                            family.kind.as_str()
                        ),
                    ));
                    return;
                }
                idx
            }
            None => {
                let Some(exposed) = self.free_exposed_name(&family.name, family.kind) else {
                    conflicts.push(Conflict::new(ConflictKind::NameTaken, format!(
                        "metric {} ({}) would be written as {}, which another metric already uses; dropped",
                        family.name,
                        family.kind.as_str(),
                        exposed_name(&family.name, family.kind)
                    )));
                    return;
                };
                // Taken as it came (its samples, checked below, go back into it).
                self.add(family, exposed, true)
            }
        };
        self.index_series(idx);
        self.series.reserve(samples.len());
        let (series, target) = (&mut self.series, &mut self.families[idx]);
        samples.retain_mut(|sample| {
            if sample
                .labels
                .iter()
                .any(|(name, _)| !is_valid_label_name(name))
            {
                sample.labels = sample
                    .labels
                    .iter()
                    .map(|(name, value)| (sanitize_label_name(name), value.clone()))
                    .collect();
            }
            if has_repeated_label(&sample.labels) {
                conflicts.push(Conflict::new(
                    ConflictKind::RepeatedLabel,
                    format!(
                        "metric {} has a repeated label name in {:?}; sample dropped",
                        target.name, sample.labels
                    ),
                ));
                return false;
            }
            if !series.insert((idx, sample.suffix, SeriesKey(sample.labels.clone()))) {
                conflicts.push(Conflict::new(
                    ConflictKind::DuplicateSeries,
                    format!(
                        "duplicate series {}{:?}; kept the first",
                        target.name, sample.labels
                    ),
                ));
                return false;
            }
            true
        });
        self.samples += samples.len();
        if target.samples.is_empty() {
            target.samples = samples;
        } else {
            target.samples.append(&mut samples);
        }
    }

    /// Adds the families of a set that is already valid (one source's result, checked once
    /// when it was read): a family whose name is new here is taken as it is, without
    /// checking each series again, so a scrape costs per family, not per sample.
    pub fn merge(&mut self, other: &FamilySet, conflicts: &mut Vec<Conflict>) {
        if self.families.is_empty() {
            // The first source of a page: nothing to collide with.
            self.families.clone_from(&other.families);
            self.index.clone_from(&other.index);
            self.exposed.clone_from(&other.exposed);
            self.indexed = vec![false; other.families.len()];
            self.samples = other.samples;
            return;
        }
        self.families.reserve(other.families.len());
        self.indexed.reserve(other.families.len());
        for family in &other.families {
            if !self.index.contains_key(&family.name) {
                if let Some(exposed) = self.free_exposed_name(&family.name, family.kind) {
                    self.add(family.clone(), exposed, false);
                    continue;
                }
            }
            // A name this page already has: merged, or refused, sample by sample.
            self.push(family.clone(), conflicts);
        }
    }

    /// Holds the series of `other` without showing them: the last good result of a source
    /// that is down now, so that a later source cannot take its series over while it is
    /// down (which source wins a series never switches with who is up). Held families stay
    /// empty and are not written.
    pub fn reserve(&mut self, other: &FamilySet) {
        for family in &other.families {
            let idx = match self.index.get(&family.name) {
                Some(&idx) if self.families[idx].kind == family.kind => idx,
                Some(_) => continue,
                None => match self.free_exposed_name(&family.name, family.kind) {
                    Some(exposed) => self.add(
                        Family::new(family.name.clone(), family.kind, family.help.clone()),
                        exposed,
                        true,
                    ),
                    None => continue,
                },
            };
            self.index_series(idx);
            for sample in &family.samples {
                self.series
                    .insert((idx, sample.suffix, SeriesKey(sample.labels.clone())));
            }
        }
    }

    /// The name a new family would be written under, or `None` when another family already
    /// writes that name or one of its series names (`x_total` for counter `x` against a
    /// gauge `x_total`; `x_sum` of a summary `x` against a gauge `x_sum`).
    fn free_exposed_name(&self, name: &str, kind: MetricKind) -> Option<String> {
        let exposed = exposed_name(name, kind);
        let taken = self.exposed.contains(&exposed)
            || self.exposed.contains(name)
            || series_suffixes(kind)
                .iter()
                .any(|suffix| self.exposed.contains(&format!("{name}{}", suffix.as_str())));
        (!taken).then_some(exposed)
    }

    /// Adds a family under a name that is free; `indexed` says whether its series are
    /// already in `series`.
    fn add(&mut self, family: Family, exposed: String, indexed: bool) -> usize {
        let idx = self.families.len();
        self.samples += family.samples.len();
        for suffix in series_suffixes(family.kind) {
            self.exposed
                .insert(format!("{}{}", family.name, suffix.as_str()));
        }
        self.exposed.insert(exposed);
        self.index.insert(family.name.clone(), idx);
        self.families.push(family);
        self.indexed.push(indexed);
        idx
    }

    /// Indexes the series of a family taken whole by `merge`, before samples are added to it.
    fn index_series(&mut self, idx: usize) {
        if self.indexed[idx] {
            return;
        }
        self.indexed[idx] = true;
        for sample in &self.families[idx].samples {
            self.series
                .insert((idx, sample.suffix, SeriesKey(sample.labels.clone())));
        }
    }

    /// Lets go of the index of series: a set that is complete (one source's checked
    /// result) is only merged from, which never consults it, and on a big page it is a
    /// few MiB. Should samples come for a family again, it is indexed anew from the
    /// family's samples.
    pub fn compact(&mut self) {
        self.series = HashSet::default();
        self.indexed.iter_mut().for_each(|i| *i = false);
        self.families
            .iter_mut()
            .for_each(|f| f.samples.shrink_to_fit());
    }

    /// Adds every family of `other`.
    pub fn extend(
        &mut self,
        other: impl IntoIterator<Item = Family>,
        conflicts: &mut Vec<Conflict>,
    ) {
        for family in other {
            self.push(family, conflicts);
        }
    }

    pub fn get(&self, name: &str) -> Option<&Family> {
        self.index.get(name).map(|&i| &self.families[i])
    }
}

/// The extra series names a family writes besides its exposed name.
fn series_suffixes(kind: MetricKind) -> &'static [Suffix] {
    match kind {
        MetricKind::Histogram => &[Suffix::Bucket, Suffix::Sum, Suffix::Count],
        MetricKind::Summary => &[Suffix::Sum, Suffix::Count],
        _ => &[],
    }
}

/// A series' identity within its family: its label set, whatever the order the labels are
/// written in (`{a,b}` and `{b,a}` are one series). The shared set itself, not a sorted
/// copy: a scrape makes no allocation per series for it. Equal as sets of pairs, which
/// is the same as equal as label sets because a label name is never repeated in one
/// (such a sample is refused before it is keyed).
#[derive(Debug, Clone)]
struct SeriesKey(LabelSet);

impl PartialEq for SeriesKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.len() == other.0.len() && self.0.iter().all(|pair| other.0.contains(pair)))
    }
}

impl Eq for SeriesKey {}

impl std::hash::Hash for SeriesKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        use std::hash::BuildHasher;
        // A sum of the pairs' hashes does not depend on their order. Seeded at random per
        // process, so an app cannot choose label values whose keys collide.
        static SEED: std::sync::OnceLock<foldhash::fast::RandomState> = std::sync::OnceLock::new();
        let seed = SEED.get_or_init(foldhash::fast::RandomState::default);
        let sum = self
            .0
            .iter()
            .fold(0u64, |sum, pair| sum.wrapping_add(seed.hash_one(pair)));
        state.write_usize(self.0.len());
        state.write_u64(sum);
    }
}

/// Labels from string pairs, for tests: `labels(&[("a", "1")])` as [`Labels`] or
/// [`LabelSet`].
#[cfg(test)]
pub(crate) fn labels<C: FromIterator<(String, String)>>(pairs: &[(&str, &str)]) -> C {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[cfg(test)]
mod tests;
