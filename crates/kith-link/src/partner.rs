//! Match probabilities that know a record has at most one partner in another holder's extract.
//!
//! The field model ([`crate::weigh`]) scores each pair alone: the share of matches among all pairs,
//! moved by the pair's likelihood ratio. But a record has one partner in another holder's extract
//! or none, and most records of a small extract (the police's) have one in a large one (health's).
//! When a record's only plausible partner there scores modestly, that pair is still likely a
//! match: the alternative is that the record has no partner at all, which is rare.
//!
//! From the side of a record `a` of extract A, against extract B of `N` records: `a` has a
//! partner with probability `π`, any of B's records alike; a pair's evidence is its likelihood
//! ratio `L`; a partner outside the candidates (missed by blocking or the CLK floor) weighs
//! [`MISS`]. Then
//!
//! ```text
//! P(a ↔ b) = π·L_ab/N / ((1 − π) + π·(MISS + Σ_b' L_ab'/N))
//! ```
//!
//! with `π` fitted by EM over all of A's records, and the sum taken over `a`'s other candidates
//! in B, each by the chance it is not `b`'s person: two rows of one person in B (a pair within B
//! that the model scores as a match) are one partner, not rivals. A pair's probability is the
//! higher of its two records' views. A record's modest lone candidate rises; a candidate beside a
//! sure partner falls from that record's side. The higher of the two views also keeps duplicate
//! rows linked when kith does not look for duplicates (no pairs within B): from each row's own
//! side, the record they compete for is its only partner. The cost is calibration: a relative
//! beside a sure partner is still raised by its own lone view, so pairs scored from 0.3 to 0.99
//! are matches about half as often as their score says (`docs/benchmarks.md`).
//!
//! Pairs within one extract keep the field model's probability.

use crate::solve::{Candidate, Rec};
use rustc_hash::FxHashMap;

/// The weight of a partner outside the candidates, against a partner's total of 1.
pub const MISS: f64 = 0.01;
/// Pairs from this match probability up are candidates the record-level view is fitted on.
pub const FROM: f64 = 0.01;
/// Likelihood ratios are capped here (an exact-token match counts as this).
const CAP: f64 = 1e15;
/// EM iterations at most, and the change in `π` at which it stops.
const ITERATIONS: usize = 500;
const TOLERANCE: f64 = 1e-9;

/// The likelihood ratio of a pair of probability `p` under the prior share of matches `prior`.
fn likelihood_ratio(c: &Candidate, prior: f64) -> f64 {
    if c.exact || c.score >= 1.0 {
        return CAP;
    }
    let odds = c.score / (1.0 - c.score);
    (odds * (1.0 - prior) / prior).min(CAP)
}

/// The share of records with a partner, fitted by EM: `sums` holds each record's
/// `Σ L_ab'/N` (most are 0).
pub fn fit_share(sums: &[f64]) -> f64 {
    if sums.is_empty() {
        return 0.0;
    }
    let zeros = sums.iter().filter(|&&s| s == 0.0).count() as f64;
    let mut pi = 0.5;
    for _ in 0..ITERATIONS {
        // E: each record's chance of having a partner; M: their mean.
        let none = |x: f64| {
            let e = pi * (MISS + x);
            e / ((1.0 - pi) + e)
        };
        let total = zeros * none(0.0)
            + sums
                .iter()
                .filter(|&&s| s > 0.0)
                .map(|&s| none(s))
                .sum::<f64>();
        let next = (total / sums.len() as f64).clamp(1e-9, 1.0 - 1e-9);
        let change = (next - pi).abs();
        pi = next;
        if change < TOLERANCE {
            break;
        }
    }
    pi
}

/// Set the probability of each pair across extracts in `groups` (candidates and pairs set aside
/// alike: each is evidence of a partner) to the higher of its two records' one-partner views.
/// Pairs within one extract in the first group (the candidates) say how likely two rows are one
/// person: a rival of that probability competes only by the rest. `sizes` holds each extract's
/// record count, `prior` the field model's share of matches among pairs across extracts.
/// Deterministic: sums follow the order of `groups`.
pub fn adjust(groups: &mut [&mut [Candidate]], sizes: &[usize], prior: f64) {
    let n = sizes.len();
    // sums[i * n + j][row]: Σ L/N over the candidates in extract j of record `row` of extract i.
    let mut sums: Vec<Vec<f64>> = (0..n * n)
        .map(|ij| {
            let (i, j) = (ij / n, ij % n);
            if i == j {
                Vec::new()
            } else {
                vec![0.0; sizes[i]]
            }
        })
        .collect();
    // Pairs within one extract of the candidates: how likely two rows are one person, by row.
    let mut same: FxHashMap<Rec, Vec<(Rec, f64)>> = FxHashMap::default();
    for c in groups.first().into_iter().flat_map(|g| g.iter()) {
        if c.a.ds == c.b.ds {
            let p = c.score.min(1.0);
            same.entry(c.a).or_default().push((c.b, p));
            same.entry(c.b).or_default().push((c.a, p));
        }
    }
    // The weight (L/N) of each pair across extracts from the side of a record whose partner
    // there has rows of its own person: the rows' weights are taken back out of the rivals.
    let mut weight: FxHashMap<(Rec, Rec), f64> = FxHashMap::default();
    for c in groups.iter().flat_map(|g| g.iter()) {
        let (i, j) = (c.a.ds as usize, c.b.ds as usize);
        if i == j {
            continue;
        }
        let l = likelihood_ratio(c, prior);
        sums[i * n + j][c.a.row as usize] += l / sizes[j] as f64;
        sums[j * n + i][c.b.row as usize] += l / sizes[i] as f64;
        if same.contains_key(&c.b) {
            weight.insert((c.a, c.b), l / sizes[j] as f64);
        }
        if same.contains_key(&c.a) {
            weight.insert((c.b, c.a), l / sizes[i] as f64);
        }
    }
    let shares: Vec<f64> = sums.iter().map(|s| fit_share(s)).collect();
    // `r`'s view of its pair with `other`, of weight `e` (L/N): its other candidates in that
    // extract count as rivals by the chance they are not `other`'s person.
    let view = |r: Rec, other: Rec, e: f64| {
        let ij = r.ds as usize * n + other.ds as usize;
        let pi = shares[ij];
        let mut rest = sums[ij][r.row as usize] - e;
        for &(row, p) in same.get(&other).map_or(&[][..], Vec::as_slice) {
            rest -= weight.get(&(r, row)).copied().unwrap_or(0.0) * p;
        }
        pi * e / ((1.0 - pi) + pi * (MISS + e + rest.max(0.0)))
    };
    for c in groups.iter_mut().flat_map(|g| g.iter_mut()) {
        let (i, j) = (c.a.ds as usize, c.b.ds as usize);
        if i == j || c.exact {
            continue;
        }
        let l = likelihood_ratio(c, prior);
        let from_a = view(c.a, c.b, l / sizes[j] as f64);
        let from_b = view(c.b, c.a, l / sizes[i] as f64);
        c.score = from_a.max(from_b).min(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solve::Rec;

    fn pair(a: (u32, u32), b: (u32, u32), score: f64) -> Candidate {
        Candidate {
            score,
            a: Rec { ds: a.0, row: a.1 },
            b: Rec { ds: b.0, row: b.1 },
            exact: false,
        }
    }

    #[test]
    fn share_follows_records_with_strong_candidates() {
        // 90 of 100 records have a candidate far stronger than chance: about 0.9 have a partner.
        let mut sums = vec![0.0; 100];
        sums[..90].fill(1e6);
        let pi = fit_share(&sums);
        assert!((pi - 0.9).abs() < 0.01, "{pi}");
        assert_eq!(fit_share(&vec![0.0; 100]), 1e-9);
    }

    #[test]
    fn a_lone_modest_candidate_of_a_small_extract_is_raised() {
        // Extract 0 (10 records) lies within extract 1 (1,000): nine records have a sure partner,
        // record 9 only a modest one.
        let prior = 1e-3;
        let mut pairs: Vec<Candidate> = (0..9).map(|r| pair((0, r), (1, r), 0.999_99)).collect();
        pairs.push(pair((0, 9), (1, 9), 0.2));
        adjust(&mut [&mut pairs], &[10, 1000], prior);
        assert!(pairs[9].score > 0.5, "{}", pairs[9].score);
        // Sure partners stay sure.
        assert!(pairs[..9].iter().all(|c| c.score >= 0.999_99));
    }

    #[test]
    fn a_candidate_beside_a_sure_partner_falls() {
        // Record 0 of the small extract has a sure partner and a modest second candidate, which
        // record 500 of the large one sees as its only candidate but with little chance of any
        // partner in the small extract.
        let prior = 1e-3;
        let mut pairs: Vec<Candidate> = (0..9).map(|r| pair((0, r), (1, r), 0.999_99)).collect();
        pairs.push(pair((0, 0), (1, 500), 0.2));
        adjust(&mut [&mut pairs], &[10, 1000], prior);
        assert!(pairs[9].score < 0.2, "{}", pairs[9].score);
        assert!(pairs[0].score >= 0.999_9, "{}", pairs[0].score);
    }

    #[test]
    fn duplicate_rows_of_one_person_both_stay_sure() {
        // Record 0 of the small extract is one person with two rows (0 and 1) in the large one.
        let prior = 1e-3;
        let mut pairs: Vec<Candidate> =
            (1..9).map(|r| pair((0, r), (1, r + 1), 0.999_99)).collect();
        pairs.push(pair((0, 0), (1, 0), 0.999_99));
        pairs.push(pair((0, 0), (1, 1), 0.999_99));
        adjust(&mut [&mut pairs], &[10, 1000], prior);
        assert!(pairs[8].score > 0.99 && pairs[9].score > 0.99, "{pairs:?}");
    }

    #[test]
    fn duplicate_rows_on_both_sides_stay_sure() {
        // One person with two rows in each extract (rows 0 and 1 of both): the pairs within each
        // extract say the rows are one person, so no row's partners split its probability.
        let prior = 1e-3;
        let mut pairs: Vec<Candidate> = (2..9).map(|r| pair((0, r), (1, r), 0.999_99)).collect();
        for (a, b) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            pairs.push(pair((0, a), (1, b), 0.999_99));
        }
        let split = {
            let mut alone = pairs.clone();
            adjust(&mut [&mut alone], &[10, 10], prior);
            alone[7].score
        };
        pairs.push(pair((0, 0), (0, 1), 0.999));
        pairs.push(pair((1, 0), (1, 1), 0.999));
        adjust(&mut [&mut pairs], &[10, 10], prior);
        assert!(
            split < 0.9,
            "without the pairs within, the rows split: {split}"
        );
        assert!(pairs[7..11].iter().all(|c| c.score > 0.99), "{pairs:?}");
        assert_eq!(
            pairs[11].score, 0.999,
            "pairs within keep their probability"
        );
    }

    #[test]
    fn without_partners_to_expect_nothing_is_raised() {
        // Two large extracts that share ten people in a million pairs: a modest pair stays about
        // as it was.
        let prior = 1e-5;
        let mut pairs: Vec<Candidate> = (0..10).map(|r| pair((0, r), (1, r), 0.999_99)).collect();
        pairs.push(pair((0, 20), (1, 20), 0.2));
        adjust(&mut [&mut pairs], &[1000, 1000], prior);
        assert!(pairs[10].score < 0.25, "{}", pairs[10].score);
    }

    #[test]
    fn pairs_within_one_extract_keep_their_probability() {
        let mut pairs = vec![pair((0, 1), (0, 2), 0.2)];
        adjust(&mut [&mut pairs], &[10], 1e-3);
        assert_eq!(pairs[0].score, 0.2);
    }
}
