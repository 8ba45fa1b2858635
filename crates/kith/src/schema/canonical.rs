//! The canonical form of a schema and its fingerprint.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::Schema;
use super::model::*;
use crate::datefmt::DateFormat;
use crate::normalize::Normalizer;

impl Schema {
    /// The canonical form hashed into the fingerprint: the schema as v3 with every default written
    /// out and descriptions dropped, plus the parts of the `kith` section that affect encodings.
    /// A holder's column mapping and default ID column are not part of it.
    pub fn canonical_json(&self) -> Value {
        let kdf = &self.clk.kdf;
        let features: Vec<Value> = self
            .features
            .iter()
            .map(|f| match &f.hashing {
                None => json!({"identifier": f.identifier, "ignored": true}),
                Some(h) => json!({
                    "identifier": f.identifier,
                    "format": canonical_format(&h.format),
                    "hashing": {
                        "encoding": match h.encoding {
                            TextEncoding::Ascii => "ascii",
                            TextEncoding::Utf8 => "utf-8",
                            TextEncoding::Utf16 => "utf-16",
                            TextEncoding::Utf32 => "utf-32",
                        },
                        "comparison": match &h.comparison {
                            Comparison::Ngram { n, positional } => json!({"type": "ngram", "n": n, "positional": positional}),
                            Comparison::Exact => json!({"type": "exact"}),
                            Comparison::Numeric(c) => json!({
                                "type": "numeric",
                                "thresholdDistance": c.threshold_distance,
                                "resolution": c.resolution,
                                "fractional_precision": c.fractional_precision,
                            }),
                        },
                        "strategy": match h.strategy {
                            Strategy::BitsPerToken(k) => json!({"bitsPerToken": k}),
                            Strategy::BitsPerFeature(k) => json!({"bitsPerFeature": k}),
                        },
                        "hash": match h.hash {
                            HashKind::Blake => json!({"type": "blakeHash"}),
                            HashKind::Double { prevent_singularity } => json!({"type": "doubleHash", "prevent_singularity": prevent_singularity}),
                        },
                        "missingValue": h.missing.as_ref().map(|m| json!({"sentinel": m.sentinel, "replaceWith": m.replace_with})),
                    },
                }),
            })
            .collect();
        let kith = if self.has_kith_section() {
            let mut k = json!({
                "version": self.kith.version,
                "normalize": self.kith.normalize.iter().map(|(k, n)| (k.clone(), canonical_normalizer(n))).collect::<Map<_, _>>(),
                "exact": self.kith.exact.iter().map(|e| json!({"name": e.name, "normalize": e.normalize.as_ref().map(canonical_normalizer)})).collect::<Vec<_>>(),
            });
            if !self.kith.blocking.is_empty() {
                // Only present when used, so that schemas without blocking keys keep their
                // fingerprints.
                k["blocking"] = self
                    .kith
                    .blocking
                    .iter()
                    .map(|b| {
                        let mut v = json!({"name": b.name, "parts": b.parts.iter().map(|p| json!({"feature": p.feature, "transform": p.transform.name()})).collect::<Vec<_>>()});
                        // Only when set, so that keys from before the choice keep their
                        // fingerprints.
                        if b.any_order {
                            v["any_order"] = json!(true);
                        }
                        v
                    })
                    .collect();
            }
            if !self.kith.fields.is_empty() {
                k["fields"] = self
                    .kith
                    .fields
                    .iter()
                    .map(|f| {
                        let mut v = json!({"feature": f.feature, "bits": f.bits, "k": f.k, "group": f.group});
                        // Only a non-default choice is written, so that schemas from before the
                        // choice existed keep their fingerprints.
                        if f.tokens != FieldTokens::Clk {
                            v["tokens"] = json!(f.tokens.name());
                        }
                        if f.hash != FieldHash::Double {
                            v["hash"] = json!(f.hash.name());
                        }
                        if let Some(s) = &f.salt {
                            v["salt"] = json!({"feature": s.feature, "transform": s.transform.name()});
                        }
                        if let Some(e) = f.blip {
                            v["blip"] = json!(e);
                        }
                        if f.folds > 0 {
                            v["fold"] = json!(f.folds);
                        }
                        if f.rule90 {
                            v["rule90"] = json!(true);
                        }
                        if let Some(r) = f.rehash {
                            v["rehash"] = json!({"window": r.window, "step": r.step, "k": r.k});
                        }
                        if f.balance {
                            v["balance"] = json!(true);
                        }
                        v
                    })
                    .collect();
            }
            if let Some(t) = &self.kith.twins {
                k["twins"] = json!({"differ": t.differ_json(), "agree": t.agree});
                // Only when named: rules from before it keep their fingerprints.
                if !t.personal.is_empty() {
                    k["twins"]["personal"] = json!(t.personal);
                }
            }
            if self.kith.clk.any() {
                let c = &self.kith.clk;
                let mut v = json!({});
                if c.rule90 {
                    v["rule90"] = json!(true);
                }
                if let Some(e) = c.blip {
                    v["blip"] = json!(e);
                }
                if c.balance {
                    v["balance"] = json!(true);
                }
                if let Some(r) = c.rehash {
                    v["rehash"] = json!({"window": r.window, "step": r.step, "k": r.k});
                }
                if c.date_parts {
                    v["dates"] = json!("parts");
                }
                if let Some(s) = &c.salt {
                    v["salt"] = json!({"feature": s.feature, "transform": s.transform.name()});
                }
                k["clk"] = v;
            }
            if let Some(h) = &self.kith.household {
                k["household"] = json!({
                    "dwelling": h.dwelling.as_ref().map(|d| json!({"postcode": d.postcode, "address": d.address})),
                    "register": h.register,
                });
            }
            if !self.kith.criteria.is_empty() {
                k["criteria"] = self.kith.criteria.iter().map(|c| json!(c.name)).collect();
            }
            if !self.kith.areas.is_empty() {
                k["areas"] = self
                    .kith
                    .areas
                    .iter()
                    .map(|a| json!({"name": a.name, "feature": a.part.feature, "transform": a.part.transform.name()}))
                    .collect();
            }
            k
        } else {
            Value::Null
        };
        json!({
            "kith_canonical_schema": 1,
            "clkConfig": {
                "l": self.clk.l,
                "xor_folds": self.clk.xor_folds,
                "kdf": {
                    "type": "HKDF",
                    "hash": match kdf.hash { KdfHash::Sha256 => "SHA256", KdfHash::Sha512 => "SHA512" },
                    "salt": kdf.salt.as_ref().map(|s| B64.encode(s)),
                    "info": kdf.info.as_ref().map(|s| B64.encode(s)),
                    "keySize": kdf.key_size,
                },
            },
            "features": features,
            "kith": kith,
        })
    }
}

pub(super) fn fingerprint_of(canonical: &Value) -> String {
    // serde_json's Map is ordered by key, so this serialisation is canonical.
    let bytes = canonical.to_string();
    let digest = Sha256::digest(bytes.as_bytes());
    format!("sha256:{}", crate::hex(&digest))
}

pub(super) fn canonical_format(f: &Format) -> Value {
    match f {
        Format::String {
            pattern,
            case,
            min_length,
            max_length,
        } => json!({
            "type": "string",
            "pattern": pattern.as_ref().map(|p| p.source.clone()),
            "case": match case { Case::Upper => "upper", Case::Lower => "lower", Case::Mixed => "mixed" },
            "minLength": min_length,
            "maxLength": max_length,
        }),
        Format::Integer { minimum, maximum } => {
            json!({"type": "integer", "minimum": minimum, "maximum": maximum})
        }
        Format::Date(d) => json!({"type": "date", "format": d.as_str()}),
        Format::Enum(values) => json!({"type": "enum", "values": values}),
    }
}

pub(super) fn canonical_normalizer(n: &Normalizer) -> Value {
    match n {
        Normalizer::Date(d) => json!({
            "type": "date",
            "formats": d.formats.iter().map(DateFormat::as_str).collect::<Vec<_>>(),
            "output": d.output.as_str(),
        }),
        other => json!({"type": other.name()}),
    }
}
