//! clkhash v3: validation and model.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value};

use super::legacy::py_round;
use super::model::*;
use crate::datefmt::DateFormat;
use crate::error::SchemaError;
use crate::jsonpath::{
    JPath, as_bool, as_int, as_number, as_object, as_str, kind, no_other_keys, opt, required,
};

pub(super) fn build_v3(top: &Map<String, Value>) -> Result<(ClkConfig, Vec<Feature>), SchemaError> {
    let root = JPath::root();
    let cp = root.key("clkConfig");
    let clk = as_object(required(top, "clkConfig", &root)?, &cp)?;
    let l = as_int(required(clk, "l", &cp)?, &cp.key("l"), 1)?;
    let l = u32::try_from(l).map_err(|_| cp.key("l").err("is too large"))?;
    if let Some(x) = clk.get("xorFolds") {
        as_int(x, &cp.key("xorFolds"), 0)?; // validated, but clkhash never reads it
    }
    let xor_folds = match clk.get("xor_folds") {
        Some(x) => as_int(x, &cp.key("xor_folds"), 0)?,
        None => 0,
    };
    if xor_folds > 16 || u64::from(l) << xor_folds > u64::from(u32::MAX) {
        return Err(cp.key("xor_folds").err("l * 2^xor_folds is too large"));
    }
    let xor_folds = xor_folds as u32;
    let kdf = parse_kdf(required(clk, "kdf", &cp)?, &cp.key("kdf"))?;
    let clk = ClkConfig { l, xor_folds, kdf };

    let fsp = root.key("features");
    let list = required(top, "features", &root)?;
    let list = list
        .as_array()
        .ok_or_else(|| fsp.err(format!("expected an array, found {}", kind(list))))?;
    let mut features = Vec::with_capacity(list.len());
    for (i, f) in list.iter().enumerate() {
        let feature = parse_feature(f, &fsp.idx(i), &clk)?;
        if let Some(j) = features
            .iter()
            .position(|g: &Feature| g.identifier == feature.identifier)
        {
            return Err(fsp.idx(i).key("identifier").err(format!(
                "identifier {:?} is also used by feature {j}; identifiers must be unique",
                feature.identifier
            )));
        }
        features.push(feature);
    }
    let hkdf_max = 255
        * match clk.kdf.hash {
            KdfHash::Sha256 => 32,
            KdfHash::Sha512 => 64,
        };
    if features.len() * 2 * clk.kdf.key_size > hkdf_max {
        return Err(cp.key("kdf").key("keySize").err(format!(
            "{} features × 2 keys × {} bytes exceeds what HKDF can derive ({hkdf_max} bytes)",
            features.len(),
            clk.kdf.key_size
        )));
    }
    Ok((clk, features))
}

pub(super) fn parse_kdf(v: &Value, p: &JPath) -> Result<Kdf, SchemaError> {
    let m = as_object(v, p)?;
    let t = as_str(required(m, "type", p)?, &p.key("type"))?;
    if t != "HKDF" {
        return Err(p
            .key("type")
            .err(format!("only \"HKDF\" is supported, found {t:?}")));
    }
    let hash = match opt(m, "hash") {
        None => KdfHash::Sha256,
        Some(h) => match as_str(h, &p.key("hash"))? {
            "SHA256" => KdfHash::Sha256,
            "SHA512" => KdfHash::Sha512,
            other => {
                return Err(p.key("hash").err(format!(
                    "expected \"SHA256\" or \"SHA512\", found {other:?}"
                )));
            }
        },
    };
    let b64 = |key: &str| -> Result<Option<Vec<u8>>, SchemaError> {
        match opt(m, key) {
            None => Ok(None),
            Some(s) => {
                let s = as_str(s, &p.key(key))?;
                B64.decode(s).map(Some).map_err(|e| {
                    p.key(key)
                        .err(format!("expected base64-encoded bytes: {e}"))
                })
            }
        }
    };
    let key_size = match opt(m, "keySize") {
        None => 64,
        Some(k) => as_int(k, &p.key("keySize"), 1)? as usize,
    };
    Ok(Kdf {
        hash,
        salt: b64("salt")?,
        info: b64("info")?,
        key_size,
    })
}

/// Keys of the document's features (those with `format` or `hashing`) that are not read: see
/// [`super::Schema::unread_keys`]. clkhash's JSON schema allows them there, so they are not errors.
pub(super) fn unread_feature_keys(top: &Map<String, Value>) -> Vec<String> {
    const READ: [&str; 5] = ["identifier", "description", "ignored", "format", "hashing"];
    let Some(list) = top.get("features").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .enumerate()
        .filter_map(|(i, f)| Some((i, f.as_object()?)))
        .filter(|(_, m)| m.contains_key("format") || m.contains_key("hashing"))
        .flat_map(|(i, m)| {
            m.keys()
                .filter(|k| !READ.contains(&k.as_str()))
                .map(move |k| format!("features[{i}].{k}"))
        })
        .collect()
}

pub(super) fn parse_feature(v: &Value, p: &JPath, clk: &ClkConfig) -> Result<Feature, SchemaError> {
    let m = as_object(v, p)?;
    let identifier = as_str(required(m, "identifier", p)?, &p.key("identifier"))?.to_owned();
    if let Some(d) = m.get("description") {
        as_str(d, &p.key("description"))?;
    }
    let has_config = m.contains_key("format") || m.contains_key("hashing");
    let ignored = match m.get("ignored") {
        Some(i) => as_bool(i, &p.key("ignored"))?,
        None => false,
    };
    if !has_config {
        // ignoreFeature: {identifier, ignored: true, description?}, nothing else.
        no_other_keys(m, &["identifier", "ignored", "description"], p)?;
        if !ignored {
            return Err(p.err("a feature needs `format` and `hashing`, or `\"ignored\": true`"));
        }
        return Ok(Feature {
            identifier,
            hashing: None,
        });
    }
    // featureConfig: format and hashing are both required, even when ignored is true.
    let format_v = required(m, "format", p)?;
    let hashing_v = required(m, "hashing", p)?;
    let hashing = parse_hashing(
        format_v,
        &p.key("format"),
        hashing_v,
        &p.key("hashing"),
        clk,
    )?;
    Ok(Feature {
        identifier,
        // clkhash: `if json_dict.get('ignored', False)` → an ignored feature, whatever else it says.
        hashing: if ignored { None } else { Some(hashing) },
    })
}

pub(super) fn parse_format(v: &Value, p: &JPath) -> Result<(Format, TextEncoding), SchemaError> {
    let m = as_object(v, p)?;
    let t = as_str(required(m, "type", p)?, &p.key("type"))?;
    let desc_ok = |m: &Map<String, Value>| -> Result<(), SchemaError> {
        match m.get("description") {
            Some(d) => as_str(d, &p.key("description")).map(|_| ()),
            None => Ok(()),
        }
    };
    desc_ok(m)?;
    let mut encoding = TextEncoding::Utf8;
    let format = match t {
        "string" => {
            if let Some(e) = m.get("encoding") {
                encoding = match as_str(e, &p.key("encoding"))? {
                    "ascii" => TextEncoding::Ascii,
                    "utf-8" => TextEncoding::Utf8,
                    "utf-16" => TextEncoding::Utf16,
                    "utf-32" => TextEncoding::Utf32,
                    other => {
                        return Err(p.key("encoding").err(format!(
                            "expected one of \"ascii\", \"utf-8\", \"utf-16\", \"utf-32\", found {other:?}"
                        )));
                    }
                };
            }
            if let Some(pat) = m.get("pattern") {
                no_other_keys(m, &["type", "encoding", "pattern", "description"], p).map_err(
                    |e| {
                        SchemaError::new(
                            e.path,
                            format!(
                                "{} (a string format with a pattern takes no case or length rules)",
                                e.message
                            ),
                        )
                    },
                )?;
                let source = as_str(pat, &p.key("pattern"))?.to_owned();
                let regex = regex::Regex::new(&format!("^(?:{source})$")).map_err(|e| {
                    p.key("pattern")
                        .err(format!("not a regular expression kith can run: {e}"))
                })?;
                Format::String {
                    pattern: Some(Pattern { source, regex }),
                    case: Case::Mixed,
                    min_length: None,
                    max_length: None,
                }
            } else {
                no_other_keys(
                    m,
                    &[
                        "type",
                        "encoding",
                        "case",
                        "minLength",
                        "maxLength",
                        "description",
                    ],
                    p,
                )?;
                let case = match m.get("case") {
                    None => Case::Mixed,
                    Some(c) => match as_str(c, &p.key("case"))? {
                        "upper" => Case::Upper,
                        "lower" => Case::Lower,
                        "mixed" => Case::Mixed,
                        other => {
                            return Err(p.key("case").err(format!(
                                "expected \"upper\", \"lower\" or \"mixed\", found {other:?}"
                            )));
                        }
                    },
                };
                let min_length = m
                    .get("minLength")
                    .map(|v| as_int(v, &p.key("minLength"), 0))
                    .transpose()?;
                let max_length = m
                    .get("maxLength")
                    .map(|v| as_int(v, &p.key("maxLength"), 1))
                    .transpose()?;
                Format::String {
                    pattern: None,
                    case,
                    min_length: min_length.map(|v| v as u64),
                    max_length: max_length.map(|v| v as u64),
                }
            }
        }
        "integer" => {
            no_other_keys(m, &["type", "minimum", "maximum", "description"], p)?;
            Format::Integer {
                minimum: m
                    .get("minimum")
                    .map(|v| as_int(v, &p.key("minimum"), i64::MIN))
                    .transpose()?,
                maximum: m
                    .get("maximum")
                    .map(|v| as_int(v, &p.key("maximum"), i64::MIN))
                    .transpose()?,
            }
        }
        "date" => {
            no_other_keys(m, &["type", "format", "description"], p)?;
            let f = as_str(required(m, "format", p)?, &p.key("format"))?;
            Format::Date(DateFormat::parse(f).map_err(|e| p.key("format").err(e))?)
        }
        "enum" => {
            no_other_keys(m, &["type", "values", "description"], p)?;
            let vp = p.key("values");
            let values = required(m, "values", p)?;
            let values = values.as_array().ok_or_else(|| {
                vp.err(format!(
                    "expected an array of strings, found {}",
                    kind(values)
                ))
            })?;
            Format::Enum(
                values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| as_str(v, &vp.idx(i)).map(str::to_owned))
                    .collect::<Result<_, _>>()?,
            )
        }
        other => {
            return Err(p.key("type").err(format!(
                "expected one of \"string\", \"integer\", \"date\", \"enum\", found {other:?}"
            )));
        }
    };
    Ok((format, encoding))
}

pub(super) fn parse_hashing(
    format_v: &Value,
    format_p: &JPath,
    v: &Value,
    p: &JPath,
    clk: &ClkConfig,
) -> Result<FeatureHashing, SchemaError> {
    let (format, encoding) = parse_format(format_v, format_p)?;
    let m = as_object(v, p)?;
    no_other_keys(m, &["hash", "strategy", "comparison", "missingValue"], p)?;

    let sp = p.key("strategy");
    let s = as_object(required(m, "strategy", p)?, &sp)?;
    let strategy = match (s.get("bitsPerToken"), s.get("bitsPerFeature"), s.len()) {
        (Some(k), None, 1) => Strategy::BitsPerToken(to_u32(
            as_int(k, &sp.key("bitsPerToken"), 1)?,
            &sp.key("bitsPerToken"),
        )?),
        (None, Some(f), 1) => Strategy::BitsPerFeature(to_u32(
            as_int(f, &sp.key("bitsPerFeature"), 1)?,
            &sp.key("bitsPerFeature"),
        )?),
        _ => {
            return Err(
                sp.err("must have exactly one property: `bitsPerToken` or `bitsPerFeature`")
            );
        }
    };

    let cp = p.key("comparison");
    let c = as_object(required(m, "comparison", p)?, &cp)?;
    let ct = as_str(required(c, "type", &cp)?, &cp.key("type"))?;
    let comparison = match ct {
        "ngram" => {
            let n = as_int(required(c, "n", &cp)?, &cp.key("n"), 1)?;
            let positional = match c.get("positional") {
                Some(v) => as_bool(v, &cp.key("positional"))?,
                None => false,
            };
            Comparison::Ngram {
                n: usize::try_from(n).map_err(|_| cp.key("n").err("is too large"))?,
                positional,
            }
        }
        "exact" => Comparison::Exact,
        "numeric" => {
            let tp = cp.key("thresholdDistance");
            let td = required(c, "thresholdDistance", &cp)?;
            let threshold = as_number(td, &tp)?;
            if threshold <= 0.0 {
                return Err(tp.err("must be greater than 0"));
            }
            let resolution = to_u32(
                as_int(required(c, "resolution", &cp)?, &cp.key("resolution"), 1)?,
                &cp.key("resolution"),
            )?;
            let precision = match c.get("fractional_precision") {
                Some(v) => as_int(v, &cp.key("fractional_precision"), 0)?,
                None => 0,
            };
            if precision > 18 {
                return Err(cp
                    .key("fractional_precision")
                    .err("at most 18 is supported"));
            }
            let precision = precision as u32;
            let scale = 10i128.pow(precision);
            let distance = match td.as_i64() {
                Some(i) => i128::from(i) * scale,
                None => py_round(threshold * scale as f64) as i128,
            };
            if distance <= 0 {
                return Err(tp.err(format!(
                    "thresholdDistance × 10^fractional_precision rounds to {distance}; it must round to at least 1"
                )));
            }
            let Value::Number(threshold_distance) = td.clone() else {
                return Err(tp.err("expected a number"));
            };
            Comparison::Numeric(NumericComparison {
                threshold_distance,
                resolution,
                fractional_precision: precision,
                distance,
            })
        }
        other => {
            return Err(cp.key("type").err(format!(
                "expected one of \"ngram\", \"exact\", \"numeric\", found {other:?}"
            )));
        }
    };

    let hash = match m.get("hash") {
        None => HashKind::Blake,
        Some(h) => {
            let hp = p.key("hash");
            let hm = as_object(h, &hp)?;
            let ps = hm.get("prevent_singularity");
            match as_str(required(hm, "type", &hp)?, &hp.key("type"))? {
                "blakeHash" => {
                    if ps.is_some() {
                        return Err(hp
                            .key("prevent_singularity")
                            .err("prevent_singularity may only be given with \"doubleHash\""));
                    }
                    HashKind::Blake
                }
                "doubleHash" => HashKind::Double {
                    prevent_singularity: ps
                        .map(|v| as_bool(v, &hp.key("prevent_singularity")))
                        .transpose()?
                        .unwrap_or(false),
                },
                other => {
                    return Err(hp.key("type").err(format!(
                        "expected \"blakeHash\" or \"doubleHash\", found {other:?}"
                    )));
                }
            }
        }
    };
    if hash == HashKind::Blake {
        let big_l = u64::from(clk.l) << clk.xor_folds;
        if !big_l.is_power_of_two() {
            return Err(p.key("hash").err(format!(
                "blakeHash needs l × 2^xor_folds to be a power of two, but it is {big_l}; \
                 use doubleHash or change l"
            )));
        }
        if clk.kdf.key_size > 64 {
            return Err(p
                .key("hash")
                .err("blakeHash keys are at most 64 bytes; clkConfig.kdf.keySize is larger"));
        }
    }

    let missing = match m.get("missingValue") {
        None => None,
        Some(mv) => {
            let mp = p.key("missingValue");
            let mm = as_object(mv, &mp)?;
            Some(MissingValue {
                sentinel: as_str(required(mm, "sentinel", &mp)?, &mp.key("sentinel"))?.to_owned(),
                replace_with: mm
                    .get("replaceWith")
                    .map(|r| as_str(r, &mp.key("replaceWith")).map(str::to_owned))
                    .transpose()?,
            })
        }
    };
    Ok(FeatureHashing {
        format,
        encoding,
        comparison,
        strategy,
        hash,
        missing,
    })
}

pub(super) fn to_u32(v: i64, p: &JPath) -> Result<u32, SchemaError> {
    u32::try_from(v).map_err(|_| p.err("is too large"))
}
