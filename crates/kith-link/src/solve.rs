//! Greedy solving: candidate pairs to groups of records that are one entity.
//!
//! This is anonlink's `greedy_solve`: candidates are taken in decreasing order of score (ties by
//! dataset indices, then record indices). A pair joins two groups only when every pair of records
//! across the two groups is itself a candidate; otherwise the pair is remembered, and the groups
//! may still merge once enough of their pairs have been seen. With two parties this is greedy 1:1
//! matching. Unless within-source candidates are given (duplicate detection), a group never holds
//! two records of one dataset, because no candidate joins them.

use std::cmp::Ordering;

use rustc_hash::FxHashMap;

/// A record: dataset index and row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rec {
    /// Dataset index.
    pub ds: u32,
    /// Row within the dataset.
    pub row: u32,
}

/// A candidate pair; `a` comes before `b` (a lower dataset, or a lower row of the same one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Its score (1.0 for an exact-token match).
    pub score: f64,
    /// First record.
    pub a: Rec,
    /// Second record.
    pub b: Rec,
    /// True when an exact token made the match.
    pub exact: bool,
}

/// The order anonlink takes candidates in: score descending, then datasets, then rows.
pub fn candidate_order(x: &Candidate, y: &Candidate) -> Ordering {
    y.score
        .total_cmp(&x.score)
        .then((x.a.ds, x.b.ds, x.a.row, x.b.row).cmp(&(y.a.ds, y.b.ds, y.a.row, y.b.row)))
}

/// Solve: `candidates` must be in [`candidate_order`]. `offsets[d]` is the first global index of
/// dataset `d` (so `offsets` has one more entry than there are datasets). With `deduplicated`, two
/// records of one dataset never share a group. Returns the groups of two or more records, each
/// sorted, in order of their first record.
pub fn greedy_solve(
    candidates: &[Candidate],
    offsets: &[usize],
    deduplicated: bool,
) -> Vec<Vec<Rec>> {
    debug_assert!(
        candidates
            .windows(2)
            .all(|w| candidate_order(&w[0], &w[1]) != Ordering::Greater),
        "candidates in order"
    );
    const NONE: u32 = u32::MAX;
    let total = offsets.last().copied().unwrap_or(0);
    let gid = |r: Rec| offsets[r.ds as usize] + r.row as usize;
    let mut group_of = vec![NONE; total];
    let mut groups: Vec<Vec<Rec>> = Vec::new();
    // Candidate pairs seen between two groups that were not merged.
    let mut matchable: Vec<FxHashMap<u32, u32>> = Vec::new();
    let shares_dataset = |x: &[Rec], y: &[Rec]| x.iter().any(|p| y.iter().any(|q| p.ds == q.ds));

    for c in candidates {
        let (mut i0, mut i1) = (c.a, c.b);
        if i0 == i1 {
            continue;
        }
        let (mut g0, mut g1) = (group_of[gid(i0)], group_of[gid(i1)]);
        if g0 != NONE && g1 != NONE {
            if g0 == g1 {
                continue;
            }
            let seen = matchable[g0 as usize].get(&g1).copied().unwrap_or(0);
            let product = groups[g0 as usize].len() * groups[g1 as usize].len();
            let all_pairs = seen as usize + 1 >= product;
            let dup_ok =
                !deduplicated || !shares_dataset(&groups[g0 as usize], &groups[g1 as usize]);
            if all_pairs && dup_ok {
                if groups[g0 as usize].len() < groups[g1 as usize].len() {
                    std::mem::swap(&mut g0, &mut g1);
                }
                let moved = std::mem::take(&mut groups[g1 as usize]);
                for r in &moved {
                    group_of[gid(*r)] = g0;
                }
                groups[g0 as usize].extend(moved);
                let edges = std::mem::take(&mut matchable[g1 as usize]);
                matchable[g0 as usize].remove(&g1);
                for (j, n) in edges {
                    if j == g0 {
                        continue;
                    }
                    matchable[j as usize].remove(&g1);
                    *matchable[g0 as usize].entry(j).or_insert(0) += n;
                    *matchable[j as usize].entry(g0).or_insert(0) += n;
                }
            } else {
                *matchable[g0 as usize].entry(g1).or_insert(0) += 1;
                *matchable[g1 as usize].entry(g0).or_insert(0) += 1;
            }
            continue;
        }
        if g0 == NONE && g1 != NONE {
            std::mem::swap(&mut i0, &mut i1);
            std::mem::swap(&mut g0, &mut g1);
        }
        if g0 != NONE {
            // i0 has a group, i1 has none.
            let g = &groups[g0 as usize];
            let dup_ok = !deduplicated || g.iter().all(|m| m.ds != i1.ds);
            if g.len() == 1 && dup_ok {
                groups[g0 as usize].push(i1);
                group_of[gid(i1)] = g0;
            } else {
                let new = groups.len() as u32;
                groups.push(vec![i1]);
                matchable.push(FxHashMap::default());
                group_of[gid(i1)] = new;
                matchable[new as usize].insert(g0, 1);
                matchable[g0 as usize].insert(new, 1);
            }
            continue;
        }
        if !deduplicated || i0.ds != i1.ds {
            let new = groups.len() as u32;
            groups.push(vec![i0, i1]);
            matchable.push(FxHashMap::default());
            group_of[gid(i0)] = new;
            group_of[gid(i1)] = new;
        }
    }
    let mut out: Vec<Vec<Rec>> = groups
        .into_iter()
        .filter(|g| g.len() > 1)
        .map(|mut g| {
            g.sort_unstable();
            g
        })
        .collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(score: f64, a: (u32, u32), b: (u32, u32)) -> Candidate {
        Candidate {
            score,
            a: Rec { ds: a.0, row: a.1 },
            b: Rec { ds: b.0, row: b.1 },
            exact: false,
        }
    }

    fn r(ds: u32, row: u32) -> Rec {
        Rec { ds, row }
    }

    #[test]
    fn two_parties_give_greedy_one_to_one() {
        let mut cands = vec![
            c(0.9, (0, 0), (1, 0)),
            c(0.85, (0, 1), (1, 0)),
            c(0.8, (0, 1), (1, 1)),
            c(0.95, (0, 2), (1, 2)),
            c(0.7, (0, 0), (1, 1)),
        ];
        cands.sort_by(candidate_order);
        let g = greedy_solve(&cands, &[0, 3, 6], true);
        assert_eq!(
            g,
            vec![
                vec![r(0, 0), r(1, 0)],
                vec![r(0, 1), r(1, 1)],
                vec![r(0, 2), r(1, 2)]
            ]
        );
    }

    #[test]
    fn three_parties_merge_only_when_every_pair_is_a_candidate() {
        // A0-B0, B0-C0 and A0-C0 are all candidates: one entity of three.
        // A1-B1 and B1-C1 but not A1-C1: C1 stays out.
        let mut cands = vec![
            c(0.9, (0, 0), (1, 0)),
            c(0.88, (1, 0), (2, 0)),
            c(0.86, (0, 0), (2, 0)),
            c(0.9, (0, 1), (1, 1)),
            c(0.88, (1, 1), (2, 1)),
        ];
        cands.sort_by(candidate_order);
        let g = greedy_solve(&cands, &[0, 2, 4, 6], true);
        assert_eq!(
            g,
            vec![vec![r(0, 0), r(1, 0), r(2, 0)], vec![r(0, 1), r(1, 1)]]
        );
    }

    #[test]
    fn within_source_pairs_group_only_when_duplicates_are_allowed() {
        let cands = vec![
            c(0.95, (0, 0), (0, 1)),
            c(0.9, (0, 0), (1, 0)),
            c(0.9, (0, 1), (1, 0)),
        ];
        assert_eq!(
            greedy_solve(&cands, &[0, 2, 3], false),
            vec![vec![r(0, 0), r(0, 1), r(1, 0)]]
        );
        assert_eq!(
            greedy_solve(&cands, &[0, 2, 3], true),
            vec![vec![r(0, 0), r(1, 0)]]
        );
    }
}
