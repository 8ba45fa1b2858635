//! Dice scoring of one block of encodings against another: a pure function over slices, so that the
//! same code serves one machine's threads today and a cluster's partitions later.
//!
//! `dice(a, b) = 2·|a ∧ b| / (|a| + |b|)`. Popcounts are computed once per CLK; the kernel gives
//! `|a ∧ b|`, and the threshold test is one integer comparison against a table, built once per
//! threshold, of the smallest count that reaches it for each popcount sum. The table is built with
//! the same floating-point expression anonlink uses, so `score >= threshold` decides exactly as it
//! does, borderline pairs included.

use kith_core::bits::Block;

use crate::kernel::{Interleaved, Kernel, fixed_threshold};

/// CLKs and their popcounts, `per` blocks per CLK.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    clks: &'a [Block],
    pop: &'a [u32],
    per: usize,
}

impl<'a> View<'a> {
    /// A view of `pop.len()` CLKs.
    ///
    /// # Panics
    /// If `clks` does not hold exactly `pop.len()` CLKs of `per` blocks.
    pub fn new(clks: &'a [Block], pop: &'a [u32], per: usize) -> View<'a> {
        assert!(per > 0 && clks.len() == pop.len() * per, "whole CLKs only");
        View { clks, pop, per }
    }

    /// Number of CLKs.
    pub fn len(&self) -> usize {
        self.pop.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.pop.is_empty()
    }

    /// The CLKs `range`.
    pub fn slice(&self, range: std::ops::Range<usize>) -> View<'a> {
        View {
            clks: &self.clks[range.start * self.per..range.end * self.per],
            pop: &self.pop[range],
            per: self.per,
        }
    }

    /// CLK `i`.
    pub fn clk(&self, i: usize) -> &'a [Block] {
        &self.clks[i * self.per..(i + 1) * self.per]
    }

    /// Popcount of CLK `i`.
    pub fn pop(&self, i: usize) -> u32 {
        self.pop[i]
    }

    /// Blocks per CLK.
    pub fn per(&self) -> usize {
        self.per
    }

    /// All blocks.
    pub fn blocks(&self) -> &'a [Block] {
        self.clks
    }
}

/// The Dice coefficient from a shared count and a popcount sum, computed as anonlink computes it.
#[inline]
pub fn dice(count: u32, sum: u32) -> f64 {
    if sum == 0 {
        0.0
    } else {
        2.0 * f64::from(count) / f64::from(sum)
    }
}

/// An integer threshold test for one threshold and CLK length.
#[derive(Debug, Clone)]
pub struct Scorer {
    threshold: f64,
    fixed: u64,
    min_count: Vec<u32>,
}

impl Scorer {
    /// The test `dice >= threshold` for CLKs of `bits` bits.
    pub fn new(threshold: f64, bits: u32) -> Scorer {
        let max_sum = 2 * bits;
        let min_count = (0..=max_sum)
            .map(|sum| {
                // The smallest count that reaches the threshold (dice grows with the count).
                let (mut lo, mut hi) = (0u32, sum / 2 + 1);
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if dice(mid, sum) >= threshold {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                if lo > sum / 2 { u32::MAX } else { lo }
            })
            .collect();
        Scorer {
            threshold,
            fixed: fixed_threshold(threshold),
            min_count,
        }
    }

    /// The threshold.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The threshold in the kernels' fixed-point form ([`fixed_threshold`]).
    pub fn fixed(&self) -> u64 {
        self.fixed
    }

    /// True when `dice(count, sum) >= threshold`.
    #[inline]
    pub fn passes(&self, count: u32, sum: u32) -> bool {
        self.min_count
            .get(sum as usize)
            .is_some_and(|&m| count >= m)
    }
}

/// A scored pair: row `a` of the query block, row `b` of the other, both counted from the start of
/// their datasets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    /// Dice coefficient.
    pub score: f64,
    /// Row in the first dataset.
    pub a: u32,
    /// Row in the second dataset.
    pub b: u32,
}

/// What one scoring call keeps.
#[derive(Debug, Clone, Copy)]
pub struct Keep<'s> {
    /// Pairs at or above this are kept.
    pub keep: &'s Scorer,
    /// Pairs at or above this (at most `keep`'s threshold) update the query's best score.
    pub floor: &'s Scorer,
    /// [`score_block`] applies the floor only to query rows that are multiples of this (the
    /// others use `keep` for both, and their best scores are not to be used): the best-score
    /// histogram can come from a sample of the queries, so that a scan at a high threshold is not
    /// held to the floor's much lower one. 1 applies the floor to every query.
    pub floor_every: u32,
}

impl<'s> Keep<'s> {
    /// Keep pairs at `keep`; best scores from `floor` up, for every query.
    pub fn new(keep: &'s Scorer, floor: &'s Scorer) -> Keep<'s> {
        Keep {
            keep,
            floor,
            floor_every: 1,
        }
    }

    /// The floor for query row `row`.
    #[inline]
    pub fn floor_for(&self, row: u32) -> &'s Scorer {
        if self.floor_every <= 1 || row.is_multiple_of(self.floor_every) {
            self.floor
        } else {
            self.keep
        }
    }
}

/// Groups of eight candidates scored per query in one call: 2,048 CLKs, so that a tile stays in
/// the L2 cache while a chunk of queries passes over it.
const TILE_GROUPS: usize = 256;

/// A block of pairs: every query row of `a` against every row of `b`, or, with `triangle`, where
/// `a` and `b` are the same rows of one dataset, each pair once.
#[derive(Debug, Clone, Copy)]
pub struct Tile<'v> {
    /// The query rows.
    pub a: View<'v>,
    /// The first query row's index in its dataset.
    pub a_first: u32,
    /// The candidate rows, laid out for the scan.
    pub b: &'v Interleaved,
    /// The first candidate row's index in its dataset.
    pub b_first: u32,
    /// `a` and `b` are the same rows: score each unordered pair once.
    pub triangle: bool,
}

/// Score the pairs of `tile`. Pairs that pass `keep.keep` are appended to `out`; `best[i]` is
/// raised to query `i`'s best score at or above its floor ([`Keep::floor_for`]). Returns the number
/// of comparisons.
pub fn score_block(
    kernel: Kernel,
    tile: &Tile<'_>,
    keep: &Keep<'_>,
    best: &mut [f64],
    out: &mut Vec<Pair>,
) -> u64 {
    let Tile {
        a,
        a_first,
        b,
        b_first,
        triangle,
    } = *tile;
    assert_eq!(a.per * 512, b.bits(), "CLKs of one length");
    assert_eq!(best.len(), a.len(), "one best score per query");
    let mut hits = Vec::new();
    let mut comparisons = 0u64;
    let groups = b.groups();
    let mut g0 = 0;
    while g0 < groups {
        let g1 = (g0 + TILE_GROUPS).min(groups);
        let (start, end) = (g0 * 8, (g1 * 8).min(b.len()));
        for (i, best_i) in best.iter_mut().enumerate() {
            let row = a_first + i as u32;
            let first = if triangle {
                // Only later rows of the same dataset.
                (row as usize + 1)
                    .saturating_sub(b_first as usize)
                    .clamp(start, end)
            } else {
                start
            };
            if first >= end {
                continue;
            }
            comparisons += (end - first) as u64;
            let floor = keep.floor_for(row);
            hits.clear();
            kernel.scan_interleaved(a.clk(i), b, first / 8..g1, floor.fixed(), &mut hits);
            let pa = a.pop(i);
            for &(j, c) in &hits {
                if (j as usize) < first {
                    continue;
                }
                let sum = pa + b.pop(j as usize);
                if floor.passes(c, sum) {
                    let score = dice(c, sum);
                    if score > *best_i {
                        *best_i = score;
                    }
                    if keep.keep.passes(c, sum) {
                        out.push(Pair {
                            score,
                            a: row,
                            b: b_first + j,
                        });
                    }
                }
            }
        }
        g0 = g1;
    }
    comparisons
}

/// Buffers [`score_candidates`] reuses from one query to the next.
#[derive(Debug, Default)]
pub struct Buffers {
    counts: Vec<u32>,
    pops: Vec<u32>,
    hits: Vec<u32>,
}

/// One query row: its CLK, popcount and index in its dataset.
#[derive(Debug, Clone, Copy)]
pub struct Query<'q> {
    /// The CLK's blocks.
    pub clk: &'q [Block],
    /// Its popcount.
    pub pop: u32,
    /// Its index in its dataset.
    pub row: u32,
}

/// Candidate rows of `b` for one query: `rows` index `b`, whose first row is `b_first` in its
/// dataset.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'v> {
    /// The candidate dataset's rows.
    pub b: View<'v>,
    /// `b`'s offset in its dataset.
    pub b_first: u32,
    /// The rows of `b` to score.
    pub rows: &'v [u32],
}

/// Score one query against its listed candidates.
pub fn score_candidates(
    kernel: Kernel,
    query: Query<'_>,
    listed: Listed<'_>,
    keep: &Keep<'_>,
    best: &mut f64,
    buf: &mut Buffers,
    out: &mut Vec<Pair>,
) {
    let Listed { b, b_first, rows } = listed;
    buf.counts.clear();
    buf.counts.resize(rows.len(), 0);
    kernel.and_counts_at(query.clk, b.blocks(), b.per, rows, &mut buf.counts);
    buf.pops.clear();
    buf.pops.extend(rows.iter().map(|&r| b.pop(r as usize)));
    scan(kernel, query.pop, buf, keep, best, |j, score| {
        out.push(Pair {
            score,
            a: query.row,
            b: b_first + rows[j],
        });
    });
}

/// The exact threshold tests, on the candidates the kernel's cheap filter lets through (`buf`
/// holds their AND counts and popcounts; `pa` is the query's popcount).
#[inline]
fn scan(
    kernel: Kernel,
    pa: u32,
    buf: &mut Buffers,
    keep: &Keep<'_>,
    best: &mut f64,
    mut push: impl FnMut(usize, f64),
) {
    let Buffers { counts, pops, hits } = buf;
    hits.clear();
    kernel.maybe_over(counts, pops, pa, keep.floor.threshold(), hits);
    for &j in hits.iter() {
        let j = j as usize;
        let (c, pb) = (counts[j], pops[j]);
        let sum = pa + pb;
        if keep.floor.passes(c, sum) {
            let score = dice(c, sum);
            if score > *best {
                *best = score;
            }
            if keep.keep.passes(c, sum) {
                push(j, score);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_integer_test_decides_as_the_float_comparison_does() {
        for &t in &[0.0, 0.1, 0.5, 0.8, 0.75, 0.9, 0.95, 1.0, 2.0 / 3.0] {
            let s = Scorer::new(t, 64);
            for sum in 0..=128 {
                for c in 0..=sum / 2 {
                    assert_eq!(s.passes(c, sum), dice(c, sum) >= t, "t={t} c={c} sum={sum}");
                }
            }
        }
        // 4/5 is exactly the double nearest 0.8, so it passes a threshold of 0.8.
        assert!(Scorer::new(0.8, 1024).passes(4, 10));
    }

    fn view_of(rows: &[Vec<u64>]) -> (Vec<Block>, Vec<u32>) {
        let mut clks = Vec::new();
        let mut pop = Vec::new();
        for r in rows {
            let mut b = [Block::default(); 2];
            for (i, w) in r.iter().enumerate() {
                b[i / 8].0[i % 8] = *w;
            }
            pop.push(r.iter().map(|w| w.count_ones()).sum());
            clks.extend(b);
        }
        (clks, pop)
    }

    proptest! {
        /// Block scoring finds exactly the pairs a direct double loop finds, with the same scores,
        /// in both the rectangle and the triangle form.
        #[test]
        fn block_scoring_matches_the_definition(
            rows in proptest::collection::vec(proptest::collection::vec(any::<u64>(), 16), 1..40),
            split in 0usize..40,
            t in 0.3f64..0.7,
        ) {
            let split = split.min(rows.len());
            let (clks, pop) = view_of(&rows);
            let all = View::new(&clks, &pop, 2);
            let (a, b) = (all.slice(0..split), all.slice(split..rows.len()));
            let keep = Scorer::new(t, 1024);
            let floor = Scorer::new(t.min(0.4), 1024);
            let k = Keep::new(&keep, &floor);
            let dice_of = |x: &[u64], y: &[u64]| {
                let c: u32 = x.iter().zip(y).map(|(p, q)| (p & q).count_ones()).sum();
                let s: u32 = x.iter().chain(y).map(|w| w.count_ones()).sum();
                dice(c, s)
            };
            let mut best = vec![0.0; a.len()];
            let mut out = Vec::new();
            let lanes_b = Interleaved::new(b.blocks(), 2);
            let tile = Tile { a, a_first: 0, b: &lanes_b, b_first: split as u32, triangle: false };
            let n = score_block(Kernel::detect(), &tile, &k, &mut best, &mut out);
            prop_assert_eq!(n, (a.len() * b.len()) as u64);
            let mut want = Vec::new();
            for i in 0..split {
                for j in split..rows.len() {
                    let d = dice_of(&rows[i], &rows[j]);
                    if d >= t {
                        want.push(Pair { score: d, a: i as u32, b: j as u32 });
                    }
                }
            }
            prop_assert_eq!(&out, &want);
            // With the floor applied to every third query only, the same pairs are kept, and
            // the sampled queries' best scores are unchanged.
            let mut sampled = k;
            sampled.floor_every = 3;
            let mut best3 = vec![0.0; a.len()];
            let mut out3 = Vec::new();
            score_block(Kernel::detect(), &tile, &sampled, &mut best3, &mut out3);
            prop_assert_eq!(&out3, &out);
            for (i, (x, y)) in best.iter().zip(&best3).enumerate() {
                if i % 3 == 0 {
                    prop_assert_eq!(x, y);
                }
            }
            // Triangle over everything: each unordered pair once.
            let mut best = vec![0.0; rows.len()];
            let mut tri = Vec::new();
            let lanes_all = Interleaved::new(all.blocks(), 2);
            let tile = Tile { a: all, a_first: 0, b: &lanes_all, b_first: 0, triangle: true };
            score_block(Kernel::Portable, &tile, &k, &mut best, &mut tri);
            let mut want = Vec::new();
            for i in 0..rows.len() {
                for j in i + 1..rows.len() {
                    let d = dice_of(&rows[i], &rows[j]);
                    if d >= t {
                        want.push(Pair { score: d, a: i as u32, b: j as u32 });
                    }
                }
            }
            prop_assert_eq!(tri, want);
        }
    }
}
