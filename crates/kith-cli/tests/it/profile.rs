//! `kith profile`: a holder's look at its own extract names each problem with example lines on
//! its screen, writes only counts to the JSON it may send, and refuses bad input as encode does.

use crate::util::{Dir, demo, fails, kith, ok, run};

const BAD: &str = "\
id,given_name,surname,dob,sex,postcode,nhs_number,address,household_ref
1,Mr John,Smith,01/01/1900,M,LS6 2AB,9990000018,12 Mill Lane,H1
2,Mary,Jones,1984-03-14,F,ZZ99 3VZ,4000000004,3 Mill Lane,H2
2,Baby,Jones,2030-01-01,F,LS6,,3 Mill Lane,H2
4,LS6 2AB,Brown,14/03/1984,M,LS6 2AB,,4 Mill Lane,H3
5,Ann,Ann,31/02/1984,F,QQQ,123,5 Mill Lane,H4
6,,,,,,,,
7,Mary,Jones,1984-03-14,F,LS6 2AB,4000000004,3 Mill Lane,H2
";

fn profile(dir: &Dir, input: &str) -> std::process::Command {
    let mut c = kith();
    c.arg("profile")
        .arg("--schema")
        .arg(demo("schema.json"))
        .arg("--input")
        .arg(dir.path(input))
        .args(["--id-column", "id", "--as-of", "2026-12-05"]);
    c
}

#[test]
fn profile_names_each_problem_with_its_lines_and_a_verdict() {
    let dir = Dir::new();
    dir.write("bad.csv", BAD);
    let o = ok(profile(&dir, "bad.csv")
        .arg("--json")
        .arg(dir.path("bad.json")));
    let text = String::from_utf8(o.stdout).expect("utf-8");
    for said in [
        "dob: placeholder dates (01/01/1900, before 1900, from 9000) — 1 (14.3%)",
        "e.g. line 2: \"01/01/1900\"",
        "dob: dates in the future — 1",
        "nhs_number: test NHS numbers (999 …) — 1",
        "postcode: ZZ99 pseudo-postcodes — 1",
        "e.g. line 4: \"LS6\"",
        "given_name: placeholder names (unknown, baby, test …) — 1",
        "given_name: titles in the name (Mr, Mrs, Dr …) — 1",
        "given_name: values that belong in another column — 1",
        "dob: invalid — 1 (14.3%); e.g. line 6: \"31/02/1984\"",
        "local IDs used more than once: 1 IDs on 2 rows",
        "1 share an exact identifier (e.g. line 8)",
        "never compared (no blocking key, no exact identifier): 1 (14.3%); e.g. line 7",
        "verdict: NOT FIT",
        "fix first:\n  1. local IDs used by more than one row",
    ] {
        assert!(text.contains(said), "{said:?} not in:\n{text}");
    }
    // The JSON the holder may send: counts, no value, line or ID.
    let json = dir.read("bad.json");
    let p: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(p["format"], "kith-profile");
    assert_eq!(p["records"], 7);
    assert_eq!(p["verdict"]["fit"], "not fit");
    let dob = p["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .find(|f| f["name"] == "dob")
        .expect("dob");
    assert_eq!(dob["checks"]["placeholder_date"], 1);
    assert_eq!(dob["invalid"], 1);
    for value in [
        "Mill", "Jones", "Smith", "john", "1984", "2030", "LS6", "400000", "999000", "31/02",
    ] {
        assert!(
            !json.to_lowercase().contains(&value.to_lowercase()),
            "{value} in {json}"
        );
    }
    assert!(!json.contains("\"line"), "{json}");
}

#[test]
fn profile_strict_exits_1_only_when_the_extract_is_not_fit() {
    let dir = Dir::new();
    dir.write("bad.csv", BAD);
    let o = run(profile(&dir, "bad.csv").arg("--strict"));
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("verdict: NOT FIT"));
    // The demo's health extract is fit: --strict passes it.
    let mut c = kith();
    let o = ok(c
        .arg("profile")
        .arg("--schema")
        .arg(demo("schema.json"))
        .arg("--mapping")
        .arg(demo("health-mapping.json"))
        .arg("--input")
        .arg(demo("health.csv"))
        .arg("--strict"));
    let text = String::from_utf8(o.stdout).expect("utf-8");
    assert!(text.contains("verdict: FIT\n"), "{text}");
    assert!(
        text.contains("given_name         given"),
        "columns are named: {text}"
    );
}

#[test]
fn profile_refuses_bad_input_and_leaves_no_json() {
    let dir = Dir::new();
    dir.write("short.csv", "id,given_name\n1,Ann\n");
    let mapping = dir.write(
        "m.json",
        r#"{"kith_mapping": 1, "id_column": "id", "columns": {"surname": "family"}}"#,
    );
    let err = fails(
        kith()
            .arg("profile")
            .arg("--schema")
            .arg(demo("schema.json"))
            .arg("--mapping")
            .arg(&mapping)
            .arg("--input")
            .arg(dir.path("short.csv"))
            .arg("--json")
            .arg(dir.path("out.json")),
    );
    assert!(err.contains("short.csv: line 1 (header)"), "{err}");
    assert!(err.contains("family"), "{err}");
    assert!(!dir.path("out.json").exists());
    let err = fails(
        profile(&dir, "short.csv")
            .arg("--json")
            .arg(dir.path("short.csv")),
    );
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(dir.read("short.csv"), "id,given_name\n1,Ann\n");
    let err = fails(
        kith()
            .arg("profile")
            .arg("--schema")
            .arg(demo("schema.json"))
            .arg("--input")
            .arg(dir.path("short.csv"))
            .args(["--as-of", "5/12/2026"]),
    );
    assert!(err.contains("--as-of"), "{err}");
    // A row of the wrong length is counted and named, never silently dropped.
    let header = BAD.lines().next().expect("header");
    dir.write(
        "ragged.csv",
        format!("{header}\n1,Ann,Lee,01/02/1990,F,LS6 2AB,,1 Mill Lane,H1\n2,Bob\n"),
    );
    let o = ok(&mut profile(&dir, "ragged.csv"));
    let text = String::from_utf8(o.stdout).expect("utf-8");
    assert!(
        text.contains("1 rows could not be read and are not profiled")
            && text.contains("line 3: the row has 2 fields but the header has 9"),
        "{text}"
    );
    assert!(text.contains("ragged.csv (ragged), 1 records"), "{text}");
}
