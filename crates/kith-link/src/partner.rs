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
//! with `π` fitted by EM over all of A's records. A pair's probability is the higher of its two
//! records' views. A record's modest lone candidate rises; a candidate beside a sure partner falls,
//! so that of the pairs scored near 0.3 about three in ten are matches, as the threshold assumes.
//! The higher of the two views keeps a holder's duplicate rows linked: from the side of the
//! record they compete for, two rows of one person split its probability, but from each row's
//! own side that record is its only partner. (Duplicates on both sides can split both views;
//! the solver then links them through the rows' other evidence, or misses them.)
//!
//! Pairs within one extract keep the field model's probability.

use crate::solve::Candidate;

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
/// alike: each is evidence of a partner) to the higher of its two records' one-partner views. `sizes` holds each extract's record count, `prior` the field model's share of matches
/// among pairs across extracts. Deterministic: sums follow the order of `groups`.
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
    for c in groups.iter().flat_map(|g| g.iter()) {
        let (i, j) = (c.a.ds as usize, c.b.ds as usize);
        if i == j {
            continue;
        }
        let l = likelihood_ratio(c, prior);
        sums[i * n + j][c.a.row as usize] += l / sizes[j] as f64;
        sums[j * n + i][c.b.row as usize] += l / sizes[i] as f64;
    }
    let shares: Vec<f64> = sums.iter().map(|s| fit_share(s)).collect();
    let view = |i: usize, j: usize, row: u32, l: f64| {
        let pi = shares[i * n + j];
        let s = sums[i * n + j][row as usize];
        let e = pi * l / sizes[j] as f64;
        e / ((1.0 - pi) + pi * (MISS + s))
    };
    for c in groups.iter_mut().flat_map(|g| g.iter_mut()) {
        let (i, j) = (c.a.ds as usize, c.b.ds as usize);
        if i == j || c.exact {
            continue;
        }
        let l = likelihood_ratio(c, prior);
        c.score = view(i, j, c.a.row, l).max(view(j, i, c.b.row, l)).min(1.0);
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
