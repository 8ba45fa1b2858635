//! Entry points for fuzzing (`fuzz/`, see `fuzz/run.sh`) and for the regression tests that replay
//! what fuzzing found (`tests/fuzz_regressions.rs`). Each takes arbitrary bytes and must return,
//! never panic, whatever they hold; each says whether it accepted the input, so that the tests
//! can also check that good input is still accepted.

use crate::encode::{Encoder, EncoderOptions, RecordInput, Scratch};
use crate::encodings::Reader;
use crate::{Schema, Secret};

/// Parse `data` as a linkage schema; for a valid one, derive its fingerprint and an encoder.
/// True when it parsed.
pub fn schema(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(schema) = Schema::from_json_str(text) else {
        return false;
    };
    let _ = schema.fingerprint();
    if let Ok(secret) = Secret::new(b"fuzzing secret, not a real one".to_vec()) {
        let _ = Encoder::new(&schema, &secret, "fuzz", &EncoderOptions::default());
    }
    true
}

/// Read `data` as an encodings file to its end. The number of records read, or `None` when the
/// header or a record was refused.
pub fn encodings(data: &[u8]) -> Option<usize> {
    let mut r = Reader::new(data).ok()?;
    let mut n = 0;
    while let Some(_row) = r.next_record().ok()? {
        n += 1;
    }
    Some(n)
}

/// The demo schema, with which [`extract`] encodes.
const DEMO_SCHEMA: &str = include_str!("../data/demo-schema.json");

/// Encode each line of `data` as a record of the demo schema: comma-separated values for its
/// features in schema order, then its exact identifiers, then the local ID. The number of records
/// that encoded (the others were refused with an error, as bad rows are).
pub fn extract(data: &[u8]) -> usize {
    // Made once: deriving the keys costs far more than encoding a few rows.
    static ENCODER: std::sync::OnceLock<Option<(Schema, Encoder)>> = std::sync::OnceLock::new();
    let made = ENCODER.get_or_init(|| {
        let schema = Schema::from_json_str(DEMO_SCHEMA).ok()?;
        let secret = Secret::new(b"fuzzing secret, not a real one".to_vec()).ok()?;
        let encoder = Encoder::new(&schema, &secret, "fuzz", &EncoderOptions::default()).ok()?;
        Some((schema, encoder))
    });
    let Some((schema, encoder)) = made else {
        return 0;
    };
    let text = String::from_utf8_lossy(data);
    let (nf, ne) = (schema.features().len(), schema.kith().keyed_inputs().len());
    let mut scratch = Scratch::default();
    let mut encoded = 0;
    for line in text.lines() {
        let mut fields: Vec<&str> = line.split(',').collect();
        fields.resize(nf + ne + 1, "");
        let input = RecordInput {
            alternatives: &[],
            features: &fields[..nf],
            exact: &fields[nf..nf + ne],
            local_id: Some(fields[nf + ne]),
        };
        if encoder.encode(&mut scratch, &input).is_ok() {
            encoded += 1;
        }
    }
    encoded
}
