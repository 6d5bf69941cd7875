//! Whether a read's data is too old to serve: a stopped writer's last numbers are not served
//! as current (`max_age`, see [`MaxAge`]).
//!
//! The clock is the data's own where it has one: a dated append log's newest complete block
//! (its `date` line). Else a file's mtime, or an HTTP answer's `Last-Modified`. Without
//! `max_age`, only a dated log is judged, by its write period ([`Written::default_limit`]).

use std::time::{Duration, SystemTime};

use crate::config::MaxAge;
use crate::framing::{Written, STALE_FLOOR, STALE_PERIODS};
use crate::source::Fetch;

/// Why the fetch is stale, or `None` when it may be served.
pub(super) fn check(max_age: MaxAge, fetch: &Fetch, now: SystemTime) -> Option<String> {
    let age = |t: SystemTime| now.duration_since(t).unwrap_or_default();
    let block = fetch
        .written
        .as_ref()
        .and_then(|w| Some((w, age(w.time()?))));
    match (max_age, block) {
        (MaxAge::Off, _) => None,
        (MaxAge::After(limit), Some((_, age))) => (age > limit).then(|| {
            format!(
                "the newest block was written {} ago (its date line; max_age {}): is the \
                 writer still running?",
                secs(age),
                secs(limit)
            )
        }),
        (MaxAge::After(limit), None) => {
            let age = age(fetch.modified?);
            (age > limit).then(|| {
                format!(
                    "not modified for {} (max_age {}): is the writer still running?",
                    secs(age),
                    secs(limit)
                )
            })
        }
        (MaxAge::Auto, Some((written, age))) => {
            let limit = written.default_limit()?;
            (age > limit).then(|| default_reason(written, age, limit))
        }
        (MaxAge::Auto, None) => None,
    }
}

fn default_reason(written: &Written, age: Duration, limit: Duration) -> String {
    format!(
        "the newest block was written {} ago, and blocks came every {}: is the writer still \
         running? (a dated log is stale past {STALE_PERIODS} write periods, at least {}, here \
         {}; max_age sets the limit, max_age = \"off\" turns it off)",
        secs(age),
        secs(Duration::from_secs_f64(written.period.unwrap_or_default())),
        secs(STALE_FLOOR),
        secs(limit)
    )
}

/// Whole seconds, `12s`: the clocks compared have one-second steps.
fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn fetch(written: Option<(f64, Option<f64>)>, modified: Option<u64>) -> Fetch {
        Fetch {
            written: written.map(|(at, period)| Written { at, period }),
            modified: modified.map(|m| UNIX_EPOCH + Duration::from_secs(m)),
            ..Fetch::from(Ok(Vec::new()))
        }
    }

    #[test]
    fn a_dated_log_is_stale_past_a_few_periods_by_default() {
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        let every_5s = |at| fetch(Some((at, Some(5.0))), None);
        // 3 periods of 5 s: 15 s.
        assert_eq!(check(MaxAge::Auto, &every_5s(985.0), now), None);
        let e = check(MaxAge::Auto, &every_5s(984.0), now).unwrap();
        assert!(
            e.starts_with("the newest block was written 16s ago, and blocks came every 5s"),
            "{e}"
        );
        assert!(e.contains("here 15s"), "{e}");
        // The floor holds a fast writer (10 s); off is off; no period, no default.
        let fast = fetch(Some((991.0, Some(1.0))), None);
        assert_eq!(check(MaxAge::Auto, &fast, now), None);
        let fast = fetch(Some((989.0, Some(1.0))), None);
        assert!(check(MaxAge::Auto, &fast, now).is_some());
        assert_eq!(check(MaxAge::Off, &fast, now), None);
        assert_eq!(
            check(MaxAge::Auto, &fetch(Some((0.0, None)), None), now),
            None
        );
        // A clock ahead of ours is not an age.
        assert_eq!(check(MaxAge::Auto, &every_5s(2000.0), now), None);
    }

    #[test]
    fn max_age_prefers_the_blocks_clock_to_the_mtime() {
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        let limit = MaxAge::After(Duration::from_secs(60));
        // Touched now, but its newest block is old: stale.
        let f = fetch(Some((900.0, Some(5.0))), Some(1000));
        let e = check(limit, &f, now).unwrap();
        assert!(
            e.starts_with("the newest block was written 100s ago (its date line; max_age 60s)"),
            "{e}"
        );
        let f = fetch(None, Some(900));
        assert_eq!(
            check(limit, &f, now).unwrap(),
            "not modified for 100s (max_age 60s): is the writer still running?"
        );
        assert_eq!(check(limit, &fetch(None, Some(950)), now), None);
        // No clock at all: nothing to judge (config refuses max_age where none can be).
        assert_eq!(check(limit, &fetch(None, None), now), None);
        assert_eq!(check(MaxAge::Auto, &fetch(None, Some(0)), now), None);
    }
}
