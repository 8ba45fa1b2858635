use super::bytes::byte_positions_portable;
use super::interleaved::reaches;
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
