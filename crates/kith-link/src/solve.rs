//! Greedy solving: candidate pairs to groups of records that are one entity.
//!
//! Candidates are taken in decreasing order of score (ties by dataset indices, then record
//! indices), as anonlink's `greedy_solve` takes them. Each record starts as a group of its own; a
//! candidate between two groups is counted as evidence between them, and the groups merge when
//! the evidence across them holds:
//! - every pair of records of **one dataset** across them is itself a candidate (a duplicate
//!   found within that holder's records), or, without duplicate detection, there is no such pair;
//! - at least half of the pairs of records of **different datasets** across them are candidates.
//!
//! anonlink asks for every pair across the groups. Then one spoiled record (a date of birth typed
//! wrong, linked to its person by an exact NHS number) keeps every clean record of that person
//! out of the group, since the clean record and the spoiled one score too low to be a candidate.
//! Asking for a majority follows the evidence instead, while the rule for pairs within one
//! dataset still keeps twins apart: twins are never candidates of each other. Pairs set aside as
//! possible twins (`apart`) veto any merge of the groups that hold them, so a majority across
//! holders cannot join one twin's records to the other's. With two parties this is greedy 1:1
//! matching.

use std::cmp::Ordering;

use rustc_hash::FxHashMap;

/// When two groups of records join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Join {
    /// At least half of the pairs of records of different datasets across them are candidates
    /// (see the module documentation).
    #[default]
    Majority,
    /// Every pair across them is a candidate: anonlink's rule, whose groups kith then gives
    /// exactly.
    Every,
}

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

/// Solve: `candidates` must be in [`candidate_order`]; no group holds both records of a pair in
/// `apart`. `offsets[d]` is the first global index of
/// dataset `d` (so `offsets` has one more entry than there are datasets). With `deduplicated`, two
/// records of one dataset never share a group. `join` says when groups join. Returns the groups of
/// two or more records, each sorted, in order of their first record.
pub fn greedy_solve(
    candidates: &[Candidate],
    apart: &[Candidate],
    offsets: &[usize],
    deduplicated: bool,
    join: Join,
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
    // Candidate pairs seen between two groups that were not merged: (pairs of records of one
    // dataset, pairs of records of different datasets).
    let mut seen: Vec<FxHashMap<u32, (u32, u32, u32)>> = Vec::new();
    // Pairs of records across two groups: (of one dataset, of different datasets).
    let across = |x: &[Rec], y: &[Rec]| {
        let same = x
            .iter()
            .map(|p| y.iter().filter(|q| q.ds == p.ds).count())
            .sum::<usize>();
        (same, x.len() * y.len() - same)
    };

    type Seen = FxHashMap<u32, (u32, u32, u32)>;
    let group = |r: Rec, group_of: &mut [u32], groups: &mut Vec<Vec<Rec>>, seen: &mut Vec<Seen>| {
        if group_of[gid(r)] == NONE {
            group_of[gid(r)] = groups.len() as u32;
            groups.push(vec![r]);
            seen.push(FxHashMap::default());
        }
        group_of[gid(r)]
    };
    for c in apart {
        let (x, y) = (
            group(c.a, &mut group_of, &mut groups, &mut seen),
            group(c.b, &mut group_of, &mut groups, &mut seen),
        );
        if x != y {
            seen[x as usize].entry(y).or_insert((0, 0, 0)).2 += 1;
            seen[y as usize].entry(x).or_insert((0, 0, 0)).2 += 1;
        }
    }
    for c in candidates {
        if c.a == c.b {
            continue;
        }
        let mut g = [c.a, c.b].map(|r| group(r, &mut group_of, &mut groups, &mut seen));
        if g[0] == g[1] {
            continue;
        }
        let one_dataset = c.a.ds == c.b.ds;
        let before = seen[g[0] as usize].get(&g[1]).copied().unwrap_or((0, 0, 0));
        let now = if one_dataset {
            (before.0 + 1, before.1, before.2)
        } else {
            (before.0, before.1 + 1, before.2)
        };
        let (same, cross) = across(&groups[g[0] as usize], &groups[g[1] as usize]);
        let merge = now.2 == 0
            && match (join, deduplicated) {
                (Join::Majority, true) => same == 0 && 2 * now.1 as usize >= cross,
                (Join::Majority, false) => now.0 as usize >= same && 2 * now.1 as usize >= cross,
                (Join::Every, true) => same == 0 && now.1 as usize >= cross,
                (Join::Every, false) => now.0 as usize >= same && now.1 as usize >= cross,
            };
        if !merge {
            seen[g[0] as usize].insert(g[1], now);
            seen[g[1] as usize].insert(g[0], now);
            continue;
        }
        if groups[g[0] as usize].len() < groups[g[1] as usize].len() {
            g.swap(0, 1);
        }
        let [keep, gone] = g;
        let moved = std::mem::take(&mut groups[gone as usize]);
        for r in &moved {
            group_of[gid(*r)] = keep;
        }
        groups[keep as usize].extend(moved);
        let edges = std::mem::take(&mut seen[gone as usize]);
        seen[keep as usize].remove(&gone);
        for (j, (s0, s1, s2)) in edges {
            if j == keep {
                continue;
            }
            seen[j as usize].remove(&gone);
            let e = seen[keep as usize].entry(j).or_insert((0, 0, 0));
            *e = (e.0 + s0, e.1 + s1, e.2 + s2);
            let e = *e;
            seen[j as usize].insert(keep, e);
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
pub(crate) mod tests {
    use super::*;

    /// A candidate of `score` between (dataset, row) `a` and `b`, for tests.
    pub(crate) fn c(score: f64, a: (u32, u32), b: (u32, u32)) -> Candidate {
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
        let g = greedy_solve(&cands, &[], &[0, 3, 6], true, Join::Majority);
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
    fn groups_join_on_most_of_the_evidence_across_them() {
        // A0-B0, B0-C0 and A0-C0 are all candidates: one entity of three.
        // A1-B1 and B1-C1 but not A1-C1 (A1 spoiled): C1 joins on half the pairs.
        // A2-B2, then D2 with C2 only: {A2, B2} and {C2, D2} share one candidate of four pairs.
        let mut cands = vec![
            c(0.9, (0, 0), (1, 0)),
            c(0.88, (1, 0), (2, 0)),
            c(0.86, (0, 0), (2, 0)),
            c(0.9, (0, 1), (1, 1)),
            c(0.88, (1, 1), (2, 1)),
            c(0.95, (0, 2), (1, 2)),
            c(0.94, (2, 2), (3, 2)),
            c(0.8, (1, 2), (2, 2)),
        ];
        cands.sort_by(candidate_order);
        let g = greedy_solve(&cands, &[], &[0, 3, 6, 9, 12], true, Join::Majority);
        assert_eq!(
            g,
            vec![
                vec![r(0, 0), r(1, 0), r(2, 0)],
                vec![r(0, 1), r(1, 1), r(2, 1)],
                vec![r(0, 2), r(1, 2)],
                vec![r(2, 2), r(3, 2)],
            ]
        );
        // anonlink's rule: C1 stays out.
        assert_eq!(
            greedy_solve(&cands, &[], &[0, 3, 6, 9, 12], true, Join::Every)[1],
            vec![r(0, 1), r(1, 1)]
        );
    }

    /// A council record of one twin joins the other twin's group only if the council's own
    /// record of that twin is a candidate of it: twins are never candidates of each other, so
    /// they stay apart however strongly the other holders' records tie them.
    #[test]
    fn pairs_within_one_dataset_keep_twins_apart() {
        // Twin X: council 0, health 0. Twin Y: council 1. Y's council record scores well with X's
        // health record (a missing forename), but council 0 and council 1 are not candidates.
        let mut cands = vec![c(0.99, (0, 0), (1, 0)), c(0.9, (0, 1), (1, 0))];
        cands.sort_by(candidate_order);
        assert_eq!(
            greedy_solve(&cands, &[], &[0, 2, 3], false, Join::Majority),
            vec![vec![r(0, 0), r(1, 0)]]
        );
        // A duplicate of X in the council's records is a candidate of X's: it joins.
        cands.push(c(0.8, (0, 0), (0, 1)));
        cands.sort_by(candidate_order);
        assert_eq!(
            greedy_solve(&cands, &[], &[0, 2, 3], false, Join::Majority),
            vec![vec![r(0, 0), r(0, 1), r(1, 0)]]
        );
    }

    /// Twin X: council 0, health 0; twin Y: police 0, which scores well with X's council record
    /// but was set aside as a twin of X's health record (a girl and a boy). One of the two pairs
    /// across is a candidate, a majority, but the twin pair vetoes the merge.
    #[test]
    fn pairs_set_aside_as_twins_veto_a_merge() {
        let mut cands = vec![c(0.99, (0, 0), (1, 0)), c(0.9, (0, 0), (2, 0))];
        cands.sort_by(candidate_order);
        let offsets = [0, 1, 2, 3];
        assert_eq!(
            greedy_solve(&cands, &[], &offsets, true, Join::Majority),
            vec![vec![r(0, 0), r(1, 0), r(2, 0)]]
        );
        let twins = [c(0.95, (1, 0), (2, 0))];
        assert_eq!(
            greedy_solve(&cands, &twins, &offsets, true, Join::Majority),
            vec![vec![r(0, 0), r(1, 0)]]
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
            greedy_solve(&cands, &[], &[0, 2, 3], false, Join::Majority),
            vec![vec![r(0, 0), r(0, 1), r(1, 0)]]
        );
        assert_eq!(
            greedy_solve(&cands, &[], &[0, 2, 3], true, Join::Majority),
            vec![vec![r(0, 0), r(1, 0)]]
        );
    }
}
