//! Field-by-field scoring: a Fellegi–Sunter model over the field-level Bloom filters.
//!
//! One CLK mixes every field into one Dice score, so a pair that agrees on a common name but not on
//! the date of birth can outscore a true match whose postcode changed. When the holders also send
//! field-level filters (`kith.fields` in the schema), each candidate pair gets a comparison vector:
//! per field, a level from the field's Dice coefficient (see [`LEVELS`]), or "missing" when either
//! side has no value. Fields of one key group are also compared crosswise, and the better of the
//! straight and the crossed assignment is used, so a forename entered as the surname still agrees.
//!
//! The model has, per field and level, `m` (how often true matches show that level) and `u` (how
//! often non-matches do). `u` is counted on random pairs, which are nearly all non-matches. `m` and
//! the share of matches are learned without labels by expectation maximisation (see [`fit`]: three
//! classes, matches, relatives and unrelated pairs) over the comparison vectors of a sample of
//! pairs that `link::find_candidates` draws. A pair's weight is
//! `Σ log2(m / u)` over its present fields, and its match probability is
//! `λ·2^w / (λ·2^w + 1 − λ)` with `λ` the share of matches among all pairs: the probability that
//! the two records are one person, given the model. Pairs at 0.5 or above are more likely than not
//! to be matches, which is the threshold kith suggests.
//!
//! Agreement on a value is then weighed by how common the value is (a term-frequency adjustment,
//! see [`Comparator::tf_adjustment`]): the linkage party counts equal filters, which it sees
//! anyway, so that two records sharing a forename one person in ten thousand has count for more
//! than two sharing the commonest one.
//!
//! Everything is a pure function of the datasets, so results do not depend on the thread count.

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::Dataset;
use crate::kernel::Kernel;

/// Dice lower bounds of the agreement levels, highest first: level `NLEVELS - 1 - i` is reached at
/// `LEVELS[i]`; below the last bound is level 0 (disagreement).
/// The lowest bound keeps a date with only its day and month in common (a year typed one out,
/// Dice about 0.4) apart from one with nothing in common.
pub const LEVELS: [f64; 5] = [0.99, 0.85, 0.7, 0.5, 0.3];
/// Agreement levels per field (disagree, then one per bound in [`LEVELS`]).
pub const NLEVELS: usize = LEVELS.len() + 1;
/// The comparison value of a field missing on either side.
pub const MISSING: u8 = u8::MAX;

/// Most random pairs counted for `u`.
const U_SAMPLES: usize = 1 << 21;
/// Expectation-maximisation iterations at most.
const EM_ITERATIONS: usize = 200;

/// Which fields two datasets share, and how to compare them.
#[derive(Debug, Clone)]
pub struct Comparator {
    names: Vec<String>,
    /// (field index in a, field index in b) per compared field.
    fields: Vec<(usize, usize)>,
    /// Per compared field: the words (start, count) of the part of the filter it compares, for a
    /// filter in parts; `None` for a filter compared whole.
    parts: Vec<Option<(usize, usize)>>,
    /// Pairs of compared fields (positions in `fields`) of one key group.
    swaps: Vec<(usize, usize)>,
    /// The twin rule: the positions of the fields that may differ, and of those twins share.
    twin: Option<(Vec<usize>, Vec<usize>)>,
    /// The positions of the twin rule's personal fields (see [`Comparator::personal_agrees`]).
    personal: Vec<usize>,
    /// Per compared field, how often each value occurs among all records; empty when not
    /// counted (see [`Comparator::with_value_counts`]).
    values: Vec<Values>,
    kernel: Kernel,
}

/// How often each value of one field occurs: (value hash, records), sorted by hash.
#[derive(Debug, Clone, Default)]
struct Values {
    counts: Vec<(u64, u32)>,
    /// Where the hashes of each leading `dir_bits` bits start in `counts` (and the end): a lookup,
    /// made for most scored pairs, then searches a few neighbouring entries rather than the whole
    /// table, which misses the cache at every step.
    dir: Vec<u32>,
    dir_bits: u32,
    /// Records with a value.
    present: u64,
    /// True when values repeat enough for their frequencies to mean something: a filter with
    /// noise (BLIP) gives nearly every record a value of its own.
    informative: bool,
}

impl Values {
    /// `counts` sorted by hash.
    fn new(counts: Vec<(u64, u32)>, present: u64, informative: bool) -> Values {
        // About two values per directory entry; value hashes are well mixed.
        let dir_bits = (counts.len() / 2).max(1).ilog2().min(24);
        let mut dir = Vec::with_capacity((1 << dir_bits) + 1);
        let mut at = 0;
        for b in 0..=(1u64 << dir_bits) {
            while at < counts.len() && counts[at].0 >> (63 - dir_bits) >> 1 < b {
                at += 1;
            }
            dir.push(at as u32);
        }
        Values {
            counts,
            dir,
            dir_bits,
            present,
            informative,
        }
    }

    fn count(&self, h: u64) -> usize {
        let b = (h >> (63 - self.dir_bits) >> 1) as usize;
        let run = match (self.dir.get(b), self.dir.get(b + 1)) {
            (Some(&lo), Some(&hi)) => &self.counts[lo as usize..hi as usize],
            _ => &self.counts[..],
        };
        match run.binary_search_by_key(&h, |&(x, _)| x) {
            Ok(i) => run[i].1 as usize,
            Err(_) => 0,
        }
    }
}

/// How often the values of one compared field occur, as an engine that counts them across many
/// machines hands them over (see [`Comparator::with_field_values`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldValues {
    /// (value hash from [`Comparator::value_of`], records holding it), for values two or more
    /// records hold; values held once may be left out.
    pub counts: Vec<(u64, u32)>,
    /// Records with a value.
    pub present: u64,
    /// Values one record alone holds.
    pub singles: u64,
}

/// Term-frequency adjustments are bounded (in bits): a value seen once in a small extract is not
/// a certainty, and a very common one not a disagreement.
const TF_BOUND: f64 = 6.0;
/// Values are informative when at least this share of records share theirs with another record.
const TF_SHARED: f64 = 0.5;
/// A field whose commonest value more than this share of records hold has few values (sex).
const CATEGORICAL: f64 = 0.2;

/// The twin rule, in levels and counts. The shared fields "agree" from this level (Dice 0.5 or
/// more, so that a typing error in a shared surname does not hide twins).
const TWIN_AGREE_FROM: u8 = 2;
/// A differing field "clearly differs" below this level (Dice under 0.5): twins, whatever the
/// values.
const TWIN_CLEARLY_BELOW: u8 = 2;
/// Up to this level (Dice under 0.85) it "differs" when both values are established: each occurs
/// at least [`TWIN_COMMON`] times among all records, and the rarer at least 1/[`TWIN_RATIO`] as
/// often as the other. A typing error makes a value far rarer than the one it spoils (Niocla for
/// Nicola, Evi for Evie); twins have two real names (Sophie and Sophia).
const TWIN_DIFFER_BELOW: u8 = 4;
/// See [`TWIN_DIFFER_BELOW`].
const TWIN_COMMON: usize = 5;
/// See [`TWIN_DIFFER_BELOW`].
const TWIN_RATIO: usize = 20;

/// What the twin rule says of a pair of records of one holder ([`Comparator::twin_verdict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Twin {
    /// Not twins to the rule.
    Not,
    /// They look like twins: never merged.
    Like,
    /// Every shared field agrees and the forename is missing on one side: a duplicate without
    /// its forename, or a twin's record without it.
    Unsure,
}

/// Which record of a pair, the first or the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    A,
    B,
}

/// Which form of the twin rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Two records of one holder.
    Within,
    /// Two records of one holder, the forename missing on one side.
    Unsure,
    /// Records of two holders.
    Across,
}

/// A hash of a field filter's words (for counting equal values).
fn value_hash(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(0x6b69_7468_7477_696e, |h, &w| crate::block::mix(h ^ w))
}

/// Filter `f` of record `r` of `d`, or its part `part` (words start, count), with its popcount (0
/// when missing).
#[inline]
fn filter(d: &Dataset, r: usize, f: usize, part: Option<(usize, usize)>) -> (&[u64], u32) {
    let (w, pop) = d.field(r, f);
    match part {
        None => (w, pop),
        Some(_) if pop == 0 => (w, 0),
        Some((start, n)) => {
            let w = &w[start..start + n];
            (w, w.iter().map(|x| x.count_ones()).sum())
        }
    }
}

fn field_dice(kernel: Kernel, a: &[u64], pa: u32, b: &[u64], pb: u32) -> f64 {
    2.0 * f64::from(kernel.and_count_words(a, b)) / f64::from(pa + pb)
}

fn level(d: f64) -> u8 {
    for (i, &bound) in LEVELS.iter().enumerate() {
        if d >= bound {
            return (NLEVELS - 1 - i) as u8;
        }
    }
    0
}

impl Comparator {
    /// The fields both datasets carry with the same length and key group; `None` when there are
    /// none. A filter in parts is compared part by part, each part a field of its own named
    /// `name.part` (see `FieldSpec::compared`); a twin rule that names the filter names all its
    /// parts.
    pub fn new(a: &Dataset, b: &Dataset) -> Option<Comparator> {
        let mut names = Vec::new();
        let mut fields = Vec::new();
        let mut parts = Vec::new();
        let mut groups = Vec::new();
        // The filter each compared field comes from.
        let mut whole: Vec<&str> = Vec::new();
        for (i, fa) in a.field_specs().iter().enumerate() {
            if let Some(j) = b.field_specs().iter().position(|fb| fb == fa) {
                let compared = fa.compared();
                let words = (fa.bits as usize / 64) / compared.len();
                for (n, c) in compared.into_iter().enumerate() {
                    names.push(c.name);
                    fields.push((i, j));
                    parts.push((!fa.parts.is_empty()).then_some((n * words, words)));
                    groups.push((c.group, c.bits));
                    whole.push(&fa.name);
                }
            }
        }
        if fields.is_empty() {
            return None;
        }
        let mut swaps = Vec::new();
        for x in 0..fields.len() {
            for y in x + 1..fields.len() {
                if groups[x] == groups[y] && parts[x].is_none() && parts[y].is_none() {
                    swaps.push((x, y));
                }
            }
        }
        // Every compared field of the filter named `n`, or `None` when there is none.
        let pos = |n: &String| {
            let at: Vec<usize> = (0..whole.len()).filter(|&k| whole[k] == n).collect();
            (!at.is_empty()).then_some(at)
        };
        let twin = a.twins.as_ref().and_then(|t| {
            let agree: Option<Vec<Vec<usize>>> = t.agree.iter().map(pos).collect();
            let differ: Option<Vec<Vec<usize>>> = t.differ.iter().map(pos).collect();
            Some((differ?.concat(), agree?.concat()))
        });
        // A personal field the other side lacks cannot speak for the pair: it is left out.
        let personal = match (&twin, &a.twins) {
            (Some(_), Some(t)) => t.personal.iter().filter_map(pos).flatten().collect(),
            _ => Vec::new(),
        };
        Some(Comparator {
            names,
            fields,
            parts,
            swaps,
            twin,
            personal,
            values: Vec::new(),
            kernel: Kernel::Portable,
        })
    }

    /// Count bits with `kernel` (the result is the same with every kernel).
    pub fn with_kernel(mut self, kernel: Kernel) -> Comparator {
        self.kernel = kernel;
        self
    }

    /// Count every compared field's values over `datasets`, so that [`Comparator::twin_like`]
    /// can tell an established name from a typing error and [`Comparator::probability`] can
    /// weigh agreement on a rare value above agreement on a common one.
    pub fn with_value_counts(mut self, datasets: &[Dataset]) -> Comparator {
        self.values = (0..self.fields.len())
            .into_par_iter()
            .map(|slot| {
                let (f, part) = (self.fields[slot].0, self.parts[slot]);
                let mut v: Vec<u64> = datasets
                    .iter()
                    .flat_map(|d| {
                        (0..d.len()).filter_map(move |r| {
                            let (w, pop) = filter(d, r, f, part);
                            (pop > 0).then(|| value_hash(w))
                        })
                    })
                    .collect();
                v.sort_unstable();
                let present = v.len() as u64;
                let mut counts: Vec<(u64, u32)> = Vec::new();
                for h in v {
                    match counts.last_mut() {
                        Some((x, c)) if *x == h => *c += 1,
                        _ => counts.push((h, 1)),
                    }
                }
                let single = counts.iter().filter(|&&(_, c)| c == 1).count() as u64;
                let informative =
                    present > 0 && (present - single) as f64 >= TF_SHARED * present as f64;
                Values::new(counts, present, informative)
            })
            .collect();
        self
    }

    /// The value counts of every record, counted elsewhere (one [`FieldValues`] per compared
    /// field, in order): the same comparator as [`Comparator::with_value_counts`] over the same
    /// records gives. A value held once weighs as one absent from the counts.
    ///
    /// # Panics
    /// If there is not one [`FieldValues`] per compared field.
    pub fn with_field_values(mut self, values: Vec<FieldValues>) -> Comparator {
        assert_eq!(
            values.len(),
            self.fields.len(),
            "one count per compared field"
        );
        self.values = values
            .into_iter()
            .map(|mut v| {
                v.counts.sort_unstable();
                let informative = v.present > 0
                    && v.present.saturating_sub(v.singles) as f64 >= TF_SHARED * v.present as f64;
                Values::new(v.counts, v.present, informative)
            })
            .collect();
        self
    }

    /// Compared fields, counting each part of a filter in parts.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when no field is compared (never, for a comparator [`Comparator::new`] made).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// A hash of record `r`'s value in compared field `slot` (of a dataset shaped as `a` was
    /// given to [`Comparator::new`]), `None` when missing.
    pub fn value_of(&self, slot: usize, d: &Dataset, r: usize) -> Option<u64> {
        let (w, pop) = filter(d, r, self.fields[slot].0, self.parts[slot]);
        (pop > 0).then(|| value_hash(w))
    }

    /// The share of records holding field `slot`'s commonest value (1 when values were not
    /// counted or do not repeat).
    pub fn commonest_share(&self, slot: usize) -> f64 {
        match self.values.get(slot) {
            Some(v) if v.informative && v.present > 0 => {
                v.counts.iter().map(|&(_, c)| c).max().unwrap_or(0) as f64 / v.present as f64
            }
            _ => 1.0,
        }
    }

    /// The term-frequency adjustment of a comparison vector, in bits: for each field agreeing at
    /// the top level on an informative field, `log2(u / p)` where `u` is the model's chance that
    /// a random pair agrees there and `p` the share of records holding this value (a random
    /// record's chance to agree with it), bounded by 6 bits. Agreement on a name one
    /// person in ten thousand has says more than agreement on the commonest name; the model's
    /// weight is their average. 0 when values were not counted.
    pub fn tf_adjustment(&self, model: &Model, gamma: &[u8], a: &Dataset, ra: usize) -> f64 {
        let mut adj = 0.0;
        for slot in self.adjusted(gamma) {
            let v = &self.values[slot];
            let (f, part) = (self.fields[slot].0, self.parts[slot]);
            let n = v.count(value_hash(filter(a, ra, f, part).0)).max(1);
            let p = n as f64 / v.present as f64;
            adj += (model.u[slot][NLEVELS - 1] / p)
                .log2()
                .clamp(-TF_BOUND, TF_BOUND);
        }
        adj
    }

    /// The slots the term-frequency adjustment weighs: informative fields agreeing at the top
    /// level (none when values were not counted).
    fn adjusted<'g>(&'g self, gamma: &'g [u8]) -> impl Iterator<Item = usize> + 'g {
        let top = (NLEVELS - 1) as u8;
        gamma
            .iter()
            .zip(&self.values)
            .enumerate()
            .filter(move |(_, (g, v))| **g == top && v.informative)
            .map(|(slot, _)| slot)
    }

    /// The match probability of records `ra` of `a` and `rb` of `b` (a pair of kind `kind`)
    /// whose comparison vector is `gamma`: the model's, with the term-frequency adjustment.
    pub fn probability(
        &self,
        model: &Model,
        kind: usize,
        gamma: &[u8],
        a: &Dataset,
        ra: usize,
    ) -> f64 {
        model.probability_adjusted(kind, gamma, self.tf_adjustment(model, gamma, a, ra))
    }

    /// [`Comparator::probability`] where it can reach `floor`; otherwise a value below `floor`,
    /// found without looking values up. Most compared pairs are strangers far below any floor,
    /// and the term-frequency adjustment (a count lookup and a logarithm per agreeing field) is
    /// the dearer half of their scoring.
    pub fn probability_from(
        &self,
        model: &Model,
        kind: usize,
        gamma: &[u8],
        a: &Dataset,
        ra: usize,
        floor: f64,
    ) -> f64 {
        if !self.values.is_empty() {
            let most = self.adjusted(gamma).count() as f64 * TF_BOUND;
            let bound = model.probability_adjusted(kind, gamma, most);
            if bound < floor {
                return bound;
            }
        }
        self.probability(model, kind, gamma, a, ra)
    }

    /// How many records carry, in the `k`-th differing field of the twin rule, the value that
    /// record `r` of `d` has in its field `f` (`usize::MAX` when values were not counted). Fields
    /// of one key group share a key, so a forename found in the surname field (swapped names)
    /// is counted among the forenames.
    fn value_count(&self, k: usize, d: &Dataset, r: usize, f: usize) -> usize {
        let Some(&slot) = self.twin.as_ref().and_then(|(differ, _)| differ.get(k)) else {
            return usize::MAX;
        };
        let Some(values) = self.values.get(slot) else {
            return usize::MAX;
        };
        values.count(value_hash(filter(d, r, f, self.parts[slot]).0))
    }

    /// True when the pair looks like twins under the schema's twin rule: every shared field
    /// agrees, and one of the differing fields is present on both sides and clearly differs, or
    /// differs and holds an established value on each (see `TWIN_DIFFER_BELOW`). Such a pair
    /// may be a duplicate with a badly typed forename, or two people; the model, which takes
    /// fields as independent, cannot tell, so these pairs are not merged as duplicates and are
    /// left out of fitting (they would teach it that matches often disagree). Pairs the rule is
    /// [`Twin::Unsure`] of count as twins here.
    ///
    /// `crossed` is what [`Comparator::gamma`] returned. When it compared two fields of a key
    /// group crosswise (one record's names swapped), which of the two crosswise comparisons is
    /// the forenames' and which the surnames' is unknown, so the rule is tried both ways.
    pub fn twin_like(
        &self,
        gamma: &[u8],
        crossed: u32,
        a: &Dataset,
        ra: usize,
        b: &Dataset,
        rb: usize,
    ) -> bool {
        self.twin_verdict(gamma, crossed, (a, ra), (b, rb)) != Twin::Not
    }

    /// The twin rule for a pair of records of one holder (see [`Comparator::twin_like`]), telling
    /// apart the pairs it is unsure of: every shared field agrees but the first differing field
    /// (the forename) is missing on one side, so that the pair is a duplicate without its forename
    /// or a twin's record without it. Linking settles those from the other candidates.
    pub fn twin_verdict(
        &self,
        gamma: &[u8],
        crossed: u32,
        (a, ra): (&Dataset, usize),
        (b, rb): (&Dataset, usize),
    ) -> Twin {
        if self.twin_rule(gamma, crossed, (a, ra), (b, rb), Rule::Within) {
            Twin::Like
        } else if self.twin_rule(gamma, crossed, (a, ra), (b, rb), Rule::Unsure) {
            Twin::Unsure
        } else {
            Twin::Not
        }
    }

    /// True for a pair of one holder's records that scores too low to be a candidate (the
    /// forenames, or the sexes, disagree) yet looks like twins to the rule, and would be a match
    /// at `at` or above on the fields twins share alone (the forename and sex taken as missing):
    /// Jade and Jordan, of one surname, date of birth and address. Such a pair is set aside
    /// whatever its score, so that its veto keeps the twins' records apart and a record without a
    /// forename that either could be is kept from both; pairs of strangers born one day are not
    /// (their surnames or addresses differ).
    pub fn twins_below(
        &self,
        model: &Model,
        gamma: &[u8],
        crossed: u32,
        (a, ra): (&Dataset, usize),
        (b, rb): (&Dataset, usize),
        at: f64,
    ) -> bool {
        let Some((differ, _)) = &self.twin else {
            return false;
        };
        if !self.twin_rule(gamma, crossed, (a, ra), (b, rb), Rule::Within) {
            return false;
        }
        let mut shared = gamma.to_vec();
        for &x in differ {
            if let Some(g) = shared.get_mut(x) {
                *g = MISSING;
            }
        }
        self.probability_from(model, WITHIN, &shared, a, ra, at) >= at
    }

    /// The twin rule for a pair of records of two holders, which could be twins when the holders
    /// each know one of them: every shared field agrees, and a differing field of few values
    /// (sex: a girl and a boy) is present on both sides and differs. A forename that differs is
    /// not enough across holders, unlike within one ([`Comparator::twin_like`]): there it is more
    /// often one person written two ways (Mo for Muhammad, Alfie for Alfred, which the holders'
    /// normaliser leaves apart as names in their own right) than twins each known to one holder.
    pub fn twin_like_across(
        &self,
        gamma: &[u8],
        crossed: u32,
        a: &Dataset,
        ra: usize,
        b: &Dataset,
        rb: usize,
    ) -> bool {
        self.twin_rule(gamma, crossed, (a, ra), (b, rb), Rule::Across)
    }

    /// True when every shared field of the twin rule (the date of birth, each of its parts) is
    /// present on both sides and wholly different: a parent and child of one name, or namesakes.
    /// The model, which takes fields as independent, can be outweighed by rare shared names at one
    /// address; such pairs are not linked but listed for review.
    ///
    /// Within one holder (`within`), a pair is also contradicted when there are two shared fields
    /// or parts or more and each differs (the year and the day and month of a date of birth):
    /// siblings of one name at one address (Mohammed and Muhammad, born a year and five days
    /// apart). A duplicate rarely carries an error in each, while across holders each may hold its
    /// own error, so there a part that differs is left to the model.
    pub fn contradicts(&self, gamma: &[u8], within: bool) -> bool {
        if self.personal_agrees(gamma) {
            return false;
        }
        self.twin.as_ref().is_some_and(|(_, agree)| {
            let differs = |top: u8| {
                !agree.is_empty() && agree.iter().all(|&x| gamma[x] != MISSING && gamma[x] < top)
            };
            differs(1) || within && agree.len() >= 2 && differs(NLEVELS as u8 - 1)
        })
    }

    fn twin_rule(
        &self,
        gamma: &[u8],
        crossed: u32,
        (a, ra): (&Dataset, usize),
        (b, rb): (&Dataset, usize),
        rule: Rule,
    ) -> bool {
        let Some((differ, agree)) = &self.twin else {
            return false;
        };
        if self.personal_agrees(gamma) {
            return false;
        }
        // Per compared field: its level, and which field of each record it compared.
        let mut slots: Vec<(u8, usize, usize)> = gamma
            .iter()
            .zip(&self.fields)
            .map(|(&g, &(fa, fb))| (g, fa, fb))
            .collect();
        for (n, &(x, y)) in self.swaps.iter().enumerate() {
            if crossed & (1 << n) != 0 {
                (slots[x].2, slots[y].2) = (self.fields[y].1, self.fields[x].1);
            }
        }
        let holds = |slots: &[(u8, usize, usize)]| {
            let shared = agree
                .iter()
                .all(|&x| slots[x].0 != MISSING && slots[x].0 >= TWIN_AGREE_FROM);
            if rule == Rule::Unsure {
                return shared && differ.first().is_some_and(|&x| slots[x].0 == MISSING);
            }
            shared
                && differ.iter().enumerate().any(|(k, &x)| {
                    let (d, fa, fb) = slots[x];
                    let established = || {
                        let (x, y) = (
                            self.value_count(k, a, ra, fa),
                            self.value_count(k, b, rb, fb),
                        );
                        let (lo, hi) = (x.min(y), x.max(y));
                        lo >= TWIN_COMMON && lo.saturating_mul(TWIN_RATIO) >= hi
                    };
                    d != MISSING
                        && if rule == Rule::Within {
                            d < TWIN_DIFFER_BELOW && (d < TWIN_CLEARLY_BELOW || established())
                        } else {
                            d == 0 && self.commonest_share(x) > CATEGORICAL && established()
                        }
                })
        };
        // Which record's names are the swapped ones, for each crosswise comparison, when the
        // value counts tell: then the rule is tried the one way that compares forename with
        // forename (a duplicate whose names are swapped and one of them mistyped, Miah Joseph
        // and Joseph Maih, is not taken for twins).
        let sides: Option<Vec<(usize, usize, Side)>> = self
            .swaps
            .iter()
            .enumerate()
            .filter(|&(n, _)| crossed & (1 << n) != 0)
            .map(|(_, &(x, y))| Some((x, y, self.swapped_side((a, ra), (b, rb), x, y)?)))
            .collect();
        if let Some(sides) = sides.filter(|s| !s.is_empty()) {
            for (x, y, side) in sides {
                if side == Side::A {
                    slots.swap(x, y);
                }
            }
            return holds(&slots);
        }
        if holds(&slots) {
            return true;
        }
        let mut other = false;
        for (n, &(x, y)) in self.swaps.iter().enumerate() {
            if crossed & (1 << n) != 0 {
                slots.swap(x, y);
                other = true;
            }
        }
        other && holds(&slots)
    }

    /// True when a personal field of the twin rule (an identity number typed by hand) is present
    /// on both sides and agrees at the top level: twins and relatives do not share one, so the
    /// pair is one person's records with a forename replaced or a date mistyped. Only the top
    /// level counts, as numbers given one after another (twins registered together) differ in a
    /// digit or two.
    pub fn personal_agrees(&self, gamma: &[u8]) -> bool {
        self.personal
            .iter()
            .any(|&x| gamma[x] != MISSING && gamma[x] as usize == NLEVELS - 1)
    }

    /// For a pair compared crosswise in fields `x` and `y` of one key group: which record holds
    /// its two values the wrong way round, by how often each value occurs in each field among
    /// all records (a surname in the forename field is common as a surname, rare as a forename).
    /// `None` when values were not counted or the counts do not tell the records apart by
    /// [`TWIN_RATIO`] or more.
    fn swapped_side(
        &self,
        (a, ra): (&Dataset, usize),
        (b, rb): (&Dataset, usize),
        x: usize,
        y: usize,
    ) -> Option<Side> {
        let (vx, vy) = (self.values.get(x)?, self.values.get(y)?);
        // ln of how much likelier record r's values are the wrong way round than the right way.
        let wrong_way = |d: &Dataset, r: usize| {
            let hx = value_hash(filter(d, r, self.fields[x].0, self.parts[x]).0);
            let hy = value_hash(filter(d, r, self.fields[y].0, self.parts[y]).0);
            // A value held once counts as one whether or not the counts list it (an engine that
            // counts across machines leaves such values out; see `with_field_values`).
            let c = |v: &Values, h: u64| v.count(h).max(1) as f64;
            (c(vy, hx) / c(vx, hx) * (c(vx, hy) / c(vy, hy))).ln()
        };
        let lead = wrong_way(b, rb) - wrong_way(a, ra);
        let margin = (TWIN_RATIO as f64).ln();
        if lead >= margin {
            Some(Side::B)
        } else if lead <= -margin {
            Some(Side::A)
        } else {
            None
        }
    }

    /// The level at which records `ra` of `a` and `rb` of `b` agree in the twin rule's first
    /// differing field (the forename); `None` when the schema has no twin rule or either record
    /// lacks the field.
    pub fn forename_level(&self, a: &Dataset, ra: usize, b: &Dataset, rb: usize) -> Option<u8> {
        self.twin.as_ref()?;
        let mut g = Vec::new();
        self.gamma(a, ra, b, rb, &mut g);
        Some(self.forename_in(&g)).filter(|&l| l != MISSING)
    }

    /// The level of the twin rule's first differing field (the forename) in comparison vector
    /// `gamma`; [`MISSING`] when the schema has no twin rule or a record lacks the field.
    pub fn forename_in(&self, gamma: &[u8]) -> u8 {
        self.twin
            .as_ref()
            .and_then(|(differ, _)| differ.first())
            .and_then(|&x| gamma.get(x).copied())
            .unwrap_or(MISSING)
    }

    /// Names of the compared fields.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The comparison vector of record `ra` of `a` and `rb` of `b` (one value per compared field).
    /// Returns which pairs of fields of one key group were compared crosswise (bit `n` for the
    /// `n`-th pair), for [`Comparator::twin_like`].
    pub fn gamma(&self, a: &Dataset, ra: usize, b: &Dataset, rb: usize, out: &mut Vec<u8>) -> u32 {
        let mut crossed = 0;
        out.clear();
        let mut dice = [f64::NAN; 16];
        for (n, (&(fa, fb), &part)) in self.fields.iter().zip(&self.parts).enumerate() {
            let (wa, pa) = filter(a, ra, fa, part);
            let (wb, pb) = filter(b, rb, fb, part);
            if pa == 0 || pb == 0 {
                out.push(MISSING);
            } else {
                let d = field_dice(self.kernel, wa, pa, wb, pb);
                if n < dice.len() {
                    dice[n] = d;
                }
                out.push(level(d));
            }
        }
        for (n, &(x, y)) in self.swaps.iter().enumerate() {
            // Crossing cannot change two top-level agreements.
            let top = (NLEVELS - 1) as u8;
            if out[x] == MISSING
                || out[y] == MISSING
                || y >= dice.len()
                || (out[x] == top && out[y] == top)
            {
                continue;
            }
            let (ax, bx) = self.fields[x];
            let (ay, by) = self.fields[y];
            let cross = |fa: usize, fb: usize| {
                let (wa, pa) = a.field(ra, fa);
                let (wb, pb) = b.field(rb, fb);
                field_dice(self.kernel, wa, pa, wb, pb)
            };
            let (dxy, dyx) = (cross(ax, by), cross(ay, bx));
            if dxy + dyx > dice[x] + dice[y] {
                out[x] = level(dxy);
                out[y] = level(dyx);
                if let Some(bit) = 1u32.checked_shl(n as u32) {
                    crossed |= bit;
                }
            }
        }
        crossed
    }
}

/// A comparison vector packed into a word (3 bits per field, so at most 7 values with missing;
/// at most 21 fields).
pub fn pack(gamma: &[u8]) -> u64 {
    gamma
        .iter()
        .fold(0u64, |k, &g| (k << 3) | u64::from(g.min(NLEVELS as u8)))
}

/// The comparison vector of `nf` fields packed by [`pack`].
pub fn unpack(key: u64, nf: usize) -> Vec<u8> {
    (0..nf)
        .rev()
        .map(|f| match ((key >> (3 * f)) & 7) as u8 {
            g if (g as usize) < NLEVELS => g,
            _ => MISSING,
        })
        .collect()
}

/// Pairs of records from two datasets.
pub const CROSS: usize = 0;
/// Pairs of records from one dataset (duplicates).
pub const WITHIN: usize = 1;

/// A fitted model. The agreement probabilities are shared by both kinds of pair, but each has its
/// own share of matches: duplicates within one holder's records are far rarer than the same
/// person in two holders' records, so they need more evidence.
#[derive(Debug, Clone)]
pub struct Model {
    /// Field names.
    pub names: Vec<String>,
    /// Per field and level: the share of true matches at that level.
    pub m: Vec<[f64; NLEVELS]>,
    /// Per field and level: the share of random pairs at that level.
    pub u: Vec<[f64; NLEVELS]>,
    /// Share of matches among all pairs, per kind of pair ([`CROSS`], [`WITHIN`]).
    pub prior: [f64; 2],
    /// Share of matches among the pairs the model was fitted on, per kind of pair.
    pub candidate_share: [f64; 2],
    /// Candidates of each kind the model was fitted on.
    pub fitted: [u64; 2],
    /// Random pairs `u` was counted on.
    pub random_pairs: u64,
    /// EM iterations run.
    pub iterations: usize,
    /// `log2(m / u)` per field and level.
    pub weights: Vec<[f64; NLEVELS]>,
    /// [`Model::even_weight`] of each kind of pair.
    even: [f64; 2],
}

impl Model {
    /// A model from its fitted parts (as a run's `model.json` keeps them): the weights and the
    /// even weights follow from `m`, `u` and `prior` exactly as when it was fitted, so a model
    /// read back scores every pair as the run did.
    #[allow(clippy::too_many_arguments)]
    pub fn from_parts(
        names: Vec<String>,
        m: Vec<[f64; NLEVELS]>,
        u: Vec<[f64; NLEVELS]>,
        prior: [f64; 2],
        candidate_share: [f64; 2],
        fitted: [u64; 2],
        random_pairs: u64,
        iterations: usize,
    ) -> Model {
        let weights = m
            .iter()
            .zip(&u)
            .map(|(mf, uf)| std::array::from_fn(|l| (mf[l] / uf[l]).log2()))
            .collect();
        Model {
            weights,
            even: prior.map(|p| ((1.0 - p) / p).log2()),
            names,
            m,
            u,
            prior,
            candidate_share,
            fitted,
            random_pairs,
            iterations,
        }
    }

    /// The model as `model.json` keeps it: per field, the share of matches (`m`) and of random
    /// pairs (`u`) at each agreement level and the weight `log2(m/u)`; the levels' Dice bounds;
    /// the prior of each kind of pair. Aggregates of the encodings only, no record data.
    pub fn to_json(&self) -> serde_json::Value {
        let fields: Vec<serde_json::Value> = self
            .names
            .iter()
            .enumerate()
            .map(|(f, name)| {
                serde_json::json!({
                    "name": name,
                    "m": self.m[f],
                    "u": self.u[f],
                    "weight": self.weights[f],
                })
            })
            .collect();
        let mut bounds: Vec<f64> = LEVELS.to_vec();
        bounds.reverse();
        serde_json::json!({
            "levels": "disagree, then Dice at least each bound",
            "bounds": bounds,
            "fields": fields,
            "prior": {"across": self.prior[CROSS], "within": self.prior[WITHIN]},
            "even_weight": {"across": self.even_weight(CROSS), "within": self.even_weight(WITHIN)},
            "fitted_pairs": {"across": self.fitted[CROSS], "within": self.fitted[WITHIN]},
            "random_pairs": self.random_pairs,
            "iterations": self.iterations,
        })
    }

    /// [`Model::to_json`] with each source's share of duplicates as a multiple of the pooled one
    /// (`within`: source and multiple; see [`crate::partner::reweigh_within`]) under
    /// `within_sources`, when there are any: what a run scored with, for `kith explain`.
    pub fn to_json_with_sources(&self, within: &[(&str, f64)]) -> serde_json::Value {
        let mut v = self.to_json();
        if !within.is_empty()
            && let Some(o) = v.as_object_mut()
        {
            let each: serde_json::Map<String, serde_json::Value> = within
                .iter()
                .map(|&(s, m)| (s.to_owned(), serde_json::json!(m)))
                .collect();
            o.insert("within_sources".into(), serde_json::Value::Object(each));
        }
        v
    }

    /// A model read back from [`Model::to_json`]: it scores every pair as the model written did
    /// (numbers round-trip exactly through JSON).
    pub fn from_json(v: &serde_json::Value) -> Result<Model, String> {
        let levels = |x: &serde_json::Value, what: &str| -> Result<[f64; NLEVELS], String> {
            let a = x
                .as_array()
                .filter(|a| a.len() == NLEVELS)
                .ok_or_else(|| format!("{what}: expected a list of {NLEVELS} numbers"))?;
            let mut out = [0.0; NLEVELS];
            for (o, x) in out.iter_mut().zip(a) {
                *o = x
                    .as_f64()
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or_else(|| format!("{what}: {x} is not a share between 0 and 1"))?;
            }
            Ok(out)
        };
        let fields = v["fields"]
            .as_array()
            .filter(|f| !f.is_empty())
            .ok_or("no \"fields\" list")?;
        let (mut names, mut m, mut u) = (Vec::new(), Vec::new(), Vec::new());
        for f in fields {
            let name = f["name"].as_str().ok_or("a field without a \"name\"")?;
            m.push(levels(&f["m"], &format!("field {name}: m"))?);
            u.push(levels(&f["u"], &format!("field {name}: u"))?);
            names.push(name.to_owned());
        }
        let share = |kind: &str| {
            v["prior"][kind]
                .as_f64()
                .filter(|p| *p > 0.0 && *p < 1.0)
                .ok_or_else(|| format!("prior.{kind}: expected a share between 0 and 1"))
        };
        let prior = [share("across")?, share("within")?];
        let count = |x: &serde_json::Value| x.as_u64().unwrap_or(0);
        Ok(Model::from_parts(
            names,
            m,
            u,
            prior,
            [0.0, 0.0],
            [
                count(&v["fitted_pairs"]["across"]),
                count(&v["fitted_pairs"]["within"]),
            ],
            count(&v["random_pairs"]),
            count(&v["iterations"]) as usize,
        ))
    }

    /// The weight `Σ log2(m / u)` of a comparison vector.
    pub fn weight(&self, gamma: &[u8]) -> f64 {
        gamma
            .iter()
            .enumerate()
            .filter(|(_, g)| **g != MISSING)
            .map(|(f, &g)| self.weights[f][g as usize])
            .sum()
    }

    /// The weight from which a pair of kind `kind` is more likely a match than not.
    pub fn even_weight(&self, kind: usize) -> f64 {
        self.even[kind]
    }

    /// The match probability of a comparison vector of a pair of kind `kind`.
    pub fn probability(&self, kind: usize, gamma: &[u8]) -> f64 {
        self.probability_adjusted(kind, gamma, 0.0)
    }

    /// The match probability of a comparison vector of a pair of kind `kind` whose weight is
    /// moved by `adjustment` bits (see [`Comparator::tf_adjustment`]).
    pub fn probability_adjusted(&self, kind: usize, gamma: &[u8], adjustment: f64) -> f64 {
        let w = self.weight(gamma) + adjustment - self.even_weight(kind);
        // λ·2^w' / (λ·2^w' + 1 − λ) = 1 / (1 + 2^-(w − even)).
        1.0 / (1.0 + (-w).exp2())
    }
}

/// Count each field's levels on random pairs between `pairs` of datasets (deterministic: the
/// pairs come from a fixed generator). Every count starts at one half so no level has `u = 0`.
pub fn estimate_u(
    cmp: &Comparator,
    datasets: &[Dataset],
    pairs: &[(usize, usize)],
) -> (Vec<[f64; NLEVELS]>, u64) {
    let nf = cmp.fields.len();
    let mut counts = vec![[0.5f64; NLEVELS]; nf];
    let mut total = 0u64;
    for (k, &(i, j)) in pairs.iter().enumerate() {
        let (a, b) = (&datasets[i], &datasets[j]);
        if a.is_empty() || b.is_empty() {
            continue;
        }
        // Small extracts need no more draws than they have pairs (twice over).
        let per = (U_SAMPLES / pairs.len().max(1))
            .min(a.len().saturating_mul(b.len()).saturating_mul(2))
            .max(1);
        let chunks: Vec<Vec<[f64; NLEVELS]>> = (0..per.div_ceil(4096))
            .into_par_iter()
            .map(|c| {
                let mut state = 0x6b69_7468_7521_u64 ^ ((k as u64) << 40) ^ c as u64;
                let mut local = vec![[0.0f64; NLEVELS]; nf];
                let mut g = Vec::new();
                for _ in 0..4096.min(per - c * 4096) {
                    state = crate::block::mix(state);
                    let ra = (state % a.len() as u64) as usize;
                    state = crate::block::mix(state);
                    let rb = (state % b.len() as u64) as usize;
                    if i == j && ra == rb {
                        continue;
                    }
                    cmp.gamma(a, ra, b, rb, &mut g);
                    for (f, &l) in g.iter().enumerate() {
                        if l != MISSING {
                            local[f][l as usize] += 1.0;
                        }
                    }
                }
                local
            })
            .collect();
        for local in chunks {
            for (f, row) in local.iter().enumerate() {
                for (l, c) in row.iter().enumerate() {
                    counts[f][l] += c;
                }
            }
        }
        total += per as u64;
    }
    for row in &mut counts {
        let sum: f64 = row.iter().sum();
        for c in row.iter_mut() {
            *c /= sum;
        }
    }
    (counts, total)
}

/// Where EM starts `m`: matches mostly agree at the top level. Also the pseudo-counts' shape.
const M_START: [f64; NLEVELS] = [0.015, 0.015, 0.03, 0.05, 0.1, 0.79];
/// Pseudo-pairs of prior belief in each class (negligible against thousands of pairs).
const PSEUDO: f64 = 50.0;

/// Make the weight `log2(m/u)` rise with the agreement level (pooling adjacent levels that break
/// the order, as isotonic regression does): closer values are never evidence against a match.
fn monotone(m: &mut [f64; NLEVELS], u: &[f64; NLEVELS]) {
    // Blocks of levels [start, end) with pooled m and u.
    let mut blocks: Vec<(usize, usize, f64, f64)> = Vec::new();
    for l in 0..NLEVELS {
        blocks.push((l, l + 1, m[l], u[l]));
        while blocks.len() > 1 {
            let n = blocks.len();
            let (a, b) = (blocks[n - 2], blocks[n - 1]);
            if a.2 / a.3 <= b.2 / b.3 {
                break;
            }
            blocks.truncate(n - 2);
            blocks.push((a.0, b.1, a.2 + b.2, a.3 + b.3));
        }
    }
    for (start, end, pm, pu) in blocks {
        let ratio = pm / pu;
        for l in start..end {
            m[l] = ratio * u[l];
        }
    }
}

/// Fit `m` and the shares of matches by expectation maximisation over the fitting pairs' comparison
/// vectors (`patterns`: (kind, vector) → how many pairs have it). `u` is the random-pair
/// estimate; `all_pairs[kind]` is the number of pairs the fitting pairs of that kind were drawn from;
/// `start[kind]` is where the share of matches starts.
pub fn fit(
    names: &[String],
    patterns: &FxHashMap<(usize, Vec<u8>), u64>,
    u: Vec<[f64; NLEVELS]>,
    random_pairs: u64,
    all_pairs: [u64; 2],
    start: [f64; 2],
) -> Model {
    let nf = names.len();
    // Sorted, so that the floating-point sums (and so the model) do not depend on hashing order.
    let mut pats: Vec<(usize, &Vec<u8>, f64)> = patterns
        .iter()
        .map(|((k, p), &c)| (*k, p, c as f64))
        .collect();
    pats.sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)));
    let mut n = [0.0f64; 2];
    for p in &pats {
        n[p.0] += p.2;
    }
    // Three classes: matches, relatives and unrelated pairs. Relatives (a household's members,
    // namesakes) agree on several fields at once; with two classes EM can take them for the
    // matches when they outnumber them. Matches start mostly agreeing at the top level and few;
    // relatives start as the commonest pattern that agrees fully on two or more fields and
    // disagrees on another; unrelated pairs start as random pairs.
    let mut m = vec![M_START; nf];
    let mut uc = u.clone();
    let mut rel = u.clone();
    if let Some((_, p, _)) = pats
        .iter()
        .filter(|(_, p, _)| {
            p.iter().filter(|&&g| g as usize == NLEVELS - 1).count() >= 2 && p.contains(&0)
        })
        .max_by(|x, y| x.2.total_cmp(&y.2).then_with(|| y.1.cmp(x.1)))
    {
        for (f, &g) in p.iter().enumerate() {
            if g as usize == NLEVELS - 1 {
                rel[f] = M_START;
            }
        }
    }
    let mut lambda = start;
    let mut lambda_rel = [0.1f64; 2];
    let mut iterations = 0;
    for it in 0..EM_ITERATIONS {
        iterations = it + 1;
        // Pseudo-counts: with few pairs the model stays near its starting values instead
        // of fitting noise.
        let mut m_acc: Vec<[f64; NLEVELS]> = vec![M_START.map(|x| x * PSEUDO); nf];
        let mut u_acc: Vec<[f64; NLEVELS]> = u.iter().map(|r| r.map(|x| x * PSEUDO)).collect();
        let mut r_acc: Vec<[f64; NLEVELS]> = u.iter().map(|r| r.map(|x| x * PSEUDO)).collect();
        let mut matches = [0.0f64; 2];
        let mut relatives = [0.0f64; 2];
        for &(kind, p, c) in &pats {
            let (mut pm, mut pr, mut pu) = (
                lambda[kind],
                lambda_rel[kind],
                (1.0 - lambda[kind] - lambda_rel[kind]).max(0.0),
            );
            for (f, &g) in p.iter().enumerate() {
                if g != MISSING {
                    pm *= m[f][g as usize];
                    pr *= rel[f][g as usize];
                    pu *= uc[f][g as usize];
                }
            }
            let total = pm + pr + pu;
            let (rm, rr) = if total > 0.0 {
                (pm / total, pr / total)
            } else {
                (0.0, 0.0)
            };
            matches[kind] += c * rm;
            relatives[kind] += c * rr;
            for (f, &g) in p.iter().enumerate() {
                if g != MISSING {
                    m_acc[f][g as usize] += c * rm;
                    r_acc[f][g as usize] += c * rr;
                    u_acc[f][g as usize] += c * (1.0 - rm - rr).max(0.0);
                }
            }
        }
        let norm = |acc: &mut Vec<[f64; NLEVELS]>| {
            for row in acc.iter_mut() {
                let s: f64 = row.iter().sum();
                for x in row.iter_mut() {
                    *x /= s;
                }
            }
        };
        norm(&mut m_acc);
        norm(&mut u_acc);
        norm(&mut r_acc);
        let new_lambda = [0, 1].map(|k| if n[k] > 0.0 { matches[k] / n[k] } else { 0.0 });
        lambda_rel = [0, 1].map(|k| if n[k] > 0.0 { relatives[k] / n[k] } else { 0.0 });
        let change = m_acc
            .iter()
            .zip(&m)
            .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
            .fold(
                (new_lambda[0] - lambda[0])
                    .abs()
                    .max((new_lambda[1] - lambda[1]).abs()),
                f64::max,
            );
        m = m_acc;
        uc = u_acc;
        rel = r_acc;
        lambda = new_lambda;
        if change < 1e-7 {
            break;
        }
    }
    for (mf, uf) in m.iter_mut().zip(&u) {
        monotone(mf, uf);
    }
    let prior = [0, 1].map(|k| {
        if all_pairs[k] > 0 {
            (lambda[k] * n[k] / all_pairs[k] as f64).clamp(1e-15, 0.5)
        } else {
            0.5
        }
    });
    Model::from_parts(
        names.to_vec(),
        m,
        u,
        prior,
        lambda,
        n.map(|x| x as u64),
        random_pairs,
        iterations,
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kith_core::encodings::TwinNames;

    #[test]
    fn weights_rise_with_the_level() {
        let u = [0.5, 0.1, 0.1, 0.1, 0.1, 0.1];
        let mut m = [0.01, 0.1, 0.1, 0.05, 0.04, 0.7];
        monotone(&mut m, &u);
        let w: Vec<f64> = m.iter().zip(&u).map(|(a, b)| (a / b).log2()).collect();
        assert!(w.windows(2).all(|p| p[0] <= p[1] + 1e-12), "{w:?}");
        // Pooling keeps the total mass of the pooled levels.
        assert!((m.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{m:?}");
        assert_eq!(m[0], 0.01);
    }

    /// EM recovers a planted mixture in which relatives outnumber matches: 1% matches (every
    /// field agrees 95% of the time), 10% household members (surname and postcode agree,
    /// forename and date of birth rarely), 89% unrelated. Started, as `find_candidates` starts
    /// it, from about one match per query, EM finds the matches and not "shares a surname and an
    /// address" (which a two-class model settles on).
    #[test]
    fn em_finds_matches_among_more_numerous_relatives() {
        // Fields: forename, surname, dob, postcode. Agreement probabilities per class.
        let classes: [(f64, [f64; 4]); 3] = [
            (0.01, [0.95, 0.95, 0.95, 0.95]),
            (0.10, [0.05, 0.95, 0.02, 0.95]),
            (0.89, [0.05, 0.02, 0.01, 0.01]),
        ];
        let n = 1_000_000.0;
        let mut patterns: FxHashMap<(usize, Vec<u8>), u64> = FxHashMap::default();
        for bits in 0u8..16 {
            let g: Vec<u8> = (0..4)
                .map(|f| if bits >> f & 1 == 1 { 5 } else { 0 })
                .collect();
            let count: f64 = classes
                .iter()
                .map(|(share, agree)| {
                    share
                        * (0..4)
                            .map(|f| if g[f] == 5 { agree[f] } else { 1.0 - agree[f] })
                            .product::<f64>()
                })
                .sum::<f64>()
                * n;
            patterns.insert((CROSS, g), count.round() as u64);
        }
        let u = vec![[0.98, 0.0, 0.0, 0.0, 0.0, 0.02]; 4];
        let names: Vec<String> = ["first", "last", "dob", "postcode"]
            .map(String::from)
            .to_vec();
        let model = fit(&names, &patterns, u, 1000, [100_000_000, 0], [0.01, 0.01]);
        assert!(
            (model.candidate_share[CROSS] - 0.01).abs() < 0.004,
            "{model:?}"
        );
        assert!(
            model.m[2][5] > 0.8,
            "matches agree on the date of birth: {model:?}"
        );
        assert!(
            model.probability(CROSS, &[0, 5, 0, 5]) < 0.5,
            "a relative is not a match"
        );
        assert!(model.probability(CROSS, &[5, 5, 5, 5]) > 0.5);
        // A missing field moves nothing.
        assert_eq!(model.weight(&[5, 5, 5, MISSING]), model.weight(&[5, 5, 5]));
    }

    fn spec(name: &str, group: &str) -> kith_core::encodings::FieldSpec {
        kith_core::encodings::FieldSpec {
            name: name.into(),
            bits: 64,
            group: group.into(),
            parts: Vec::new(),
        }
    }

    /// A dataset of records with fields first, last (one key group), dob and sex; twins differ
    /// in the forename or the sex.
    /// A model of `c`'s fields with one weight per level for every field (and m and u to match
    /// the top level's): what a test needs of the probabilities, without EM.
    pub(crate) fn test_model(c: &Comparator, weights: [f64; NLEVELS]) -> Model {
        let n = c.names().len();
        Model {
            names: c.names().to_vec(),
            m: vec![[0.01, 0.01, 0.01, 0.01, 0.01, 0.95]; n],
            u: vec![[0.9, 0.02, 0.02, 0.02, 0.02, 0.02]; n],
            prior: [0.01, 0.01],
            candidate_share: [0.1, 0.1],
            fitted: [100, 100],
            random_pairs: 1000,
            iterations: 1,
            weights: vec![weights; n],
            even: [6.6, 6.6],
        }
    }

    pub(crate) fn people<const N: usize>(records: &[[Option<u64>; N]]) -> Dataset {
        let names = ["first", "last", "dob", "sex"];
        let groups = ["name", "name", "dob", "sex"];
        let mut d = Dataset::new("p", 64, false, Vec::new(), Vec::new())
            .with_fields((0..N).map(|f| spec(names[f], groups[f])).collect());
        let differ = if N > 3 {
            vec!["first".into(), "sex".into()]
        } else {
            vec!["first".into()]
        };
        d.twins = Some(TwinNames {
            differ,
            agree: vec!["dob".into(), "last".into()],
            personal: Vec::new(),
        });
        push_all(&mut d, records);
        d
    }

    /// Push `records` (one 64-bit filter a field, or none) into `d`.
    fn push_all<const N: usize>(d: &mut Dataset, records: &[[Option<u64>; N]]) {
        for r in records {
            d.push(None, &[0xff; 8], &[], &[]).expect("push");
            let f: Vec<Option<Vec<u8>>> = r
                .iter()
                .map(|v| v.map(|w| w.to_be_bytes().to_vec()))
                .collect();
            d.push_fields(&f).expect("fields");
        }
    }

    proptest::proptest! {
        /// The directory finds every counted value, and no other, as a search of the whole table.
        #[test]
        fn value_counts_are_found_through_the_directory(
            mut hashes in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..300),
            probes in proptest::collection::vec(proptest::prelude::any::<u64>(), 20),
        ) {
            hashes.extend([0, u64::MAX, 1 << 63]);
            hashes.sort_unstable();
            hashes.dedup();
            let counts: Vec<(u64, u32)> = hashes.iter().map(|&h| (h, (h % 7) as u32 + 1)).collect();
            let v = Values::new(counts.clone(), 1000, true);
            for h in hashes.iter().chain(&probes) {
                let want = counts
                    .binary_search_by_key(h, |&(x, _)| x)
                    .map_or(0, |i| counts[i].1 as usize);
                proptest::prop_assert_eq!(v.count(*h), want);
            }
        }
    }

    /// A number each person holds their own of (an identity number typed by hand), agreeing,
    /// outweighs the twin rule and the rule for relatives: twins and siblings do not share one.
    /// Numbers a digit apart (twins registered together) do not agree, and a record without one
    /// is judged as before.
    #[test]
    fn an_agreeing_personal_number_is_neither_twins_nor_relatives() {
        let (ann, ben, smith, smyth) = (
            0x0f0f_0000_0000_00ffu64,
            0x0f00_0000_00ff_0000u64,
            0xf0f0_ff00_0000_0000u64,
            0xf0f0_f000_0000_000fu64,
        );
        let (dob, dob_typo, id, id_next) = (0x1111u64, 0x1113u64, 0x1234_5678u64, 0x1234_5679u64);
        let mut records = vec![
            [Some(ann), Some(smith), Some(dob), Some(id)],
            [Some(ben), Some(smith), Some(dob), Some(id)], // the forename replaced
            [Some(ben), Some(smith), Some(dob), Some(id_next)], // a twin, the next number
            [Some(ann), Some(smyth), Some(dob_typo), Some(id)], // an error in each shared field
            [Some(ben), Some(smith), Some(dob), None],     // no number
        ];
        for _ in 0..5 {
            records.push([Some(ann), None, None, None]);
            records.push([Some(ben), None, None, None]);
        }
        let with = |personal: Vec<String>| {
            let names = [
                ("first", "name"),
                ("last", "name"),
                ("dob", "dob"),
                ("id", "id"),
            ];
            let mut d = Dataset::new("p", 64, false, Vec::new(), Vec::new())
                .with_fields(names.iter().map(|&(n, g)| spec(n, g)).collect());
            d.twins = Some(TwinNames {
                differ: vec!["first".into()],
                agree: vec!["dob".into(), "last".into()],
                personal,
            });
            push_all(&mut d, &records);
            let c = Comparator::new(&d, &d)
                .expect("shared fields")
                .with_value_counts(std::slice::from_ref(&d));
            (d, c)
        };
        let (d, c) = with(vec!["id".into()]);
        let (plain_d, plain) = with(Vec::new());
        let mut g = Vec::new();
        let mut verdict = |c: &Comparator, d: &Dataset, j: usize| {
            let crossed = c.gamma(d, 0, d, j, &mut g);
            (
                c.twin_like(&g, crossed, d, 0, d, j),
                c.contradicts(&g, true),
                c.personal_agrees(&g),
            )
        };
        assert_eq!(verdict(&plain, &plain_d, 1), (true, false, false));
        assert_eq!(verdict(&c, &d, 1), (false, false, true), "one person");
        assert_eq!(verdict(&c, &d, 2), (true, false, false), "twins");
        assert_eq!(verdict(&plain, &plain_d, 3), (false, true, false));
        assert_eq!(verdict(&c, &d, 3), (false, false, true), "one person");
        assert_eq!(verdict(&c, &d, 4), (true, false, false), "as before");
    }

    #[test]
    fn within_one_holder_an_error_in_every_shared_field_means_two_people() {
        let (ann, smith, smyth) = (
            0x0f0f_0000_0000_00ffu64,
            0xf0f0_ff00_0000_0000u64,
            0xf0f0_f000_0000_000fu64, // Dice 0.75 with Smith
        );
        let (dob, dob_typo) = (0x1111u64, 0x1113u64); // Dice 0.89
        let d = people(&[
            [Some(ann), Some(smith), Some(dob)],
            [Some(ann), Some(smyth), Some(dob_typo)], // an error in each shared field
            [Some(ann), Some(smith), Some(dob_typo)], // one error
            [Some(ann), Some(smyth), None],
            [Some(ann), Some(0x0000_00f0_f000_0000), Some(0x00ee_0000)], // wholly different
        ]);
        let c = Comparator::new(&d, &d).expect("shared fields");
        let mut g = Vec::new();
        c.gamma(&d, 0, &d, 1, &mut g);
        assert!((1..5).contains(&g[1]) && (1..5).contains(&g[2]), "{g:?}");
        assert!(c.contradicts(&g, true), "within one holder: siblings");
        assert!(
            !c.contradicts(&g, false),
            "across holders each may hold its own error"
        );
        c.gamma(&d, 0, &d, 2, &mut g);
        assert!(!c.contradicts(&g, true), "one error: perhaps a duplicate");
        c.gamma(&d, 0, &d, 3, &mut g);
        assert!(!c.contradicts(&g, true), "a missing field tells nothing");
        c.gamma(&d, 0, &d, 4, &mut g);
        assert_eq!(g[1..], [0, 0]);
        assert!(c.contradicts(&g, false) && c.contradicts(&g, true));
    }

    #[test]
    fn swapped_names_agree_and_twins_are_recognised() {
        let (ann, smith, dob) = (
            0x0f0f_0000_0000_00ffu64,
            0xf0f0_ff00_0000_0000u64,
            0x1111u64,
        );
        let ben = 0x0f00_0000_00ff_0000u64; // shares a quarter of Ann's bits
        let anm = 0x0f01_0000_0000_00f0u64; // Ann with a typing error: Dice 0.72 with Ann
        let mut records = vec![
            [Some(ann), Some(smith), Some(dob)],
            [Some(smith), Some(ann), Some(dob)], // names swapped
            [Some(ben), Some(smith), Some(dob)], // a twin
            [None, Some(smith), Some(dob)],      // forename missing
            [Some(anm), Some(smith), Some(dob)], // a duplicate of Ann with a typing error
        ];
        // Ann and Ben are established names: each occurs five times or more.
        for _ in 0..5 {
            records.push([Some(ann), None, None]);
            records.push([Some(ben), None, None]);
        }
        let d = people(&records);
        let plain = Comparator::new(&d, &d).expect("shared fields");
        let c = plain.clone().with_value_counts(std::slice::from_ref(&d));
        assert_eq!(c.names(), ["first", "last", "dob"]);
        let mut g = Vec::new();
        let crossed = c.gamma(&d, 0, &d, 1, &mut g);
        assert_eq!(g, vec![5, 5, 5], "swapped names are compared crosswise");
        assert_eq!(crossed, 1);
        assert!(!c.twin_like(&g, crossed, &d, 0, &d, 1));
        let crossed = c.gamma(&d, 0, &d, 2, &mut g);
        assert_eq!(crossed, 0);
        assert_eq!(g[1..], [5, 5]);
        assert!(g[0] < 3, "{g:?}");
        assert!(
            c.twin_like(&g, 0, &d, 0, &d, 2),
            "same surname and date of birth, another established forename"
        );
        c.gamma(&d, 0, &d, 3, &mut g);
        assert_eq!(g, vec![MISSING, 5, 5]);
        assert!(
            c.twin_like(&g, 0, &d, 0, &d, 3),
            "without the forename a twin cannot be told from a duplicate by the pair alone"
        );
        assert_eq!(
            c.twin_verdict(&g, 0, (&d, 0), (&d, 3)),
            Twin::Unsure,
            "the other candidates settle it"
        );
        assert!(!c.twin_like_across(&g, 0, &d, 0, &d, 3));
        let crossed = c.gamma(&d, 0, &d, 2, &mut g);
        assert_eq!(c.twin_verdict(&g, crossed, (&d, 0), (&d, 2)), Twin::Like);
        let crossed = c.gamma(&d, 0, &d, 1, &mut g);
        assert_eq!(c.twin_verdict(&g, crossed, (&d, 0), (&d, 1)), Twin::Not);
        c.gamma(&d, 0, &d, 3, &mut g);
        c.gamma(&d, 0, &d, 4, &mut g);
        assert_eq!(g[0], 3, "{g:?}");
        assert!(
            !c.twin_like(&g, 0, &d, 0, &d, 4),
            "a rare forename is a typing error, not a twin"
        );
        assert!(
            plain.twin_like(&g, 0, &d, 0, &d, 4),
            "without counts every differing forename counts as established"
        );
        assert_eq!(unpack(pack(&g), 3), g);
        // Ann with her names swapped against her twin Ben: the crosswise comparison puts the
        // surnames' agreement in the forename's place, and the rule is tried both ways.
        let crossed = c.gamma(&d, 1, &d, 2, &mut g);
        assert_eq!(crossed, 1);
        assert_eq!(g[0], 5, "{g:?}");
        assert!(g[1] < 3, "{g:?}");
        assert!(
            c.twin_like(&g, crossed, &d, 1, &d, 2),
            "twins, one with swapped names"
        );
        assert!(
            !c.twin_like(&g, 0, &d, 1, &d, 2),
            "taken as compared, the surnames would differ"
        );
    }

    /// Names swapped in one record and one of them badly mistyped (Miah Joseph against Joseph
    /// Maih): which record holds its names the wrong way round is told by how often each value is
    /// a forename and a surname, and the rule is tried that one way only. Twins are still twins
    /// when one of them has swapped names.
    #[test]
    fn the_counts_tell_which_record_has_swapped_names() {
        let (ann, smith, dob) = (
            0x0f0f_0000_0000_00ffu64,
            0xf0f0_ff00_0000_0000u64,
            0x1111u64,
        );
        let smyth = 0xf000_0000_0fff_0000u64; // Smith badly mistyped: Dice 0.25
        let ben = 0x0f00_0000_00ff_0000u64; // an established forename of its own
        let mut records = vec![
            [Some(ann), Some(smith), Some(dob)],
            [Some(smyth), Some(ann), Some(dob)], // Ann Smith, names swapped, surname mistyped
            [Some(smith), Some(ben), Some(dob)], // her twin Ben, names swapped
        ];
        for _ in 0..20 {
            records.push([Some(ann), Some(smith), None]);
            records.push([Some(ben), None, None]);
        }
        let d = people(&records);
        let plain = Comparator::new(&d, &d).expect("shared fields");
        let c = plain.clone().with_value_counts(std::slice::from_ref(&d));
        let mut g = Vec::new();
        let crossed = c.gamma(&d, 0, &d, 1, &mut g);
        assert_eq!(crossed, 1, "{g:?}");
        assert_eq!(c.twin_verdict(&g, crossed, (&d, 0), (&d, 1)), Twin::Not);
        assert!(
            plain.twin_like(&g, crossed, &d, 0, &d, 1),
            "without counts the rule is tried both ways, and one way the forenames differ"
        );
        let crossed = c.gamma(&d, 1, &d, 0, &mut g);
        assert_eq!(
            c.twin_verdict(&g, crossed, (&d, 1), (&d, 0)),
            Twin::Not,
            "either way round"
        );
        let crossed = c.gamma(&d, 0, &d, 2, &mut g);
        assert_eq!(crossed, 1, "{g:?}");
        assert_eq!(c.twin_verdict(&g, crossed, (&d, 0), (&d, 2)), Twin::Like);
    }

    /// Agreeing on a rare forename is stronger evidence than agreeing on the commonest: the
    /// term-frequency adjustment moves the weight by how rare the shared value is, and does
    /// nothing for a field whose values never repeat (noise makes every filter its own).
    #[test]
    fn rare_shared_values_weigh_more_than_common_ones() {
        let (common, rare, smith, dob) = (0x0f0f_u64, 0xf000_0f00_u64, 0xf0f0_0000_u64, 0x11u64);
        let mut records = vec![
            [Some(rare), Some(smith), Some(dob)],
            [Some(rare), Some(smith), Some(dob)],
            [Some(common), Some(smith), Some(dob)],
            [Some(common), Some(smith), Some(dob)],
        ];
        for n in 0..200u64 {
            // Surnames and dates of birth of their own; a forename most share (so that the rare
            // one, two records in a hundred, weighs more than the model's average agreement).
            records.push([Some(common), Some(n << 40 | 0xff), Some(n << 20 | 0xf)]);
        }
        let d = people(&records);
        let c = Comparator::new(&d, &d)
            .expect("shared fields")
            .with_value_counts(std::slice::from_ref(&d));
        let model = test_model(&c, [0.0, 0.0, 0.0, 0.0, 0.0, (0.95f64 / 0.02).log2()]);
        let mut g = Vec::new();
        c.gamma(&d, 0, &d, 1, &mut g);
        assert_eq!(g, [5, 5, 5]);
        let rare_adj = c.tf_adjustment(&model, &g, &d, 0);
        c.gamma(&d, 2, &d, 3, &mut g);
        let common_adj = c.tf_adjustment(&model, &g, &d, 2);
        assert!(rare_adj > common_adj + 3.0, "{rare_adj} {common_adj}");
        assert!(rare_adj > 0.0, "{rare_adj}");
        assert!(c.probability(&model, CROSS, &g, &d, 2) < c.probability(&model, CROSS, &g, &d, 0));
        // Scoring from a floor: the same probability wherever it could reach the floor, and below
        // the floor wherever it is.
        for pair in [(0, 1), (2, 3), (0, 2), (4, 5), (0, 7)] {
            c.gamma(&d, pair.0, &d, pair.1, &mut g);
            let exact = c.probability(&model, CROSS, &g, &d, pair.0);
            for floor in [0.01, 0.5, exact, exact + 1e-9, (exact + 1.0) / 2.0] {
                let from = c.probability_from(&model, CROSS, &g, &d, pair.0, floor);
                if exact >= floor {
                    assert_eq!(from, exact, "{pair:?} from {floor}");
                } else {
                    assert!(from < floor, "{pair:?} from {floor}: {from}");
                }
            }
        }
        // Unique values everywhere (as noise makes them): no adjustment.
        let unique: Vec<[Option<u64>; 3]> = (0..40u64)
            .map(|n| [Some(n << 8 | 1), Some(n << 30 | 2), Some(n << 50 | 4)])
            .collect();
        let u = people(&unique);
        let cu = Comparator::new(&u, &u)
            .expect("shared fields")
            .with_value_counts(std::slice::from_ref(&u));
        assert_eq!(cu.tf_adjustment(&model, &[5, 5, 5], &u, 0), 0.0);
        assert_eq!(
            Comparator::new(&d, &d)
                .expect("fields")
                .tf_adjustment(&model, &[5, 5, 5], &d, 0),
            0.0,
            "values not counted"
        );
    }

    #[test]
    fn twins_may_differ_in_sex_instead_of_forename() {
        let (ann, smith, dob, f, m) = (0x0f0f_u64, 0xf0f0_0000_u64, 0x1111_0000_0000u64, 0x3, 0xc0);
        let d = people(&[
            [Some(ann), Some(smith), Some(dob), Some(f)],
            [None, Some(smith), Some(dob), Some(m)], // forename missing, other sex: a twin
            [Some(ann), Some(smith), Some(dob), None], // sex missing, same forename
            [Some(ann), Some(smith), None, Some(m)], // date of birth missing
        ]);
        let c = Comparator::new(&d, &d).expect("shared fields");
        let mut g = Vec::new();
        let x = c.gamma(&d, 0, &d, 1, &mut g);
        assert!(c.twin_like(&g, x, &d, 0, &d, 1), "{g:?}");
        let x = c.gamma(&d, 0, &d, 2, &mut g);
        assert!(
            !c.twin_like(&g, x, &d, 0, &d, 2),
            "one forename, no sex: {g:?}"
        );
        let x = c.gamma(&d, 0, &d, 3, &mut g);
        assert!(
            !c.twin_like(&g, x, &d, 0, &d, 3),
            "the shared date of birth must be there: {g:?}"
        );
    }

    /// Twins Jade and Jordan of one holder score too low to be candidates (their forenames and
    /// sexes disagree) yet agree on everything twins share: set aside all the same. A pair the
    /// rule takes for twins whose shared fields agree only loosely, or whose date of birth
    /// differs, is not.
    #[test]
    fn twins_who_score_too_low_to_be_candidates_are_still_set_aside() {
        let (jade, jordan, smith, smyth) =
            (0xff00_u64, 0x00ff_u64 << 32, 0xffu64 << 16, 0x0f0fu64 << 16);
        let (dob, other_dob, f, m) = (0x1111u64 << 40, 0x2222u64 << 40, 0x3, 0xc0);
        let d = people(&[
            [Some(jade), Some(smith), Some(dob), Some(f)],
            [Some(jordan), Some(smith), Some(dob), Some(m)],
            [Some(jordan), Some(smyth), Some(dob), Some(m)],
            [Some(jordan), Some(smith), Some(other_dob), Some(m)],
        ]);
        let c = Comparator::new(&d, &d).expect("shared fields");
        let model = test_model(&c, [-20.0, 0.0, 0.0, 0.0, 0.0, (0.95f64 / 0.02).log2()]);
        let mut g = Vec::new();
        let x = c.gamma(&d, 0, &d, 1, &mut g);
        assert!(c.probability(&model, WITHIN, &g, &d, 0) < 1e-9);
        assert!(
            c.twins_below(&model, &g, x, (&d, 0), (&d, 1), 0.5),
            "Jade and Jordan: {g:?}"
        );
        let x = c.gamma(&d, 0, &d, 2, &mut g);
        assert!(c.twin_like(&g, x, &d, 0, &d, 2), "{g:?}");
        assert!(
            !c.twins_below(&model, &g, x, (&d, 0), (&d, 2), 0.5),
            "surnames half alike: {g:?}"
        );
        let x = c.gamma(&d, 0, &d, 3, &mut g);
        assert!(
            !c.twins_below(&model, &g, x, (&d, 0), (&d, 3), 0.5),
            "another date of birth: {g:?}"
        );
    }

    #[test]
    fn levels_follow_the_bounds() {
        assert_eq!(level(1.0), 5);
        assert_eq!(level(0.99), 5);
        assert_eq!(level(0.9), 4);
        assert_eq!(level(0.7), 3);
        assert_eq!(level(0.6), 2);
        assert_eq!(level(0.49), 1);
        assert_eq!(level(0.3), 1);
        assert_eq!(level(0.29), 0);
    }
}
