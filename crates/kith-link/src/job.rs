//! One linkage run, as `kith link` runs it: read the inputs, choose blocking and scoring, find
//! candidates, choose the threshold, solve, and write links, clusters and the review band.
//!
//! ```no_run
//! use kith_link::job::LinkJob;
//!
//! let job = LinkJob::new(vec!["council.kith".into(), "health.kith".into()]);
//! let run = job.run(&mut |p| eprintln!("{p}"))?;
//! for line in run.report.lines() {
//!     eprintln!("{line}");
//! }
//! run.write_links(&mut std::fs::File::create("links.csv").expect("create"))?;
//! run.write_clusters(&mut std::fs::File::create("clusters.csv").expect("create"))?;
//! # Ok::<(), kith_link::LinkError>(())
//! ```

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use kith_core::Token;
use kith_core::encodings::Reader;

use crate::block::{Blocking, Lsh, LshParams};
use crate::dataset::{Chunks, Ids};
use crate::input::read_dataset;
use crate::link::{self, Candidates, FIELD_THRESHOLD, LinkOptions, Linkage, Stats};
use crate::output::{csv_field, write_clusters, write_pairs};
use crate::report::{
    BestScores, ChunkSummary, Completeness, ESTIMATE_SAMPLE, ESTIMATE_SAMPLE_CLK, InputSummary,
    LinkReport, PAIRS_COMPLETENESS_TARGET, Progress, ThresholdChoice, Timings,
};
use crate::solve::{Candidate, Rec, candidate_order};
use crate::threshold::{self, Histogram};
use crate::{Dataset, LinkError};

/// How pairs are chosen for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlockingChoice {
    /// Every pair when there are at most [`AUTO_ALL_PAIRS`] of them (blocking can only lose
    /// matches, and comparing them all takes about a second); otherwise the holders' keyed
    /// blocking keys when every input carries the same ones (alone with field scoring, which
    /// recovers what they miss; with LSH otherwise), else LSH. While the estimated pairs
    /// completeness is under [`PAIRS_COMPLETENESS_TARGET`] the run widens blocking (see
    /// `widenings`) and scores again, while a wider step would find some of the sampled pairs
    /// it missed within its budget (see `next_widening`).
    #[default]
    Auto,
    /// Every pair.
    None,
    /// Only the keyed blocking keys.
    Keys,
    /// Only LSH on the CLKs.
    Lsh,
    /// Keyed blocking keys and LSH: a pair is compared when either matches.
    KeysAndLsh,
}

/// Pairs up to which `--blocking auto` compares every pair: about a second on two cores (FEBRL4's
/// 25 M pairs take 1.0 s with field scoring), where blocking would save less than it can lose.
pub const AUTO_ALL_PAIRS: u64 = 30_000_000;

/// Pairs up to which `--blocking auto`, when blocking falls short of the target, compares every
/// pair in the end (about ten seconds on two cores).
pub const AUTO_WIDEN_ALL_PAIRS: u64 = 300_000_000;

/// The threshold of a run: the one given, or with field scoring [`FIELD_THRESHOLD`], or with CLK
/// scoring the one suggested from the best-score histogram (with the histogram and its reasons).
fn choose_threshold(
    options: &LinkOptions,
    candidates: &Candidates,
) -> (ThresholdChoice, Option<BestScores>) {
    match &candidates.model {
        Some(_) => (
            {
                let used = options.threshold.unwrap_or(FIELD_THRESHOLD);
                ThresholdChoice {
                    used,
                    given: options.threshold,
                    suggested: FIELD_THRESHOLD,
                    within: options.within_threshold.map_or(used, |w| w.max(used)),
                }
            },
            None,
        ),
        None => {
            let suggestion = threshold::suggest(&candidates.best);
            let used = options
                .threshold
                .unwrap_or(suggestion.threshold.max(candidates.collected_at));
            let within = (options.dedupe && candidates.best_within.total() > 0).then(|| {
                (
                    candidates.best_within.clone(),
                    threshold::suggest_within(&candidates.best_within),
                )
            });
            let choice = ThresholdChoice {
                used,
                given: options.threshold,
                suggested: suggestion.threshold,
                within: match (options.within_threshold, &within, options.threshold) {
                    (Some(w), _, _) => w.max(used),
                    (None, Some((_, w)), None) => w.threshold.max(used),
                    _ => used,
                },
            };
            let best = BestScores {
                histogram: candidates.best.clone(),
                suggestion,
                within,
            };
            (choice, Some(best))
        }
    }
}

/// The score from which pairs count towards the estimated pairs completeness: the threshold; with
/// CLK scoring and keyed blocking keys, where the best scores split into strangers and partners
/// ([`threshold::Suggestion::sure`]) when that is higher. Below there the keys (field values,
/// not CLK bits) find the partners whose CLKs agree little, and the pairs without a shared key are
/// mostly a record with no partner and its likeliest stranger. LSH alone finds pairs by their
/// CLKs only, so every pair from the threshold up counts (FEBRL4's corrupted duplicates lie
/// between its threshold and the split).
fn completeness_from(
    threshold: &ThresholdChoice,
    best: Option<&BestScores>,
    blocking: Blocking,
) -> f64 {
    match best {
        Some(b) if matches!(blocking, Blocking::Keys | Blocking::KeysAndLsh(_)) => {
            threshold.used.max(b.suggestion.sure)
        }
        _ => threshold.used,
    }
}

/// The pairs completeness of blocking estimated on a sample, as every blocked run reports it:
/// with field scoring from the records sharing an exact field value
/// ([`link::estimated_completeness`]), with CLK scoring against all pairs of a smaller sample
/// ([`link::pairs_completeness`]); and the sampled pairs blocking missed. `None` when every pair
/// was compared.
fn estimate_completeness(
    datasets: &[Dataset],
    candidates: &Candidates,
    threshold: &ThresholdChoice,
    best: &Option<BestScores>,
    options: &LinkOptions,
) -> Option<(Completeness, Vec<(Rec, Rec)>)> {
    if options.blocking == Blocking::None {
        return None;
    }
    let threshold = completeness_from(threshold, best.as_ref(), options.blocking);
    let (sample, counted) = match candidates.model {
        Some(_) => (
            ESTIMATE_SAMPLE,
            link::estimated_completeness(
                datasets,
                candidates,
                threshold,
                ESTIMATE_SAMPLE,
                options,
            )?,
        ),
        None => (
            ESTIMATE_SAMPLE_CLK,
            link::pairs_completeness(
                datasets,
                candidates,
                threshold,
                ESTIMATE_SAMPLE_CLK,
                options,
            ),
        ),
    };
    Some((
        Completeness {
            sample,
            found: counted.found,
            all: counted.all,
            at: threshold,
        },
        counted.missed,
    ))
}

/// The blockings `--blocking auto` widens to, in order, when the estimate falls short of the
/// target from `first`: LSH beside the keyed blocking keys, then LSH of four and eight times the
/// tables on four and six bits fewer a table (each step finds pairs whose CLKs agree less, at
/// several times the comparisons), then every pair when there are at most [`AUTO_WIDEN_ALL_PAIRS`].
fn widenings(first: Blocking, lsh: LshParams, all_pairs: u64) -> Vec<Blocking> {
    let steps = [(1, 0), (4, 4), (8, 6)].map(|(t, b): (u32, u32)| LshParams {
        tables: lsh.tables.saturating_mul(t),
        bits: lsh.bits.saturating_sub(b).max(4),
        ..lsh
    });
    let mut out: Vec<Blocking> = match first {
        Blocking::None => return Vec::new(),
        Blocking::Keys => steps.iter().map(|&p| Blocking::KeysAndLsh(p)).collect(),
        Blocking::KeysAndLsh(_) => steps[1..]
            .iter()
            .map(|&p| Blocking::KeysAndLsh(p))
            .collect(),
        Blocking::Lsh(_) => steps[1..].iter().map(|&p| Blocking::Lsh(p)).collect(),
    };
    if all_pairs <= AUTO_WIDEN_ALL_PAIRS {
        out.push(Blocking::None);
    }
    out
}

/// What `--blocking auto` does next while the estimate falls short: the first wider blocking that
/// would find some of the sampled pairs blocking missed, when its comparisons (estimated from
/// random pairs, see [`estimated_comparisons`]) stay within `budget`. Wider blocking that would
/// find none of them is passed over: those pairs share too few CLK bits for LSH, so scoring them
/// all again would only cost time.
fn next_widening(
    datasets: &[Dataset],
    wider: &mut impl Iterator<Item = Blocking>,
    missed: &[(Rec, Rec)],
    dedupe: bool,
    budget: u64,
) -> Result<(Blocking, u64), Unwidened> {
    let clk = |r: Rec| datasets[r.ds as usize].clk(r.row as usize);
    for blocking in wider {
        let finds = match blocking.lsh() {
            Some(p) => {
                let lsh = Lsh::new(p, datasets[0].bits());
                missed.iter().any(|&(x, y)| lsh.meet(clk(x), clk(y)))
            }
            None => blocking == Blocking::None,
        };
        if !finds {
            continue;
        }
        let comparisons = estimated_comparisons(datasets, blocking, dedupe);
        if comparisons > budget {
            return Err(Unwidened::Costly {
                blocking,
                comparisons,
                budget,
            });
        }
        return Ok((blocking, comparisons));
    }
    Err(Unwidened::Futile {
        missed: missed.len(),
    })
}

/// About how many comparisons LSH of `blocking` makes (every pair for [`Blocking::None`]; the
/// keyed blocking keys' are left out, so none for [`Blocking::Keys`]): from random pairs of
/// records of each two inputs, each meeting in one of `tables` tables of `bits` sampled bits with
/// chance `1 − (1 − s^bits)^tables`, where `s` is the share of CLK bits the two agree on.
pub fn estimated_comparisons(datasets: &[Dataset], blocking: Blocking, dedupe: bool) -> u64 {
    let p = match blocking {
        Blocking::None => {
            let sizes: Vec<usize> = datasets.iter().map(Dataset::len).collect();
            return all_pairs(&sizes, dedupe);
        }
        Blocking::Keys => return 0,
        Blocking::Lsh(p) | Blocking::KeysAndLsh(p) => p,
    };
    let mut total = 0.0;
    let mut state = p.seed;
    for (i, a) in datasets.iter().enumerate() {
        let first = if dedupe { i } else { i + 1 };
        for (j, b) in datasets.iter().enumerate().skip(first) {
            let pairs = if i == j {
                all_pairs(&[a.len()], true)
            } else {
                all_pairs(&[a.len(), b.len()], false)
            } as f64;
            if pairs == 0.0 {
                continue;
            }
            let bits = f64::from(a.bits());
            let mut meet = 0.0;
            for _ in 0..COST_SAMPLE {
                state = crate::block::mix(state);
                let (r, q) = (
                    (state % a.len() as u64) as usize,
                    ((state >> 32) % b.len() as u64) as usize,
                );
                let differ: u32 = a
                    .clk(r)
                    .iter()
                    .zip(b.clk(q))
                    .flat_map(|(x, y)| x.0.iter().zip(&y.0).map(|(x, y)| (x ^ y).count_ones()))
                    .sum();
                let agree = 1.0 - f64::from(differ) / bits;
                meet += 1.0 - (1.0 - agree.powi(p.bits as i32)).powi(p.tables as i32);
            }
            total += pairs * meet / COST_SAMPLE as f64;
        }
    }
    total as u64
}

/// Random pairs per two inputs that [`estimated_comparisons`] looks at.
const COST_SAMPLE: usize = 4096;

/// Why `--blocking auto` stopped widening with the estimate under the target.
#[derive(Debug, Clone, PartialEq)]
pub enum Unwidened {
    /// No wider blocking would find any of the `missed` sampled pairs.
    Futile {
        /// Sampled pairs blocking missed.
        missed: usize,
    },
    /// The first wider blocking that would find some of them costs more than the budget.
    Costly {
        /// That blocking.
        blocking: Blocking,
        /// Its estimated comparisons.
        comparisons: u64,
        /// The most a widening may make: [`AUTO_WIDEN_ALL_PAIRS`], or [`AUTO_WIDEN_FACTOR`] times
        /// the first blocking's.
        budget: u64,
    },
}

/// A widening may make this many times the comparisons of the run's first blocking (or
/// [`AUTO_WIDEN_ALL_PAIRS`] when that is more).
pub const AUTO_WIDEN_FACTOR: u64 = 4;

/// The pairs a run would compare with no blocking: across every two inputs, and within each when
/// duplicates are looked for.
pub fn all_pairs(sizes: &[usize], dedupe: bool) -> u64 {
    let mut total = 0u64;
    for (i, &a) in sizes.iter().enumerate() {
        if dedupe {
            total += a as u64 * a.saturating_sub(1) as u64 / 2;
        }
        for &b in &sizes[i + 1..] {
            total += a as u64 * b as u64;
        }
    }
    total
}

/// How pairs are scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scoring {
    /// Field by field when every input carries the same field-level filters, else CLK Dice.
    #[default]
    Auto,
    /// CLK Dice only.
    Clk,
    /// Field by field; an error when the inputs carry no field-level filters.
    Fields,
}

/// A checked description of one linkage run.
#[derive(Debug, Clone)]
pub struct LinkJob {
    /// Encodings files (kith or clkhash-json), at least two (one with `dedupe`).
    pub inputs: Vec<PathBuf>,
    /// Threshold, review band, buckets, duplicates, exact-token veto, kernel and candidate floor.
    /// Its `blocking` and `fields` are set by the run from [`Self::blocking`] and [`Self::scoring`].
    pub options: LinkOptions,
    /// How pairs are chosen.
    pub blocking: BlockingChoice,
    /// LSH parameters, where LSH is used.
    pub lsh: LshParams,
    /// How pairs are scored.
    pub scoring: Scoring,
    /// Measure pairs completeness on up to this many records per source.
    pub check_blocking: Option<usize>,
    /// Read the first file this many records at a time against the others held in memory.
    pub chunk: Option<usize>,
}

impl LinkJob {
    /// A job with `kith link`'s defaults.
    pub fn new(inputs: Vec<PathBuf>) -> LinkJob {
        LinkJob {
            inputs,
            options: LinkOptions::default(),
            blocking: BlockingChoice::Auto,
            lsh: LshParams::default(),
            scoring: Scoring::Auto,
            check_blocking: None,
            chunk: None,
        }
    }

    /// Check what can be checked before reading any input. Messages name `kith link`'s flags.
    pub fn check(&self) -> Result<(), LinkError> {
        let bad = |m: String| Err(LinkError::Input(m));
        let o = &self.options;
        for (name, v) in [
            ("--threshold", o.threshold),
            ("--within-threshold", o.within_threshold),
            ("--review-threshold", o.review),
            ("--candidate-floor", Some(o.candidate_floor)),
        ] {
            if let Some(t) = v.filter(|t| !(t.is_finite() && (0.0..=1.0).contains(t))) {
                return bad(format!("{name} must be between 0 and 1, not {t}"));
            }
        }
        if let (Some(t), Some(r)) = (o.threshold, o.review)
            && r >= t
        {
            return bad(format!(
                "--review-threshold ({r}) must be below --threshold ({t})"
            ));
        }
        if o.within_threshold.is_some() && !o.dedupe {
            return bad("--within-threshold is for pairs within one source: give --dedupe".into());
        }
        if let (Some(t), Some(w)) = (o.threshold, o.within_threshold)
            && w < t
        {
            return bad(format!(
                "--within-threshold ({w}) must not be below --threshold ({t}): pairs within one source are held at least as high"
            ));
        }
        if self.inputs.len() < 2 && !o.dedupe {
            return bad("give at least two encodings files (or one with --dedupe)".into());
        }
        if !(1..=64).contains(&self.lsh.bits) {
            return bad("--lsh-bits must be between 1 and 64".into());
        }
        if self.lsh.tables < 1 {
            return bad("--lsh-tables must be at least 1".into());
        }
        if o.max_bucket < 1 {
            return bad("--max-bucket must be at least 1".into());
        }
        if let Some(n) = self.chunk {
            if n < 1 {
                return bad("--chunk must be at least 1".into());
            }
            if self.inputs.len() < 2 || o.dedupe || self.check_blocking.is_some() {
                return bad("--chunk links the first file chunk by chunk against the others: give two or more files, without --dedupe or --check-blocking".into());
            }
            if o.threshold.is_none() && self.scoring == Scoring::Clk {
                return bad("--chunk with CLK scoring needs --threshold (kith suggests one from the whole score distribution; run without --chunk on a sample to see it)".into());
            }
        }
        for (i, p) in self.inputs.iter().enumerate() {
            if self.inputs[..i].contains(p) {
                return bad(format!("{} is given twice", p.display()));
            }
        }
        Ok(())
    }

    /// Run the linkage. `progress` hears of each input read and each chunk linked.
    pub fn run(&self, progress: &mut dyn FnMut(&Progress)) -> Result<LinkRun, LinkError> {
        self.check()?;
        let mut options = self.options.clone();
        options.fields = self.scoring != Scoring::Clk;
        if self.chunk.is_some() {
            return self.run_chunked(options, progress);
        }
        let t0 = Instant::now();
        // Files are read side by side (parsing, not the disk, is the cost), then reported in
        // order; the first file in order that fails is the error.
        let read: Vec<Result<Dataset, LinkError>> = {
            use rayon::prelude::*;
            self.inputs.par_iter().map(|p| read_dataset(p)).collect()
        };
        let mut datasets = Vec::with_capacity(self.inputs.len());
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for (p, d) in self.inputs.iter().zip(read) {
            let d = d?;
            let summary = summarise(p, &d);
            progress(&Progress::Read(summary.clone()));
            inputs.push(summary);
            datasets.push(d);
        }
        link::check_compatible(&datasets)
            .map_err(|e| LinkError::Input(format!("these inputs cannot be linked: {e}")))?;
        let fields = self.settle(&datasets, &mut options)?;
        let read = t0.elapsed();

        let t1 = Instant::now();
        let mut candidates = link::find_candidates(&datasets, &options)?;
        let (mut threshold, mut best) = choose_threshold(&options, &candidates);
        let mut estimate =
            estimate_completeness(&datasets, &candidates, &threshold, &best, &options);
        let budget = AUTO_WIDEN_ALL_PAIRS.max(candidates.stats.comparisons * AUTO_WIDEN_FACTOR);
        let mut unwidened = None;
        // `--blocking auto` widens blocking until the estimate reaches the target.
        let mut tuning = Vec::new();
        let sizes: Vec<usize> = datasets.iter().map(Dataset::len).collect();
        let mut wider = match self.blocking {
            BlockingChoice::Auto => widenings(
                options.blocking,
                self.lsh,
                all_pairs(&sizes, options.dedupe),
            ),
            _ => Vec::new(),
        }
        .into_iter();
        while let Some((e, missed)) = estimate.take() {
            if e.ratio() >= PAIRS_COMPLETENESS_TARGET {
                estimate = Some((e, missed));
                break;
            }
            let (to, comparisons) =
                match next_widening(&datasets, &mut wider, &missed, options.dedupe, budget) {
                    Ok(next) => next,
                    Err(why) => {
                        // Only `--blocking auto` widens: elsewhere the estimate is reported as it is.
                        if self.blocking == BlockingChoice::Auto {
                            unwidened = Some(why);
                        }
                        estimate = Some((e, missed));
                        break;
                    }
                };
            progress(&Progress::Widening {
                from: options.blocking,
                estimate: e,
                to,
                comparisons,
            });
            tuning.push((options.blocking, e));
            options.blocking = to;
            candidates = link::find_candidates(&datasets, &options)?;
            (threshold, best) = choose_threshold(&options, &candidates);
            estimate = estimate_completeness(&datasets, &candidates, &threshold, &best, &options);
        }
        let estimate = estimate.map(|(e, _)| e);
        let score = t1.elapsed();
        let completeness = self.check_blocking.map(|sample| {
            let counted =
                link::pairs_completeness(&datasets, &candidates, threshold.used, sample, &options);
            Completeness {
                sample,
                found: counted.found,
                all: counted.all,
                at: threshold.used,
            }
        });
        let review = options.review.filter(|&r| r < threshold.used);
        for d in &mut datasets {
            d.release_blocking_keys();
        }
        let linkage = link::solve(
            &datasets,
            &candidates,
            (threshold.used, threshold.within),
            review,
            options.dedupe,
            options.join,
        );
        let report = LinkReport {
            model: candidates.model.clone(),
            best,
            completeness,
            estimate,
            tuning,
            unwidened,
            timings: Timings {
                read,
                score,
                total: t0.elapsed(),
            },
            ..LinkReport::common(inputs, &options, fields, &candidates, threshold, &linkage)
        };
        Ok(LinkRun {
            report,
            datasets,
            linkage,
            unpaired: None,
        })
    }

    /// Decide scoring and blocking for these inputs (into `options`); returns whether pairs are
    /// scored field by field.
    fn settle(&self, datasets: &[Dataset], options: &mut LinkOptions) -> Result<bool, LinkError> {
        let fields = link::uses_fields(datasets, options);
        if !fields && self.scoring == Scoring::Fields {
            return Err(LinkError::Input(format!(
                "--scoring fields needs every input to carry the same field-level filters (the schema's kith.fields section); these inputs carry {}",
                datasets
                    .iter()
                    .map(|d| format!(
                        "{}: [{}]",
                        d.source,
                        d.field_specs()
                            .iter()
                            .map(|f| f.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            )));
        }
        options.blocking = self.blocking_for(datasets, fields, options.dedupe)?;
        Ok(fields)
    }

    /// The blocking policy: what [`BlockingChoice`] means for these inputs.
    fn blocking_for(
        &self,
        datasets: &[Dataset],
        fields: bool,
        dedupe: bool,
    ) -> Result<Blocking, LinkError> {
        let have_keys = datasets.iter().all(|d| !d.block_names().is_empty())
            && datasets
                .windows(2)
                .all(|w| w[0].block_names() == w[1].block_names());
        let lsh = self.lsh;
        // A chunked run does not know its first file's size up front.
        let sizes: Vec<usize> = datasets.iter().map(Dataset::len).collect();
        let few = self.chunk.is_none() && all_pairs(&sizes, dedupe) <= AUTO_ALL_PAIRS;
        Ok(match self.blocking {
            BlockingChoice::None => Blocking::None,
            BlockingChoice::Auto if few => Blocking::None,
            BlockingChoice::Lsh => Blocking::Lsh(lsh),
            // Field scoring recovers what keyed blocking keys alone find well, and LSH costs far
            // more.
            BlockingChoice::Auto if have_keys && fields => Blocking::Keys,
            BlockingChoice::Auto if have_keys => Blocking::KeysAndLsh(lsh),
            BlockingChoice::Auto => Blocking::Lsh(lsh),
            BlockingChoice::Keys | BlockingChoice::KeysAndLsh => {
                if !have_keys {
                    return Err(LinkError::Input(format!(
                        "--blocking keys needs every input to carry the same keyed blocking keys (the schema's kith.blocking section); these inputs carry {}",
                        datasets
                            .iter()
                            .map(|d| format!("{}: [{}]", d.source, d.block_names().join(", ")))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )));
                }
                if self.blocking == BlockingChoice::Keys {
                    Blocking::Keys
                } else {
                    Blocking::KeysAndLsh(lsh)
                }
            }
        })
    }

    /// The first file is read `chunk` records at a time and each chunk is linked against the other
    /// files, held in memory. Only records of the first file that are in a candidate pair are kept
    /// (as their tokens) for solving, so memory does not grow with the first file. With CLK
    /// scoring and a given threshold every pair at or above it is a candidate whatever the
    /// chunking, so the links are those of an ordinary run (tested). `clusters.csv` lists the
    /// entities of two or more records and the other files' records first (sorted by entity id),
    /// then the first file's unlinked records in the file's order (by token).
    fn run_chunked(
        &self,
        mut options: LinkOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<LinkRun, LinkError> {
        let chunk = self.chunk.unwrap_or(usize::MAX);
        let t0 = Instant::now();
        let mut others = Vec::with_capacity(self.inputs.len() - 1);
        let mut inputs = Vec::with_capacity(self.inputs.len() - 1);
        for p in &self.inputs[1..] {
            let d = read_dataset(p)?;
            let summary = summarise(p, &d);
            progress(&Progress::Read(summary.clone()));
            inputs.push(summary);
            others.push(d);
        }
        let first = &self.inputs[0];
        let mut chunks = open_chunks(first, chunk)?;
        let header = chunks.header().clone();
        let mut kept_rows = Compact::new(&header);
        let mut pairs: Vec<Candidate> = Vec::new();
        let mut merged = Merged::default();
        let (mut read, mut n_chunks) = (0usize, 0usize);
        let mut fields = false;
        // Pairs below both thresholds can never be links or in the review band.
        let floor = match (options.threshold, options.review) {
            (Some(t), Some(r)) => t.min(r),
            (Some(t), None) => t,
            (None, Some(r)) => r.min(FIELD_THRESHOLD),
            (None, None) => FIELD_THRESHOLD,
        };
        while let Some(d) = chunks.next_chunk().map_err(|e| e.in_file(first))? {
            let base = read;
            read += d.len();
            let mut datasets = Vec::with_capacity(1 + others.len());
            datasets.push(d);
            datasets.append(&mut others);
            if n_chunks == 0 {
                link::check_compatible(&datasets)
                    .map_err(|e| LinkError::Input(format!("these inputs cannot be linked: {e}")))?;
                fields = self.settle(&datasets, &mut options)?;
            }
            n_chunks += 1;
            let mut kept = Vec::new();
            for found in link_chunk(&mut datasets, &options, n_chunks == 1)? {
                merged.add(&found);
                kept.extend(found.pairs.into_iter().filter(|c| c.score >= floor));
            }
            pairs.extend(kept_rows.renumber(&datasets[0], kept)?);
            others = datasets.split_off(1);
            progress(&Progress::Chunk {
                number: n_chunks,
                records: (base + 1, read),
                path: first.clone(),
                kept: pairs.len(),
            });
        }
        let read_and_score = t0.elapsed();
        let threshold = options.threshold.unwrap_or(FIELD_THRESHOLD);
        pairs.sort_by(candidate_order);
        let mut datasets = Vec::with_capacity(1 + others.len());
        datasets.push(kept_rows.dataset);
        datasets.append(&mut others);
        let candidates = Candidates {
            pairs,
            best: Histogram::default(),
            best_within: Histogram::default(),
            stats: merged.stats,
            collected_at: merged.collected_at,
            model: None,
            comparator: None,
            twins: Vec::new(),
            within_multiples: Vec::new(),
        };
        let review = options.review.filter(|&r| r < threshold);
        let linkage = link::solve(
            &datasets,
            &candidates,
            (threshold, threshold),
            review,
            false,
            options.join,
        );
        let kept: HashSet<Token> = match datasets[0].ids() {
            Ids::Tokens(t) => t.iter().copied().collect(),
            Ids::RowIndex => HashSet::new(),
        };
        let threshold = ThresholdChoice {
            used: threshold,
            given: options.threshold,
            suggested: FIELD_THRESHOLD,
            within: threshold,
        };
        let report = LinkReport {
            chunked: Some(ChunkSummary {
                path: first.clone(),
                source: header.party.clone(),
                records: read,
                chunks: n_chunks,
                chunk,
            }),
            model: merged.model,
            timings: Timings {
                read: read_and_score,
                score: read_and_score,
                total: t0.elapsed(),
            },
            ..LinkReport::common(inputs, &options, fields, &candidates, threshold, &linkage)
        };

        Ok(LinkRun {
            report,
            datasets,
            linkage,
            unpaired: Some(Unpaired {
                path: first.clone(),
                source: header.party,
                kept,
            }),
        })
    }
}

fn summarise(path: &Path, d: &Dataset) -> InputSummary {
    InputSummary {
        path: path.to_path_buf(),
        source: d.source.clone(),
        records: d.len(),
        bits: d.bits(),
        clkhash_json: d.fingerprint.is_none(),
    }
}

fn open_chunks(path: &Path, chunk: usize) -> Result<Chunks<BufReader<File>>, LinkError> {
    let f = File::open(path)
        .map_err(|e| LinkError::io(format!("cannot open {}", path.display()), e))?;
    Chunks::new(BufReader::with_capacity(1 << 20, f), chunk).map_err(|e| {
        LinkError::Input(format!(
            "{}: --chunk reads kith encodings files only: {e}",
            path.display()
        ))
    })
}

/// Link one chunk (`datasets[0]`) against the other files. The first chunk is linked with all the
/// other files together, which also finds the pairs between them; later chunks only against each
/// other file in turn (put second in the slice, then renumbered back), since those pairs would be
/// the same every time.
fn link_chunk(
    datasets: &mut [Dataset],
    options: &LinkOptions,
    first_chunk: bool,
) -> Result<Vec<Candidates>, LinkError> {
    if first_chunk || datasets.len() == 2 {
        return Ok(vec![link::find_candidates(datasets, options)?]);
    }
    let mut parts = Vec::with_capacity(datasets.len() - 1);
    for j in 1..datasets.len() {
        datasets.swap(1, j);
        let found = link::find_candidates(&datasets[..2], options);
        datasets.swap(1, j);
        let mut found = found?;
        for c in &mut found.pairs {
            for r in [&mut c.a, &mut c.b] {
                if r.ds == 1 {
                    r.ds = j as u32;
                }
            }
        }
        parts.push(found);
    }
    Ok(parts)
}

/// What the chunks of a chunked run add up to.
#[derive(Debug, Default)]
struct Merged {
    stats: Stats,
    collected_at: f64,
    model: Option<crate::weigh::Model>,
}

impl Merged {
    fn add(&mut self, found: &Candidates) {
        self.stats += &found.stats;
        self.collected_at = found.collected_at;
        if self.model.is_none() {
            self.model.clone_from(&found.model);
        }
    }
}

/// The first file's records that are in a kept pair, renumbered in file order: tokens only, so
/// memory follows the pairs kept, not the file.
struct Compact {
    dataset: Dataset,
    zero_clk: Vec<u8>,
    no_exact: Vec<Option<Token>>,
    no_blocks: Vec<Option<u64>>,
}

impl Compact {
    fn new(h: &kith_core::encodings::Header) -> Compact {
        Compact {
            dataset: Dataset::new(
                &h.party,
                h.clk_bits,
                true,
                h.exact.clone(),
                h.blocks.clone(),
            ),
            zero_clk: vec![0u8; (h.clk_bits as usize).div_ceil(8)],
            no_exact: vec![None; h.exact.len()],
            no_blocks: vec![None; h.blocks.len()],
        }
    }

    /// Keep the chunk's records that `kept` names and point the pairs at their new rows.
    fn renumber(
        &mut self,
        chunk: &Dataset,
        kept: Vec<Candidate>,
    ) -> Result<Vec<Candidate>, LinkError> {
        let mut rows: Vec<u32> = kept
            .iter()
            .flat_map(|c| [c.a, c.b])
            .filter(|r| r.ds == 0)
            .map(|r| r.row)
            .collect();
        rows.sort_unstable();
        rows.dedup();
        let Ids::Tokens(tokens) = chunk.ids() else {
            return Err(LinkError::Input(
                "--chunk reads kith encodings files only".into(),
            ));
        };
        let mut to_compact: HashMap<u32, u32> = HashMap::with_capacity(rows.len());
        for r in rows {
            to_compact.insert(r, self.dataset.len() as u32);
            self.dataset.push(
                Some(tokens[r as usize]),
                &self.zero_clk,
                &self.no_exact,
                &self.no_blocks,
            )?;
        }
        Ok(kept
            .into_iter()
            .map(|mut c| {
                for r in [&mut c.a, &mut c.b] {
                    if r.ds == 0 {
                        r.row = to_compact[&r.row];
                    }
                }
                c
            })
            .collect())
    }
}

/// The first file's records of a chunked run that were in no candidate pair: each its own entity,
/// appended to `clusters.csv` in a second pass over the file.
#[derive(Debug)]
struct Unpaired {
    path: PathBuf,
    source: String,
    kept: HashSet<Token>,
}

/// A finished linkage: its report, and the files to write.
#[derive(Debug)]
pub struct LinkRun {
    /// What was found and decided.
    pub report: LinkReport,
    datasets: Vec<Dataset>,
    linkage: Linkage,
    unpaired: Option<Unpaired>,
}

impl LinkRun {
    /// The inputs as linked (for a chunked run, the first file's kept records first).
    pub fn datasets(&self) -> &[Dataset] {
        &self.datasets
    }

    /// The links, review pairs and entity ids.
    pub fn linkage(&self) -> &Linkage {
        &self.linkage
    }

    /// Whether there is a review band (and so a `review.csv`).
    pub fn has_review(&self) -> bool {
        self.report.review().is_some()
    }

    /// Write `links.csv`.
    pub fn write_links<W: Write>(&self, w: &mut W) -> Result<(), LinkError> {
        write_pairs(w, &self.datasets, &self.linkage.links)
            .map_err(|e| LinkError::io("cannot write links.csv", e))
    }

    /// Write `review.csv` (the header alone when there is no band).
    pub fn write_review<W: Write>(&self, w: &mut W) -> Result<(), LinkError> {
        write_pairs(w, &self.datasets, &self.linkage.review)
            .map_err(|e| LinkError::io("cannot write review.csv", e))
    }

    /// Write `clusters.csv`. For a chunked run this reads the first file again.
    pub fn write_clusters<W: Write>(&self, w: &mut W) -> Result<(), LinkError> {
        let wr = |e| LinkError::io("cannot write clusters.csv", e);
        write_clusters(w, &self.datasets, &self.linkage.entity).map_err(wr)?;
        let Some(u) = &self.unpaired else {
            return Ok(());
        };
        let f = File::open(&u.path)
            .map_err(|e| LinkError::io(format!("cannot open {}", u.path.display()), e))?;
        let mut reader = Reader::new(BufReader::with_capacity(1 << 20, f))
            .map_err(|e| LinkError::from(e).in_file(&u.path))?;
        let party = csv_field(&u.source);
        while let Some(t) = reader
            .next_token()
            .map_err(|e| LinkError::from(e).in_file(&u.path))?
        {
            if u.kept.contains(&t) {
                continue;
            }
            let token = kith_core::hex(&t);
            let id = link::entity_id(&mut [(u.source.clone(), token.clone())]);
            writeln!(w, "{party},{token},{id:016x}").map_err(wr)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With keyed blocking keys the CLK estimate counts from the split between the humps; with
    /// LSH alone, and with field scoring (no best-score histogram), from the threshold.
    #[test]
    fn the_clk_estimate_counts_from_the_split_only_beside_keys() {
        let t = ThresholdChoice {
            used: 0.5,
            given: None,
            suggested: 0.5,
            within: 0.88,
        };
        let best = BestScores {
            histogram: Histogram::default(),
            suggestion: threshold::Suggestion {
                threshold: 0.5,
                sure: 0.64,
                reasons: Vec::new(),
            },
            within: None,
        };
        let lsh = LshParams::default();
        assert_eq!(completeness_from(&t, Some(&best), Blocking::Keys), 0.64);
        assert_eq!(
            completeness_from(&t, Some(&best), Blocking::KeysAndLsh(lsh)),
            0.64
        );
        assert_eq!(completeness_from(&t, Some(&best), Blocking::Lsh(lsh)), 0.5);
        assert_eq!(completeness_from(&t, None, Blocking::Keys), 0.5);
    }

    /// A dataset of 1024-bit CLKs, each from its bytes.
    fn clks(name: &str, rows: &[[u8; 128]]) -> Dataset {
        let mut d = Dataset::new(name, 1024, false, Vec::new(), Vec::new());
        for c in rows {
            d.push(None, c, &[], &[]).expect("push");
        }
        d
    }

    /// `base` with every `step`-th byte inverted.
    fn spoiled(base: [u8; 128], step: usize) -> [u8; 128] {
        let mut x = base;
        for b in x.iter_mut().step_by(step) {
            *b = !*b;
        }
        x
    }

    #[test]
    fn comparisons_are_estimated_from_how_much_random_pairs_agree() {
        let sizes = [40, 60];
        let same = [clks("a", &[[0x5a; 128]; 40]), clks("b", &[[0x5a; 128]; 60])];
        let lsh = Blocking::Lsh(LshParams::default());
        // Identical CLKs meet in every table: every pair is compared.
        assert_eq!(estimated_comparisons(&same, lsh, false), 2_400);
        assert_eq!(
            estimated_comparisons(&same, Blocking::None, true),
            all_pairs(&sizes, true)
        );
        assert_eq!(estimated_comparisons(&same, Blocking::Keys, true), 0);
        // CLKs that agree on half their bits meet in one of 32 tables of 16 bits with chance
        // 1 - (1 - 0.5^16)^32, about 1 in 2,000.
        let half = [clks("a", &[[0x0f; 128]; 40]), clks("b", &[[0x3c; 128]; 60])];
        let n = estimated_comparisons(&half, lsh, false);
        assert!(n <= 2, "{n}");
        let wide = Blocking::Lsh(LshParams {
            tables: 64,
            bits: 2,
            ..LshParams::default()
        });
        // 1 - 0.75^64: nearly every pair.
        assert_eq!(estimated_comparisons(&half, wide, false), 2_399);
    }

    /// Blocking missed a pair whose CLKs agree on five bits in six: the default LSH tables would
    /// not find it, so `auto` passes them over for the first wider tables that would; a pair that
    /// agrees on half its bits no LSH finds, and when every pair costs more than the budget the
    /// run says what it would cost.
    #[test]
    fn auto_widens_only_to_blocking_that_finds_what_was_missed_within_a_budget() {
        let base = [0x5a; 128];
        let near = spoiled(base, 6);
        let d = [
            clks("a", &[base, [0x0f; 128]]),
            clks("b", &[near, [0x3c; 128]]),
        ];
        let rec = |ds, row| Rec { ds, row };
        let lsh = LshParams::default();
        let steps = || widenings(Blocking::Keys, lsh, 4).into_iter();
        let narrow = Lsh::new(lsh, 1024);
        assert!(!narrow.meet(d[0].clk(0), d[1].clk(0)), "Dice about 0.83");
        let (to, _) = next_widening(&d, &mut steps(), &[(rec(0, 0), rec(1, 0))], false, 4)
            .expect("a wider step finds it");
        assert_eq!(
            to,
            Blocking::KeysAndLsh(LshParams {
                tables: 128,
                bits: 12,
                ..lsh
            })
        );
        // Half the bits: only every pair finds it, and every pair is over a budget of 3.
        let far = [(rec(0, 1), rec(1, 1))];
        assert_eq!(
            next_widening(&d, &mut steps(), &far, false, 3),
            Err(Unwidened::Costly {
                blocking: Blocking::None,
                comparisons: 4,
                budget: 3
            })
        );
        let mut no_all_pairs = widenings(Blocking::Keys, lsh, AUTO_WIDEN_ALL_PAIRS + 1).into_iter();
        assert_eq!(
            next_widening(&d, &mut no_all_pairs, &far, false, u64::MAX),
            Err(Unwidened::Futile { missed: 1 })
        );
    }

    #[test]
    fn all_pairs_counts_across_inputs_and_within_with_dedupe() {
        assert_eq!(all_pairs(&[3, 4, 5], false), 12 + 15 + 20);
        assert_eq!(all_pairs(&[3, 4, 5], true), 47 + 3 + 6 + 10);
        assert_eq!(all_pairs(&[7], false), 0);
        // FEBRL4 (5,000 a side) is compared outright; two extracts of 20,000 are blocked.
        assert!(all_pairs(&[5_000, 5_000], false) <= AUTO_ALL_PAIRS);
        assert!(all_pairs(&[20_000, 20_000], false) > AUTO_ALL_PAIRS);
    }

    /// With CLK scoring and duplicates looked for, pairs within one source get the threshold of
    /// their own best scores (relatives to 0.75, duplicates at 0.95), never below the one across
    /// sources; a given threshold holds for both.
    #[test]
    fn clk_scoring_with_dedupe_holds_pairs_within_a_source_higher() {
        let mut candidates = Candidates {
            pairs: Vec::new(),
            best: Histogram::default(),
            best_within: Histogram::default(),
            stats: Default::default(),
            collected_at: 0.5,
            model: None,
            comparator: None,
            twins: Vec::new(),
            within_multiples: Vec::new(),
        };
        let across: Vec<f64> = (0..600)
            .map(|k| 0.52 + f64::from(k % 10) / 100.0)
            .chain((0..400).map(|k| 0.85 + f64::from(k % 10) / 100.0))
            .collect();
        candidates.best.add_bests(&across, 0.5);
        let within: Vec<f64> = (0..900)
            .map(|k| 0.5 + f64::from(k % 25) / 100.0)
            .chain([0.95; 40])
            .collect();
        candidates.best_within.add_bests(&within, 0.5);
        let mut options = LinkOptions {
            dedupe: true,
            ..LinkOptions::default()
        };
        let (t, best) = choose_threshold(&options, &candidates);
        assert!(t.used > 0.6 && t.used < 0.85, "{t:?}");
        assert!(t.within >= 0.75 && t.within <= 0.95, "{t:?}");
        assert!(best.is_some_and(|b| b.within.is_some()));
        options.threshold = Some(0.7);
        let (t, _) = choose_threshold(&options, &candidates);
        assert_eq!((t.used, t.within), (0.7, 0.7));
        options.within_threshold = Some(0.9);
        let (t, _) = choose_threshold(&options, &candidates);
        assert_eq!((t.used, t.within), (0.7, 0.9));
        options.within_threshold = None;
        options.threshold = None;
        options.dedupe = false;
        let (t, _) = choose_threshold(&options, &candidates);
        assert_eq!(t.within, t.used);
    }

    #[test]
    fn auto_blocking_widens_from_keys_to_wider_lsh_then_all_pairs_where_affordable() {
        let lsh = LshParams::default();
        let p = |tables, bits| LshParams {
            tables,
            bits,
            ..lsh
        };
        assert_eq!(
            widenings(Blocking::Keys, lsh, AUTO_WIDEN_ALL_PAIRS),
            vec![
                Blocking::KeysAndLsh(p(32, 16)),
                Blocking::KeysAndLsh(p(128, 12)),
                Blocking::KeysAndLsh(p(256, 10)),
                Blocking::None,
            ]
        );
        assert_eq!(
            widenings(Blocking::Lsh(lsh), lsh, AUTO_WIDEN_ALL_PAIRS + 1),
            vec![Blocking::Lsh(p(128, 12)), Blocking::Lsh(p(256, 10))]
        );
        assert!(widenings(Blocking::None, lsh, 0).is_empty());
    }
}
