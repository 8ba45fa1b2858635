//! Attacks a linkage party can run on encodings, simulated so that holders can see what their
//! encodings give away before they send them (`kith audit`).
//!
//! Every attack here uses only what a linkage party holds (the encodings, the public schema) and
//! what it can find (a table of how common each name and date is in a similar population). None
//! needs the secret. The attacks:
//!
//! - [`align`]: frequency alignment. Equal values give equal filters, so the most common filter is
//!   probably the most common name, and so on down the ranks; [`align_similar`] does the same for
//!   filters that are only nearly equal (after noise is added).
//! - [`mine`]: pattern mining. Bit positions that are always set together belong to one token
//!   (an "atom"); atoms are matched to tokens by how common they are and by which records share
//!   them, and each filter is decoded to the dictionary value whose tokens fit its atoms
//!   (after Kroll & Steinmetzer 2015, Christen et al. 2018, Vidanage et al. 2020).
//! - [`patterns`]: pattern mining on CLKs with no seeds. The positions of a common token are set
//!   together far more often than chance would have them, whatever the hashing; the patterns are
//!   named by graph matching against the table's tokens, and name each record's candidates
//!   (after Christen et al. 2018 and Vidanage et al. 2020).
//! - [`bootstrap`]: seeded bootstrapping. A token's bits are learned from records taken to be
//!   known values (the frequency alignment's top ranks), every record is decoded to the value
//!   whose learned bits fit best, and so on; it needs no structure in how bits are placed.
//! - [`dates::year_classes`]: a date filter that repeats the year's token groups records by year
//!   of birth.
//! - [`groups::group_sizes`]: how many records share each blocking or household token.
//!
//! `docs/privacy.md` gives the figures for each schema design and the sources.

mod bootstrap;
pub mod dates;
pub mod groups;
mod mine;
mod patterns;

pub use bootstrap::{Fit, bootstrap};
pub use mine::{mine, mine_groups};
pub use patterns::{Field, Pattern, decode_patterns, name_patterns, patterns};

use rustc_hash::FxHashMap;

use crate::dataset::Dataset;

/// What an attacker knows of one field: values with how often each occurs in a population like
/// the one encoded, and the tokens each value's filter hashes (computed from the public schema).
#[derive(Debug, Clone, Default)]
pub struct Dictionary {
    /// Values, most common first.
    pub entries: Vec<Entry>,
}

/// One value of a [`Dictionary`].
#[derive(Debug, Clone)]
pub struct Entry {
    /// The value as the schema normalises it.
    pub value: String,
    /// How many times it occurs in the attacker's population.
    pub count: u64,
    /// The tokens its filter hashes.
    pub tokens: Vec<Vec<u8>>,
}

impl Dictionary {
    /// A dictionary of `entries`, sorted most common first (ties by value, so that the order
    /// does not depend on the input's).
    pub fn new(mut entries: Vec<Entry>) -> Dictionary {
        entries.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        Dictionary { entries }
    }

    /// Total of the counts.
    pub fn total(&self) -> u64 {
        self.entries.iter().map(|e| e.count).sum()
    }

    /// Each of the first `n` entries' distinct tokens as sorted ids, and the number of ids: what
    /// the attacks count and match by.
    pub(crate) fn token_ids(&self, n: usize) -> (Vec<Vec<u32>>, usize) {
        let mut ids_of: FxHashMap<&[u8], u32> = FxHashMap::default();
        let ids = self.entries[..n.min(self.entries.len())]
            .iter()
            .map(|e| {
                let mut ids: Vec<u32> = e
                    .tokens
                    .iter()
                    .map(|t| {
                        let next = ids_of.len() as u32;
                        *ids_of.entry(t.as_slice()).or_insert(next)
                    })
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                ids
            })
            .collect();
        (ids, ids_of.len())
    }
}

/// One filter per record (a field-level filter, or the CLK), as words.
#[derive(Debug, Clone)]
pub struct Filters {
    words: usize,
    bits: Vec<u64>,
    present: Vec<bool>,
}

impl Filters {
    /// Field filter `field` of every record of `ds` (missing where the record has none).
    pub fn field(ds: &Dataset, field: usize) -> Filters {
        let words = ds.field_specs()[field].bits as usize / 64;
        let mut bits = Vec::with_capacity(ds.len() * words);
        let mut present = Vec::with_capacity(ds.len());
        for i in 0..ds.len() {
            let (w, pop) = ds.field(i, field);
            bits.extend_from_slice(w);
            present.push(pop > 0);
        }
        Filters {
            words,
            bits,
            present,
        }
    }

    /// The CLK of every record of `ds`.
    pub fn clk(ds: &Dataset) -> Filters {
        let words = ds.per() * 8;
        let mut bits = Vec::with_capacity(ds.len() * words);
        for i in 0..ds.len() {
            for b in ds.clk(i) {
                bits.extend_from_slice(&b.0);
            }
        }
        Filters {
            words,
            bits,
            present: ds.popcounts().iter().map(|&p| p > 0).collect(),
        }
    }

    /// The records of several sets of filters of one length, one set after another.
    pub fn concat(parts: &[Filters]) -> Filters {
        let words = parts.first().map_or(0, |p| p.words);
        assert!(
            parts.iter().all(|p| p.words == words),
            "filters of one length"
        );
        Filters {
            words,
            bits: parts.iter().flat_map(|p| p.bits.iter().copied()).collect(),
            present: parts
                .iter()
                .flat_map(|p| p.present.iter().copied())
                .collect(),
        }
    }

    /// Filters from raw words (`words` a record), for tests and other sources.
    pub fn from_words(words: usize, bits: Vec<u64>, present: Vec<bool>) -> Filters {
        assert_eq!(bits.len(), words * present.len(), "words per record");
        Filters {
            words,
            bits,
            present,
        }
    }

    /// The filters of records `records`, in that order.
    pub fn select(&self, records: &[usize]) -> Filters {
        let mut bits = Vec::with_capacity(records.len() * self.words);
        let mut present = Vec::with_capacity(records.len());
        for &r in records {
            bits.extend_from_slice(&self.bits[r * self.words..(r + 1) * self.words]);
            present.push(self.present[r]);
        }
        Filters {
            words: self.words,
            bits,
            present,
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.present.len()
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.present.is_empty()
    }

    /// Record `i`'s filter, if it has one.
    pub fn get(&self, i: usize) -> Option<&[u64]> {
        self.present[i].then(|| &self.bits[i * self.words..(i + 1) * self.words])
    }

    /// Words a filter.
    pub fn words(&self) -> usize {
        self.words
    }

    /// Records grouped by equal filters: (filter, records), largest group first (ties by filter).
    pub fn groups(&self) -> Vec<Group> {
        let mut by_bits: FxHashMap<&[u64], usize> = FxHashMap::default();
        let mut groups: Vec<Group> = Vec::new();
        for i in 0..self.len() {
            let Some(f) = self.get(i) else { continue };
            let g = *by_bits.entry(f).or_insert_with(|| {
                groups.push(Group {
                    bits: f.to_vec(),
                    records: Vec::new(),
                });
                groups.len() - 1
            });
            groups[g].records.push(i as u32);
        }
        groups.sort_by(|a, b| {
            b.records
                .len()
                .cmp(&a.records.len())
                .then_with(|| a.bits.cmp(&b.bits))
        });
        groups
    }
}

/// Records whose filters are (nearly) equal.
#[derive(Debug, Clone)]
pub struct Group {
    /// The filter (for a group of nearly equal filters, the bits most members set).
    pub bits: Vec<u64>,
    /// The records, in order.
    pub records: Vec<u32>,
}

/// A guess per record: an index into the dictionary, or `None` where the attack makes none.
pub type Guesses = Vec<Option<u32>>;

/// Frequency alignment: the `r`-th largest group of equal filters is taken to be the `r`-th most
/// common value.
pub fn align(filters: &Filters, dict: &Dictionary) -> Guesses {
    align_groups(filters.len(), &filters.groups(), dict)
}

/// Frequency alignment of groups of nearly equal filters: each filter joins the first group (in
/// order of size) whose filter it matches with a Dice coefficient of at least `min_dice`. This is
/// what an attacker does when noise has made equal values give different filters.
pub fn align_similar(filters: &Filters, dict: &Dictionary, min_dice: f64) -> Guesses {
    align_groups(filters.len(), &similar_groups(filters, min_dice), dict)
}

/// Groups of nearly equal filters: exact groups, largest first, each joined to the first earlier
/// group whose leader it matches at `min_dice`; a group's bits are those set by most members.
pub fn similar_groups(filters: &Filters, min_dice: f64) -> Vec<Group> {
    let exact = filters.groups();
    let mut leaders: Vec<(Vec<u64>, u32)> = Vec::new();
    let mut members: Vec<Vec<u32>> = Vec::new();
    for g in &exact {
        let pop: u32 = g.bits.iter().map(|w| w.count_ones()).sum();
        let found = leaders.iter().position(|(l, lp)| {
            let common: u32 = l
                .iter()
                .zip(&g.bits)
                .map(|(a, b)| (a & b).count_ones())
                .sum();
            let sum = lp + pop;
            sum > 0 && 2.0 * f64::from(common) >= min_dice * f64::from(sum)
        });
        match found {
            Some(c) => members[c].extend_from_slice(&g.records),
            None => {
                leaders.push((g.bits.clone(), pop));
                members.push(g.records.clone());
            }
        }
    }
    let mut out: Vec<Group> = members
        .into_iter()
        .map(|mut records| {
            records.sort_unstable();
            let bits = majority(filters, &records);
            Group { bits, records }
        })
        .collect();
    out.sort_by(|a, b| {
        b.records
            .len()
            .cmp(&a.records.len())
            .then_with(|| a.bits.cmp(&b.bits))
    });
    out
}

/// The bits set in more than half of the records' filters.
fn majority(filters: &Filters, records: &[u32]) -> Vec<u64> {
    let mut counts = vec![0u32; filters.words * 64];
    for &r in records {
        if let Some(f) = filters.get(r as usize) {
            for (w, word) in f.iter().enumerate() {
                let mut x = *word;
                while x != 0 {
                    let b = x.leading_zeros() as usize;
                    counts[w * 64 + b] += 1;
                    x &= !(1u64 << (63 - b));
                }
            }
        }
    }
    let mut out = vec![0u64; filters.words];
    for (p, &c) in counts.iter().enumerate() {
        if 2 * c as usize > records.len() {
            out[p / 64] |= 1u64 << (63 - p % 64);
        }
    }
    out
}

/// Group `r` (in order of size) is guessed to be the dictionary's `r`-th most common value, for
/// each of the `n` records.
pub fn align_groups(n: usize, groups: &[Group], dict: &Dictionary) -> Guesses {
    let mut guesses = vec![None; n];
    for (rank, group) in groups.iter().take(dict.entries.len()).enumerate() {
        for &r in &group.records {
            guesses[r as usize] = Some(rank as u32);
        }
    }
    guesses
}

/// How well guesses name the records: of all records, the share guessed right; of the records
/// guessed, the share right. `truth[i]` is record `i`'s value as the schema normalises it (`None`
/// where it has none, which never counts as re-identified).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Success {
    /// Records guessed right.
    pub right: u64,
    /// Records guessed.
    pub guessed: u64,
    /// All records.
    pub records: u64,
}

impl Success {
    /// Score `guesses` against `truth`.
    pub fn of(guesses: &[Option<u32>], dict: &Dictionary, truth: &[Option<&str>]) -> Success {
        let mut s = Success {
            records: truth.len() as u64,
            ..Success::default()
        };
        for (g, t) in guesses.iter().zip(truth) {
            if let Some(g) = g {
                s.guessed += 1;
                if t.is_some_and(|t| dict.entries[*g as usize].value == t) {
                    s.right += 1;
                }
            }
        }
        s
    }

    /// Share of all records guessed right.
    pub fn share(&self) -> f64 {
        self.right as f64 / (self.records.max(1)) as f64
    }

    /// Share of guesses that are right.
    pub fn precision(&self) -> f64 {
        self.right as f64 / (self.guessed.max(1)) as f64
    }
}

#[cfg(test)]
mod tests;
