//! Criterion benches for the scoring kernels: one query against 4,096 1,024-bit CLKs, per kernel
//! this CPU has, in order, gathered, and interleaved (the all-pairs scan, at a low and a high
//! threshold), and the whole block scorer with its threshold filter.
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kith_core::bits::Block;
use kith_link::compare::{Keep, Scorer, Tile, View, score_block};
use kith_link::kernel::{Interleaved, Kernel, fixed_threshold};

const N: usize = 4096;

fn clks(n: usize, seed: u64) -> (Vec<Block>, Vec<u32>) {
    let mut s = seed;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut blocks = vec![Block::default(); n * 2];
    for b in &mut blocks {
        for w in &mut b.0 {
            *w = next() & next(); // about a quarter of bits set, like a real CLK
        }
    }
    let pop = blocks
        .chunks(2)
        .map(|c| c.iter().flat_map(|b| b.0).map(u64::count_ones).sum())
        .collect();
    (blocks, pop)
}

fn kernels(c: &mut Criterion) {
    let (store, _) = clks(N, 0x9e37_79b9);
    let (query, _) = clks(1, 7);
    let idx: Vec<u32> = (0..N as u32)
        .map(|i| i.wrapping_mul(2_654_435_761) % N as u32)
        .collect();
    let mut out = vec![0u32; N];
    let lanes = Interleaved::new(&store, 2);
    let mut g = c.benchmark_group("and_popcount_1024");
    g.throughput(Throughput::Elements(N as u64));
    for k in Kernel::available() {
        g.bench_function(format!("{}/in_order", k.name()), |b| {
            b.iter(|| k.and_counts(&query, &store, 2, &mut out));
        });
        g.bench_function(format!("{}/gathered", k.name()), |b| {
            b.iter(|| k.and_counts_at(&query, &store, 2, &idx, &mut out));
        });
        for t in [0.5, 0.9] {
            let mut hits = Vec::new();
            g.bench_function(format!("{}/interleaved_scan_{t}", k.name()), |b| {
                b.iter(|| {
                    hits.clear();
                    k.scan_interleaved(
                        &query,
                        &lanes,
                        0..lanes.groups(),
                        fixed_threshold(t),
                        &mut hits,
                    );
                });
            });
        }
    }
    g.finish();
}

fn block_scoring(c: &mut Criterion) {
    let (a, pa) = clks(64, 1);
    let (b, _) = clks(N, 2);
    let lanes = Interleaved::new(&b, 2);
    let mut g = c.benchmark_group("score_block_64x4096");
    g.throughput(Throughput::Elements((64 * N) as u64));
    let kernel = Kernel::detect();
    // With the histogram's floor at 0.5 every pair is counted in full; with the floor at the
    // threshold, most are dropped after the first 256 bits.
    for floor in [0.5, 0.9] {
        let keep = Scorer::new(0.9, 1024);
        let floor_scorer = Scorer::new(floor, 1024);
        let k = Keep::new(&keep, &floor_scorer);
        g.bench_function(format!("{}/floor_{floor}", kernel.name()), |bench| {
            let mut best = vec![0.0; 64];
            let mut out = Vec::new();
            bench.iter(|| {
                out.clear();
                let tile = Tile {
                    a: View::new(&a, &pa, 2),
                    a_first: 0,
                    b: &lanes,
                    b_first: 0,
                    triangle: false,
                };
                score_block(kernel, &tile, &k, &mut best, &mut out)
            });
        });
    }
    g.finish();
}

criterion_group!(benches, kernels, block_scoring);
criterion_main!(benches);
