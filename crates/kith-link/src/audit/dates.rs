//! Year classes: a date filter that repeats the year's token groups records by year of birth.
//!
//! kith's `"tokens": "date"` filter holds the year's token five times (so that a different year
//! weighs more than a swapped day and month), which sets the same few bits in every filter of one
//! year. Filters are grouped by those shared bits; ranking the groups by size against a table of
//! years of birth then names them.

use super::Filters;

/// A class per record (`None` without a filter), classes numbered largest first: each filter
/// joins the first class (in order of exact-group size) whose core (the bits all its members
/// set) it shares at least `min_shared` bits of.
pub fn year_classes(filters: &Filters, min_shared: u32) -> Vec<Option<u32>> {
    let groups = filters.groups();
    let mut cores: Vec<Vec<u64>> = Vec::new();
    let mut members: Vec<Vec<u32>> = Vec::new();
    for g in &groups {
        let found = cores.iter().position(|core| {
            let common: u32 = core
                .iter()
                .zip(&g.bits)
                .map(|(a, b)| (a & b).count_ones())
                .sum();
            common >= min_shared
        });
        match found {
            Some(c) => {
                for (a, b) in cores[c].iter_mut().zip(&g.bits) {
                    *a &= b;
                }
                members[c].extend_from_slice(&g.records);
            }
            None => {
                cores.push(g.bits.clone());
                members.push(g.records.clone());
            }
        }
    }
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by(|&a, &b| members[b].len().cmp(&members[a].len()).then(a.cmp(&b)));
    let mut out = vec![None; filters.len()];
    for (rank, &c) in order.iter().enumerate() {
        for &r in &members[c] {
            out[r as usize] = Some(rank as u32);
        }
    }
    out
}
