//! Pattern mining on CLKs with no seeds: find the bit patterns of frequent tokens, name them by
//! graph matching against the attacker's table, and decode each record from the tokens it holds.
//!
//! However a token's `k` bits are placed (double hashing, keyed BLAKE2b), every CLK that holds the
//! token sets all of them, so those positions are set together far more often than chance would
//! have them: a pattern. Growing a pattern from one position, each step adding the position most
//! over-represented among the records that hold the pattern so far, isolates the records of the
//! most common token there; the positions set in nearly all of them are its pattern (after
//! Christen et al. 2018, who mine such frequent bit patterns with Apriori).
//!
//! Patterns are then named by graph matching (after Vidanage et al. 2020): each pattern and each
//! token is a node with its frequency, and each pair an edge with how much more or less often the
//! two occur together than apart would give (bigrams of one name go together; two first letters of
//! one field exclude each other; tokens of different fields are independent). Starting from
//! frequency alone, each pattern is matched to the token whose frequency and edges to the tokens
//! matched so far agree best, and that is repeated. A record then holds, of the named tokens,
//! exactly those whose patterns it sets: values with that signature are its candidates, and the
//! most common is the guess, which seeds [`super::bootstrap`] on the CLKs for the rest.

use rayon::prelude::*;

use super::{Dictionary, Filters, Guesses};

/// Records patterns are grown in (a stride through the extract): enough for tokens in one record
/// in two hundred, and cheap.
const SAMPLE: usize = 8_192;
/// A pattern must be held by this share of the sampled records.
const MIN_SHARE: f64 = 0.005;
/// Steps of greedy growth before the pattern is read off: five positions leave about 0.3^5 of
/// chance records with a third of bits set.
const GROW_STEPS: usize = 5;
/// A growth step must be this many standard deviations above chance.
const MIN_Z: f64 = 6.0;
/// Positions set in this share of the pattern's records belong to it.
const CONTAIN: f64 = 0.95;
/// ... and of the pattern's records that chance would not have set it in, this share must.
const MIN_LIFT: f64 = 0.8;
/// Positions set in more records than this share are constant tokens (a date's separators) and
/// tell nothing apart.
const MAX_FILL: f64 = 0.9;
/// A column and its complement both above this share of records: neither is taken for a token's.
const AMBIGUOUS: f64 = 0.4;
/// Rounds of growth: each round looks, at every position, past the patterns already found there.
const ROUNDS: usize = 3;
/// Rounds of graph matching.
const MATCH_ROUNDS: usize = 10;
/// Patterns whose edges the matching compares, most common first.
const ANCHORS: usize = 150;
/// Starts of the matching, and how far the later ones jitter the frequencies (in natural log).
const STARTS: usize = 6;
const JITTER: f64 = 1.0;
/// Weight of the edges against the frequencies in matching.
const EDGE_WEIGHT: f64 = 4.0;

/// One bit pattern found in the CLKs: the positions it sets, and the records holding all of them.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// Positions, ascending.
    pub positions: Vec<u16>,
    /// Records holding every position, as a bit set over records.
    pub records: Vec<u64>,
    /// How many they are.
    pub count: u32,
    /// Some columns could not be used (a balanced CLK's pairs that are both near half full), so
    /// the pattern may lack some of its token's positions.
    pub partial: bool,
}

/// Bit columns: for each position, the records setting it, as a bit set over records.
struct Columns {
    cols: Vec<Vec<u64>>,
    fill: Vec<f64>,
    n: usize,
    /// Columns dropped because neither side of a complement pair could be told original.
    ambiguous: bool,
}

impl Columns {
    fn of(filters: &Filters, records: impl Iterator<Item = usize>) -> Columns {
        let bits = filters.words() * 64;
        let records: Vec<usize> = records.collect();
        let n = records.len();
        let words = n.div_ceil(64);
        let mut cols = vec![vec![0u64; words]; bits];
        for (i, &r) in records.iter().enumerate() {
            let Some(f) = filters.get(r) else { continue };
            for (w, &word) in f.iter().enumerate() {
                let mut x = word;
                while x != 0 {
                    let b = x.leading_zeros() as usize;
                    cols[w * 64 + b][i / 64] |= 1u64 << (i % 64);
                    x &= !(1u64 << (63 - b));
                }
            }
        }
        let mut fill: Vec<f64> = cols
            .iter()
            .map(|c| count(c) as f64 / n.max(1) as f64)
            .collect();
        // Balancing appends each bit's complement: a column that is exactly another's complement
        // over the records with a CLK says nothing more. The sparser of the two is taken for the
        // original, unless both are near half (then neither is used: an absence taken for a token
        // would grow false patterns).
        let mut present = vec![0u64; words];
        for (i, &r) in records.iter().enumerate() {
            if filters.get(r).is_some() {
                present[i / 64] |= 1u64 << (i % 64);
            }
        }
        let mut ambiguous = false;
        let index: rustc_hash::FxHashMap<&[u64], usize> = cols
            .iter()
            .enumerate()
            .map(|(p, c)| (c.as_slice(), p))
            .collect();
        for (p, c) in cols.iter().enumerate() {
            let complement: Vec<u64> = c.iter().zip(&present).map(|(a, m)| !a & m).collect();
            if let Some(&q) = index.get(complement.as_slice()) {
                let (f, g) = (count(c), count(&cols[q]));
                let unclear = f.min(g) as f64 > AMBIGUOUS * n as f64;
                if (f, p) > (g, q) || unclear {
                    fill[p] = 1.0;
                }
                ambiguous |= unclear;
            }
        }
        Columns {
            cols,
            fill,
            n,
            ambiguous,
        }
    }
}

fn count(x: &[u64]) -> u32 {
    x.iter().map(|w| w.count_ones()).sum()
}

fn and_count(x: &[u64], y: &[u64]) -> u32 {
    x.iter().zip(y).map(|(a, b)| (a & b).count_ones()).sum()
}

/// Grow a pattern from the records `start` (those setting position `first`, less any already
/// explained): the positions set in nearly all records the greedy steps leave.
fn grow(
    c: &Columns,
    first: usize,
    start: Vec<u64>,
    min_count: u32,
    contain: f64,
) -> Option<Vec<u16>> {
    let mut held = start;
    let mut chosen = vec![first];
    for _ in 0..GROW_STEPS {
        let n = f64::from(count(&held));
        let best = (0..c.cols.len())
            .filter(|q| !chosen.contains(q) && c.fill[*q] < MAX_FILL && c.fill[*q] > 0.0)
            .map(|q| {
                let f = c.fill[q];
                let e = n * f;
                let z = (f64::from(and_count(&held, &c.cols[q])) - e) / (e * (1.0 - f)).sqrt();
                (z, q)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))?;
        if best.0 < MIN_Z {
            break;
        }
        chosen.push(best.1);
        for (h, x) in held.iter_mut().zip(&c.cols[best.1]) {
            *h &= x;
        }
        if count(&held) < min_count {
            return None;
        }
    }
    let n = f64::from(count(&held));
    if n < f64::from(min_count) {
        return None;
    }
    // A position belongs when nearly all the pattern's records set it, and far more of them than
    // chance would (a position most records set would pass the first test alone).
    let positions: Vec<u16> = (0..c.cols.len())
        .filter(|&q| {
            let f = c.fill[q];
            let held_share = f64::from(and_count(&held, &c.cols[q])) / n;
            f < MAX_FILL && held_share >= contain && (held_share - f) / (1.0 - f) >= MIN_LIFT
        })
        .map(|q| q as u16)
        .collect();
    (positions.len() >= 2).then_some(positions)
}

/// The bit patterns of the tokens held by at least one record in two hundred, with the records
/// that hold each (see the module docs). `flip` is the probability that noise flipped a bit (the
/// schema states it: BLIP's `1 / (1 + e^ε)`, or 0): a record then holds a pattern with up to
/// `2·m·flip` (rounded up) of its `m` positions unset, and a position belongs to a pattern when
/// that much fewer of its records set it.
pub fn patterns(filters: &Filters, flip: f64) -> Vec<Pattern> {
    let contain = CONTAIN - 2.0 * flip;
    let stride = filters.len().div_ceil(SAMPLE).max(1);
    let sample = Columns::of(filters, (0..filters.len()).step_by(stride));
    let min_count = ((MIN_SHARE * sample.n as f64).ceil() as u32).max(3);
    let bits = sample.cols.len();
    let mut found: Vec<Vec<u16>> = Vec::new();
    for _ in 0..ROUNDS {
        // What the patterns found so far explain at each position.
        let explained: Vec<Vec<u64>> = (0..bits)
            .into_par_iter()
            .map(|p| {
                let mut e = vec![0u64; sample.cols[p].len()];
                for pat in found.iter().filter(|pat| pat.contains(&(p as u16))) {
                    let mut held = sample.cols[pat[0] as usize].clone();
                    for &q in &pat[1..] {
                        for (h, x) in held.iter_mut().zip(&sample.cols[q as usize]) {
                            *h &= x;
                        }
                    }
                    for (a, b) in e.iter_mut().zip(&held) {
                        *a |= b;
                    }
                }
                e
            })
            .collect();
        let mut grown: Vec<Vec<u16>> = (0..bits)
            .into_par_iter()
            .filter(|&p| sample.fill[p] < MAX_FILL)
            .filter_map(|p| {
                let start: Vec<u64> = sample.cols[p]
                    .iter()
                    .zip(&explained[p])
                    .map(|(a, b)| a & !b)
                    .collect();
                if count(&start) < min_count {
                    return None;
                }
                grow(&sample, p, start, min_count, contain)
            })
            .collect();
        grown.sort_unstable();
        grown.dedup();
        let before = found.len();
        for g in grown {
            if !found.contains(&g) {
                found.push(g);
            }
        }
        if found.len() == before {
            break;
        }
    }
    let found = clean(&sample, found);
    // Each pattern's records over the whole extract.
    let all = Columns::of(filters, 0..filters.len());
    found
        .into_par_iter()
        .map(|positions| {
            let missing = (2.0 * positions.len() as f64 * flip).ceil() as usize;
            let records = held_all_but(&all, &positions, missing);
            let count = count(&records);
            Pattern {
                positions,
                records,
                count,
                partial: all.ambiguous,
            }
        })
        .collect()
}

/// The records setting all but at most `missing` of `positions`, as a bit set: bit-sliced
/// counters of the positions each record misses, `exact[i]` holding the records missing `i`.
fn held_all_but(c: &Columns, positions: &[u16], missing: usize) -> Vec<u64> {
    let words = c.n.div_ceil(64);
    let mut exact = vec![vec![0u64; words]; missing + 1];
    exact[0].iter_mut().for_each(|w| *w = !0);
    for &q in positions {
        let col = &c.cols[q as usize];
        for i in (0..=missing).rev() {
            for w in 0..words {
                let kept = exact[i][w] & col[w];
                let lost = if i > 0 { exact[i - 1][w] & !col[w] } else { 0 };
                exact[i][w] = kept | lost;
            }
        }
    }
    let mut out = vec![0u64; words];
    for e in &exact {
        for (o, x) in out.iter_mut().zip(e) {
            *o |= x;
        }
    }
    // Bits past the last record are not records.
    if !c.n.is_multiple_of(64)
        && let Some(last) = out.last_mut()
    {
        *last &= (1u64 << (c.n % 64)) - 1;
    }
    out
}

/// Patterns less what more common patterns inside them explain: a forename's bigram that only
/// men's names hold also holds the token of their sex, and a year's second digit the first; such
/// positions belong to the more common token. Sorted, without repeats.
fn clean(sample: &Columns, found: Vec<Vec<u16>>) -> Vec<Vec<u16>> {
    let held = |pat: &[u16]| {
        let mut h = sample.cols[pat[0] as usize].clone();
        for &q in &pat[1..] {
            for (a, x) in h.iter_mut().zip(&sample.cols[q as usize]) {
                *a &= x;
            }
        }
        count(&h)
    };
    let mut by_count: Vec<(u32, Vec<u16>)> = found.into_iter().map(|p| (held(&p), p)).collect();
    by_count.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut out: Vec<(u32, Vec<u16>)> = Vec::new();
    for (n, p) in by_count {
        let mut rest = p.clone();
        for (m, q) in &out {
            if f64::from(*m) >= 1.2 * f64::from(n) && q.iter().all(|x| p.contains(x)) {
                rest.retain(|x| !q.contains(x));
            }
        }
        if rest.len() >= 2 {
            out.push((n, rest));
        }
    }
    let mut out: Vec<Vec<u16>> = out.into_iter().map(|(_, p)| p).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// One field the attacker can name tokens of: its dictionary, and the bits its tokens set in the
/// CLK (the schema's `bitsPerToken`).
#[derive(Debug)]
pub struct Field<'a> {
    /// The attacker's table for the field, with each value's CLK tokens.
    pub dict: &'a Dictionary,
    /// Bits per token.
    pub k: u32,
}

/// A token of one field: (field, token id as [`Dictionary::token_ids`] numbers them).
type Token = (usize, u32);

/// Name each pattern with a token of one of `fields`, or none, by graph matching (module docs).
pub fn name_patterns(pats: &[Pattern], records: usize, fields: &[Field<'_>]) -> Vec<Option<Token>> {
    let n = records.max(1) as f64;
    let min_freq = pats.iter().map(|p| p.count).min().unwrap_or(0) as f64 / n;
    // Tokens, their frequencies and their joint frequencies within each field.
    let mut tokens: Vec<Token> = Vec::new();
    let mut freq: Vec<f64> = Vec::new();
    let mut index: rustc_hash::FxHashMap<Token, usize> = rustc_hash::FxHashMap::default();
    let mut joint: rustc_hash::FxHashMap<(usize, usize), f64> = rustc_hash::FxHashMap::default();
    for (fi, field) in fields.iter().enumerate() {
        let (ids, n_tokens) = field.dict.token_ids(field.dict.entries.len());
        let total = field.dict.total().max(1) as f64;
        let mut f = vec![0f64; n_tokens];
        for (v, ids) in ids.iter().enumerate() {
            for &t in ids {
                f[t as usize] += field.dict.entries[v].count as f64 / total;
            }
        }
        for (t, &x) in f.iter().enumerate() {
            if x >= min_freq / 2.0 {
                index.insert((fi, t as u32), tokens.len());
                tokens.push((fi, t as u32));
                freq.push(x);
            }
        }
        for (v, ids) in ids.iter().enumerate() {
            let kept: Vec<usize> = ids
                .iter()
                .filter_map(|&t| index.get(&(fi, t)).copied())
                .collect();
            let c = field.dict.entries[v].count as f64 / total;
            for (i, &a) in kept.iter().enumerate() {
                for &b in &kept[i + 1..] {
                    *joint.entry((a.min(b), a.max(b))).or_default() += c;
                }
            }
        }
    }
    let eps = 1.0 / n;
    let token_lift = |a: usize, b: usize| {
        let j = if tokens[a].0 == tokens[b].0 {
            joint.get(&(a.min(b), a.max(b))).copied().unwrap_or(0.0)
        } else {
            freq[a] * freq[b]
        };
        ((j + eps) / (freq[a] * freq[b] + eps)).ln()
    };
    let pf: Vec<f64> = pats.iter().map(|p| f64::from(p.count) / n).collect();
    let pattern_lift: Vec<Vec<f64>> = (0..pats.len())
        .into_par_iter()
        .map(|a| {
            (0..pats.len())
                .map(|b| {
                    let j = f64::from(and_count(&pats[a].records, &pats[b].records)) / n;
                    ((j + eps) / (pf[a] * pf[b] + eps)).ln()
                })
                .collect()
        })
        .collect();
    // A pattern can be a field's token only when it has about as many positions as the field's
    // tokens set (fewer where two of a token's bits fall together), or as few as half when some
    // columns could not be used (a balanced CLK's ambiguous pairs).
    let complete = pats.iter().all(|p| !p.partial);
    let fits = |a: usize, t: usize| {
        let k = fields[tokens[t].0].k as usize;
        let m = pats[a].positions.len();
        m <= k && (m + 2 >= k || 2 * m >= k && !complete)
    };
    let base: Vec<Vec<f64>> = (0..pats.len())
        .map(|a| {
            (0..tokens.len())
                .map(|t| {
                    if fits(a, t) {
                        -(pf[a].ln() - freq[t].ln()).abs()
                    } else {
                        f64::NEG_INFINITY
                    }
                })
                .collect()
        })
        .collect();
    // The most common patterns anchor the edges: their lifts are measured best.
    let mut order: Vec<usize> = (0..pats.len()).collect();
    order.sort_by(|&a, &b| pats[b].count.cmp(&pats[a].count).then(a.cmp(&b)));
    let mut anchor = vec![false; pats.len()];
    for &a in order.iter().take(ANCHORS) {
        anchor[a] = true;
    }
    let refine = |init: &[Vec<f64>]| {
        let mut matched = greedy(init);
        for _ in 0..MATCH_ROUNDS {
            let pairs: Vec<(usize, usize)> = matched
                .iter()
                .enumerate()
                .filter(|(a, _)| anchor[*a])
                .filter_map(|(a, t)| t.map(|t| (a, t)))
                .collect();
            let score: Vec<Vec<f64>> = (0..pats.len())
                .into_par_iter()
                .map(|a| {
                    (0..tokens.len())
                        .map(|t| {
                            if base[a][t] == f64::NEG_INFINITY {
                                return f64::NEG_INFINITY;
                            }
                            let (mut sum, mut m) = (0.0, 0usize);
                            for &(b, u) in &pairs {
                                if b != a && u != t {
                                    sum -= (pattern_lift[a][b] - token_lift(t, u)).abs();
                                    m += 1;
                                }
                            }
                            base[a][t] + EDGE_WEIGHT * sum / m.max(1) as f64
                        })
                        .collect()
                })
                .collect();
            let next = greedy(&score);
            if next == matched {
                break;
            }
            matched = next;
        }
        matched
    };
    // Matching finds a local optimum: it starts again from frequencies jittered by a fixed stream,
    // and keeps the naming under which records' patterns are best explained by real values.
    let mut best: Option<(u64, Vec<Option<Token>>)> = None;
    for start in 0..STARTS {
        let init: Vec<Vec<f64>> = base
            .iter()
            .enumerate()
            .map(|(a, row)| {
                row.iter()
                    .enumerate()
                    .map(|(t, &x)| {
                        if start == 0 {
                            x
                        } else {
                            x + JITTER * (jitter(start as u64, a as u64, t as u64) - 0.5)
                        }
                    })
                    .collect()
            })
            .collect();
        let named: Vec<Option<Token>> = refine(&init)
            .into_iter()
            .map(|t| t.map(|t| tokens[t]))
            .collect();
        let explained: u64 = (0..fields.len())
            .map(|f| Signatures::new(&named, f, fields[f].dict).explained(pats, records))
            .sum();
        if best.as_ref().is_none_or(|(b, _)| explained > *b) {
            best = Some((explained, named));
        }
    }
    best.map_or_else(|| vec![None; pats.len()], |(_, named)| named)
}

/// A uniform number in [0, 1) from three integers (splitmix64).
fn jitter(a: u64, b: u64, c: u64) -> f64 {
    let mut x = a
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(b.wrapping_mul(0xbf58_476d_1ce4_e5b9))
        .wrapping_add(c.wrapping_mul(0x94d0_49bb_1331_11eb));
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// The named tokens of one field, and the most common value for each set of them a value holds.
struct Signatures {
    /// (pattern, token) of each named token of the field.
    named: Vec<(usize, u32)>,
    best: rustc_hash::FxHashMap<Vec<u64>, u32>,
}

impl Signatures {
    fn new(names: &[Option<Token>], field: usize, dict: &Dictionary) -> Self {
        let named: Vec<(usize, u32)> = names
            .iter()
            .enumerate()
            .filter_map(|(a, t)| t.filter(|t| t.0 == field).map(|t| (a, t.1)))
            .collect();
        let (ids, _) = dict.token_ids(dict.entries.len());
        let mut best = rustc_hash::FxHashMap::default();
        if !named.is_empty() {
            // Entries are most common first, so the first value of a signature is its most common.
            for (v, ids) in ids.iter().enumerate() {
                let s = Self::signature(&named, |_, t| ids.binary_search(&t).is_ok());
                best.entry(s).or_insert(v as u32);
            }
        }
        Signatures { named, best }
    }

    fn signature(named: &[(usize, u32)], has: impl Fn(usize, u32) -> bool) -> Vec<u64> {
        let mut s = vec![0u64; named.len().div_ceil(64)];
        for (i, &(a, t)) in named.iter().enumerate() {
            if has(a, t) {
                s[i / 64] |= 1 << (i % 64);
            }
        }
        s
    }

    /// Record `r`'s signature: the named tokens whose patterns it holds.
    fn of(&self, pats: &[Pattern], r: usize) -> Vec<u64> {
        Self::signature(&self.named, |a, _| {
            pats[a].records[r / 64] & (1 << (r % 64)) != 0
        })
    }

    /// Named tokens, over all records, that a value with the record's signature explains.
    fn explained(&self, pats: &[Pattern], records: usize) -> u64 {
        if self.named.is_empty() {
            return 0;
        }
        (0..records)
            .into_par_iter()
            .map(|r| {
                let s = self.of(pats, r);
                if self.best.contains_key(&s) {
                    s.iter().map(|w| u64::from(w.count_ones())).sum()
                } else {
                    0
                }
            })
            .sum()
    }
}

/// One-to-one matching of rows to columns, best score first.
fn greedy(score: &[Vec<f64>]) -> Vec<Option<usize>> {
    let mut all: Vec<(f64, usize, usize)> = score
        .iter()
        .enumerate()
        .flat_map(|(a, row)| {
            row.iter()
                .enumerate()
                .filter(|(_, s)| s.is_finite())
                .map(move |(t, &s)| (s, a, t))
        })
        .collect();
    all.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut row = vec![None; score.len()];
    let mut taken = vec![false; score.first().map_or(0, Vec::len)];
    for (_, a, t) in all {
        if row[a].is_none() && !taken[t] {
            row[a] = Some(t);
            taken[t] = true;
        }
    }
    row
}

/// Each record's guess for field `field`: of the values whose named tokens are exactly the named
/// tokens whose patterns the record holds, the most common.
pub fn decode_patterns(
    pats: &[Pattern],
    names: &[Option<Token>],
    records: usize,
    field: usize,
    dict: &Dictionary,
) -> Guesses {
    let sig = Signatures::new(names, field, dict);
    if sig.named.is_empty() {
        return vec![None; records];
    }
    (0..records)
        .map(|r| sig.best.get(&sig.of(pats, r)).copied())
        .collect()
}
