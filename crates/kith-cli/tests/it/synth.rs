use crate::util::{Dir, encode_cmd, fails, kith, ok};

const FILES: [&str; 10] = [
    "council.csv",
    "council-mapping.json",
    "health.csv",
    "health-mapping.json",
    "households.csv",
    "police.csv",
    "police-mapping.json",
    "school.csv",
    "school-mapping.json",
    "truth-local.csv",
];

/// `kith synth` writes four agencies' extracts, their mappings and the truth; the same seed gives
/// the same bytes, another seed other people; the police extract is Windows-1252, which `kith
/// encode` refuses as UTF-8 with a hint and reads with `--encoding windows-1252`; every extract
/// encodes with the demo schema and its own mapping.
#[test]
fn synth_writes_agency_extracts_that_encode_with_their_mappings() {
    let dir = Dir::new();
    for (out, seed) in [("a", "5"), ("b", "5"), ("c", "6")] {
        ok(kith()
            .args([
                "synth", "--quiet", "--people", "4000", "--seed", seed, "--output",
            ])
            .arg(dir.path(out)));
    }
    for f in FILES {
        let a = std::fs::read(dir.path(&format!("a/{f}"))).expect("written");
        assert!(!a.is_empty(), "{f}");
        assert_eq!(
            a,
            std::fs::read(dir.path(&format!("b/{f}"))).expect("written"),
            "{f}"
        );
    }
    assert_ne!(dir.read("a/council.csv"), dir.read("c/council.csv"));
    let police = std::fs::read(dir.path("a/police.csv")).expect("police");
    assert!(
        std::str::from_utf8(&police).is_err(),
        "the police extract holds accented names in Windows-1252"
    );
    let truth = dir.read("a/truth-local.csv");
    assert!(truth.starts_with("source,local_id,person,household,criteria,multiple_birth\n"));
    assert!(
        truth.lines().any(|l| l.ends_with(",1")),
        "twins are marked in the truth"
    );
    for agency in ["council", "health", "police", "school"] {
        let mut c = encode_cmd(
            &dir,
            &dir.path(&format!("a/{agency}.csv")),
            &format!("{agency}.kith"),
        );
        c.arg("--mapping")
            .arg(dir.path(&format!("a/{agency}-mapping.json")));
        if agency == "police" {
            let e = fails(&mut c);
            assert!(e.contains("--encoding windows-1252"), "{e}");
            c.args(["--encoding", "windows-1252"]);
        }
        ok(&mut c);
        let rows = truth
            .lines()
            .filter(|l| l.starts_with(&format!("{agency},")))
            .count();
        let header = dir.read(&format!("{agency}.kith"));
        assert!(
            header
                .lines()
                .next()
                .is_some_and(|h| h.contains(&format!("\"records\":{rows}"))),
            "{agency}: every row encoded"
        );
    }
}

/// `kith demo` runs the protocol end to end and reports each step and the quality; with `--keep`
/// every party's files stay, and what the holders send holds no raw name from their extracts.
#[test]
fn demo_runs_the_protocol_and_keeps_raw_values_with_their_holders() {
    let dir = Dir::new();
    let out = ok(kith()
        .args(["demo", "--people", "3000", "--keep"])
        .arg(dir.path("demo")));
    let err = crate::util::stderr(&out);
    for step in [
        "1. Four agencies",
        "3. Each holder encodes",
        "4. The linkage party",
        "5. The linkage party groups linked people into families",
        "6. Each holder gets only its own record tokens",
        "7. Scored",
    ] {
        assert!(err.contains(step), "{step}: {err}");
    }
    let scores = String::from_utf8(out.stdout).expect("utf8");
    for line in [
        "cross-source   precision",
        "families       precision",
        ">=2 criteria   precision",
    ] {
        assert!(scores.contains(line), "{line}: {scores}");
    }
    let council = std::fs::read_to_string(dir.path("demo/extracts/council.csv")).expect("extract");
    let sent = std::fs::read_to_string(dir.path("demo/council.kith")).expect("encodings");
    let surnames: std::collections::HashSet<&str> = council
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(2))
        // Long enough that base64 text does not hold one by chance.
        .filter(|s| s.len() >= 8)
        .collect();
    assert!(surnames.len() > 20);
    for s in surnames {
        assert!(!sent.contains(s), "{s} left the council");
    }
    assert!(dir.path("demo/links/clusters.csv").exists());
    // Each holder's results, and the council's joined to its own local IDs.
    for a in ["council", "health", "police", "school"] {
        assert!(dir.path(&format!("demo/results/{a}.csv")).exists(), "{a}");
    }
    let identified =
        std::fs::read_to_string(dir.path("demo/council-identified.csv")).expect("revealed");
    assert!(
        identified.starts_with("local_id,entity_id,family_id,"),
        "{identified}"
    );
    assert!(identified.lines().skip(1).all(|l| l.starts_with('C')));
}
