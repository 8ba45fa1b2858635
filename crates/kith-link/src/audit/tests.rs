//! The attacks on filters made here the way kith makes field filters (bigrams, `k` bits each, by
//! double or random hashing under a key the attacker does not have), from a Zipf-shaped
//! population. Each test names what an attack must achieve, or must fail to.

use super::*;

/// A keyed hash standing in for HMAC: splitmix64 over the key and the bytes.
fn keyed(key: u64, bytes: &[u8], extra: u64) -> u64 {
    let mut x = key ^ extra.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in bytes {
        x = (x ^ u64::from(b)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 31;
    }
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn bigrams(name: &str) -> Vec<Vec<u8>> {
    let padded = format!(" {name} ");
    padded.as_bytes().windows(2).map(<[u8]>::to_vec).collect()
}

#[derive(Clone, Copy)]
enum Placing {
    Double,
    Random,
}

/// A 256-bit filter of `name`'s bigrams, 4 bits each.
fn filter(name: &str, key: u64, placing: Placing) -> Vec<u64> {
    let mut w = vec![0u64; 4];
    for t in bigrams(name) {
        let (a, b) = (keyed(key, &t, 0), keyed(key, &t, 1) | 1);
        for i in 0..4u64 {
            let bit = match placing {
                Placing::Double => a.wrapping_add(i.wrapping_mul(b)) % 256,
                Placing::Random => keyed(key, &t, 2 + i) % 256,
            } as usize;
            w[bit / 64] |= 1u64 << (63 - bit % 64);
        }
    }
    w
}

/// Names from syllables, `n` of them, the `r`-th drawn with weight `1 / (r + 3)`.
fn names(n: usize) -> Vec<String> {
    let parts = [
        "an", "bel", "cor", "da", "el", "fin", "gar", "ho", "is", "jo", "ka", "lin", "mar", "nor",
        "ol", "pe", "qui", "ros", "sa", "tor",
    ];
    (0..n)
        .map(|i| {
            let a = parts[i % parts.len()];
            let b = parts[(i / parts.len()) % parts.len()];
            let c = if i >= 200 {
                parts[(i * 7) % parts.len()]
            } else {
                ""
            };
            format!("{a}{b}{c}")
        })
        .collect()
}

/// Draw `records` names by rank weight `1 / (r + 3)` with a little seeded generator.
fn draw(pool: &[String], records: usize, seed: u64) -> Vec<String> {
    let weights: Vec<f64> = (0..pool.len()).map(|r| 1.0 / (r as f64 + 3.0)).collect();
    let total: f64 = weights.iter().sum();
    let mut state = seed;
    (0..records)
        .map(|_| {
            state = keyed(state, b"draw", 7);
            let mut x = (state >> 11) as f64 / (1u64 << 53) as f64 * total;
            for (r, w) in weights.iter().enumerate() {
                if x < *w {
                    return pool[r].clone();
                }
                x -= w;
            }
            pool[pool.len() - 1].clone()
        })
        .collect()
}

fn dictionary(values: &[String]) -> Dictionary {
    let mut counts: FxHashMap<&str, u64> = FxHashMap::default();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    Dictionary::new(
        counts
            .into_iter()
            .map(|(v, count)| Entry {
                value: v.to_owned(),
                count,
                tokens: bigrams(v),
            })
            .collect(),
    )
}

fn filters_of(values: &[String], placing: Placing) -> Filters {
    let key = 0x5ec2_e7ba_d5ee_d001;
    let bits: Vec<u64> = values
        .iter()
        .flat_map(|v| filter(v, key, placing))
        .collect();
    Filters::from_words(4, bits, vec![true; values.len()])
}

fn share(guesses: &Guesses, dict: &Dictionary, truth: &[String]) -> f64 {
    let truth: Vec<Option<&str>> = truth.iter().map(|t| Some(t.as_str())).collect();
    Success::of(guesses, dict, &truth).share()
}

#[test]
fn atom_mining_then_bootstrapping_names_most_double_hashed_filters() {
    let pool = names(400);
    let victim = draw(&pool, 20_000, 1);
    let dict = dictionary(&draw(&pool, 20_000, 2));
    let filters = filters_of(&victim, Placing::Double);
    let mined = mine(&filters, &dict, 4);
    let booted = bootstrap(&filters, &dict, 4, &mined, 0.8, Fit::Whole);
    let named = share(&booted, &dict, &victim);
    assert!(named > 0.8, "bootstrapped mining named {named:.3}");
}

#[test]
fn atom_mining_finds_nothing_in_randomly_hashed_filters() {
    let pool = names(400);
    let victim = draw(&pool, 20_000, 1);
    let dict = dictionary(&draw(&pool, 20_000, 2));
    let filters = filters_of(&victim, Placing::Random);
    let named = share(&mine(&filters, &dict, 4), &dict, &victim);
    assert!(named < 0.05, "mining named {named:.3} without progressions");
}

#[test]
fn bootstrapping_needs_no_structure_once_seeded() {
    // Seeds right for a third of the records: the bootstrap learns the tokens' random positions
    // from them and names nearly everyone.
    let pool = names(400);
    let victim = draw(&pool, 20_000, 1);
    let dict = dictionary(&draw(&pool, 20_000, 2));
    let filters = filters_of(&victim, Placing::Random);
    let index: FxHashMap<&str, u32> = dict
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.value.as_str(), i as u32))
        .collect();
    let seeds: Guesses = victim
        .iter()
        .enumerate()
        .map(|(r, v)| {
            (r % 3 == 0)
                .then(|| index.get(v.as_str()).copied())
                .flatten()
        })
        .collect();
    let named = share(
        &bootstrap(&filters, &dict, 4, &seeds, 0.8, Fit::Whole),
        &dict,
        &victim,
    );
    assert!(named > 0.9, "bootstrap named {named:.3}");
}

#[test]
fn alignment_names_the_most_common_values_by_rank() {
    // Three values with clearly different counts: ranks line up exactly.
    let victim: Vec<String> = std::iter::repeat_n("ann".to_owned(), 50)
        .chain(std::iter::repeat_n("bob".to_owned(), 30))
        .chain(std::iter::repeat_n("cy".to_owned(), 10))
        .collect();
    let dict = dictionary(&victim);
    let filters = filters_of(&victim, Placing::Random);
    assert_eq!(share(&align(&filters, &dict), &dict, &victim), 1.0);
    // Noise makes every filter differ; grouping nearly equal ones recovers the ranks.
    let mut noisy = Vec::new();
    for (r, _) in victim.iter().enumerate() {
        let mut f = filters.get(r).map(<[u64]>::to_vec).unwrap_or_default();
        f[r % 4] ^= 1u64 << (r % 64);
        noisy.extend(f);
    }
    let noisy = Filters::from_words(4, noisy, vec![true; victim.len()]);
    assert!(share(&align(&noisy, &dict), &dict, &victim) < 0.2);
    assert_eq!(
        share(&align_similar(&noisy, &dict, 0.8), &dict, &victim),
        1.0
    );
}

#[test]
fn a_repeated_year_token_groups_dates_by_year() {
    // Date filters as kith's "date" tokens make them: the year five times, month, day.
    let key = 0xda7e;
    let mut bits = Vec::new();
    let mut years = Vec::new();
    for r in 0..600u32 {
        let (y, m, d) = (1950 + r % 6, 1 + r % 12, 1 + r % 28);
        let mut w = vec![0u64; 4];
        let mut tokens: Vec<String> = (1..=5).map(|i| format!("y{i}:{y}")).collect();
        tokens.push(format!("m:{m}"));
        tokens.push(format!("d:{d}"));
        for t in tokens {
            let (a, b) = (keyed(key, t.as_bytes(), 0), keyed(key, t.as_bytes(), 1) | 1);
            for i in 0..4u64 {
                let bit = (a.wrapping_add(i.wrapping_mul(b)) % 256) as usize;
                w[bit / 64] |= 1u64 << (63 - bit % 64);
            }
        }
        bits.extend(w);
        years.push(y);
    }
    let filters = Filters::from_words(4, bits, vec![true; years.len()]);
    let classes = dates::year_classes(&filters, 15);
    // Every class holds one year, and every year is one class.
    let mut seen: FxHashMap<u32, u32> = FxHashMap::default();
    for (c, y) in classes.iter().zip(&years) {
        let c = c.expect("a class");
        assert_eq!(*seen.entry(c).or_insert(*y), *y, "class {c} mixes years");
    }
    assert_eq!(seen.len(), 6);
}

#[test]
fn group_sizes_count_records_in_small_groups() {
    let tokens = [Some(1), Some(1), Some(2), None, Some(3), Some(3), Some(3)];
    let g = groups::group_sizes("block:x", tokens, 3);
    assert_eq!(
        g,
        groups::GroupSizes {
            name: "block:x".into(),
            records: 6,
            groups: 3,
            under_k: 3,
            k: 3,
            alone: 1,
            largest: 3,
        }
    );
}

/// CLK-like filters of two name fields: 512 bits, each field's bigrams under a key of its own,
/// `k` random positions each (as keyed BLAKE2b places them), with each record's bits given to
/// `harden` before the attacker sees them.
fn clks(
    fore: &[String],
    sur: &[String],
    k: u64,
    harden: impl Fn(usize, Vec<u64>) -> Vec<u64>,
) -> Filters {
    let mut bits = Vec::new();
    let mut words = 0;
    for (r, (f, s)) in fore.iter().zip(sur).enumerate() {
        let mut w = vec![0u64; 8];
        for (key, name) in [(0xf0e, f), (0x5a2, s)] {
            for t in bigrams(name) {
                for i in 0..k {
                    let bit = (keyed(key, &t, 2 + i) % 512) as usize;
                    w[bit / 64] |= 1u64 << (63 - bit % 64);
                }
            }
        }
        let w = harden(r, w);
        words = w.len();
        bits.extend(w);
    }
    Filters::from_words(words, bits, vec![true; fore.len()])
}

/// The seedless CLK attack on `filters`, allowing for bits flipped with probability `flip`: the
/// share of each field named right.
fn attack_clks(
    filters: &Filters,
    dicts: [&Dictionary; 2],
    k: u32,
    truth: [&[String]; 2],
    flip: f64,
) -> [f64; 2] {
    let pats = patterns(filters, flip);
    let fields = dicts.map(|dict| Field { dict, k });
    let names = name_patterns(&pats, filters.len(), &fields);
    [0, 1].map(|f| {
        let seeds = decode_patterns(&pats, &names, filters.len(), f, dicts[f]);
        let booted = bootstrap(filters, dicts[f], k, &seeds, 0.9, Fit::Within);
        share(&booted, dicts[f], truth[f])
    })
}

/// Forenames and surnames of 4,000 victims, drawn independently, and the attacker's dictionaries
/// of each from other draws.
fn two_names() -> (Vec<String>, Vec<String>, [Dictionary; 2]) {
    let fore_pool = names(300);
    let sur_pool: Vec<String> = names(300).iter().map(|n| format!("{n}ley")).collect();
    let (fore, sur) = (draw(&fore_pool, 4_000, 1), draw(&sur_pool, 4_000, 3));
    let dicts = [
        dictionary(&draw(&fore_pool, 4_000, 2)),
        dictionary(&draw(&sur_pool, 4_000, 4)),
    ];
    (fore, sur, dicts)
}

#[test]
fn pattern_mining_names_many_records_of_plain_and_balanced_clks_without_seeds() {
    let (fore, sur, dicts) = two_names();
    let plain = clks(&fore, &sur, 6, |_, w| w);
    let named = attack_clks(&plain, [&dicts[0], &dicts[1]], 6, [&fore, &sur], 0.0);
    assert!(
        named.iter().all(|&x| x > 0.2),
        "plain CLKs: named {named:?}"
    );
    // Balancing appends the complement; the attacker drops it again.
    let balanced = clks(&fore, &sur, 6, |_, w| {
        let rest: Vec<u64> = w.iter().map(|x| !x).collect();
        [w, rest].concat()
    });
    let named = attack_clks(&balanced, [&dicts[0], &dicts[1]], 6, [&fore, &sur], 0.0);
    assert!(
        named.iter().all(|&x| x > 0.2),
        "balanced CLKs: named {named:?}"
    );
}

#[test]
fn per_record_noise_defeats_pattern_mining_on_clks() {
    let (fore, sur, dicts) = two_names();
    // Each bit flipped with probability 1/16 (BLIP with ε = ln 15, about 2.7).
    let noisy = clks(&fore, &sur, 6, |r, mut w| {
        for (i, x) in w.iter_mut().enumerate() {
            for b in 0..64u64 {
                if keyed(r as u64, b"blip", i as u64 * 64 + b).is_multiple_of(16) {
                    *x ^= 1 << b;
                }
            }
        }
        w
    });
    let named = attack_clks(&noisy, [&dicts[0], &dicts[1]], 6, [&fore, &sur], 1.0 / 16.0);
    assert!(
        named.iter().all(|&x| x < 0.05),
        "noisy CLKs: named {named:?}"
    );
}
