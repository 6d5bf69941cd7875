//! Line state: labels one line of a log captured, kept per key (a pid, a client address)
//! until a later line of the same key uses them (`remember` and `recall` on a rule): a
//! session's start time for its end line, a connection's user for its transfer lines.
//!
//! It lives with the running totals (one per followed log, across reads), and is bounded:
//! at most `max_keys` keys, each forgotten `expire` after it was last remembered (a session
//! whose end line never comes). Both are counted when they happen, so a recipe whose state
//! overflows is seen (`metrics_adapter_source_line_state_dropped_total`).

use std::time::{Duration, Instant};

use foldhash::HashMap;

use crate::parse::RecipeError;

/// `[mapping.state]` as written.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateOptions {
    /// Keys kept at most, over all `remember` rules.
    pub max_keys: Option<usize>,
    /// How long a key is kept after it was last remembered (`1h`, `30m`).
    pub expire: Option<String>,
}

pub const DEFAULT_MAX_KEYS: usize = 10_000;
pub const DEFAULT_EXPIRE: Duration = Duration::from_secs(3600);

/// The bounds of a mapping's line state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_keys: usize,
    pub expire: Duration,
}

impl Limits {
    pub(super) fn new(o: &StateOptions) -> Result<Limits, RecipeError> {
        let max_keys = o.max_keys.unwrap_or(DEFAULT_MAX_KEYS);
        if max_keys == 0 || max_keys > 10_000_000 {
            return Err("mapping.state.max_keys: must be between 1 and 10000000".into());
        }
        let expire = match &o.expire {
            None => DEFAULT_EXPIRE,
            Some(t) => duration(t).ok_or_else(|| {
                RecipeError::invalid(format!("{t:?} is not a duration like 30m, 1h or 3600s"))
                    .at("mapping.state.expire")
            })?,
        };
        Ok(Limits { max_keys, expire })
    }
}

/// `90s`, `30m`, `24h` (a number and a unit; the source keys' own parser is a layer above).
fn duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let (n, unit) = t.split_at_checked(t.len().checked_sub(1)?)?;
    let mult = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    let v: f64 = n.parse().ok()?;
    (v.is_finite() && v > 0.0 && v * mult < 1e9).then(|| Duration::from_secs_f64(v * mult))
}

/// What one key holds: the labels remembered, the line that remembered them last (for
/// `parse --explain`), and when.
#[derive(Debug, Clone)]
pub struct Entry {
    pub labels: Vec<(String, String)>,
    pub line: usize,
    at: Instant,
}

/// The state of one followed log.
#[derive(Debug, Default)]
pub struct LineState {
    /// Per `by` label (`pid`): its values' entries.
    stores: Vec<(String, HashMap<String, Entry>)>,
    len: usize,
    /// Keys dropped to make room (`max_keys` reached), since the start.
    pub evicted: u64,
    /// Keys forgotten because they were older than `expire`, since the start.
    pub expired: u64,
    /// A multi-line record whose end has not been read yet (see
    /// [`crate::parse::records`]): it is read with the lines that follow it.
    pub pending: String,
}

impl LineState {
    fn store(&mut self, by: &str) -> &mut HashMap<String, Entry> {
        let i = match self.stores.iter().position(|(b, _)| b == by) {
            Some(i) => i,
            None => {
                self.stores.push((by.to_string(), HashMap::default()));
                self.stores.len() - 1
            }
        };
        // `i` is in range: found, or just pushed.
        &mut self.stores[i].1
    }

    /// Keeps `labels` for key `key` of `by` (added to what the key holds already).
    pub fn remember(
        &mut self,
        by: &str,
        key: &str,
        labels: Vec<(String, String)>,
        line: usize,
        now: Instant,
        limits: &Limits,
    ) {
        let known = self.store(by).contains_key(key);
        if !known && self.len >= limits.max_keys {
            self.make_room(now, limits);
        }
        let store = self.store(by);
        match store.get_mut(key) {
            Some(e) => {
                for (k, v) in labels {
                    match e.labels.iter_mut().find(|(n, _)| *n == k) {
                        Some((_, old)) => *old = v,
                        None => e.labels.push((k, v)),
                    }
                }
                e.line = line;
                e.at = now;
            }
            None => {
                store.insert(
                    key.to_string(),
                    Entry {
                        labels,
                        line,
                        at: now,
                    },
                );
                self.len += 1;
            }
        }
    }

    /// What key `key` of `by` holds, unless it expired; `forget` removes it.
    pub fn recall(
        &mut self,
        by: &str,
        key: &str,
        forget: bool,
        now: Instant,
        limits: &Limits,
    ) -> Option<Entry> {
        let store = self.store(by);
        let old = store
            .get(key)
            .is_some_and(|e| now.saturating_duration_since(e.at) > limits.expire);
        if old || forget {
            let e = store.remove(key)?;
            self.len -= 1;
            if old {
                self.expired += 1;
                return None;
            }
            return Some(e);
        }
        store.get(key).cloned()
    }

    /// At `max_keys`: forgets the expired keys, or else the one remembered longest ago.
    fn make_room(&mut self, now: Instant, limits: &Limits) {
        let mut expired = 0;
        for (_, store) in &mut self.stores {
            let before = store.len();
            store.retain(|_, e| now.saturating_duration_since(e.at) <= limits.expire);
            expired += before - store.len();
        }
        self.len -= expired;
        self.expired += expired as u64;
        if self.len < limits.max_keys {
            return;
        }
        let oldest = self
            .stores
            .iter()
            .enumerate()
            .flat_map(|(i, (_, s))| s.iter().map(move |(k, e)| (e.at, i, k)))
            .min_by_key(|(at, _, _)| *at)
            .map(|(_, i, k)| (i, k.clone()));
        if let Some((i, k)) = oldest {
            if let Some((_, store)) = self.stores.get_mut(i) {
                store.remove(&k);
                self.len -= 1;
                self.evicted += 1;
            }
        }
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &str) -> Vec<(String, String)> {
        vec![("start".to_string(), v.to_string())]
    }

    #[test]
    fn kept_per_key_bounded_and_expired() {
        let limits = Limits {
            max_keys: 2,
            expire: Duration::from_secs(60),
        };
        let t0 = Instant::now();
        let mut s = LineState::default();
        s.remember("pid", "1", labels("a"), 1, t0, &limits);
        s.remember(
            "pid",
            "2",
            labels("b"),
            2,
            t0 + Duration::from_secs(1),
            &limits,
        );
        // A third key: the oldest goes, counted.
        s.remember(
            "pid",
            "3",
            labels("c"),
            3,
            t0 + Duration::from_secs(2),
            &limits,
        );
        assert_eq!((s.len(), s.evicted, s.expired), (2, 1, 0));
        let now = t0 + Duration::from_secs(3);
        assert!(s.recall("pid", "1", false, now, &limits).is_none());
        let e = s.recall("pid", "2", true, now, &limits).unwrap();
        assert_eq!((e.labels, e.line), (labels("b"), 2));
        assert!(s.recall("pid", "2", false, now, &limits).is_none());
        // Older than `expire`: forgotten when asked for, counted.
        let late = t0 + Duration::from_secs(100);
        assert!(s.recall("pid", "3", false, late, &limits).is_none());
        assert_eq!((s.len(), s.evicted, s.expired), (0, 1, 1));
        // At the cap, expired keys make room before a live one is evicted.
        s.remember("pid", "4", labels("d"), 4, t0, &limits);
        s.remember("client", "x", labels("e"), 5, late, &limits);
        s.remember("client", "y", labels("f"), 6, late, &limits);
        assert_eq!((s.len(), s.evicted, s.expired), (2, 1, 2));
    }
}
