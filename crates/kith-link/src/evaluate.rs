//! Pairwise precision, recall and F1 against a labelled sample.
//!
//! A record is `(source, token)`. The truth gives some records an entity label; predicted pairs
//! come from links or from clusters (every pair within a cluster). Pairs that involve a record
//! the truth does not label are left out and counted, so a labelled sample can be used.

use std::collections::{BTreeMap, BTreeSet};

/// A record's name: source and token.
pub type RecordName = (String, String);

/// Counts for one kind of pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Predicted and true.
    pub true_positives: u64,
    /// Predicted, not true.
    pub false_positives: u64,
    /// True, not predicted.
    pub false_negatives: u64,
}

impl Counts {
    /// `tp / (tp + fp)` (1 when nothing was predicted).
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// `tp / (tp + fn)` (1 when there was nothing to find).
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// The evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Pairs across sources.
    pub cross: Counts,
    /// Pairs within one source (duplicates).
    pub within: Counts,
    /// Per pair of sources (in name order; a source with itself for its duplicates).
    pub by_sources: BTreeMap<(String, String), Counts>,
    /// Predicted pairs left out because a record has no label.
    pub unlabelled: u64,
}

/// The key of a pair of sources in [`Evaluation::by_sources`].
fn sources(x: &str, y: &str) -> (String, String) {
    if x <= y {
        (x.to_owned(), y.to_owned())
    } else {
        (y.to_owned(), x.to_owned())
    }
}

/// Compare predicted pairs with the truth (`record → entity label`).
pub fn evaluate(
    truth: &BTreeMap<RecordName, String>,
    predicted: impl IntoIterator<Item = (RecordName, RecordName)>,
) -> Evaluation {
    let mut e = Evaluation::default();
    let mut seen: BTreeSet<(RecordName, RecordName)> = BTreeSet::new();
    for (x, y) in predicted {
        if x == y {
            continue;
        }
        let (x, y) = if x < y { (x, y) } else { (y, x) };
        if !seen.insert((x.clone(), y.clone())) {
            continue;
        }
        let (Some(ex), Some(ey)) = (truth.get(&x), truth.get(&y)) else {
            e.unlabelled += 1;
            continue;
        };
        let by = e.by_sources.entry(sources(&x.0, &y.0)).or_default();
        let c = if x.0 == y.0 {
            &mut e.within
        } else {
            &mut e.cross
        };
        if ex == ey {
            c.true_positives += 1;
            by.true_positives += 1;
        } else {
            c.false_positives += 1;
            by.false_positives += 1;
        }
    }
    // True pairs: every pair within each labelled entity.
    let mut by_entity: BTreeMap<&str, Vec<&RecordName>> = BTreeMap::new();
    for (r, ent) in truth {
        by_entity.entry(ent.as_str()).or_default().push(r);
    }
    let (mut cross, mut within) = (0u64, 0u64);
    let mut true_by: BTreeMap<(String, String), u64> = BTreeMap::new();
    for members in by_entity.values() {
        for (i, x) in members.iter().enumerate() {
            for y in &members[i + 1..] {
                if x.0 == y.0 {
                    within += 1;
                } else {
                    cross += 1;
                }
                *true_by.entry(sources(&x.0, &y.0)).or_default() += 1;
            }
        }
    }
    e.cross.false_negatives = cross - e.cross.true_positives;
    e.within.false_negatives = within - e.within.true_positives;
    for (k, n) in true_by {
        let c = e.by_sources.entry(k).or_default();
        c.false_negatives = n - c.true_positives;
    }
    e
}

/// Every pair within each cluster (`record → cluster id`).
pub fn cluster_pairs(clusters: &BTreeMap<RecordName, String>) -> Vec<(RecordName, RecordName)> {
    let mut by: BTreeMap<&str, Vec<&RecordName>> = BTreeMap::new();
    for (r, c) in clusters {
        by.entry(c.as_str()).or_default().push(r);
    }
    let mut out = Vec::new();
    for members in by.values() {
        for (i, x) in members.iter().enumerate() {
            for y in &members[i + 1..] {
                out.push(((*x).clone(), (*y).clone()));
            }
        }
    }
    out
}

/// How well families were found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FamilyScores {
    /// Pairs of records placed in one family, against pairs of records of one true household.
    pub pairs: Counts,
    /// Families meeting the criteria threshold: a predicted family is right when the true
    /// household most of its records come from meets the threshold too, and most of that
    /// household's records are in this family.
    pub identified: Counts,
}

/// Score families. `records` gives, per record, (predicted family, true household, the criteria
/// its true record carries as bits); `family_met` the criteria each predicted family meets. A
/// true household meets the criteria its records carry, together.
pub fn evaluate_families(
    records: &[(u32, u32, u64)],
    family_met: &[usize],
    min: usize,
) -> FamilyScores {
    let pairs_of = |n: u64| n * n.saturating_sub(1) / 2;
    let mut per_family: BTreeMap<u32, u64> = BTreeMap::new();
    let mut per_household: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let mut cells: BTreeMap<(u32, u32), u64> = BTreeMap::new();
    for &(f, h, bits) in records {
        *per_family.entry(f).or_default() += 1;
        let e = per_household.entry(h).or_default();
        e.0 += 1;
        e.1 |= bits;
        *cells.entry((f, h)).or_default() += 1;
    }
    let both: u64 = cells.values().map(|&n| pairs_of(n)).sum();
    let predicted: u64 = per_family.values().map(|&n| pairs_of(n)).sum();
    let truth: u64 = per_household.values().map(|&(n, _)| pairs_of(n)).sum();
    let pairs = Counts {
        true_positives: both,
        false_positives: predicted - both,
        false_negatives: truth - both,
    };
    // Plurality household of each family and family of each household (ties: the smaller index).
    let mut best_h: BTreeMap<u32, (u64, u32)> = BTreeMap::new();
    let mut best_f: BTreeMap<u32, (u64, u32)> = BTreeMap::new();
    for (&(f, h), &n) in &cells {
        let bh = best_h.entry(f).or_insert((0, h));
        if n > bh.0 {
            *bh = (n, h);
        }
        let bf = best_f.entry(h).or_insert((0, f));
        if n > bf.0 {
            *bf = (n, f);
        }
    }
    let flagged = |h: u32| per_household[&h].1.count_ones() as usize >= min;
    let called = |f: u32| family_met.get(f as usize).copied().unwrap_or(0) >= min;
    let called_n = per_family.keys().filter(|&&f| called(f)).count() as u64;
    let true_n = per_household.keys().filter(|&&h| flagged(h)).count() as u64;
    let tp = per_family
        .keys()
        .filter(|&&f| called(f))
        .filter(|&&f| {
            let h = best_h[&f].1;
            flagged(h) && best_f[&h].1 == f
        })
        .count() as u64;
    FamilyScores {
        pairs,
        identified: Counts {
            true_positives: tp,
            false_positives: called_n - tp,
            false_negatives: true_n - tp,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_scored_by_pairs_and_by_identified_households() {
        // Household 0 (criteria a and b across two records) found whole as family 0; household 1
        // (criterion a only) split into families 1 and 2; household 2 (a, b) merged with household
        // 3 (nothing) into family 3, where household 3 holds most records.
        let records = [
            (0, 0, 0b01),
            (0, 0, 0b10),
            (1, 1, 0b01),
            (2, 1, 0),
            (3, 2, 0b11),
            (3, 3, 0),
            (3, 3, 0),
        ];
        let met = [2, 1, 0, 2];
        let s = evaluate_families(&records, &met, 2);
        // Pairs: predicted 1 + 0 + 0 + 3 = 4; true 1 + 1 + 0 + 1 = 3; both 1 + 1 = 2.
        assert_eq!(
            s.pairs,
            Counts {
                true_positives: 2,
                false_positives: 2,
                false_negatives: 1
            }
        );
        // Called: families 0 and 3; right: family 0; household 2 is missed (family 3 is mostly
        // household 3).
        assert_eq!(
            s.identified,
            Counts {
                true_positives: 1,
                false_positives: 1,
                false_negatives: 1
            }
        );
    }

    fn r(s: &str, t: &str) -> RecordName {
        (s.to_owned(), t.to_owned())
    }

    #[test]
    fn counts_cross_and_within_pairs() {
        let truth: BTreeMap<RecordName, String> = [
            (r("a", "1"), "p"),
            (r("b", "1"), "p"),
            (r("b", "2"), "p"),
            (r("a", "2"), "q"),
            (r("b", "3"), "q"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
        let predicted = vec![
            (r("a", "1"), r("b", "1")), // true cross
            (r("b", "1"), r("a", "1")), // the same pair again
            (r("a", "2"), r("b", "2")), // false cross
            (r("b", "1"), r("b", "2")), // true within
            (r("a", "9"), r("b", "3")), // unlabelled
        ];
        let e = evaluate(&truth, predicted);
        // True cross pairs: a1-b1, a1-b2, a2-b3; within: b1-b2.
        assert_eq!(
            e.cross,
            Counts {
                true_positives: 1,
                false_positives: 1,
                false_negatives: 2
            }
        );
        assert_eq!(
            e.within,
            Counts {
                true_positives: 1,
                false_positives: 0,
                false_negatives: 0
            }
        );
        assert_eq!(e.unlabelled, 1);
        assert!((e.cross.precision() - 0.5).abs() < 1e-12);
        assert!((e.cross.recall() - 1.0 / 3.0).abs() < 1e-12);
        assert!((e.cross.f1() - 0.4).abs() < 1e-12);
        let clusters: BTreeMap<RecordName, String> = [
            (r("a", "1"), "x"),
            (r("b", "1"), "x"),
            (r("b", "2"), "x"),
            (r("a", "2"), "y"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
        assert_eq!(cluster_pairs(&clusters).len(), 3);
    }
}
