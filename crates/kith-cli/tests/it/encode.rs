use std::collections::{BTreeMap, BTreeSet};

use crate::util::{Dir, SECRET, demo, encode_cmd, first_clk, kith, ok, read_encodings, stderr};

#[test]
fn council_extract_encodes_with_header_sorted_rows_and_map() {
    let dir = Dir::new();
    ok(encode_cmd(&dir, &demo("council.csv"), "council.kith")
        .args(["--id-column", "person_id", "--keep-map"])
        .arg(dir.path("map.csv")));
    let enc = read_encodings(&dir.read("council.kith"));
    let h = &enc.header;
    assert_eq!(h["format"], "kith-encodings");
    assert_eq!(h["party"], "council", "party defaults to the input's stem");
    assert_eq!(h["records"], 18);
    assert_eq!(h["clk_bits"], 1024);
    assert_eq!(
        h["columns"],
        serde_json::json!([
            "token",
            "clk",
            "exact:nhs_number",
            "block:district_year",
            "block:dob",
            "block:forename_day_month",
            "block:forename_district",
            "block:forename_dob",
            "block:names",
            "block:surname_postcode",
            "block:surname_year",
            "house:dwelling",
            "house:street",
            "house:register",
            "flag:child_in_need",
            "flag:out_of_work",
            "area:district",
            "field:dob",
            "field:given_name",
            "field:postcode",
            "field:sex",
            "field:surname"
        ])
    );
    assert_eq!(h["version"], 3, "a street token makes a version 3 file");
    // Forename and surname filters share a key group, so the linkage party can compare them
    // crosswise; the twin rule travels with the filters.
    assert_eq!(
        h["fields"][1],
        serde_json::json!({"name": "given_name", "bits": 256, "group": "name"})
    );
    assert_eq!(
        h["twins"],
        serde_json::json!({"differ": ["given_name", "sex"], "agree": ["dob"]})
    );
    let schema =
        kith::Schema::from_json_str(&std::fs::read_to_string(demo("schema.json")).expect("schema"))
            .expect("schema");
    assert_eq!(h["schema_fingerprint"], schema.fingerprint());
    assert_eq!(enc.rows.len(), 18);
    // The postcode district travels in clear (the schema's kith.areas), empty where the postcode
    // is missing or a ZZ99 pseudo-postcode.
    let district = h["columns"]
        .as_array()
        .and_then(|c| c.iter().position(|c| c == "area:district"))
        .expect("an area:district column");
    let districts: BTreeSet<&str> = enc.rows.iter().map(|r| r[district].as_str()).collect();
    assert!(
        districts.contains("LS6") && districts.contains(""),
        "{districts:?}"
    );
    assert!(districts.iter().all(|d| d.len() <= 4), "{districts:?}");
    let tokens: Vec<&str> = enc.rows.iter().map(|r| r[0].as_str()).collect();
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "rows sorted by token, tokens unique"
    );
    assert!(
        enc.rows.iter().all(|r| r[1].len() == 172),
        "1024-bit CLKs are 172 base64 characters"
    );

    // The map joins every token back to its local ID, and to nothing else.
    let map = dir.read("map.csv");
    let mut lines = map.lines();
    assert_eq!(lines.next(), Some("token,local_id"));
    let map: BTreeMap<&str, &str> = lines
        .map(|l| l.split_once(',').expect("two fields"))
        .collect();
    assert_eq!(map.keys().copied().collect::<Vec<_>>(), tokens);
    let ids: BTreeSet<&str> = map.values().copied().collect();
    assert_eq!(ids.len(), 18);
    assert!(ids.contains("C1001") && ids.contains("C1018"));

    // Household tokens and flags, by local ID and column name.
    let col = |name: &str| {
        h["columns"]
            .as_array()
            .and_then(|c| c.iter().position(|c| c == name))
            .unwrap_or_else(|| panic!("a {name} column"))
    };
    let (dwelling, street, register) = (
        col("house:dwelling"),
        col("house:street"),
        col("house:register"),
    );
    let (in_need, out_of_work) = (col("flag:child_in_need"), col("flag:out_of_work"));
    let by_id: BTreeMap<&str, &[String]> = enc
        .rows
        .iter()
        .map(|r| (map[r[0].as_str()], r.as_slice()))
        .collect();
    let smiths: Vec<_> = ["C1001", "C1002", "C1003", "C1004"]
        .iter()
        .map(|id| {
            let r = by_id[id];
            (&r[dwelling], &r[street], &r[register])
        })
        .collect();
    assert!(
        smiths
            .iter()
            .all(|s| *s == smiths[0] && !s.0.is_empty() && !s.1.is_empty()),
        "one dwelling and street written two ways, one register group: {smiths:?}"
    );
    assert_ne!(
        by_id["C1005"][dwelling], by_id["C1015"][dwelling],
        "two flats of one building"
    );
    assert_ne!(
        by_id["C1005"][street], by_id["C1015"][street],
        "a street token is keyed with its postcode"
    );
    assert_eq!(by_id["C1005"][dwelling], by_id["C1006"][dwelling]);
    assert_eq!(by_id["C1005"][street], by_id["C1006"][street]);
    assert_ne!(by_id["C1001"][register], by_id["C1007"][register]);
    assert_eq!(
        by_id["C1011"][dwelling], "",
        "no address, no dwelling token"
    );
    assert_eq!(by_id["C1011"][street], "", "no address, no street token");
    assert_eq!(
        (
            by_id["C1002"][out_of_work].as_str(),
            by_id["C1002"][in_need].as_str()
        ),
        ("1", "0")
    );
    assert_eq!(by_id["C1004"][in_need], "1");
    assert_eq!(
        by_id["C1016"][out_of_work], "",
        "an unreadable flag is unknown"
    );
    let summary = stderr(&ok(crate::util::encode_with_schema(
        &dir,
        &demo("schema.json"),
        &demo("council.csv"),
        "again.kith",
    )
    .args(["--id-column", "person_id"])));
    assert!(summary.contains("out_of_work"), "{summary}");
}

#[test]
fn nothing_raw_leaves_the_holder() {
    let dir = Dir::new();
    ok(encode_cmd(&dir, &demo("council.csv"), "council.kith")
        .args(["--id-column", "person_id", "--keep-map"])
        .arg(dir.path("map.csv")));
    let out = dir.read("council.kith");
    let input = std::fs::read_to_string(demo("council.csv")).expect("input");
    for line in input.lines().skip(1) {
        for value in line.split(',').filter(|v| v.len() >= 3) {
            assert!(
                !out.contains(value),
                "raw value {value:?} appears in the encodings"
            );
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 8 {
                assert!(!out.contains(&digits), "{digits} appears in the encodings");
            }
        }
    }
    assert!(!out.contains(SECRET));
    assert!(!out.contains(&kith::hex(SECRET.as_bytes())));
    // Row order does not follow input order.
    let map = dir.read("map.csv");
    let id_of: BTreeMap<&str, &str> = map
        .lines()
        .skip(1)
        .map(|l| l.split_once(',').expect("two fields"))
        .collect();
    let enc = read_encodings(&out);
    let output_order: Vec<&str> = enc.rows.iter().map(|r| id_of[r[0].as_str()]).collect();
    let input_order: Vec<&str> = input
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().expect("id"))
        .collect();
    assert_eq!(output_order.len(), input_order.len());
    assert_ne!(output_order, input_order);
    let mut sorted = input_order.clone();
    sorted.sort_unstable();
    assert_ne!(output_order, sorted, "not sorted by local ID either");
}

#[test]
fn exact_tokens_match_across_holders_and_column_mappings() {
    let dir = Dir::new();
    ok(encode_cmd(&dir, &demo("council.csv"), "council.kith").args(["--id-column", "person_id"]));
    ok(encode_cmd(&dir, &demo("health.csv"), "health.kith")
        .arg("--mapping")
        .arg(demo("health-mapping.json")));
    let council = read_encodings(&dir.read("council.kith"));
    let health = read_encodings(&dir.read("health.kith"));
    assert_eq!(health.header["party"], "health", "party from the mapping");
    assert_eq!(council.header["key_check"], health.header["key_check"]);
    assert_eq!(
        council.header["schema_fingerprint"],
        health.header["schema_fingerprint"]
    );
    let exact = |e: &crate::util::Encodings| -> BTreeSet<String> {
        e.rows
            .iter()
            .map(|r| r[2].clone())
            .filter(|t| !t.is_empty())
            .collect()
    };
    // Council and health share NHS numbers 4000000004, 4000158384 (written 400-015-8384 by health),
    // 4000395955 and 4000712713.
    assert_eq!(exact(&council).intersection(&exact(&health)).count(), 4);
    // A record's token depends on the party, so no token is shared.
    let tokens = |e: &crate::util::Encodings| -> BTreeSet<String> {
        e.rows.iter().map(|r| r[0].clone()).collect()
    };
    assert!(tokens(&council).is_disjoint(&tokens(&health)));

    // A different secret gives a different key check and no shared exact tokens.
    ok(encode_cmd(&dir, &demo("health.csv"), "other.kith")
        .arg("--mapping")
        .arg(demo("health-mapping.json"))
        .env("KITH_SECRET", "a completely different secret"));
    let other = read_encodings(&dir.read("other.kith"));
    assert_ne!(other.header["key_check"], health.header["key_check"]);
    assert!(exact(&other).is_disjoint(&exact(&health)));
}

/// A mapping names only the columns a holder has: what it leaves out is missing in every record,
/// exactly as a `null` says, and the summary lists each one left out.
#[test]
fn what_a_mapping_leaves_out_is_missing_and_listed() {
    let dir = Dir::new();
    let short = std::fs::read_to_string(demo("health-mapping.json")).expect("mapping");
    let mut long: serde_json::Value = serde_json::from_str(&short).expect("json");
    let left_out = [
        "address",
        "household_ref",
        "offending",
        "domestic_abuse",
        "absence",
        "out_of_work",
        "child_in_need",
        "health_need",
    ];
    for name in left_out {
        assert!(
            long["columns"].get(name).is_none(),
            "{name} is in the demo mapping"
        );
        long["columns"][name] = serde_json::Value::Null;
    }
    let long = dir.write("long-mapping.json", long.to_string());
    let encode = |mapping: &std::path::Path, out: &str| {
        let o = ok(crate::util::encode_with_schema(
            &dir,
            &demo("schema.json"),
            &demo("health.csv"),
            out,
        )
        .arg("--mapping")
        .arg(mapping));
        crate::util::stderr(&o)
    };
    let said = encode(&demo("health-mapping.json"), "short.kith");
    for name in left_out {
        assert!(
            said.contains(&format!(
                "  {name}: not in the mapping, so missing in every record"
            )),
            "{said}"
        );
    }
    let said_long = encode(&long, "long.kith");
    assert!(!said_long.contains("not in the mapping"), "{said_long}");
    assert_eq!(dir.read("short.kith"), dir.read("long.kith"));
}

/// A mapping's `alternative` column (a preferred forename) changes the encodings of the rows that
/// have one and of no other; an alternative column the header lacks is an error naming it.
#[test]
fn an_alternative_column_changes_only_the_rows_that_have_one() {
    let dir = Dir::new();
    let csv = dir.write(
        "pupils.csv",
        "pupil_id,forename,preferred,surname,dob,gender,postcode
         S1,Xiaoming,Kelvin,Li,01/02/2012,M,M14 5RT
         S2,Amelia,,Jones,03/04/2013,F,M14 5RT
",
    );
    let mapping = |alternative: &str| {
        let given = if alternative.is_empty() {
            r#""forename""#.to_owned()
        } else {
            format!(r#"{{"column": "forename", "alternative": "{alternative}"}}"#)
        };
        format!(
            r#"{{"kith_mapping": 1, "party": "school", "id_column": "pupil_id", "columns": {{
                "given_name": {given}, "surname": "surname", "dob": "dob", "sex": "gender",
                "postcode": "postcode"}}}}"#
        )
    };
    let plain = dir.write("plain.json", mapping(""));
    let with = dir.write("with.json", mapping("preferred"));
    for (m, out) in [(&plain, "plain.kith"), (&with, "with.kith")] {
        ok(encode_cmd(&dir, &csv, out).arg("--mapping").arg(m));
    }
    let (a, b) = (
        read_encodings(&dir.read("plain.kith")),
        read_encodings(&dir.read("with.kith")),
    );
    // Rows are sorted by token, the same in both files; one row differs.
    let differing = a.rows.iter().zip(&b.rows).filter(|(x, y)| x != y).count();
    assert_eq!(differing, 1);
    let bad = dir.write("bad.json", mapping("nickname"));
    let e = crate::util::fails(
        encode_cmd(&dir, &csv, "bad.kith")
            .arg("--mapping")
            .arg(&bad),
    );
    assert!(e.contains("\"nickname\""), "{e}");
}

/// `kith mapping` proposes, from the header and values alone, the mappings `kith synth` writes for
/// its agencies (the police's but for its domestic abuse marker, whose column name says nothing,
/// which the notes list as unused), and writes no file over an existing one.
#[test]
fn proposed_mappings_match_the_agencies_own() {
    let dir = Dir::new();
    let src = dir.path("src");
    ok(kith()
        .args([
            "synth", "--quiet", "--people", "400", "--seed", "5", "--output",
        ])
        .arg(&src));
    for a in ["council", "health", "police", "school"] {
        let mut c = kith();
        c.args(["mapping", "--schema"])
            .arg(demo("schema.json"))
            .arg("--input")
            .arg(src.join(format!("{a}.csv")))
            .arg("--output")
            .arg(dir.path(&format!("{a}.json")));
        if a == "police" {
            c.args(["--encoding", "windows-1252"]);
        }
        let notes = crate::util::stderr(&ok(&mut c));
        let proposed: serde_json::Value =
            serde_json::from_str(&dir.read(&format!("{a}.json"))).expect("json");
        let mut own: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(src.join(format!("{a}-mapping.json"))).expect("mapping"),
        )
        .expect("json");
        if a == "police" {
            assert!(notes.contains("columns not used: DA_MARKER"), "{notes}");
            own["columns"]
                .as_object_mut()
                .expect("columns")
                .remove("domestic_abuse");
        }
        assert_eq!(proposed["columns"], own["columns"], "{a}: {notes}");
        assert_eq!(proposed["id_column"], own["id_column"], "{a}");
        assert_eq!(proposed["party"], a);
    }
    let again = crate::util::fails(
        kith()
            .args(["mapping", "--schema"])
            .arg(demo("schema.json"))
            .arg("--input")
            .arg(src.join("council.csv"))
            .arg("--output")
            .arg(dir.path("council.json")),
    );
    assert!(again.contains("does not overwrite"), "{again}");
}

#[test]
fn normalisation_lets_differently_written_records_share_clks() {
    // The council's "Zoë Okafor 05/01/1990 F M14 5RT" and health's "Zoe Okafor 1990-01-05 2 M14 5RT"
    // normalise to the same values and so must give the same CLK.
    let dir = Dir::new();
    let council = dir.write(
        "a.csv",
        "given_name,surname,dob,sex,postcode,nhs_number\nZoë,Okafor,05/01/1990,F,m14 5rt,\n",
    );
    let health = dir.write(
        "b.csv",
        "given_name,surname,dob,sex,postcode,nhs_number\n ZOE ,OKAFOR,1990-01-05,2,M145RT,\n",
    );
    ok(&mut encode_cmd(&dir, &council, "a.kith"));
    ok(&mut encode_cmd(&dir, &health, "b.kith"));
    assert_eq!(first_clk(&dir, "a.kith"), first_clk(&dir, "b.kith"));
}

#[test]
fn police_names_split_into_two_features() {
    let dir = Dir::new();
    let one = dir.write(
        "one.csv",
        "URN,NAME,DOB,SEX,LAST_KNOWN_POSTCODE\nP1,\"SMITH, Jack\",02-Nov-1982,M,LS6 2AB\n",
    );
    let two = dir.write(
        "two.csv",
        "given_name,surname,dob,sex,postcode,nhs_number\nJack,Smith,1982-11-02,m,LS6 2AB,\n",
    );
    ok(encode_cmd(&dir, &one, "one.kith")
        .arg("--mapping")
        .arg(demo("police-mapping.json")));
    ok(&mut encode_cmd(&dir, &two, "two.kith"));
    assert_eq!(first_clk(&dir, "one.kith"), first_clk(&dir, "two.kith"));
}

/// A CSV of `n` people with some variety, for tests that need more than one chunk.
fn many_people(n: usize) -> String {
    let given = [
        "Olivia", "Jack", "Amelia", "Harry", "Zoë", "Noah", "Aisha", "Yusuf", "Grace", "Liam",
    ];
    let family = [
        "Smith",
        "Khan",
        "Okafor",
        "O'Brien",
        "Murphy",
        "Wright",
        "Kowalczyk",
        "Evans",
    ];
    let mut s = String::from("given_name,surname,dob,sex,postcode,nhs_number,id\n");
    for i in 0..n {
        s.push_str(&format!(
            "{},{},{:02}/{:02}/{},{},LS{} {}AB,,ID{i}\n",
            given[i % given.len()],
            family[(i / 7) % family.len()],
            1 + i % 28,
            1 + (i / 28) % 12,
            1930 + (i / 336) % 90,
            if i % 2 == 0 { "F" } else { "M" },
            1 + i % 29,
            i % 10
        ));
    }
    s
}

#[test]
fn output_is_byte_identical_for_any_thread_count_and_sort_run_size() {
    let dir = Dir::new();
    let input = dir.write("big.csv", many_people(40_000));
    let mut outputs = Vec::new();
    for (threads, run_rows) in [
        ("1", "262144"),
        ("2", "262144"),
        ("8", "262144"),
        ("2", "3000"),
    ] {
        let name = format!("out-{threads}-{run_rows}.kith");
        ok(encode_cmd(&dir, &input, &name)
            .args([
                "--id-column",
                "id",
                "--threads",
                threads,
                "--sort-run-rows",
                run_rows,
                "--keep-map",
            ])
            .arg(dir.path(&format!("{name}.map"))));
        outputs.push((
            std::fs::read(dir.path(&name)).expect("out"),
            std::fs::read(dir.path(&format!("{name}.map"))).expect("map"),
        ));
    }
    for o in &outputs[1..] {
        assert!(
            o.0 == outputs[0].0,
            "encodings differ between thread counts or run sizes"
        );
        assert!(
            o.1 == outputs[0].1,
            "maps differ between thread counts or run sizes"
        );
    }
    let enc = read_encodings(&String::from_utf8(outputs[0].0.clone()).expect("utf8"));
    assert_eq!(enc.rows.len(), 40_000);
    assert!(enc.rows.windows(2).all(|w| w[0][0] < w[1][0]));

    // clkhash-json keeps input order, also identical across thread counts.
    let mut json = Vec::new();
    for threads in ["1", "3"] {
        let name = format!("clks-{threads}.json");
        ok(crate::util::clkhash_cmd(&dir, &input, &name).args(["--threads", threads]));
        json.push(dir.read(&name));
    }
    assert_eq!(json[0], json[1]);
    assert!(
        dir.files().iter().all(|f| !f.starts_with(".kith")),
        "no temporary files left: {:?}",
        dir.files()
    );
}

#[test]
fn clkhash_json_output_is_byte_identical_to_clkhash() {
    // The shipped vector case as a CSV with the identifiers as header, as anonlink-client reads it.
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            crate::util::fixtures().join("../crates/kith/tests/vectors/blake_bigram_bpt.json"),
        )
        .expect("vector"),
    )
    .expect("json");
    let dir = Dir::new();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["id", "first", "last", "dob"]).expect("csv");
    for r in v["records"].as_array().expect("records") {
        let fields: Vec<&str> = r
            .as_array()
            .expect("record")
            .iter()
            .map(|x| x.as_str().expect("str"))
            .collect();
        w.write_record(&fields).expect("csv");
    }
    let input = dir.write("pii.csv", w.into_inner().expect("csv"));
    let schema = dir.write("schema.json", v["schema"].to_string());
    let secret = dir.secret_file(v["secret_utf8"].as_str().expect("secret"));
    ok(kith()
        .args(["encode", "--quiet", "--format", "clkhash-json"])
        .arg("--schema")
        .arg(&schema)
        .arg("--secret-file")
        .arg(&secret)
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(dir.path("clks.json")));
    let want: Vec<String> = v["expected_clks_base64"]
        .as_array()
        .expect("clks")
        .iter()
        .map(|c| format!("\"{}\"", c.as_str().expect("str")))
        .collect();
    // Exactly what Python's json.dump({'clks': [...]}, f) writes.
    assert_eq!(
        dir.read("clks.json"),
        format!("{{\"clks\": [{}]}}", want.join(", "))
    );
}

#[test]
fn summary_reports_counts_and_invalid_values() {
    let dir = Dir::new();
    let o = ok(kith()
        .args(["encode", "--schema"])
        .arg(demo("schema.json"))
        .arg("--input")
        .arg(demo("council.csv"))
        .arg("--output")
        .arg(dir.path("c.kith"))
        .env("KITH_SECRET", SECRET));
    let err = stderr(&o);
    assert!(err.contains("18 records"), "{err}");
    assert!(err.contains("rows skipped: 0"), "{err}");
    // 31/02/1980 is invalid; one date is empty; U is a missing sex; ZZ99 3VZ is a missing postcode.
    let dob = err
        .lines()
        .find(|l| l.trim_start().starts_with("dob"))
        .expect("dob line");
    assert!(
        dob.contains("1 5.6%") && dob.trim_end().ends_with('1'),
        "{dob}"
    );
    assert!(!err.contains(SECRET));
    let json = ok(kith()
        .args(["encode", "--format", "clkhash-json", "--schema"])
        .arg(crate::util::fixtures().join("golden").join("schema.json"))
        .arg("--input")
        .arg(demo("council.csv"))
        .arg("--output")
        .arg(dir.path("c.json"))
        .env("KITH_SECRET", SECRET));
    assert!(stderr(&json).contains("exact-match tokens are written in the kith format"));
    assert!(!err.contains("exact-match tokens are written"), "{err}");
    let quiet = ok(&mut encode_cmd(&dir, &demo("council.csv"), "q.kith"));
    assert!(
        quiet.stderr.is_empty(),
        "--quiet prints nothing: {}",
        stderr(&quiet)
    );
}

/// Golden files pin the output formats byte for byte: the kith encodings file (header, record
/// tokens, CLKs, exact tokens, row order), the holder's map, and the clkhash JSON. They were made by
/// this command with the secret `golden-secret-for-format-tests`; a change that alters them changes
/// what holders send, and must be a deliberate format change (then regenerate them and bump the
/// format version):
///
/// KITH_SECRET=golden-secret-for-format-tests kith encode --schema fixtures/golden/schema.json \
///   --input fixtures/demo/council.csv --id-column person_id \
///   --output fixtures/golden/council.kith --keep-map fixtures/golden/council-map.csv
///
/// `fixtures/golden/schema.json` is the demo schema as it was when they were made (double-hashed
/// field filters), kept apart so that the demo schema can change without touching the formats.
#[test]
fn output_formats_match_the_golden_files() {
    let dir = Dir::new();
    let golden = crate::util::fixtures().join("golden");
    let schema = golden.join("schema.json");
    ok(
        crate::util::encode_with_schema(&dir, &schema, &demo("council.csv"), "council.kith")
            .args(["--quiet", "--id-column", "person_id", "--keep-map"])
            .arg(dir.path("council-map.csv"))
            .env("KITH_SECRET", "golden-secret-for-format-tests"),
    );
    ok(
        crate::util::encode_with_schema(&dir, &schema, &demo("council.csv"), "council-clks.json")
            .args(["--quiet", "--format", "clkhash-json"])
            .env("KITH_SECRET", "golden-secret-for-format-tests"),
    );
    for name in ["council.kith", "council-map.csv", "council-clks.json"] {
        let want = std::fs::read_to_string(golden.join(name)).expect("golden file");
        assert_eq!(
            dir.read(name),
            want,
            "{name} differs from fixtures/golden/{name}"
        );
    }
}

/// A key beside a feature's `hashing` that belongs in it (as clkhash reads schemas, it is not
/// read there) is warned of, naming where it is; the schema is still accepted, and a schema
/// without one gets no warning.
#[test]
fn keys_a_feature_does_not_read_are_warned_of() {
    let dir = Dir::new();
    let text = r#"{"version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}},
      "features": [
        {"identifier": "id", "ignored": true},
        {"identifier": "name", "format": {"type": "string"},
         "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 20}},
         "missingValue": {"sentinel": "N/A", "replaceWith": ""}}]}"#;
    let misplaced = dir.write("misplaced.json", text);
    let o = ok(kith().arg("schema").arg(&misplaced));
    let err = stderr(&o);
    assert!(
        err.contains("warning") && err.contains("features[1].missingValue is not read"),
        "{err}"
    );
    assert!(err.contains("missingValue belongs inside hashing"), "{err}");
    let placed = text.replace(
        r#"{"bitsPerToken": 20}},
         "missingValue": {"sentinel": "N/A", "replaceWith": ""}}"#,
        r#"{"bitsPerToken": 20}, "missingValue": {"sentinel": "N/A", "replaceWith": ""}}}"#,
    );
    assert_ne!(placed, text);
    let placed = dir.write("placed.json", placed);
    let o = ok(kith().arg("schema").arg(&placed));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

#[test]
fn schema_command_prints_the_fingerprint_holders_compare() {
    let o = ok(kith().arg("schema").arg(demo("schema.json")));
    let out = String::from_utf8(o.stdout).expect("utf8");
    let schema =
        kith::Schema::from_json_str(&std::fs::read_to_string(demo("schema.json")).expect("schema"))
            .expect("schema");
    assert!(
        out.contains(&format!("fingerprint {}", schema.fingerprint())),
        "{out}"
    );
    assert!(
        out.contains("nhs_number") && out.contains("exact-match token"),
        "{out}"
    );
    assert!(out.contains("normalised as date"), "{out}");
    // The hardening a holder agrees to is spelled out, the CLK's first.
    assert!(
        out.contains("CLK hardened (not clkhash's; clkhash-json refused): rehashed (8/6/3)"),
        "{out}"
    );
    assert!(out.contains("key group name; random hashing"), "{out}");
    assert!(
        out.contains("block:surname_year") && out.contains("soundex of surname + year of dob"),
        "{out}"
    );
    assert!(
        out.contains("field:given_name")
            && out.contains("256 bits, 4 bits per token, key group name"),
        "{out}"
    );
    assert!(
        out.contains("twin rule: dob agreeing while given_name or sex differs"),
        "{out}"
    );
    // Every section that enters the fingerprint is printed: key derivation, household, criteria.
    assert!(
        out.contains("keys derived by HKDF-SHA256: 64-byte keys"),
        "{out}"
    );
    assert!(
        out.contains("household: a dwelling token from feature postcode and the premise (house and flat numbers) of input address, and a street token from the postcode and the line's street word; a register token from input household_ref"),
        "{out}"
    );
    assert!(
        out.contains("criteria flags (yes/no, sent as flags only): ")
            && [
                "offending",
                "domestic_abuse",
                "absence",
                "out_of_work",
                "child_in_need",
                "health_need"
            ]
            .iter()
            .all(|c| out.contains(c)),
        "{out}"
    );
}

/// `--run-salt`: a salt file made on first use (mode 0600) gives record tokens unrelated to
/// another run's, while every other column stays the same; the same salt file gives the same
/// output, and the map still joins each token to its local ID.
#[test]
fn a_run_salt_changes_record_tokens_and_nothing_else() {
    let dir = Dir::new();
    let run = |out: &str, salt: Option<&str>| {
        let mut c = encode_cmd(&dir, &demo("council.csv"), out);
        c.args(["--id-column", "person_id", "--keep-map"])
            .arg(dir.path(&format!("{out}.map")));
        if let Some(s) = salt {
            c.arg("--run-salt").arg(dir.path(s));
        }
        ok(&mut c);
        read_encodings(&dir.read(out))
    };
    let plain = run("plain.kith", None);
    let first = run("first.kith", Some("run1.salt"));
    let again = run("again.kith", Some("run1.salt"));
    let second = run("second.kith", Some("run2.salt"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path("run1.salt"))
            .expect("salt file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(first.rows, again.rows, "one salt, one output");
    let tokens = |e: &crate::util::Encodings| -> BTreeSet<String> {
        e.rows.iter().map(|r| r[0].clone()).collect()
    };
    for (a, b) in [(&plain, &first), (&first, &second), (&plain, &second)] {
        assert!(
            tokens(a).is_disjoint(&tokens(b)),
            "tokens shared across runs"
        );
    }
    let rest = |e: &crate::util::Encodings| -> BTreeSet<Vec<String>> {
        e.rows.iter().map(|r| r[1..].to_vec()).collect()
    };
    assert_eq!(rest(&plain), rest(&first), "only the record tokens change");
    // The map joins this run's tokens to the same local IDs.
    let ids = |name: &str| -> BTreeSet<String> {
        dir.read(name)
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(1).map(str::to_owned))
            .collect()
    };
    assert_eq!(ids("plain.kith.map"), ids("first.kith.map"));
}

/// CLK hardening (`kith.clk`): balancing doubles the CLK and sets exactly half its bits, rule 90,
/// rehashing and BLIP change it, the linkage party reads it like any other, and clkhash-json
/// refuses it.
#[test]
fn hardened_clks_are_balanced_and_still_link() {
    let dir = Dir::new();
    let text = std::fs::read_to_string(demo("schema.json")).expect("demo schema");
    let mut schema: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    schema["kith"]["clk"] = serde_json::json!({
        "rule90": true,
        "rehash": {"window": 8, "step": 6, "k": 3},
        "blip": 5,
        "balance": true
    });
    let path = dir.write("hardened.json", schema.to_string());
    ok(
        crate::util::encode_with_schema(&dir, &path, &demo("council.csv"), "council.kith").args([
            "--quiet",
            "--id-column",
            "person_id",
        ]),
    );
    ok(
        crate::util::encode_with_schema(&dir, &path, &demo("health.csv"), "health.kith")
            .arg("--quiet")
            .arg("--mapping")
            .arg(demo("health-mapping.json")),
    );
    let enc = read_encodings(&dir.read("council.kith"));
    assert_eq!(enc.header["clk_bits"], 2048);
    for row in &enc.rows {
        let clk = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &row[1])
            .expect("base64");
        assert_eq!(clk.len(), 256);
        assert_eq!(
            clk.iter().map(|b| b.count_ones()).sum::<u32>(),
            1024,
            "balanced"
        );
    }
    ok(kith()
        .args([
            "--quiet",
            "link",
            "--scoring",
            "clk",
            "--threshold",
            "0.7",
            "--output",
        ])
        .arg(dir.path("links"))
        .arg(dir.path("council.kith"))
        .arg(dir.path("health.kith")));
    assert!(
        dir.read("links/links.csv").lines().count() > 5,
        "hardened CLKs still link"
    );
    let err = crate::util::fails(
        crate::util::encode_with_schema(&dir, &path, &demo("council.csv"), "c.json")
            .args(["--format", "clkhash-json"]),
    );
    assert!(err.contains("hardens the CLK"), "{err}");
}
