//! Threshold help without labels: the histogram of each record's best score, and the valley
//! between the non-matches and the matches.
//!
//! Most records of one source either have a true partner in the other (their best score is high)
//! or do not (their best score is whatever a stranger happens to share with them), so the best
//! scores form two humps. kith splits them where they separate best (Otsu's method: the split
//! that maximises the variance between the two groups) and then puts the threshold at the lowest
//! point of the histogram between the two humps' means.

/// Bins per unit of score.
pub const BINS: usize = 100;

/// Counts of best scores in bins of 0.01, plus records whose best score was below the floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    /// `bins[k]` counts best scores in `[k/100, (k+1)/100)`; the last bin holds exactly 1.0.
    pub bins: [u64; BINS + 1],
    /// Records whose best score was below `floor`.
    pub below: u64,
    /// The floor.
    pub floor_bin: usize,
    /// True when the best scores are those of a sample of the records, not of all.
    pub sampled: bool,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            bins: [0; BINS + 1],
            below: 0,
            floor_bin: BINS,
            sampled: false,
        }
    }
}

/// The bin of a score.
pub fn bin(score: f64) -> usize {
    ((score * BINS as f64 + 1e-9).floor().max(0.0) as usize).min(BINS)
}

impl Histogram {
    /// Add best scores; a best below `floor` (or none) counts as below.
    pub fn add_bests(&mut self, bests: &[f64], floor: f64) {
        self.floor_bin = self.floor_bin.min(bin(floor));
        for &b in bests {
            if b >= floor && b > 0.0 {
                self.bins[bin(b)] += 1;
            } else {
                self.below += 1;
            }
        }
    }

    /// Records counted.
    pub fn total(&self) -> u64 {
        self.below + self.bins.iter().sum::<u64>()
    }
}

/// A suggested threshold and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The threshold.
    pub threshold: f64,
    /// Where the two humps split (at least the threshold): the best scores above it mostly come
    /// from partners. Pairs completeness of CLK blocking with keyed blocking keys is estimated
    /// from here: between the threshold and here many pairs are a record with no partner and its
    /// likeliest stranger, which blocking rightly passes over (the strangers' hump has a long
    /// tail of relatives), while the keys find the partners there.
    pub sure: f64,
    /// The reasoning, one line each.
    pub reasons: Vec<String>,
}

/// Used when the scores give no usable valley.
pub const FALLBACK: f64 = 0.8;

/// Suggest a threshold from the best-score histogram.
pub fn suggest(h: &Histogram) -> Suggestion {
    // Scores of exactly 1 (records entered identically) are certain matches; left out of the
    // search, their spike would pull the split into the matches' hump.
    let (lo, counts) = h.counts_below_one();
    let n: f64 = counts.iter().sum();
    let at = |k: usize| (lo + k) as f64 / BINS as f64;
    let mut reasons = vec![h.looked_at("best scores")];
    if n < 2.0 {
        return too_few(reasons, "two humps");
    }
    // Otsu: the split maximising between-class variance.
    let total_mean: f64 = counts
        .iter()
        .enumerate()
        .map(|(k, c)| k as f64 * c)
        .sum::<f64>()
        / n;
    let (mut w0, mut sum0) = (0.0, 0.0);
    let (mut best_split, mut best_var) = (0usize, -1.0);
    for (k, c) in counts.iter().enumerate().take(counts.len() - 1) {
        w0 += c;
        sum0 += k as f64 * c;
        let w1 = n - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let m0 = sum0 / w0;
        let m1 = (total_mean * n - sum0) / w1;
        let var = w0 * w1 * (m0 - m1) * (m0 - m1);
        if var > best_var {
            best_var = var;
            best_split = k;
        }
    }
    let (low, high) = counts.split_at(best_split + 1);
    let mean = |part: &[f64], off: usize| {
        let w: f64 = part.iter().sum();
        part.iter()
            .enumerate()
            .map(|(k, c)| (k + off) as f64 * c)
            .sum::<f64>()
            / w.max(1.0)
    };
    let (m0, m1) = (mean(low, 0), mean(high, best_split + 1));
    let (w_low, w_high): (f64, f64) = (low.iter().sum(), high.iter().sum());
    reasons.push(format!(
        "the best scores split best at {:.2}: {} records below (centred on {:.2}, no partner) and {} above (centred on {:.2}, likely partners)",
        at(best_split + 1),
        w_low,
        (lo as f64 + m0) / BINS as f64,
        w_high,
        (lo as f64 + m1) / BINS as f64
    ));
    // Where the two humps are equally likely: a mixture of two normal curves fitted to the
    // histogram by expectation maximisation, started from the split, and the first score between
    // their centres at which the partners' curve (weighted by its share) overtakes the others'.
    // The lowest point of the histogram between them would follow noise in thin bins.
    let fit = mixture(&counts, (w_low, m0), (w_high, m1));
    // The non-partners' curve is well fitted (a tight hump); the partners' lower tail is not
    // normal. So the partners' share at a bin is what the observed count (smoothed over three
    // bins) holds beyond the non-partners' curve.
    let observed = |k: usize| {
        let (a, b) = (k.saturating_sub(1), (k + 1).min(counts.len() - 1));
        counts[a..=b].iter().sum::<f64>() / (b - a + 1) as f64
    };
    let crossing = (m0.round() as usize..=(m1.round() as usize).min(counts.len() - 1)).find(|&k| {
        let expected = fit.density(0, k as f64) * n / (2.0 * std::f64::consts::PI).sqrt();
        observed(k) >= 2.0 * expected
    });
    let valley = crossing.unwrap_or(best_split + 1);
    let threshold = at(valley.max(1));
    let sure = at((best_split + 1).max(valley).max(1));
    reasons.push(format!(
        "two normal curves fitted to the best scores (centred on {:.2} and {:.2}, sd {:.3} and {:.3}); from {:.2} up the records outnumber twice what the records with no partner account for, so a best score there more likely comes from a partner; scores from {threshold:.2} up are taken as matches",
        (lo as f64 + fit.mean[0]) / BINS as f64,
        (lo as f64 + fit.mean[1]) / BINS as f64,
        fit.sd[0] / BINS as f64,
        fit.sd[1] / BINS as f64,
        at(valley)
    ));
    if (m1 - m0) < 10.0 {
        reasons.push(
            "the two humps are close together: check the review band before trusting this".into(),
        );
    }
    Suggestion {
        threshold,
        sure,
        reasons,
    }
}

/// Bins each side of a bin that [`suggest_within`] smooths over.
const WITHIN_SMOOTH: usize = 2;

/// Suggest a threshold for pairs within one source from each record's best score against the
/// other records of its source.
///
/// There the partners' hump of [`suggest`] is not duplicates: a record's best score in its own
/// source mostly comes from a stranger or a relative (one surname, address and postcode), and
/// records with a duplicate are a few in a hundred, most of them scoring near 1. A mixture fit
/// takes the relatives for partners, so the threshold is instead the lowest point of the
/// histogram (smoothed over five bins) from its peak up to 0.93, short of the duplicates' hump:
/// where the relatives' tail has thinned out and the duplicates' hump has not begun.
pub fn suggest_within(h: &Histogram) -> Suggestion {
    let (lo, counts) = h.counts_below_one();
    let at = |k: usize| (lo + k) as f64 / BINS as f64;
    let mut reasons = vec![h.looked_at("best scores within their own source")];
    if counts.iter().sum::<f64>() < 2.0 {
        return too_few(reasons, "a valley");
    }
    let smoothed = |k: usize| {
        let (a, b) = (
            k.saturating_sub(WITHIN_SMOOTH),
            (k + WITHIN_SMOOTH).min(counts.len() - 1),
        );
        counts[a..=b].iter().sum::<f64>() / (b - a + 1) as f64
    };
    // The first of equal bins wins both searches, so that the threshold is the lowest point's
    // start: a run of empty bins up to 1 puts it where the scores ran out.
    let first_best = |range: std::ops::Range<usize>, better: fn(f64, f64) -> bool| {
        range.fold(None, |best: Option<(usize, f64)>, k| {
            let v = smoothed(k);
            match best {
                Some((_, b)) if !better(v, b) => best,
                _ => Some((k, v)),
            }
        })
    };
    let (peak, _) = first_best(0..counts.len(), |v, b| v > b).unwrap_or((0, 0.0));
    // The search stops short of 1: between the duplicates' hump and the spike at exactly 1 the
    // bins are thin again (an error changes more than a few bits).
    let end = counts
        .len()
        .saturating_sub(3 * WITHIN_SMOOTH + 1)
        .max(peak + 1);
    let valley = first_best(peak + 1..end, |v, b| v < b).map_or(peak, |(k, _)| k);
    let threshold = at(valley.max(1));
    reasons.push(format!(
        "they peak at {:.2} (strangers, and relatives: one surname, address and postcode); {} score exactly 1 (entered twice)",
        at(peak),
        h.bins[BINS]
    ));
    reasons.push(format!(
        "the histogram (smoothed over 0.05) is lowest between that peak and {:.2} at {threshold:.2}: scores from there up are taken as duplicates",
        at(end)
    ));
    Suggestion {
        threshold,
        sure: threshold,
        reasons,
    }
}

/// The suggestion when the scores are too few to see `what`: [`FALLBACK`].
fn too_few(mut reasons: Vec<String>, what: &str) -> Suggestion {
    reasons.push(format!(
        "too few scores to see {what}; using the default {FALLBACK:.2}"
    ));
    Suggestion {
        threshold: FALLBACK,
        sure: FALLBACK,
        reasons,
    }
}

/// A mixture of two normal curves over bin positions: [no partner, partner].
#[derive(Debug, Clone, Copy)]
struct Mixture {
    weight: [f64; 2],
    mean: [f64; 2],
    sd: [f64; 2],
}

impl Mixture {
    fn density(&self, c: usize, x: f64) -> f64 {
        let z = (x - self.mean[c]) / self.sd[c];
        self.weight[c] * (-0.5 * z * z).exp() / self.sd[c]
    }

    /// The share of the records at bin `x` that the partners' curve accounts for.
    fn partner_share(&self, x: f64) -> f64 {
        let (a, b) = (self.density(0, x), self.density(1, x));
        if a + b > 0.0 { b / (a + b) } else { 0.5 }
    }
}

/// Fit two normal curves to `counts` (bin positions) by expectation maximisation from the
/// (weight, mean) of each side of a split; standard deviations stay at least one bin.
fn mixture(counts: &[f64], low: (f64, f64), high: (f64, f64)) -> Mixture {
    let n: f64 = counts.iter().sum::<f64>().max(1.0);
    let spread = |m: f64, lo: usize, hi: usize| {
        let (mut w, mut v) = (0.0, 0.0);
        for (k, c) in counts.iter().enumerate().take(hi).skip(lo) {
            w += c;
            v += c * (k as f64 - m).powi(2);
        }
        (v / w.max(1.0)).sqrt().max(1.0)
    };
    let split = ((low.1 + high.1) / 2.0).round() as usize;
    let mut f = Mixture {
        weight: [low.0 / n, high.0 / n],
        mean: [low.1, high.1],
        sd: [spread(low.1, 0, split), spread(high.1, split, counts.len())],
    };
    for _ in 0..100 {
        let mut acc = [[0.0f64; 3]; 2];
        for (k, &c) in counts.iter().enumerate() {
            if c == 0.0 {
                continue;
            }
            let x = k as f64;
            let r = f.partner_share(x);
            for (side, share) in [(0, 1.0 - r), (1, r)] {
                acc[side][0] += c * share;
                acc[side][1] += c * share * x;
                acc[side][2] += c * share * x * x;
            }
        }
        for (side, [w, sx, sxx]) in acc.into_iter().enumerate() {
            if w < 1.0 {
                return f;
            }
            let m = sx / w;
            f.weight[side] = w / n;
            f.mean[side] = m;
            f.sd[side] = (sxx / w - m * m).max(1.0).sqrt();
        }
    }
    f
}

impl Histogram {
    /// The bin of the floor, and the counts from it up to (not with) the bin of exactly 1.
    fn counts_below_one(&self) -> (usize, Vec<f64>) {
        let lo = self.floor_bin.min(BINS - 1);
        (lo, self.bins[lo..BINS].iter().map(|&c| c as f64).collect())
    }

    /// The first of a suggestion's reasons: how many records' `what` were looked at.
    fn looked_at(&self, what: &str) -> String {
        format!(
            "{} records' {what} were looked at; {} had no pair scoring {:.2} or more",
            self.total(),
            self.below,
            self.floor_bin.min(BINS - 1) as f64 / BINS as f64
        )
    }

    /// Text lines of the histogram from the floor up, one per 0.02, with bars.
    pub fn render(&self) -> Vec<String> {
        let lo = self.floor_bin.min(BINS);
        let mut rows = Vec::new();
        let mut k = lo - lo % 2;
        while k <= BINS {
            let c: u64 = self.bins[k.max(lo)..(k + 2).min(BINS + 1)].iter().sum();
            rows.push((k, c));
            k += 2;
        }
        let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
        let mut out = vec![format!(
            "  below {:.2}  {:>9}",
            lo as f64 / 100.0,
            self.below
        )];
        for (k, c) in rows {
            let width = ((c as f64 / max as f64) * 50.0).ceil() as usize;
            let label = if k >= BINS {
                "     1.00".to_owned()
            } else {
                format!("{:.2}-{:.2}", k as f64 / 100.0, (k + 2) as f64 / 100.0)
            };
            out.push(format!("  {label}  {c:>9}  {}", "#".repeat(width)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Best scores within one source: a hump of relatives from the floor, thinning out by 0.8,
    /// duplicates with an error at 0.88 to 0.95 and records entered twice at 1. The mixture fit
    /// would take the relatives' upper half for duplicates; the within-source rule puts the
    /// threshold in the thin stretch between them.
    #[test]
    fn within_one_source_the_threshold_is_past_the_relatives() {
        let mut bests = Vec::new();
        for k in 0..30 {
            // 30 bins from 0.50, each count about half the one before.
            let n = (4000.0 * 0.75f64.powi(k)) as usize;
            bests.extend(std::iter::repeat_n(0.505 + k as f64 / 100.0, n));
        }
        for k in 0..8 {
            bests.extend(std::iter::repeat_n(0.885 + k as f64 / 100.0, 40));
        }
        bests.extend([1.0; 400]);
        let mut h = Histogram::default();
        h.add_bests(&bests, 0.5);
        let s = suggest_within(&h);
        assert!(s.threshold >= 0.75 && s.threshold <= 0.88, "{s:?}");
        assert!(
            suggest(&h).threshold < 0.7,
            "the mixture fit takes relatives for duplicates"
        );
        // No duplicates at all: the threshold is where the relatives' scores run out.
        let mut h = Histogram::default();
        h.add_bests(&bests[..bests.len() - 720], 0.5);
        let s = suggest_within(&h);
        assert!(s.threshold >= 0.75, "{s:?}");
        assert_eq!(h.bins[bin(s.threshold)..].iter().sum::<u64>(), 0, "{s:?}");
    }

    #[test]
    fn a_bimodal_histogram_gives_its_valley() {
        let mut h = Histogram::default();
        let mut bests = Vec::new();
        for k in 0..400 {
            bests.push(0.55 + 0.1 * ((k % 20) as f64 / 20.0)); // 0.55..0.65
        }
        for k in 0..300 {
            bests.push(0.86 + 0.1 * ((k % 13) as f64 / 13.0)); // 0.86..0.96
        }
        bests.extend([0.3; 50]);
        h.add_bests(&bests, 0.5);
        assert_eq!(h.total(), 750);
        assert_eq!(h.below, 50);
        let s = suggest(&h);
        assert!(s.threshold > 0.65 && s.threshold < 0.86, "{s:?}");
        // Pairs completeness is estimated from the split between the humps.
        assert!(s.sure >= s.threshold && s.sure < 0.86, "{s:?}");
        assert!(s.reasons.len() >= 3);
        assert!(h.render().len() > 10);
    }

    /// Partners whose best scores trail down to just above a tight no-partner hump, with a thin
    /// bin among them further up (FEBRL4 at half overlap has this shape): the threshold is where
    /// the partners start to outnumber the hump, not at the thin bin, which the lowest point of
    /// the histogram between the humps would pick.
    #[test]
    fn a_long_partner_tail_moves_the_threshold_down_to_it() {
        let mut bests = Vec::new();
        let mut put = |bin: usize, n: usize| {
            bests.extend(std::iter::repeat_n((bin as f64 + 0.5) / BINS as f64, n));
        };
        // No partner: a tight hump on 0.77.
        for (bin, n) in [
            (74, 40),
            (75, 150),
            (76, 320),
            (77, 400),
            (78, 320),
            (79, 150),
            (80, 40),
        ] {
            put(bin, n);
        }
        // Partners: 30 a bin from 0.80 to 0.99, but only 8 at 0.88.
        for bin in 80..100 {
            put(bin, if bin == 88 { 8 } else { 30 });
        }
        let mut h = Histogram::default();
        h.add_bests(&bests, 0.5);
        let t = suggest(&h).threshold;
        assert!((0.79..=0.82).contains(&t), "{t}");
    }

    #[test]
    fn too_few_scores_fall_back() {
        let mut h = Histogram::default();
        h.add_bests(&[0.1, 0.2], 0.5);
        assert_eq!(suggest(&h).threshold, FALLBACK);
    }
}
