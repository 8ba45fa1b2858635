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
    /// Its score (1.0 for an exact-token match), on which links are decided.
    pub score: f64,
    /// The probability written out for it, when not its score ([`Candidate::SCORE`]): in a run
    /// that looks for duplicates, the score given the other partners its records have (see
    /// [`crate::partner::adjust`]). Kept in `f32` so that the pair stays 32 bytes.
    pub shown: f32,
    /// First record.
    pub a: Rec,
    /// Second record.
    pub b: Rec,
    /// True when an exact token made the match.
    pub exact: bool,
}

impl Candidate {
    /// [`Candidate::shown`] when the probability written out is the score.
    pub const SCORE: f32 = -1.0;

    /// The probability written out for it ([`Candidate::shown`], or its score).
    pub fn shown(&self) -> f64 {
        if self.shown < 0.0 {
            self.score
        } else {
            f64::from(self.shown)
        }
    }
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
    let total = offsets.last().copied().unwrap_or(0);
    let gid = |r: Rec| offsets[r.ds as usize] + r.row as usize;
    // Groups are made for every record a pair names: counted first, so that the per-group
    // columns are allocated once at their size.
    let mut named = vec![false; total];
    for c in apart.iter().chain(candidates) {
        named[gid(c.a)] = true;
        named[gid(c.b)] = true;
    }
    let mut gs = Groups::new(total, named.iter().filter(|&&n| n).count());
    drop(named);
    for c in apart {
        let (x, y) = (gs.of(c.a, gid(c.a)), gs.of(c.b, gid(c.b)));
        if x != y {
            gs.seen[x as usize].entry(y).or_insert((0, 0, 0)).2 += 1;
            gs.seen[y as usize].entry(x).or_insert((0, 0, 0)).2 += 1;
        }
    }
    for c in candidates {
        if c.a == c.b {
            continue;
        }
        let mut g = [gs.of(c.a, gid(c.a)), gs.of(c.b, gid(c.b))];
        if g[0] == g[1] {
            continue;
        }
        let one_dataset = c.a.ds == c.b.ds;
        let before = gs.seen[g[0] as usize]
            .get(&g[1])
            .copied()
            .unwrap_or((0, 0, 0));
        let now = if one_dataset {
            (before.0 + 1, before.1, before.2)
        } else {
            (before.0, before.1 + 1, before.2)
        };
        // Pairs of records across the two groups: of one dataset, and of different datasets.
        let same = gs
            .members(g[0])
            .map(|p| {
                gs.members(g[1])
                    .filter(|&q| gs.rec[q].ds == gs.rec[p].ds)
                    .count()
            })
            .sum::<usize>();
        let cross = gs.size[g[0] as usize] as usize * gs.size[g[1] as usize] as usize - same;
        let merge = now.2 == 0
            && match (join, deduplicated) {
                (Join::Majority, true) => same == 0 && 2 * now.1 as usize >= cross,
                (Join::Majority, false) => now.0 as usize >= same && 2 * now.1 as usize >= cross,
                (Join::Every, true) => same == 0 && now.1 as usize >= cross,
                (Join::Every, false) => now.0 as usize >= same && now.1 as usize >= cross,
            };
        if !merge {
            gs.seen[g[0] as usize].insert(g[1], now);
            gs.seen[g[1] as usize].insert(g[0], now);
            continue;
        }
        if gs.size[g[0] as usize] < gs.size[g[1] as usize] {
            g.swap(0, 1);
        }
        gs.merge(g[0], g[1]);
    }
    let mut out: Vec<Vec<Rec>> = (0..gs.first.len() as u32)
        .filter(|&g| gs.size[g as usize] > 1)
        .map(|g| {
            let mut m: Vec<Rec> = gs.members(g).map(|i| gs.rec[i]).collect();
            m.sort_unstable();
            m
        })
        .collect();
    out.sort_unstable();
    out
}

const NONE: u32 = u32::MAX;

/// Candidate pairs seen between two groups that were not merged: (pairs of records of one
/// dataset, pairs of records of different datasets, pairs set apart).
type Seen = FxHashMap<u32, (u32, u32, u32)>;

/// The solver's groups, numbered in order of first appearance, as lists threaded through the
/// records (by global index), so that a national run's hundreds of thousands of groups cost no
/// allocation each, and a merge appends one list to the other.
struct Groups {
    /// Each record's group, `NONE` before it appears.
    of: Vec<u32>,
    /// The next record of its group, `NONE` at the end.
    next: Vec<u32>,
    rec: Vec<Rec>,
    /// Per group: its first and last record, its size, and what was seen between it and others.
    first: Vec<u32>,
    last: Vec<u32>,
    size: Vec<u32>,
    seen: Vec<Seen>,
}

impl Groups {
    /// Room for `total` records, of which up to `groups` will be named.
    fn new(total: usize, groups: usize) -> Groups {
        Groups {
            of: vec![NONE; total],
            next: vec![NONE; total],
            rec: vec![Rec { ds: 0, row: 0 }; total],
            first: Vec::with_capacity(groups),
            last: Vec::with_capacity(groups),
            size: Vec::with_capacity(groups),
            seen: Vec::with_capacity(groups),
        }
    }

    /// The group of record `r` (global index `i`), a new one of its own at its first appearance.
    fn of(&mut self, r: Rec, i: usize) -> u32 {
        if self.of[i] == NONE {
            self.of[i] = self.first.len() as u32;
            self.rec[i] = r;
            self.first.push(i as u32);
            self.last.push(i as u32);
            self.size.push(1);
            self.seen.push(FxHashMap::default());
        }
        self.of[i]
    }

    /// The records (global indices) of group `g`.
    fn members(&self, g: u32) -> impl Iterator<Item = usize> + '_ {
        let mut at = self.first[g as usize];
        std::iter::from_fn(move || {
            (at != NONE).then(|| {
                let here = at;
                at = self.next[here as usize];
                here as usize
            })
        })
    }

    /// Move group `gone`'s records, and what was seen of it, into group `keep`.
    fn merge(&mut self, keep: u32, gone: u32) {
        let moved: Vec<usize> = self.members(gone).collect();
        for i in moved {
            self.of[i] = keep;
        }
        let (k, g) = (keep as usize, gone as usize);
        self.next[self.last[k] as usize] = self.first[g];
        self.last[k] = self.last[g];
        self.size[k] += self.size[g];
        (self.first[g], self.last[g], self.size[g]) = (NONE, NONE, 0);
        let edges = std::mem::take(&mut self.seen[g]);
        self.seen[k].remove(&gone);
        for (j, (s0, s1, s2)) in edges {
            if j == keep {
                continue;
            }
            self.seen[j as usize].remove(&gone);
            let e = self.seen[k].entry(j).or_insert((0, 0, 0));
            *e = (e.0 + s0, e.1 + s1, e.2 + s2);
            let e = *e;
            self.seen[j as usize].insert(keep, e);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A candidate of `score` between (dataset, row) `a` and `b`, for tests.
    pub(crate) fn c(score: f64, a: (u32, u32), b: (u32, u32)) -> Candidate {
        Candidate {
            score,
            shown: Candidate::SCORE,
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
