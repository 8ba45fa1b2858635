//! Group sizes of deterministic tokens: records that share a blocking or household token.

use std::hash::Hash;

use rustc_hash::FxHashMap;

/// How records group on one token column.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GroupSizes {
    /// The column.
    pub name: String,
    /// Records with a token.
    pub records: u64,
    /// Distinct tokens.
    pub groups: u64,
    /// Records whose token fewer than `k` records share (themselves included).
    pub under_k: u64,
    /// The `k` of `under_k`.
    pub k: u64,
    /// Records whose token no other record has.
    pub alone: u64,
    /// The largest group.
    pub largest: u64,
}

/// Group sizes of one token column (`None` where a record has no token).
pub fn group_sizes<T: Hash + Eq>(
    name: &str,
    tokens: impl IntoIterator<Item = Option<T>>,
    k: u64,
) -> GroupSizes {
    let mut counts: FxHashMap<T, u64> = FxHashMap::default();
    for t in tokens.into_iter().flatten() {
        *counts.entry(t).or_default() += 1;
    }
    let mut g = GroupSizes {
        name: name.to_owned(),
        k,
        groups: counts.len() as u64,
        ..GroupSizes::default()
    };
    for &c in counts.values() {
        g.records += c;
        if c < k {
            g.under_k += c;
        }
        if c == 1 {
            g.alone += 1;
        }
        g.largest = g.largest.max(c);
    }
    g
}
