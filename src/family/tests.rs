use super::*;

fn l(pairs: &[(&str, &str)]) -> Labels {
    labels(pairs)
}

#[test]
fn merges_same_name_and_drops_duplicate_series() {
    let mut set = FamilySet::new();
    let mut conflicts = Vec::new();
    set.push(
        Family::new("x", MetricKind::Gauge, "h").with_sample(l(&[("a", "1")]), 1.0),
        &mut conflicts,
    );
    set.push(
        Family::new("x", MetricKind::Gauge, "h")
            .with_sample(l(&[("a", "2")]), 2.0)
            .with_sample(l(&[("a", "1")]), 9.0),
        &mut conflicts,
    );
    assert_eq!(set.len(), 1);
    let f = set.get("x").unwrap();
    assert_eq!(f.samples.len(), 2);
    assert_eq!(f.samples[0].value, 1.0);
    assert_eq!(f.samples[1].value, 2.0);
    assert_eq!(conflicts.len(), 1);
}

#[test]
fn merge_takes_new_families_whole_and_checks_shared_ones() {
    let mut c = Vec::new();
    let mut source = FamilySet::new();
    source.push(
        Family::new("x", MetricKind::Gauge, "h")
            .with_sample(l(&[("a", "1")]), 1.0)
            .with_sample(l(&[("a", "2")]), 2.0),
        &mut c,
    );
    source.push(
        Family::new("y", MetricKind::Counter, "").with_sample(Labels::new(), 3.0),
        &mut c,
    );
    let mut first = FamilySet::new();
    first.merge(&source, &mut c);
    first.push(
        Family::new("x", MetricKind::Gauge, "").with_sample(l(&[("a", "1")]), 5.0),
        &mut c,
    );
    assert_eq!(first.get("x").unwrap().samples.len(), 2);
    assert_eq!(first.get("y").unwrap().samples[0].value, 3.0);
    assert_eq!(c.len(), 1, "{c:?}");
    c.clear();
    let mut page = FamilySet::new();
    page.push(
        Family::new("y_total", MetricKind::Gauge, "").with_sample(Labels::new(), 9.0),
        &mut c,
    );
    page.merge(&source, &mut c);
    // `y` (a counter, written y_total) collides with the gauge y_total already there.
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(page.get("x").unwrap().samples.len(), 2);
    // A later push to a merged family still finds its series.
    page.push(
        Family::new("x", MetricKind::Gauge, "")
            .with_sample(l(&[("a", "2")]), 7.0)
            .with_sample(l(&[("a", "3")]), 3.0),
        &mut c,
    );
    let values: Vec<f64> = page
        .get("x")
        .unwrap()
        .samples
        .iter()
        .map(|s| s.value)
        .collect();
    assert_eq!(values, [1.0, 2.0, 3.0]);
    assert_eq!(c.len(), 2, "{c:?}");
}

#[test]
fn kind_clash_is_dropped() {
    let mut set = FamilySet::new();
    let mut conflicts = Vec::new();
    set.push(
        Family::new("x", MetricKind::Gauge, "").with_sample(Labels::new(), 1.0),
        &mut conflicts,
    );
    set.push(
        Family::new("x", MetricKind::Counter, "").with_sample(Labels::new(), 2.0),
        &mut conflicts,
    );
    assert_eq!(set.get("x").unwrap().samples.len(), 1);
    assert_eq!(set.get("x").unwrap().kind, MetricKind::Gauge);
    assert_eq!(conflicts.len(), 1);
}

#[test]
fn exposed_name_collisions_are_dropped() {
    let mut set = FamilySet::new();
    let mut c = Vec::new();
    set.push(
        Family::new("x", MetricKind::Counter, "").with_sample(Labels::new(), 1.0),
        &mut c,
    );
    set.push(
        Family::new("x_total", MetricKind::Gauge, "").with_sample(Labels::new(), 2.0),
        &mut c,
    );
    assert_eq!(set.len(), 1);
    assert_eq!(c.len(), 1);
}

#[test]
fn names_are_sanitised_and_suffixes_stripped() {
    let mut set = FamilySet::new();
    let mut c = Vec::new();
    set.push(Family::new("9a-b", MetricKind::Gauge, "two\nlines"), &mut c);
    set.push(Family::new("reqs_total", MetricKind::Counter, ""), &mut c);
    set.push(Family::new("build_info", MetricKind::Info, ""), &mut c);
    let names: Vec<_> = set.families().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["_9a_b", "reqs", "build"]);
    assert_eq!(set.families()[0].help, "two lines");
}

#[test]
fn label_names_sanitised_and_repeats_dropped() {
    let mut set = FamilySet::new();
    let mut c = Vec::new();
    set.push(
        Family::new("x", MetricKind::Gauge, "")
            .with_sample(l(&[("a-b", "1")]), 1.0)
            .with_sample(l(&[("k", "1"), ("k", "2")]), 1.0),
        &mut c,
    );
    assert_eq!(
        set.get("x").unwrap().samples,
        vec![Sample::new(labels::<LabelSet>(&[("a_b", "1")]), 1.0)]
    );
    assert_eq!(c.len(), 1);
}

#[test]
fn name_part_folds_punctuation() {
    assert_eq!(name_part("Active(anon)"), "Active_anon");
    assert_eq!(name_part("Total Accesses"), "Total_Accesses");
    assert_eq!(name_part("p99.9"), "p99_9");
    assert_eq!(name_part("--x--"), "x");
}
