//! The SIMD kernels: the linkage party's popcount of `query AND candidate` for many candidates at
//! once, the encoder's OR of a feature's token bits ([`Kernel::or_gather`]), and the CSV reader's
//! search for a line's commas ([`byte_positions`]).
//!
//! This is the one module of kith that uses `unsafe`: SIMD intrinsics and code compiled for wider
//! instructions behind `#[target_feature]`, chosen at run time (as memchr and ripgrep do) so that
//! one default release build runs the fastest kernel the CPU has and still runs everywhere. The
//! popcount kernels:
//!
//! | kernel     | needs                              | per 512-bit block                     |
//! |------------|------------------------------------|---------------------------------------|
//! | `avx512`   | AVX-512F + AVX-512 VPOPCNTDQ       | one `vpandq`, one `vpopcntq`          |
//! | `avx2`     | AVX2                               | nibble-table popcount (`vpshufb`)     |
//! | `popcnt`   | POPCNT                             | eight `popcnt` instructions           |
//! | `portable` | nothing (aarch64 and others too)   | `u64::count_ones`                     |
//!
//! Scoring one query against every record of a dataset (all-pairs) uses a second layout,
//! [`Interleaved`]: eight CLKs to a group, stored word-major, so that one vector holds the same
//! word of eight CLKs and eight counts build up in eight lanes without any horizontal sum. The
//! first [`PREFIX_WORDS`] words of a group are counted first; a CLK whose count so far plus the
//! fewer of the two remaining popcounts cannot reach the threshold is dropped without reading the
//! rest (an exact bound, not a heuristic: no pair that passes is ever dropped). At a high threshold
//! most pairs of unrelated records end there, after a quarter of a 1,024-bit CLK
//! ([`Kernel::scan_interleaved`]).
//!
//! The encoder ORs the bit maps of a value's tokens (each token's `k` bits, hashed once and kept as
//! a map of the CLK's length) into the record's CLK: about a hundred 1,024-bit maps per record, a
//! quarter of `kith encode`'s time. [`Kernel::or_gather`] is plain Rust, compiled a second time
//! for AVX2 (a 1,024-bit accumulator in four 256-bit registers, a quarter as many loads as
//! baseline x86-64's 128-bit ones); the `avx512` and `avx2` kernels run that copy (a 512-bit copy
//! gains nothing: the loads wait on the L2 cache).
//!
//! Every kernel computes exactly the same integers; property tests check each one the CPU has
//! against `portable`. Safety rests on two facts checked in the safe wrappers before any intrinsic
//! runs: the feature was detected at run time, and every slice holds whole CLKs (`per` blocks each),
//! so every load is in bounds and 64-byte aligned (a [`Block`] is `align(64)`). The OR kernel is
//! safe Rust with bounds-checked indexing; only its call, after the feature check, is `unsafe`.
#![allow(unsafe_code)]

use crate::bits::Block;

/// A popcount kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512F with VPOPCNTDQ.
    Avx512,
    /// AVX2 nibble-table popcount.
    Avx2,
    /// Scalar `popcnt` instruction.
    Popcnt,
    /// Plain Rust; correct on every target.
    Portable,
}

impl Kernel {
    /// The fastest kernel this CPU supports.
    pub fn detect() -> Kernel {
        Kernel::available()
            .into_iter()
            .next()
            .unwrap_or(Kernel::Portable)
    }

    /// Every kernel this CPU supports, fastest first (`Portable` is always last).
    pub fn available() -> Vec<Kernel> {
        let mut v = Vec::new();
        #[cfg(target_arch = "x86_64")]
        v.extend(
            [Kernel::Avx512, Kernel::Avx2, Kernel::Popcnt]
                .into_iter()
                .filter(|k| k.cpu_has()),
        );
        v.push(Kernel::Portable);
        v
    }

    /// The kernel called `name`, if this CPU supports it.
    pub fn by_name(name: &str) -> Option<Kernel> {
        Kernel::available().into_iter().find(|k| k.name() == name)
    }

    /// The kernel's name.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Avx512 => "avx512",
            Kernel::Avx2 => "avx2",
            Kernel::Popcnt => "popcnt",
            Kernel::Portable => "portable",
        }
    }

    /// `out[j] = popcount(query AND store[j])` for the CLKs of `store`, each `per` blocks long.
    ///
    /// # Panics
    /// If `query` is not `per` blocks, or `store` is not `out.len() * per` blocks.
    pub fn and_counts(self, query: &[Block], store: &[Block], per: usize, out: &mut [u32]) {
        assert!(per > 0 && query.len() == per, "query is one CLK");
        assert_eq!(store.len(), out.len() * per, "store holds whole CLKs");
        self.checked_run(query, store, per, Source::Range, out);
    }

    /// `out[j] = popcount(query AND clk number idx[j] of store)`.
    ///
    /// # Panics
    /// If `query` is not `per` blocks, `store` does not hold whole CLKs, `idx` and `out` differ in
    /// length, or an index is out of range.
    pub fn and_counts_at(
        self,
        query: &[Block],
        store: &[Block],
        per: usize,
        idx: &[u32],
        out: &mut [u32],
    ) {
        assert!(per > 0 && query.len() == per, "query is one CLK");
        assert_eq!(store.len() % per, 0, "store holds whole CLKs");
        assert_eq!(idx.len(), out.len(), "one output per index");
        let n = store.len() / per;
        assert!(
            idx.iter().all(|&i| (i as usize) < n),
            "candidate index out of range"
        );
        self.checked_run(query, store, per, Source::Gather(idx), out);
    }

    /// Append to `hits` every `j` for which `2·counts[j] >= t·(pa + pops[j])` may hold: a cheap,
    /// conservative filter (it errs towards keeping; callers make the exact test on the hits).
    ///
    /// # Panics
    /// If `counts` and `pops` differ in length.
    pub fn maybe_over(self, counts: &[u32], pops: &[u32], pa: u32, t: f64, hits: &mut Vec<u32>) {
        assert_eq!(counts.len(), pops.len(), "one popcount per count");
        // Slightly below t, so that float rounding never drops a pair that passes exactly.
        let t = (t * (1.0 - 1e-6)) as f32;
        #[cfg(target_arch = "x86_64")]
        if self == Kernel::Avx512 {
            assert!(std::arch::is_x86_feature_detected!("avx512f"));
            // SAFETY: the feature was just detected; the slices have equal lengths.
            unsafe { x86::maybe_over(counts, pops, pa, t, hits) };
            return;
        }
        maybe_over_scalar(counts, pops, pa, t, 0, hits);
    }

    /// `popcount(a AND b)` of two short bit vectors (field-level filters), with the POPCNT
    /// instruction when the CPU has it and the kernel is not `portable`.
    ///
    /// # Panics
    /// If `a` and `b` differ in length.
    #[inline]
    pub fn and_count_words(self, a: &[u64], b: &[u64]) -> u32 {
        assert_eq!(a.len(), b.len(), "filters of one length");
        #[cfg(target_arch = "x86_64")]
        if self != Kernel::Portable && std::arch::is_x86_feature_detected!("popcnt") {
            // SAFETY: the feature was just detected; the slices have equal lengths.
            return unsafe { x86::and_count_words(a, b) };
        }
        a.iter().zip(b).map(|(x, y)| (x & y).count_ones()).sum()
    }

    /// Append to `hits` `(j, popcount(query AND clk j))` for every CLK `j` of the groups `groups`
    /// of `lanes` that reaches the fixed-point threshold `tq` (from [`fixed_threshold`]), that is
    /// `2·count >= tq/2¹⁶ · (popcount(query) + popcount(clk j))`, in order of `j`. Callers make
    /// the exact Dice test on the hits; this test only errs towards keeping.
    ///
    /// # Panics
    /// If `query` is not one CLK of `lanes`' length, or `groups` runs past the last group.
    pub fn scan_interleaved(
        self,
        query: &[Block],
        lanes: &Interleaved,
        groups: std::ops::Range<usize>,
        tq: u64,
        hits: &mut Vec<(u32, u32)>,
    ) {
        assert_eq!(
            query.len() * 8,
            lanes.words,
            "query is one CLK of the lanes' length"
        );
        assert!(
            groups.start <= groups.end && groups.end <= lanes.groups(),
            "groups in range"
        );
        assert!(tq <= 1 << 16, "a fixed-point threshold");
        assert!(
            self.cpu_has(),
            "{} needs CPU features this machine lacks",
            self.name()
        );
        match self {
            // SAFETY (each arm): the kernel's features were detected just above, and the bounds
            // were checked above.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => unsafe { x86::interleaved_avx512(query, lanes, groups, tq, hits) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { x86::interleaved_avx2(query, lanes, groups, tq, hits) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Popcnt => unsafe { x86::interleaved_popcnt(query, lanes, groups, tq, hits) },
            _ => interleaved_portable(query, lanes, groups, tq, hits),
        }
    }

    /// `maps[slots[0]] | maps[slots[1]] | …`, word by word (all zeros for no slots): the bits of
    /// a run of tokens whose maps of `N` words the encoder keeps in `maps`.
    ///
    /// # Panics
    /// If a slot is out of range of `maps`.
    #[inline]
    pub fn or_gather<const N: usize>(self, maps: &[[u64; N]], slots: &[u32]) -> [u64; N] {
        #[cfg(target_arch = "x86_64")]
        if matches!(self, Kernel::Avx512 | Kernel::Avx2) {
            assert!(
                std::arch::is_x86_feature_detected!("avx2"),
                "{} needs CPU features this machine lacks",
                self.name()
            );
            // SAFETY: AVX2 was detected just above; the body is safe Rust (indexing is checked).
            return unsafe { x86::or_gather_avx2(maps, slots) };
        }
        or_gather_portable(maps, slots)
    }

    /// True when this CPU has the instructions the kernel uses (checked before any of them runs).
    fn cpu_has(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Popcnt => std::arch::is_x86_feature_detected!("popcnt"),
            _ => true,
        }
    }

    /// Runs a kernel once the caller has checked the bounds.
    fn checked_run(
        self,
        query: &[Block],
        store: &[Block],
        per: usize,
        src: Source<'_>,
        out: &mut [u32],
    ) {
        assert!(
            self.cpu_has(),
            "{} needs CPU features this machine lacks",
            self.name()
        );
        match self {
            // SAFETY (each arm): the kernel's features were detected just above; the bounds were
            // checked by the caller.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => unsafe { x86::avx512(query, store, per, src, out) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { x86::avx2(query, store, per, src, out) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Popcnt => unsafe { x86::popcnt(query, store, per, src, out) },
            _ => portable(query, store, per, src, out),
        }
    }
}

/// Words of each CLK counted before the bound test of [`Kernel::scan_interleaved`].
pub const PREFIX_WORDS: usize = 4;

/// Blocks at the head of each group of [`Interleaved`]: the prefix words, then the popcounts of
/// the rest of each CLK, then the popcounts of each whole CLK.
const HEAD: usize = PREFIX_WORDS + 2;

/// CLKs of one length laid out for scanning, eight to a group (see the module documentation).
///
/// Group `g` holds CLKs `8g .. 8g + 8`; lane `l` of each of its blocks belongs to CLK `8g + l`.
/// Its head is [`PREFIX_WORDS`] blocks of words (block `w` holds word `w` of each of the eight),
/// then a block of the popcounts of words `PREFIX_WORDS..`, then a block of whole popcounts; its
/// tail holds the remaining words the same way. Lanes past the last CLK are zero.
#[derive(Debug, Clone, Default)]
pub struct Interleaved {
    head: Vec<Block>,
    tail: Vec<Block>,
    words: usize,
    len: usize,
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

/// A threshold `t` in the fixed-point form [`Kernel::scan_interleaved`] tests: `⌊t·2¹⁶⌋`, a shade
/// below `t` so that rounding never loses a pair whose Dice reaches `t` exactly.
pub fn fixed_threshold(t: f64) -> u64 {
    (t.clamp(0.0, 1.0) * (1.0 - 1e-6) * 65536.0).floor() as u64
}

/// The test [`Kernel::scan_interleaved`] makes: `2·count/(pa + pb) >= tq/2¹⁶`, in integers.
#[inline(always)]
fn reaches(count: u64, pa: u64, pb: u64, tq: u64) -> bool {
    count << 17 >= tq * (pa + pb)
}

/// Append `base + i` to `out` for every `i` at which `haystack[i] == needle`, in order: the CSV
/// reader's commas of a line. On x86-64, sixteen bytes are compared at a time with SSE2 (part of
/// every x86-64 CPU) and the matches read off a bit mask, rather than starting a new `memchr`
/// search after each match.
#[inline]
pub fn byte_positions(haystack: &[u8], needle: u8, base: usize, out: &mut Vec<usize>) {
    #[cfg(target_arch = "x86_64")]
    x86::byte_positions_sse2(haystack, needle, base, out);
    #[cfg(not(target_arch = "x86_64"))]
    byte_positions_portable(haystack, needle, base, out);
}

/// [`byte_positions`] a byte at a time.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn byte_positions_portable(haystack: &[u8], needle: u8, base: usize, out: &mut Vec<usize>) {
    out.extend(
        haystack
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == needle)
            .map(|(i, _)| base + i),
    );
}

/// Ask the CPU to fetch the cache lines of `words` (at most the first two) ahead of their use:
/// field-level filters of candidate rows are scattered over memory, and waiting for each in turn
/// dominated field scoring. A prefetch is only a hint; it never faults and changes no result.
#[inline]
pub fn prefetch(words: &[u64]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = words.as_ptr().cast::<i8>();
        // SAFETY: prefetching is a hint about an address inside a live slice; SSE is part of
        // x86-64.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(p);
            if words.len() > 8 {
                _mm_prefetch::<_MM_HINT_T0>(p.add(64));
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = words;
}

/// Where the candidates are: all of the store in order, or the listed ones.
#[derive(Clone, Copy)]
enum Source<'a> {
    Range,
    Gather(&'a [u32]),
}

impl Source<'_> {
    /// Block offset of candidate `j`.
    #[inline(always)]
    fn offset(self, j: usize, per: usize) -> usize {
        match self {
            Source::Range => j * per,
            Source::Gather(idx) => idx[j] as usize * per,
        }
    }
}

/// The float filter one candidate at a time; `first` is added to each hit's index.
fn maybe_over_scalar(
    counts: &[u32],
    pops: &[u32],
    pa: u32,
    t: f32,
    first: usize,
    hits: &mut Vec<u32>,
) {
    for (j, (&c, &pb)) in counts.iter().zip(pops).enumerate() {
        if 2.0 * c as f32 >= t * (pa + pb) as f32 {
            hits.push((first + j) as u32);
        }
    }
}

/// Words of a CLK in order.
#[inline(always)]
fn word(query: &[Block], w: usize) -> u64 {
    query[w / 8].0[w % 8]
}

/// Whether a scan still tests the prefix bound: the first [`Probe::GROUPS`] groups of each call
/// are tested, and the test is kept only if it dropped at least half of their CLKs. (At a low
/// threshold it drops almost none, and costs more than it saves.) Either way the hits are the same.
struct Probe {
    left: usize,
    dropped: u32,
    on: bool,
}

impl Probe {
    const GROUPS: usize = 32;

    fn new() -> Probe {
        Probe {
            left: Probe::GROUPS,
            dropped: 0,
            on: true,
        }
    }

    /// Counts the lanes of one tested group that the bound did not keep.
    #[inline(always)]
    fn note(&mut self, kept: u8) {
        if self.left > 0 {
            self.dropped += 8 - kept.count_ones();
            self.left -= 1;
            if self.left == 0 {
                self.on = 2 * self.dropped >= 8 * Probe::GROUPS as u32;
            }
        }
    }
}

/// [`Kernel::scan_interleaved`] in plain Rust, word by word across the eight lanes of a group;
/// `#[inline(always)]` so that the POPCNT kernel compiles it with the instruction.
#[inline(always)]
fn interleaved_scalar(
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

fn interleaved_portable(
    query: &[Block],
    lanes: &Interleaved,
    groups: std::ops::Range<usize>,
    tq: u64,
    hits: &mut Vec<(u32, u32)>,
) {
    interleaved_scalar(query, lanes, groups, tq, hits);
}

/// [`Kernel::or_gather`] in plain Rust; inlined into the AVX2 copy, which the compiler then
/// vectorises with 256-bit registers.
#[inline(always)]
fn or_gather_portable<const N: usize>(maps: &[[u64; N]], slots: &[u32]) -> [u64; N] {
    let mut acc = [0u64; N];
    for &slot in slots {
        for (a, b) in acc.iter_mut().zip(&maps[slot as usize]) {
            *a |= *b;
        }
    }
    acc
}

fn portable(query: &[Block], store: &[Block], per: usize, src: Source<'_>, out: &mut [u32]) {
    for (j, o) in out.iter_mut().enumerate() {
        let at = src.offset(j, per);
        let mut c = 0;
        for (q, s) in query.iter().zip(&store[at..at + per]) {
            for (a, b) in q.0.iter().zip(&s.0) {
                c += (a & b).count_ones();
            }
        }
        *o = c;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Block, HEAD, Interleaved, PREFIX_WORDS, Source};

    /// SSE2 [`super::byte_positions`]: sixteen bytes to a compare; a short tail is copied into a
    /// block of bytes that are not the needle.
    #[inline]
    pub(super) fn byte_positions_sse2(
        haystack: &[u8],
        needle: u8,
        base: usize,
        out: &mut Vec<usize>,
    ) {
        #[inline(always)]
        fn push_matches(block: &[u8; 16], needle: __m128i, at: usize, out: &mut Vec<usize>) {
            // SAFETY: `block` is 16 readable bytes and `loadu` needs no alignment; SSE2 is part of
            // x86-64.
            let mut mask = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().cast());
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, needle)) as u32
            };
            while mask != 0 {
                out.push(at + mask.trailing_zeros() as usize);
                mask &= mask - 1;
            }
        }
        // SAFETY: SSE2 is part of x86-64.
        let n = unsafe { _mm_set1_epi8(needle as i8) };
        let (blocks, tail) = haystack.as_chunks::<16>();
        for (i, block) in blocks.iter().enumerate() {
            push_matches(block, n, base + i * 16, out);
        }
        if !tail.is_empty() {
            let mut last = [!needle; 16];
            last[..tail.len()].copy_from_slice(tail);
            push_matches(&last, n, base + blocks.len() * 16, out);
        }
    }

    /// AVX2 [`super::Kernel::or_gather`]: the portable loop, compiled for AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) fn or_gather_avx2<const N: usize>(maps: &[[u64; N]], slots: &[u32]) -> [u64; N] {
        super::or_gather_portable(maps, slots)
    }

    /// Pushes the lanes of `mask` (those within the lanes' length) with their counts.
    #[inline(always)]
    fn push_lanes(
        mut mask: u8,
        g: usize,
        counts: &[u64; 8],
        len: usize,
        hits: &mut Vec<(u32, u32)>,
    ) {
        while mask != 0 {
            let lane = mask.trailing_zeros() as usize;
            let j = g * 8 + lane;
            if j < len {
                hits.push((j as u32, counts[lane] as u32));
            }
            mask &= mask - 1;
        }
    }

    /// AVX-512 [`super::Kernel::scan_interleaved`]: one `vpandq` and one `vpopcntq` per word of
    /// eight CLKs; the bound test on the prefix is one compare into a mask, and a pair of groups
    /// shares one branch.
    ///
    /// # Safety
    /// The CPU has AVX-512F and VPOPCNTDQ; `query` is one CLK of `lanes`' length; `groups` lies
    /// within `lanes`; `tq <= 2¹⁶`.
    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    pub(super) unsafe fn interleaved_avx512(
        query: &[Block],
        lanes: &Interleaved,
        groups: std::ops::Range<usize>,
        tq: u64,
        hits: &mut Vec<(u32, u32)>,
    ) {
        let words = lanes.words;
        let tail_len = words - PREFIX_WORDS;
        let q = |w: usize| query[w / 8].0[w % 8];
        let pa: u64 = (0..words).map(|w| u64::from(q(w).count_ones())).sum();
        let qrest: u64 = (PREFIX_WORDS..words)
            .map(|w| u64::from(q(w).count_ones()))
            .sum();
        let load = |b: *const Block| {
            // SAFETY: callers pass pointers to blocks inside `lanes` (see below).
            unsafe { _mm512_load_si512(b.cast()) }
        };
        let tqv = _mm512_set1_epi64(tq as i64);
        let na = _mm512_set1_epi64((tq * pa) as i64);
        let qr = _mm512_set1_epi64(qrest as i64);
        let head = lanes.head.as_ptr();
        let tail = lanes.tail.as_ptr();
        // The prefix count, the group's threshold test and the lanes whose bound reaches it.
        // SAFETY (both closures): `g` is in `groups`, which lies within `lanes`, so the head
        // blocks `g·HEAD .. (g+1)·HEAD` and tail blocks `g·tail_len .. (g+1)·tail_len` exist;
        // `Block` is 64-byte aligned.
        let prefix = |g: usize| unsafe {
            let p = head.add(g * HEAD);
            let mut acc = _mm512_setzero_si512();
            for w in 0..PREFIX_WORDS {
                let x = _mm512_and_si512(_mm512_set1_epi64(q(w) as i64), load(p.add(w)));
                acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
            }
            let rest = load(p.add(PREFIX_WORDS));
            let pb = load(p.add(PREFIX_WORDS + 1));
            // tq < 2^17 and pb < 2^32, so the low-half multiply is exact.
            let need = _mm512_add_epi64(na, _mm512_mul_epu32(tqv, pb));
            let bound = _mm512_slli_epi64::<17>(_mm512_add_epi64(acc, _mm512_min_epu64(qr, rest)));
            (acc, need, _mm512_cmpge_epu64_mask(bound, need))
        };
        let finish = |g: usize, mut acc: __m512i, need: __m512i, hits: &mut Vec<(u32, u32)>| unsafe {
            let p = tail.add(g * tail_len);
            for w in PREFIX_WORDS..words {
                let x = _mm512_and_si512(
                    _mm512_set1_epi64(q(w) as i64),
                    load(p.add(w - PREFIX_WORDS)),
                );
                acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
            }
            let m = _mm512_cmpge_epu64_mask(_mm512_slli_epi64::<17>(acc), need);
            if m != 0 {
                let mut counts = [0u64; 8];
                _mm512_storeu_si512(counts.as_mut_ptr().cast(), acc);
                push_lanes(m, g, &counts, lanes.len, hits);
            }
        };
        let mut probe = super::Probe::new();
        let mut g = groups.start;
        while g + 2 <= groups.end && probe.on {
            let (a0, n0, m0) = prefix(g);
            let (a1, n1, m1) = prefix(g + 1);
            probe.note(m0);
            probe.note(m1);
            if m0 | m1 != 0 {
                if m0 != 0 {
                    finish(g, a0, n0, hits);
                }
                if m1 != 0 {
                    finish(g + 1, a1, n1, hits);
                }
            }
            g += 2;
        }
        if probe.on {
            for g in g..groups.end {
                let (a0, n0, m0) = prefix(g);
                if m0 != 0 {
                    finish(g, a0, n0, hits);
                }
            }
            return;
        }
        // The bound test dropped too few to pay: every group is counted in full.
        for g in g..groups.end {
            // SAFETY: as for `prefix`.
            unsafe {
                let p = head.add(g * HEAD);
                let mut acc = _mm512_setzero_si512();
                for w in 0..PREFIX_WORDS {
                    let x = _mm512_and_si512(_mm512_set1_epi64(q(w) as i64), load(p.add(w)));
                    acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
                }
                let need =
                    _mm512_add_epi64(na, _mm512_mul_epu32(tqv, load(p.add(PREFIX_WORDS + 1))));
                finish(g, acc, need, hits);
            }
        }
    }

    /// AVX2 [`super::Kernel::scan_interleaved`]: four lanes at a time, with the nibble-table
    /// popcount (whose byte sums per 64-bit lane are exactly each CLK's count).
    ///
    /// # Safety
    /// As [`interleaved_avx512`], with AVX2 instead.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn interleaved_avx2(
        query: &[Block],
        lanes: &Interleaved,
        groups: std::ops::Range<usize>,
        tq: u64,
        hits: &mut Vec<(u32, u32)>,
    ) {
        let words = lanes.words;
        let tail_len = words - PREFIX_WORDS;
        let q = |w: usize| query[w / 8].0[w % 8];
        let pa: u64 = (0..words).map(|w| u64::from(q(w).count_ones())).sum();
        let qrest: u64 = (PREFIX_WORDS..words)
            .map(|w| u64::from(q(w).count_ones()))
            .sum();
        let tqv = _mm256_set1_epi64x(tq as i64);
        let na = _mm256_set1_epi64x((tq * pa) as i64);
        let qr = _mm256_set1_epi64x(qrest as i64);
        let mut probe = super::Probe::new();
        for g in groups {
            let mut kept = 0u8;
            for half in 0..2 {
                // SAFETY: group `g` lies within `lanes`; each block is 64-byte aligned, so its
                // halves are 32-byte aligned.
                unsafe {
                    let at = |b: &Block| b.0.as_ptr().add(half * 4).cast::<__m256i>();
                    let head = &lanes.head[g * HEAD..(g + 1) * HEAD];
                    let mut acc = _mm256_setzero_si256();
                    for (w, b) in head[..PREFIX_WORDS].iter().enumerate() {
                        let x = _mm256_and_si256(
                            _mm256_set1_epi64x(q(w) as i64),
                            _mm256_load_si256(at(b)),
                        );
                        acc = _mm256_add_epi64(acc, popcount256(x));
                    }
                    let rest = _mm256_load_si256(at(&head[PREFIX_WORDS]));
                    let pb = _mm256_load_si256(at(&head[PREFIX_WORDS + 1]));
                    let need = _mm256_add_epi64(na, _mm256_mul_epu32(tqv, pb));
                    // All values are far below 2^63, so the signed compares are exact.
                    let fewer = _mm256_blendv_epi8(qr, rest, _mm256_cmpgt_epi64(qr, rest));
                    let bound = _mm256_slli_epi64::<17>(_mm256_add_epi64(acc, fewer));
                    let below =
                        _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(need, bound)));
                    kept |= ((!below as u8) & 0xf) << (half * 4);
                    if probe.on && below == 0xf {
                        continue;
                    }
                    let tail = &lanes.tail[g * tail_len..(g + 1) * tail_len];
                    for (w, b) in tail.iter().enumerate() {
                        let x = _mm256_and_si256(
                            _mm256_set1_epi64x(q(w + PREFIX_WORDS) as i64),
                            _mm256_load_si256(at(b)),
                        );
                        acc = _mm256_add_epi64(acc, popcount256(x));
                    }
                    let full = _mm256_slli_epi64::<17>(acc);
                    let below =
                        _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(need, full)));
                    let mut counts = [0u64; 8];
                    _mm256_storeu_si256(counts.as_mut_ptr().add(half * 4).cast(), acc);
                    let mask = ((!below as u8) & 0xf) << (half * 4);
                    push_lanes(mask, g, &counts, lanes.len, hits);
                }
            }
            probe.note(kept);
        }
    }

    /// POPCNT [`super::Kernel::scan_interleaved`].
    ///
    /// # Safety
    /// The CPU has POPCNT.
    #[target_feature(enable = "popcnt")]
    pub(super) unsafe fn interleaved_popcnt(
        query: &[Block],
        lanes: &Interleaved,
        groups: std::ops::Range<usize>,
        tq: u64,
        hits: &mut Vec<(u32, u32)>,
    ) {
        super::interleaved_scalar(query, lanes, groups, tq, hits);
    }

    /// AVX-512: one AND and one VPOPCNTQ per 512-bit block; the lane sums are reduced once per
    /// candidate.
    ///
    /// # Safety
    /// The CPU has AVX-512F and VPOPCNTDQ; `query` is `per` blocks; every candidate of `src` lies
    /// within `store`; `out` has one entry per candidate.
    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    pub(super) unsafe fn avx512(
        query: &[Block],
        store: &[Block],
        per: usize,
        src: Source<'_>,
        out: &mut [u32],
    ) {
        // SAFETY: the caller upholds this function's contract.
        unsafe {
            let base = store.as_ptr();
            let load = |b: *const Block| _mm512_load_si512(b.cast());
            if per == 2 {
                // 1,024-bit CLKs, the common case: the query stays in registers.
                let q0 = load(query.as_ptr());
                let q1 = load(query.as_ptr().add(1));
                let lanes = |j: usize| {
                    let p = base.add(src.offset(j, per));
                    let a = _mm512_popcnt_epi64(_mm512_and_si512(q0, load(p)));
                    let b = _mm512_popcnt_epi64(_mm512_and_si512(q1, load(p.add(1))));
                    _mm512_add_epi64(a, b)
                };
                // Each lane holds at most 128, so four candidates' lanes pack into the four 16-bit
                // fields of one vector, and one horizontal sum (at most 1,024 per field) serves four.
                let mut chunks = out.chunks_exact_mut(4);
                let mut j = 0;
                for o in &mut chunks {
                    let packed = _mm512_or_si512(
                        _mm512_or_si512(lanes(j), _mm512_slli_epi64(lanes(j + 1), 16)),
                        _mm512_or_si512(
                            _mm512_slli_epi64(lanes(j + 2), 32),
                            _mm512_slli_epi64(lanes(j + 3), 48),
                        ),
                    );
                    let sum = _mm512_reduce_add_epi64(packed) as u64;
                    o[0] = (sum & 0xffff) as u32;
                    o[1] = ((sum >> 16) & 0xffff) as u32;
                    o[2] = ((sum >> 32) & 0xffff) as u32;
                    o[3] = (sum >> 48) as u32;
                    j += 4;
                }
                for o in chunks.into_remainder() {
                    *o = _mm512_reduce_add_epi64(lanes(j)) as u32;
                    j += 1;
                }
            } else {
                for (j, o) in out.iter_mut().enumerate() {
                    let p = base.add(src.offset(j, per));
                    let mut acc = _mm512_setzero_si512();
                    for k in 0..per {
                        let x = _mm512_and_si512(load(query.as_ptr().add(k)), load(p.add(k)));
                        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
                    }
                    *o = _mm512_reduce_add_epi64(acc) as u32;
                }
            }
        }
    }

    /// The AVX-512 form of [`super::Kernel::maybe_over`], sixteen candidates at a time.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `counts` and `pops` have equal lengths.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn maybe_over(
        counts: &[u32],
        pops: &[u32],
        pa: u32,
        t: f32,
        hits: &mut Vec<u32>,
    ) {
        let n = counts.len();
        let tv = _mm512_set1_ps(t);
        let pav = _mm512_set1_epi32(pa as i32);
        let mut j = 0;
        // SAFETY: every load reads 16 values at j < n - 15.
        unsafe {
            while j + 16 <= n {
                let c = _mm512_loadu_si512(counts.as_ptr().add(j).cast());
                let pb = _mm512_loadu_si512(pops.as_ptr().add(j).cast());
                let lhs = _mm512_cvtepu32_ps(_mm512_add_epi32(c, c));
                let rhs = _mm512_mul_ps(tv, _mm512_cvtepu32_ps(_mm512_add_epi32(pav, pb)));
                let mut m: u16 = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(lhs, rhs);
                while m != 0 {
                    hits.push((j + m.trailing_zeros() as usize) as u32);
                    m &= m - 1;
                }
                j += 16;
            }
        }
        super::maybe_over_scalar(&counts[j..], &pops[j..], pa, t, j, hits);
    }

    /// Popcount of each byte of `v` by nibble-table lookup, summed into four 64-bit lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn popcount256(v: __m256i) -> __m256i {
        let table = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2,
            3, 3, 4,
        );
        let low = _mm256_set1_epi8(0x0f);
        let lo = _mm256_and_si256(v, low);
        let hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        let bytes = _mm256_add_epi8(
            _mm256_shuffle_epi8(table, lo),
            _mm256_shuffle_epi8(table, hi),
        );
        _mm256_sad_epu8(bytes, _mm256_setzero_si256())
    }

    /// AVX2: nibble-table popcount of `query AND candidate`, 256 bits at a time.
    ///
    /// # Safety
    /// As [`avx512`], with AVX2 instead.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2(
        query: &[Block],
        store: &[Block],
        per: usize,
        src: Source<'_>,
        out: &mut [u32],
    ) {
        // SAFETY: the caller upholds this function's contract.
        unsafe {
            let base = store.as_ptr().cast::<__m256i>();
            let q = query.as_ptr().cast::<__m256i>();
            let halves = per * 2;
            for (j, o) in out.iter_mut().enumerate() {
                let p = base.add(src.offset(j, per) * 2);
                let mut acc = _mm256_setzero_si256();
                for k in 0..halves {
                    let x =
                        _mm256_and_si256(_mm256_load_si256(q.add(k)), _mm256_load_si256(p.add(k)));
                    acc = _mm256_add_epi64(acc, popcount256(x));
                }
                let s = _mm_add_epi64(
                    _mm256_castsi256_si128(acc),
                    _mm256_extracti128_si256(acc, 1),
                );
                *o = (_mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1)) as u32;
            }
        }
    }

    /// `popcount(a AND b)` word by word with POPCNT.
    ///
    /// # Safety
    /// The CPU must have POPCNT. (Slices of unequal length are read only as far as the shorter.)
    #[target_feature(enable = "popcnt")]
    pub(super) unsafe fn and_count_words(a: &[u64], b: &[u64]) -> u32 {
        a.iter().zip(b).map(|(x, y)| (x & y).count_ones()).sum()
    }

    /// Scalar POPCNT.
    ///
    /// # Safety
    /// As [`avx512`], with POPCNT instead.
    #[target_feature(enable = "popcnt")]
    pub(super) unsafe fn popcnt(
        query: &[Block],
        store: &[Block],
        per: usize,
        src: Source<'_>,
        out: &mut [u32],
    ) {
        {
            for (j, o) in out.iter_mut().enumerate() {
                let at = src.offset(j, per);
                let mut c = 0;
                for k in 0..per {
                    let (q, s) = (&query[k].0, &store[at + k].0);
                    for w in 0..8 {
                        c += (q[w] & s[w]).count_ones();
                    }
                }
                *o = c;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The Dice coefficient as kith-link's `compare::dice` computes it (anonlink's).
    fn dice(count: u32, sum: u32) -> f64 {
        if sum == 0 {
            0.0
        } else {
            2.0 * f64::from(count) / f64::from(sum)
        }
    }

    fn blocks(words: &[u64], per: usize) -> Vec<Block> {
        let mut v = vec![Block::default(); words.len().div_ceil(8 * per) * per];
        for (i, w) in words.iter().enumerate() {
            v[i / 8].0[i % 8] = *w;
        }
        v
    }

    #[test]
    fn portable_is_always_available_and_last() {
        let a = Kernel::available();
        assert_eq!(a.last(), Some(&Kernel::Portable));
        assert_eq!(Kernel::by_name("portable"), Some(Kernel::Portable));
        assert_eq!(Kernel::by_name("nonsense"), None);
    }

    #[test]
    fn counts_known_values() {
        let q = blocks(&[u64::MAX; 16], 2);
        let mut words = vec![0u64; 48];
        words[16] = 0b1011; // candidate 1: 3 bits
        words[47] = u64::MAX; // candidate 2: 64 bits
        let store = blocks(&words, 2);
        for k in Kernel::available() {
            let mut out = [9; 3];
            k.and_counts(&q, &store, 2, &mut out);
            assert_eq!(out, [0, 3, 64], "{k:?}");
            let mut out = [9; 4];
            k.and_counts_at(&q, &store, 2, &[2, 0, 1, 2], &mut out);
            assert_eq!(out, [64, 0, 3, 64], "{k:?}");
        }
    }

    #[test]
    fn or_gather_ors_the_maps_of_the_slots_given() {
        let mut maps = [[0u64; 16]; 4];
        maps[0][0] = 1 << 63;
        maps[1][15] = 1;
        maps[2][7] = 0b110;
        maps[3][7] = 0b011;
        for k in Kernel::available() {
            assert_eq!(k.or_gather(&maps, &[]), [0; 16], "{k:?}: no slots");
            let got = k.or_gather(&maps, &[2, 0, 3, 2]);
            let mut want = [0u64; 16];
            want[0] = 1 << 63;
            want[7] = 0b111;
            assert_eq!(got, want, "{k:?}: maps 0, 2 and 3 (2 twice), not 1");
        }
    }

    /// Every kernel's OR of maps of the encoder's sizes (8, 16 and 32 words) is the portable one.
    fn check_or_gather<const N: usize>(words: &[u64], slots: &[usize]) {
        let maps: Vec<[u64; N]> = words
            .chunks_exact(N)
            .map(|c| <[u64; N]>::try_from(c).unwrap_or([0; N]))
            .collect();
        let slots: Vec<u32> = slots.iter().map(|s| (s % maps.len()) as u32).collect();
        let want = or_gather_portable(&maps, &slots);
        let mut naive = [0u64; N];
        for &s in &slots {
            for w in 0..N {
                naive[w] |= maps[s as usize][w];
            }
        }
        assert_eq!(want, naive);
        for k in Kernel::available() {
            assert_eq!(k.or_gather(&maps, &slots), want, "{k:?}, {N} words");
        }
    }

    #[test]
    fn byte_positions_finds_every_needle_and_nothing_else() {
        let line = b",a,,bc,defghijklmnopq,r,stuvwxyz0123456789,";
        let mut got = vec![7];
        byte_positions(line, b',', 100, &mut got);
        let want: Vec<usize> = [0, 2, 3, 6, 21, 23, 42].iter().map(|i| i + 100).collect();
        assert_eq!(got[0], 7, "appended, not replaced");
        assert_eq!(got[1..], want[..]);
        let mut none = Vec::new();
        byte_positions(b"", b',', 0, &mut none);
        byte_positions(b"no commas in sixteen+ bytes", b',', 0, &mut none);
        // The tail's padding must never match, whatever the needle.
        byte_positions(&[0xff, 0x00, 0xfe], 0x00, 0, &mut none);
        assert_eq!(none, [1]);
    }

    proptest! {
        #[test]
        fn byte_positions_agrees_with_a_byte_by_byte_scan(
            haystack in proptest::collection::vec(
                prop_oneof![Just(b','), Just(b'a'), Just(0u8), Just(0xffu8), any::<u8>()],
                0..100,
            ),
            needle in prop_oneof![Just(b','), Just(0u8), Just(0xffu8), any::<u8>()],
            base in 0usize..1000,
        ) {
            let mut got = Vec::new();
            byte_positions(&haystack, needle, base, &mut got);
            let mut want = Vec::new();
            byte_positions_portable(&haystack, needle, base, &mut want);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn every_kernel_ors_the_same_bits(
            words in proptest::collection::vec(any::<u64>(), 32 * 5),
            slots in proptest::collection::vec(any::<usize>(), 0..40),
        ) {
            check_or_gather::<8>(&words, &slots);
            check_or_gather::<16>(&words, &slots);
            check_or_gather::<32>(&words, &slots);
        }
    }

    proptest! {
        /// The filter never drops a pair that passes the exact test, and every kernel's filter
        /// gives the same hits.
        #[test]
        fn the_filter_keeps_every_passing_pair(
            rows in proptest::collection::vec((0u32..600, 0u32..1200), 0..70),
            pa in 0u32..1024,
            t in prop_oneof![Just(0.8f64), Just(0.5), 0.0f64..1.0],
        ) {
            let counts: Vec<u32> = rows.iter().map(|r| r.0.min(pa)).collect();
            let pops: Vec<u32> = rows.iter().map(|r| r.1.max(r.0.min(pa))).collect();
            let mut want = Vec::new();
            Kernel::Portable.maybe_over(&counts, &pops, pa, t, &mut want);
            for (j, (&c, &pb)) in counts.iter().zip(&pops).enumerate() {
                if dice(c, pa + pb) >= t {
                    prop_assert!(want.contains(&(j as u32)), "pair {} dropped", j);
                }
            }
            for k in Kernel::available() {
                let mut got = Vec::new();
                k.maybe_over(&counts, &pops, pa, t, &mut got);
                prop_assert_eq!(&got, &want, "{:?}", k);
            }
        }

        /// The interleaved scan of every kernel reports exactly the CLKs whose count reaches the
        /// fixed-point test, with their counts: the prefix bound drops none that reach it, for
        /// any length, density, threshold and range of groups, padding lanes included.
        #[test]
        fn the_interleaved_scan_reports_exactly_the_pairs_that_reach_the_test(
            per in prop_oneof![Just(1usize), Just(2), Just(4)],
            seed in any::<u64>(),
            n in prop_oneof![0usize..29, 250usize..400],
            density in 0u32..5,
            t in prop_oneof![Just(0.0f64), Just(0.5), Just(0.9), Just(1.0), 0.0f64..1.0],
            range in (0usize..5, prop_oneof![0usize..5, 30usize..60]),
        ) {
            // Enough words for the query and every candidate (the scan's probe of the prefix
            // bound ends after 32 groups, so long runs test both of its states).
            let mut x = seed | 1;
            let seed: Vec<u64> = (0..8 * per * (n + 2)).map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            }).collect();
            let thin = |w: u64, i: usize| match density {
                0 => w,
                1 => w & seed[(i + 7) % seed.len()],
                2 => w | seed[(i + 3) % seed.len()],
                3 => 0,
                _ => if i.is_multiple_of(3) { u64::MAX } else { 0 },
            };
            let words: Vec<u64> = seed.iter().enumerate().map(|(i, &w)| thin(w, i)).collect();
            let words_per = 8 * per;
            // The query is the first CLK; some candidates are copies of it or near copies.
            let q = blocks(&words[..words_per], per);
            let mut cand: Vec<u64> = words[words_per..words_per * (n + 1)].to_vec();
            for (k, c) in cand.chunks_mut(words_per).enumerate() {
                if k % 4 == 1 {
                    c.copy_from_slice(&words[..words_per]);
                    c[k % words_per] ^= 1 << (k % 64);
                }
            }
            let store = blocks(&cand, per);
            let lanes = Interleaved::new(&store, per);
            prop_assert_eq!(lanes.len(), n);
            let tq = fixed_threshold(t);
            let groups = lanes.groups();
            let (lo, hi) = (range.0.min(groups), (range.0 + range.1).min(groups));
            let pa: u64 = q.iter().flat_map(|b| b.0).map(|w| u64::from(w.count_ones())).sum();
            let mut want = Vec::new();
            for j in lo * 8..(hi * 8).min(n) {
                let clk = &cand[j * words_per..(j + 1) * words_per];
                let c: u64 = clk.iter().enumerate().map(|(w, x)| u64::from((x & word(&q, w)).count_ones())).sum();
                let pb: u64 = clk.iter().map(|x| u64::from(x.count_ones())).sum();
                prop_assert_eq!(u64::from(lanes.pop(j)), pb);
                if reaches(c, pa, pb, tq) {
                    want.push((j as u32, c as u32));
                }
                // Every pair whose Dice reaches t exactly reaches the fixed-point test.
                if dice(c as u32, (pa + pb) as u32) >= t {
                    prop_assert!(reaches(c, pa, pb, tq), "pair {} lost to rounding", j);
                }
            }
            for k in Kernel::available() {
                let mut got = Vec::new();
                k.scan_interleaved(&q, &lanes, lo..hi, tq, &mut got);
                prop_assert_eq!(&got, &want, "{:?}", k);
            }
        }

        /// Every kernel this CPU has agrees with the portable one, for 512-, 1,024- and
        /// 2,048-bit CLKs, in order and gathered.
        #[test]
        fn every_kernel_agrees_with_portable(
            per in prop_oneof![Just(1usize), Just(2), Just(4)],
            seed in proptest::collection::vec(any::<u64>(), 8 * 4 * 9),
            density in 0u32..4,
            idx in proptest::collection::vec(0u32..8, 0..20),
        ) {
            let thin = |w: u64, i: usize| match density {
                0 => w,
                1 => w & seed[(i + 7) % seed.len()],
                2 => w | seed[(i + 3) % seed.len()],
                _ => if i.is_multiple_of(3) { u64::MAX } else { 0 },
            };
            let words: Vec<u64> = seed.iter().enumerate().map(|(i, &w)| thin(w, i)).collect();
            let q = blocks(&words[..8 * per], per);
            let store = blocks(&words[8 * per..8 * per * 9], per);
            let mut want = vec![0; 8];
            Kernel::Portable.and_counts(&q, &store, per, &mut want);
            let mut want_at = vec![0; idx.len()];
            Kernel::Portable.and_counts_at(&q, &store, per, &idx, &mut want_at);
            for k in Kernel::available() {
                let mut got = vec![0; 8];
                k.and_counts(&q, &store, per, &mut got);
                prop_assert_eq!(&got, &want, "{:?}", k);
                let mut got_at = vec![0; idx.len()];
                k.and_counts_at(&q, &store, per, &idx, &mut got_at);
                prop_assert_eq!(&got_at, &want_at, "{:?}", k);
            }
        }
    }
}
