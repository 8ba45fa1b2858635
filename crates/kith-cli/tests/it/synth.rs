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
    assert!(truth.starts_with("source,local_id,person,household\n"));
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
