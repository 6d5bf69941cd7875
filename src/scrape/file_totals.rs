//! A followed source's running totals, one [`RunningTotals`] per file: the one file of a
//! plain `path`, or each file of a glob `path`, whose series are labelled `file` (its base
//! name) on the page. Kept apart per file so a line's series need no extra label while it
//! is counted (the totals' hot path stays as it is); the label is added when the page part
//! is built.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use std::sync::Arc;

use crate::family::{Family, LabelSet, Sample};
use crate::parse::relabel::Relabel;
use crate::parse::totals::RunningTotals;

/// The label a glob's series carry: the file's base name.
pub const FILE_LABEL: &str = "file";

#[derive(Debug, Default)]
pub struct FileTotals {
    /// `None`: the one file of a plain path.
    by_file: BTreeMap<Option<String>, RunningTotals>,
    /// The versions of totals removed (each plus one), so the version never goes back.
    removed: u64,
    /// The source's relabeling, given to each file's totals (run before counting).
    relabel: Option<Arc<Relabel>>,
    /// When the first totals began: series are stamped with the time since.
    began: Option<Instant>,
    /// The last expiry pass.
    expired: Option<Instant>,
}

/// How often an expiry pass runs at most.
const EXPIRY_PASS: Duration = Duration::from_secs(1);

impl FileTotals {
    /// The totals of `file`, made by the recipe of `fingerprint` (started over when a reload
    /// changed the recipe).
    pub fn of(&mut self, file: Option<&str>, fingerprint: &str) -> &mut RunningTotals {
        let now = self.now();
        let totals = self
            .by_file
            .entry(file.map(str::to_string))
            .or_insert_with(|| {
                let mut totals = RunningTotals::new(fingerprint);
                totals.relabel_with(self.relabel.clone());
                totals
            });
        if totals.fingerprint() != fingerprint {
            totals.reset(fingerprint);
        }
        totals.set_stamp(now);
        totals
    }

    /// Relabels each file's events with `rules` before they are counted.
    pub fn relabel_with(&mut self, rules: Option<Arc<Relabel>>) {
        for totals in self.by_file.values_mut() {
            totals.relabel_with(rules.clone());
        }
        self.relabel = rules;
    }

    /// Samples the other files' totals hold (what is left of `max_series` is `file`'s).
    pub fn samples_except(&self, file: Option<&str>) -> usize {
        (self.by_file.iter())
            .filter(|(f, _)| f.as_deref() != file)
            .map(|(_, t)| t.series_count())
            .sum()
    }

    /// Moves on whenever any file's totals change: a page part built at it is current.
    pub fn version(&self) -> u64 {
        (self.by_file.values())
            .map(RunningTotals::version)
            .fold(self.removed, u64::wrapping_add)
    }

    /// Milliseconds since these totals began: what a series changed now is stamped with.
    fn now(&mut self) -> u64 {
        let began = *self.began.get_or_insert_with(Instant::now);
        u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Removes the series of every file not changed for `after` (`expire_after`); at most
    /// once a second, as a pass looks at every series. Returns how many went.
    pub fn expire(&mut self, after: Duration) -> usize {
        if self.expired.is_some_and(|at| at.elapsed() < EXPIRY_PASS) {
            return 0;
        }
        self.expired = Some(Instant::now());
        let after = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        let Some(before) = self.now().checked_sub(after) else {
            return 0;
        };
        let gone = self.by_file.values_mut().map(|t| t.expire(before)).sum();
        // A glob's file whose every series expired is forgotten: the names an app can
        // invent over time do not pile up.
        let mut removed = self.removed;
        self.by_file.retain(|file, t| {
            let keep = file.is_none() || t.series_count() > 0;
            if !keep {
                removed = removed.wrapping_add(t.version()).wrapping_add(1);
            }
            keep
        });
        self.removed = removed;
        gone
    }

    /// The families for a page: a glob's files' series with their `file` label first.
    pub fn families(&self) -> Vec<Family> {
        let mut out = Vec::new();
        for (file, totals) in &self.by_file {
            let families = totals.families();
            match file {
                None => out.extend(families),
                Some(name) => out.extend(families.into_iter().map(|f| labelled(f, name))),
            }
        }
        out
    }
}

/// `family` with `file="<name>"` first on each sample (replacing a `file` the recipe wrote).
fn labelled(family: Family, name: &str) -> Family {
    let samples = family
        .samples
        .into_iter()
        .map(|s| {
            let labels: LabelSet = std::iter::once((FILE_LABEL.to_string(), name.to_string()))
                .chain(s.labels.iter().filter(|(k, _)| k != FILE_LABEL).cloned())
                .collect();
            Sample { labels, ..s }
        })
        .collect();
    Family { samples, ..family }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::MetricKind;

    /// A glob's file label comes first and replaces one the recipe wrote.
    #[test]
    fn a_files_label_comes_first_and_replaces_the_recipes() {
        let family = Family::new("hits", MetricKind::Counter, "h").with_sample(
            vec![
                ("method".to_string(), "GET".to_string()),
                ("file".to_string(), "x".to_string()),
            ],
            2.0,
        );
        let got = labelled(family, "a.log");
        let labels: Vec<(String, String)> = got.samples[0].labels.to_vec();
        assert_eq!(
            labels,
            [
                ("file".to_string(), "a.log".to_string()),
                ("method".to_string(), "GET".to_string())
            ]
        );
        assert_eq!(got.samples[0].value, 2.0);
    }

    /// One access log line: a count and a size series of nginx_access.
    const LINE: &str =
        "1.2.3.4 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"c\"\n";

    fn nginx_access() -> std::sync::Arc<dyn crate::recipe::Parser> {
        let registry = crate::recipe::Registry::builtin().unwrap();
        registry.get("nginx_access").unwrap().parser.clone()
    }

    /// Expiry forgets a glob's file with no series left; the version still moves on.
    #[test]
    fn a_file_whose_series_all_expired_is_forgotten() {
        let nginx = nginx_access();
        let recipe = nginx.line_recipe().unwrap();
        let mut all = FileTotals::default();
        let line = LINE;
        recipe.feed(line, all.of(Some("a.log"), recipe.fingerprint()), 100);
        let before = all.version();
        // Stamped at 0 ms; expired once anything is older than "now - 0".
        all.began = Instant::now().checked_sub(Duration::from_secs(5));
        assert_eq!(all.expire(Duration::from_secs(1)), 2);
        assert!(all.by_file.is_empty());
        assert!(all.version() > before);
        assert!(all.families().is_empty());
    }

    /// The version moves with any file's totals; the room left is the others' samples.
    #[test]
    fn version_and_room_span_every_file() {
        let nginx = nginx_access();
        let recipe = nginx.line_recipe().unwrap();
        let mut all = FileTotals::default();
        let line = LINE;
        let v0 = all.version();
        recipe.feed(line, all.of(Some("a.log"), recipe.fingerprint()), 100);
        let v1 = all.version();
        recipe.feed(line, all.of(Some("b.log"), recipe.fingerprint()), 100);
        assert!(v0 < v1 && v1 < all.version());
        // a.log: a count and a size series.
        assert_eq!(all.samples_except(Some("b.log")), 2);
        assert_eq!(all.samples_except(None), 4);
        let names: Vec<String> = all
            .families()
            .iter()
            .flat_map(|f| f.samples.iter().map(|s| s.labels[0].1.clone()))
            .collect();
        assert_eq!(names, ["a.log", "a.log", "b.log", "b.log"]);
    }
}
