//! The interleaved layout of all-pairs scans: eight CLKs to a group, word-major, and the exact
//! prefix bound that lets a scan stop reading a CLK that cannot reach the threshold.

use super::word;
use crate::bits::Block;

/// Words of each CLK counted before the bound test of [`Kernel::scan_interleaved`](super::Kernel::scan_interleaved).
pub const PREFIX_WORDS: usize = 4;

/// Blocks at the head of each group of [`Interleaved`]: the prefix words, then the popcounts of
/// the rest of each CLK, then the popcounts of each whole CLK.
pub(super) const HEAD: usize = PREFIX_WORDS + 2;

/// CLKs of one length laid out for scanning, eight to a group (see the module documentation).
///
/// Group `g` holds CLKs `8g .. 8g + 8`; lane `l` of each of its blocks belongs to CLK `8g + l`.
/// Its head is [`PREFIX_WORDS`] blocks of words (block `w` holds word `w` of each of the eight),
/// then a block of the popcounts of words `PREFIX_WORDS..`, then a block of whole popcounts; its
/// tail holds the remaining words the same way. Lanes past the last CLK are zero.
#[derive(Debug, Clone, Default)]
pub struct Interleaved {
    pub(super) head: Vec<Block>,
    pub(super) tail: Vec<Block>,
    pub(super) words: usize,
    pub(super) len: usize,
}

impl Interleaved {
    /// Lay out the CLKs of `clks`, each `per` blocks long.
    ///
    /// # Panics
    /// If `per` is zero or `clks` does not hold whole CLKs.
    pub fn new(clks: &[Block], per: usize) -> Interleaved {
        assert!(per > 0 && clks.len().is_multiple_of(per), "whole CLKs only");
        let words = per * 8;
        let len = clks.len() / per;
        let groups = len.div_ceil(8);
        let mut head = vec![Block::default(); groups * HEAD];
        let mut tail = vec![Block::default(); groups * (words - PREFIX_WORDS)];
        for (j, clk) in clks.chunks_exact(per).enumerate() {
            let (g, lane) = (j / 8, j % 8);
            let (mut rest, mut all) = (0u64, 0u64);
            for (w, &word) in clk.iter().flat_map(|b| b.0.iter()).enumerate() {
                let ones = u64::from(word.count_ones());
                all += ones;
                if w < PREFIX_WORDS {
                    head[g * HEAD + w].0[lane] = word;
                } else {
                    rest += ones;
                    tail[g * (words - PREFIX_WORDS) + w - PREFIX_WORDS].0[lane] = word;
                }
            }
            head[g * HEAD + PREFIX_WORDS].0[lane] = rest;
            head[g * HEAD + PREFIX_WORDS + 1].0[lane] = all;
        }
        Interleaved {
            head,
            tail,
            words,
            len,
        }
    }

    /// Number of CLKs.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Groups of eight (the last may be partly padding).
    pub fn groups(&self) -> usize {
        self.len.div_ceil(8)
    }

    /// Bits per CLK.
    pub fn bits(&self) -> usize {
        self.words * 64
    }

    /// Popcount of CLK `j`.
    pub fn pop(&self, j: usize) -> u32 {
        self.head[j / 8 * HEAD + PREFIX_WORDS + 1].0[j % 8] as u32
    }
}

/// A threshold `t` in the fixed-point form [`Kernel::scan_interleaved`](super::Kernel::scan_interleaved) tests: `⌊t·2¹⁶⌋`, a shade
/// below `t` so that rounding never loses a pair whose Dice reaches `t` exactly.
pub fn fixed_threshold(t: f64) -> u64 {
    (t.clamp(0.0, 1.0) * (1.0 - 1e-6) * 65536.0).floor() as u64
}

/// The test [`Kernel::scan_interleaved`](super::Kernel::scan_interleaved) makes: `2·count/(pa + pb) >= tq/2¹⁶`, in integers.
#[inline(always)]
pub(super) fn reaches(count: u64, pa: u64, pb: u64, tq: u64) -> bool {
    count << 17 >= tq * (pa + pb)
}

/// Whether a scan still tests the prefix bound: the first [`Probe::GROUPS`] groups of each call
/// are tested, and the test is kept only if it dropped at least half of their CLKs. (At a low
/// threshold it drops almost none, and costs more than it saves.) Either way the hits are the same.
pub(super) struct Probe {
    pub(super) left: usize,
    pub(super) dropped: u32,
    pub(super) on: bool,
}

impl Probe {
    pub(super) const GROUPS: usize = 32;

    pub(super) fn new() -> Probe {
        Probe {
            left: Probe::GROUPS,
            dropped: 0,
            on: true,
        }
    }

    /// Counts the lanes of one tested group that the bound did not keep.
    #[inline(always)]
    pub(super) fn note(&mut self, kept: u8) {
        if self.left > 0 {
            self.dropped += 8 - kept.count_ones();
            self.left -= 1;
            if self.left == 0 {
                self.on = 2 * self.dropped >= 8 * Probe::GROUPS as u32;
            }
        }
    }
}

/// [`Kernel::scan_interleaved`](super::Kernel::scan_interleaved) in plain Rust, word by word across the eight lanes of a group;
/// `#[inline(always)]` so that the POPCNT kernel compiles it with the instruction.
#[inline(always)]
pub(super) fn interleaved_scalar(
    query: &[Block],
    lanes: &Interleaved,
    groups: std::ops::Range<usize>,
    tq: u64,
    hits: &mut Vec<(u32, u32)>,
) {
    let words = lanes.words;
    let ones = |w: u64| u64::from(w.count_ones());
    let pa: u64 = query.iter().flat_map(|b| b.0).map(ones).sum();
    let qrest: u64 = (PREFIX_WORDS..words).map(|w| ones(word(query, w))).sum();
    let tail_len = words - PREFIX_WORDS;
    let mut probe = Probe::new();
    for g in groups {
        let head = &lanes.head[g * HEAD..(g + 1) * HEAD];
        let tail = &lanes.tail[g * tail_len..(g + 1) * tail_len];
        let (rest, pb) = (&head[PREFIX_WORDS].0, &head[PREFIX_WORDS + 1].0);
        let mut acc = [0u64; 8];
        for (w, b) in head[..PREFIX_WORDS].iter().enumerate() {
            let q = word(query, w);
            for (a, x) in acc.iter_mut().zip(&b.0) {
                *a += ones(q & x);
            }
        }
        if probe.on {
            let mut kept = 0u8;
            for lane in 0..8 {
                if reaches(acc[lane] + qrest.min(rest[lane]), pa, pb[lane], tq) {
                    kept |= 1 << lane;
                }
            }
            probe.note(kept);
            if kept == 0 {
                continue;
            }
        }
        for (w, b) in tail.iter().enumerate() {
            let q = word(query, w + PREFIX_WORDS);
            for (a, x) in acc.iter_mut().zip(&b.0) {
                *a += ones(q & x);
            }
        }
        for lane in 0..8 {
            let j = g * 8 + lane;
            if j < lanes.len && reaches(acc[lane], pa, pb[lane], tq) {
                hits.push((j as u32, acc[lane] as u32));
            }
        }
    }
}

pub(super) fn interleaved_portable(
    query: &[Block],
    lanes: &Interleaved,
    groups: std::ops::Range<usize>,
    tq: u64,
    hits: &mut Vec<(u32, u32)>,
) {
    interleaved_scalar(query, lanes, groups, tq, hits);
}
