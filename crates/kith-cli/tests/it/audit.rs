//! `kith audit`: its attacks succeed on the schema shapes they target, hardening defeats them,
//! and a failing schema exits non-zero under `--strict`.

use crate::util::{Dir, demo, fails, fixtures, kith, ok};

/// The demo schema as it was before its field filters used random hashing: double hashing, which
/// atom mining breaks.
fn double_hashed() -> std::path::PathBuf {
    fixtures().join("golden").join("schema.json")
}

/// The demo schema as JSON, for a test to change.
fn demo_schema() -> serde_json::Value {
    let text = std::fs::read_to_string(demo("schema.json")).expect("demo schema");
    serde_json::from_str(&text).expect("JSON")
}

/// The audit's JSON findings for `schema` on a small synthetic extract.
fn audit(dir: &Dir, schema: &std::path::Path) -> serde_json::Value {
    audit_people(dir, schema, 5000)
}

/// The same on an extract of `people`: mining CLK patterns needs tokens in a few dozen records.
fn audit_people(dir: &Dir, schema: &std::path::Path, people: u32) -> serde_json::Value {
    let json = dir.path("audit.json");
    ok(kith()
        .args([
            "--quiet",
            "audit",
            "--people",
            &people.to_string(),
            "--schema",
        ])
        .arg(schema)
        .arg("--json")
        .arg(&json));
    serde_json::from_str(&dir.read("audit.json")).expect("audit JSON")
}

fn field<'a>(a: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    a["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|x| x["field"] == name))
        .unwrap_or_else(|| panic!("no findings for {name}"))
}

#[test]
fn the_audit_names_most_people_from_double_hashed_field_filters() {
    let dir = Dir::new();
    let a = audit(&dir, &double_hashed());
    let best = |f: &str| field(&a, f)["best"].as_f64().unwrap_or(0.0);
    assert!(
        best("given_name") > 0.7,
        "forenames named: {}",
        best("given_name")
    );
    assert!(best("surname") > 0.5, "surnames named: {}", best("surname"));
    assert!(
        a["full_name"].as_f64().unwrap_or(0.0) > 0.4,
        "full names: {}",
        a["full_name"]
    );
    // The names decoded from the field filters seed a bootstrap that reads them off the CLKs too.
    let clk = a["clk_full_name"].as_f64().unwrap_or(0.0);
    assert!(clk > 0.4, "full names read off the CLKs: {clk}");
    let year = field(&a, "dob")["year_grouped"].as_f64().unwrap_or(0.0);
    assert!(year > 0.9, "records grouped by year of birth: {year}");
    assert_eq!(a["verdict"]["pass"], false);
    // --strict turns the failed verdict into a failed run.
    let err = fails(
        kith()
            .args([
                "--quiet", "audit", "--people", "2000", "--strict", "--schema",
            ])
            .arg(double_hashed()),
    );
    assert!(err.contains("fails the audit"), "{err}");
}

#[test]
fn random_hashing_and_noise_defeat_mining_and_bootstrapping() {
    let dir = Dir::new();
    let mut schema = demo_schema();
    for f in ["given_name", "surname"] {
        schema["kith"]["fields"][f]["hash"] = "random".into();
        schema["kith"]["fields"][f]["blip"] = 3.0.into();
    }
    let path = dir.write("hardened.json", schema.to_string());
    let a = audit(&dir, &path);
    for f in ["given_name", "surname"] {
        let x = field(&a, f);
        assert!(
            x["mining"]["records"].as_f64().unwrap_or(1.0) < 0.02,
            "{f}: {x}"
        );
        assert!(
            x["bootstrap"]["records"].as_f64().unwrap_or(1.0) < 0.05,
            "{f}: {x}"
        );
    }
    assert!(a["full_name"].as_f64().unwrap_or(1.0) < 0.01);
    // The demo schema's date of birth in two parts still groups records by year, and the audit
    // says so.
    let year = field(&a, "dob")["year_grouped"].as_f64().unwrap_or(0.0);
    assert!(year > 0.5, "{}", field(&a, "dob"));
    assert!(
        a["clk_full_name"].as_f64().unwrap_or(1.0) < 0.01,
        "{}",
        a["clk_names"]
    );
}

#[test]
fn a_holders_own_encodings_are_attacked_and_another_schemas_refused() {
    let dir = Dir::new();
    ok(kith()
        .args([
            "--quiet", "synth", "--people", "4000", "--seed", "7", "--output",
        ])
        .arg(dir.path("x")));
    ok(crate::util::encode_with_schema(
        &dir,
        &double_hashed(),
        &dir.path("x/health.csv"),
        "health.kith",
    )
    .arg("--quiet")
    .arg("--mapping")
    .arg(dir.path("x/health-mapping.json")));
    let json = dir.path("audit.json");
    ok(kith()
        .args(["--quiet", "audit", "--people", "4000", "--schema"])
        .arg(double_hashed())
        .arg("--encodings")
        .arg(dir.path("health.kith"))
        .arg("--json")
        .arg(&json));
    let a: serde_json::Value = serde_json::from_str(&dir.read("audit.json")).expect("JSON");
    let file = &a["file"];
    let decoded = |f: &str| {
        file["fields"]
            .as_array()
            .and_then(|x| x.iter().find(|y| y["field"] == f))
            .and_then(|y| y["decoded"].as_f64())
            .unwrap_or(0.0)
    };
    assert!(decoded("given_name") > 0.5, "{file}");
    // The seedless CLK attack runs on the file too: one share per name feature.
    let seedless = file["clk_seedless"]
        .as_array()
        .expect("seedless CLK findings");
    assert_eq!(seedless.len(), 2, "{file}");
    assert!(file["groups"].as_array().is_some_and(|g| !g.is_empty()));
    let other = dir.write(
        "other.json",
        std::fs::read_to_string(double_hashed())
            .expect("schema")
            .replace(
                "\"k\": 4, \"group\": \"name\"",
                "\"k\": 5, \"group\": \"name\"",
            ),
    );
    let err = crate::util::fails(
        kith()
            .args(["--quiet", "audit", "--people", "1000", "--schema"])
            .arg(&other)
            .arg("--encodings")
            .arg(dir.path("health.kith")),
    );
    assert!(err.contains("another schema"), "{err}");
}

#[test]
fn a_holders_frequency_table_replaces_the_synthetic_attacker() {
    let dir = Dir::new();
    let table = dir.write(
        "names.csv",
        "feature,value,count\ngiven_name,John,900\ngiven_name,David,800\nsurname,Smith,700\n",
    );
    let json = dir.path("audit.json");
    ok(kith()
        .args(["--quiet", "audit", "--people", "2000", "--schema"])
        .arg(double_hashed())
        .arg("--frequencies")
        .arg(&table)
        .arg("--json")
        .arg(&json));
    let a: serde_json::Value = serde_json::from_str(&dir.read("audit.json")).expect("JSON");
    assert_eq!(
        a["attacker_records"], 1700,
        "the table's largest feature total"
    );
    let bad = dir.write(
        "bad.csv",
        "feature,value,count\ngiven_name,John,9\nsurname,Smith,many\n",
    );
    let err = fails(
        kith()
            .args(["--quiet", "audit", "--people", "500", "--schema"])
            .arg(double_hashed())
            .arg("--frequencies")
            .arg(&bad),
    );
    assert!(err.contains("bad.csv: line 3, field count"), "{err}");
    let wrong = dir.write("wrong.csv", "name,count\nJohn,9\n");
    let err = fails(
        kith()
            .args(["--quiet", "audit", "--people", "500", "--schema"])
            .arg(double_hashed())
            .arg("--frequencies")
            .arg(&wrong),
    );
    assert!(err.contains("line 1 (header)"), "{err}");
}

#[test]
fn plain_clks_are_named_without_seeds_and_hardened_ones_are_not() {
    // The demo schema without field filters: CLKs only, as anonlink users send them.
    let dir = Dir::new();
    let mut schema = demo_schema();
    let kith_section = schema["kith"].as_object_mut().expect("kith section");
    kith_section.remove("fields");
    kith_section.remove("twins");
    kith_section.remove("clk");
    let plain = dir.write("clk-only.json", schema.to_string());
    schema["kith"]["clk"] = serde_json::json!({"rehash": {"window": 8, "step": 6, "k": 3}});
    let rehashed = dir.write("clk-rehashed.json", schema.to_string());
    let a = audit_people(&dir, &plain, 20_000);
    assert_eq!(a["verdict"]["pass"], false);
    let names = a["clk_seedless"].as_array().expect("seedless CLK findings");
    assert_eq!(names.len(), 2, "{names:?}");
    // Above the 5% target: how far above varies from key to key (one seed, one key).
    for n in names {
        assert!(n[1].as_f64().expect("share") > 0.05, "plain CLKs: {n:?}");
    }
    let a = audit_people(&dir, &rehashed, 20_000);
    for n in a["clk_seedless"].as_array().expect("seedless CLK findings") {
        assert!(n[1].as_f64().expect("share") < 0.02, "rehashed CLKs: {n:?}");
    }
}

/// A schema of other features than the demo's (FEBRL's: addresses, a social security number, no
/// household) is audited on what the synthetic extract holds, with a word for the filters it
/// cannot feed, instead of refusing the synthetic mapping's names.
#[test]
fn a_schema_of_other_features_is_audited_on_those_the_synthetic_extract_holds() {
    let dir = Dir::new();
    let schema = fixtures().join("../benches/data/febrl-kith-schema.json");
    let out = ok(kith()
        .args(["audit", "--people", "2000", "--schema"])
        .arg(&schema)
        .arg("--json")
        .arg(dir.path("audit.json")));
    let err = crate::util::stderr(&out);
    assert!(
        err.contains(
            "no values for address_1, soc_sec_id, street_number, suburb, so their filters are not attacked"
        ),
        "{err}"
    );
    let a: serde_json::Value = serde_json::from_str(&dir.read("audit.json")).expect("audit JSON");
    assert!(field(&a, "surname")["with_filter"].as_u64().unwrap_or(0) > 1000);
    assert_eq!(field(&a, "soc_sec_id")["with_filter"].as_u64(), Some(0));
}
