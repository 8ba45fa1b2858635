//! Schema loading: every version, every refusal with its JSON path, and the fingerprint.

use serde_json::{Value, json};

use super::*;
use crate::error::SchemaError;
use crate::normalize::Normalizer;

fn v3(features: Value) -> Value {
    json!({"version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}}, "features": features})
}

fn err(doc: Value) -> SchemaError {
    match Schema::from_value(&doc) {
        Ok(_) => panic!("schema should be refused: {doc}"),
        Err(e) => e,
    }
}

fn name_feature() -> Value {
    json!({"identifier": "name", "format": {"type": "string"},
           "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 20}}})
}

#[test]
fn errors_name_the_json_path() {
    let e = err(v3(json!([{"identifier": "id", "ignored": true},
        {"identifier": "name", "format": {"type": "string"},
         "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 0}}}])));
    assert_eq!(e.path, "$.features[1].hashing.strategy.bitsPerToken");
    let e = err(
        json!({"version": 3, "clkConfig": {"l": "big", "kdf": {"type": "HKDF"}}, "features": []}),
    );
    assert_eq!(e.path, "$.clkConfig.l");
    let e = err(json!({"version": 4}));
    assert_eq!(e.path, "$.version");
    let e = err(v3(
        json!([{"identifier": "d", "format": {"type": "date", "format": "%Y-%Q"},
         "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 5}}}]),
    ));
    assert_eq!(e.path, "$.features[0].format.format");
}

#[test]
fn quirks_of_clkhash_are_kept() {
    // xorFolds validates but is not read; xor_folds folds.
    let mut doc = v3(json!([name_feature()]));
    doc["clkConfig"]["xorFolds"] = json!(1);
    assert_eq!(Schema::from_value(&doc).expect("valid").clk().xor_folds, 0);
    doc["clkConfig"]["xor_folds"] = json!(1);
    assert_eq!(Schema::from_value(&doc).expect("valid").clk().xor_folds, 1);
    // A full feature config that says ignored: true is ignored.
    let mut f = name_feature();
    f["ignored"] = json!(true);
    let s = Schema::from_value(&v3(json!([f]))).expect("valid");
    assert!(s.features()[0].hashing.is_none());
    // An ignore feature with extra properties is refused.
    let e = err(v3(
        json!([{"identifier": "x", "ignored": true, "extra": 1}]),
    ));
    assert_eq!(e.path, "$.features[0].extra");
}

/// Blocking keys are checked part by part, and change the fingerprint only when present.
#[test]
fn blocking_keys_are_validated_and_fingerprinted() {
    let mut doc = v3(json!([name_feature()]));
    doc["kith"] = json!({"version": 1, "normalize": {"name": "name"}});
    let plain = Schema::from_value(&doc)
        .expect("valid")
        .fingerprint()
        .to_owned();
    doc["kith"]["blocking"] = json!({});
    assert_eq!(
        Schema::from_value(&doc).expect("valid").fingerprint(),
        plain
    );
    doc["kith"]["blocking"] = json!({"name_sx": [{"feature": "name", "transform": "soundex"}]});
    let s = Schema::from_value(&doc).expect("valid");
    assert_eq!(s.kith().blocking[0].parts[0].feature, "name");
    assert_ne!(s.fingerprint(), plain);
    for (bad, path) in [
        (
            json!({"k": [{"feature": "nope"}]}),
            "$.kith.blocking.k[0].feature",
        ),
        (
            json!({"k": [{"feature": "name", "transform": "year"}]}),
            "$.kith.blocking.k[0].transform",
        ),
        (
            json!({"k": [{"feature": "name", "transform": "metaphone"}]}),
            "$.kith.blocking.k[0].transform",
        ),
        (json!({"k": []}), "$.kith.blocking.k"),
        (
            json!({"k k": [{"feature": "name"}]}),
            "$.kith.blocking[\"k k\"]",
        ),
    ] {
        doc["kith"]["blocking"] = bad;
        let e = err(doc.clone());
        assert_eq!(e.path, path, "{e}");
    }
}

/// A key may ignore the order of its parts (`any_order`): written out only when set, so that a
/// plain key written as an object keeps its fingerprint, and checked with JSON paths.
#[test]
fn blocking_keys_in_any_order_are_validated_and_fingerprinted() {
    let two = json!([{"feature": "name", "transform": "soundex"}, {"feature": "name"}]);
    let mut doc = v3(json!([name_feature()]));
    doc["kith"] = json!({"version": 1, "normalize": {"name": "name"}, "blocking": {"k": two}});
    let listed = Schema::from_value(&doc).expect("valid");
    assert!(!listed.kith().blocking[0].any_order);
    doc["kith"]["blocking"] = json!({"k": {"parts": two, "any_order": false}});
    let object = Schema::from_value(&doc).expect("valid");
    assert_eq!(object.fingerprint(), listed.fingerprint());
    doc["kith"]["blocking"] = json!({"k": {"parts": two, "any_order": true}});
    let any = Schema::from_value(&doc).expect("valid");
    assert!(any.kith().blocking[0].any_order);
    assert_eq!(any.kith().blocking[0].parts.len(), 2);
    assert_ne!(any.fingerprint(), listed.fingerprint());
    for (bad, path) in [
        (json!({"k": {"any_order": true}}), "$.kith.blocking.k"),
        (
            json!({"k": {"parts": two, "any_order": "yes"}}),
            "$.kith.blocking.k.any_order",
        ),
        (
            json!({"k": {"parts": two, "sorted": true}}),
            "$.kith.blocking.k.sorted",
        ),
        (
            json!({"k": {"parts": [{"feature": "nope"}]}}),
            "$.kith.blocking.k.parts[0].feature",
        ),
        (json!({"k": {"parts": []}}), "$.kith.blocking.k.parts"),
        (
            json!({"k": {"parts": [{"feature": "name"}], "any_order": true}}),
            "$.kith.blocking.k.any_order",
        ),
    ] {
        doc["kith"]["blocking"] = bad;
        let e = err(doc.clone());
        assert_eq!(e.path, path, "{e}");
    }
}

/// Field filters and the twin rule are checked with JSON paths, and change the fingerprint
/// only when present.
#[test]
fn field_filters_and_twin_rule_are_validated_and_fingerprinted() {
    let mut second = name_feature();
    second["identifier"] = json!("surname");
    let mut third = name_feature();
    third["identifier"] = json!("sex");
    let mut doc = v3(json!([name_feature(), second, third]));
    doc["kith"] = json!({"version": 1});
    let plain = Schema::from_value(&doc)
        .expect("valid")
        .fingerprint()
        .to_owned();
    doc["kith"]["fields"] = json!({
        "name": {"bits": 256, "k": 4, "group": "names"},
        "surname": {"bits": 256, "group": "names"}
    });
    doc["kith"]["twins"] = json!({"differ": "name", "agree": ["surname"]});
    let s = Schema::from_value(&doc).expect("valid");
    assert_eq!(s.kith().fields.len(), 2);
    assert_eq!(s.kith().fields[1].k, 4, "k defaults to 4");
    assert_eq!(s.kith().fields[1].group, "names");
    assert_eq!(
        s.kith().twins.as_ref().map(|t| t.differ.clone()),
        Some(vec!["name".to_owned()])
    );
    assert_ne!(s.fingerprint(), plain);
    let with_twins = s.fingerprint().to_owned();
    // One differing field written as a list of one is the same rule, with the same
    // fingerprint; a second differing field is another rule.
    doc["kith"]["twins"] = json!({"differ": ["name"], "agree": ["surname"]});
    assert_eq!(
        Schema::from_value(&doc).expect("valid").fingerprint(),
        with_twins
    );
    doc["kith"]["fields"]["sex"] = json!({"bits": 64});
    doc["kith"]["twins"] = json!({"differ": ["name", "sex"], "agree": ["surname"]});
    let both = Schema::from_value(&doc).expect("valid");
    assert_eq!(both.kith().twins.as_ref().map(|t| t.differ.len()), Some(2));
    doc["kith"]["twins"] = json!({"differ": "surname", "agree": ["name"]});
    assert_ne!(
        Schema::from_value(&doc).expect("valid").fingerprint(),
        with_twins
    );
    // Personal fields: read, part of the fingerprint, and an empty list is the rule without them.
    doc["kith"]["twins"] = json!({"differ": ["name"], "agree": ["surname"]});
    let without = Schema::from_value(&doc)
        .expect("valid")
        .fingerprint()
        .to_owned();
    doc["kith"]["twins"] = json!({"differ": ["name"], "agree": ["surname"], "personal": []});
    assert_eq!(
        Schema::from_value(&doc).expect("valid").fingerprint(),
        without
    );
    doc["kith"]["twins"] = json!({"differ": ["name"], "agree": ["surname"], "personal": ["sex"]});
    let personal = Schema::from_value(&doc).expect("valid");
    assert_eq!(
        personal.kith().twins.as_ref().map(|t| t.personal.clone()),
        Some(vec!["sex".to_owned()])
    );
    assert_ne!(personal.fingerprint(), without);
    for (fields, twins, path) in [
        (json!({"nope": {"bits": 64}}), None, "$.kith.fields.nope"),
        (
            json!({"name": {"bits": 100}}),
            None,
            "$.kith.fields.name.bits",
        ),
        (
            json!({"name": {"bits": 2048}}),
            None,
            "$.kith.fields.name.bits",
        ),
        (json!({"name": {}}), None, "$.kith.fields.name"),
        (
            json!({"name": {"bits": 64, "k": 0}}),
            None,
            "$.kith.fields.name.k",
        ),
        (
            json!({"name": {"bits": 64, "tokens": "date"}}),
            None,
            "$.kith.fields.name.tokens",
        ),
        (
            json!({"name": {"bits": 64, "tokens": "words"}}),
            None,
            "$.kith.fields.name.tokens",
        ),
        (
            json!({"name": {"bits": 64, "group": "g"}, "surname": {"bits": 128, "group": "g"}}),
            None,
            "$.kith.fields.surname.bits",
        ),
        (
            json!({"name": {"bits": 64}}),
            Some(json!({"differ": "surname", "agree": ["name"]})),
            "$.kith.twins.differ",
        ),
        (
            json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
            Some(json!({"differ": "name", "agree": ["name"]})),
            "$.kith.twins.agree[0]",
        ),
        (
            json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
            Some(json!({"differ": "name", "agree": []})),
            "$.kith.twins.agree",
        ),
        (
            json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
            Some(json!({"differ": [], "agree": ["surname"]})),
            "$.kith.twins.differ",
        ),
        (
            json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
            Some(json!({"differ": ["name", "name"], "agree": ["surname"]})),
            "$.kith.twins.differ[1]",
        ),
        (
            json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
            Some(json!({"differ": ["name", "nope"], "agree": ["surname"]})),
            "$.kith.twins.differ[1]",
        ),
        (
            json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
            Some(json!({"differ": "name", "agree": ["surname"], "personal": ["nope"]})),
            "$.kith.twins.personal[0]",
        ),
        (
            json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
            Some(json!({"differ": "name", "agree": ["surname"], "personal": ["surname"]})),
            "$.kith.twins.personal[0]",
        ),
        (
            json!({"name": {"bits": 64}, "surname": {"bits": 64}}),
            Some(json!({"differ": "name", "agree": ["surname"], "personal": "name"})),
            "$.kith.twins.personal",
        ),
    ] {
        doc["kith"]["fields"] = fields;
        match twins {
            Some(t) => doc["kith"]["twins"] = t,
            None => {
                if let Some(k) = doc["kith"].as_object_mut() {
                    k.remove("twins");
                }
            }
        }
        let e = err(doc.clone());
        assert_eq!(e.path, path, "{e}");
    }
}

#[test]
fn prevent_singularity_needs_double_hash() {
    let mut f = name_feature();
    f["hashing"]["hash"] = json!({"type": "blakeHash", "prevent_singularity": true});
    assert_eq!(
        err(v3(json!([f]))).path,
        "$.features[0].hashing.hash.prevent_singularity"
    );
}

#[test]
fn blake_needs_a_power_of_two() {
    let mut doc = v3(json!([name_feature()]));
    doc["clkConfig"]["l"] = json!(1000);
    assert_eq!(err(doc.clone()).path, "$.features[0].hashing.hash");
    doc["features"][0]["hashing"]["hash"] = json!({"type": "doubleHash"});
    assert!(Schema::from_value(&doc).is_ok());
}

#[test]
fn v1_and_v2_convert_as_clkhash_does() {
    let v1 = json!({"version": 1,
        "clkConfig": {"l": 1024, "k": 30, "hash": {"type": "doubleHash"}, "kdf": {"type": "HKDF"}},
        "features": [{"identifier": "id", "ignored": true},
            {"identifier": "a", "format": {"type": "string"}, "hashing": {"ngram": 2, "weight": 0.5}},
            {"identifier": "b", "format": {"type": "string"}, "hashing": {"ngram": 1, "positional": true, "weight": 0}},
            {"identifier": "c", "format": {"type": "string"}, "hashing": {"ngram": 2, "weight": 0.25}}]});
    let s = Schema::from_value(&v1).expect("v1 loads");
    assert_eq!(s.source_version(), 1);
    let h = s.features()[1].hashing.as_ref().expect("hashed");
    assert_eq!(h.strategy, Strategy::BitsPerToken(15));
    assert_eq!(
        h.hash,
        HashKind::Double {
            prevent_singularity: false
        }
    );
    assert!(s.features()[2].hashing.is_none(), "weight 0 means ignored");
    // round(7.5) is 8 in Python (half to even).
    let hc = s.features()[3].hashing.as_ref().expect("hashed");
    assert_eq!(hc.strategy, Strategy::BitsPerToken(8));

    let v2 = json!({"version": 2, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
        "features": [{"identifier": "a", "format": {"type": "string"},
            "hashing": {"ngram": 2, "positional": true, "strategy": {"numBits": 100}}}]});
    let s = Schema::from_value(&v2).expect("v2 loads");
    let h = s.features()[0].hashing.as_ref().expect("hashed");
    assert_eq!(h.strategy, Strategy::BitsPerFeature(100));
    assert_eq!(
        h.comparison,
        Comparison::Ngram {
            n: 2,
            positional: true
        }
    );
    let bad = json!({"version": 2, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
        "features": [{"identifier": "a", "format": {"type": "string"},
            "hashing": {"ngram": 2, "strategy": {"k": 3, "numBits": 100}}}]});
    assert_eq!(err(bad).path, "$.features[0].hashing.strategy");
}

#[test]
fn fingerprint_ignores_descriptions_and_explicit_defaults_but_not_parameters() {
    let a = Schema::from_value(&v3(json!([name_feature()]))).expect("valid");
    let mut f = name_feature();
    f["description"] = json!("first name");
    f["hashing"]["hash"] = json!({"type": "blakeHash"});
    f["hashing"]["comparison"]["positional"] = json!(false);
    let b = Schema::from_value(&v3(json!([f]))).expect("valid");
    assert_eq!(a.fingerprint(), b.fingerprint());
    let mut g = name_feature();
    g["hashing"]["strategy"]["bitsPerToken"] = json!(21);
    let c = Schema::from_value(&v3(json!([g]))).expect("valid");
    assert_ne!(a.fingerprint(), c.fingerprint());
    assert!(a.fingerprint().starts_with("sha256:") && a.fingerprint().len() == 71);
}

#[test]
fn household_and_criteria_are_validated_and_fingerprinted() {
    let mut doc = v3(json!([name_feature()]));
    doc["kith"] = json!({"version": 1,
        "household": {"dwelling": {"postcode": "name", "address": "address"}, "register": "household_ref"},
        "criteria": {"offending": {"description": "Crime or anti-social behaviour"}, "absence": {}}});
    let s = Schema::from_value(&doc).expect("valid");
    let names: Vec<_> = s.kith().keyed_inputs();
    assert_eq!(
        names,
        [
            ("address", InputKind::Address),
            ("household_ref", InputKind::Register),
            ("absence", InputKind::Criterion),
            ("offending", InputKind::Criterion),
        ]
    );
    let mut other = doc.clone();
    other["kith"]["criteria"] = json!({"offending": {}});
    let t = Schema::from_value(&other).expect("valid");
    assert_ne!(s.fingerprint(), t.fingerprint());
    other["kith"]["criteria"]["offending"] = json!({"description": "changed words"});
    other["kith"]["criteria"]["absence"] = json!({});
    assert_eq!(
        Schema::from_value(&other).expect("valid").fingerprint(),
        s.fingerprint()
    );
    for (bad, path) in [
        (
            json!({"dwelling": {"postcode": "nope", "address": "a"}}),
            "$.kith.household.dwelling.postcode",
        ),
        (
            json!({"dwelling": {"postcode": "name", "address": "name"}}),
            "$.kith.household.dwelling.address",
        ),
        (json!({"register": "a b"}), "$.kith.household.register"),
        (json!({}), "$.kith.household"),
    ] {
        let mut d = doc.clone();
        d["kith"]["household"] = bad;
        assert_eq!(err(d).path, path);
    }
    let mut d = doc.clone();
    d["kith"]["criteria"] = json!({"household_ref": {}});
    assert_eq!(err(d).path, "$.kith.criteria.household_ref");
}

#[test]
fn kith_section_is_checked() {
    let mut doc = v3(json!([name_feature()]));
    doc["kith"] = json!({"version": 1, "normalize": {"name": "name"}, "exact": {"nhs_number": {"normalize": "nhs_number"}}});
    let s = Schema::from_value(&doc).expect("valid");
    assert_eq!(s.kith().exact[0].name, "nhs_number");
    assert_eq!(s.kith().normalize["name"], Normalizer::Name);
    let plain = Schema::from_value(&v3(json!([name_feature()]))).expect("valid");
    assert_ne!(plain.fingerprint(), s.fingerprint());

    doc["kith"]["normalize"] = json!({"nope": "name"});
    assert_eq!(err(doc.clone()).path, "$.kith.normalize.nope");
    doc["kith"]["normalize"] = json!({"name": "soundex"});
    assert_eq!(err(doc.clone()).path, "$.kith.normalize.name");
    doc["kith"]["normalize"] = json!({});
    doc["kith"]["version"] = json!(2);
    assert_eq!(err(doc.clone()).path, "$.kith.version");
    doc["kith"]["version"] = json!(1);
    doc["kith"]["exact"] = json!({"name": {}});
    assert_eq!(err(doc).path, "$.kith.exact.name");
}

#[test]
fn id_column_does_not_change_the_fingerprint() {
    let mut a = v3(json!([name_feature()]));
    a["kith"] = json!({"version": 1});
    let mut b = a.clone();
    b["kith"]["id_column"] = json!("person_id");
    let (a, b) = (
        Schema::from_value(&a).expect("valid"),
        Schema::from_value(&b).expect("valid"),
    );
    assert_eq!(a.fingerprint(), b.fingerprint());
}

/// A `"date_parts"` filter is compared part by part, so it cannot be folded, rule-90'd,
/// rehashed or balanced (each mixes bits across the parts), must cut into whole words, and keeps
/// a key group of its own; the demo schema's dob filter is one.
#[test]
fn date_parts_filters_refuse_what_would_mix_their_parts() {
    let demo: Value =
        serde_json::from_str(include_str!("../../data/demo-schema.json")).expect("demo JSON");
    let s = Schema::from_value(&demo).expect("the demo schema loads");
    let dob = s
        .kith()
        .fields
        .iter()
        .find(|f| f.feature == "dob")
        .expect("a dob filter");
    assert_eq!(dob.tokens, FieldTokens::DateParts);
    assert_eq!(dob.tokens.parts(), ["year", "day_month"]);
    for (change, path) in [
        (json!({"fold": 1}), "$.kith.fields.dob.tokens"),
        (json!({"rule90": true}), "$.kith.fields.dob.tokens"),
        (
            json!({"rehash": {"window": 8, "step": 6, "k": 3}}),
            "$.kith.fields.dob.tokens",
        ),
        (json!({"balance": true}), "$.kith.fields.dob.tokens"),
        (json!({"bits": 192}), "$.kith.fields.dob.bits"),
        (
            json!({"bits": 256, "group": "name"}),
            "$.kith.fields.given_name.group",
        ),
    ] {
        let mut doc = demo.clone();
        for (k, v) in change.as_object().expect("object") {
            doc["kith"]["fields"]["dob"][k] = v.clone();
        }
        assert_eq!(err(doc).path, path, "{change}");
    }
    let mut doc = demo.clone();
    doc["kith"]["fields"]["dob"]["blip"] = json!(4.0);
    assert!(Schema::from_value(&doc).is_ok(), "noise is per bit");
    let mut doc = demo;
    doc["features"][0]["format"] = json!({"type": "string"});
    doc["kith"]["fields"]["given_name"]["tokens"] = json!("date_parts");
    assert!(err(doc).message.contains("need a date feature"));
}

/// `"skips"` tokens need a feature compared by plain bigrams, and filters of one key group
/// (compared crosswise) must take the same tokens; the demo schema's name filters take them.
#[test]
fn skips_tokens_need_plain_bigrams_and_one_kind_a_group() {
    let demo: Value =
        serde_json::from_str(include_str!("../../data/demo-schema.json")).expect("demo JSON");
    let s = Schema::from_value(&demo).expect("the demo schema loads");
    for f in ["given_name", "surname"] {
        let filter = s.kith().fields.iter().find(|x| x.feature == f);
        assert_eq!(filter.map(|x| x.tokens), Some(FieldTokens::Skips), "{f}");
    }
    let mut plain = demo.clone();
    for f in ["given_name", "surname"] {
        plain["kith"]["fields"][f]
            .as_object_mut()
            .expect("object")
            .remove("tokens");
    }
    assert_ne!(
        Schema::from_value(&plain).expect("valid").fingerprint(),
        s.fingerprint()
    );
    let mut one = plain.clone();
    one["kith"]["fields"]["surname"]["tokens"] = json!("skips");
    assert_eq!(err(one).path, "$.kith.fields.surname.tokens");
    for comparison in [
        json!({"type": "ngram", "n": 3}),
        json!({"type": "ngram", "n": 2, "positional": true}),
        json!({"type": "exact"}),
    ] {
        let mut doc = demo.clone();
        doc["features"][0]["hashing"]["comparison"] = comparison.clone();
        let e = err(doc);
        assert_eq!(e.path, "$.kith.fields.given_name.tokens", "{comparison}");
        assert!(e.message.contains("plain bigrams"), "{e}");
    }
}

/// Keys beside a feature's `format` and `hashing` are listed as unread (clkhash allows them and
/// reads nothing there), and change neither the features nor the fingerprint; an ignored feature
/// with another key is refused, as clkhash refuses it.
#[test]
fn keys_a_feature_does_not_read_are_listed() {
    let mut misplaced = name_feature();
    misplaced["missingValue"] = json!({"sentinel": "N/A"});
    misplaced["comment"] = json!("from the 2019 agreement");
    let s = Schema::from_value(&v3(
        json!([{"identifier": "id", "ignored": true}, misplaced]),
    ))
    .expect("valid");
    assert_eq!(
        s.unread_keys(),
        ["features[1].comment", "features[1].missingValue"]
    );
    let plain = Schema::from_value(&v3(
        json!([{"identifier": "id", "ignored": true}, name_feature()]),
    ))
    .expect("valid");
    assert!(plain.unread_keys().is_empty());
    assert_eq!(s.fingerprint(), plain.fingerprint());
    assert_eq!(s.features(), plain.features());
    let e = err(v3(
        json!([{"identifier": "id", "ignored": true, "missingValue": {"sentinel": ""}}]),
    ));
    assert_eq!(e.path, "$.features[0].missingValue");
}
