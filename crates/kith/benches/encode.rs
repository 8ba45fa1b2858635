//! Criterion benches for the encoder: token hashing (blakeHash, doubleHash), whole records on the
//! 10-field benchmark schema with warm and cold caches, with each kernel the CPU has, and whole
//! records on the demo schema (kith's own shape: field filters, a rehashed CLK, blocking keys,
//! keyed tokens).
//!
//!     cargo bench -p kith --bench encode

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kith::kernel::Kernel;
use kith::{Encoder, EncoderOptions, RecordInput, Schema, Scratch, Secret};

const SCHEMA: &str = include_str!("bench-schema.json");
const DEMO_SCHEMA: &str = include_str!("../../../fixtures/demo/schema.json");

fn schema_with_hash(hash: &str) -> Schema {
    let text = format!(
        r#"{{"version": 3, "clkConfig": {{"l": 1024, "kdf": {{"type": "HKDF"}}}},
            "features": [{{"identifier": "v", "format": {{"type": "string"}},
              "hashing": {{"comparison": {{"type": "ngram", "n": 2}}, "strategy": {{"bitsPerToken": 20}}, "hash": {{"type": "{hash}"}}}}}}]}}"#
    );
    Schema::from_json_str(&text).expect("schema")
}

fn records(n: usize) -> Vec<Vec<String>> {
    let given = [
        "Olivia", "Jack", "Amelia", "Harry", "Zoë", "Noah", "Aisha", "Yusuf", "Grace", "Liam",
        "Priya", "Chidi",
    ];
    let family = [
        "Smith",
        "Khan",
        "Okafor",
        "O'Brien",
        "Murphy",
        "Wright",
        "Kowalczyk",
        "Evans",
        "Patel",
        "Nguyen",
    ];
    (0..n)
        .map(|i| {
            vec![
                given[i % given.len()].to_owned(),
                given[(i / 3) % given.len()].to_owned(),
                family[(i / 7) % family.len()].to_owned(),
                format!("{}-{:02}-{:02}", 1930 + i % 90, 1 + i % 12, 1 + i % 28),
                if i % 2 == 0 { "f" } else { "m" }.to_owned(),
                format!("{} High Street", 1 + i % 250),
                "Leeds".to_owned(),
                format!("LS{} {}AB", 1 + i % 29, i % 10),
                format!("07{:03} {:06}", i % 900 + 100, (i * 7919) % 1_000_000),
                format!("person{i}@example.org"),
            ]
        })
        .collect()
}

fn token_hashing(c: &mut Criterion) {
    let secret = Secret::new(b"bench secret".to_vec()).expect("secret");
    let mut group = c.benchmark_group("token_hashing");
    // Values of 12 CJK characters drawn from 20,000: almost every bigram is new, so each of the 13
    // tokens per value is hashed (and put in the token cache, which is part of the cost).
    for hash in ["blakeHash", "doubleHash"] {
        let schema = schema_with_hash(hash);
        let encoder =
            Encoder::new(&schema, &secret, "bench", &EncoderOptions::default()).expect("encoder");
        group.throughput(Throughput::Elements(13));
        let mut scratch = Scratch::default();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        group.bench_function(format!("{hash}/13 new tokens"), |b| {
            b.iter(|| {
                let v: String = (0..12)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        char::from_u32(0x4e00 + (state % 20_000) as u32).unwrap_or('x')
                    })
                    .collect();
                let vals = [v.as_str()];
                let r = encoder.encode(&mut scratch, &RecordInput::new(&vals, &[], None));
                black_box(r.map(|r| r.clk.len()).unwrap_or(0))
            })
        });
    }
    group.finish();
}

fn tokenising(c: &mut Criterion) {
    // Warm caches: the cost of cutting values into tokens and OR-ing cached bits.
    let secret = Secret::new(b"bench secret".to_vec()).expect("secret");
    let schema = schema_with_hash("blakeHash");
    let encoder =
        Encoder::new(&schema, &secret, "bench", &EncoderOptions::default()).expect("encoder");
    let values: Vec<String> = (0..4096).map(|i| format!("value number {i}")).collect();
    let mut scratch = Scratch::default();
    let mut i = 0;
    c.bench_function(
        "tokenising/bigrams of a 16-char value, warm token cache",
        |b| {
            b.iter(|| {
                i = (i + 1) % values.len();
                let vals = [values[i].as_str()];
                let r = encoder.encode(&mut scratch, &RecordInput::new(&vals, &[], None));
                black_box(r.map(|r| r.clk[0]).unwrap_or(0))
            })
        },
    );
}

fn whole_records(c: &mut Criterion) {
    let schema = Schema::from_json_str(SCHEMA).expect("schema");
    let secret = Secret::new(b"bench secret".to_vec()).expect("secret");
    let recs = records(100_000);
    let mut group = c.benchmark_group("records");
    group.throughput(Throughput::Elements(1));
    // With each kernel this CPU has for OR-ing token bits (`kith::kernel`).
    for kernel in Kernel::available() {
        let encoder = Encoder::new(&schema, &secret, "bench", &EncoderOptions::default())
            .expect("encoder")
            .with_kernel(kernel);
        let mut scratch = Scratch::default();
        let mut i = 0;
        let name = format!("10-field 1024-bit schema, one thread, {}", kernel.name());
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % recs.len();
                let vals: Vec<&str> = recs[i].iter().map(String::as_str).collect();
                let r = encoder.encode(&mut scratch, &RecordInput::new(&vals, &[], Some("id")));
                black_box(r.map(|r| r.clk[0]).unwrap_or(0))
            })
        });
    }
    group.finish();
}

/// Records of people through the demo schema, with a record token: every value varies, as in a
/// holder's extract, so that the value caches serve only the names that recur.
fn demo_records(c: &mut Criterion) {
    let schema = Schema::from_json_str(DEMO_SCHEMA).expect("demo schema");
    let secret = Secret::new(b"bench secret".to_vec()).expect("secret");
    let encoder =
        Encoder::new(&schema, &secret, "bench", &EncoderOptions::default()).expect("encoder");
    let recs = records(100_000);
    let inputs: Vec<String> = encoder
        .input_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let exact: Vec<Vec<String>> = (0..recs.len())
        .map(|i| {
            inputs
                .iter()
                .map(|name| match name.as_str() {
                    "nhs_number" => format!("{:010}", 4_000_000_000u64 + i as u64 * 7919),
                    "postcode" => recs[i][7].clone(),
                    "address" => recs[i][5].clone(),
                    "household_ref" => format!("H{}", i / 3),
                    _ => (i % 5 == 0).to_string(),
                })
                .collect()
        })
        .collect();
    let mut scratch = Scratch::default();
    let mut i = 0;
    let mut group = c.benchmark_group("records");
    group.throughput(Throughput::Elements(1));
    let encode = |scratch: &mut Scratch, i: usize| {
        let r = &recs[i];
        // given_name, surname, dob, sex, postcode
        let features = [&r[0], &r[2], &r[3], &r[4], &r[7]].map(String::as_str);
        let exact: Vec<&str> = exact[i].iter().map(String::as_str).collect();
        let id = i.to_string();
        let input = RecordInput::new(&features, &exact, Some(&id));
        encoder.encode(scratch, &input).map(|r| r.clk[0]).ok()
    };
    // A refused record would make the schema look faster than it is.
    assert!((0..100).all(|i| encode(&mut scratch, i).is_some()));
    group.bench_function("demo schema, one thread", |b| {
        b.iter(|| {
            i = (i + 1) % recs.len();
            black_box(encode(&mut scratch, i))
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    token_hashing,
    tokenising,
    whole_records,
    demo_records
);
criterion_main!(benches);
