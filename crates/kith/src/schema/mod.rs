//! Linkage schemas: clkhash v1, v2 and v3, plus kith's optional `kith` section.
//!
//! Loading follows clkhash 0.18.3 step for step: validate the document against its own version's
//! rules, convert v1 to v2 and v2 to v3 as clkhash does, validate the result as v3, then build the
//! model. Every error names the JSON path of the offending field (for v1 and v2 documents, a path in
//! the converted v3 form is marked as such). See `docs/schema.md` and `docs/clkhash-spec.md`.

use serde_json::Value;

use crate::error::SchemaError;
use crate::jsonpath::{JPath, kind, required};

mod canonical;
mod legacy;
mod model;
mod section;
#[cfg(test)]
mod tests;
mod v3;

use canonical::fingerprint_of;
use legacy::{convert_v1_to_v2, convert_v2_to_v3, converted, validate_v1, validate_v2};
pub use model::*;
use section::parse_kith;
use v3::build_v3;

/// The version of the `kith` section this build reads and writes.
pub const KITH_SECTION_VERSION: i64 = 1;

/// A loaded, validated linkage schema.
#[derive(Debug, Clone)]
pub struct Schema {
    source_version: u8,
    clk: ClkConfig,
    features: Vec<Feature>,
    kith: KithSection,
    fingerprint: String,
    unread: Vec<String>,
}

impl Schema {
    /// Load a schema from JSON text.
    pub fn from_json_str(text: &str) -> Result<Schema, SchemaError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            SchemaError::new(
                format!("line {} column {}", e.line(), e.column()),
                format!("the schema is not valid JSON: {e}"),
            )
        })?;
        Schema::from_value(&value)
    }

    /// Load a schema from a parsed JSON document.
    pub fn from_value(doc: &Value) -> Result<Schema, SchemaError> {
        let root = JPath::root();
        let top = doc.as_object().ok_or_else(|| {
            root.err(format!(
                "the top level of a schema must be an object, found {}",
                kind(doc)
            ))
        })?;
        let version = required(top, "version", &root)?;
        let version = match version.as_i64() {
            Some(v @ 1..=3) => v as u8,
            _ => {
                return Err(root.key("version").err(format!(
                    "schema version {version} is not supported (expected 1, 2 or 3)"
                )));
            }
        };
        let v3 = match version {
            1 => {
                validate_v1(top)?;
                let v2 = convert_v1_to_v2(top);
                validate_v2(&v2).map_err(converted)?;
                convert_v2_to_v3(&v2)
            }
            2 => {
                validate_v2(top)?;
                convert_v2_to_v3(top)
            }
            _ => top.clone(),
        };
        let (clk, features) =
            build_v3(&v3).map_err(|e| if version == 3 { e } else { converted(e) })?;
        let kith = match top.get("kith") {
            Some(k) => parse_kith(k, &root.key("kith"), &features)?,
            None => KithSection::default(),
        };
        let mut schema = Schema {
            source_version: version,
            clk,
            features,
            kith,
            fingerprint: String::new(),
            unread: if version == 3 {
                v3::unread_feature_keys(&v3)
            } else {
                Vec::new()
            },
        };
        schema.fingerprint = fingerprint_of(&schema.canonical_json());
        Ok(schema)
    }

    /// Keys of a version 3 document's features that neither clkhash nor kith reads (such as a
    /// `missingValue` written beside `hashing` rather than in it), by where they are:
    /// `features[3].missingValue`. The schema is valid with them, as it is for clkhash; a tool
    /// should warn of them, since what they say does not happen.
    pub fn unread_keys(&self) -> &[String] {
        &self.unread
    }

    /// The version the document was written in (1, 2 or 3).
    pub fn source_version(&self) -> u8 {
        self.source_version
    }

    /// `clkConfig`.
    pub fn clk(&self) -> &ClkConfig {
        &self.clk
    }

    /// Features in schema order, ignored ones included.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// The `kith` section (empty when absent).
    pub fn kith(&self) -> &KithSection {
        &self.kith
    }

    /// Whether the document had a `kith` section.
    pub fn has_kith_section(&self) -> bool {
        self.kith.version != 0
    }

    /// The CLK length in bits after folding.
    pub fn clk_bits(&self) -> u32 {
        self.clk.l
    }

    /// `sha256:<hex>` of the canonical form of everything that affects the encodings.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
}
