//! What a linkage run found and decided, for the caller to print or keep: [`LinkReport`], with
//! [`LinkReport::lines`] giving the text `kith link` prints.

use std::path::PathBuf;
use std::time::Duration;

use crate::block::Blocking;
use crate::job::Unwidened;
use crate::kernel::Kernel;
use crate::link::{Candidates, FIELD_THRESHOLD, LinkOptions, Linkage, Stats};
use crate::threshold::{self, Histogram, Suggestion};
use crate::weigh::{self, Model};

/// One input as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputSummary {
    /// The file.
    pub path: PathBuf,
    /// Its party.
    pub source: String,
    /// Records read.
    pub records: usize,
    /// CLK length.
    pub bits: u32,
    /// A clkhash-json file (no fingerprint or key check to compare).
    pub clkhash_json: bool,
}

impl std::fmt::Display for InputSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "kith: read {} records of {} from {} ({} bits{})",
            self.records,
            self.source,
            self.path.display(),
            self.bits,
            if self.clkhash_json {
                ", clkhash-json"
            } else {
                ""
            }
        )
    }
}

/// Something a run reports while it goes, before its [`LinkReport`] is complete.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// An input file was read whole.
    Read(InputSummary),
    /// A chunk of the first file was linked (`--chunk`).
    Chunk {
        /// 1-based chunk number.
        number: usize,
        /// Its first and last record, 1-based.
        records: (usize, usize),
        /// The file.
        path: PathBuf,
        /// Candidate pairs kept so far.
        kept: usize,
    },
    /// `--blocking auto` widens blocking: the estimate fell short of the target.
    Widening {
        /// The blocking that fell short.
        from: Blocking,
        /// Its estimate.
        estimate: Completeness,
        /// The wider blocking scored next.
        to: Blocking,
        /// About how many comparisons its LSH makes.
        comparisons: u64,
    },
}

impl std::fmt::Display for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Progress::Read(input) => input.fmt(f),
            Progress::Chunk {
                number,
                records,
                path,
                kept,
            } => write!(
                f,
                "kith: chunk {number}: records {}-{} of {}; {kept} pairs kept so far",
                records.0,
                records.1,
                path.display()
            ),
            Progress::Widening {
                from,
                estimate,
                to,
                comparisons,
            } => write!(
                f,
                "kith: blocking {} found an estimated {:.4} of the pairs ({} of {} sampled), under {PAIRS_COMPLETENESS_TARGET}: scoring again with {} (about {comparisons} comparisons)",
                describe_blocking(*from),
                estimate.ratio(),
                estimate.found,
                estimate.all,
                describe_blocking(*to)
            ),
        }
    }
}

/// How the threshold was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdChoice {
    /// The threshold used.
    pub used: f64,
    /// The threshold given by the caller, if any.
    pub given: Option<f64>,
    /// What kith suggests: with field scoring [`FIELD_THRESHOLD`], with CLK scoring from the
    /// best-score histogram.
    pub suggested: f64,
    /// The threshold for pairs within one source: `used`, but with CLK scoring, duplicates looked
    /// for and no threshold given, the higher of it and the one suggested from each record's best
    /// score within its own source. A record has a duplicate in its own source far more rarely
    /// than a partner elsewhere, while relatives there (one surname, address and postcode) score
    /// as high as a partner with a typo: the pairs across sources would set it far too low.
    pub within: f64,
}

/// The best-score histogram of CLK scoring and the threshold it suggests.
#[derive(Debug, Clone)]
pub struct BestScores {
    /// Each record's best score against each other source.
    pub histogram: Histogram,
    /// The suggestion from it.
    pub suggestion: Suggestion,
    /// With duplicates looked for, each record's best score within its own source, and the
    /// suggestion from that.
    pub within: Option<(Histogram, Suggestion)>,
}

/// Below this estimated pairs completeness a run warns.
pub const PAIRS_COMPLETENESS_TARGET: f64 = 0.995;
/// Records per source the pairs completeness of blocking is estimated on, in every run.
pub const ESTIMATE_SAMPLE: usize = 500;
/// The same with CLK scoring, where each sampled record is compared with every record.
pub const ESTIMATE_SAMPLE_CLK: usize = 200;

/// The 95% Wilson score interval of a proportion `k / n`.
fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n, z) = (k as f64, n as f64, 1.96f64);
    let p = k / n;
    let centre = p + z * z / (2.0 * n);
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let d = 1.0 + z * z / n;
    (
        ((centre - half) / d).max(0.0),
        ((centre + half) / d).min(1.0),
    )
}

/// The measured pairs completeness of blocking (`--check-blocking`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Completeness {
    /// Records sampled per source, at most.
    pub sample: usize,
    /// Pairs all-pairs scoring would link that blocking found.
    pub found: u64,
    /// Pairs all-pairs scoring would link.
    pub all: u64,
    /// The score from which pairs were counted: the threshold, or with CLK scoring beside keyed
    /// blocking keys, where the best scores split into strangers and partners when that is
    /// higher.
    pub at: f64,
}

impl Completeness {
    /// `found / all` (1 when there is nothing to find).
    pub fn ratio(&self) -> f64 {
        if self.all == 0 {
            1.0
        } else {
            self.found as f64 / self.all as f64
        }
    }
}

/// How the first file was read in chunks (`--chunk`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSummary {
    /// The first file.
    pub path: PathBuf,
    /// Its party.
    pub source: String,
    /// Records read from it.
    pub records: usize,
    /// Chunks read.
    pub chunks: usize,
    /// Records per chunk, at most.
    pub chunk: usize,
}

/// Where the time went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timings {
    /// Reading the inputs (for a chunked run: reading and scoring).
    pub read: Duration,
    /// Finding candidates.
    pub score: Duration,
    /// The whole run, up to solving.
    pub total: Duration,
}

/// Everything a linkage run found and decided.
#[derive(Debug, Clone)]
pub struct LinkReport {
    /// The inputs, in the order given (for a chunked run, the files held in memory).
    pub inputs: Vec<InputSummary>,
    /// Set for a chunked run.
    pub chunked: Option<ChunkSummary>,
    /// How pairs were chosen.
    pub blocking: Blocking,
    /// Whether pairs were scored field by field.
    pub fields: bool,
    /// With field scoring, the CLK Dice below which a pair is not a candidate.
    pub candidate_floor: f64,
    /// The popcount kernel.
    pub kernel: Kernel,
    /// Buckets larger than this were skipped.
    pub max_bucket: usize,
    /// Counts from candidate generation.
    pub stats: Stats,
    /// Candidate pairs collected.
    pub candidates: usize,
    /// The score they were collected at.
    pub collected_at: f64,
    /// The field scoring model (of the first chunk, for a chunked run).
    pub model: Option<Model>,
    /// With field scoring and duplicates looked for, each input's share of duplicates as a
    /// multiple of the model's pooled one (see [`crate::partner::reweigh_within`]).
    pub within_multiples: Vec<f64>,
    /// With CLK scoring, the best-score histogram and its suggestion.
    pub best: Option<BestScores>,
    /// The threshold.
    pub threshold: ThresholdChoice,
    /// The measured pairs completeness, when asked for.
    pub completeness: Option<Completeness>,
    /// The pairs completeness of blocking estimated on a sample (with field scoring see
    /// [`crate::link::estimated_completeness`], with CLK scoring
    /// [`crate::link::pairs_completeness`]); `None` when every pair was compared.
    pub estimate: Option<Completeness>,
    /// Blockings `--blocking auto` tried before the one used, each with its estimate, which fell
    /// short of [`PAIRS_COMPLETENESS_TARGET`].
    pub tuning: Vec<(Blocking, Completeness)>,
    /// Why `--blocking auto` stopped widening with the estimate under the target, if it did.
    pub unwidened: Option<Unwidened>,
    /// A review threshold that was asked for (a band exists when it is below the threshold).
    pub review_asked: Option<f64>,
    /// A threshold within one source that was asked for (held at least at the threshold).
    pub within_asked: Option<f64>,
    /// Links written.
    pub links: usize,
    /// Entities of two or more records.
    pub entities: usize,
    /// Pairs in the review band.
    pub review_pairs: usize,
    /// Times (for a chunked run, `read` and `score` are both the time to read and score).
    pub timings: Timings,
}

impl LinkReport {
    /// What every run reports; the rest (chunks, model, best scores, completeness, times) empty.
    pub(crate) fn common(
        inputs: Vec<InputSummary>,
        options: &LinkOptions,
        fields: bool,
        candidates: &Candidates,
        threshold: ThresholdChoice,
        linkage: &Linkage,
    ) -> LinkReport {
        LinkReport {
            inputs,
            chunked: None,
            blocking: options.blocking,
            fields,
            candidate_floor: options.candidate_floor,
            kernel: options.kernel,
            max_bucket: options.max_bucket,
            stats: candidates.stats.clone(),
            candidates: candidates
                .pairs
                .iter()
                .filter(|c| c.score >= candidates.collected_at)
                .count(),
            collected_at: candidates.collected_at,
            model: None,
            within_multiples: candidates.within_multiples.clone(),
            best: None,
            threshold,
            completeness: None,
            estimate: None,
            tuning: Vec::new(),
            unwidened: None,
            review_asked: options.review,
            within_asked: options.within_threshold,
            links: linkage.links.len(),
            entities: linkage.groups,
            review_pairs: linkage.review.len(),
            timings: Timings::default(),
        }
    }

    /// The review band's lower bound, when there is a band (asked for, and below the threshold).
    pub fn review(&self) -> Option<f64> {
        self.review_asked.filter(|&r| r < self.threshold.used)
    }

    /// Whether kith encodings were mixed with clkhash-json files (whose schema and secret kith
    /// cannot check).
    pub fn mixed_formats(&self) -> bool {
        let kith = self.inputs.iter().filter(|i| !i.clkhash_json).count();
        kith != 0 && kith != self.inputs.len()
    }

    /// The report as `kith link` prints it (after the inputs' [`Progress::Read`] lines), one line
    /// each, up to the files written.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.chunked {
            None => self.scan_lines(&mut out),
            Some(c) => self.chunked_lines(c, &mut out),
        }
        out
    }

    fn scan_lines(&self, out: &mut Vec<String>) {
        if self.mixed_formats() {
            out.push("kith: warning: mixing kith encodings with clkhash-json files; kith cannot check that the clkhash-json files used the same schema and secret".into());
        }
        for (b, e) in &self.tuning {
            out.push(format!(
                "kith: blocking {} found an estimated {:.4} of the pairs ({} of {} sampled), under {PAIRS_COMPLETENESS_TARGET}: widened",
                describe_blocking(*b),
                e.ratio(),
                e.found,
                e.all
            ));
        }
        let s = &self.stats;
        let secs = self.timings.score.as_secs_f64();
        out.push(format!(
            "kith: blocking {}; {} comparisons of {} possible (reduction ratio {:.6}); {} candidate pairs at {} {:.2} or above; kernel {}; {:.3} s ({})",
            describe_blocking(self.blocking),
            s.comparisons,
            s.all_pairs,
            s.reduction_ratio(),
            self.candidates,
            if self.fields {
                format!("CLK Dice {:.2} and match probability", self.candidate_floor)
            } else {
                "Dice".to_owned()
            },
            self.collected_at,
            self.kernel.name(),
            secs,
            rate(s.comparisons, secs)
        ));
        self.skipped_lines(out);
        if s.possible_twins > 0 {
            out.push(format!(
                "kith: {} pairs look like twins (the date of birth agrees, the forename or sex does not) or like relatives of one name (the date of birth wholly differs, or within one holder both its year and its day and month): not linked{}",
                s.possible_twins,
                if self.review_asked.is_some() {
                    "; listed in review.csv"
                } else {
                    "; give --review-threshold to list them for review"
                }
            ));
        }
        out.extend(twin_share_warning(s.possible_twins, self.links));
        if s.exact_matches > 0 || s.vetoed > 0 {
            out.push(format!(
                "kith: {} pairs matched on exact tokens; {} CLK matches vetoed by differing exact tokens",
                s.exact_matches, s.vetoed
            ));
        }
        let t = &self.threshold;
        if let Some(model) = &self.model {
            out.extend(describe_model(model));
            if !self.within_multiples.is_empty() {
                let each: Vec<String> = self
                    .inputs
                    .iter()
                    .zip(&self.within_multiples)
                    .map(|(i, m)| format!("{} {m:.2}", i.source))
                    .collect();
                out.push(format!(
                    "kith: each source's share of duplicates, as a multiple of the pooled share within one source (fitted on its own pairs): {}",
                    each.join(", ")
                ));
            }
            out.push(match t.given {
                Some(g) => format!("kith: threshold {g:.2} (given); kith would suggest {FIELD_THRESHOLD:.2}"),
                None => format!(
                    "kith: suggested threshold {FIELD_THRESHOLD:.2}: pairs from there up are more likely matches than not, under the model"
                ),
            });
        } else if let Some(best) = &self.best {
            let h = &best.histogram;
            if h.sampled {
                out.push(format!(
                    "kith: best score against each other source, for a sample of {} records (all pairs were scored at the given threshold; the sample, from {:.2}):",
                    h.total(),
                    h.floor_bin as f64 / threshold::BINS as f64
                ));
            } else {
                out.push("kith: each record's best score against each other source:".into());
            }
            out.extend(h.render());
            match t.given {
                Some(g) => out.push(format!(
                    "kith: threshold {g:.2} (given); kith would suggest {:.2}",
                    best.suggestion.threshold
                )),
                None => {
                    out.push(format!(
                        "kith: suggested threshold {:.2}:",
                        best.suggestion.threshold
                    ));
                    out.extend(best.suggestion.reasons.iter().map(|r| format!("  - {r}")));
                }
            }
            if let Some((h, suggestion)) = &best.within {
                out.push(
                    "kith: each record's best score against the later records of its own source:"
                        .into(),
                );
                out.extend(h.render());
                if t.given.is_none() && self.within_asked.is_none() {
                    out.push(format!(
                        "kith: threshold {:.2} for pairs within one source (suggested from these {:.2}; never below the threshold across sources):",
                        t.within, suggestion.threshold
                    ));
                    out.extend(suggestion.reasons.iter().map(|r| format!("  - {r}")));
                }
            }
        }
        match (&self.estimate, self.blocking) {
            (_, Blocking::None) => out.push(
                "kith: every pair was compared, so blocking lost nothing (pairs completeness 1)"
                    .to_owned(),
            ),
            (Some(e), _) => {
                let (lo, hi) = wilson(e.found, e.all);
                let pairs = if self.fields {
                    format!(
                        "pairs they share an exact field value with and would link at {:.2}",
                        e.at
                    )
                } else if e.at > t.used {
                    format!(
                        "pairs that all-pairs scoring makes each other's best at {:.2} or more (where the best scores split into strangers and partners; from the threshold up to there many are strangers, which blocking rightly passes over)",
                        e.at
                    )
                } else {
                    format!(
                        "pairs that all-pairs scoring makes each other's best at {:.2} or more",
                        e.at
                    )
                };
                out.push(format!(
                    "kith: pairs completeness of blocking, estimated on up to {} records per source: of the {} {pairs}, blocking found {} ({:.4}; 95% interval {lo:.4} to {hi:.4})",
                    e.sample,
                    e.all,
                    e.found,
                    e.ratio()
                ));
                if e.ratio() < PAIRS_COMPLETENESS_TARGET {
                    let why = match &self.unwidened {
                        Some(Unwidened::Futile { missed }) => format!(
                            "no wider blocking that kith tries would find any of the {missed} sampled pairs it missed (their CLKs agree too little for LSH); more blocking keys in the schema would"
                        ),
                        Some(Unwidened::Costly {
                            blocking,
                            comparisons,
                            budget,
                        }) => format!(
                            "{} would find some of the pairs it missed, but at about {comparisons} comparisons (kith widens up to {budget} on its own); {} runs it",
                            describe_blocking(*blocking),
                            blocking_flags(*blocking)
                        ),
                        None => "more blocking keys in the schema, or a wider --blocking (none compares every pair), would find more".to_owned(),
                    };
                    out.push(format!(
                        "kith: warning: that is under {PAIRS_COMPLETENESS_TARGET}: {why}"
                    ));
                }
            }
            (None, _) => {}
        }
        if let Some(c) = &self.completeness {
            // The pairs that are each other's best, by match probability or CLK Dice.
            let pairs = format!(
                "pairs that all-pairs scoring makes each other's best at {:.2} or more",
                c.at
            );
            out.push(format!(
                "kith: blocking check on up to {} records per source: of the {} {pairs}, blocking found {} (pairs completeness {:.4})",
                c.sample,
                c.all,
                c.found,
                c.ratio()
            ));
        }
        match self.within_asked {
            Some(w) if w < t.within => out.push(format!(
                "kith: warning: --within-threshold {w} is below the threshold {:.2}, so pairs within one source are held at {:.2}",
                t.used, t.within
            )),
            Some(w) => out.push(format!(
                "kith: threshold {w:.2} for pairs within one source (given)"
            )),
            None => {}
        }
        if let Some(r) = self.review_asked.filter(|&r| r >= t.used) {
            out.push(format!(
                "kith: warning: --review-threshold {r} is not below the threshold {:.2}, so there is no review band{}",
                t.used,
                if self.fields {
                    " (with field scoring both are match probabilities; try 0.1)"
                } else {
                    ""
                }
            ));
        }
    }

    fn chunked_lines(&self, c: &ChunkSummary, out: &mut Vec<String>) {
        let s = &self.stats;
        out.push(format!(
            "kith: read {} records of {} from {} in {} chunks of up to {}; blocking {}; {} comparisons of {} possible (reduction ratio {:.6})",
            c.records,
            c.source,
            c.path.display(),
            c.chunks,
            c.chunk,
            describe_blocking(self.blocking),
            s.comparisons,
            s.all_pairs,
            s.reduction_ratio()
        ));
        self.skipped_lines(out);
        if let Some(m) = &self.model {
            out.push(
                "kith: field scoring model of the first chunk (each chunk fits its own):".into(),
            );
            out.extend(describe_model(m));
        }
    }

    fn skipped_lines(&self, out: &mut Vec<String>) {
        if self.stats.skipped_buckets > 0 {
            out.push(format!(
                "kith: warning: {} oversized blocking buckets (over {} records) were skipped; raise --max-bucket or use more specific keys",
                self.stats.skipped_buckets, self.max_bucket
            ));
        }
    }
}

/// Comparisons per second, in the unit that shows the figure (a small run is not "0 M").
fn rate(comparisons: u64, secs: f64) -> String {
    let per_s = comparisons as f64 / secs.max(1e-9);
    if per_s >= 1e6 {
        format!("{:.0} M comparisons/s", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.0} k comparisons/s", per_s / 1e3)
    } else {
        format!("{per_s:.0} comparisons/s")
    }
}

/// A blocking method in words.
/// Pairs set aside by the twin rule, as a share of the links, from which a run warns; and the
/// fewest set aside for the share to say anything.
const TWIN_SHARE_WARN: f64 = 0.1;
const TWIN_SHARE_MIN: u64 = 50;

/// A warning when the twin rule set aside many pairs for the links made: in a population of
/// families twins are about one person in sixty (synthetic UK populations: 1.4% of the links),
/// while FEBRL, whose duplicates replace forenames and which holds no families, sets aside 14-24%.
fn twin_share_warning(set_aside: u64, links: usize) -> Option<String> {
    let share = set_aside as f64 / links.max(1) as f64;
    (set_aside >= TWIN_SHARE_MIN && share > TWIN_SHARE_WARN).then(|| {
        format!(
            "kith: warning: the twin rule set aside {set_aside} pairs, {:.0}% as many as were linked ({links}), where twins are about one person in sixty; if these extracts hold no families, or their duplicates replace forenames, name an identity number as a personal field of the twin rule, or drop the rule (docs/schema.md)",
            100.0 * share
        )
    })
}

pub fn describe_blocking(b: Blocking) -> String {
    match b {
        Blocking::None => "none (all pairs)".into(),
        Blocking::Keys => "keyed blocking keys".into(),
        Blocking::Lsh(p) => format!("LSH ({} tables of {} bits)", p.tables, p.bits),
        Blocking::KeysAndLsh(p) => format!(
            "keyed blocking keys + LSH ({} tables of {} bits)",
            p.tables, p.bits
        ),
    }
}

/// The `kith link` flags that choose `b`.
pub fn blocking_flags(b: Blocking) -> String {
    match b {
        Blocking::None => "--blocking none".into(),
        Blocking::Keys => "--blocking keys".into(),
        Blocking::Lsh(p) => format!(
            "--blocking lsh --lsh-tables {} --lsh-bits {}",
            p.tables, p.bits
        ),
        Blocking::KeysAndLsh(p) => format!(
            "--blocking keys+lsh --lsh-tables {} --lsh-bits {}",
            p.tables, p.bits
        ),
    }
}

/// The fitted model, one line per field.
pub fn describe_model(m: &Model) -> Vec<String> {
    let mut out = vec![format!(
        "kith: field scoring model, fitted without labels on {} sampled pairs across sources and {} within ({} EM iterations; {:.2}% and {:.2}% of them look like matches; u from {} random pairs):",
        m.fitted[weigh::CROSS],
        m.fitted[weigh::WITHIN],
        m.iterations,
        100.0 * m.candidate_share[weigh::CROSS],
        100.0 * m.candidate_share[weigh::WITHIN],
        m.random_pairs
    )];
    let lowest = weigh::LEVELS[weigh::LEVELS.len() - 1];
    let bounds: Vec<String> = weigh::LEVELS
        .iter()
        .rev()
        .map(|b| format!("{b:.2}"))
        .collect();
    out.push(format!(
        "  {:<14} weight log2(m/u) at Dice <{lowest:.2} / {}+",
        "field",
        bounds.join(" / ")
    ));
    for (f, name) in m.names.iter().enumerate() {
        let w: Vec<String> = (0..weigh::NLEVELS)
            .map(|l| format!("{:+6.1}", (m.m[f][l] / m.u[f][l]).log2()))
            .collect();
        out.push(format!("  {name:<14} {}", w.join(" ")));
    }
    out.push(format!(
        "  a pair is more likely a match than not from weight {:.1} across sources (prior {:.2e}){}",
        m.even_weight(weigh::CROSS),
        m.prior[weigh::CROSS],
        if m.fitted[weigh::WITHIN] > 0 {
            format!(
                ", {:.1} within one source (prior {:.2e})",
                m.even_weight(weigh::WITHIN),
                m.prior[weigh::WITHIN]
            )
        } else {
            String::new()
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_pairs_set_aside_for_the_links_made_are_warned_of() {
        // FEBRL3 with every field and no personal field: 1,253 set aside for 5,231 links.
        let w = twin_share_warning(1253, 5231).expect("a warning");
        assert!(
            w.contains("set aside 1253 pairs, 24% as many as were linked (5231)"),
            "{w}"
        );
        // A synthetic UK population: 3,738 for 268,096 links.
        assert_eq!(twin_share_warning(3738, 268_096), None);
        // Too few to say anything, and no links at all.
        assert_eq!(twin_share_warning(20, 40), None);
        assert!(twin_share_warning(60, 0).is_some());
    }

    #[test]
    fn rates_keep_their_figure_for_small_runs() {
        assert_eq!(rate(5_000_000, 1.0), "5 M comparisons/s");
        assert_eq!(rate(30_000, 1.0), "30 k comparisons/s");
        assert_eq!(rate(120, 1.0), "120 comparisons/s");
    }
}
