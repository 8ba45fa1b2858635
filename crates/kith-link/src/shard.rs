//! Linkage in groups of records, for an engine that spreads the work over many machines (the
//! Spark job of the Python package, `kith.spark`).
//!
//! The engine keys every record by its blocking keys (and LSH keys, and exact tokens), sends the
//! records of a few keys to one worker, and there calls [`score_group`] on each key's records: the
//! pairs [`crate::link::find_candidates`] would score for that key, scored as it scores them, each
//! marked with what it is ([`Found`]). The pairs come back to one place, where [`assemble`] keeps
//! them as `find_candidates` keeps its own (each query's best, the exact-token veto, exact
//! matches, the one-partner view of field scoring) for [`crate::link::solve`].
//!
//! With field scoring every worker needs the same model and the same value counts: the model is
//! fitted once, on the pairs of a sample of queries against every record ([`fit_patterns`] on
//! each part of the records, then [`fit_model`]), or given; the value counts are counted across
//! every record and handed to each worker ([`crate::weigh::FieldValues`]). Given the model, the
//! links are those of `kith link --model` on the same files with the same blocking.

use rustc_hash::FxHashMap;

use crate::Dataset;
use crate::compare::{Scorer, dice};
use crate::dataset::Ids;
use crate::kernel::Kernel;
use crate::link::{Candidates, SUGGEST_TOP_K, exact_conflict};
use crate::solve::{Candidate, Rec, candidate_order};
use crate::threshold::Histogram;
use crate::weigh::{self, Comparator, Model, Twin};

/// What scoring found for a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Found {
    /// A candidate at its score.
    Scored = 0,
    /// A candidate that two different exact tokens veto: it still takes one of its query's
    /// places among the best (as in `find_candidates`), then goes.
    Vetoed = 1,
    /// The two records share an exact token: a match at 1.
    Exact = 2,
    /// Possible twins, or relatives of one name: never merged, each vetoes the merge of its
    /// records' groups.
    Twin = 3,
    /// Two records of one holder that the twin rule is unsure of (see [`weigh::Twin::Unsure`]):
    /// settled with the other candidates when they are assembled.
    Unsure = 4,
}

impl Found {
    /// The kind from its number (as [`Found`] `as u8` gives it).
    pub fn from_code(c: i64) -> Option<Found> {
        Some(match c {
            0 => Found::Scored,
            1 => Found::Vetoed,
            2 => Found::Exact,
            3 => Found::Twin,
            4 => Found::Unsure,
            _ => return None,
        })
    }
}

/// A pair scoring found: the candidate, what was found, and the level at which its two records'
/// forenames agree ([`weigh::MISSING`] when not compared), which solving asks of the pairs beside
/// two people one holder knows apart (see `link::split_twins`).
pub type FoundPair = (Candidate, Found, u8);

/// How a group's pairs are scored.
#[derive(Debug, Clone, Copy)]
pub enum Scoring<'a> {
    /// CLK Dice: pairs from `threshold` up.
    Clk {
        /// The match threshold (or the review threshold, when lower).
        threshold: f64,
    },
    /// Field by field, as `find_candidates` with field scoring.
    Fields {
        /// The comparator, with the value counts of every record.
        cmp: &'a Comparator,
        /// The model.
        model: &'a Model,
        /// Pairs whose CLK Dice is below this are not compared field by field.
        candidate_floor: f64,
        /// Pairs whose match probability is below this are dropped (the lower of the threshold,
        /// the review threshold and [`crate::partner::FROM`]).
        score_from: f64,
    },
}

/// The settings every group shares.
#[derive(Debug, Clone, Copy)]
pub struct GroupOptions {
    /// Look for pairs within one dataset too.
    pub dedupe: bool,
    /// Two different exact tokens veto a candidate.
    pub exact_veto: bool,
    /// A key held by more records of the later dataset of a pair than this is skipped.
    pub max_bucket: u64,
    /// The popcount kernel.
    pub kernel: Kernel,
}

/// One record of a group: row `row` of dataset `ds` (of the datasets the worker built, one per
/// input, in link order), in part `part` of its key, whose key its dataset holds `key_records`
/// times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The input it comes from.
    pub ds: u32,
    /// Its row in the worker's dataset of that input.
    pub row: u32,
    /// The part of its key it fell in (0 when the key is not cut).
    pub part: i64,
    /// Records of its input holding this key.
    pub key_records: u64,
}

/// A record's token (its sort key in its input), or its row number for inputs without tokens.
fn token(d: &Dataset, r: usize) -> Option<&kith_core::Token> {
    match d.ids() {
        Ids::Tokens(t) => t.get(r),
        Ids::RowIndex => None,
    }
}

/// Score the pairs of one key's group of records as `find_candidates` scores the pairs a blocking
/// key gives: a pair of inputs `i < j` (or one input against itself with `dedupe`), the earlier
/// record (by input, then token) as the query, skipped when the key is held by more than
/// `max_bucket` records of the later input; for an exact identifier's key (`exact_key`) an exact
/// match; otherwise a candidate by `scoring`. `parts` = `(lo, hi)`: only pairs of one record of
/// part `lo` and one of part `hi` (both of part `lo` when equal), so that a key cut into parts has
/// each pair scored in exactly one group. Found pairs are appended to `out` with rows of
/// `datasets`.
pub fn score_group(
    datasets: &[Dataset],
    members: &[Member],
    exact_key: bool,
    parts: (i64, i64),
    scoring: &Scoring<'_>,
    opts: &GroupOptions,
    out: &mut Vec<FoundPair>,
) {
    let (lo, hi) = parts;
    let order = |m: &Member| (m.ds, token(&datasets[m.ds as usize], m.row as usize), m.row);
    let floor = match *scoring {
        Scoring::Clk { threshold } => threshold,
        Scoring::Fields {
            candidate_floor, ..
        } => candidate_floor,
    };
    let Some(first) = datasets.first() else {
        return;
    };
    let scorer = Scorer::new(floor, first.bits());
    let mut gamma = Vec::new();
    let mut count = [0u32];
    for (n, x) in members.iter().enumerate() {
        for y in &members[n + 1..] {
            let fits = if lo == hi {
                x.part == lo && y.part == lo
            } else {
                (x.part == lo && y.part == hi) || (x.part == hi && y.part == lo)
            };
            if !fits {
                continue;
            }
            let (a, c) = if order(x) <= order(y) { (x, y) } else { (y, x) };
            if (a.ds == c.ds && !opts.dedupe) || c.key_records > opts.max_bucket {
                continue;
            }
            let (da, dc) = (&datasets[a.ds as usize], &datasets[c.ds as usize]);
            let (ra, rc) = (a.row as usize, c.row as usize);
            if a.ds == c.ds && ra == rc {
                continue;
            }
            let pair = |score| Candidate {
                score,
                shown: Candidate::SCORE,
                a: Rec {
                    ds: a.ds,
                    row: a.row,
                },
                b: Rec {
                    ds: c.ds,
                    row: c.row,
                },
                exact: false,
            };
            if exact_key {
                out.push((
                    Candidate {
                        exact: true,
                        ..pair(1.0)
                    },
                    Found::Exact,
                    weigh::MISSING,
                ));
                continue;
            }
            opts.kernel
                .and_counts_at(da.clk(ra), dc.clks(), dc.per(), &[c.row], &mut count);
            let sum = da.popcounts()[ra] + dc.popcounts()[rc];
            if !scorer.passes(count[0], sum) {
                continue;
            }
            let vetoed = || opts.exact_veto && exact_conflict(da, ra, dc, rc);
            match *scoring {
                Scoring::Clk { .. } => {
                    let kind = if vetoed() {
                        Found::Vetoed
                    } else {
                        Found::Scored
                    };
                    out.push((pair(dice(count[0], sum)), kind, weigh::MISSING));
                }
                Scoring::Fields {
                    cmp,
                    model,
                    score_from,
                    ..
                } => {
                    let crossed = cmp.gamma(da, ra, dc, rc, &mut gamma);
                    let kind = if a.ds == c.ds {
                        weigh::WITHIN
                    } else {
                        weigh::CROSS
                    };
                    let p = cmp.probability_from(model, kind, &gamma, da, ra, score_from);
                    if p < score_from {
                        if a.ds == c.ds
                            && cmp.twins_below(
                                model,
                                &gamma,
                                crossed,
                                (da, ra),
                                (dc, rc),
                                crate::link::FIELD_THRESHOLD,
                            )
                        {
                            out.push((pair(p), Found::Twin, cmp.forename_in(&gamma)));
                        }
                        continue;
                    }
                    let twins = if a.ds == c.ds {
                        cmp.twin_verdict(&gamma, crossed, (da, ra), (dc, rc))
                    } else if cmp.twin_like_across(&gamma, crossed, da, ra, dc, rc) {
                        Twin::Like
                    } else {
                        Twin::Not
                    };
                    let kind = if twins == Twin::Like || cmp.contradicts(&gamma, a.ds == c.ds) {
                        Found::Twin
                    } else if twins == Twin::Unsure {
                        // Two exact tokens that differ: two people.
                        if vetoed() { Found::Twin } else { Found::Unsure }
                    } else if vetoed() {
                        Found::Vetoed
                    } else {
                        Found::Scored
                    };
                    out.push((pair(p), kind, cmp.forename_in(&gamma)));
                }
            }
        }
    }
}

/// Count the comparison vectors that fit the field model, as `kith link` counts its fitting
/// sample: every pair of a sampled query of input `qi` (`queries`) and a record of input `j` (one
/// part of its records, `records`) whose CLK Dice reaches 0.5, twins left out. Within one input
/// (`qi == j`) a pair counts once: the record's token after the query's. Counts go to `out` by
/// (kind of pair, packed comparison vector).
pub fn fit_patterns(
    cmp: &Comparator,
    queries: &Dataset,
    qi: usize,
    records: &Dataset,
    j: usize,
    kernel: Kernel,
    out: &mut FxHashMap<(usize, u64), u64>,
) {
    if queries.is_empty() || records.is_empty() {
        return;
    }
    let kind = if qi == j { weigh::WITHIN } else { weigh::CROSS };
    let scorer = Scorer::new(crate::link::FIT_FLOOR, records.bits());
    let mut counts = vec![0u32; records.len()];
    let mut gamma = Vec::new();
    for q in 0..queries.len() {
        kernel.and_counts(queries.clk(q), records.clks(), records.per(), &mut counts);
        let pq = queries.popcounts()[q];
        for (r, &c) in counts.iter().enumerate() {
            if !scorer.passes(c, pq + records.popcounts()[r]) {
                continue;
            }
            if qi == j && token(records, r) <= token(queries, q) {
                continue;
            }
            let crossed = cmp.gamma(queries, q, records, r, &mut gamma);
            if !cmp.twin_like(&gamma, crossed, queries, q, records, r) {
                *out.entry((kind, weigh::pack(&gamma))).or_default() += 1;
            }
        }
    }
}

/// Fit the field model on the patterns [`fit_patterns`] counted (summed over every part): `sizes`
/// are the inputs' record counts, `sampled` how many queries of each were sampled, and `random`
/// a sample of each input's records to count `u` on (random pairs among them).
pub fn fit_model(
    cmp: &Comparator,
    patterns: &FxHashMap<(usize, u64), u64>,
    sizes: &[usize],
    sampled: &[usize],
    random: &[Dataset],
    dedupe: bool,
) -> Model {
    let nf = cmp.names().len();
    let patterns: FxHashMap<(usize, Vec<u8>), u64> = patterns
        .iter()
        .map(|(&(k, g), &c)| ((k, weigh::unpack(g, nf)), c))
        .collect();
    let mut sets = Vec::new();
    for i in 0..sizes.len() {
        for j in i..sizes.len() {
            if i != j || dedupe {
                sets.push((i, j));
            }
        }
    }
    let (u, random_pairs) = weigh::estimate_u(cmp, random, &sets);
    // The pairs the fitting pairs were drawn from, and about one match per sampled query across
    // inputs (one duplicate per hundred within one), as `kith link` starts EM.
    let mut drawn = [0u64; 2];
    let mut expected = [0f64; 2];
    for &(i, j) in &sets {
        let q = sampled[i] as u64;
        if i == j {
            drawn[weigh::WITHIN] += q * (sizes[j] as u64).saturating_sub(1) / 2;
            expected[weigh::WITHIN] += 0.01 * q as f64;
        } else {
            drawn[weigh::CROSS] += q * sizes[j] as u64;
            let share = sizes[i].min(sizes[j]) as f64 / sizes[i].max(1) as f64;
            expected[weigh::CROSS] += q as f64 * share;
        }
    }
    let mut fitted = [0f64; 2];
    for ((k, _), c) in &patterns {
        fitted[*k] += *c as f64;
    }
    let start = [0, 1].map(|k| (expected[k] / fitted[k].max(1.0)).clamp(1e-6, 0.5));
    weigh::fit(cmp.names(), &patterns, u, random_pairs, drawn, start)
}

/// The candidates of pairs found by [`score_group`] in every group (rows renumbered to the whole
/// inputs, whose sizes are `sizes`), kept as `find_candidates` keeps its own: a pair found under
/// several keys once, an exact match over a scored one; with field scoring (`model`) each query's
/// [`SUGGEST_TOP_K`] best per other input, before vetoed pairs go; then with field scoring the
/// one-partner view of [`crate::partner`], and the pairs the twin rule was unsure of are settled
/// at the link threshold `link_at`. `collected_at` is the threshold pairs were kept from;
/// `dedupe` says pairs within inputs were looked for.
pub fn assemble(
    mut found: Vec<FoundPair>,
    sizes: &[usize],
    model: Option<Model>,
    collected_at: f64,
    link_at: f64,
    dedupe: bool,
) -> Candidates {
    found.sort_unstable_by(|x, y| {
        (x.0.a, x.0.b, x.1)
            .cmp(&(y.0.a, y.0.b, y.1))
            .then(x.0.score.total_cmp(&y.0.score))
    });
    found.dedup_by(|x, y| x.0.a == y.0.a && x.0.b == y.0.b && x.1 == y.1);
    let forenames: FxHashMap<(Rec, Rec), u8> = found
        .iter()
        .filter(|f| f.2 != weigh::MISSING)
        .map(|f| ((f.0.a, f.0.b), f.2))
        .collect();
    let mut scored: Vec<(Candidate, bool)> = Vec::new();
    let mut exact: FxHashMap<(Rec, Rec), Candidate> = FxHashMap::default();
    let (mut twins, mut unsure) = (Vec::new(), Vec::new());
    for (c, kind, _) in found {
        match kind {
            Found::Unsure => unsure.push(c),
            Found::Scored => scored.push((c, false)),
            Found::Vetoed => scored.push((c, true)),
            Found::Exact => {
                exact.insert((c.a, c.b), c);
            }
            Found::Twin => twins.push(c),
        }
    }
    if model.is_some() {
        // Each query's best per other input: by query, then score (highest first), then row.
        scored.sort_unstable_by(|(x, _), (y, _)| {
            (x.a, x.b.ds)
                .cmp(&(y.a, y.b.ds))
                .then(y.score.total_cmp(&x.score))
                .then(x.b.row.cmp(&y.b.row))
        });
        let mut kept = Vec::with_capacity(scored.len());
        let mut run = 0;
        for n in 0..scored.len() {
            let (c, _) = scored[n];
            run = if n > 0 && (scored[n - 1].0.a, scored[n - 1].0.b.ds) == (c.a, c.b.ds) {
                run + 1
            } else {
                0
            };
            if run < SUGGEST_TOP_K {
                kept.push(scored[n]);
            }
        }
        scored = kept;
    }
    let mut pairs: Vec<Candidate> = scored
        .into_iter()
        .filter(|(c, vetoed)| !vetoed && !exact.contains_key(&(c.a, c.b)))
        .map(|(c, _)| c)
        .collect();
    pairs.extend(exact.into_values());
    crate::link::keep_exact_over_twins(&pairs, &mut twins);
    let mut within_multiples = Vec::new();
    if let Some(m) = &model {
        twins.sort_unstable_by(candidate_order);
        unsure.sort_unstable_by(candidate_order);
        pairs.sort_unstable_by(candidate_order);
        within_multiples = crate::partner::reweigh_within(
            &mut [&mut pairs, &mut twins, &mut unsure],
            &[true, false, true],
            sizes,
            m.prior[weigh::WITHIN],
        );
        crate::link::split_twins(&mut pairs, &mut twins, |x, y| {
            forenames.get(&(x, y)).copied()
        });
        crate::partner::adjust(
            &mut [&mut pairs, &mut twins, &mut unsure],
            &[true, false, true],
            sizes,
            m.prior[weigh::CROSS],
            dedupe,
        );
    }
    crate::link::settle_unsure(&mut pairs, &mut twins, unsure, link_at);
    pairs.sort_unstable_by(candidate_order);
    twins.sort_unstable_by(candidate_order);
    Candidates {
        pairs,
        best: Histogram::default(),
        best_within: Histogram::default(),
        stats: Default::default(),
        collected_at,
        model,
        comparator: None,
        twins,
        within_multiples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(a: (u32, u32), b: (u32, u32), score: f64) -> Candidate {
        Candidate {
            score,
            shown: Candidate::SCORE,
            a: Rec { ds: a.0, row: a.1 },
            b: Rec { ds: b.0, row: b.1 },
            exact: false,
        }
    }

    #[test]
    fn assembling_keeps_a_pair_once_and_an_exact_match_over_a_scored_one() {
        let found = vec![
            (cand((0, 1), (1, 2), 0.9), Found::Scored, 5),
            (cand((0, 1), (1, 2), 0.9), Found::Scored, 5),
            (
                Candidate {
                    exact: true,
                    ..cand((0, 1), (1, 2), 1.0)
                },
                Found::Exact,
                weigh::MISSING,
            ),
            (cand((0, 3), (1, 4), 0.95), Found::Vetoed, 5),
            (cand((0, 5), (1, 6), 0.85), Found::Scored, 5),
        ];
        let c = assemble(found, &[10, 10], None, 0.8, 0.8, false);
        let got: Vec<(u32, u32, f64, bool)> = c
            .pairs
            .iter()
            .map(|p| (p.a.row, p.b.row, p.score, p.exact))
            .collect();
        assert_eq!(got, vec![(1, 2, 1.0, true), (5, 6, 0.85, false)]);
    }

    #[test]
    fn with_field_scoring_a_vetoed_pair_still_takes_its_querys_place() {
        // Query 0 of input 0 has 17 candidates in input 1; its best is vetoed: it takes one of
        // the 16 places, so the weakest goes, and then it goes itself.
        let mut found: Vec<FoundPair> = (0..17)
            .map(|r| {
                (
                    cand((0, 0), (1, r), 0.5 + f64::from(r) / 100.0),
                    Found::Scored,
                    5,
                )
            })
            .collect();
        found[16].1 = Found::Vetoed;
        let nf = 1;
        let model = Model::from_parts(
            vec!["x".into(); nf],
            vec![[0.1, 0.1, 0.1, 0.1, 0.1, 0.5]; nf],
            vec![[0.5, 0.1, 0.1, 0.1, 0.1, 0.1]; nf],
            [0.5, 0.5],
            [0.0, 0.0],
            [0, 0],
            0,
            0,
        );
        let c = assemble(found, &[1, 17], Some(model), 0.5, 0.5, false);
        let rows: Vec<u32> = c.pairs.iter().map(|p| p.b.row).collect();
        assert_eq!(c.pairs.len(), 15, "{rows:?}");
        assert!(!rows.contains(&0) && !rows.contains(&16), "{rows:?}");
    }
}
