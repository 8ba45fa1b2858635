//! Year classes: a date filter that repeats the year's token groups records by year of birth.
//!
//! kith's `"tokens": "date"` filter holds the year's token five times (so that a different year
//! weighs more than a swapped day and month), which sets the same few bits in every filter of one
//! year. Filters are grouped by those shared bits; ranking the groups by size against a table of
//! years of birth then names them.

use super::Filters;

/// A class per record (`None` without a filter), classes numbered largest first: each filter
/// (in order of exact-group size) joins the first class whose core it shares at least
/// `min_shared` set bits with, or starts one. A class's core is the bits most of its members set
/// (all of them while it has fewer than three), so that noise in single filters does not erode it.
/// Bits set in most filters (what rehashing sets for empty windows, a balanced filter's
/// complement half) are background and are not counted.
pub fn year_classes(filters: &Filters, min_shared: u32) -> Vec<Option<u32>> {
    let groups = filters.groups();
    let bits = filters.words() * 64;
    let mut fill = vec![0usize; bits];
    let mut with = 0usize;
    for g in &groups {
        with += g.records.len();
        for (p, f) in fill.iter_mut().enumerate() {
            if g.bits[p / 64] & (1u64 << (63 - p % 64)) != 0 {
                *f += g.records.len();
            }
        }
    }
    let mut foreground = vec![0u64; filters.words()];
    for (p, &f) in fill.iter().enumerate() {
        if 2 * f <= with {
            foreground[p / 64] |= 1u64 << (63 - p % 64);
        }
    }
    let mut classes: Vec<Class> = Vec::new();
    for g in &groups {
        let found = classes.iter().position(|c| {
            let common: u32 = c
                .core
                .iter()
                .zip(&g.bits)
                .zip(&foreground)
                .map(|((a, b), m)| (a & b & m).count_ones())
                .sum();
            common >= min_shared
        });
        let c = match found {
            Some(c) => c,
            None => {
                classes.push(Class {
                    core: g.bits.clone(),
                    counts: vec![0; bits],
                    members: Vec::new(),
                });
                classes.len() - 1
            }
        };
        classes[c].add(&g.bits, &g.records);
    }
    let mut order: Vec<usize> = (0..classes.len()).collect();
    order.sort_by(|&a, &b| {
        classes[b]
            .members
            .len()
            .cmp(&classes[a].members.len())
            .then(a.cmp(&b))
    });
    let mut out = vec![None; filters.len()];
    for (rank, &c) in order.iter().enumerate() {
        for &r in &classes[c].members {
            out[r as usize] = Some(rank as u32);
        }
    }
    out
}

struct Class {
    core: Vec<u64>,
    /// Per position, members that set it.
    counts: Vec<u32>,
    members: Vec<u32>,
}

impl Class {
    fn add(&mut self, filter: &[u64], records: &[u32]) {
        let n = records.len() as u32;
        for (p, c) in self.counts.iter_mut().enumerate() {
            if filter[p / 64] & (1u64 << (63 - p % 64)) != 0 {
                *c += n;
            }
        }
        self.members.extend_from_slice(records);
        let m = self.members.len() as u32;
        let need = if m < 3 { m } else { m.div_ceil(2) + 1 };
        self.core.iter_mut().for_each(|w| *w = 0);
        for (p, &c) in self.counts.iter().enumerate() {
            if c >= need {
                self.core[p / 64] |= 1u64 << (63 - p % 64);
            }
        }
    }
}
