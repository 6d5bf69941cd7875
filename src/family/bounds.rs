//! Bounds on what a source may put on the page, whatever its input: the length of a label
//! value and the size of its part of the page. A small input can make a big page (bare
//! `csv` writes every cell with its whole row as labels; a log line's method is as long as
//! the app writes it), so what is produced is bounded, not only what is read.

use super::{Family, LabelSet, PerLabelSet};

/// The longest label value kept, in bytes; a longer one is cut to this (at a character
/// boundary) and counted. Real label values (a method, a backend name, a path) are far
/// shorter; 1 MiB methods in a log are an attack or garbage.
pub const LABEL_VALUE_MAX: usize = 1024;

/// The most bytes one source's part of the page may take (estimated as written in the
/// text format); past it the source is down.
pub const PAGE_MAX: usize = 64 << 20;

/// `value` cut to [`LABEL_VALUE_MAX`] bytes at a character boundary, or `None` when it is
/// short enough.
pub fn cut_label_value(value: &str) -> Option<&str> {
    if value.len() <= LABEL_VALUE_MAX {
        return None;
    }
    let end = (0..=LABEL_VALUE_MAX)
        .rev()
        .find(|&i| value.is_char_boundary(i))
        .unwrap_or(0);
    value.get(..end)
}

/// Cuts every label value longer than [`LABEL_VALUE_MAX`]; returns how many were cut and
/// the first, described.
pub fn cut_long_label_values(families: &mut [Family]) -> (u64, Option<String>) {
    let (mut cut, mut first) = (0, None);
    let mut done = PerLabelSet::<Option<LabelSet>>::default();
    for family in families.iter_mut() {
        for sample in &mut family.samples {
            let labels = &sample.labels;
            let cut_set = done.get_or_insert_with(labels, || {
                if !labels.iter().any(|(_, v)| v.len() > LABEL_VALUE_MAX) {
                    return None;
                }
                let set: Vec<(String, String)> = labels
                    .iter()
                    .map(|(k, v)| {
                        let Some(short) = cut_label_value(v) else {
                            return (k.clone(), v.clone());
                        };
                        cut += 1;
                        if first.is_none() {
                            first = Some(format!(
                                "{}: label {k}: a value of {} bytes cut to {LABEL_VALUE_MAX}",
                                family.name,
                                v.len()
                            ));
                        }
                        (k.clone(), short.to_string())
                    })
                    .collect();
                Some(set.into())
            });
            if let Some(set) = cut_set {
                sample.labels = set;
            }
        }
    }
    (cut, first)
}

/// About how many bytes `families` take on a text page (name, labels, value, line break;
/// HELP and TYPE lines), without writing it.
pub fn page_size(families: &[Family]) -> usize {
    families
        .iter()
        .map(|f| {
            let head = 2 * f.name.len() + f.help.len() + 30;
            let per: usize = f
                .samples
                .iter()
                .map(|s| {
                    let labels: usize = s.labels.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
                    f.name.len() + s.suffix.as_str().len() + labels + 26
                })
                .sum();
            head + per
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::MetricKind;

    #[test]
    fn long_label_values_are_cut_at_a_character_boundary_and_counted() {
        let long = format!("{}é{}", "a".repeat(LABEL_VALUE_MAX - 1), "b".repeat(10));
        let mut families = vec![Family::new("x", MetricKind::Gauge, "")
            .with_sample(vec![("m".to_string(), long.clone())], 1.0)
            .with_sample(vec![("m".to_string(), "GET".to_string())], 2.0)];
        let (cut, first) = cut_long_label_values(&mut families);
        assert_eq!(cut, 1);
        assert_eq!(
            first.as_deref(),
            Some(format!("x: label m: a value of {} bytes cut to 1024", long.len()).as_str())
        );
        let values: Vec<&str> = families[0]
            .samples
            .iter()
            .map(|s| s.labels[0].1.as_str())
            .collect();
        assert_eq!(values[0], "a".repeat(LABEL_VALUE_MAX - 1));
        assert_eq!(values[1], "GET");
        assert!(page_size(&families) > LABEL_VALUE_MAX);
    }
}
