//! Seeded bootstrapping: learn each token's bit positions from records taken to be known values,
//! then decode every record to the value whose learned bits best match its filter, and repeat.
//!
//! Unlike atom mining this needs no structure in how bits are placed, so it also runs against
//! random hashing, and it tolerates noise: a token's positions are those set far more often in
//! the seeds whose value holds the token than in seeds overall (after Kroll & Steinmetzer 2015
//! and Niedermeyer et al. 2014, whose attacks bootstrap from the most frequent values).

use rayon::prelude::*;

use super::{Dictionary, Filters, Guesses};

/// Rounds of learning and decoding.
const ROUNDS: usize = 4;
/// Values a round tries against each record, most common first.
const MAX_VALUES: usize = 5_000;
/// Seed records a token must appear in for its positions to be learned.
const MIN_SEEDS: u32 = 3;
/// How much more often than in seeds overall a position must be set in the seeds holding a token
/// to be taken as one of its bits.
const MIN_EXCESS: f64 = 0.1;

/// How a value's learned bits are matched against a record's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The filter holds one value (a field filter): the Dice coefficient of the two.
    Whole,
    /// The filter holds the value among others (a CLK): the share of the value's bits it sets;
    /// between values that fit equally, the one with more bits.
    Within,
}

/// Decode each record by bootstrapping from `seeds` (a guess per record, as [`super::align`]
/// gives). `k` is the bits per token; a record is decoded when its filter and the value's learned
/// bits reach `min_dice` (a Dice coefficient, or the share of the value's bits, as `fit` says).
pub fn bootstrap(
    filters: &Filters,
    dict: &Dictionary,
    k: u32,
    seeds: &Guesses,
    min_dice: f64,
    fit: Fit,
) -> Guesses {
    let values = dict.entries.len().min(MAX_VALUES);
    let (value_tokens, n_tokens) = dict.token_ids(values);
    let words = filters.words();
    let bits = words * 64;
    let mut guesses: Guesses = seeds
        .iter()
        .map(|g| g.filter(|&v| (v as usize) < values))
        .collect();
    for round in 0..ROUNDS {
        // Learn: per token, how often each position is set in the seeds that hold it.
        let mut counts = vec![0u32; n_tokens * bits];
        let mut holders = vec![0u32; n_tokens];
        let mut overall = vec![0u32; bits];
        let mut seeded = 0u32;
        for (r, g) in guesses.iter().enumerate() {
            let (Some(v), Some(f)) = (g, filters.get(r)) else {
                continue;
            };
            seeded += 1;
            let set = set_positions(f);
            for &p in &set {
                overall[p] += 1;
            }
            for &t in &value_tokens[*v as usize] {
                holders[t as usize] += 1;
                let row = &mut counts[t as usize * bits..(t as usize + 1) * bits];
                for &p in &set {
                    row[p] += 1;
                }
            }
        }
        if seeded == 0 {
            break;
        }
        let learned: Vec<Option<Vec<u64>>> = (0..n_tokens)
            .map(|t| {
                let n = holders[t];
                if n < MIN_SEEDS {
                    return None;
                }
                let row = &counts[t * bits..(t + 1) * bits];
                let mut scored: Vec<(f64, usize)> = (0..bits)
                    .map(|p| {
                        let excess = f64::from(row[p]) / f64::from(n)
                            - f64::from(overall[p]) / f64::from(seeded);
                        (excess, p)
                    })
                    .filter(|(e, _)| *e >= MIN_EXCESS)
                    .collect();
                scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                scored.truncate(k as usize);
                if scored.is_empty() {
                    return None;
                }
                let mut w = vec![0u64; words];
                for (_, p) in scored {
                    w[p / 64] |= 1u64 << (63 - p % 64);
                }
                Some(w)
            })
            .collect();
        // Predict each value whose tokens are all learned.
        let predicted: Vec<(u32, Vec<u64>, u32)> = value_tokens
            .iter()
            .enumerate()
            .filter_map(|(v, ids)| {
                let mut w = vec![0u64; words];
                for &t in ids {
                    for (a, b) in w.iter_mut().zip(learned[t as usize].as_ref()?) {
                        *a |= b;
                    }
                }
                let pop = w.iter().map(|x| x.count_ones()).sum();
                Some((v as u32, w, pop))
            })
            .collect();
        if predicted.is_empty() {
            break;
        }
        // Decode: each record to the best-matching predicted value.
        guesses = (0..filters.len())
            .into_par_iter()
            .map(|r| {
                let f = filters.get(r)?;
                let pf: u32 = f.iter().map(|x| x.count_ones()).sum();
                let mut best: Option<(f64, u32, u32)> = None;
                for (v, w, pw) in &predicted {
                    let common: u32 = w.iter().zip(f).map(|(a, b)| (a & b).count_ones()).sum();
                    let score = match fit {
                        Fit::Whole => 2.0 * f64::from(common) / f64::from((pf + pw).max(1)),
                        Fit::Within => f64::from(common) / f64::from((*pw).max(1)),
                    };
                    // Ties go to the value with more bits (within a CLK), then to the more common
                    // value (lower index).
                    let better = best.is_none_or(|(d, _, bw)| {
                        score > d || (fit == Fit::Within && score == d && *pw > bw)
                    });
                    if better {
                        best = Some((score, *v, *pw));
                    }
                }
                // Early rounds keep any best guess as a seed; the last keeps the sure ones.
                let floor = if round + 1 == ROUNDS {
                    min_dice
                } else {
                    0.5 * min_dice
                };
                best.filter(|(d, _, _)| *d >= floor).map(|(_, v, _)| v)
            })
            .collect();
    }
    guesses
}

/// The positions a filter sets.
fn set_positions(f: &[u64]) -> Vec<usize> {
    let mut out = Vec::new();
    for (w, &word) in f.iter().enumerate() {
        let mut x = word;
        while x != 0 {
            let b = x.leading_zeros() as usize;
            out.push(w * 64 + b);
            x &= !(1u64 << (63 - b));
        }
    }
    out
}
