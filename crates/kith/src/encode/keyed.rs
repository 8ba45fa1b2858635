//! Keyed tokens: exact identifiers, blocking keys, household tokens, record tokens.

use std::borrow::Cow;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{Encoder, FieldOutcome, RecordInput, TOKEN_BYTES, Token};
use crate::blocking::Transform;
use crate::normalize::{Normalized, Normalizer};
use kith_core::EncodedRecord;

pub(super) struct BlockEncoder {
    pub(super) name: String,
    pub(super) parts: Vec<(usize, crate::blocking::Transform)>,
    /// The parts' values are joined sorted (see [`crate::schema::BlockingKey::any_order`]).
    pub(super) any_order: bool,
    pub(super) mac: Hmac<Sha256>,
}

pub(super) struct ExactEncoder {
    pub(super) name: String,
    pub(super) normalizer: Option<Normalizer>,
    pub(super) mac: Hmac<Sha256>,
}

/// The dwelling token's parts: the postcode feature and the address input (index among the keyed
/// inputs); and the key of the street token (the postcode and the line's street word), which tells
/// apart two dwellings of one postcode that share a house or flat number.
pub(super) struct DwellingEncoder {
    pub(super) postcode: usize,
    pub(super) address: usize,
    pub(super) mac: Hmac<Sha256>,
    pub(super) street_mac: Hmac<Sha256>,
}

/// The household register token: the input's index among the keyed inputs.
pub(super) struct RegisterEncoder {
    pub(super) input: usize,
    pub(super) mac: Hmac<Sha256>,
}

pub(super) fn mac_key(key: &[u8; 32]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

pub(super) fn token_of(mac: &Hmac<Sha256>, parts: &[&[u8]]) -> Token {
    let mut m = mac.clone();
    for p in parts {
        m.update(p);
    }
    let full = m.finalize().into_bytes();
    let mut t = [0u8; TOKEN_BYTES];
    t.copy_from_slice(&full[..TOKEN_BYTES]);
    t
}

impl Encoder {
    /// The exact-identifier tokens; their outcomes are appended to `outcomes`.
    pub(super) fn exact_tokens(
        &self,
        input: &RecordInput<'_>,
        record: &mut EncodedRecord,
        outcomes: &mut Vec<FieldOutcome>,
    ) {
        record.exact.clear();
        for (e, raw) in self.exact.iter().zip(input.exact) {
            let value = match &e.normalizer {
                Some(n) => n.apply(raw),
                None => match raw.trim() {
                    "" => Normalized::Missing,
                    v => Normalized::Value(Cow::Borrowed(v)),
                },
            };
            let (token, outcome) = match value {
                Normalized::Value(v) => (
                    Some(token_of(&e.mac, &[v.as_bytes()])),
                    FieldOutcome::Present,
                ),
                Normalized::Missing => (None, FieldOutcome::Missing),
                Normalized::Invalid => (None, FieldOutcome::Invalid),
            };
            outcomes.push(outcome);
            record.exact.push(token);
        }
    }

    /// The blocking-key tokens: a key whose parts are not all present gives none.
    pub(super) fn block_tokens(&self, input: &RecordInput<'_>, record: &mut EncodedRecord) {
        record.blocks.clear();
        let mut joined = String::new();
        let mut values: Vec<String> = Vec::new();
        // Keys share parts (the year of birth, a surname's soundex): each is cut once a record.
        let mut cut: Vec<((usize, Transform), Option<String>)> = Vec::new();
        for b in &self.blocking {
            joined.clear();
            values.clear();
            let mut complete = true;
            for &(i, transform) in &b.parts {
                let part = match cut.iter().find(|(at, _)| *at == (i, transform)) {
                    Some((_, v)) => v.clone(),
                    None => {
                        let fe = &self.features[i];
                        let v = transform.apply(fe.normalizer.as_ref(), input.features[i]);
                        cut.push(((i, transform), v.clone()));
                        v
                    }
                };
                match part {
                    Some(v) => values.push(v),
                    None => {
                        complete = false;
                        break;
                    }
                }
            }
            if !complete {
                record.blocks.push(None);
                continue;
            }
            if b.any_order {
                values.sort_unstable();
            }
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    joined.push('\u{1f}');
                }
                joined.push_str(v);
            }
            let t = token_of(&b.mac, &[joined.as_bytes()]);
            let mut w = [0u8; 8];
            w.copy_from_slice(&t[..8]);
            record.blocks.push(Some(u64::from_be_bytes(w)));
        }
    }

    /// The household tokens and criteria flags; one outcome per keyed input after the exact
    /// identifiers is appended to `outcomes`.
    pub(super) fn household_of(
        &self,
        input: &RecordInput<'_>,
        record: &mut EncodedRecord,
        outcomes: &mut Vec<FieldOutcome>,
    ) {
        let outcome = |n: &Normalized<'_>| match n {
            Normalized::Value(_) => FieldOutcome::Present,
            Normalized::Missing => FieldOutcome::Missing,
            Normalized::Invalid => FieldOutcome::Invalid,
        };
        outcomes.resize(self.inputs.len(), FieldOutcome::Missing);
        record.house.clear();
        if let Some(d) = &self.dwelling {
            let premise = Normalizer::Premise.apply(input.exact[d.address]);
            outcomes[d.address] = outcome(&premise);
            let fe = &self.features[d.postcode];
            let raw = input.features[d.postcode];
            let postcode = match &fe.normalizer {
                Some(n) => n.apply(raw),
                None => match raw.trim() {
                    "" => Normalized::Missing,
                    v => Normalized::Value(Cow::Owned(v.to_uppercase())),
                },
            };
            let (dwelling, street) = match (postcode, premise) {
                (Normalized::Value(pc), Normalized::Value(pr)) => (
                    Some(token_of(&d.mac, &[pc.as_bytes(), &[0x1f], pr.as_bytes()])),
                    crate::normalize::street(input.exact[d.address])
                        .map(|s| token_of(&d.street_mac, &[pc.as_bytes(), &[0x1f], s.as_bytes()])),
                ),
                _ => (None, None),
            };
            record.house.push(dwelling);
            record.house.push(street);
        }
        if let Some(r) = &self.register {
            let v = input.exact[r.input].trim();
            outcomes[r.input] = if v.is_empty() {
                FieldOutcome::Missing
            } else {
                FieldOutcome::Present
            };
            record.house.push(
                (!v.is_empty())
                    .then(|| token_of(&r.mac, &[self.party.as_bytes(), &[0], v.as_bytes()])),
            );
        }
        record.flags.clear();
        for &(_, i) in &self.criteria {
            let f = Normalizer::Flag.apply(input.exact[i]);
            outcomes[i] = match &f {
                Normalized::Value(v) if v == "0" && input.exact[i].trim().is_empty() => {
                    FieldOutcome::Missing
                }
                other => outcome(other),
            };
            record.flags.push(match f {
                Normalized::Value(v) => Some(v == "1"),
                _ => None,
            });
        }
    }
}
