//! Property and known-answer tests of the encoder: batches, caches and kernels never change the output.

use super::cache::*;
use super::token_bits::*;
use super::*;
use crate::keys::Secret;
use crate::schema::*;
use proptest::prelude::{Just, prop_assert, prop_assert_eq, prop_assume, prop_oneof, proptest};
use proptest::strategy::Strategy as _;
use proptest::test_runner::TestCaseError;

const SCHEMA: &str = r#"{"version": 3, "clkConfig": {"l": 512, "kdf": {"type": "HKDF"}},
  "features": [
    {"identifier": "name", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 12}}},
    {"identifier": "city", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2, "positional": true}, "strategy": {"bitsPerFeature": 60}, "hash": {"type": "doubleHash"}}},
    {"identifier": "code", "format": {"type": "string"}, "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 9}}}],
  "kith": {"version": 1, "normalize": {"name": "name"}, "exact": {"nhs": {"normalize": "nhs_number"}}}}"#;

fn encoder() -> Encoder {
    encoder_for(
        &Schema::from_json_str(SCHEMA).expect("schema"),
        b"property secret",
    )
}

/// An encoder of `schema` for party "p" with default options.
fn encoder_for(schema: &Schema, secret: &[u8]) -> Encoder {
    let secret = Secret::new(secret.to_vec()).expect("secret");
    Encoder::new(schema, &secret, "p", &EncoderOptions::default()).expect("encoder")
}

fn encode_with(e: &Encoder, scratch: &mut Scratch, r: &[String; 3]) -> EncodedRecord {
    let values = [r[0].as_str(), r[1].as_str(), r[2].as_str()];
    let input = RecordInput {
        alternatives: &[],
        features: &values,
        exact: &["943 476 5919"],
        local_id: Some(&r[0]),
    };
    e.encode(scratch, &input).expect("encodes").clone()
}

fn record() -> impl proptest::strategy::Strategy<Value = [String; 3]> {
    // Few distinct values, so that the caches are hit, plus arbitrary Unicode.
    let word = prop_oneof![
        Just("ann".to_owned()),
        Just("Zoë".to_owned()),
        Just("".to_owned()),
        "[a-z]{0,6}",
        "\\PC{0,8}",
    ];
    [word.clone(), word.clone(), word].prop_map(|w| w)
}

const BATCH_SCHEMA: &str = r#"{"version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
  "features": [
    {"identifier": "name", "format": {"type": "string", "maxLength": 6}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 15}}},
    {"identifier": "dob", "format": {"type": "date", "format": "%Y-%m-%d"}, "hashing": {"comparison": {"type": "ngram", "n": 1, "positional": true}, "strategy": {"bitsPerToken": 8}}, "missingValue": {"sentinel": ""}},
    {"identifier": "code", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerFeature": 40}, "hash": {"type": "doubleHash"}}}],
  "kith": {"version": 1, "exact": {"nhs": {"normalize": "nhs_number"}}}}"#;

fn batch_record() -> impl proptest::strategy::Strategy<Value = [String; 4]> {
    let name = prop_oneof![Just("ann".to_owned()), Just("".to_owned()), "[a-z]{0,8}"];
    let dob = prop_oneof![
        Just("2001-02-03".to_owned()),
        Just("".to_owned()),
        Just("2001-02-30".to_owned())
    ];
    let code = prop_oneof![Just("zz".to_owned()), "\\PC{0,6}"];
    let nhs = prop_oneof![
        Just("943 476 5919".to_owned()),
        Just("".to_owned()),
        Just("123".to_owned())
    ];
    (name, dob, code, nhs).prop_map(|(a, b, c, d)| [a, b, c, d])
}

proptest! {
    /// Encoding a batch feature by feature, with shared caches, gives every record exactly
    /// what encoding it alone with a fresh scratch gives, refusals included.
    #[test]
    fn a_batch_gives_each_record_what_it_gets_alone(records in proptest::collection::vec(batch_record(), 0..30), rounds in 1usize..3) {
        let schema = Schema::from_json_str(BATCH_SCHEMA).expect("schema");
        let secret = Secret::new(b"batch secret".to_vec()).expect("secret");
        let e = Encoder::new(&schema, &secret, "p", &EncoderOptions::default()).expect("encoder");
        let mut many = Scratch::default();
        let mut batch = EncodedBatch::default();
        for _ in 0..rounds {
            let inputs: Vec<(Vec<&str>, [&str; 1])> = records
                .iter()
                .map(|r| (vec![r[0].as_str(), r[1].as_str(), r[2].as_str()], [r[3].as_str()]))
                .collect();
            let inputs: Vec<RecordInput<'_>> = inputs
                .iter()
                .zip(&records)
                .map(|((f, x), r)| RecordInput { alternatives: &[], features: f, exact: x, local_id: Some(r[0].as_str()) })
                .collect();
            e.encode_many(&mut many, &inputs, &mut batch);
            prop_assert_eq!(batch.len(), inputs.len());
            for (i, input) in inputs.iter().enumerate() {
                let mut one = Scratch::default();
                match e.encode(&mut one, input) {
                    Ok(rec) => {
                        prop_assert_eq!(batch.get(i).ok(), Some(rec));
                        prop_assert_eq!(batch.outcomes(i), one.outcomes());
                    }
                    Err(err) => prop_assert_eq!(batch.get(i).err(), Some(&err)),
                }
            }
        }
    }

    /// The caches in a reused scratch never change a result: every record encodes exactly as it
    /// does with a fresh scratch.
    #[test]
    fn caches_never_change_the_output(records in proptest::collection::vec(record(), 1..40)) {
        let e = encoder();
        let mut shared = Scratch::default();
        for r in &records {
            let warm = encode_with(&e, &mut shared, r);
            let cold = encode_with(&e, &mut Scratch::default(), r);
            prop_assert_eq!(warm, cold);
        }
    }

    /// A CLK is the OR of its fields: adding a value to an empty field only sets bits.
    #[test]
    fn adding_a_value_only_sets_bits(r in record(), extra in "[a-z]{1,8}") {
        let e = encoder();
        let mut s = Scratch::default();
        let without = encode_with(&e, &mut s, &[r[0].clone(), r[1].clone(), String::new()]);
        let with = encode_with(&e, &mut s, &[r[0].clone(), r[1].clone(), extra]);
        prop_assert_eq!(without.clk.len(), 64);
        for (a, b) in without.clk.iter().zip(&with.clk) {
            prop_assert_eq!(a & !b, 0, "a bit was cleared");
        }
        prop_assert!(with.clk.iter().map(|b| b.count_ones()).sum::<u32>() > without.clk.iter().map(|b| b.count_ones()).sum::<u32>());
    }

    /// Normalisation makes spelling variants of a name encode identically.
    #[test]
    fn name_variants_share_a_clk(name in "[a-z]{1,10}", pad in " {0,3}") {
        let e = encoder();
        let mut s = Scratch::default();
        let a = encode_with(&e, &mut s, &[name.clone(), "x".into(), "y".into()]);
        let b = encode_with(&e, &mut s, &[format!("{pad}{}{pad}", name.to_uppercase()), "x".into(), "y".into()]);
        prop_assert_eq!(a.clk, b.clk);
    }
}

proptest! {
    /// Different values never share an inline value-cache key (a shared key would hand one
    /// value the other's bits). Two letters and the NUL byte make near misses likely.
    #[test]
    fn inline_value_keys_tell_values_apart(a in "[ab\u{0}]{0,25}", b in "[ab\u{0}]{0,25}", at in 0usize..25) {
        // Near misses of `a`: one byte added, dropped or changed, and an unrelated `b`.
        let mut flipped = a.clone().into_bytes();
        if let Some(x) = flipped.get_mut(at) {
            *x = if *x == b'a' { b'b' } else { b'a' };
        }
        let flipped = String::from_utf8(flipped).unwrap_or_default();
        let near = [format!("{a}\u{0}"), format!("\u{0}{a}"), a.chars().skip(1).collect(), flipped, b];
        for other in &near {
            match (short_value_key(&a), short_value_key(other)) {
                (Some(ka), Some(kb)) => prop_assert_eq!(ka == kb, a == *other, "{:?} {:?}", a, other),
                _ => prop_assert!(a.len() > 24 || other.len() > 24),
            }
        }
    }
}

proptest! {
    /// Different tokens of up to seven bytes never share a one-word token-map key, and tokens of
    /// eight bytes or more have none. Near misses as above.
    #[test]
    fn word_keys_tell_tokens_apart(a in "[ab\u{0}]{0,9}", b in "[ab\u{0}]{0,9}", at in 0usize..9) {
        let mut flipped = a.clone().into_bytes();
        if let Some(x) = flipped.get_mut(at) {
            *x = if *x == b'a' { b'b' } else { b'a' };
        }
        let near = [
            format!("{a}\u{0}").into_bytes(),
            format!("\u{0}{a}").into_bytes(),
            a.as_bytes().iter().skip(1).copied().collect(),
            flipped,
            b.into_bytes(),
        ];
        let a = a.into_bytes();
        prop_assert_eq!(word_key(&a).is_some(), a.len() <= 7);
        for other in &near {
            if let (Some(ka), Some(kb)) = (word_key(&a), word_key(other)) {
                prop_assert_eq!(ka == kb, a == *other, "{:?} {:?}", a, other);
            }
        }
    }
}

/// The 1,024-bit CLK that `tokens` give, each `(bytes, k)` hashed alone: what a feature's value
/// must encode to, whichever path the encoder takes.
fn clk_of_tokens(
    hasher: &crate::hash::TokenHasher,
    tokens: impl IntoIterator<Item = (Vec<u8>, usize)>,
) -> Vec<u8> {
    let mut want = [0u64; 16];
    for (token, k) in tokens {
        let mut indices = Vec::new();
        hasher.indices(&token, k as u32, 1024, &mut indices);
        for b in indices {
            want[(b / 64) as usize] |= 1u64 << (63 - b % 64);
        }
    }
    want.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// The CLK `e` gives a record whose one feature holds `v`.
fn clk_of_value(e: &Encoder, scratch: &mut Scratch, v: &str) -> Vec<u8> {
    let input = RecordInput {
        alternatives: &[],
        features: &[v],
        exact: &[],
        local_id: None,
    };
    e.encode(scratch, &input).expect("encodes").clk.clone()
}

/// The token hasher of `e`'s first feature.
fn first_hasher(e: &Encoder) -> &crate::hash::TokenHasher {
    match &e.features[0].hashing {
        Some((_, hasher)) => hasher,
        None => panic!("the feature is hashed"),
    }
}

/// Encode `values` in turn with one scratch under a schema of one feature of plain ASCII `n`-grams
/// of `k` bits: each CLK must be the OR of its padded windows' bits, hashed one token at a time.
fn windows_set_their_bits(n: usize, k: usize, values: &[&String]) -> Result<(), TestCaseError> {
    let schema = Schema::from_json_str(&format!(
        r#"{{"version": 3, "clkConfig": {{"l": 1024, "kdf": {{"type": "HKDF"}}}},
          "features": [{{"identifier": "a", "format": {{"type": "string"}}, "hashing": {{"comparison": {{"type": "ngram", "n": {n}}}, "strategy": {{"bitsPerToken": {k}}}}}}}]}}"#,
    ))
    .expect("schema");
    let e = encoder_for(&schema, b"windows");
    let mut scratch = Scratch::default();
    let pad = " ".repeat(n - 1);
    for v in values {
        let padded = format!("{pad}{v}{pad}");
        let windows = padded.as_bytes().windows(n).filter(|_| !v.is_empty());
        let want = clk_of_tokens(first_hasher(&e), windows.map(|w| (w.to_vec(), k)));
        prop_assert_eq!(
            clk_of_value(&e, &mut scratch, v),
            want,
            "{:?} ({} bytes)",
            v,
            v.len()
        );
    }
    Ok(())
}

proptest! {
    /// ASCII bigrams take the fast paths (keys in one go up to `ASCII_RUN` bigrams, one by one
    /// beyond; a fresh table, then a warm one): the CLK is still the OR of each padded
    /// window's `k` bits, as hashed one token at a time.
    #[test]
    fn ascii_bigrams_set_each_window_s_bits(values in proptest::collection::vec("[ -~]{0,150}", 1..6)) {
        windows_set_their_bits(2, 7, &values.iter().collect::<Vec<_>>())?;
    }

    /// ASCII trigrams find their slots through the token map in groups (found, then made, then
    /// OR-ed together; values that share windows meet a warm map): the same holds.
    #[test]
    fn ascii_trigrams_set_each_window_s_bits(values in proptest::collection::vec("[a-d ]{0,80}", 1..8)) {
        windows_set_their_bits(3, 9, &values.iter().chain(&values).collect::<Vec<_>>())?;
    }
}

proptest! {
    /// Positional unigrams with `bitsPerFeature` take the per-length tables (values of up to 64
    /// bytes; longer ones and non-ASCII ones the general path): the CLK is still the OR of each
    /// `"{i + 1} {c}"` token's share of the feature's bits, as hashed one token at a time.
    #[test]
    fn positional_unigrams_share_the_feature_s_bits(values in proptest::collection::vec("[0-9a-c]{0,70}|[0-9é]{1,5}", 1..8)) {
        let schema = Schema::from_json_str(
            r#"{"version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
              "features": [{"identifier": "a", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 1, "positional": true}, "strategy": {"bitsPerFeature": 50}}}]}"#,
        )
        .expect("schema");
        let e = encoder_for(&schema, b"positions");
        let mut scratch = Scratch::default();
        for v in &values {
            let n = v.chars().count();
            let tokens = v.chars().enumerate().map(|(t, c)| {
                (format!("{} {c}", t + 1).into_bytes(), 50 / n + usize::from(t < 50 % n))
            });
            let want = clk_of_tokens(first_hasher(&e), tokens);
            prop_assert_eq!(clk_of_value(&e, &mut scratch, v), want, "{:?} ({} bytes)", v, v.len());
        }
    }
}

proptest! {
    /// Positional bigrams with `bitsPerFeature` keep each token's indices once, for the largest
    /// share asked, and take a smaller share's first ones: the CLK is still the OR of each
    /// `"{t + 1} {window}"` token's share, as hashed one token at a time, whatever the order of
    /// longer and shorter values (more and fewer bits a token) and however the hash makes them.
    #[test]
    fn positional_bigrams_share_the_feature_s_bits(
        values in proptest::collection::vec("[a-c]{1,3}|[0-9a-c]{4,40}|[a-cé]{1,5}", 1..12),
        double in proptest::bool::ANY,
    ) {
        let hash = if double { r#"{"type": "doubleHash"}"# } else { r#"{"type": "blakeHash"}"# };
        let schema = Schema::from_json_str(&format!(
            r#"{{"version": 3, "clkConfig": {{"l": 1024, "kdf": {{"type": "HKDF"}}}},
              "features": [{{"identifier": "a", "format": {{"type": "string"}}, "hashing": {{"comparison": {{"type": "ngram", "n": 2, "positional": true}}, "strategy": {{"bitsPerFeature": 150}}, "hash": {hash}}}}}]}}"#,
        ))
        .expect("schema");
        let e = encoder_for(&schema, b"positions");
        let mut scratch = Scratch::default();
        for v in &values {
            // Padded with a space each side, as clkhash pads n-grams.
            let chars: Vec<char> = std::iter::once(' ').chain(v.chars()).chain(std::iter::once(' ')).collect();
            let n = chars.len() - 1;
            let tokens = chars.windows(2).enumerate().map(|(t, w)| {
                (format!("{} {}{}", t + 1, w[0], w[1]).into_bytes(), 150 / n + usize::from(t < 150 % n))
            });
            let want = clk_of_tokens(first_hasher(&e), tokens);
            prop_assert_eq!(clk_of_value(&e, &mut scratch, v), want, "{:?} ({} bytes)", v, v.len());
        }
    }
}

proptest! {
    /// UTF-16 and UTF-32 features take the ASCII fast paths for ASCII values (tables keyed by the
    /// ASCII token, which is hashed in the feature's encoding), and the general path for others,
    /// in one scratch: the CLK is still the OR of each token's bits as clkhash hashes it (the
    /// token in that encoding, with its byte-order mark).
    #[test]
    fn wide_encodings_hash_each_token_in_its_encoding(
        values in proptest::collection::vec("[0-9a-c]{1,12}|[a-cé]{1,6}", 1..8),
        utf32 in proptest::bool::ANY,
        positional in proptest::bool::ANY,
    ) {
        let (encoding, enc) = if utf32 { ("utf-32", TextEncoding::Utf32) } else { ("utf-16", TextEncoding::Utf16) };
        let (comparison, strategy) = if positional {
            (r#"{"type": "ngram", "n": 1, "positional": true}"#, r#"{"bitsPerFeature": 50}"#)
        } else {
            (r#"{"type": "ngram", "n": 2}"#, r#"{"bitsPerToken": 7}"#)
        };
        let schema = Schema::from_json_str(&format!(
            r#"{{"version": 3, "clkConfig": {{"l": 1024, "kdf": {{"type": "HKDF"}}}},
              "features": [{{"identifier": "a", "format": {{"type": "string", "encoding": "{encoding}"}}, "hashing": {{"comparison": {comparison}, "strategy": {strategy}}}}}]}}"#,
        ))
        .expect("schema");
        let e = encoder_for(&schema, b"wide");
        let mut scratch = Scratch::default();
        for v in &values {
            let chars: Vec<char> = v.chars().collect();
            let tokens: Vec<(String, usize)> = if positional {
                let n = chars.len();
                chars.iter().enumerate().map(|(t, c)| (format!("{} {c}", t + 1), 50 / n + usize::from(t < 50 % n))).collect()
            } else {
                let padded: Vec<char> = std::iter::once(' ').chain(chars.iter().copied()).chain(std::iter::once(' ')).collect();
                padded.windows(2).map(|w| (w.iter().collect(), 7)).collect()
            };
            let encoded = tokens.into_iter().map(|(token, k)| {
                let mut bytes = Vec::new();
                super::value::encode_token(enc, &token, &mut bytes).expect("encodes");
                (bytes, k)
            });
            let want = clk_of_tokens(first_hasher(&e), encoded);
            prop_assert_eq!(clk_of_value(&e, &mut scratch, v), want, "{:?}", v);
        }
    }
}

proptest! {
    /// N-grams of UTF-8 text beyond ASCII are the windows of whole characters, hashed where they
    /// lie: the CLK is the OR of each window's bits (its share with `bitsPerFeature`), as hashed
    /// one token at a time.
    #[test]
    fn non_ascii_ngrams_are_windows_of_characters(
        values in proptest::collection::vec("\\PC{1,12}", 1..8),
        n in 1usize..4,
        per_feature in proptest::bool::ANY,
    ) {
        let strategy = if per_feature { r#"{"bitsPerFeature": 60}"# } else { r#"{"bitsPerToken": 7}"# };
        let schema = Schema::from_json_str(&format!(
            r#"{{"version": 3, "clkConfig": {{"l": 1024, "kdf": {{"type": "HKDF"}}}},
              "features": [{{"identifier": "a", "format": {{"type": "string"}}, "hashing": {{"comparison": {{"type": "ngram", "n": {n}}}, "strategy": {strategy}}}}}]}}"#,
        ))
        .expect("schema");
        let e = encoder_for(&schema, b"characters");
        let mut scratch = Scratch::default();
        for v in &values {
            let pad = std::iter::repeat_n(' ', n - 1);
            let padded: Vec<char> = pad.clone().chain(v.chars()).chain(pad).collect();
            let count = padded.len() + 1 - n;
            let tokens = padded.windows(n).enumerate().map(|(t, w)| {
                let k = if per_feature { 60 / count + usize::from(t < 60 % count) } else { 7 };
                (w.iter().collect::<String>().into_bytes(), k)
            });
            let want = clk_of_tokens(first_hasher(&e), tokens);
            prop_assert_eq!(clk_of_value(&e, &mut scratch, v), want, "{:?}", v);
        }
    }
}

/// Each row's values as `&str`s, for [`feature_inputs`].
fn cells_of<const N: usize>(rows: &[[String; N]]) -> Vec<[&str; N]> {
    rows.iter()
        .map(|r| r.each_ref().map(String::as_str))
        .collect()
}

/// One input per row of feature values, without exact identifiers or local IDs.
fn feature_inputs<'a, const N: usize>(rows: &'a [[&'a str; N]]) -> Vec<RecordInput<'a>> {
    rows.iter()
        .map(|r| RecordInput {
            alternatives: &[],
            features: r,
            exact: &[],
            local_id: None,
        })
        .collect()
}

/// When a new token empties the full arena in the middle of a group, the group's slots found
/// before are stale and are found again: the bits OR-ed are those of the tokens.
#[test]
fn or_slots_finds_a_group_again_when_the_arena_is_emptied() {
    let e = encoder();
    let Some((_, hasher)) = &e.features[0].hashing else {
        panic!("the first feature is hashed");
    };
    let (k, nw) = (12, 8);
    let dense = DenseTokens {
        kernel: e.kernel,
        hasher,
        k,
        big_l: e.big_l,
        nw,
        ascii_as: TextEncoding::Utf8,
    };
    let mut cache = FeatureCache {
        dense: vec![0; (CACHE_LIMIT - 1) * nw],
        ..FeatureCache::default()
    };
    let tokens = [&b"ab"[..], b"cd", b"ef", b"gh"];
    let mut indices = Vec::new();
    let mut out = [0u64; 8];
    or_slots(
        e.kernel,
        &mut cache,
        &mut out[..],
        8,
        tokens.len(),
        |_, _| 0,
        |cache, i| dense.new_slot(cache, &mut indices, tokens[i]),
    );
    assert_eq!(cache.dense_generation, 1, "the arena was emptied once");
    let mut want = [0u64; 8];
    for t in tokens {
        indices.clear();
        hasher.indices(t, k as u32, e.big_l, &mut indices);
        for &b in &indices {
            want[(b / 64) as usize] |= 1u64 << (63 - b % 64);
        }
    }
    assert_eq!(out, want);
}

/// More distinct tokens than a thread's token arena holds (non-ASCII bigrams fill it, ASCII
/// values and dates then find their tokens by direct index): every record, encoded in batches
/// with one scratch as `kith encode` does, gets exactly what it gets alone with a fresh one.
#[test]
fn a_full_token_arena_never_changes_the_output() {
    let schema = Schema::from_json_str(
        r#"{"version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
          "features": [
            {"identifier": "name", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 5}}},
            {"identifier": "code", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 1, "positional": true}, "strategy": {"bitsPerToken": 5}}}]}"#,
    )
    .expect("schema");
    let e = encoder_for(&schema, b"arena");
    let cjk = |i: usize| char::from_u32(0x4e00 + (i % 20_000) as u32).unwrap_or('x');
    let values: Vec<[String; 2]> = (0..20_000)
        .map(|i| {
            if i % 2 == 0 {
                // ASCII: bigrams and positional unigrams by direct index, many of them new.
                let v: String = (0..8)
                    .map(|j| char::from(b' ' + ((i * 7919 + j * 104_729) % 95) as u8))
                    .collect();
                [v.clone(), v]
            } else {
                // Three new bigrams and positional tokens per value.
                let v: String = [cjk(i * 3), cjk(i * 3 + 1), cjk(i * 3 + 2)]
                    .iter()
                    .collect();
                [v.clone(), v]
            }
        })
        .collect();
    let cells = cells_of(&values);
    assert_batches_match_alone(&e, &feature_inputs(&cells), 256);
}

/// Encode `inputs` in batches of `size` with one scratch, as `kith encode` does, and check that
/// every record gets exactly what it gets alone with a fresh one; the scratch, for its caches.
fn assert_batches_match_alone(e: &Encoder, inputs: &[RecordInput<'_>], size: usize) -> Scratch {
    let mut scratch = Scratch::default();
    let mut batch = EncodedBatch::default();
    for (b, chunk) in inputs.chunks(size).enumerate() {
        e.encode_many(&mut scratch, chunk, &mut batch);
        for (j, input) in chunk.iter().enumerate() {
            let alone = e
                .encode(&mut Scratch::default(), input)
                .expect("ok")
                .clk
                .clone();
            assert_eq!(
                batch.get(j).expect("ok").clk,
                alone,
                "record {}",
                b * size + j
            );
        }
    }
    scratch
}

/// Exact values (a plain string, an enumerated one, one with a missing-value sentinel) encode
/// alike whether their value cache is on or has gone off for values that never repeat, and as
/// their one token's bits.
#[test]
fn exact_values_are_their_one_token_with_the_value_cache_on_or_off() {
    let exact = |id: &str, format: &str, extra: &str| {
        format!(
            r#"{{"identifier": "{id}", "format": {format}, "hashing": {{"comparison": {{"type": "exact"}}, "strategy": {{"bitsPerToken": 9}}{extra}}}}}"#
        )
    };
    let values: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
    let enumerated = format!(
        r#"{{"type": "enum", "values": [{}]}}"#,
        values
            .iter()
            .map(|v| format!("{v:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let schema = Schema::from_json_str(&format!(
        r#"{{"version": 3, "clkConfig": {{"l": 1024, "kdf": {{"type": "HKDF"}}}}, "features": [{}, {}, {}]}}"#,
        exact("id", r#"{"type": "string"}"#, ""),
        exact("kind", &enumerated, ""),
        exact("code", r#"{"type": "string"}"#, r#", "missingValue": {"sentinel": "N/A", "replaceWith": "none"}"#),
    ))
    .expect("schema");
    let e = encoder_for(&schema, b"exact");
    let rows: Vec<[String; 3]> = (0..3 * CACHE_TRIAL as usize)
        .map(|i| {
            let code = if i % 7 == 0 {
                "N/A".to_owned()
            } else {
                format!("E{:05}", i * 7919 % 90_000)
            };
            [format!("id-{i}"), values[i % values.len()].clone(), code]
        })
        .collect();
    let cells = cells_of(&rows);
    let scratch = assert_batches_match_alone(&e, &feature_inputs(&cells), 512);
    let caches = &scratch.work.caches;
    assert!(
        caches[0].values_off && caches[2].values_off,
        "values that never repeat: cache off"
    );
    assert!(!caches[1].values_off, "40 values: cache on");
    // The sentinel is hashed as its replacement.
    let clk = |code: &str| {
        let row = [["id-0", "v0", code]];
        let input = &feature_inputs(&row)[0];
        e.encode(&mut Scratch::default(), input)
            .expect("ok")
            .clk
            .clone()
    };
    assert_eq!(clk("N/A"), clk("none"));
    // The one token's bits, as the token hasher gives them.
    let one = encoder_for(
        &Schema::from_json_str(&format!(
            r#"{{"version": 3, "clkConfig": {{"l": 1024, "kdf": {{"type": "HKDF"}}}}, "features": [{}]}}"#,
            exact("id", r#"{"type": "string"}"#, "")
        ))
        .expect("schema"),
        b"exact",
    );
    let Some((_, hasher)) = &one.features[0].hashing else {
        panic!("hashed");
    };
    let mut indices = Vec::new();
    hasher.indices(b"id-7", 9, one.big_l, &mut indices);
    let mut want = vec![0u8; 128];
    for &b in &indices {
        want[(b / 8) as usize] |= 0x80 >> (b % 8);
    }
    let only_id = one
        .encode(&mut Scratch::default(), &feature_inputs(&[["id-7"]])[0])
        .expect("ok")
        .clk
        .clone();
    assert_eq!(only_id, want);
}

/// The value cache stays on for a feature of a few thousand values, whose cold first trial hits
/// rarely but whose cache soon holds every value; it goes off in the first trial for values
/// that never repeat, and in the second for a few common values among many rare ones. The
/// lookup that ends each losing trial is a hit, whose slot goes with the cache.
#[test]
fn the_value_cache_stays_on_only_where_it_will_hit() {
    let bigrams = |id: &str| {
        format!(
            r#"{{"identifier": "{id}", "format": {{"type": "string"}}, "hashing": {{"comparison": {{"type": "ngram", "n": 2}}, "strategy": {{"bitsPerToken": 5}}}}}}"#
        )
    };
    let schema = Schema::from_json_str(&format!(
        r#"{{"version": 3, "clkConfig": {{"l": 1024, "kdf": {{"type": "HKDF"}}}}, "features": [{}, {}, {}, {}]}}"#,
        bigrams("address"),
        bigrams("phone"),
        bigrams("name"),
        bigrams("town"),
    ))
    .expect("schema");
    let e = encoder_for(&schema, b"trial");
    let mut state = 2026u64;
    let mut draw = |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let values: Vec<[String; 4]> = (0..CACHE_WARM_END as usize + 256)
        .map(|i| {
            // 4,000 addresses (house 1-200 on 20 streets) drawn at random: about 12% of the
            // first trial's lookups hit. Later nearly all would, but 4,000 values' bits are
            // too many to keep (see CACHE_KEEP_HITS).
            let house = draw(4000);
            // 500 towns drawn at random: over half the first trial's lookups hit.
            let town = draw(500);
            // Two names in five from 100, the rest new: 30% hits in the first trial, 40% in
            // the second, whose last lookup (number CACHE_WARM_END) is a repeat of a name
            // seen 500 records before (after the cache, full of rare names, was last emptied).
            let name = if i % 5 == 0 || i % 5 == 3 {
                format!("common {}", i / 5 % 100)
            } else {
                format!("rare {i}")
            };
            // Telephone numbers never repeat, but for the last lookup of the first trial.
            let phone = if i + 1 == CACHE_TRIAL as usize {
                0
            } else {
                i * 7919
            };
            [
                format!("{} Street {}", house % 200 + 1, house / 200),
                format!("07{phone:09}"),
                name,
                format!("Town {town}"),
            ]
        })
        .collect();
    let cells = cells_of(&values);
    let inputs = feature_inputs(&cells);
    let mut scratch = Scratch::default();
    let mut batch = EncodedBatch::default();
    let mut first_trial_hits = None;
    for (c, chunk) in inputs.chunks(256).enumerate() {
        e.encode_many(&mut scratch, chunk, &mut batch);
        // The batches that end a trial give what a fresh scratch gives.
        let end = (c + 1) * 256;
        if [CACHE_TRIAL, CACHE_WARM_START, CACHE_WARM_END].contains(&(end as u32)) {
            for (j, input) in chunk.iter().enumerate() {
                let mut fresh = Scratch::default();
                let alone = e.encode(&mut fresh, input).expect("ok");
                assert_eq!(
                    batch.get(j).expect("ok").clk,
                    alone.clk,
                    "record {}",
                    c * 256 + j
                );
            }
        }
        let address = &scratch.work.caches[0];
        if address.lookups >= CACHE_TRIAL && first_trial_hits.is_none() {
            first_trial_hits = Some(address.hits);
        }
    }
    let [address, phone, name, town] = &scratch.work.caches[..] else {
        panic!("four features");
    };
    assert!(
        first_trial_hits.is_some_and(|h| h > CACHE_TRIAL / 16 && h < CACHE_KEEP_HITS),
        "addresses repeat in the first trial, but too rarely: {first_trial_hits:?}"
    );
    // A cache that is off stops counting: each lookup count tells which trial ended it.
    assert!(address.values_off, "{} hits", address.hits);
    assert_eq!(address.lookups, CACHE_TRIAL);
    assert!(phone.values_off, "{} hits", phone.hits);
    assert_eq!(phone.lookups, CACHE_TRIAL);
    assert!(name.values_off, "{} hits", name.hits);
    assert_eq!(
        name.lookups, CACHE_WARM_END,
        "the name cache passed the first trial"
    );
    assert!(!town.values_off, "{} hits", town.hits);
    assert!(
        town.values.len() <= 500,
        "each town once: {}",
        town.values.len()
    );
}

#[test]
fn a_scratch_moved_to_another_encoder_forgets_the_old_caches() {
    let schema = Schema::from_json_str(SCHEMA).expect("schema");
    let mut s = Scratch::default();
    let input = RecordInput {
        alternatives: &[],
        features: &["ann", "leeds", "x"],
        exact: &[""],
        local_id: None,
    };
    let mut clks = Vec::new();
    for secret in [&b"first secret"[..], b"second secret", b"first secret"] {
        // Each encoder is dropped before the next is made, so they may share an address.
        let e = encoder_for(&schema, secret);
        clks.push(e.encode(&mut s, &input).expect("ok").clk.clone());
    }
    assert_ne!(clks[0], clks[1], "different secrets, different CLKs");
    assert_eq!(clks[0], clks[2]);
}

const FIELD_SCHEMA: &str = r#"{"version": 3, "clkConfig": {"l": 512, "kdf": {"type": "HKDF"}},
  "features": [
    {"identifier": "first", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 12}}},
    {"identifier": "last", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 12}}},
    {"identifier": "dob", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 1, "positional": true}, "strategy": {"bitsPerToken": 8}}}],
  "kith": {"version": 1, "normalize": {"first": "name", "last": "name"},
    "fields": {"first": {"bits": 256, "k": 4, "group": "name"}, "last": {"bits": 256, "k": 4, "group": "name"}, "dob": {"bits": 128}},
    "twins": {"differ": "first", "agree": ["dob", "last"]}}}"#;

fn field_filters(e: &Encoder, s: &mut Scratch, values: [&str; 3]) -> Vec<Option<Vec<u8>>> {
    let input = RecordInput {
        alternatives: &[],
        features: &values,
        exact: &[],
        local_id: None,
    };
    e.encode(s, &input).expect("encodes").fields.clone()
}

proptest! {
    /// Field filters: one per field, `bits / 8` bytes, at most k bits per token, the same for
    /// every holder, and crosswise equal within a key group (a forename typed as the surname
    /// gives the surname's filter). A missing value gives no filter.
    #[test]
    fn field_filters_follow_the_schema(first in "[a-z]{1,9}", last in "[a-z]{1,9}", dob in "[0-9]{8}") {
        let schema = Schema::from_json_str(FIELD_SCHEMA).expect("schema");
        let secret = Secret::new(b"field secret".to_vec()).expect("secret");
        let a = Encoder::new(&schema, &secret, "council", &EncoderOptions::default()).expect("encoder");
        let b = Encoder::new(&schema, &secret, "health", &EncoderOptions::default()).expect("encoder");
        let mut s = Scratch::default();
        let fa = field_filters(&a, &mut s, [&first, &last, &dob]);
        let fb = field_filters(&b, &mut s, [&last.to_uppercase(), &first, &dob]);
        prop_assert_eq!(fa.len(), 3);
        let lens: Vec<usize> = fa.iter().map(|f| f.as_ref().map_or(0, Vec::len)).collect();
        // Filters come in the order of the schema's `fields` object: dob, first, last.
        prop_assert_eq!(lens, vec![16, 32, 32]);
        prop_assert_eq!(&fa[1], &fb[2], "the forename's filter, typed as the surname");
        prop_assert_eq!(&fa[2], &fb[1]);
        prop_assert_eq!(&fa[0], &fb[0]);
        let ones: u32 = fa[1].as_ref().map_or(0, |f| f.iter().map(|b| b.count_ones()).sum());
        prop_assert!(ones >= 1 && ones as usize <= 4 * (first.len() + 1));
        let missing = field_filters(&a, &mut s, ["", &last, &dob]);
        prop_assert_eq!(&missing[1], &None);
        let other = Encoder::new(&schema, &Secret::new(b"another secret".to_vec()).expect("secret"), "council", &EncoderOptions::default()).expect("encoder");
        prop_assert!(field_filters(&other, &mut s, [&first, &last, &dob])[0] != fa[0], "filters are keyed");
    }
}

/// An encoder of one date feature `dob` with the field filter `spec` (JSON), and a function
/// from a date to its filter.
fn date_filter(spec: &str) -> impl FnMut(&str) -> Vec<u8> {
    let schema = Schema::from_json_str(&format!(
        r#"{{"version": 3, "clkConfig": {{"l": 512, "kdf": {{"type": "HKDF"}}}},
          "features": [{{"identifier": "dob", "format": {{"type": "date", "format": "%Y-%m-%d"}},
            "hashing": {{"comparison": {{"type": "ngram", "n": 1, "positional": true}}, "strategy": {{"bitsPerToken": 8}}}}}}],
          "kith": {{"version": 1, "normalize": {{"dob": "date"}}, "fields": {{"dob": {spec}}}}}}}"#
    ))
    .expect("schema");
    let secret = Secret::new(b"date secret".to_vec()).expect("secret");
    let e = Encoder::new(&schema, &secret, "p", &EncoderOptions::default()).expect("encoder");
    let mut s = Scratch::default();
    move |v: &str| {
        let input = RecordInput {
            alternatives: &[],
            features: &[v],
            exact: &[],
            local_id: None,
        };
        e.encode(&mut s, &input).expect("encodes").fields[0]
            .clone()
            .unwrap_or_else(|| panic!("no filter for {v}"))
    }
}

/// The Dice coefficient of two filters' bytes.
fn byte_dice(a: &[u8], b: &[u8]) -> f64 {
    let ones = |x: &[u8]| x.iter().map(|b| b.count_ones()).sum::<u32>();
    let both: u32 = a.iter().zip(b).map(|(x, y)| (x & y).count_ones()).sum();
    2.0 * f64::from(both) / f64::from(ones(a) + ones(b))
}

/// `"tokens": "date"`: a swapped day and month, or a day one out, keeps a date's filter
/// close; another year, even one digit out, takes it far (positional characters, the CLK's
/// tokens, rate 1945 as close to 1940 as the 4th to the 3rd).
#[test]
fn date_field_filters_keep_swaps_and_day_errors_close_and_other_years_far() {
    let mut filter = date_filter(r#"{"bits": 256, "k": 4, "tokens": "date"}"#);
    let dice = byte_dice;
    for (date, close, far) in [
        (
            "03/02/1970",
            ["02/03/1970", "04/02/1970", "03/01/1970"],
            ["03/02/1971", "03/02/1907"],
        ),
        (
            "25/06/1956",
            ["26/06/1956", "25/07/1956", "24/06/1956"],
            ["25/06/1971", "25/06/1965"],
        ),
        (
            "09/04/1940",
            ["04/09/1940", "10/04/1940", "09/05/1940"],
            ["09/04/1945", "09/04/2040"],
        ),
    ] {
        let f = filter(date);
        assert_eq!(f.len(), 32);
        assert!(f.iter().map(|b| b.count_ones()).sum::<u32>() <= 8 * 4);
        let iso = format!("{}-{}-{}", &date[6..], &date[3..5], &date[..2]);
        assert_eq!(filter(&iso), f, "one date, one filter");
        for c in close {
            let d = dice(&f, &filter(c));
            assert!((0.6..0.95).contains(&d), "{date} and {c}: {d}");
        }
        for o in far {
            let d = dice(&f, &filter(o));
            assert!(d < 0.5, "{date} and {o}: {d}");
        }
    }
}

/// `"tokens": "date_parts"`: the year and the day and month go to the two halves of the filter,
/// so that each can be compared alone. A year one out keeps the year half close (and the day and
/// month half whole); two years out, less; a swapped day and month or a day one out keep the
/// day-and-month half part way; another day and month leaves it far.
#[test]
fn date_parts_filters_keep_year_slips_and_day_month_slips_apart() {
    let mut filter =
        date_filter(r#"{"bits": 512, "k": 4, "tokens": "date_parts", "hash": "random"}"#);
    let dice = byte_dice;
    // (year half, day-and-month half) Dice of two dates.
    let mut parts = |a: &str, b: &str| {
        let (fa, fb) = (filter(a), filter(b));
        assert_eq!(fa.len(), 64);
        (dice(&fa[..32], &fb[..32]), dice(&fa[32..], &fb[32..]))
    };
    for (a, b, year, day_month) in [
        ("03/02/1970", "03/02/1970", 1.0..=1.0, 1.0..=1.0),
        ("03/02/1970", "03/02/1971", 0.45..=0.75, 1.0..=1.0),
        ("25/06/1956", "25/06/1955", 0.45..=0.75, 1.0..=1.0),
        ("25/06/1956", "25/06/1958", 0.15..=0.45, 1.0..=1.0),
        ("25/06/1956", "25/06/1976", 0.0..=0.2, 1.0..=1.0),
        ("03/02/1970", "02/03/1970", 1.0..=1.0, 0.25..=0.55),
        ("25/06/1956", "26/06/1956", 1.0..=1.0, 0.25..=0.55),
        // One month in common: one token of eight, and chance collisions of the others' bits.
        ("25/06/1956", "11/06/1956", 1.0..=1.0, 0.0..=0.35),
        ("25/06/1956", "14/09/1956", 1.0..=1.0, 0.0..=0.3),
    ] {
        let (y, dm) = parts(a, b);
        assert!(year.contains(&y), "{a} and {b}: year half {y}");
        assert!(
            day_month.contains(&dm),
            "{a} and {b}: day-and-month half {dm}"
        );
    }
}

#[test]
fn tokens_depend_on_party_and_id_but_exact_tokens_only_on_the_value() {
    let schema = Schema::from_json_str(SCHEMA).expect("schema");
    let secret = Secret::new(b"property secret".to_vec()).expect("secret");
    let a = Encoder::new(&schema, &secret, "council", &EncoderOptions::default()).expect("encoder");
    let b = Encoder::new(&schema, &secret, "health", &EncoderOptions::default()).expect("encoder");
    assert_ne!(a.record_token("1"), b.record_token("1"));
    assert_ne!(a.record_token("1"), a.record_token("2"));
    assert_eq!(a.key_check(), b.key_check());
    let mut s = Scratch::default();
    let input = RecordInput {
        alternatives: &[],
        features: &["x", "y", "z"],
        exact: &["9434765919"],
        local_id: None,
    };
    let ea = a.encode(&mut s, &input).expect("ok").exact.clone();
    let input = RecordInput {
        alternatives: &[],
        features: &["x", "y", "z"],
        exact: &["943-476-5919"],
        local_id: None,
    };
    let eb = b.encode(&mut s, &input).expect("ok").exact.clone();
    assert_eq!(ea, eb);
    assert!(ea[0].is_some());
    let input = RecordInput {
        alternatives: &[],
        features: &["x", "y", "z"],
        exact: &["9434765918"],
        local_id: None,
    };
    assert_eq!(
        a.encode(&mut s, &input).expect("ok").exact,
        vec![None],
        "invalid NHS number"
    );
    assert_eq!(s.outcomes()[3], FieldOutcome::Invalid);
}

/// The dwelling token is the postcode and the premise: one dwelling written two ways gives one
/// token, whoever holds it; a neighbour or another flat of the building another. The street token
/// tells apart two dwellings of one postcode and number on two streets. The register token groups
/// only its own holder's records. Flags carry yes, no, or unreadable.
#[test]
fn household_tokens_tell_dwellings_apart_and_registers_stay_with_their_holder() {
    let schema = Schema::from_json_str(
        r#"{"version": 3, "clkConfig": {"l": 64, "kdf": {"type": "HKDF"}},
          "features": [{"identifier": "postcode", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 2}}}],
          "kith": {"version": 1, "normalize": {"postcode": "postcode"},
            "household": {"dwelling": {"postcode": "postcode", "address": "address"}, "register": "ref"},
            "criteria": {"absence": {}, "offending": {}}}}"#,
    )
    .expect("schema");
    let secret = Secret::new(b"property secret".to_vec()).expect("secret");
    let not_held = EncoderOptions {
        criteria_not_held: ["offending".to_owned()].into(),
        ..EncoderOptions::default()
    };
    let a = Encoder::new(&schema, &secret, "council", &EncoderOptions::default()).expect("a");
    let b = Encoder::new(&schema, &secret, "health", &not_held).expect("b");
    assert_eq!(a.house_names(), ["dwelling", "street", "register"]);
    assert_eq!(a.criteria_names(), ["absence", "offending"]);
    assert_eq!(b.criteria_names(), ["absence"]);
    let mut s = Scratch::default();
    let mut enc = |e: &Encoder, pc: &str, address: &str, r: &str, flags: [&str; 2]| {
        let out = e
            .encode(
                &mut s,
                &RecordInput {
                    alternatives: &[],
                    features: &[pc],
                    exact: &[address, r, flags[0], flags[1]],
                    local_id: None,
                },
            )
            .expect("ok");
        (out.house.clone(), out.flags.clone())
    };
    let (h1, f1) = enc(
        &a,
        "M1 1AA",
        "Flat 3, Mill House, Mill Lane",
        "HR1",
        ["Y", ""],
    );
    let (h2, f2) = enc(&b, "m11aa", "FLAT 3 MILL HOUSE", "HR1", ["1", "junk"]);
    assert_eq!(h1[0], h2[0], "one dwelling written two ways");
    assert_eq!(h1[1], h2[1], "one street written two ways");
    assert!(h1[0].is_some() && h1[1].is_some());
    assert_ne!(
        h1[2], h2[2],
        "a register reference means something only to its holder"
    );
    assert_eq!(f1, [Some(true), Some(false)]);
    assert_eq!(f2, [Some(true)], "offending is not held by health");
    let (h3, _) = enc(
        &a,
        "M1 1AA",
        "Flat 4, Mill House, Mill Lane",
        "HR1",
        ["", ""],
    );
    let (h4, _) = enc(
        &a,
        "M1 1AB",
        "Flat 3, Mill House, Mill Lane",
        "HR1",
        ["", ""],
    );
    let (h6, _) = enc(&a, "M1 1AA", "3 Oak Avenue", "HR2", ["", ""]);
    assert_ne!(h1[0], h3[0], "another flat");
    assert_eq!(h1[1], h3[1], "another flat on the street");
    assert_ne!(h1[0], h4[0], "another postcode");
    assert_ne!(h1[1], h4[1], "the street in another postcode");
    assert_eq!(h1[0], h6[0], "one postcode and number");
    assert_ne!(h1[1], h6[1], "on another street");
    assert_eq!(h1[2], h3[2], "one holder's register reference");
    let (h5, f5) = enc(&a, "", "3 Mill House", "", ["maybe", "no"]);
    assert_eq!(h5, [None, None, None]);
    assert_eq!(f5, [None, Some(false)]);
    assert_eq!(s.outcomes()[3], FieldOutcome::Invalid);
}

/// `FIELD_SCHEMA` with `extra` added to the surname's (`last`) filter.
fn hardened(extra: &str) -> Schema {
    let text = FIELD_SCHEMA.replace(
        r#""last": {"bits": 256, "k": 4, "group": "name"}"#,
        &format!(r#""last": {{"bits": 256, "k": 4, "group": "name", {extra}}}"#),
    );
    Schema::from_json_str(&text).expect("schema")
}

/// The surname filter of one record with local ID `id`.
fn last_filter(e: &Encoder, s: &mut Scratch, values: [&str; 3], id: &str) -> Vec<u8> {
    let input = RecordInput {
        alternatives: &[],
        features: &values,
        exact: &[],
        local_id: Some(id),
    };
    let rec = e.encode(s, &input).expect("encodes");
    rec.fields[2].clone().expect("a surname filter")
}

fn ones(f: &[u8]) -> u32 {
    f.iter().map(|b| b.count_ones()).sum()
}

fn hamming(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

proptest! {
    /// Tokens are what a filter is made of: two values give equal filters exactly when
    /// `filter_tokens` gives them equal token sets (what `kith audit`'s attacker relies on).
    #[test]
    fn equal_token_sets_are_equal_filters(a in "[a-c]{1,4}", b in "[a-c]{1,4}") {
        let schema = Schema::from_json_str(FIELD_SCHEMA).expect("schema");
        let e = encoder_for(&schema, b"token secret");
        let mut s = Scratch::default();
        let fa = last_filter(&e, &mut s, ["x", &a, "1"], "1");
        let fb = last_filter(&e, &mut s, ["x", &b, "1"], "2");
        let set = |v: &str| {
            let mut t = crate::encode::filter_tokens(&schema, "last", v).expect("tokens");
            t.sort();
            t.dedup();
            t
        };
        prop_assert_eq!(fa == fb, set(&a) == set(&b));
    }

    /// Random hashing: still a function of the value and the key, at most k bits a token, and
    /// not the double-hashed filter.
    #[test]
    fn random_hashing_is_deterministic_and_differs_from_double(name in "[a-z]{2,9}") {
        let e = encoder_for(&hardened(r#""hash": "random""#), b"hash secret");
        let d = encoder_for(&Schema::from_json_str(FIELD_SCHEMA).expect("schema"), b"hash secret");
        let mut s = Scratch::default();
        let f1 = last_filter(&e, &mut s, ["x", &name, "1"], "1");
        let f2 = last_filter(&e, &mut s, ["y", &name, "2"], "2");
        prop_assert_eq!(&f1, &f2);
        prop_assert!(ones(&f1) as usize <= 4 * (name.len() + 1));
        prop_assert!(f1 != last_filter(&d, &mut s, ["x", &name, "1"], "1"));
    }

    /// A salt splits one value's filters by the salt's value: equal salts, equal filters;
    /// different salts, unrelated filters.
    #[test]
    fn salted_filters_agree_only_within_a_salt(name in "[a-z]{3,9}") {
        let e = encoder_for(&hardened(r#""hash": "random", "salt": {"feature": "first", "transform": "initial"}"#), b"salt secret");
        let mut s = Scratch::default();
        let a = last_filter(&e, &mut s, ["anna", &name, "1"], "1");
        let b = last_filter(&e, &mut s, ["alan", &name, "2"], "2");
        let c = last_filter(&e, &mut s, ["bill", &name, "3"], "3");
        prop_assert_eq!(&a, &b, "same initial, same salt");
        let overlap = 2.0 * f64::from(ones(&a) + ones(&c) - hamming(&a, &c)) / 2.0 / f64::from(ones(&a) + ones(&c));
        prop_assert!(overlap < 0.6, "another salt shares {overlap:.2} of the bits");
    }
}

/// BLIP: the noise is a function of the record (the same record gives the same filter at every
/// call), differs between records with the same value, and flips about `1 / (1 + e^ε)` of the bits.
#[test]
fn blip_flips_each_bit_with_the_stated_probability() {
    let e = encoder_for(&hardened(r#""blip": 3.0"#), b"blip secret");
    let mut s = Scratch::default();
    let again = last_filter(&e, &mut s, ["x", "smith", "1"], "7");
    assert_eq!(again, last_filter(&e, &mut s, ["x", "smith", "1"], "7"));
    let n = 400;
    let noisy: Vec<Vec<u8>> = (0..n)
        .map(|id| last_filter(&e, &mut s, ["x", "smith", "1"], &id.to_string()))
        .collect();
    let distinct: std::collections::BTreeSet<&Vec<u8>> = noisy.iter().collect();
    assert!(distinct.len() > n * 9 / 10, "records with one value differ");
    // The noise-free filter is each bit's majority over the records; the flip rate, how often a
    // record differs from it.
    let clean: Vec<u8> = (0..32)
        .map(|byte| {
            (0..8).fold(0u8, |acc, bit| {
                let set = noisy
                    .iter()
                    .filter(|f| f[byte] & (0x80 >> bit) != 0)
                    .count();
                if 2 * set > n {
                    acc | (0x80 >> bit)
                } else {
                    acc
                }
            })
        })
        .collect();
    let flipped: u64 = noisy.iter().map(|f| u64::from(hamming(f, &clean))).sum();
    let rate = flipped as f64 / (n as f64 * 256.0);
    let p = 1.0 / (1.0 + 3f64.exp());
    assert!(
        (rate - p).abs() < 0.01,
        "flip rate {rate:.4}, expected {p:.4}"
    );
}

/// Hardening options are part of the fingerprint, and bad ones are refused with their path.
#[test]
fn hardening_options_change_the_fingerprint_and_are_checked() {
    let plain = Schema::from_json_str(FIELD_SCHEMA).expect("schema");
    let fps: Vec<String> = [
        r#""hash": "random""#,
        r#""blip": 3"#,
        r#""salt": {"feature": "dob"}"#,
    ]
    .iter()
    .map(|x| hardened(x).fingerprint().to_owned())
    .collect();
    assert!(fps.iter().all(|f| f != plain.fingerprint()));
    assert_eq!(
        hardened(r#""hash": "double""#).fingerprint(),
        plain.fingerprint(),
        "the default is not written"
    );
    for (bad, path) in [
        (r#""hash": "triple""#, "kith.fields.last.hash"),
        (r#""blip": 0"#, "kith.fields.last.blip"),
        (r#""salt": {"feature": "last"}"#, "kith.fields.last.salt"),
        (
            r#""salt": {"feature": "nope"}"#,
            "kith.fields.last.salt.feature",
        ),
    ] {
        let text = FIELD_SCHEMA.replace(
            r#""last": {"bits": 256, "k": 4, "group": "name"}"#,
            &format!(r#""last": {{"bits": 256, "k": 4, "group": "name", {bad}}}"#),
        );
        let e = Schema::from_json_str(&text).expect_err("refused");
        assert!(e.to_string().contains(path), "{bad}: {e}");
    }
}

/// The field schema with `extra` options on both filters of the `name` group (transforms must
/// agree across a group).
fn hardened_group(extra: &str) -> Result<Schema, crate::SchemaError> {
    let text = FIELD_SCHEMA
        .replace(
            r#""last": {"bits": 256, "k": 4, "group": "name"}"#,
            &format!(r#""last": {{"bits": 256, "k": 4, "group": "name", {extra}}}"#),
        )
        .replace(
            r#""first": {"bits": 256, "k": 4, "group": "name"}"#,
            &format!(r#""first": {{"bits": 256, "k": 4, "group": "name", {extra}}}"#),
        );
    Schema::from_json_str(&text)
}

proptest! {
    /// Folding, rule 90, rehashing and balancing keep a filter a function of its value at the
    /// stated length (folding halves it, balancing doubles it), and a balanced one sets exactly
    /// half its bits. (Folding itself is tested in `harden`.)
    #[test]
    fn field_transforms_are_functions_of_the_value_at_their_length(name in "[a-z]{2,9}") {
        let secret = b"transform secret";
        let mut s = Scratch::default();
        let plain = encoder_for(&hardened_group(r#""hash": "random""#).expect("schema"), secret);
        let unfolded = last_filter(&plain, &mut s, ["x", &name, "1"], "1");
        for (extra, bytes) in [
            (r#""hash": "random", "fold": 1"#, 16),
            (r#""hash": "random", "rule90": true"#, 32),
            (r#""hash": "random", "rehash": {"window": 8, "step": 6, "k": 3}"#, 32),
            (r#""hash": "random", "balance": true"#, 64),
        ] {
            let e = encoder_for(&hardened_group(extra).expect("schema"), secret);
            let a = last_filter(&e, &mut s, ["x", &name, "1"], "1");
            prop_assert_eq!(&a, &last_filter(&e, &mut s, ["y", &name, "2"], "2"), "{}", extra);
            prop_assert_eq!(a.len(), bytes, "{}", extra);
            prop_assert!(a != unfolded, "{}", extra);
            if extra.contains("balance") {
                prop_assert_eq!(ones(&a), 256);
            }
        }
    }
}

/// A group's filters must be transformed alike, and a balanced filter must fit 1,024 bits.
#[test]
fn field_transforms_are_checked() {
    let e = Schema::from_json_str(&FIELD_SCHEMA.replace(
        r#""last": {"bits": 256, "k": 4, "group": "name"}"#,
        r#""last": {"bits": 256, "k": 4, "group": "name", "rule90": true}"#,
    ))
    .expect_err("one filter of the group alone");
    assert!(e.to_string().contains("group"), "{e}");
    let big = FIELD_SCHEMA.replace(
        r#""dob": {"bits": 128}"#,
        r#""dob": {"bits": 1024, "balance": true}"#,
    );
    let e = Schema::from_json_str(&big).expect_err("2,048 bits");
    assert!(e.to_string().contains("kith.fields.dob.balance"), "{e}");
    let e = hardened_group(r#""fold": 3"#).expect_err("32 bits");
    assert!(e.to_string().contains("kith.fields"), "{e}");
    let plain = Schema::from_json_str(FIELD_SCHEMA).expect("schema");
    for extra in [r#""fold": 1"#, r#""rule90": true"#, r#""balance": true"#] {
        let fp = hardened_group(extra)
            .expect("schema")
            .fingerprint()
            .to_owned();
        assert_ne!(fp, plain.fingerprint(), "{extra}");
    }
}

/// `kith.clk.dates: "parts"`: the CLK hashes a date's parts, so a swapped day and month stays
/// close and another year is far, where positional digits rate 1940 as close to 1945 as a day one
/// out; the CLK is then not clkhash's.
#[test]
fn clk_date_parts_keep_swaps_close_and_years_apart() {
    let schema = |clk: &str| {
        let text = r#"{"version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
          "features": [{"identifier": "dob", "format": {"type": "date", "format": "%Y-%m-%d"},
            "hashing": {"comparison": {"type": "ngram", "n": 1, "positional": true}, "strategy": {"bitsPerToken": 20}}}],
          "kith": {"version": 1 CLK}}"#;
        Schema::from_json_str(&text.replace(" CLK", clk)).expect("schema")
    };
    let dice = |e: &Encoder, a: &str, b: &str| {
        let mut s = Scratch::default();
        let mut clk = |v: &str| {
            let input = RecordInput {
                alternatives: &[],
                features: &[v],
                exact: &[],
                local_id: None,
            };
            e.encode(&mut s, &input).expect("encodes").clk.clone()
        };
        let (x, y) = (clk(a), clk(b));
        let common: u32 = x.iter().zip(&y).map(|(p, q)| (p & q).count_ones()).sum();
        2.0 * f64::from(common) / f64::from(ones(&x) + ones(&y))
    };
    let parts_schema = schema(r#", "clk": {"dates": "parts"}"#);
    assert!(parts_schema.kith().clk.any(), "not clkhash's CLK");
    let parts = encoder_for(&parts_schema, b"date secret");
    let positional = encoder_for(&schema(""), b"date secret");
    let swapped = dice(&parts, "1985-03-07", "1985-07-03");
    let other_year = dice(&parts, "1985-03-07", "1945-03-07");
    assert!(swapped > 0.7, "swapped day and month: {swapped:.2}");
    assert!(other_year < 0.45, "another year: {other_year:.2}");
    assert!(
        dice(&positional, "1985-03-07", "1945-03-07") > 0.8,
        "positional digits keep 1945 close"
    );
    assert_ne!(
        dice(&parts, "1985-03-07", "1985-03-08"),
        dice(&positional, "1985-03-07", "1985-03-08")
    );
    let bad = r#", "clk": {"dates": "shuffled"}"#;
    let e = Schema::from_json_str(&format!(
        r#"{{"version": 3, "clkConfig": {{"l": 1024, "kdf": {{"type": "HKDF"}}}}, "features": [], "kith": {{"version": 1{bad}}}}}"#
    ))
    .expect_err("refused");
    assert!(e.to_string().contains("kith.clk.dates"), "{e}");
}

/// `kith.clk.salt`: one value gives one CLK under one salt and an unrelated one under another
/// (the bits are permuted by the salt's own keyed permutation), so CLKs compare only within a
/// salt.
#[test]
fn a_salted_clk_compares_only_within_its_salt() {
    let schema = Schema::from_json_str(&FIELD_SCHEMA.replace(
        r#""twins": {"differ": "first", "agree": ["dob", "last"]}"#,
        r#""twins": {"differ": "first", "agree": ["dob", "last"]},
           "clk": {"salt": {"feature": "first", "transform": "initial"}}"#,
    ))
    .expect("schema");
    assert!(schema.kith().clk.any(), "not clkhash's CLK");
    let e = encoder_for(&schema, b"clk salt secret");
    let mut s = Scratch::default();
    let mut clk = |first: &str| {
        let values = [first, "smith", "19850307"];
        let input = RecordInput {
            alternatives: &[],
            features: &values,
            exact: &[],
            local_id: None,
        };
        e.encode(&mut s, &input).expect("encodes").clk.clone()
    };
    let dice = |x: &[u8], y: &[u8]| {
        let common: u32 = x.iter().zip(y).map(|(p, q)| (p & q).count_ones()).sum();
        2.0 * f64::from(common) / f64::from(ones(x) + ones(y))
    };
    let (anna, ann, bill) = (clk("anna"), clk("ann"), clk("bill"));
    assert_eq!(anna, clk("anna"));
    assert_eq!(ones(&anna), ones(&clk("anna")));
    let same_salt = dice(&anna, &ann);
    let other_salt = dice(&anna, &bill);
    assert!(same_salt > 0.7, "one salt: {same_salt:.2}");
    assert!(other_salt < 0.45, "another salt: {other_salt:.2}");
    let bad = FIELD_SCHEMA.replace(
        r#""twins": {"differ": "first", "agree": ["dob", "last"]}"#,
        r#""twins": {"differ": "first", "agree": ["dob", "last"]}, "clk": {"salt": {"feature": "nope"}}"#,
    );
    let err = Schema::from_json_str(&bad).expect_err("refused");
    assert!(err.to_string().contains("kith.clk.salt"), "{err}");
}

/// An alternative value (a preferred forename beside the legal one) joins the value's tokens in
/// the CLK and the field filter: the record is close to either name, where the legal name alone
/// is far from the preferred one. Without an alternative, nothing changes.
#[test]
fn an_alternative_value_brings_a_record_close_to_either_name() {
    let schema = Schema::from_json_str(include_str!("../../data/demo-schema.json")).expect("demo");
    let e = encoder_for(&schema, b"alternative secret");
    let names = e
        .feature_names()
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>();
    let at = |n: &str| names.iter().position(|x| x == n).expect(n);
    let field = schema
        .kith()
        .fields
        .iter()
        .position(|f| f.feature == "given_name")
        .expect("a given_name filter");
    let exact = vec![""; e.input_names().len()];
    let mut s = Scratch::default();
    let mut encode = |forename: &str, alternative: &str| {
        let mut values = vec![""; names.len()];
        values[at("given_name")] = forename;
        values[at("surname")] = "Smith";
        values[at("dob")] = "01/02/1990";
        let mut alternatives = vec![""; names.len()];
        alternatives[at("given_name")] = alternative;
        let alternatives = if alternative.is_empty() {
            Vec::new()
        } else {
            alternatives
        };
        let input = RecordInput {
            features: &values,
            alternatives: &alternatives,
            exact: &exact,
            local_id: None,
        };
        let r = e.encode(&mut s, &input).expect("encodes").clone();
        (r.clk, r.fields[field].clone().expect("a filter"))
    };
    let (both_clk, both) = encode("Xiaoming", "Kelvin");
    let (legal_clk, legal) = encode("Xiaoming", "");
    let (preferred_clk, preferred) = encode("Kelvin", "");
    let apart = byte_dice(&legal, &preferred);
    assert!(
        byte_dice(&both, &preferred) >= apart + 0.2,
        "{} {apart}",
        byte_dice(&both, &preferred)
    );
    assert!(
        byte_dice(&both, &legal) >= 0.6,
        "{}",
        byte_dice(&both, &legal)
    );
    assert!(byte_dice(&both_clk, &preferred_clk) > byte_dice(&legal_clk, &preferred_clk));
    // The legal name's bits are all still there.
    assert!(legal.iter().zip(&both).all(|(r, b)| r & b == *r));
    // An empty alternative is no alternative.
    assert_eq!(encode("Xiaoming", ""), (legal_clk, legal));
}

/// A key in any order gives a forename and surname entered the wrong way round the same token,
/// which the same key in order does not; other names still differ, and a missing part still
/// gives no token.
#[test]
fn a_key_in_any_order_finds_swapped_names() {
    let schema = Schema::from_json_str(
        r#"{"version": 3, "clkConfig": {"l": 256, "kdf": {"type": "HKDF"}},
          "features": [
            {"identifier": "first", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 8}}},
            {"identifier": "last", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 8}}}],
          "kith": {"version": 1, "normalize": {"first": "forename", "last": "name"}, "blocking": {
            "ordered": [{"feature": "first", "transform": "soundex"}, {"feature": "last", "transform": "soundex"}],
            "any": {"parts": [{"feature": "first", "transform": "soundex"}, {"feature": "last", "transform": "soundex"}], "any_order": true}}}}"#,
    )
    .expect("schema");
    // Keys in the order the schema lists them (by name).
    let at = |name: &str| {
        let keys = &schema.kith().blocking;
        keys.iter().position(|k| k.name == name).expect("key")
    };
    let (ordered, any) = (at("ordered"), at("any"));
    let e = encoder_for(&schema, b"block secret");
    let mut s = Scratch::default();
    let mut keys = |first: &str, last: &str| {
        let values = [first, last];
        let input = RecordInput::new(&values, &[], None);
        e.encode(&mut s, &input).expect("encodes").blocks.clone()
    };
    let right = keys("Seamus", "Brown");
    let swapped = keys("BROWN", "seamus");
    assert!(right.iter().all(Option::is_some));
    assert_ne!(
        right[ordered], swapped[ordered],
        "the key in order tells the two apart"
    );
    assert_eq!(right[any], swapped[any], "the key in any order does not");
    assert_ne!(right[any], keys("Seamus", "Jones")[any]);
    assert_eq!(keys("", "Brown"), [None, None]);
}

/// The demo schema, whose name filters take `"skips"` tokens.
fn demo_schema() -> Schema {
    Schema::from_json_str(include_str!("../../data/demo-schema.json")).expect("demo schema")
}

/// `"skips"` tokens: the bigrams of the padded value, then each pair of characters one apart,
/// tokens of one kind (known answer).
#[test]
fn skips_tokens_are_the_bigrams_then_the_pairs_one_apart() {
    let tokens = filter_tokens(&demo_schema(), "given_name", "Asif").expect("tokens");
    let text: Vec<String> = tokens
        .iter()
        .map(|t| String::from_utf8(t.clone()).expect("UTF-8"))
        .collect();
    assert_eq!(
        text,
        [" a", "as", "si", "if", "f ", " s", "ai", "sf", "i "],
        "bigrams, then pairs one apart"
    );
}

proptest! {
    /// Two neighbouring letters typed the wrong way round change at most three `"skips"` tokens
    /// on each side (a bigram and the pairs one apart around them stand in for each other), where
    /// bigrams alone lose three of a short name's few.
    #[test]
    fn a_transposition_keeps_all_but_three_skips_tokens(name in "[a-z]{2,12}", at in 0usize..11) {
        let at = at % (name.len() - 1);
        let b = name.as_bytes();
        prop_assume!(b[at] != b[at + 1]);
        let mut swapped = b.to_vec();
        swapped.swap(at, at + 1);
        let swapped = String::from_utf8(swapped).expect("ASCII");
        let schema = demo_schema();
        let count = |v: &str| {
            let mut c = std::collections::HashMap::<Vec<u8>, usize>::new();
            // The surname: the forename's normaliser would turn some strings into other names.
            for t in filter_tokens(&schema, "surname", v).expect("tokens") {
                *c.entry(t).or_default() += 1;
            }
            c
        };
        let (x, y) = (count(&name), count(&swapped));
        let total: usize = x.values().sum();
        let shared: usize = x.iter().map(|(t, n)| (*n).min(y.get(t).copied().unwrap_or(0))).sum();
        prop_assert_eq!(total, 2 * name.len() + 1);
        prop_assert!(total - shared <= 3, "{name} / {swapped}: {shared} of {total} shared");
    }
}
