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

mod bytes;
mod interleaved;

pub use bytes::byte_positions;
use interleaved::{HEAD, Probe, interleaved_portable, interleaved_scalar};
pub use interleaved::{Interleaved, PREFIX_WORDS, fixed_threshold};

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
pub(super) fn word(query: &[Block], w: usize) -> u64 {
    query[w / 8].0[w % 8]
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
mod x86;

#[cfg(test)]
mod tests;
