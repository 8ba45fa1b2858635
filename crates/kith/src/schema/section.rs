//! The `kith` section: normalisers, exact identifiers, blocking keys, field filters, twins,
//! household and criteria.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::KITH_SECTION_VERSION;
use super::model::*;
use crate::blocking::Transform;
use crate::datefmt::DateFormat;
use crate::error::SchemaError;
use crate::jsonpath::{JPath, as_int, as_number, as_object, as_str, kind, no_other_keys, required};
use crate::normalize::{DateNormalizer, Normalizer};

pub(super) fn parse_kith(
    v: &Value,
    p: &JPath,
    features: &[Feature],
) -> Result<KithSection, SchemaError> {
    let m = as_object(v, p)?;
    no_other_keys(
        m,
        &[
            "version",
            "id_column",
            "normalize",
            "exact",
            "blocking",
            "fields",
            "twins",
            "household",
            "criteria",
            "areas",
            "clk",
            "description",
        ],
        p,
    )?;
    let version = as_int(required(m, "version", p)?, &p.key("version"), 1)?;
    if version != KITH_SECTION_VERSION {
        return Err(p.key("version").err(format!(
            "kith section version {version} is not supported by this kith (it reads version {KITH_SECTION_VERSION})"
        )));
    }
    let id_column = m
        .get("id_column")
        .map(|c| as_str(c, &p.key("id_column")).map(str::to_owned))
        .transpose()?;
    let mut normalize = BTreeMap::new();
    if let Some(n) = m.get("normalize") {
        let np = p.key("normalize");
        for (feature, spec) in as_object(n, &np)? {
            let fp = np.key(feature);
            let Some(f) = features.iter().find(|f| &f.identifier == feature) else {
                return Err(fp.err(format!("there is no feature {feature:?} in the schema")));
            };
            let Some(h) = &f.hashing else {
                return Err(fp.err(format!(
                    "feature {feature:?} is ignored; it cannot be normalised"
                )));
            };
            let normalizer = parse_normalizer(spec, &fp, Some(&h.format))?;
            check_normalizer_fits(&normalizer, &h.format, &fp)?;
            normalize.insert(feature.clone(), normalizer);
        }
    }
    let mut exact: Vec<ExactIdentifier> = Vec::new();
    if let Some(e) = m.get("exact") {
        let ep = p.key("exact");
        for (name, spec) in as_object(e, &ep)? {
            let xp = ep.key(name);
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(xp.err(
                    "exact identifier names may use only ASCII letters, digits, '_' and '-'",
                ));
            }
            if features.iter().any(|f| &f.identifier == name) {
                return Err(xp.err(format!("{name:?} is already a feature identifier; exact identifiers need their own names")));
            }
            let sm = as_object(spec, &xp)?;
            no_other_keys(sm, &["normalize", "description"], &xp)?;
            let normalize = sm
                .get("normalize")
                .map(|n| parse_normalizer(n, &xp.key("normalize"), None))
                .transpose()?;
            exact.push(ExactIdentifier {
                name: name.clone(),
                normalize,
            });
        }
    }
    let blocking = match m.get("blocking") {
        Some(b) => parse_blocking(b, &p.key("blocking"), features, &normalize, &exact)?,
        None => Vec::new(),
    };
    let fields = match m.get("fields") {
        Some(f) => parse_fields(f, &p.key("fields"), features, &normalize)?,
        None => Vec::new(),
    };
    let twins = match m.get("twins") {
        Some(t) => Some(parse_twins(t, &p.key("twins"), &fields)?),
        None => None,
    };
    let household = m
        .get("household")
        .map(|h| parse_household(h, &p.key("household"), features, &exact))
        .transpose()?;
    let mut criteria: Vec<Criterion> = Vec::new();
    if let Some(c) = m.get("criteria") {
        let cp = p.key("criteria");
        for (name, spec) in as_object(c, &cp)? {
            let np = cp.key(name);
            check_input_name(name, &np, features, &exact)?;
            if household.as_ref().is_some_and(|h| {
                h.register.as_deref() == Some(name)
                    || h.dwelling.as_ref().is_some_and(|d| &d.address == name)
            }) {
                return Err(np.err(format!("{name:?} is already a household input")));
            }
            no_other_keys(as_object(spec, &np)?, &["description"], &np)?;
            criteria.push(Criterion { name: name.clone() });
        }
    }
    let areas = match m.get("areas") {
        Some(a) => parse_areas(a, &p.key("areas"), features, &normalize)?,
        None => Vec::new(),
    };
    let clk = match m.get("clk") {
        Some(c) => parse_clk_hardening(c, &p.key("clk"), features, &normalize)?,
        None => ClkHardening::default(),
    };
    Ok(KithSection {
        version,
        id_column,
        normalize,
        exact,
        blocking,
        fields,
        twins,
        household,
        criteria,
        areas,
        clk,
    })
}

/// Parse `{"district": {"feature": "postcode", "transform": "postcode_district"}}`: coarse areas a
/// holder sends in clear for aggregate counts. Only a postcode's district or area is coarse enough.
fn parse_areas(
    v: &Value,
    p: &JPath,
    features: &[Feature],
    normalize: &BTreeMap<String, Normalizer>,
) -> Result<Vec<Area>, SchemaError> {
    let mut areas = Vec::new();
    for (name, spec) in as_object(v, p)? {
        let ap = p.key(name);
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ap.err("area names may use only ASCII letters, digits, '_' and '-'"));
        }
        let part = parse_part(spec, &ap, features, normalize)?;
        if !matches!(
            part.transform,
            Transform::PostcodeDistrict | Transform::PostcodeArea
        ) {
            return Err(ap.key("transform").err(format!(
                "an area is sent in clear, so it must be coarse: \"postcode_district\" or \"postcode_area\", not {:?}",
                part.transform.name()
            )));
        }
        areas.push(Area {
            name: name.clone(),
            part,
        });
    }
    Ok(areas)
}

/// Parse `{"rule90": true, "blip": 4, "balance": true}`.
fn parse_clk_hardening(
    v: &Value,
    p: &JPath,
    features: &[Feature],
    normalize: &BTreeMap<String, Normalizer>,
) -> Result<ClkHardening, SchemaError> {
    let m = as_object(v, p)?;
    no_other_keys(
        m,
        &[
            "rule90",
            "blip",
            "balance",
            "rehash",
            "dates",
            "salt",
            "description",
        ],
        p,
    )?;
    let salt = m
        .get("salt")
        .map(|s| parse_part(s, &p.key("salt"), features, normalize))
        .transpose()?;
    let date_parts = match m.get("dates") {
        None => false,
        Some(d) => match as_str(d, &p.key("dates"))? {
            "positional" => false,
            "parts" => true,
            other => {
                return Err(p.key("dates").err(format!(
                    "expected \"positional\" or \"parts\", found {other:?}"
                )));
            }
        },
    };
    Ok(ClkHardening {
        rule90: parse_flag(m, "rule90", p)?,
        blip: parse_blip(m, p)?,
        balance: parse_flag(m, "balance", p)?,
        rehash: parse_rehash(m, p)?,
        date_parts,
        salt,
    })
}

/// An optional `true` or `false` (false when absent).
fn parse_flag(m: &Map<String, Value>, key: &str, p: &JPath) -> Result<bool, SchemaError> {
    m.get(key)
        .map(|b| {
            b.as_bool().ok_or_else(|| {
                p.key(key)
                    .err(format!("expected true or false, found {}", kind(b)))
            })
        })
        .transpose()
        .map(|b| b.unwrap_or(false))
}

/// An optional `"blip": ε`, above 0 and at most 20.
fn parse_blip(m: &Map<String, Value>, p: &JPath) -> Result<Option<f64>, SchemaError> {
    let Some(b) = m.get("blip") else {
        return Ok(None);
    };
    let e = as_number(b, &p.key("blip"))?;
    if !(e.is_finite() && e > 0.0 && e <= 20.0) {
        return Err(p.key("blip").err(format!(
            "expected an epsilon above 0 and at most 20, found {e}"
        )));
    }
    Ok(Some(e))
}

/// An optional `"rehash": {"window": w, "step": s, "k": k}`.
fn parse_rehash(m: &Map<String, Value>, p: &JPath) -> Result<Option<Rehash>, SchemaError> {
    let Some(r) = m.get("rehash") else {
        return Ok(None);
    };
    let rp = p.key("rehash");
    let rm = as_object(r, &rp)?;
    no_other_keys(rm, &["window", "step", "k"], &rp)?;
    let int = |key: &str, lo: i64, hi: i64| -> Result<u32, SchemaError> {
        let v = as_int(required(rm, key, &rp)?, &rp.key(key), lo)?;
        if v > hi {
            return Err(rp.key(key).err(format!("expected {lo} to {hi}, found {v}")));
        }
        Ok(v as u32)
    };
    let window = int("window", 1, 32)?;
    let step = int("step", 1, i64::from(window))?;
    let k = int("k", 1, 16)?;
    Ok(Some(Rehash { window, step, k }))
}

/// An input name must be plain and must not already name a feature or an exact identifier.
pub(super) fn check_input_name(
    name: &str,
    p: &JPath,
    features: &[Feature],
    exact: &[ExactIdentifier],
) -> Result<(), SchemaError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(p.err("input names may use only ASCII letters, digits, '_' and '-'"));
    }
    if features.iter().any(|f| f.identifier == name) || exact.iter().any(|e| e.name == name) {
        return Err(p.err(format!(
            "{name:?} is already a feature or exact identifier; give this input its own name"
        )));
    }
    Ok(())
}

/// Parse `{"dwelling": {"postcode": "postcode", "address": "address"}, "register": "household_ref"}`.
pub(super) fn parse_household(
    v: &Value,
    p: &JPath,
    features: &[Feature],
    exact: &[ExactIdentifier],
) -> Result<Household, SchemaError> {
    let m = as_object(v, p)?;
    no_other_keys(m, &["dwelling", "register", "description"], p)?;
    let dwelling = match m.get("dwelling") {
        None => None,
        Some(d) => {
            let dp = p.key("dwelling");
            let dm = as_object(d, &dp)?;
            no_other_keys(dm, &["postcode", "address", "description"], &dp)?;
            let postcode = as_str(required(dm, "postcode", &dp)?, &dp.key("postcode"))?;
            if !features
                .iter()
                .any(|f| f.identifier == postcode && f.hashing.is_some())
            {
                return Err(dp.key("postcode").err(format!(
                    "there is no (hashed) feature {postcode:?} in the schema"
                )));
            }
            let address = as_str(required(dm, "address", &dp)?, &dp.key("address"))?;
            check_input_name(address, &dp.key("address"), features, exact)?;
            Some(Dwelling {
                postcode: postcode.to_owned(),
                address: address.to_owned(),
            })
        }
    };
    let register = match m.get("register") {
        None => None,
        Some(r) => {
            let rp = p.key("register");
            let name = as_str(r, &rp)?;
            check_input_name(name, &rp, features, exact)?;
            if dwelling.as_ref().is_some_and(|d| d.address == name) {
                return Err(rp.err(format!("{name:?} is already the address input")));
            }
            Some(name.to_owned())
        }
    };
    if dwelling.is_none() && register.is_none() {
        return Err(p.err("name a \"dwelling\", a \"register\", or both"));
    }
    Ok(Household { dwelling, register })
}

/// Parse `{"differ": "given_name" | ["given_name", "sex"], "agree": ["dob", "surname"],
/// "personal": ["ni_number"]}` (`personal` optional); every name must have a field filter, and
/// none may be named twice.
pub(super) fn parse_twins(
    v: &Value,
    p: &JPath,
    fields: &[FieldFilter],
) -> Result<TwinRule, SchemaError> {
    let m = as_object(v, p)?;
    no_other_keys(m, &["differ", "agree", "personal", "description"], p)?;
    let known = |name: &str, at: &JPath| -> Result<String, SchemaError> {
        if fields.iter().any(|f| f.feature == name) {
            Ok(name.to_owned())
        } else {
            Err(at.err(format!("{name:?} has no field-level filter (kith.fields)")))
        }
    };
    let dp = p.key("differ");
    let mut differ = Vec::new();
    match required(m, "differ", p)? {
        Value::Array(list) => {
            if list.is_empty() {
                return Err(dp.err("name at least one field that differs between twins"));
            }
            for (i, d) in list.iter().enumerate() {
                let name = known(as_str(d, &dp.idx(i))?, &dp.idx(i))?;
                if differ.contains(&name) {
                    return Err(dp.idx(i).err(format!("{name:?} is named twice")));
                }
                differ.push(name);
            }
        }
        d => differ.push(known(as_str(d, &dp)?, &dp)?),
    }
    let ap = p.key("agree");
    let list = required(m, "agree", p)?
        .as_array()
        .ok_or_else(|| ap.err("expected a list of field names"))?;
    if list.is_empty() {
        return Err(ap.err("name at least one field twins share"));
    }
    let mut agree = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let name = known(as_str(a, &ap.idx(i))?, &ap.idx(i))?;
        if differ.contains(&name) || agree.contains(&name) {
            return Err(ap.idx(i).err(format!("{name:?} is named twice")));
        }
        agree.push(name);
    }
    let mut personal = Vec::new();
    if let Some(v) = m.get("personal") {
        let pp = p.key("personal");
        let list = v
            .as_array()
            .ok_or_else(|| pp.err("expected a list of field names"))?;
        for (i, x) in list.iter().enumerate() {
            let name = known(as_str(x, &pp.idx(i))?, &pp.idx(i))?;
            if differ.contains(&name) || agree.contains(&name) || personal.contains(&name) {
                return Err(pp.idx(i).err(format!("{name:?} is named twice")));
            }
            personal.push(name);
        }
    }
    Ok(TwinRule {
        differ,
        agree,
        personal,
    })
}

/// Parse `{"surname": {"bits": 256, "k": 8, "group": "name"}, ...}`.
pub(super) fn parse_fields(
    v: &Value,
    p: &JPath,
    features: &[Feature],
    normalize: &BTreeMap<String, Normalizer>,
) -> Result<Vec<FieldFilter>, SchemaError> {
    let mut out: Vec<FieldFilter> = Vec::new();
    let m = as_object(v, p)?;
    if m.len() > MAX_FIELD_FILTERS {
        return Err(p.err(format!(
            "at most {MAX_FIELD_FILTERS} field filters, found {}",
            m.len()
        )));
    }
    for (feature, spec) in m {
        let fp = p.key(feature);
        let hashing = match features.iter().find(|f| &f.identifier == feature) {
            None => return Err(fp.err(format!("there is no feature {feature:?} in the schema"))),
            Some(Feature { hashing: None, .. }) => {
                return Err(fp.err(format!(
                    "feature {feature:?} is ignored; holders do not read it"
                )));
            }
            Some(Feature {
                hashing: Some(h), ..
            }) => h,
        };
        let sm = as_object(spec, &fp)?;
        no_other_keys(
            sm,
            &[
                "bits",
                "k",
                "group",
                "tokens",
                "hash",
                "salt",
                "blip",
                "fold",
                "rule90",
                "rehash",
                "balance",
                "description",
            ],
            &fp,
        )?;
        let hash = match sm.get("hash") {
            None => FieldHash::Double,
            Some(h) => match as_str(h, &fp.key("hash"))? {
                "double" => FieldHash::Double,
                "random" => FieldHash::Random,
                other => {
                    return Err(fp.key("hash").err(format!(
                        "expected \"double\" or \"random\", found {other:?}"
                    )));
                }
            },
        };
        let salt = match sm.get("salt") {
            None => None,
            Some(s) => {
                let part = parse_part(s, &fp.key("salt"), features, normalize)?;
                if part.feature == *feature {
                    return Err(fp
                        .key("salt")
                        .err("a filter cannot be salted with its own feature"));
                }
                Some(part)
            }
        };
        let blip = parse_blip(sm, &fp)?;
        let tokens = match sm.get("tokens") {
            None => FieldTokens::Clk,
            Some(t) => match as_str(t, &fp.key("tokens"))? {
                "clk" => FieldTokens::Clk,
                "date" if matches!(hashing.format, Format::Date(_)) => FieldTokens::Date,
                "date_parts" if matches!(hashing.format, Format::Date(_)) => FieldTokens::DateParts,
                t @ ("date" | "date_parts") => {
                    return Err(fp.key("tokens").err(format!(
                        "{t:?} tokens need a date feature; {feature:?} is not one"
                    )));
                }
                "skips"
                    if hashing.comparison
                        == (Comparison::Ngram {
                            n: 2,
                            positional: false,
                        }) =>
                {
                    FieldTokens::Skips
                }
                "skips" => {
                    return Err(fp.key("tokens").err(format!(
                        "\"skips\" tokens need a feature compared by plain bigrams ({{\"type\": \"ngram\", \"n\": 2}}); {feature:?} is not one"
                    )));
                }
                other => {
                    return Err(fp.key("tokens").err(format!(
                        "expected \"clk\", \"date\", \"date_parts\" or \"skips\", found {other:?}"
                    )));
                }
            },
        };
        let bits = as_int(required(sm, "bits", &fp)?, &fp.key("bits"), 64)?;
        if !(64..=1024).contains(&bits) || bits % 64 != 0 {
            return Err(fp.key("bits").err(format!(
                "expected a multiple of 64 from 64 to 1024, found {bits}"
            )));
        }
        let folds = match sm.get("fold") {
            Some(f) => as_int(f, &fp.key("fold"), 0)?,
            None => 0,
        };
        if folds > 4 || (bits >> folds) < 64 || (bits >> folds) % 64 != 0 {
            return Err(fp.key("fold").err(format!(
                "{bits} bits folded {folds} times must leave a multiple of 64 bits"
            )));
        }
        let k = match sm.get("k") {
            Some(k) => as_int(k, &fp.key("k"), 1)?,
            None => 4,
        };
        if !(1..=64).contains(&k) {
            return Err(fp
                .key("k")
                .err(format!("expected 1 to 64 bits per token, found {k}")));
        }
        let group = match sm.get("group") {
            Some(g) => {
                let g = as_str(g, &fp.key("group"))?;
                if g.is_empty()
                    || !g
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(fp
                        .key("group")
                        .err("group names may use only ASCII letters, digits, '_' and '-'"));
                }
                g.to_owned()
            }
            None => feature.clone(),
        };
        if let Some(other) = out
            .iter()
            .find(|o| o.group == group && o.bits != bits as u32)
        {
            return Err(fp.key("bits").err(format!(
                "filters of one group must have one length; {:?} in group {group:?} has {} bits",
                other.feature, other.bits
            )));
        }
        let filter = FieldFilter {
            feature: feature.clone(),
            bits: bits as u32,
            k: k as u32,
            group,
            tokens,
            hash,
            salt,
            blip,
            folds: folds as u32,
            rule90: parse_flag(sm, "rule90", &fp)?,
            rehash: parse_rehash(sm, &fp)?,
            balance: parse_flag(sm, "balance", &fp)?,
        };
        if filter.encoded_bits() > 1024 {
            return Err(fp.key("balance").err(format!(
                "a balanced filter is twice as long: {} bits is over 1024 (fold it, or use 512 bits \
                 or fewer)",
                filter.encoded_bits()
            )));
        }
        if !filter.tokens.parts().is_empty() {
            // Folding, rule 90, rehashing and balancing mix bits across the whole filter, so
            // its parts could no longer be compared apart.
            if filter.transforms() != (0, false, None, false) {
                return Err(fp.key("tokens").err(
                    "a filter in parts cannot be folded, rule-90'd, rehashed or balanced (its \
                     parts are compared apart); use \"hash\": \"random\", \"blip\" or \"salt\"",
                ));
            }
            let parts = filter.tokens.parts().len() as u32;
            if !filter.bits.is_multiple_of(64 * parts) {
                return Err(fp.key("bits").err(format!(
                    "a filter in {parts} parts needs a multiple of {} bits, found {}",
                    64 * parts,
                    filter.bits
                )));
            }
        }
        if out.iter().any(|o| {
            o.group == filter.group
                && !(o.tokens.parts().is_empty() && filter.tokens.parts().is_empty())
        }) {
            return Err(fp
                .key("group")
                .err("a filter in parts has a key group of its own"));
        }
        if let Some(other) = out
            .iter()
            .find(|o| o.group == filter.group && o.transforms() != filter.transforms())
        {
            return Err(fp.err(format!(
                "filters of one group must be folded, rehashed and balanced alike; {:?} in group \
                 {:?} is not",
                other.feature, filter.group
            )));
        }
        // Filters of one group are compared crosswise (names swapped): made alike, or a forename
        // in the surname field would not agree with itself.
        if let Some(other) = out
            .iter()
            .find(|o| o.group == filter.group && o.tokens != filter.tokens)
        {
            return Err(fp.key("tokens").err(format!(
                "filters of one group must take the same tokens; {:?} in group {:?} takes {:?}",
                other.feature,
                filter.group,
                other.tokens.name()
            )));
        }
        out.push(filter);
    }
    Ok(out)
}

/// Parse `{"name": [{"feature": "surname", "transform": "soundex"}, ...], ...}`, where a key may
/// also be `{"parts": [...], "any_order": true}`.
pub(super) fn parse_blocking(
    v: &Value,
    p: &JPath,
    features: &[Feature],
    normalize: &BTreeMap<String, Normalizer>,
    exact: &[ExactIdentifier],
) -> Result<Vec<BlockingKey>, SchemaError> {
    let mut keys = Vec::new();
    for (name, spec) in as_object(v, p)? {
        let kp = p.key(name);
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(
                kp.err("blocking key names may use only ASCII letters, digits, '_' and '-'")
            );
        }
        if exact.iter().any(|e| &e.name == name) {
            return Err(kp.err(format!("{name:?} is already an exact identifier's name")));
        }
        // A list of parts, or {"parts": [...], "any_order": true}.
        let (list, lp, any_order) = match spec {
            Value::Object(o) => {
                no_other_keys(o, &["parts", "any_order"], &kp)?;
                let any_order = match o.get("any_order") {
                    None => false,
                    Some(v) => v.as_bool().ok_or_else(|| {
                        kp.key("any_order")
                            .err(format!("expected true or false, found {}", kind(v)))
                    })?,
                };
                (required(o, "parts", &kp)?, kp.key("parts"), any_order)
            }
            _ => (spec, kp.clone(), false),
        };
        let list = list.as_array().ok_or_else(|| {
            lp.err(format!(
                "expected a list of parts such as [{{\"feature\": \"surname\", \"transform\": \"soundex\"}}], found {}",
                kind(list)
            ))
        })?;
        if list.is_empty() {
            return Err(lp.err("a blocking key needs at least one part"));
        }
        let mut parts = Vec::new();
        for (i, part) in list.iter().enumerate() {
            let pp = lp.idx(i);
            parts.push(parse_part(part, &pp, features, normalize)?);
        }
        if any_order && parts.len() < 2 {
            return Err(kp
                .key("any_order")
                .err("a key of one part has no order to ignore"));
        }
        keys.push(BlockingKey {
            name: name.clone(),
            parts,
            any_order,
        });
    }
    Ok(keys)
}

/// Parse one part of a blocking key (or a field filter's salt): `{"feature": "surname",
/// "transform": "soundex"}`.
fn parse_part(
    part: &Value,
    pp: &JPath,
    features: &[Feature],
    normalize: &BTreeMap<String, Normalizer>,
) -> Result<BlockingPart, SchemaError> {
    let pm = as_object(part, pp)?;
    no_other_keys(pm, &["feature", "transform"], pp)?;
    let feature = as_str(required(pm, "feature", pp)?, &pp.key("feature"))?;
    match features.iter().find(|f| f.identifier == feature) {
        None => {
            return Err(pp
                .key("feature")
                .err(format!("there is no feature {feature:?} in the schema")));
        }
        Some(f) if f.hashing.is_none() => {
            return Err(pp.key("feature").err(format!(
                "feature {feature:?} is ignored; holders do not read it"
            )));
        }
        Some(_) => {}
    }
    let transform = match pm.get("transform") {
        None => Transform::Value,
        Some(t) => {
            let tp = pp.key("transform");
            let t = as_str(t, &tp)?;
            Transform::from_name(t).ok_or_else(|| {
                let names: Vec<&str> = Transform::ALL.iter().map(|t| t.name()).collect();
                tp.err(format!(
                    "unknown transform {t:?}; expected one of {}",
                    names.join(", ")
                ))
            })?
        }
    };
    if let Some(need) = transform.needs() {
        let has = normalize.get(feature).map(Normalizer::name);
        if has != Some(need) {
            return Err(pp.key("transform").err(format!(
                    "transform {:?} needs the {need:?} normaliser on feature {feature:?} (kith.normalize)",
                    transform.name()
                )));
        }
    }
    Ok(BlockingPart {
        feature: feature.to_owned(),
        transform,
    })
}

/// Parse `"name"` or `{"type": "date", "formats": [...]}`.
pub(crate) fn parse_normalizer(
    v: &Value,
    p: &JPath,
    format: Option<&Format>,
) -> Result<Normalizer, SchemaError> {
    let (kind_name, options) = match v {
        Value::String(s) => (s.as_str(), None),
        Value::Object(m) => (as_str(required(m, "type", p)?, &p.key("type"))?, Some(m)),
        other => {
            return Err(p.err(format!(
                "expected a normaliser name or object, found {}",
                kind(other)
            )));
        }
    };
    let allowed: &[&str] = if kind_name == "date" {
        &["type", "formats"]
    } else {
        &["type"]
    };
    if let Some(m) = options {
        no_other_keys(m, allowed, p)?;
    }
    Ok(match kind_name {
        "name" => Normalizer::Name,
        "forename" => Normalizer::Forename,
        "postcode" => Normalizer::Postcode,
        "nhs_number" => Normalizer::NhsNumber,
        "sex" => Normalizer::Sex,
        "premise" => Normalizer::Premise,
        "flag" => Normalizer::Flag,
        "date" => {
            let mut formats = Vec::new();
            if let Some(list) = options.and_then(|m| m.get("formats")) {
                let lp = p.key("formats");
                let arr = list.as_array().ok_or_else(|| {
                    lp.err(format!(
                        "expected an array of strptime formats, found {}",
                        kind(list)
                    ))
                })?;
                for (i, f) in arr.iter().enumerate() {
                    let s = as_str(f, &lp.idx(i))?;
                    formats.push(DateFormat::parse(s).map_err(|e| lp.idx(i).err(e))?);
                }
            }
            let output = match format {
                Some(Format::Date(d)) => d.clone(),
                _ => DateFormat::parse("%Y-%m-%d").map_err(|e| p.err(e))?,
            };
            Normalizer::Date(DateNormalizer::new(formats, output))
        }
        other => {
            return Err(p.err(format!(
                "unknown normaliser {other:?} (expected \"name\", \"forename\", \"date\", \"postcode\", \"nhs_number\", \"sex\", \"premise\" or \"flag\")"
            )));
        }
    })
}

/// Refuse a normaliser whose output the feature's format would always reject.
pub(super) fn check_normalizer_fits(
    n: &Normalizer,
    f: &Format,
    p: &JPath,
) -> Result<(), SchemaError> {
    let bad = match (n, f) {
        (
            Normalizer::Name | Normalizer::Forename,
            Format::String {
                case: Case::Upper, ..
            },
        ) => Some("the name normaliser writes lower case but the format requires upper case"),
        (
            Normalizer::Postcode,
            Format::String {
                case: Case::Lower, ..
            },
        ) => Some("the postcode normaliser writes upper case but the format requires lower case"),
        (
            Normalizer::Name | Normalizer::Forename | Normalizer::Postcode | Normalizer::Sex,
            Format::Integer { .. } | Format::Date(_),
        ) => Some("this normaliser writes text, but the feature's format is not a string or enum"),
        (Normalizer::Date(_), Format::Integer { .. } | Format::Enum(_)) => {
            Some("the date normaliser needs a date or string format")
        }
        (Normalizer::Sex, Format::Enum(values))
            if !(values.iter().any(|v| v == "m") && values.iter().any(|v| v == "f")) =>
        {
            Some("the sex normaliser writes \"m\" or \"f\"; the enum must list both")
        }
        _ => None,
    };
    match bad {
        Some(msg) => Err(p.err(msg)),
        None => Ok(()),
    }
}
