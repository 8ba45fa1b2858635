//! From datasets to candidate pairs, links and entities: the one path through the linkage party.

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use sha2::{Digest, Sha256};

use crate::LinkError;
use crate::block::{Blocking, Index, QueryKeys};
use crate::compare::{
    Buffers, Keep, Listed, Pair, Query, Scorer, Tile, View, score_block, score_candidates,
};
use crate::dataset::Dataset;
use crate::kernel::{Interleaved, Kernel};
use crate::solve::{Candidate, Rec, candidate_order, greedy_solve};
use crate::threshold::Histogram;
use crate::weigh::{self, Comparator, Model, Twin};

/// Pairs from this CLK Dice up are collected when kith is to suggest a threshold.
pub const SUGGEST_FLOOR: f64 = 0.5;
/// With CLK scoring, best scores from this Dice up make the best-score histogram: low enough to
/// hold the whole hump of records with no partner (dense CLKs of strangers agree on about half
/// their bits), whose top [`SUGGEST_FLOOR`] would cut off, leaving the threshold too high.
pub const CLK_HISTOGRAM_FLOOR: f64 = 0.3;
/// The threshold kith suggests with field scoring: a match probability from which a pair is more
/// likely a match than not.
pub const FIELD_THRESHOLD: f64 = 0.5;
/// Without a threshold, or with field scoring, each query keeps at most this many candidates per
/// other dataset.
pub const SUGGEST_TOP_K: usize = 16;

/// How to link.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// Match threshold; `None` asks kith to suggest one from the score distribution.
    pub threshold: Option<f64>,
    /// With `dedupe`: the threshold for pairs within one dataset (never below the one across);
    /// `None` takes the threshold, or with CLK scoring and no threshold given the one kith
    /// suggests from each record's best score within its own dataset.
    pub within_threshold: Option<f64>,
    /// Lower bound of the clerical-review band.
    pub review: Option<f64>,
    /// How pairs are chosen.
    pub blocking: Blocking,
    /// Blocking buckets larger than this are skipped (and counted).
    pub max_bucket: usize,
    /// Also look for duplicates within each dataset, and allow them in one entity.
    pub dedupe: bool,
    /// Two different exact tokens for the same identifier veto a CLK match.
    pub exact_veto: bool,
    /// The popcount kernel.
    pub kernel: Kernel,
    /// Score pairs field by field (see [`crate::weigh`]) when every dataset carries the same
    /// field-level filters; thresholds are then match probabilities.
    pub fields: bool,
    /// With field scoring: pairs whose CLK Dice is below this are not candidates.
    pub candidate_floor: f64,
    /// When groups of records join in solving.
    pub join: crate::solve::Join,
    /// With field scoring: this model (one fitted before, as `model.json` keeps it) instead of
    /// one fitted on these datasets.
    pub model: Option<Model>,
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            threshold: None,
            within_threshold: None,
            review: None,
            blocking: Blocking::None,
            max_bucket: 20_000,
            dedupe: false,
            exact_veto: true,
            kernel: Kernel::detect(),
            fields: true,
            // Swapped names keep little of a CLK (its features are hashed apart).
            candidate_floor: 0.3,
            join: crate::solve::Join::default(),
            model: None,
        }
    }
}

/// Counts from candidate generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// CLK comparisons made.
    pub comparisons: u64,
    /// Comparisons all-pairs would have made.
    pub all_pairs: u64,
    /// Blocking buckets skipped as oversized (per query and key).
    pub skipped_buckets: u64,
    /// Pairs matched by an exact token.
    pub exact_matches: u64,
    /// CLK matches vetoed by differing exact tokens.
    pub vetoed: u64,
    /// Pairs set aside as possible twins (see [`Comparator::twin_like`] and
    /// [`Comparator::twin_like_across`]) or relatives of one name (see
    /// [`Comparator::contradicts`]).
    pub possible_twins: u64,
}

impl std::ops::AddAssign<&Stats> for Stats {
    fn add_assign(&mut self, o: &Stats) {
        self.comparisons += o.comparisons;
        self.all_pairs += o.all_pairs;
        self.skipped_buckets += o.skipped_buckets;
        self.exact_matches += o.exact_matches;
        self.vetoed += o.vetoed;
        self.possible_twins += o.possible_twins;
    }
}

impl Stats {
    /// `1 - comparisons / all pairs`.
    pub fn reduction_ratio(&self) -> f64 {
        if self.all_pairs == 0 {
            0.0
        } else {
            1.0 - self.comparisons as f64 / self.all_pairs as f64
        }
    }
}

/// Candidate pairs, in solving order, with the best-score histogram.
#[derive(Debug)]
pub struct Candidates {
    /// Pairs at or above the collection threshold, in [`candidate_order`].
    pub pairs: Vec<Candidate>,
    /// Each query record's best score against each other dataset.
    pub best: Histogram,
    /// With duplicates looked for, each query record's best score against the later records of
    /// its own dataset (each pair within one is scored once).
    pub best_within: Histogram,
    /// Counts.
    pub stats: Stats,
    /// The threshold pairs were collected at (a CLK Dice, or with field scoring a match
    /// probability).
    pub collected_at: f64,
    /// The field scoring model, when pairs were scored field by field.
    pub model: Option<Model>,
    /// The comparator, with its value counts, when pairs were scored field by field.
    pub comparator: Option<Comparator>,
    /// Pairs that look like twins, or like relatives of one name: never merged, listed for
    /// review (those at the review threshold or above). One holder's twins who score too low to
    /// be candidates are among them (see [`Comparator::twins_below`]).
    pub twins: Vec<Candidate>,
    /// With field scoring and duplicates looked for, each dataset's share of duplicates as a
    /// multiple of the model's pooled one (see [`crate::partner::reweigh_within`]); else empty.
    pub within_multiples: Vec<f64>,
}

/// Refuse datasets that cannot be linked together.
pub fn check_compatible(datasets: &[Dataset]) -> Result<(), LinkError> {
    let Some(first) = datasets.first() else {
        return Err(LinkError::Input("nothing to link".into()));
    };
    for d in datasets {
        if d.bits() != first.bits() {
            return Err(LinkError::Input(format!(
                "{} has {}-bit CLKs but {} has {}-bit CLKs: they were encoded with different schemas",
                d.source,
                d.bits(),
                first.source,
                first.bits()
            )));
        }
        if let (Some(a), Some(b)) = (&d.fingerprint, &first.fingerprint)
            && a != b
        {
            return Err(LinkError::Input(format!(
                "{} and {} were encoded with different schemas (fingerprints {a} and {b}); every holder must encode with the agreed schema",
                d.source, first.source
            )));
        }
        if let (Some(a), Some(b)) = (&d.key_check, &first.key_check)
            && a != b
        {
            return Err(LinkError::Input(format!(
                "{} and {} were encoded with different secrets (key checks {a} and {b}); their encodings cannot match",
                d.source, first.source
            )));
        }
    }
    for (i, a) in datasets.iter().enumerate() {
        if datasets[..i].iter().any(|b| b.source == a.source) {
            return Err(LinkError::Input(format!(
                "two inputs are both called {:?}; give each party its own name",
                a.source
            )));
        }
    }
    Ok(())
}

/// True when pairs are to be scored field by field: asked for, and every dataset carries the same
/// field-level filters.
pub fn uses_fields(datasets: &[Dataset], opts: &LinkOptions) -> bool {
    opts.fields
        && datasets
            .first()
            .is_some_and(|d| !d.field_specs().is_empty())
        && datasets
            .windows(2)
            .all(|w| w[0].field_specs() == w[1].field_specs())
}

/// Score the pairs blocking allows and collect candidates.
///
/// With CLK scoring, a candidate is a pair whose Dice reaches the threshold (or the review
/// threshold, or [`SUGGEST_FLOOR`] when kith is to suggest one). With field scoring (see
/// [`weigh`]), pairs whose CLK Dice reaches `candidate_floor` are compared field by field: a first
/// pass over a sample of the queries counts their comparison vectors and fits the model, and a
/// second pass keeps the pairs whose match probability reaches the threshold or review threshold
/// (0.5 when kith is to suggest one). Neither pass holds more than one chunk's pairs below that.
pub fn find_candidates(datasets: &[Dataset], opts: &LinkOptions) -> Result<Candidates, LinkError> {
    check_compatible(datasets)?;
    if !uses_fields(datasets, opts) {
        let collect_at = match opts.threshold {
            Some(t) => opts.review.map_or(t, |r| r.min(t)),
            None => opts.review.map_or(SUGGEST_FLOOR, |r| r.min(SUGGEST_FLOOR)),
        };
        let top_k = opts.threshold.is_none().then_some(SUGGEST_TOP_K);
        let scan = Scan {
            floor: CLK_HISTOGRAM_FLOOR,
            collect_at,
            top_k,
            post: None,
            every: 1,
        };
        return scan_pairs(datasets, opts, &scan);
    }
    let cmp = Comparator::new(&datasets[0], &datasets[0])
        .ok_or_else(|| LinkError::Input("the inputs share no field filters".into()))?
        .with_kernel(opts.kernel)
        .with_value_counts(datasets);
    let floor = opts.candidate_floor;
    let model = match &opts.model {
        Some(m) if m.names.as_slice() == cmp.names() => m.clone(),
        Some(m) => {
            return Err(LinkError::Input(format!(
                "the model compares the fields [{}] but these inputs carry [{}]: it was fitted on encodings of another schema",
                m.names.join(", "),
                cmp.names().join(", ")
            )));
        }
        None => fit_model(datasets, opts, &cmp)?,
    };
    // Pass 2: every query, pairs scored by match probability.
    let keep_at = opts.threshold.unwrap_or(FIELD_THRESHOLD);
    let keep_at = opts.review.map_or(keep_at, |r| r.min(keep_at));
    // Pairs below `keep_at` are scored too: the one-partner view (see [`crate::partner`]) may
    // raise a record's modest candidates, and weighs each against the record's others.
    let score_from = keep_at.min(crate::partner::FROM);
    let twins = std::sync::Mutex::new(Vec::new());
    let unsure = std::sync::Mutex::new(Vec::new());
    let rescore = |i: usize, j: usize, found: &mut Vec<Pair>| {
        let (da, db) = (&datasets[i], &datasets[j]);
        let mut g = Vec::new();
        let (mut set_aside, mut unsure_here) = (Vec::new(), Vec::new());
        let mut kept = 0;
        for n in 0..found.len() {
            // The rows come from anywhere in `db`: fetch the filters of a pair a few places on
            // while this one is compared.
            if let Some(q) = found.get(n + PREFETCH_AHEAD) {
                crate::kernel::prefetch(db.field_words(q.b as usize));
            }
            let mut p = found[n];
            let crossed = cmp.gamma(da, p.a as usize, db, p.b as usize, &mut g);
            p.score =
                cmp.probability_from(&model, pair_kind(i, j), &g, da, p.a as usize, score_from);
            let (ra, rb) = (p.a as usize, p.b as usize);
            if p.score < score_from {
                if i == j
                    && cmp.twins_below(&model, &g, crossed, (da, ra), (db, rb), FIELD_THRESHOLD)
                {
                    set_aside.push(cand(p, i as u32, j as u32, false));
                }
                continue;
            }
            let twins = if i == j {
                cmp.twin_verdict(&g, crossed, (da, ra), (db, rb))
            } else if cmp.twin_like_across(&g, crossed, da, ra, db, rb) {
                Twin::Like
            } else {
                Twin::Not
            };
            if twins == Twin::Like || cmp.contradicts(&g, i == j) {
                set_aside.push(cand(p, i as u32, j as u32, false));
                continue;
            }
            if twins == Twin::Unsure {
                // Two exact tokens that differ: two people.
                let apart = opts.exact_veto && exact_conflict(da, ra, db, rb);
                let list = if apart {
                    &mut set_aside
                } else {
                    &mut unsure_here
                };
                list.push(cand(p, i as u32, j as u32, false));
                continue;
            }
            found[kept] = p;
            kept += 1;
        }
        found.truncate(kept);
        for (list, mine) in [(&twins, set_aside), (&unsure, unsure_here)] {
            if !mine.is_empty() {
                list.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend(mine);
            }
        }
    };
    let scan = Scan {
        floor,
        collect_at: floor,
        top_k: Some(SUGGEST_TOP_K),
        post: Some(&rescore),
        every: 1,
    };
    let mut c = scan_pairs(datasets, opts, &scan)?;
    let mut twins: Vec<Candidate> = twins
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    twins.sort_unstable_by(candidate_order);
    let mut unsure: Vec<Candidate> = unsure
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    unsure.sort_unstable_by(candidate_order);
    keep_exact_over_twins(&c.pairs, &mut twins);
    let sizes: Vec<usize> = datasets.iter().map(Dataset::len).collect();
    c.within_multiples = crate::partner::reweigh_within(
        &mut [&mut c.pairs, &mut twins, &mut unsure],
        &[true, false, true],
        &sizes,
        model.prior[weigh::WITHIN],
    );
    split_twins(&mut c.pairs, &mut twins, |x, y| {
        let (dx, dy) = (&datasets[x.ds as usize], &datasets[y.ds as usize]);
        cmp.forename_level(dx, x.row as usize, dy, y.row as usize)
    });
    crate::partner::adjust(
        &mut [&mut c.pairs, &mut twins, &mut unsure],
        &[true, false, true],
        &sizes,
        model.prior[weigh::CROSS],
        opts.dedupe,
    );
    settle_unsure(
        &mut c.pairs,
        &mut twins,
        unsure,
        opts.threshold.unwrap_or(FIELD_THRESHOLD),
    );
    // Pairs below `keep_at` stay, never links nor in the review band: they are what blocking
    // found (see `found_pairs`).
    c.pairs.par_sort_unstable_by(candidate_order);
    // Every pair set aside stays, whatever its score: each vetoes the merge of its groups.
    twins.sort_unstable_by(candidate_order);
    c.collected_at = keep_at;
    c.model = Some(model);
    c.comparator = Some(cmp);
    c.stats.possible_twins = twins.iter().filter(|p| p.score >= keep_at).count() as u64;
    c.twins = twins;
    Ok(c)
}

/// Set aside the pairs that would put two people one holder knows apart in one entity. When a
/// holder has two records set aside as two people (twins, or a parent and child of one name),
/// a record that is a candidate of one of them is on that one's side when its forename is closer
/// to it than the other's is (or, a candidate of both, closer to it than to the other); a pair of
/// records on two sides is two people, however well the rest agrees; a record without a forename
/// that is a candidate of both could be either, and is kept apart from both sides. (Twins Anaya and Aleena,
/// both known to health: another holder's Aleena, with the family's surname, date of birth and
/// address, would otherwise link with a third holder's Anaya, their forenames sharing half their
/// bigrams.) `level(x, y)` is the level at which records `x < y` agree on the forename (`None`
/// when either lacks it); only pairs in `pairs` and `twins` are asked, so the Spark job, which
/// holds no encodings when it solves, can answer from the levels its workers found.
pub(crate) fn split_twins(
    pairs: &mut Vec<Candidate>,
    twins: &mut Vec<Candidate>,
    level: impl Fn(Rec, Rec) -> Option<u8>,
) {
    let known: Vec<(Rec, Rec, Option<u8>)> = twins
        .iter()
        .filter(|c| c.a.ds == c.b.ds)
        .map(|c| (c.a, c.b, level(c.a, c.b)))
        .collect();
    if known.is_empty() {
        return;
    }
    let mut of_twin: FxHashMap<Rec, Vec<usize>> = FxHashMap::default();
    for (k, &(t1, t2, _)) in known.iter().enumerate() {
        of_twin.entry(t1).or_default().push(k);
        of_twin.entry(t2).or_default().push(k);
    }
    // Each pair of twins' neighbours: (record, which twin, its forename's level with that twin).
    let mut near: Vec<Vec<(Rec, usize, Option<u8>)>> = vec![Vec::new(); known.len()];
    for c in pairs.iter() {
        for (x, y) in [(c.a, c.b), (c.b, c.a)] {
            for &k in of_twin.get(&x).map_or(&[][..], Vec::as_slice) {
                let t = usize::from(x == known[k].1);
                near[k].push((y, t, level(c.a, c.b)));
            }
        }
    }
    // (pair of twins, record) -> its side: 0 (the first twin's), 1, or `BETWEEN`, which every
    // record with a side is apart from.
    const BETWEEN: u8 = 2;
    let mut side: FxHashMap<(usize, Rec), u8> = FxHashMap::default();
    for (k, recs) in near.iter_mut().enumerate() {
        let (t1, t2, apart) = known[k];
        side.insert((k, t1), 0);
        side.insert((k, t2), 1);
        recs.sort_unstable_by_key(|&(z, t, _)| (z, t));
        for run in recs.chunk_by(|x, y| x.0 == y.0) {
            let z = run[0].0;
            if z == t1 || z == t2 {
                continue;
            }
            let to = |t: usize| run.iter().find(|r| r.1 == t).map(|r| r.2);
            let s = match (to(0), to(1)) {
                (Some(Some(l1)), Some(Some(l2))) if l1 != l2 => Some(u8::from(l1 < l2)),
                // Without a forename, a candidate of both is either twin: on neither side.
                (Some(None), Some(None)) => Some(BETWEEN),
                (Some(Some(l1)), None) if apart.is_some_and(|l| l1 > l) => Some(0),
                (None, Some(Some(l2))) if apart.is_some_and(|l| l2 > l) => Some(1),
                _ => None,
            };
            if let Some(s) = s {
                side.insert((k, z), s);
            }
        }
    }
    let mut sides_of: FxHashMap<Rec, Vec<(usize, u8)>> = FxHashMap::default();
    for (&(k, r), &s) in &side {
        sides_of.entry(r).or_default().push((k, s));
    }
    let across = |c: &Candidate| {
        let (Some(sa), Some(sb)) = (sides_of.get(&c.a), sides_of.get(&c.b)) else {
            return false;
        };
        sa.iter()
            .any(|&(k, s)| sb.iter().any(|&(k2, s2)| k == k2 && s != s2))
    };
    let before = twins.len();
    pairs.retain(|c| {
        if !c.exact && across(c) {
            twins.push(*c);
            false
        } else {
            true
        }
    });
    if twins.len() > before {
        twins.sort_unstable_by(candidate_order);
    }
}

/// Drop from `twins` the pairs an exact token matched (in `pairs`): twins and relatives do not
/// share an NHS number, and a pair matched exactly is a match whatever its fields say, so the
/// twin rule's or a contradiction's veto does not stand against it.
pub(crate) fn keep_exact_over_twins(pairs: &[Candidate], twins: &mut Vec<Candidate>) {
    if twins.is_empty() {
        return;
    }
    let exact: FxHashSet<(Rec, Rec)> = pairs
        .iter()
        .filter(|c| c.exact)
        .map(|c| (c.a, c.b))
        .collect();
    if !exact.is_empty() {
        twins.retain(|t| !exact.contains(&(t.a, t.b)));
    }
}

/// Settle the pairs of one holder's records that the twin rule is unsure of (every shared field
/// agrees, the forename is missing on one side: [`Twin::Unsure`]). Such a pair at the link
/// threshold `link_at` or above joins the candidates when its two records have the same other
/// partners (candidates at `link_at` or above, or other such pairs): the record without a
/// forename then stands beside one person's records, not between two people's, as it would
/// between twins who each have records of their own. Otherwise, and below `link_at`, it is set
/// aside with the twins and vetoes the merge of its records' groups.
pub(crate) fn settle_unsure(
    pairs: &mut Vec<Candidate>,
    twins: &mut Vec<Candidate>,
    unsure: Vec<Candidate>,
    link_at: f64,
) {
    // A pair an exact token matched is a candidate already.
    let exact: FxHashSet<(Rec, Rec)> = pairs
        .iter()
        .filter(|c| c.exact)
        .map(|c| (c.a, c.b))
        .collect();
    let (high, low): (Vec<Candidate>, Vec<Candidate>) = unsure
        .into_iter()
        .filter(|c| !exact.contains(&(c.a, c.b)))
        .partition(|c| c.score >= link_at);
    twins.extend(low);
    if high.is_empty() {
        return;
    }
    let mut partners: FxHashMap<Rec, Vec<Rec>> = FxHashMap::default();
    for c in &high {
        partners.entry(c.a).or_default();
        partners.entry(c.b).or_default();
    }
    for c in pairs.iter().chain(&high).filter(|c| c.score >= link_at) {
        for (x, y) in [(c.a, c.b), (c.b, c.a)] {
            if let Some(p) = partners.get_mut(&x) {
                p.push(y);
            }
        }
    }
    for p in partners.values_mut() {
        p.sort_unstable();
        p.dedup();
    }
    let others = |x: Rec, but: Rec| partners[&x].iter().copied().filter(move |&z| z != but);
    for c in high {
        if others(c.a, c.b).eq(others(c.b, c.a)) {
            pairs.push(c);
        } else {
            twins.push(c);
        }
    }
}

/// Pass 1 of field scoring: fit the model on the comparison vectors of the CLK candidates of a
/// sample of the queries.
fn fit_model(
    datasets: &[Dataset],
    opts: &LinkOptions,
    cmp: &Comparator,
) -> Result<weigh::Model, LinkError> {
    // The model is fitted on all pairs of a sample of the queries (every `every`-th chunk) whose
    // CLK Dice reaches the floor: mostly unrelated records, with the matches among them, which is
    // what lets EM tell the two apart. (Blocked candidates are dominated by relatives and
    // namesakes, who agree on several fields at once and can pass for a class of matches.)
    let queries = datasets.iter().map(Dataset::len).max().unwrap_or(0);
    let every = queries.div_ceil(FIT_QUERIES).max(1);
    let fit_opts = LinkOptions {
        blocking: Blocking::None,
        ..opts.clone()
    };
    let patterns = std::sync::Mutex::new(FxHashMap::<(usize, u64), u64>::default());
    let count = |i: usize, j: usize, found: &mut Vec<Pair>| {
        let mut local: FxHashMap<(usize, u64), u64> = FxHashMap::default();
        let mut g = Vec::new();
        for p in found.iter() {
            let crossed = cmp.gamma(
                &datasets[i],
                p.a as usize,
                &datasets[j],
                p.b as usize,
                &mut g,
            );
            if !cmp.twin_like(
                &g,
                crossed,
                &datasets[i],
                p.a as usize,
                &datasets[j],
                p.b as usize,
            ) {
                *local.entry((pair_kind(i, j), weigh::pack(&g))).or_default() += 1;
            }
        }
        found.clear();
        let mut all = patterns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (k, c) in local {
            *all.entry(k).or_default() += c;
        }
    };
    let floor = opts.candidate_floor;
    // A higher CLK floor for fitting keeps its cost down. How many unrelated pairs reach it
    // depends on how full the CLKs are: random pairs of the demo schema's have Dice about 0.4,
    // and its fitting sample is then mostly matches and relatives (20,000 pairs at 200,000 people).
    let fit_floor = floor.max(FIT_FLOOR);
    let fit_scan = Scan {
        floor: fit_floor,
        collect_at: fit_floor,
        top_k: None,
        post: Some(&count),
        every,
    };
    scan_pairs(datasets, &fit_opts, &fit_scan)?;
    let patterns: FxHashMap<(usize, Vec<u8>), u64> = patterns
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|((k, g), c)| ((k, weigh::unpack(g, cmp.names().len())), c))
        .collect();
    let mut pairs_of_sets = Vec::new();
    for i in 0..datasets.len() {
        for j in i..datasets.len() {
            if i != j || opts.dedupe {
                pairs_of_sets.push((i, j));
            }
        }
    }
    let (u, random) = weigh::estimate_u(cmp, datasets, &pairs_of_sets);
    // The sampled queries' pairs of each kind: a share 1/every of all.
    let mut all = [0u64; 2];
    for &(i, j) in &pairs_of_sets {
        let (a, b) = (datasets[i].len() as u64, datasets[j].len() as u64);
        all[pair_kind(i, j)] += if i == j {
            a * a.saturating_sub(1) / 2
        } else {
            a * b
        };
    }
    let sampled_all = all.map(|x| x / every as u64);
    // EM starts from about one match per sampled query across sources, and one duplicate per
    // hundred within a source: far from the split by shared surname it could otherwise settle on.
    let mut sampled_queries = [0f64; 2];
    for &(i, j) in &pairs_of_sets {
        let n = datasets[i].len().min(datasets[j].len()) as f64 / every as f64;
        sampled_queries[pair_kind(i, j)] += if i == j { 0.01 * n } else { n };
    }
    let mut fitted = [0f64; 2];
    for ((k, _), c) in &patterns {
        fitted[*k] += *c as f64;
    }
    let start = [0, 1].map(|k| (sampled_queries[k] / fitted[k].max(1.0)).clamp(1e-6, 0.5));
    Ok(weigh::fit(
        cmp.names(),
        &patterns,
        u,
        random,
        sampled_all,
        start,
    ))
}

/// The model's kind of a pair of datasets `i` and `j`: within one source or across two.
fn pair_kind(i: usize, j: usize) -> usize {
    if i == j { weigh::WITHIN } else { weigh::CROSS }
}

/// How many pairs ahead field filters are prefetched.
const PREFETCH_AHEAD: usize = 8;

/// Queries per dataset the field scoring model is fitted on, about (every `n`-th chunk).
const FIT_QUERIES: usize = 2_000;
/// The CLK Dice from which pairs of the fitting sample are compared field by field.
pub(crate) const FIT_FLOOR: f64 = 0.5;

/// What to do with one chunk's pairs between datasets `i` and `j`, before they are kept.
type Post<'p> = &'p (dyn Fn(usize, usize, &mut Vec<Pair>) + Sync);

/// One scan of [`find_candidates`] over the pairs blocking allows.
struct Scan<'p> {
    /// Best scores from this CLK Dice up make the best-score histogram.
    floor: f64,
    /// Pairs from this CLK Dice up are collected.
    collect_at: f64,
    /// At most this many candidates per query.
    top_k: Option<usize>,
    /// What each chunk's pairs go through before they are kept.
    post: Option<Post<'p>>,
    /// Only every `every`-th chunk of queries is scanned (the fitting sample).
    every: usize,
}

/// The scan behind [`find_candidates`]: pairs whose CLK Dice reaches `scan.collect_at`, each
/// chunk's passed through `scan.post` and capped at `scan.top_k` per query, merged with
/// exact-token pairs.
fn scan_pairs(
    datasets: &[Dataset],
    opts: &LinkOptions,
    scan: &Scan<'_>,
) -> Result<Candidates, LinkError> {
    let Scan {
        floor,
        collect_at,
        top_k,
        post,
        every,
    } = *scan;
    let bits = datasets[0].bits();
    let keep = Scorer::new(collect_at, bits);
    let floor = Scorer::new(floor.min(collect_at), bits);
    let mut stats = Stats::default();
    let mut best = Histogram::default();
    let mut best_within = Histogram::default();
    let mut pairs: Vec<Candidate> = Vec::new();
    // Each dataset's index is built once, however many datasets are compared with it. The first
    // is only ever the query side, unless duplicates are looked for within it.
    let indexes: Vec<Option<Index>> = datasets
        .iter()
        .enumerate()
        .map(|(j, d)| {
            (opts.blocking != Blocking::None && (j > 0 || opts.dedupe))
                .then(|| Index::new(d, opts.blocking, opts.max_bucket))
        })
        .collect();
    for i in 0..datasets.len() {
        let first_j = if opts.dedupe { i } else { i + 1 };
        for j in first_j..datasets.len() {
            let (a, b) = (&datasets[i], &datasets[j]);
            let same = i == j;
            stats.all_pairs += if same {
                (a.len() as u64 * a.len().saturating_sub(1) as u64) / 2
            } else {
                a.len() as u64 * b.len() as u64
            };
            // Each chunk's pairs go through `post`, then keep their query's best `top_k`: a
            // query's pairs all come from its own chunk, so capping there gives what capping the
            // whole scan would, without ever holding more than `top_k` pairs per query.
            let chunk_post = |v: &mut Vec<Pair>| {
                if let Some(f) = post {
                    f(i, j, v);
                }
                if let Some(k) = top_k {
                    *v = cap_per_query(std::mem::take(v), k);
                }
            };
            let post_ij = (post.is_some() || top_k.is_some())
                .then_some(&chunk_post as &(dyn Fn(&mut Vec<Pair>) + Sync));
            let mut k = Keep::new(&keep, &floor);
            if indexes[j].is_none() && floor.threshold() < keep.threshold() {
                // Scanning all pairs at a threshold above the histogram's floor: the floor is
                // applied to a sample of the queries only, so that the scan can drop most pairs
                // after a quarter of each CLK (see `kernel`).
                k.floor_every = (a.len() / HISTOGRAM_SAMPLE).clamp(1, 64) as u32;
                let hist = if same { &mut best_within } else { &mut best };
                hist.sampled |= k.floor_every > 1;
            }
            let pair_scan = PairScan {
                a,
                b,
                same,
                kernel: opts.kernel,
                keep: &k,
                post: post_ij,
                every,
            };
            let found = match &indexes[j] {
                None => pair_scan.all_pairs(),
                Some(index) => pair_scan.blocked(index),
            };
            stats.comparisons += found.comparisons;
            stats.skipped_buckets += found.skipped_buckets;
            let hist = if same { &mut best_within } else { &mut best };
            hist.add_bests(&found.best, floor.threshold());
            let exact = if every == 1 {
                exact_pairs(a, b, same, opts.max_bucket)
            } else {
                Vec::new()
            };
            stats.exact_matches += exact.len() as u64;
            let mut vetoed = 0;
            let (di, dj) = (i as u32, j as u32);
            let mut merged: FxHashMap<(u32, u32), Candidate> = FxHashMap::with_capacity_and_hasher(
                found.pairs.len() + exact.len(),
                Default::default(),
            );
            for p in found.pairs {
                if opts.exact_veto && exact_conflict(a, p.a as usize, b, p.b as usize) {
                    vetoed += 1;
                    continue;
                }
                merged.insert((p.a, p.b), cand(p, di, dj, false));
            }
            for (x, y) in exact {
                let p = Pair {
                    score: 1.0,
                    a: x,
                    b: y,
                };
                merged.insert((x, y), cand(p, di, dj, true));
            }
            stats.vetoed += vetoed;
            pairs.extend(merged.into_values());
        }
    }
    pairs.par_sort_unstable_by(candidate_order);
    Ok(Candidates {
        pairs,
        best,
        best_within,
        stats,
        collected_at: collect_at,
        model: None,
        comparator: None,
        twins: Vec::new(),
        within_multiples: Vec::new(),
    })
}

fn cand(p: Pair, di: u32, dj: u32, exact: bool) -> Candidate {
    Candidate {
        score: p.score,
        shown: Candidate::SCORE,
        a: Rec { ds: di, row: p.a },
        b: Rec { ds: dj, row: p.b },
        exact,
    }
}

/// Keep each query's `k` best candidates.
fn cap_per_query(mut found: Vec<Pair>, k: usize) -> Vec<Pair> {
    found.sort_unstable_by(|x, y| {
        x.a.cmp(&y.a)
            .then(y.score.total_cmp(&x.score))
            .then(x.b.cmp(&y.b))
    });
    let mut out = Vec::with_capacity(found.len());
    let mut run = 0;
    for (n, p) in found.iter().enumerate() {
        run = if n > 0 && found[n - 1].a == p.a {
            run + 1
        } else {
            0
        };
        if run < k {
            out.push(*p);
        }
    }
    out
}

/// Queries per parallel task.
const CHUNK: usize = 256;

/// Records, about, whose best score makes the histogram when an all-pairs scan at a high
/// threshold applies the histogram's floor to a sample of the queries only.
const HISTOGRAM_SAMPLE: usize = 1_000;

/// What a scan of one pair of datasets (or of one chunk of its queries) found.
#[derive(Debug, Default)]
struct Found {
    /// The pairs kept.
    pairs: Vec<Pair>,
    /// Each scanned query's best score, in query order.
    best: Vec<f64>,
    comparisons: u64,
    /// Blocking buckets passed over as too large.
    skipped_buckets: u64,
}

impl Found {
    /// The chunks' findings, in chunk order.
    fn join(parts: Vec<Found>) -> Found {
        let mut all = Found {
            pairs: Vec::with_capacity(parts.iter().map(|p| p.pairs.len()).sum()),
            ..Found::default()
        };
        for p in parts {
            all.pairs.extend(p.pairs);
            all.best.extend(p.best);
            all.comparisons += p.comparisons;
            all.skipped_buckets += p.skipped_buckets;
        }
        all
    }
}

type ChunkPost<'p> = Option<&'p (dyn Fn(&mut Vec<Pair>) + Sync)>;

/// The scan of the queries of `a` against `b`, chunk by chunk in parallel.
struct PairScan<'s> {
    a: &'s Dataset,
    b: &'s Dataset,
    /// `a` and `b` are the same dataset: each pair once.
    same: bool,
    kernel: Kernel,
    keep: &'s Keep<'s>,
    /// What each chunk's pairs go through before they are kept.
    post: ChunkPost<'s>,
    /// Only every `every`-th chunk of queries is scanned.
    every: usize,
}

impl PairScan<'_> {
    /// Every pair, in tiles of `b` laid out for the kernel.
    fn all_pairs(&self) -> Found {
        let (a, k) = (self.a, self.keep);
        let va = a.view();
        let lanes = Interleaved::new(self.b.view().blocks(), self.b.view().per());
        let parts: Vec<Found> = (0..a.len().div_ceil(CHUNK))
            .into_par_iter()
            .filter(|c| c % self.every == 0)
            .map_init(Vec::new, |scratch, c| {
                let r = c * CHUNK..((c + 1) * CHUNK).min(a.len());
                let mut best = vec![0.0; r.len()];
                let first = r.start as u32;
                scratch.clear();
                let tile = Tile {
                    a: va.slice(r),
                    a_first: first,
                    b: &lanes,
                    b_first: 0,
                    triangle: self.same,
                };
                let comparisons = score_block(self.kernel, &tile, k, &mut best, scratch);
                if k.floor_every > 1 {
                    // Only the sampled queries' best scores are what the histogram counts.
                    let rows = first..first + best.len() as u32;
                    best = rows
                        .zip(best)
                        .filter(|&(row, _)| row.is_multiple_of(k.floor_every))
                        .map(|(_, b)| b)
                        .collect();
                }
                Found {
                    pairs: keep_chunk(scratch, self.post),
                    best,
                    comparisons,
                    skipped_buckets: 0,
                }
            })
            .collect();
        Found::join(parts)
    }

    /// The pairs `index` (of `b`) lists for each query.
    fn blocked(&self, index: &Index) -> Found {
        let (a, b) = (self.a, self.b);
        let vb: View<'_> = b.view();
        let parts: Vec<Found> = (0..a.len().div_ceil(CHUNK))
            .into_par_iter()
            .filter(|c| c % self.every == 0)
            .map_init(
                || {
                    (
                        vec![0u32; b.len()],
                        QueryKeys::default(),
                        Vec::new(),
                        Buffers::default(),
                        0u32,
                        Vec::new(),
                    )
                },
                |(stamp, q, rows, buf, mark, out), c| {
                    let r = c * CHUNK..((c + 1) * CHUNK).min(a.len());
                    let mut best = vec![0.0; r.len()];
                    out.clear();
                    let (mut comparisons, mut skipped_buckets) = (0u64, 0u64);
                    for (slot, i) in best.iter_mut().zip(r) {
                        *mark = mark.wrapping_add(1);
                        if *mark == 0 {
                            stamp.fill(0);
                            *mark = 1;
                        }
                        index.query_keys(a, i, q);
                        rows.clear();
                        skipped_buckets += index.candidates(q, stamp, *mark, rows);
                        if self.same {
                            rows.retain(|&r| r as usize > i);
                        }
                        rows.sort_unstable();
                        comparisons += rows.len() as u64;
                        let query = Query {
                            clk: a.clk(i),
                            pop: a.popcounts()[i],
                            row: i as u32,
                        };
                        let listed = Listed {
                            b: vb,
                            b_first: 0,
                            rows,
                        };
                        score_candidates(self.kernel, query, listed, self.keep, slot, buf, out);
                    }
                    Found {
                        pairs: keep_chunk(out, self.post),
                        best,
                        comparisons,
                        skipped_buckets,
                    }
                },
            )
            .collect();
        Found::join(parts)
    }
}

/// What a chunk keeps, in a vector of its own: the scratch vector (which can grow large) stays
/// with the thread, so that large short-lived buffers and small long-lived ones do not interleave
/// on the heap (which fragments it: resident memory grew by the whole scan's scratch before).
fn keep_chunk(scratch: &mut Vec<Pair>, post: ChunkPost<'_>) -> Vec<Pair> {
    if let Some(f) = post {
        f(scratch);
    }
    let kept = scratch.as_slice().to_vec();
    scratch.clear();
    kept
}

/// Pairs that share a token for any exact identifier both datasets carry.
fn exact_pairs(a: &Dataset, b: &Dataset, same: bool, max_bucket: usize) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for (ea, name) in a.exact_names().iter().enumerate() {
        let Some(eb) = b.exact_names().iter().position(|n| n == name) else {
            continue;
        };
        let mut by_token: FxHashMap<&kith_core::Token, Vec<u32>> = FxHashMap::default();
        for r in 0..b.len() {
            if let Some(t) = b.exact(r, eb) {
                by_token.entry(t).or_default().push(r as u32);
            }
        }
        for r in 0..a.len() {
            let Some(t) = a.exact(r, ea) else { continue };
            let Some(rows) = by_token.get(t) else {
                continue;
            };
            if rows.len() > max_bucket {
                continue;
            }
            out.extend(
                rows.iter()
                    .filter(|&&s| !same || s as usize > r)
                    .map(|&s| (r as u32, s)),
            );
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// True when the two records carry different tokens for one exact identifier.
pub(crate) fn exact_conflict(a: &Dataset, ra: usize, b: &Dataset, rb: usize) -> bool {
    a.exact_names().iter().enumerate().any(|(ea, name)| {
        b.exact_names()
            .iter()
            .position(|n| n == name)
            .is_some_and(|eb| match (a.exact(ra, ea), b.exact(rb, eb)) {
                (Some(x), Some(y)) => x != y,
                _ => false,
            })
    })
}

/// The result of solving.
#[derive(Debug)]
pub struct Linkage {
    /// The threshold used.
    pub threshold: f64,
    /// Matched pairs: candidates at or above the threshold whose records ended in one entity.
    pub links: Vec<Candidate>,
    /// Candidates in the review band `[review, threshold)`, the possible twins from `review` up,
    /// and the candidates at or above the threshold that the solver did not link.
    pub review: Vec<Candidate>,
    /// Every record's entity id, per dataset (written as 16 hexadecimal digits).
    pub entity: Vec<Vec<u64>>,
    /// Entities of two or more records.
    pub groups: usize,
}

/// An entity's id: a hash of its members' (source, record name) pairs, sorted (this sorts them).
/// The same members always give the same id, and an id depends on nothing outside its entity.
pub fn entity_id(names: &mut [(String, String)]) -> u64 {
    names.sort();
    let mut h = Sha256::new();
    for (s, t) in names.iter() {
        h.update(s.as_bytes());
        h.update([0x1f]);
        h.update(t.as_bytes());
        h.update([0x1e]);
    }
    let mut w = [0u8; 8];
    w.copy_from_slice(&h.finalize()[..8]);
    u64::from_be_bytes(w)
}

/// Solve at `threshold` (pairs within one dataset at `within`) and name the entities.
pub fn solve<D: crate::output::Named>(
    datasets: &[D],
    candidates: &Candidates,
    (threshold, within): (f64, f64),
    review: Option<f64>,
    dedupe: bool,
    join: crate::solve::Join,
) -> Linkage {
    let cut = |c: &Candidate| if c.a.ds == c.b.ds { within } else { threshold };
    // Sized once (collecting from a filter would grow by doubling).
    let mut above: Vec<Candidate> = Vec::with_capacity(
        candidates
            .pairs
            .iter()
            .filter(|c| c.score >= cut(c))
            .count(),
    );
    above.extend(candidates.pairs.iter().filter(|c| c.score >= cut(c)));
    let mut offsets = vec![0usize];
    for d in datasets {
        offsets.push(offsets.last().copied().unwrap_or(0) + d.records());
    }
    let groups = greedy_solve(&above, &candidates.twins, &offsets, !dedupe, join);
    // Each record's group by its place among all records (`usize::MAX` for none); the links are
    // the pairs above the threshold within one group, kept in place (at the peak of a national
    // run's memory, beside every candidate).
    let at = |r: Rec| offsets[r.ds as usize] + r.row as usize;
    let mut group_of = vec![usize::MAX; offsets.last().copied().unwrap_or(0)];
    for (g, members) in groups.iter().enumerate() {
        for &r in members {
            group_of[at(r)] = g;
        }
    }
    let linked =
        |c: &Candidate| group_of[at(c.a)] != usize::MAX && group_of[at(c.a)] == group_of[at(c.b)];
    // The review band (by the probability written out), the possible twins at or above its floor
    // whatever their score, and the pairs at or above the threshold that the solver did not link
    // (their records' groups did not join: a reviewer's first question).
    let review = match review {
        Some(r) => candidates
            .pairs
            .iter()
            .filter(|c| c.shown() >= r && c.score < cut(c))
            .chain(candidates.twins.iter().filter(|c| c.shown() >= r))
            .chain(above.iter().filter(|c| !linked(c)))
            .copied()
            .collect(),
        None => Vec::new(),
    };
    let mut links = above;
    links.retain(linked);
    links.shrink_to_fit();
    // Entity ids: a hash of the sorted member names, so that the same inputs give the same ids
    // and an entity's id does not depend on anything outside it.
    let name_of = |members: &[Rec]| {
        let mut names: Vec<(String, String)> = members
            .iter()
            .map(|r| {
                let d = &datasets[r.ds as usize];
                (d.source_name().to_owned(), d.record_name(r.row as usize))
            })
            .collect();
        entity_id(&mut names)
    };
    // Every record starts as its own entity; then the groups.
    let mut entity: Vec<Vec<u64>> = datasets
        .iter()
        .enumerate()
        .map(|(ds, d)| {
            (0..d.records())
                .into_par_iter()
                .map(|row| {
                    name_of(&[Rec {
                        ds: ds as u32,
                        row: row as u32,
                    }])
                })
                .collect()
        })
        .collect();
    for members in &groups {
        let id = name_of(members);
        for r in members {
            entity[r.ds as usize][r.row as usize] = id;
        }
    }
    Linkage {
        threshold,
        links,
        review,
        entity,
        groups: groups.len(),
    }
}

/// A field whose commonest value more than this share of records hold (a year of birth, sex) is
/// not used to find the pairs [`estimated_completeness`] compares.
const ESTIMATE_COMMONEST: f64 = 0.01;
/// A value more than this share of a dataset's records hold (the commonest forename) is not
/// looked up for one sampled record; its other fields still are.
const ESTIMATE_BUCKET: f64 = 0.02;

/// What a sampled check of blocking counted: the pairs all-pairs scoring would link, how many of
/// them blocking found, and those it missed (sorted), which tell whether a wider blocking could
/// find them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampled {
    /// Pairs all-pairs scoring would link that blocking found.
    pub found: u64,
    /// Pairs all-pairs scoring would link.
    pub all: u64,
    /// Those blocking missed.
    pub missed: Vec<(Rec, Rec)>,
}

impl Sampled {
    /// Count one pair all-pairs scoring would link, found when `have` holds it: row `x.1` of
    /// dataset `x.0` and row `y.1` of dataset `y.0`.
    fn count(&mut self, have: &FxHashSet<(Rec, Rec)>, x: (usize, usize), y: (usize, usize)) {
        let rec = |(ds, row): (usize, usize)| Rec {
            ds: ds as u32,
            row: row as u32,
        };
        let (x, y) = (rec(x), rec(y));
        let key = if (x.ds, x.row) <= (y.ds, y.row) {
            (x, y)
        } else {
            (y, x)
        };
        self.all += 1;
        if have.contains(&key) {
            self.found += 1;
        } else {
            self.missed.push(key);
        }
    }

    fn add(mut self, other: Sampled) -> Sampled {
        self.found += other.found;
        self.all += other.all;
        self.missed.extend(other.missed);
        self
    }

    fn sorted(mut self) -> Sampled {
        self.missed
            .sort_unstable_by_key(|&(x, y)| (x.ds, x.row, y.ds, y.row));
        self
    }
}

/// Pairs completeness of blocking estimated on a sample, at a small cost, with field scoring:
/// up to `sample` evenly spaced records of each dataset are compared with every record of each
/// later dataset (and, with duplicates looked for, of their own) that shares an exact value with
/// them in some field (a forename, a surname, a day and month of birth, a postcode: any field
/// whose commonest value under 1% of records hold), and the pairs the run's scoring links at
/// `threshold` are looked up among the candidates. A matching pair that shares no exact value
/// in any such field cannot be found this way, but it would hardly score as a match either.
/// `None` without field scoring.
pub fn estimated_completeness(
    datasets: &[Dataset],
    candidates: &Candidates,
    threshold: f64,
    sample: usize,
    opts: &LinkOptions,
) -> Option<Sampled> {
    let (model, cmp) = (candidates.model.as_ref()?, candidates.comparator.as_ref()?);
    let slots: Vec<usize> = (0..cmp.len())
        .filter(|&s| cmp.commonest_share(s) < ESTIMATE_COMMONEST)
        .collect();
    // Per dataset and used field: (value hash folded to 32 bits, row), sorted. A folded hash that
    // two values share only adds a comparison.
    let fold = |h: u64| (h ^ (h >> 32)) as u32;
    let index: Vec<Vec<Vec<(u32, u32)>>> = datasets
        .iter()
        .map(|d| {
            slots
                .par_iter()
                .map(|&s| {
                    let mut v: Vec<(u32, u32)> = (0..d.len())
                        .filter_map(|r| cmp.value_of(s, d, r).map(|h| (fold(h), r as u32)))
                        .collect();
                    v.sort_unstable();
                    v
                })
                .collect()
        })
        .collect();
    let have = found_pairs(candidates);
    let mut total = Sampled::default();
    for (i, a) in datasets.iter().enumerate() {
        let rows = sampled_rows(a.len(), sample);
        if rows.is_empty() {
            continue;
        }
        let first = if opts.dedupe { i } else { i + 1 };
        for (j, b) in datasets.iter().enumerate().skip(first) {
            let bucket = (ESTIMATE_BUCKET * b.len() as f64).max(1.0) as usize;
            let kind = if i == j { weigh::WITHIN } else { weigh::CROSS };
            let here = rows
                .par_iter()
                .map(|&r| {
                    let mut near: Vec<u32> = Vec::new();
                    for (k, &s) in slots.iter().enumerate() {
                        let Some(h) = cmp.value_of(s, a, r).map(fold) else {
                            continue;
                        };
                        let ix = &index[j][k];
                        let lo = ix.partition_point(|&(x, _)| x < h);
                        let hi = ix.partition_point(|&(x, _)| x <= h);
                        if hi - lo <= bucket {
                            near.extend(ix[lo..hi].iter().map(|&(_, q)| q));
                        }
                    }
                    near.sort_unstable();
                    near.dedup();
                    if i == j {
                        near.retain(|&q| q as usize != r);
                    }
                    let mut counts = vec![0u32; near.len()];
                    let (va, vb) = (a.view(), b.view());
                    opts.kernel
                        .and_counts_at(va.clk(r), vb.blocks(), vb.per(), &near, &mut counts);
                    let mut g = Vec::new();
                    let mut here = Sampled::default();
                    for (&q, &count) in near.iter().zip(&counts) {
                        let q = q as usize;
                        if crate::compare::dice(count, va.pop(r) + vb.pop(q)) < opts.candidate_floor
                            || (opts.exact_veto && exact_conflict(a, r, b, q))
                        {
                            continue;
                        }
                        let crossed = cmp.gamma(a, r, b, q, &mut g);
                        if cmp.probability_from(model, kind, &g, a, r, threshold) < threshold
                            || cmp.contradicts(&g, i == j)
                            || if i == j {
                                cmp.twin_like(&g, crossed, a, r, b, q)
                            } else {
                                cmp.twin_like_across(&g, crossed, a, r, b, q)
                            }
                        {
                            continue;
                        }
                        here.count(&have, (i, r), (j, q));
                    }
                    here
                })
                .reduce(Sampled::default, Sampled::add);
            total = total.add(here);
        }
    }
    Some(total.sorted())
}

/// The pairs blocking found, whatever their final score: candidates (whose probability the
/// one-partner view may have lowered) and pairs set aside as possible twins.
fn found_pairs(candidates: &Candidates) -> FxHashSet<(Rec, Rec)> {
    candidates
        .pairs
        .iter()
        .chain(&candidates.twins)
        .map(|c| (c.a, c.b))
        .collect()
}

/// Pairs completeness of blocking, measured on a sample: up to `sample` evenly spaced records of
/// each dataset are compared with every record of each later dataset, and the pairs all-pairs
/// scoring would link are looked up among the candidates. Returns what it counted.
///
/// Those are the pairs at or above `threshold` that are each other's best partner (solving links
/// little else), by CLK Dice with CLK scoring, by match probability with field scoring. Near a
/// threshold that sits just above the strangers' scores, most pairs at or above it are a record
/// with no partner and its likeliest stranger, which blocking rightly passes over and solving
/// would rarely link; at national scale, most pairs the field model would link alone are
/// namesakes beside each one's own partner (one-to-one solving links the partner). Counting them
/// would widen blocking to find pairs that are not wanted.
pub fn pairs_completeness(
    datasets: &[Dataset],
    candidates: &Candidates,
    threshold: f64,
    sample: usize,
    opts: &LinkOptions,
) -> Sampled {
    let have = found_pairs(candidates);
    let field = candidates
        .model
        .as_ref()
        .zip(candidates.comparator.as_ref());
    let mut total = Sampled::default();
    for (i, a) in datasets.iter().enumerate() {
        let rows = sampled_rows(a.len(), sample);
        if rows.is_empty() {
            continue;
        }
        for (j, b) in datasets.iter().enumerate().skip(i + 1) {
            // A pair's score, for row `x` of `a` and row `y` of `b`; `None` under the threshold.
            // With field scoring, pairs from the CLK floor on are compared, as scoring does.
            let score = |x: usize, y: usize, dice: f64, g: &mut Vec<u8>| match field {
                None => Some(dice),
                Some((model, cmp)) => {
                    cmp.gamma(a, x, b, y, g);
                    let p = cmp.probability_from(model, weigh::CROSS, g, a, x, threshold);
                    (p >= threshold).then_some(p)
                }
            };
            let floor = if field.is_some() {
                opts.candidate_floor
            } else {
                threshold
            };
            let forth = best_partners(a, &rows, b, floor, opts, |p, g| {
                score(p.a as usize, p.b as usize, p.score, g)
            });
            let mut partners: Vec<usize> =
                forth.iter().flatten().map(|&(_, q)| q as usize).collect();
            partners.sort_unstable();
            partners.dedup();
            let back = best_partners(b, &partners, a, floor, opts, |p, g| {
                score(p.b as usize, p.a as usize, p.score, g)
            });
            let back_of = |q: usize| partners.binary_search(&q).ok().and_then(|k| back[k]);
            for (&r, best) in rows.iter().zip(&forth) {
                let Some((_, q)) = *best else { continue };
                if back_of(q as usize).map(|(_, p)| p as usize) != Some(r) {
                    continue;
                }
                total.count(&have, (i, r), (j, q as usize));
            }
        }
    }
    total.sorted()
}

/// For each of `rows` of `a`: its best partner in `b` by `score` (the lower row among equal
/// scores; `score` sees each pair whose CLK Dice reaches `floor`, and says `None` for a pair it
/// does not count), comparing with every record of `b`; pairs whose exact tokens conflict are
/// passed over.
fn best_partners(
    a: &Dataset,
    rows: &[usize],
    b: &Dataset,
    floor: f64,
    opts: &LinkOptions,
    score: impl Fn(&Pair, &mut Vec<u8>) -> Option<f64> + Sync,
) -> Vec<Option<(f64, u32)>> {
    let keep = Scorer::new(floor, a.bits());
    let k = Keep::new(&keep, &keep);
    let better = |x: Option<(f64, u32)>, y: Option<(f64, u32)>| match (x, y) {
        (Some(p), Some(q)) => Some(if q.0 > p.0 || (q.0 == p.0 && q.1 < p.1) {
            q
        } else {
            p
        }),
        (p, None) => p,
        (None, q) => q,
    };
    let tiles = sample_pairs(a, rows, b, &k, opts, |out| {
        let mut g = Vec::new();
        out.iter()
            .fold(None, |m, p| better(m, score(p, &mut g).map(|s| (s, p.b))))
    });
    tiles
        .into_iter()
        .fold(vec![None; rows.len()], |mut best, tile| {
            for (m, h) in best.iter_mut().zip(tile) {
                *m = better(*m, h);
            }
            best
        })
}

/// For each of `rows` of `a`, its pairs with every record of `b` that `keep` keeps (pairs whose
/// exact tokens conflict left out), through `each`: one result per row for each tile of `b`,
/// which is laid out for the scan once and shared by every row (the layout is a copy, which the
/// whole of a national extract would not fit beside).
fn sample_pairs<T: Send>(
    a: &Dataset,
    rows: &[usize],
    b: &Dataset,
    keep: &Keep<'_>,
    opts: &LinkOptions,
    each: impl Fn(Vec<Pair>) -> T + Sync,
) -> Vec<Vec<T>> {
    (0..b.len())
        .step_by(COMPLETENESS_TILE)
        .map(|tile| {
            let part = b
                .view()
                .slice(tile..(tile + COMPLETENESS_TILE).min(b.len()));
            let lanes = Interleaved::new(part.blocks(), part.per());
            rows.par_iter()
                .map(|&r| {
                    let mut top = [0.0];
                    let mut out = Vec::new();
                    let t = Tile {
                        a: a.view().slice(r..r + 1),
                        a_first: r as u32,
                        b: &lanes,
                        b_first: tile as u32,
                        triangle: false,
                    };
                    score_block(opts.kernel, &t, keep, &mut top, &mut out);
                    out.retain(|p| !(opts.exact_veto && exact_conflict(a, r, b, p.b as usize)));
                    each(out)
                })
                .collect()
        })
        .collect()
}

/// Up to `sample` evenly spaced rows of `len`, the completeness checks' sample of a dataset.
fn sampled_rows(len: usize, sample: usize) -> Vec<usize> {
    if sample == 0 {
        return Vec::new();
    }
    (0..len)
        .step_by((len / sample).max(1))
        .take(sample)
        .collect()
}

/// Records of the other dataset laid out at a time by [`pairs_completeness`].
const COMPLETENESS_TILE: usize = 1 << 16;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solve::tests::c;

    /// `n` records of `source`, named after it and their row.
    fn names(source: &str, n: usize) -> crate::output::Names {
        crate::output::Names {
            source: source.into(),
            names: (0..n).map(|i| format!("{source}{i}")).collect(),
        }
    }

    /// A dataset of 64-bit CLKs, each with the bits of its (start, end) ranges set.
    fn clk_dataset(source: &str, clks: &[&[(u32, u32)]]) -> Dataset {
        let mut d = Dataset::new(source, 64, false, Vec::new(), Vec::new());
        for ranges in clks {
            let word = ranges
                .iter()
                .flat_map(|&(start, end)| start..end)
                .fold(0u64, |w, b| w | 1 << (63 - b));
            d.push(None, &word.to_be_bytes(), &[], &[])
                .expect("8 bytes");
        }
        d
    }

    /// With CLK scoring the pairs completeness counts the pairs that are each other's best at
    /// the threshold or above: a second record near a sure pair (its best is taken) is not a
    /// pair blocking should have found.
    #[test]
    fn clk_pairs_completeness_counts_each_others_best() {
        let a = clk_dataset("a", &[&[(0, 20)], &[(30, 50)]]);
        let b = clk_dataset(
            "b",
            &[
                &[(0, 20)],            // a0's image: Dice 1
                &[(30, 46), (52, 56)], // a1's best (Dice 0.8), and a1 is its best
                &[(0, 14), (58, 62)],  // near a0 (Dice 0.74), but a0's best is b0
            ],
        );
        // Blocking found a0–b0 only.
        let found = candidates_of(vec![c(1.0, (0, 0), (1, 0))]);
        let opts = LinkOptions::default();
        let s = pairs_completeness(&[a, b], &found, 0.5, 10, &opts);
        assert_eq!(
            (s.found, s.all),
            (1, 2),
            "a0–b0 found, a1–b1 missed, b2 not counted"
        );
        let rec = |ds, row| Rec { ds, row };
        assert_eq!(s.missed, vec![(rec(0, 1), rec(1, 1))]);
    }

    /// With field scoring too the reference is the pairs that are each other's best from the
    /// threshold up: a namesake the model would link alone (one field differs), beside a record
    /// whose partner agrees on every field, is not a pair blocking should have found.
    #[test]
    fn field_pairs_completeness_counts_each_others_best() {
        let people = |source: &str, records: &[[u64; 4]]| {
            fields_dataset(
                source,
                [
                    ("first", "first"),
                    ("last", "last"),
                    ("dob", "dob"),
                    ("sex", "sex"),
                ],
                records,
            )
        };
        let a = people(
            "a",
            &[
                [0xf, 0xf0, 0xf00, 0xf000],
                [0xf << 20, 0xf << 24, 0xf << 28, 0xf << 32],
            ],
        );
        let b = people(
            "b",
            &[
                [0xf, 0xf0, 0xf00, 0xf000],                   // a0's partner
                [0xf, 0xf0, 0xf << 40, 0xf000],               // a0's namesake
                [0xf << 20, 0xf << 24, 0xf << 28, 0xf << 32], // a1's partner
            ],
        );
        let cmp = Comparator::new(&a, &b).expect("shared fields");
        // Agreeing on a field weighs log2(0.95/0.02) = 5.6 bits, differing -6.5; even odds from
        // 6.6: a0–b1 (three agree, one differs) is a link alone, at 0.92.
        let nf = cmp.names().len();
        let model = Model::from_parts(
            cmp.names().to_vec(),
            vec![[0.01, 0.01, 0.01, 0.01, 0.01, 0.95]; nf],
            vec![[0.9, 0.02, 0.02, 0.02, 0.02, 0.02]; nf],
            [0.01, 0.01],
            [0.0, 0.0],
            [0, 0],
            0,
            0,
        );
        let mut g = Vec::new();
        cmp.gamma(&a, 0, &b, 1, &mut g);
        assert!(
            model.probability(weigh::CROSS, &g) > 0.9,
            "a0–b1 links alone"
        );
        // Blocking found a0–b0 only.
        let mut found = candidates_of(vec![c(1.0, (0, 0), (1, 0))]);
        found.model = Some(model);
        found.comparator = Some(cmp);
        let s = pairs_completeness(&[a, b], &found, 0.5, 10, &LinkOptions::default());
        assert_eq!(
            (s.found, s.all),
            (1, 2),
            "a0–b0 found, a1–b2 missed, the namesake a0–b1 not counted"
        );
        let rec = |ds, row| Rec { ds, row };
        assert_eq!(s.missed, vec![(rec(0, 1), rec(1, 2))]);
    }

    /// Twins Anaya and Aleena, both known to health: council's Anaya and police's Aleena agree on
    /// the family's surname and date of birth and their forenames share half their bits, but each
    /// is nearer one twin, so their pair is set aside; each twin's own pairs stay.
    #[test]
    fn a_pair_across_the_sides_of_known_twins_is_set_aside() {
        let (anaya, aleena, smith, dob) = (0xffffu64, 0x00ff_ff00u64, 0xf0f0 << 32, 0x1111u64);
        let people = |source: &str, records: &[[u64; 3]]| {
            let mut d = fields_dataset(
                source,
                [("first", "first"), ("last", "last"), ("dob", "dob")],
                records,
            );
            d.twins = Some(kith_core::encodings::TwinNames {
                differ: vec!["first".into()],
                agree: vec!["dob".into(), "last".into()],
                personal: Vec::new(),
            });
            d
        };
        let sets = [
            people("council", &[[anaya, smith, dob]]),
            people("health", &[[anaya, smith, dob], [aleena, smith, dob]]),
            people("police", &[[aleena, smith, dob]]),
        ];
        let cmp = Comparator::new(&sets[0], &sets[0]).expect("shared fields");
        let mut g = Vec::new();
        let crossed = cmp.gamma(&sets[1], 0, &sets[1], 1, &mut g);
        assert_eq!(g[0], 2, "the twins' forenames share half their bits: {g:?}");
        assert_eq!(
            cmp.twin_verdict(&g, crossed, (&sets[1], 0), (&sets[1], 1)),
            Twin::Like
        );
        let across = c(0.99, (0, 0), (2, 0));
        let mut pairs = vec![c(0.99, (0, 0), (1, 0)), across, c(0.99, (1, 1), (2, 0))];
        let mut twins = vec![c(0.99, (1, 0), (1, 1))];
        let level = |x: Rec, y: Rec| {
            let (dx, dy) = (&sets[x.ds as usize], &sets[y.ds as usize]);
            cmp.forename_level(dx, x.row as usize, dy, y.row as usize)
        };
        split_twins(&mut pairs, &mut twins, level);
        assert_eq!(
            pairs,
            vec![c(0.99, (0, 0), (1, 0)), c(0.99, (1, 1), (2, 0))],
            "each twin keeps its own"
        );
        assert!(
            twins.contains(&across),
            "council's Anaya and police's Aleena"
        );
        // Without the health records of both twins nothing says they are two people.
        let mut pairs = vec![c(0.99, (0, 0), (1, 0)), across];
        let mut none = Vec::new();
        split_twins(&mut pairs, &mut none, level);
        assert_eq!(pairs.len(), 2);
        // A school record without a forename, a candidate of both twins: either of them.
        let sets = [
            people("council", &[[anaya, smith, dob]]),
            people("health", &[[anaya, smith, dob], [aleena, smith, dob]]),
            people("school", &[[0, smith, dob]]),
        ];
        let level = |x: Rec, y: Rec| {
            let (dx, dy) = (&sets[x.ds as usize], &sets[y.ds as usize]);
            cmp.forename_level(dx, x.row as usize, dy, y.row as usize)
        };
        let council = c(0.99, (0, 0), (1, 0));
        let mut pairs = vec![
            council,
            c(0.97, (0, 0), (2, 0)),
            c(0.99, (1, 0), (2, 0)),
            c(0.98, (1, 1), (2, 0)),
        ];
        let mut twins = vec![c(0.99, (1, 0), (1, 1))];
        split_twins(&mut pairs, &mut twins, level);
        assert_eq!(
            pairs,
            vec![council],
            "the school record is kept apart from both sides"
        );
    }

    /// A dataset of `source` whose records hold, in fields of 64 bits named and grouped as
    /// `fields` says, the words given (a word 0 is a missing value).
    fn fields_dataset<const N: usize>(
        source: &str,
        fields: [(&str, &str); N],
        records: &[[u64; N]],
    ) -> Dataset {
        let specs = fields
            .iter()
            .map(|&(name, group)| kith_core::encodings::FieldSpec {
                name: name.into(),
                bits: 64,
                group: group.into(),
                parts: Vec::new(),
            })
            .collect();
        let mut d = Dataset::new(source, 64, false, Vec::new(), Vec::new()).with_fields(specs);
        for r in records {
            d.push(None, &[0xff; 8], &[], &[]).expect("push");
            let f: Vec<Option<Vec<u8>>> =
                r.iter().map(|w| Some(w.to_be_bytes().to_vec())).collect();
            d.push_fields(&f).expect("fields");
        }
        d
    }

    /// These candidate pairs (put in solving order), collected from 0.1, and nothing else.
    fn candidates_of(mut pairs: Vec<Candidate>) -> Candidates {
        pairs.sort_by(candidate_order);
        Candidates {
            pairs,
            best: Histogram::default(),
            best_within: Histogram::default(),
            stats: Stats::default(),
            collected_at: 0.1,
            model: None,
            comparator: None,
            twins: Vec::new(),
            within_multiples: Vec::new(),
        }
    }

    /// Council 0's best partner is health 0; its second, health 1, scores above the threshold too
    /// but cannot join (one record of a holder per person, without `--dedupe`): a pair for review,
    /// with the band's council 1 and health 1.
    #[test]
    fn pairs_the_solver_did_not_link_are_listed_for_review() {
        let sets = [names("council", 2), names("health", 2)];
        let candidates = candidates_of(vec![
            c(0.95, (0, 0), (1, 0)),
            c(0.8, (0, 0), (1, 1)),
            c(0.3, (0, 1), (1, 1)),
        ]);
        let at = |l: &Linkage| -> Vec<(u32, u32, u32, u32)> {
            let mut v: Vec<_> = l
                .review
                .iter()
                .map(|c| (c.a.ds, c.a.row, c.b.ds, c.b.row))
                .collect();
            v.sort_unstable();
            v
        };
        let l = solve(
            &sets,
            &candidates,
            (0.5, 0.5),
            Some(0.1),
            false,
            crate::solve::Join::Majority,
        );
        assert_eq!(l.links.len(), 1);
        assert_eq!((l.links[0].a.row, l.links[0].b.row), (0, 0));
        assert_eq!(at(&l), [(0, 0, 1, 1), (0, 1, 1, 1)]);
        // No review band asked for: nothing listed.
        let l = solve(
            &sets,
            &candidates,
            (0.5, 0.5),
            None,
            false,
            crate::solve::Join::Majority,
        );
        assert!(l.review.is_empty());
    }

    /// Council 0 and council 1 score 0.8 (relatives, say) and so do council 0 and health 0: with
    /// pairs within one source held to 0.9 only the pair across sources links, and the pair
    /// within is listed for review.
    #[test]
    fn pairs_within_one_source_are_held_to_their_own_threshold() {
        let sets = [names("council", 2), names("health", 1)];
        let candidates = candidates_of(vec![c(0.8, (0, 0), (0, 1)), c(0.8, (0, 0), (1, 0))]);
        let solve_at = |within| {
            solve(
                &sets,
                &candidates,
                (0.7, within),
                Some(0.5),
                true,
                crate::solve::Join::Majority,
            )
        };
        let l = solve_at(0.9);
        let rows = |v: &[Candidate]| {
            v.iter()
                .map(|c| (c.a.ds, c.a.row, c.b.ds, c.b.row))
                .collect::<Vec<_>>()
        };
        assert_eq!(rows(&l.links), [(0, 0, 1, 0)]);
        assert_eq!(rows(&l.review), [(0, 0, 0, 1)]);
        assert_eq!(l.groups, 1);
        // At the same threshold as across sources, all three are one entity.
        let l = solve_at(0.7);
        assert_eq!(l.links.len(), 2);
        assert!(l.review.is_empty());
    }

    /// Council 0 has no forename; council 1 is the same person, known to health as health 0.
    #[test]
    fn a_record_without_a_forename_beside_one_persons_records_links() {
        let mut pairs = vec![c(0.99, (0, 1), (1, 0)), c(0.9, (0, 0), (1, 0))];
        let mut twins = Vec::new();
        settle_unsure(&mut pairs, &mut twins, vec![c(0.97, (0, 0), (0, 1))], 0.5);
        assert_eq!(
            pairs.len(),
            3,
            "the pair the twin rule was unsure of is a candidate"
        );
        assert!(twins.is_empty());
    }

    /// Council 1 is one twin; health 0, the other, who also matches council 0 (no forename): council
    /// 0 stands between two people and links to neither by the rule's pair.
    #[test]
    fn a_record_without_a_forename_between_twins_is_set_aside() {
        let mut pairs = vec![c(0.9, (0, 0), (1, 0)), c(0.3, (0, 1), (1, 0))];
        let mut twins = Vec::new();
        let unsure = vec![c(0.97, (0, 0), (0, 1)), c(0.4, (0, 0), (0, 2))];
        settle_unsure(&mut pairs, &mut twins, unsure, 0.5);
        assert_eq!(pairs.len(), 2);
        assert_eq!(
            twins,
            [c(0.4, (0, 0), (0, 2)), c(0.97, (0, 0), (0, 1))],
            "both set aside: one between two people, one below the threshold"
        );
    }

    #[test]
    fn a_pair_an_exact_token_matched_is_not_set_aside_as_twins() {
        let exact = Candidate {
            exact: true,
            ..c(1.0, (0, 0), (0, 1))
        };
        let other = c(0.4, (0, 2), (0, 3));
        let mut twins = vec![c(0.14, (0, 0), (0, 1)), other];
        keep_exact_over_twins(&[exact, c(0.9, (0, 2), (0, 3))], &mut twins);
        assert_eq!(twins, vec![other], "only the exact pair's veto goes");
    }

    #[test]
    fn a_pair_an_exact_token_matched_is_kept_once() {
        let exact = Candidate {
            exact: true,
            ..c(1.0, (0, 0), (0, 1))
        };
        let mut pairs = vec![exact];
        let mut twins = Vec::new();
        settle_unsure(&mut pairs, &mut twins, vec![c(0.97, (0, 0), (0, 1))], 0.5);
        assert_eq!((pairs, twins), (vec![exact], vec![]));
    }
}
