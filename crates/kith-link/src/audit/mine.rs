//! Pattern mining on filters: atoms of bit positions, matched to tokens, decode each filter.
//!
//! Double hashing sets a token's `k` bits at `a + i·b (mod bits)`, so every filter that holds a
//! token holds the same arithmetic progression of positions: an atom, which stands for the token
//! in every record without the key. A filter is then a set of atoms, and equal values are equal
//! sets. The attacker (Kroll & Steinmetzer 2015; Christen et al. 2018) seeds by frequency (each of
//! the largest groups is guessed to be the value with as many tokens, about as common, whose
//! tokens are as common as the group's atoms, one for one), learns
//! which atom stands for which token from the seeds (the atom found in the filters of the seeds
//! that hold the token, and not in the others), decodes every filter whose atoms all stand for
//! known tokens by looking the token set up in its dictionary, and repeats with what it decoded as
//! the seeds. Per-record noise and salting break atoms up; random hashing removes the progressions.

use rustc_hash::FxHashMap;

use super::{Dictionary, Filters, Group, Guesses};

/// Groups seeded by frequency alignment, largest first.
const SEEDS: usize = 2_000;
/// Filters that must hold a progression for it to count as a token's atom.
const MIN_SUPPORT: u32 = 2;
/// Rounds of learning and decoding.
const ROUNDS: usize = 6;
/// How far above chance an atom must follow a token over the seeds to stand for it, in standard
/// deviations of the count chance would give.
const MIN_LIFT: f64 = 4.0;
/// Atoms a group may hold beyond its value's tokens (chance progressions).
const EXTRA_ATOMS: usize = 2;

/// The `k`-term arithmetic progressions `a + i·b (mod bits)`, `b` odd, all of whose positions
/// `filter` sets, each as its sorted positions.
fn progressions(filter: &[u64], bits: usize, k: u32) -> Vec<Vec<u16>> {
    let set = |p: usize| filter[p / 64] & (1u64 << (63 - p % 64)) != 0;
    let positions: Vec<usize> = (0..bits).filter(|&p| set(p)).collect();
    let mut out = Vec::new();
    for &a in &positions {
        for b in (1..bits).step_by(2) {
            if (1..k as usize).all(|i| set((a + i * b) % bits)) {
                let mut key: Vec<u16> = (0..k as usize)
                    .map(|i| ((a + i * b) % bits) as u16)
                    .collect();
                key.sort_unstable();
                out.push(key);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Which atoms to keep: held by at least `MIN_SUPPORT` groups, and not a composite, that is a
/// progression each of whose positions belongs to another kept-so-far atom present in every group
/// this one is.
fn real_atoms(
    atom_of: &FxHashMap<Vec<u16>, u32>,
    support: &[u32],
    found: &[Vec<u32>],
    n_groups: usize,
) -> Vec<bool> {
    let n = support.len();
    let gw = n_groups.div_ceil(64);
    let mut presence = vec![0u64; n * gw];
    for (g, here) in found.iter().enumerate() {
        for &a in here {
            presence[a as usize * gw + g / 64] |= 1 << (g % 64);
        }
    }
    let mut positions: Vec<&[u16]> = vec![&[]; n];
    let mut at: FxHashMap<u16, Vec<u32>> = FxHashMap::default();
    for (key, &a) in atom_of {
        if support[a as usize] >= MIN_SUPPORT {
            positions[a as usize] = key;
            for &p in key {
                at.entry(p).or_default().push(a);
            }
        }
    }
    let set = |a: u32| &presence[a as usize * gw..(a as usize + 1) * gw];
    let within = |x: &[u64], y: &[u64]| x.iter().zip(y).all(|(a, b)| a & !b == 0);
    (0..n as u32)
        .map(|c| {
            if support[c as usize] < MIN_SUPPORT {
                return false;
            }
            let sc = set(c);
            let composite = positions[c as usize].iter().all(|p| {
                at[p].iter().any(|&o| {
                    o != c && support[o as usize] > support[c as usize] && within(sc, set(o))
                })
            });
            !composite
        })
        .collect()
}

/// Decode each filter to a dictionary value by atom mining (see the module docs); `k` is the
/// filter's bits per token, which the schema states.
pub fn mine(filters: &Filters, dict: &Dictionary, k: u32) -> Guesses {
    mine_groups(filters, &filters.groups(), dict, k)
}

/// [`mine`] on given groups of records (for filters with noise, groups of nearly equal filters
/// with the bits most members set, as [`super::similar_groups`] makes them).
pub fn mine_groups(filters: &Filters, groups: &[Group], dict: &Dictionary, k: u32) -> Guesses {
    let (value_tokens, n_tokens) = dict.token_ids(dict.entries.len());
    let mut by_tokens: FxHashMap<&[u32], u32> = FxHashMap::default();
    for (v, ids) in value_tokens.iter().enumerate() {
        // The most common value wins a shared token set.
        by_tokens.entry(ids.as_slice()).or_insert(v as u32);
    }
    // Atoms of each group.
    let bits = filters.words() * 64;
    let mut atom_of: FxHashMap<Vec<u16>, u32> = FxHashMap::default();
    let mut support: Vec<u32> = Vec::new();
    let mut found: Vec<Vec<u32>> = Vec::with_capacity(groups.len());
    for group in groups {
        let mut here: Vec<u32> = progressions(&group.bits, bits, k)
            .into_iter()
            .map(|key| {
                let next = atom_of.len() as u32;
                let id = *atom_of.entry(key).or_insert(next);
                if id as usize == support.len() {
                    support.push(0);
                }
                id
            })
            .collect();
        here.sort_unstable();
        here.dedup();
        for &a in &here {
            support[a as usize] += 1;
        }
        found.push(here);
    }
    // Progressions held by a single filter are mostly chance; so are progressions made of other
    // atoms' positions that only appear where those atoms do.
    let keep = real_atoms(&atom_of, &support, &found, groups.len());
    let group_atoms: Vec<Vec<u32>> = found
        .into_iter()
        .map(|here| here.into_iter().filter(|&a| keep[a as usize]).collect())
        .collect();
    // Seeds: each of the largest groups is the value of as many tokens whose tokens are as common
    // as its atoms, one for one in order of frequency, and which is itself about as common.
    let scale =
        groups.iter().map(|g| g.records.len()).sum::<usize>() as f64 / dict.total().max(1) as f64;
    let mut token_freq = vec![0f64; n_tokens];
    for (v, ids) in value_tokens.iter().enumerate() {
        for &t in ids {
            token_freq[t as usize] += dict.entries[v].count as f64 * scale;
        }
    }
    let mut atom_freq: FxHashMap<u32, f64> = FxHashMap::default();
    for (g, atoms) in group_atoms.iter().enumerate() {
        for &a in atoms {
            *atom_freq.entry(a).or_default() += groups[g].records.len() as f64;
        }
    }
    let profile = |mut f: Vec<f64>| {
        f.sort_by(|a, b| b.total_cmp(a));
        f.into_iter().map(|x| (x + 1.0).ln()).collect::<Vec<f64>>()
    };
    let value_profiles: Vec<Vec<f64>> = value_tokens
        .iter()
        .map(|ids| profile(ids.iter().map(|&t| token_freq[t as usize]).collect()))
        .collect();
    let mut with_token: Vec<Vec<u32>> = vec![Vec::new(); n_tokens];
    for (v, ids) in value_tokens.iter().enumerate() {
        for &t in ids {
            with_token[t as usize].push(v as u32);
        }
    }
    let mut by_len: FxHashMap<usize, Vec<u32>> = FxHashMap::default();
    for (v, ids) in value_tokens.iter().enumerate() {
        by_len.entry(ids.len()).or_default().push(v as u32);
    }
    let mut assigned: Vec<Option<u32>> = vec![None; groups.len()];
    for g in 0..groups.len().min(SEEDS) {
        let atoms = &group_atoms[g];
        // Chance progressions are the rarest atoms: a value of `m` tokens is compared with the
        // `m` most common atoms, and each atom beyond costs a little.
        let p = profile(atoms.iter().map(|a| atom_freq[a]).collect());
        let size = (groups[g].records.len() as f64 + 1.0).ln();
        let distance = |v: u32| {
            let q = &value_profiles[v as usize];
            let count = (dict.entries[v as usize].count as f64 * scale + 1.0).ln();
            p.iter().zip(q).map(|(x, y)| (x - y).abs()).sum::<f64>()
                + (size - count).abs()
                + 0.5 * (p.len() - q.len()) as f64
        };
        assigned[g] = (atoms.len().saturating_sub(EXTRA_ATOMS)..=atoms.len())
            .filter_map(|m| by_len.get(&m))
            .flatten()
            .copied()
            .min_by(|&x, &y| distance(x).total_cmp(&distance(y)).then(x.cmp(&y)));
    }
    for _ in 0..ROUNDS {
        let meaning = learn(&assigned, &group_atoms, &value_tokens, n_tokens);
        let mut decoded = vec![None; groups.len()];
        let mut tokens = Vec::new();
        for (g, atoms) in group_atoms.iter().enumerate() {
            tokens.clear();
            tokens.extend(atoms.iter().filter_map(|a| meaning.get(a).copied()));
            tokens.sort_unstable();
            tokens.dedup();
            // The atoms that stand for no known token are chance progressions or the tokens still
            // unknown: a value fits when it holds every known token and no more tokens than atoms.
            let unknown = atoms.len() - tokens.len();
            let Some(&rarest) = tokens.iter().min_by_key(|&&t| with_token[t as usize].len()) else {
                continue;
            };
            let mut fits = with_token[rarest as usize].iter().copied().filter(|&v| {
                let vt = &value_tokens[v as usize];
                vt.len() >= tokens.len()
                    && vt.len() <= tokens.len() + unknown
                    && tokens.iter().all(|t| vt.binary_search(t).is_ok())
            });
            if let (Some(v), None) = (fits.next(), fits.next()) {
                decoded[g] = Some(v);
            }
        }
        // Decoded groups seed the next round; seeds that did not decode keep their guess.
        for (a, d) in assigned.iter_mut().zip(&decoded) {
            if d.is_some() {
                *a = *d;
            }
        }
    }
    let mut guesses = vec![None; filters.len()];
    for (g, group) in groups.iter().enumerate() {
        for &r in &group.records {
            guesses[r as usize] = assigned[g];
        }
    }
    guesses
}

/// Which atom stands for which token, from the groups taken to be known values: for each token,
/// the atom whose groups best agree with the groups whose value holds the token.
fn learn(
    assigned: &[Option<u32>],
    group_atoms: &[Vec<u32>],
    value_tokens: &[Vec<u32>],
    n_tokens: usize,
) -> FxHashMap<u32, u32> {
    let mut with_token = vec![0u32; n_tokens];
    let mut with_atom: FxHashMap<u32, u32> = FxHashMap::default();
    let mut both: FxHashMap<(u32, u32), u32> = FxHashMap::default();
    for (g, v) in assigned.iter().enumerate() {
        let Some(v) = v else { continue };
        for &a in &group_atoms[g] {
            *with_atom.entry(a).or_default() += 1;
        }
        for &t in &value_tokens[*v as usize] {
            with_token[t as usize] += 1;
            for &a in &group_atoms[g] {
                *both.entry((t, a)).or_default() += 1;
            }
        }
    }
    let seeds = assigned.iter().filter(|a| a.is_some()).count().max(1) as f64;
    // Each pair's excess over chance; then tokens and atoms are matched greedily, best first.
    let mut scored: Vec<(f64, u32, u32)> = both
        .iter()
        .filter_map(|(&(t, a), &n)| {
            let expected = f64::from(with_token[t as usize]) * f64::from(with_atom[&a]) / seeds;
            let lift = (f64::from(n) - expected) / (expected + 1.0).sqrt();
            (lift >= MIN_LIFT && n >= 2).then_some((lift, t, a))
        })
        .collect();
    scored.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut meaning: FxHashMap<u32, u32> = FxHashMap::default();
    let mut token_done = vec![false; n_tokens];
    for (_, t, a) in scored {
        if token_done[t as usize] || meaning.contains_key(&a) {
            continue;
        }
        token_done[t as usize] = true;
        meaning.insert(a, t);
    }
    meaning
}
