//! clkhash v1 and v2: validation of the parts that the conversion reads, then clkhash's
//! conversions to v3.

use serde_json::{Map, Value, json};

use crate::error::SchemaError;
use crate::jsonpath::{
    JPath, as_bool, as_int, as_number, as_object, as_str, kind, no_other_keys, required,
};

pub(super) fn converted(mut e: SchemaError) -> SchemaError {
    e.path = format!("{} (in the schema as converted to v3)", e.path);
    e
}

pub(super) fn validate_common_top(top: &Map<String, Value>) -> Result<(), SchemaError> {
    let root = JPath::root();
    as_object(required(top, "clkConfig", &root)?, &root.key("clkConfig"))?;
    let features = required(top, "features", &root)?;
    features.as_array().ok_or_else(|| {
        root.key("features")
            .err(format!("expected an array, found {}", kind(features)))
    })?;
    Ok(())
}

pub(super) fn validate_hash_object(v: &Value, p: &JPath) -> Result<(), SchemaError> {
    let m = as_object(v, p)?;
    let t = as_str(required(m, "type", p)?, &p.key("type"))?;
    if t != "blakeHash" && t != "doubleHash" {
        return Err(p.key("type").err(format!(
            "expected \"blakeHash\" or \"doubleHash\", found {t:?}"
        )));
    }
    if let Some(ps) = m.get("prevent_singularity") {
        as_bool(ps, &p.key("prevent_singularity"))?;
    }
    Ok(())
}

pub(super) fn validate_v1(top: &Map<String, Value>) -> Result<(), SchemaError> {
    validate_common_top(top)?;
    let root = JPath::root();
    let cp = root.key("clkConfig");
    let clk = as_object(&top["clkConfig"], &cp)?;
    as_int(required(clk, "l", &cp)?, &cp.key("l"), 1)?;
    as_int(required(clk, "k", &cp)?, &cp.key("k"), 1)?;
    required(clk, "kdf", &cp)?;
    validate_hash_object(required(clk, "hash", &cp)?, &cp.key("hash"))?;
    for (i, f) in top["features"].as_array().into_iter().flatten().enumerate() {
        let fp = root.key("features").idx(i);
        let m = as_object(f, &fp)?;
        as_str(required(m, "identifier", &fp)?, &fp.key("identifier"))?;
        if m.get("ignored").is_some_and(|v| v == &Value::Bool(true)) && !m.contains_key("hashing") {
            continue;
        }
        let hp = fp.key("hashing");
        let h = as_object(required(m, "hashing", &fp)?, &hp)?;
        required(m, "format", &fp)?;
        as_int(required(h, "ngram", &hp)?, &hp.key("ngram"), 0)?;
        if let Some(w) = h.get("weight")
            && as_number(w, &hp.key("weight"))? < 0.0
        {
            return Err(hp.key("weight").err("must be at least 0"));
        }
        if let Some(pos) = h.get("positional") {
            as_bool(pos, &hp.key("positional"))?;
        }
    }
    Ok(())
}

pub(super) fn validate_v2(top: &Map<String, Value>) -> Result<(), SchemaError> {
    validate_common_top(top)?;
    let root = JPath::root();
    for (i, f) in top["features"].as_array().into_iter().flatten().enumerate() {
        let fp = root.key("features").idx(i);
        let m = as_object(f, &fp)?;
        if m.get("ignored") == Some(&Value::Bool(true)) && !m.contains_key("hashing") {
            continue;
        }
        let hp = fp.key("hashing");
        let h = as_object(required(m, "hashing", &fp)?, &hp)?;
        no_other_keys(
            h,
            &["hash", "strategy", "ngram", "positional", "missingValue"],
            &hp,
        )?;
        as_int(required(h, "ngram", &hp)?, &hp.key("ngram"), 1)?;
        let sp = hp.key("strategy");
        let s = as_object(required(h, "strategy", &hp)?, &sp)?;
        match (s.get("k"), s.get("numBits")) {
            (Some(k), None) => {
                as_int(k, &sp.key("k"), 1)?;
            }
            (None, Some(n)) => {
                as_int(n, &sp.key("numBits"), 1)?;
            }
            _ => return Err(sp.err("must have exactly one of `k` and `numBits`")),
        }
    }
    Ok(())
}

/// Python's `round()` (half to even) to an integer.
pub(super) fn py_round(x: f64) -> f64 {
    x.round_ties_even()
}

pub(super) fn convert_v1_to_v2(top: &Map<String, Value>) -> Map<String, Value> {
    let clk = top["clkConfig"].as_object().cloned().unwrap_or_default();
    let k = clk.get("k").and_then(Value::as_i64).unwrap_or(0);
    let hash = clk.get("hash").cloned().unwrap_or(Value::Null);
    let features: Vec<Value> = top["features"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let mut f = f.as_object().cloned().unwrap_or_default();
            if f.get("ignored").and_then(Value::as_bool).unwrap_or(false) {
                return Value::Object(f);
            }
            let mut hashing = f.get("hashing").and_then(Value::as_object).cloned().unwrap_or_default();
            let weight = hashing.get("weight").and_then(Value::as_f64).unwrap_or(1.0);
            if weight == 0.0 {
                return json!({"identifier": f.get("identifier").cloned().unwrap_or(Value::Null), "ignored": true});
            }
            hashing.remove("weight");
            hashing.insert("strategy".into(), json!({"k": py_round(weight * k as f64) as i64}));
            hashing.insert("hash".into(), hash.clone());
            f.insert("hashing".into(), Value::Object(hashing));
            Value::Object(f)
        })
        .collect();
    let mut clk2 = Map::new();
    clk2.insert("l".into(), clk.get("l").cloned().unwrap_or(Value::Null));
    // clkhash reads the snake_case key here too.
    clk2.insert(
        "xor_folds".into(),
        clk.get("xor_folds").cloned().unwrap_or(json!(0)),
    );
    clk2.insert("kdf".into(), clk.get("kdf").cloned().unwrap_or(Value::Null));
    let mut out = Map::new();
    out.insert("version".into(), json!(2));
    out.insert("clkConfig".into(), Value::Object(clk2));
    out.insert("features".into(), Value::Array(features));
    out
}

pub(super) fn convert_v2_to_v3(top: &Map<String, Value>) -> Map<String, Value> {
    let mut out = top.clone();
    out.insert("version".into(), json!(3));
    if let Some(Value::Array(features)) = out.get_mut("features") {
        for f in features.iter_mut().filter_map(Value::as_object_mut) {
            if f.get("ignored").and_then(Value::as_bool).unwrap_or(false) {
                continue;
            }
            let Some(h) = f.get_mut("hashing").and_then(Value::as_object_mut) else {
                continue;
            };
            if let Some(s) = h.get_mut("strategy").and_then(Value::as_object_mut) {
                if let Some(k) = s.remove("k") {
                    s.insert("bitsPerToken".into(), k);
                } else if let Some(n) = s.remove("numBits") {
                    s.insert("bitsPerFeature".into(), n);
                }
            }
            let n = h.remove("ngram").unwrap_or(json!(2));
            let positional = h.remove("positional").unwrap_or(json!(false));
            h.insert(
                "comparison".into(),
                json!({"type": "ngram", "n": n, "positional": positional}),
            );
        }
    }
    out
}
