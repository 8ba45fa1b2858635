//! Known-answer vectors: every record of every case must give clkhash 0.18.3's CLK, byte for byte.
//!
//! `tests/vectors/*.json` are the vectors shipped with the specification, and
//! `tests/vectors/generated/*.json` were made by clkhash itself with `make_vectors.py` (provenance in
//! `tests/vectors/PROVENANCE.md`). One macro
//! turns each file into a test; each test checks the derived keys and every record's CLK and popcount
//! (or, where clkhash refused the record, that kith refuses it too), with every kernel the CPU has.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use kith::encode::EncodedBatch;
use kith::kernel::Kernel;
use kith::{Encoder, EncoderOptions, RecordInput, Schema, Scratch, Secret};
use serde_json::Value;

fn fixture(rel: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check_case(rel: &str) {
    let v = fixture(rel);
    let schema = Schema::from_value(&v["schema"]).unwrap_or_else(|e| panic!("{rel}: schema: {e}"));
    let secret = Secret::new(
        v["secret_utf8"]
            .as_str()
            .expect("secret")
            .as_bytes()
            .to_vec(),
    )
    .expect("secret");

    let keys =
        kith::keys::clk_keys(&secret, &schema.clk().kdf, schema.features().len()).expect("keys");
    let want_keys = v["derived_keys_hex"].as_array().expect("keys");
    assert_eq!(keys.len(), want_keys.len(), "{rel}: number of key pairs");
    for (i, (k, w)) in keys.iter().zip(want_keys).enumerate() {
        let (a, b) = k.bytes();
        assert_eq!(
            kith::hex(a),
            w[0].as_str().expect("hex"),
            "{rel}: key a of feature {i}"
        );
        assert_eq!(
            kith::hex(b),
            w[1].as_str().expect("hex"),
            "{rel}: key b of feature {i}"
        );
    }

    // With every kernel this CPU has for OR-ing token bits: each gives clkhash's CLKs.
    for kernel in Kernel::available() {
        let encoder = Encoder::new(&schema, &secret, "vectors", &EncoderOptions::default())
            .expect("encoder")
            .with_kernel(kernel);
        check_records(rel, &v, &encoder);
    }
}

/// Every record of the case `v` (from file `rel`), one at a time and in one batch, with `encoder`.
fn check_records(rel: &str, v: &Value, encoder: &Encoder) {
    let mut scratch = Scratch::default();
    let records = v["records"].as_array().expect("records");
    let clks = v["expected_clks_base64"].as_array().expect("clks");
    let pops = v["expected_popcounts"].as_array().expect("popcounts");
    let errors = v.get("expected_errors").and_then(Value::as_array);
    assert_eq!(records.len(), clks.len());
    // Twice through, so that the second pass is served from the encoder's value cache.
    for pass in 0..2 {
        for (i, rec) in records.iter().enumerate() {
            let values: Vec<&str> = rec
                .as_array()
                .expect("record")
                .iter()
                .map(|x| x.as_str().expect("string"))
                .collect();
            let input = RecordInput {
                alternatives: &[],
                features: &values,
                exact: &[],
                local_id: None,
            };
            let got = encoder.encode(&mut scratch, &input);
            let refused = errors.is_some_and(|e| e[i].as_str().is_some());
            if refused {
                assert!(
                    got.is_err(),
                    "{rel} record {i}: clkhash refused {values:?}, kith accepted it"
                );
                continue;
            }
            let got = got.unwrap_or_else(|e| panic!("{rel} record {i} {values:?}: {e}"));
            assert_eq!(
                B64.encode(&got.clk),
                clks[i].as_str().expect("clk"),
                "{rel} record {i} (pass {pass}): {values:?}"
            );
            let pop: u32 = got.clk.iter().map(|b| b.count_ones()).sum();
            assert_eq!(
                Some(u64::from(pop)),
                pops[i].as_u64(),
                "{rel} record {i}: popcount"
            );
        }
    }

    // All records at once, feature by feature, give the same answers.
    let values: Vec<Vec<&str>> = records
        .iter()
        .map(|r| {
            r.as_array()
                .expect("record")
                .iter()
                .map(|x| x.as_str().expect("string"))
                .collect()
        })
        .collect();
    let inputs: Vec<RecordInput<'_>> = values
        .iter()
        .map(|v| RecordInput {
            alternatives: &[],
            features: v,
            exact: &[],
            local_id: None,
        })
        .collect();
    let mut batch = EncodedBatch::default();
    encoder.encode_many(&mut Scratch::default(), &inputs, &mut batch);
    assert_eq!(batch.len(), clks.len());
    for (i, want) in clks.iter().enumerate() {
        match (batch.get(i), want.as_str()) {
            (Ok(r), Some(want)) => {
                assert_eq!(B64.encode(&r.clk), want, "{rel} record {i} (encode_many)")
            }
            (Err(_), None) => {}
            (got, want) => panic!("{rel} record {i} (encode_many): got {got:?}, want {want:?}"),
        }
    }
}

macro_rules! vectors {
    ($($name:ident => $file:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_case($file);
            }
        )*

        /// Every file in the fixture folders has a test above.
        #[test]
        fn every_fixture_file_is_tested() {
            let listed = [$($file),*];
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
            for dir in ["", "generated"] {
                for entry in std::fs::read_dir(root.join(dir)).expect("fixture dir") {
                    let name = entry.expect("entry").file_name().into_string().expect("utf8");
                    if name.ends_with(".json") && !name.ends_with(".schema.json") {
                        let rel = if dir.is_empty() { name } else { format!("{dir}/{name}") };
                        assert!(listed.contains(&rel.as_str()), "no test for fixture {rel}");
                    }
                }
            }
        }
    };
}

vectors! {
    shipped_blake_bigram_bpt => "blake_bigram_bpt.json",
    shipped_doublehash_plain => "doublehash_plain.json",
    shipped_formats_numeric_missing => "formats_numeric_missing.json",
    shipped_xor_fold_1 => "xor_fold_1.json",
    prevent_singularity => "generated/prevent_singularity.json",
    sha512_no_salt_no_info_keysize32 => "generated/sha512_no_salt_no_info_keysize32.json",
    odd_length_bits_per_feature => "generated/odd_length_bits_per_feature.json",
    blake_k_above_32_exact_enum => "generated/blake_k_above_32_exact_enum.json",
    xorfolds_camelcase_ignored => "generated/xorfolds_camelcase_ignored.json",
    xor_folds_2 => "generated/xor_folds_2.json",
    xor_folds_unaligned => "generated/xor_folds_unaligned.json",
    text_encodings_and_rules => "generated/text_encodings_and_rules.json",
    integers_numeric => "generated/integers_numeric.json",
    dates => "generated/dates.json",
    v1_schema => "generated/v1_schema.json",
    v2_schema => "generated/v2_schema.json",
    ignored_middle_shifts_keys => "generated/ignored_middle_shifts_keys.json",
    positional_ngrams => "generated/positional_ngrams.json",
}

/// The `.schema.json` files are the bare schemas of the shipped cases and must load to the same model.
#[test]
fn bare_schema_files_match_the_embedded_schemas() {
    for case in [
        "blake_bigram_bpt",
        "doublehash_plain",
        "formats_numeric_missing",
        "xor_fold_1",
    ] {
        let bare = fixture(&format!("{case}.schema.json"));
        let embedded = fixture(&format!("{case}.json"))["schema"].clone();
        let a = Schema::from_value(&bare).expect("bare");
        let b = Schema::from_value(&embedded).expect("embedded");
        assert_eq!(a.fingerprint(), b.fingerprint(), "{case}");
    }
}
