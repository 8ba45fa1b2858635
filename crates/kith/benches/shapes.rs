//! Criterion benches of each clkhash v3 schema shape, per token: one feature per schema, 1,024-bit
//! CLKs, values that do not repeat (so the value cache stays off and every token is looked up or
//! hashed), batches of 2,048 records through `encode_many`, as `kith encode` runs them.
//!
//!     cargo bench -p kith --bench shapes
//!     benches/shapes.sh          (the same, then a table of time per token against the fastest)
//!
//! Each shape sets about 20 bits per token, so that shapes differ only in how their tokens are
//! made and found, not in how many bits they set.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kith::encode::EncodedBatch;
use kith::{Encoder, EncoderOptions, RecordInput, Schema, Scratch, Secret};

/// Distinct values each shape cycles through, and records per batch.
const VALUES: usize = 1 << 16;
const BATCH: usize = 2048;

/// A deterministic stream of pseudo-random numbers (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A name-like word of two to four syllables (so that its n-grams recur as real names' do), with
/// two letters of the serial to keep values distinct.
fn word(rng: &mut Rng, syllables: &[&str], i: usize) -> String {
    let mut w = String::new();
    for _ in 0..2 + rng.below(3) {
        w.push_str(syllables[rng.below(syllables.len() as u64) as usize]);
    }
    for d in [i % 26, i / 26 % 26] {
        w.push(char::from(b'a' + d as u8));
    }
    w
}

const SYLLABLES: [&str; 40] = [
    "an", "ber", "cha", "dal", "el", "fer", "gan", "har", "is", "jo", "ka", "li", "mar", "ni",
    "ol", "pat", "qui", "ros", "sa", "tho", "ul", "vin", "wil", "ya", "zo", "ton", "son", "ley",
    "ell", "ine", "ard", "mo", "ri", "ke", "en", "ia", "us", "by", "ck", "th",
];

/// One shape: its name, the feature's JSON, how its values are made, and its token count.
struct Shape {
    name: &'static str,
    feature: String,
    value: fn(&mut Rng, usize) -> String,
    tokens: fn(&str) -> usize,
}

fn latin(rng: &mut Rng, i: usize) -> String {
    word(rng, &SYLLABLES, i)
}

/// As `latin`, with accented letters in some syllables.
fn accented(rng: &mut Rng, i: usize) -> String {
    let mut syllables = SYLLABLES;
    for (s, a) in syllables
        .iter_mut()
        .zip(["zoë", "josé", "çan", "müll", "åsa", "øy", "bré"])
    {
        *s = a;
    }
    word(rng, &syllables, i)
}

/// A date of birth from 1920 to 2019 as year, month and day.
fn birth_date(rng: &mut Rng) -> (u64, u64, u64) {
    (1920 + rng.below(100), 1 + rng.below(12), 1 + rng.below(28))
}

fn digits8(rng: &mut Rng, _: usize) -> String {
    let (y, m, d) = birth_date(rng);
    format!("{y:04}{m:02}{d:02}")
}

fn iso_date(rng: &mut Rng, _: usize) -> String {
    let (y, m, d) = birth_date(rng);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A distinct ID-like number: one or two digits, then a serial.
fn id_number(rng: &mut Rng, i: usize) -> String {
    format!("{}{i}", 1 + rng.below(99))
}

/// One of 5,000 codes (areas, practices): recurring, but too many for the value cache.
fn area_code(rng: &mut Rng, _: usize) -> String {
    format!("E{:05}", rng.below(5000))
}

fn enum_value(rng: &mut Rng, _: usize) -> String {
    format!("v{}", rng.below(200))
}

/// One value in ten is the sentinel `N/A`, replaced by `missing`.
fn with_sentinel(rng: &mut Rng, i: usize) -> String {
    if rng.below(10) == 0 {
        "N/A".to_owned()
    } else {
        latin(rng, i)
    }
}

fn chars(v: &str) -> usize {
    v.chars().count()
}

fn bigrams(v: &str) -> usize {
    chars(v) + 1
}

fn trigrams(v: &str) -> usize {
    chars(v) + 2
}

fn positional_bigrams(v: &str) -> usize {
    chars(v) - 1
}

fn one(_: &str) -> usize {
    1
}

fn empty(_: &mut Rng, _: usize) -> String {
    String::new()
}

fn sentinel_bigrams(v: &str) -> usize {
    if v == "N/A" {
        "missing".len() + 1
    } else {
        bigrams(v)
    }
}

fn hashing(comparison: &str, strategy: &str, hash: &str) -> String {
    format!(r#""hashing": {{"comparison": {comparison}, "strategy": {strategy}, "hash": {hash}}}"#)
}

const BIGRAMS: &str = r#"{"type": "ngram", "n": 2}"#;
const POSITIONAL_1: &str = r#"{"type": "ngram", "n": 1, "positional": true}"#;
const BLAKE: &str = r#"{"type": "blakeHash"}"#;
const K20: &str = r#"{"bitsPerToken": 20}"#;

/// The shape of empty values, whose time is each record's own cost.
const RECORD_ONLY: &str = "record only (empty values)";

fn shapes() -> Vec<Shape> {
    let string = r#""format": {"type": "string"}"#;
    let feature = |format: &str, hashing: String| format!("{format}, {hashing}");
    vec![
        Shape {
            // No tokens: what a record costs whatever its fields (its bit vector, its place in
            // the batch), taken off each shape's time before dividing by its tokens.
            name: RECORD_ONLY,
            feature: feature(string, hashing(BIGRAMS, K20, BLAKE)),
            value: empty,
            tokens: one,
        },
        Shape {
            name: "bigrams, bitsPerToken",
            feature: feature(string, hashing(BIGRAMS, K20, BLAKE)),
            value: latin,
            tokens: bigrams,
        },
        Shape {
            name: "bigrams, bitsPerFeature",
            // About 11 bigrams a value: about 20 bits each.
            feature: feature(
                string,
                hashing(BIGRAMS, r#"{"bitsPerFeature": 220}"#, BLAKE),
            ),
            value: latin,
            tokens: bigrams,
        },
        Shape {
            name: "trigrams, bitsPerToken",
            feature: feature(string, hashing(r#"{"type": "ngram", "n": 3}"#, K20, BLAKE)),
            value: latin,
            tokens: trigrams,
        },
        Shape {
            name: "positional unigrams, bitsPerToken",
            feature: feature(string, hashing(POSITIONAL_1, K20, BLAKE)),
            value: digits8,
            tokens: chars,
        },
        Shape {
            name: "positional unigrams, bitsPerFeature",
            feature: feature(
                string,
                hashing(POSITIONAL_1, r#"{"bitsPerFeature": 160}"#, BLAKE),
            ),
            value: digits8,
            tokens: chars,
        },
        Shape {
            name: "positional bigrams, bitsPerFeature",
            feature: feature(
                string,
                hashing(
                    r#"{"type": "ngram", "n": 2, "positional": true}"#,
                    r#"{"bitsPerFeature": 180}"#,
                    BLAKE,
                ),
            ),
            value: latin,
            tokens: positional_bigrams,
        },
        Shape {
            name: "exact",
            feature: feature(string, hashing(r#"{"type": "exact"}"#, K20, BLAKE)),
            value: area_code,
            tokens: one,
        },
        Shape {
            name: "enum format, exact",
            feature: feature(
                &format!(
                    r#""format": {{"type": "enum", "values": [{}]}}"#,
                    (0..200)
                        .map(|i| format!("\"v{i}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                hashing(r#"{"type": "exact"}"#, K20, BLAKE),
            ),
            value: enum_value,
            tokens: one,
        },
        Shape {
            name: "integer format, positional unigrams",
            feature: feature(
                r#""format": {"type": "integer"}"#,
                hashing(POSITIONAL_1, K20, BLAKE),
            ),
            value: id_number,
            tokens: chars,
        },
        Shape {
            name: "date format, positional unigrams",
            feature: feature(
                r#""format": {"type": "date", "format": "%Y-%m-%d"}"#,
                hashing(POSITIONAL_1, K20, BLAKE),
            ),
            value: iso_date,
            tokens: chars,
        },
        Shape {
            name: "missing-value replacement, bigrams",
            feature: format!(
                r#"{string}, "hashing": {{"comparison": {BIGRAMS}, "strategy": {K20}, "hash": {BLAKE}, "missingValue": {{"sentinel": "N/A", "replaceWith": "missing"}}}}"#,
            ),
            value: with_sentinel,
            tokens: sentinel_bigrams,
        },
        Shape {
            name: "doubleHash, bigrams",
            feature: feature(string, hashing(BIGRAMS, K20, r#"{"type": "doubleHash"}"#)),
            value: latin,
            tokens: bigrams,
        },
        Shape {
            name: "doubleHash prevent_singularity, bigrams",
            feature: feature(
                string,
                hashing(
                    BIGRAMS,
                    K20,
                    r#"{"type": "doubleHash", "prevent_singularity": true}"#,
                ),
            ),
            value: latin,
            tokens: bigrams,
        },
        Shape {
            name: "utf-16 encoding, bigrams",
            feature: feature(
                r#""format": {"type": "string", "encoding": "utf-16"}"#,
                hashing(BIGRAMS, K20, BLAKE),
            ),
            value: latin,
            tokens: bigrams,
        },
        Shape {
            name: "non-ASCII values, bigrams",
            feature: feature(string, hashing(BIGRAMS, K20, BLAKE)),
            value: accented,
            tokens: bigrams,
        },
    ]
}

/// Features of the shape in each record (so that a record's fixed costs, its bit vector and
/// output bytes, weigh as little on one token as in a schema of several fields).
const FEATURES: usize = 6;

/// Shapes whose every token is new (an exact ID number): each token is hashed, so these measure
/// the hash functions, which clkhash pays for every token.
fn new_token_shapes() -> Vec<Shape> {
    let exact = r#"{"type": "exact"}"#;
    let string = r#""format": {"type": "string"}"#;
    [
        ("exact ID, blakeHash", BLAKE),
        ("exact ID, doubleHash", r#"{"type": "doubleHash"}"#),
        (
            "exact ID, doubleHash prevent_singularity",
            r#"{"type": "doubleHash", "prevent_singularity": true}"#,
        ),
    ]
    .into_iter()
    .map(|(name, hash)| Shape {
        name,
        feature: format!("{string}, {}", hashing(exact, K20, hash)),
        value: id_number,
        tokens: one,
    })
    .collect()
}

fn schema_of(shape: &Shape) -> Schema {
    let features: Vec<String> = (0..FEATURES)
        .map(|i| format!(r#"{{"identifier": "v{i}", {}}}"#, shape.feature))
        .collect();
    let text = format!(
        r#"{{"version": 3, "clkConfig": {{"l": 1024, "kdf": {{"type": "HKDF"}}}},
            "features": [{}]}}"#,
        features.join(", ")
    );
    Schema::from_json_str(&text).unwrap_or_else(|e| panic!("schema of shape {:?}: {e}", shape.name))
}

fn by_shape(c: &mut Criterion) {
    bench_shapes(c, "shapes", shapes());
    bench_shapes(c, "new tokens", new_token_shapes());
}

fn bench_shapes(c: &mut Criterion, group: &str, shapes: Vec<Shape>) {
    let secret = Secret::new(b"bench secret".to_vec()).expect("secret");
    let mut group = c.benchmark_group(group);
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for shape in shapes {
        let encoder = Encoder::new(
            &schema_of(&shape),
            &secret,
            "bench",
            &EncoderOptions::default(),
        )
        .expect("encoder");
        let mut rng = Rng(2026);
        let values: Vec<[String; FEATURES]> = (0..VALUES)
            .map(|i| std::array::from_fn(|f| (shape.value)(&mut rng, i * FEATURES + f)))
            .collect();
        let tokens: usize = values.iter().flatten().map(|v| (shape.tokens)(v)).sum();
        // Throughput in tokens: the mean of a batch's.
        group.throughput(Throughput::Elements((tokens * BATCH / VALUES) as u64));
        // The values back to back in one buffer, as `kith encode` holds a chunk of its input.
        let text: String = values.iter().flatten().map(String::as_str).collect();
        let mut at = 0;
        let cells: Vec<[&str; FEATURES]> = values
            .iter()
            .map(|r| {
                r.each_ref().map(|v| {
                    at += v.len();
                    &text[at - v.len()..at]
                })
            })
            .collect();
        let inputs: Vec<RecordInput<'_>> = cells
            .iter()
            .map(|c| RecordInput::new(c, &[], None))
            .collect();
        let mut scratch = Scratch::default();
        let mut out = EncodedBatch::default();
        let mut at = 0;
        group.bench_function(shape.name, |b| {
            // Every value must encode: a refused one would make the shape look faster than it is.
            for batch in inputs.chunks(BATCH) {
                encoder.encode_many(&mut scratch, batch, &mut out);
                assert!(
                    (0..out.len()).all(|i| out.get(i).is_ok()),
                    "shape {:?} refused a value",
                    shape.name
                );
            }
            b.iter(|| {
                encoder.encode_many(&mut scratch, &inputs[at..at + BATCH], &mut out);
                at = (at + BATCH) % VALUES;
                black_box(out.get(0).map(|r| r.clk[0]).unwrap_or(0))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, by_shape);
criterion_main!(benches);
