//! Which rules a record's key can match: rules by exact key (`key`, `names`), and the
//! `match` rules' patterns in one automaton, so a record only tries the rules that can
//! match it, in their order (an HAProxy page has 160k records and its recipe 90 rules).

use crate::parse::RecipeError;
use foldhash::HashMap;
use regex::RegexSet;

use super::rule::{Matcher, Rule};

#[derive(Debug)]
pub(super) struct RuleIndex {
    by_key: HashMap<String, Vec<usize>>,
    pattern_rules: Vec<usize>,
    /// The `match` rules' patterns: a key is scanned once, not per rule.
    patterns: RegexSet,
}

impl RuleIndex {
    pub(super) fn new(rules: &[Rule]) -> Result<RuleIndex, RecipeError> {
        let mut by_key: HashMap<String, Vec<usize>> = HashMap::default();
        let (mut pattern_rules, mut patterns) = (Vec::new(), Vec::new());
        for (i, rule) in rules.iter().enumerate() {
            match &rule.matcher {
                Matcher::Key(k) => by_key.entry(k.clone()).or_default().push(i),
                Matcher::Names(n) => {
                    for k in n.keys() {
                        by_key.entry(k.clone()).or_default().push(i);
                    }
                }
                Matcher::Pattern(re) => {
                    pattern_rules.push(i);
                    patterns.push(re.as_str());
                }
            }
        }
        let patterns = RegexSet::new(&patterns).map_err(|e| {
            RecipeError::new(crate::parse::ErrorKind::Pattern, e.to_string()).at("mapping.metric")
        })?;
        Ok(RuleIndex {
            by_key,
            pattern_rules,
            patterns,
        })
    }

    /// The rules that can match `key`, in rule order: those listed under the key (their key
    /// matches, only `when` is left to check), and the `match` rules whose pattern matches.
    /// The patterns are only scanned once an exact rule before them has not decided.
    pub(super) fn candidates<'a>(
        &'a self,
        rules: &'a [Rule],
        key: &'a str,
    ) -> impl Iterator<Item = (usize, &'a Rule)> + 'a {
        let exact: &[usize] = self.by_key.get(key).map_or(&[], Vec::as_slice);
        let first_pattern = self.pattern_rules.first().copied().unwrap_or(usize::MAX);
        let mut hits: Option<Vec<usize>> = None;
        let (mut e, mut p) = (0, 0);
        std::iter::from_fn(move || {
            let x = exact.get(e).copied();
            if let Some(x) = x.filter(|&x| x < first_pattern) {
                e += 1;
                return rules.get(x).map(|r| (x, r));
            }
            let hits = hits.get_or_insert_with(|| {
                if self.pattern_rules.is_empty() {
                    return Vec::new();
                }
                let set = self.patterns.matches(key);
                set.iter()
                    .filter_map(|i| self.pattern_rules.get(i).copied())
                    .collect()
            });
            let next = match (x, hits.get(p).copied()) {
                (Some(x), Some(y)) if x < y => {
                    e += 1;
                    x
                }
                (_, Some(y)) => {
                    p += 1;
                    y
                }
                (Some(x), None) => {
                    e += 1;
                    x
                }
                (None, None) => return None,
            };
            rules.get(next).map(|r| (next, r))
        })
    }
}
