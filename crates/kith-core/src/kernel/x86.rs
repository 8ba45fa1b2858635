//! The x86-64 kernels: AVX-512, AVX2, POPCNT and SSE2, each behind `#[target_feature]` and
//! called only after the feature was detected (see the parent module's safety note).

use std::arch::x86_64::*;

use super::{Block, HEAD, Interleaved, PREFIX_WORDS, Source};

/// SSE2 [`super::byte_positions`]: sixteen bytes to a compare; a short tail is copied into a
/// block of bytes that are not the needle.
#[inline]
pub(super) fn byte_positions_sse2(haystack: &[u8], needle: u8, base: usize, out: &mut Vec<usize>) {
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
fn push_lanes(mut mask: u8, g: usize, counts: &[u64; 8], len: usize, hits: &mut Vec<(u32, u32)>) {
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
            let need = _mm512_add_epi64(na, _mm512_mul_epu32(tqv, load(p.add(PREFIX_WORDS + 1))));
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
                    let x =
                        _mm256_and_si256(_mm256_set1_epi64x(q(w) as i64), _mm256_load_si256(at(b)));
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
                let below = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(need, full)));
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
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3,
        3, 4,
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
                let x = _mm256_and_si256(_mm256_load_si256(q.add(k)), _mm256_load_si256(p.add(k)));
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
