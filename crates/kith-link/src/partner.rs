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
//! side, the record they compete for is its only partner. Links are decided on that higher view.
//!
//! It is not a calibrated probability: a relative beside a sure partner is raised by its own lone
//! view. So, when a run looks for duplicates, the probability written out ([`Candidate::shown`])
//! also takes each view by the chance that the other record's partner is not someone else (too
//! low, as that counts rivals from both sides) and pools the two in odds, and a pair within one
//! extract is taken by the chance its two rows' likeliest partners elsewhere are not two people
//! (`docs/benchmarks.md` has the calibration). Deciding on these instead loses rows of one person
//! the model does not pair within, and merges more twins.
//!
//! Pairs within one extract keep the field model's probability as their score.

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
/// An extract's share of duplicates is kept within this factor of the pooled one either way.
const WITHIN_SPREAD: f64 = 100.0;
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

/// Each extract's own share of duplicates, as a multiple of the model's pooled share for pairs
/// within one extract (`prior`), fitted by EM from the pairs within each extract in the groups
/// `fit_on` marks (the candidates, and pairs the twin rule was unsure of): the expected number of
/// duplicates among its `n·(n − 1)/2` pairs is the sum of its pairs' probabilities under its own
/// share. Holders differ: a police extract of aliases holds ten times the duplicates a health
/// register does, and one pooled share holds the police's to too much evidence and lets the
/// register's namesakes through. Then every pair within an extract in `groups` (exact matches
/// aside) takes its extract's share: its odds times the multiple. The multiples, by extract, are
/// returned (1 for an extract without pairs within). Deterministic: each extract's pairs are
/// summed in the order of their records.
pub fn reweigh_within(
    groups: &mut [&mut [Candidate]],
    fit_on: &[bool],
    sizes: &[usize],
    prior: f64,
) -> Vec<f64> {
    let mut within: Vec<Vec<(Rec, Rec, f64)>> = vec![Vec::new(); sizes.len()];
    for (g, _) in groups.iter().zip(fit_on).filter(|(_, on)| **on) {
        for c in g.iter().filter(|c| c.a.ds == c.b.ds && !c.exact) {
            if let Some(w) = within.get_mut(c.a.ds as usize) {
                w.push((c.a, c.b, c.score.clamp(0.0, 1.0 - 1e-12)));
            }
        }
    }
    let multiples: Vec<f64> = within
        .iter_mut()
        .zip(sizes)
        .map(|(list, &n)| {
            let all = n as f64 * n.saturating_sub(1) as f64 / 2.0;
            if list.is_empty() || all == 0.0 || prior <= 0.0 {
                return 1.0;
            }
            list.sort_unstable_by_key(|&(a, b, _)| (a, b));
            let mut r = 1.0f64;
            for _ in 0..ITERATIONS {
                let expected: f64 = list.iter().map(|&(_, _, p)| with_multiple(p, r)).sum();
                let next = (expected / all / prior).clamp(1.0 / WITHIN_SPREAD, WITHIN_SPREAD);
                let change = (next - r).abs();
                r = next;
                if change < TOLERANCE * r {
                    break;
                }
            }
            r
        })
        .collect();
    for g in groups.iter_mut() {
        for c in g.iter_mut().filter(|c| c.a.ds == c.b.ds && !c.exact) {
            let r = multiples.get(c.a.ds as usize).copied().unwrap_or(1.0);
            c.score = with_multiple(c.score, r);
        }
    }
    multiples
}

/// Probability `p` of a pair within one extract under the pooled share of duplicates, under its
/// extract's share instead: its odds times `multiple` (see [`reweigh_within`]).
pub fn with_multiple(p: f64, multiple: f64) -> f64 {
    if p >= 1.0 {
        return p;
    }
    let x = p / (1.0 - p) * multiple;
    x / (1.0 + x)
}

/// The probability written out for a pair across extracts: the geometric mean, in odds, of the
/// discounted view `low` (too low: each record's rivals are counted against it from both sides)
/// and the decided one `high` (too high: the other record's partner is not looked at). Of these
/// two, the lower and the mean of the two views, and this pool, only the pool was calibrated in
/// every band on each synthetic population measured (`docs/benchmarks.md`).
fn pool(low: f64, high: f64) -> f64 {
    // A certain view counts as odds of 10^12, so that the other still has a say.
    let odds = |p: f64| {
        let p = p.clamp(0.0, 1.0 - 1e-12);
        p / (1.0 - p)
    };
    let o = (odds(low) * odds(high)).sqrt();
    o / (1.0 + o)
}

/// Set the probability of each pair across extracts in `groups` (candidates and pairs set aside
/// alike: each is evidence of a partner) to the higher of its two records' one-partner views.
/// Pairs within one extract in the first group (the candidates) say how likely two rows are one
/// person: a rival of that probability competes only by the rest. `sizes` holds each extract's
/// record count, `prior` the field model's share of matches among pairs across extracts.
///
/// The probability written out ([`Candidate::shown`]) of a pair across extracts pools (see
/// `pool`) the decided probability with the higher of the two views each discounted by the
/// chance that the other record's partner is someone else: a relative beside a sure partner is
/// then not raised by its own lone view. That of a pair within one extract is its probability
/// discounted by the chance that its rows' likeliest partners in another extract are two people.
/// Rows of one person are told from rivals by the pairs within extracts of the groups `one` marks (the candidates, and those the twin rule was unsure of), so
/// only when `within` (pairs within extracts were looked for); otherwise the probability written
/// out is the decided one. Deterministic: sums follow the order of `groups`.
pub fn adjust(
    groups: &mut [&mut [Candidate]],
    one: &[bool],
    sizes: &[usize],
    prior: f64,
    within: bool,
) {
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
    // Pairs within one extract: how likely two rows are one person, by row; of the candidates
    // (`same`), and of every group `one` marks (`alike`).
    let within_pairs = |gs: &mut dyn Iterator<Item = &Candidate>| {
        let mut m: FxHashMap<Rec, Vec<(Rec, f64)>> = FxHashMap::default();
        for c in gs.filter(|c| c.a.ds == c.b.ds) {
            let p = c.score.min(1.0);
            m.entry(c.a).or_default().push((c.b, p));
            m.entry(c.b).or_default().push((c.a, p));
        }
        m
    };
    let same = within_pairs(&mut groups.first().into_iter().flat_map(|g| g.iter()));
    let alike = if within {
        within_pairs(
            &mut groups
                .iter()
                .zip(one)
                .filter(|(_, one)| **one)
                .flat_map(|(g, _)| g.iter()),
        )
    } else {
        FxHashMap::default()
    };
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
    // Both views of each pair, in order; and taken[i * n + j][row], the sum of record `row`'s views
    // of its candidates in extract j (how likely its partner there is any of them).
    let mut taken: Vec<Vec<f64>> = sums
        .iter()
        .map(|s| {
            if within {
                vec![0.0; s.len()]
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut views: FxHashMap<(Rec, Rec), f64> = FxHashMap::default();
    // best[i * n + j][row]: record `row` of extract i's likeliest partner in extract j (its row,
    // `NONE` for none) and its view of it.
    const NONE: u32 = u32::MAX;
    let mut best: Vec<Vec<(u32, f32)>> = sums
        .iter()
        .map(|s| {
            if within {
                vec![(NONE, 0.0); s.len()]
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut keep_best = |r: Rec, other: Rec, v: f64| {
        let e = &mut best[r.ds as usize * n + other.ds as usize][r.row as usize];
        let v = v as f32;
        if e.0 == NONE || v > e.1 || (v == e.1 && other.row < e.0) {
            *e = (other.row, v);
        }
    };
    let mut both: Vec<(f64, f64)> = Vec::new();
    for c in groups.iter().flat_map(|g| g.iter()) {
        let (i, j) = (c.a.ds as usize, c.b.ds as usize);
        if i == j {
            continue;
        }
        let l = likelihood_ratio(c, prior);
        let from_a = view(c.a, c.b, l / sizes[j] as f64);
        let from_b = view(c.b, c.a, l / sizes[i] as f64);
        both.push((from_a, from_b));
        if !within {
            continue;
        }
        taken[i * n + j][c.a.row as usize] += from_a;
        taken[j * n + i][c.b.row as usize] += from_b;
        keep_best(c.a, c.b, from_a);
        keep_best(c.b, c.a, from_b);
        if alike.contains_key(&c.b) {
            views.insert((c.a, c.b), from_a);
        }
        if alike.contains_key(&c.a) {
            views.insert((c.b, c.a), from_b);
        }
    }
    // How likely `r`'s partner in `other`'s extract is neither `other` nor a row of its person.
    let elsewhere = |r: Rec, other: Rec, own: f64| {
        let ij = r.ds as usize * n + other.ds as usize;
        let mut rest = taken[ij][r.row as usize] - own;
        for &(row, p) in alike.get(&other).map_or(&[][..], Vec::as_slice) {
            rest -= views.get(&(r, row)).copied().unwrap_or(0.0) * p;
        }
        rest.clamp(0.0, 1.0)
    };
    // How likely two rows of one extract have partners elsewhere that are two people: each
    // row's likeliest partner in each other extract, when those are not rows of one person.
    let apart = |x: Rec, y: Rec| {
        let mut one = 1.0;
        for j in 0..n {
            if j == x.ds as usize {
                continue;
            }
            let ij = x.ds as usize * n + j;
            let ((bx, vx), (by, vy)) = (best[ij][x.row as usize], best[ij][y.row as usize]);
            if bx == NONE || by == NONE || bx == by {
                continue;
            }
            let (bx, by) = (
                Rec {
                    ds: j as u32,
                    row: bx,
                },
                Rec {
                    ds: j as u32,
                    row: by,
                },
            );
            let p = alike
                .get(&bx)
                .and_then(|l| l.iter().find(|(r, _)| *r == by))
                .map_or(0.0, |&(_, p)| p);
            one *= 1.0 - f64::from(vx) * f64::from(vy) * (1.0 - p);
        }
        1.0 - one
    };
    let mut next = both.into_iter();
    for c in groups.iter_mut().flat_map(|g| g.iter_mut()) {
        if c.a.ds == c.b.ds {
            // Two rows whose partners elsewhere are two people are two people.
            let off = if within { apart(c.a, c.b) } else { 0.0 };
            c.shown = if off > 0.0 {
                (c.score * (1.0 - off)) as f32
            } else {
                Candidate::SCORE
            };
            continue;
        }
        let Some((from_a, from_b)) = next.next() else {
            break;
        };
        if c.exact {
            continue;
        }
        c.score = from_a.max(from_b).min(1.0);
        c.shown = if within {
            let a = from_a * (1.0 - elsewhere(c.b, c.a, from_b));
            let b = from_b * (1.0 - elsewhere(c.a, c.b, from_a));
            pool(a.max(b), c.score) as f32
        } else {
            Candidate::SCORE
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solve::Rec;

    fn pair(a: (u32, u32), b: (u32, u32), score: f64) -> Candidate {
        Candidate {
            score,
            shown: Candidate::SCORE,
            a: Rec { ds: a.0, row: a.1 },
            b: Rec { ds: b.0, row: b.1 },
            exact: false,
        }
    }

    /// Extract 0 (1,000 records) has 40 pairs within it the pooled model is sure of and extract 1
    /// (1,000 records) 2: with a pooled share of one duplicate in 10⁵ pairs (about 5 an
    /// extract), the first's own share is about eight times it, the second's about half; a
    /// modest pair rises in the first and falls in the second, an exact match stays, a pair
    /// across extracts is not touched.
    #[test]
    fn each_extract_takes_its_own_share_of_duplicates() {
        let prior = 1e-5;
        let mut pairs: Vec<Candidate> = (0..40)
            .map(|r| pair((0, 2 * r), (0, 2 * r + 1), 0.999))
            .chain((0..2).map(|r| pair((1, 2 * r), (1, 2 * r + 1), 0.999)))
            .collect();
        pairs.push(pair((0, 900), (0, 901), 0.5));
        pairs.push(pair((1, 900), (1, 901), 0.5));
        pairs.push(Candidate {
            exact: true,
            ..pair((1, 902), (1, 903), 1.0)
        });
        pairs.push(pair((0, 902), (1, 903), 0.5));
        let mut twins = vec![pair((0, 904), (0, 905), 0.999)];
        let m = reweigh_within(
            &mut [&mut pairs, &mut twins],
            &[true, false],
            &[1000, 1000],
            prior,
        );
        assert!((7.0..9.5).contains(&m[0]), "{m:?}");
        assert!((0.3..0.7).contains(&m[1]), "{m:?}");
        let score = |a: (u32, u32), b: (u32, u32)| {
            pairs
                .iter()
                .find(|c| (c.a, c.b) == (Rec { ds: a.0, row: a.1 }, Rec { ds: b.0, row: b.1 }))
                .map(|c| c.score)
        };
        assert!(score((0, 900), (0, 901)).is_some_and(|p| p > 0.85));
        assert!(score((1, 900), (1, 901)).is_some_and(|p| p < 0.4));
        assert_eq!(score((1, 902), (1, 903)), Some(1.0));
        assert_eq!(score((0, 902), (1, 903)), Some(0.5));
        assert!(
            twins[0].score > 0.999,
            "pairs set aside take the share, not count in it"
        );
        // Without pairs within, nothing moves.
        assert_eq!(
            reweigh_within(&mut [&mut Vec::new()], &[true], &[10], prior),
            vec![1.0]
        );
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
        adjust(&mut [&mut pairs], &[true], &[10, 1000], prior, true);
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
        adjust(&mut [&mut pairs], &[true], &[10, 1000], prior, true);
        assert!(pairs[9].score < 0.2, "{}", pairs[9].score);
        assert!(pairs[0].score >= 0.999_9, "{}", pairs[0].score);
    }

    #[test]
    fn a_relative_beside_a_sure_partner_is_shown_unlikely_but_decided_as_before() {
        // Record 0 of extract 0 has a sure partner, row 0 of extract 1; row 500 there (a
        // brother) sees record 0 as its only candidate. Its own lone view decides the pair as
        // before; the probability shown knows record 0's partner is row 0.
        let prior = 1e-3;
        let mut pairs: Vec<Candidate> = (0..9).map(|r| pair((0, r), (1, r), 0.999_99)).collect();
        pairs.push(pair((0, 0), (1, 500), 0.9));
        let mut without = pairs.clone();
        adjust(&mut [&mut pairs], &[true], &[10, 1000], prior, true);
        adjust(&mut [&mut without], &[true], &[10, 1000], prior, false);
        assert_eq!(pairs[9].score, without[9].score, "decided alike");
        assert!(pairs[9].shown() < 0.05, "{}", pairs[9].shown());
        assert_eq!(
            without[9].shown(),
            without[9].score,
            "no pairs within: shown as decided"
        );
        assert!(pairs[0].shown() > 0.999, "{}", pairs[0].shown());
    }

    #[test]
    fn rows_of_one_person_are_not_rivals_in_the_probability_shown() {
        // Record 0 of extract 0 is one person with rows 0 and 1 of extract 1, which a pair
        // within says; a twin rule unsure of that pair (the last group) counts too.
        let prior = 1e-3;
        for group in [0, 1] {
            let mut pairs: Vec<Candidate> =
                (2..9).map(|r| pair((0, r), (1, r), 0.999_99)).collect();
            pairs.push(pair((0, 0), (1, 0), 0.999_99));
            pairs.push(pair((0, 0), (1, 1), 0.999_99));
            let mut within = vec![pair((1, 0), (1, 1), 0.999)];
            let mut groups: [&mut [Candidate]; 2] = if group == 0 {
                pairs.append(&mut within);
                [&mut pairs, &mut []]
            } else {
                [&mut pairs, &mut within]
            };
            adjust(&mut groups, &[true, true], &[10, 1000], prior, true);
            let shown: Vec<f64> = groups[0][7..9].iter().map(Candidate::shown).collect();
            assert!(shown.iter().all(|&p| p > 0.99), "group {group}: {shown:?}");
        }
    }

    /// The written probability lies between the discounted view and the decided one, at their
    /// geometric mean in odds, and a certain view does not make it certain alone.
    #[test]
    fn the_written_probability_pools_the_two_views_in_odds() {
        assert!((pool(0.2, 0.8) - 0.5).abs() < 1e-12);
        assert!((pool(0.1, 0.1) - 0.1).abs() < 1e-12);
        let (low, high) = (0.05, 0.9);
        let p = pool(low, high);
        assert!(low < p && p < high, "{p}");
        let odds = p / (1.0 - p);
        assert!((odds * odds - low / (1.0 - low) * high / (1.0 - high)).abs() < 1e-12);
        assert!(pool(1e-9, 1.0) < 0.999, "{}", pool(1e-9, 1.0));
        assert!(pool(0.99, 1.0) > 0.9999);
        assert_eq!(pool(0.0, 0.7), 0.0);
    }

    #[test]
    fn rows_whose_partners_elsewhere_are_two_people_are_shown_unlikely_one() {
        // Rows 0 and 1 of extract 0 (twins, say) score 0.95 as one person, but each has its own
        // sure partner in extract 1 (rows 0 and 1, not a pair within): shown far less likely.
        // Rows 2 and 3, a pair of one person with one partner (row 2), stay as they were.
        let prior = 1e-3;
        let mut pairs: Vec<Candidate> = (0..3).map(|r| pair((0, r), (1, r), 0.999_99)).collect();
        pairs.push(pair((0, 3), (1, 2), 0.999_99));
        pairs.push(pair((0, 0), (0, 1), 0.95));
        pairs.push(pair((0, 2), (0, 3), 0.95));
        adjust(&mut [&mut pairs], &[true], &[10, 10], prior, true);
        assert_eq!(pairs[4].score, 0.95, "decided on the model's probability");
        assert!(pairs[4].shown() < 0.05, "{}", pairs[4].shown());
        assert_eq!(pairs[5].shown(), 0.95);
    }

    #[test]
    fn duplicate_rows_of_one_person_both_stay_sure() {
        // Record 0 of the small extract is one person with two rows (0 and 1) in the large one.
        let prior = 1e-3;
        let mut pairs: Vec<Candidate> =
            (1..9).map(|r| pair((0, r), (1, r + 1), 0.999_99)).collect();
        pairs.push(pair((0, 0), (1, 0), 0.999_99));
        pairs.push(pair((0, 0), (1, 1), 0.999_99));
        adjust(&mut [&mut pairs], &[true], &[10, 1000], prior, false);
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
            adjust(&mut [&mut alone], &[true], &[10, 10], prior, true);
            alone[7].score
        };
        pairs.push(pair((0, 0), (0, 1), 0.999));
        pairs.push(pair((1, 0), (1, 1), 0.999));
        adjust(&mut [&mut pairs], &[true], &[10, 10], prior, true);
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
        adjust(&mut [&mut pairs], &[true], &[1000, 1000], prior, true);
        assert!(pairs[10].score < 0.25, "{}", pairs[10].score);
    }

    #[test]
    fn pairs_within_one_extract_keep_their_probability() {
        let mut pairs = vec![pair((0, 1), (0, 2), 0.2)];
        adjust(&mut [&mut pairs], &[true], &[10], 1e-3, true);
        assert_eq!(pairs[0].score, 0.2);
    }
}
