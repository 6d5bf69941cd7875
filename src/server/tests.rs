use super::*;

#[test]
fn times_are_written_in_utc_with_their_age() {
    let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
    assert_eq!(when(at(0), at(42)), "1970-01-01 00:00:00 UTC (42 s ago)");
    // A leap day, and the last second of a year.
    assert_eq!(
        when(at(1_709_210_096), at(1_709_210_096)),
        "2024-02-29 12:34:56 UTC (0 s ago)"
    );
    assert_eq!(
        when(at(1_767_225_599), at(1_767_225_600)),
        "2025-12-31 23:59:59 UTC (1 s ago)"
    );
    // A clock that went back shows no negative age.
    assert_eq!(when(at(60), at(0)), "1970-01-01 00:01:00 UTC (0 s ago)");
}
