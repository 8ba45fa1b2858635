use std::collections::BTreeMap;

use crate::util::{Dir, SECRET, demo, encode_cmd, fails, fixtures, kith, ok, stderr};

/// Groups of two or more records from clusters.csv, written as anonlink's fixture writes them:
/// `a:0 b:12` per line, sorted.
fn groups_of(clusters: &str) -> Vec<String> {
    let mut by: BTreeMap<&str, Vec<(String, usize)>> = BTreeMap::new();
    for line in clusters.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        by.entry(f[2])
            .or_default()
            .push((f[0].to_owned(), f[1].parse().expect("row index")));
    }
    let mut out: Vec<Vec<(String, usize)>> = by
        .into_values()
        .filter(|g| g.len() > 1)
        .map(|mut g| {
            g.sort();
            g
        })
        .collect();
    out.sort();
    out.iter()
        .map(|g| {
            g.iter()
                .map(|(s, r)| format!("{s}:{r}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// On fixtures made by anonlink 0.15.3 itself (benches/anonlink/make_solve_fixture.py), kith's
/// greedy solving with `--solver anonlink` gives exactly anonlink's groups, for two parties and
/// for three, ties included; the default (evidence) gives the same for two parties and finds more
/// entities in all three for three.
#[test]
fn greedy_solving_gives_anonlinks_groups() {
    let f = fixtures().join("anonlink");
    for (inputs, want) in [
        (&["a", "b"][..], "groups-ab.csv"),
        (&["a", "b", "c"][..], "groups-abc.csv"),
    ] {
        let dir = Dir::new();
        let run = |solver: &str, out: &str| {
            let mut c = kith();
            c.arg("link");
            for i in inputs {
                c.arg(f.join(format!("{i}.json")));
            }
            ok(c.args([
                "--blocking",
                "none",
                "--threshold",
                "0.8",
                "--quiet",
                "--solver",
                solver,
                "--output",
            ])
            .arg(dir.path(out)));
            groups_of(&dir.read(&format!("{out}/clusters.csv")))
        };
        let expected: Vec<String> = std::fs::read_to_string(f.join(want))
            .expect("fixture")
            .lines()
            .skip(1)
            .map(str::to_owned)
            .collect();
        assert_eq!(run("anonlink", "anonlink"), expected, "{want}");
        let evidence = run("evidence", "evidence");
        if inputs.len() == 2 {
            assert_eq!(evidence, expected, "two parties: greedy 1:1 either way");
        } else {
            let of_three = |g: &[String]| g.iter().filter(|x| x.split(' ').count() == 3).count();
            assert!(
                of_three(&evidence) > of_three(&expected),
                "three parties: more entities found in all three on evidence"
            );
        }
    }
}

fn encode_demo(dir: &Dir) {
    ok(encode_cmd(dir, &demo("council.csv"), "council.kith").args(["--id-column", "person_id"]));
    ok(encode_cmd(dir, &demo("health.csv"), "health.kith")
        .arg("--mapping")
        .arg(demo("health-mapping.json")));
    ok(encode_cmd(dir, &demo("police.csv"), "police.kith")
        .arg("--mapping")
        .arg(demo("police-mapping.json")));
}

/// `--within-threshold` holds pairs within one source to their own threshold: it needs
/// `--dedupe`, may not be below `--threshold`, and no link within a source scores under it.
#[test]
fn a_threshold_within_one_source_needs_dedupe_and_holds_the_links_within() {
    let dir = Dir::new();
    encode_demo(&dir);
    let link = |args: &[&str], out: &str| {
        let mut c = kith();
        c.arg("link").args(args).arg("--output").arg(dir.path(out));
        for f in ["council.kith", "health.kith", "police.kith"] {
            c.arg(dir.path(f));
        }
        c
    };
    let err = fails(&mut link(&["--within-threshold", "0.9"], "a"));
    assert!(err.contains("give --dedupe"), "{err}");
    let err = fails(&mut link(
        &[
            "--dedupe",
            "--threshold",
            "0.8",
            "--within-threshold",
            "0.5",
        ],
        "b",
    ));
    assert!(err.contains("must not be below --threshold"), "{err}");
    assert!(!dir.path("a/links.csv").exists() && !dir.path("b/links.csv").exists());
    let err = stderr(&ok(&mut link(
        &["--dedupe", "--scoring", "clk", "--within-threshold", "0.99"],
        "c",
    )));
    assert!(
        err.contains("threshold 0.99 for pairs within one source"),
        "{err}"
    );
    let links = dir.read("c/links.csv");
    for row in links.lines().skip(1) {
        let f: Vec<&str> = row.split(',').collect();
        let score: f64 = f[4].parse().expect("a score");
        assert!(f[0] != f[2] || score >= 0.99, "{row}");
    }
    let manifest = dir.read("c/manifest.json");
    assert!(
        manifest.contains("\"threshold_within\": 0.99"),
        "{manifest}"
    );
}

#[test]
fn links_clusters_and_review_are_written_and_do_not_depend_on_threads() {
    let dir = Dir::new();
    encode_demo(&dir);
    let mut outputs = Vec::new();
    for threads in ["1", "3"] {
        let out = format!("out{threads}");
        let o = ok(kith()
            .args([
                "link",
                "--threads",
                threads,
                "--review-threshold",
                "0.1",
                "--output",
            ])
            .arg(dir.path(&out))
            .arg(dir.path("council.kith"))
            .arg(dir.path("health.kith"))
            .arg(dir.path("police.kith")));
        let err = stderr(&o);
        assert!(err.contains("suggested threshold"), "{err}");
        assert!(err.contains("reduction ratio"), "{err}");
        outputs.push(
            ["links.csv", "clusters.csv", "review.csv"].map(|f| dir.read(&format!("{out}/{f}"))),
        );
    }
    assert_eq!(
        outputs[0], outputs[1],
        "same output whatever the thread count"
    );
    let [links, clusters, review] = &outputs[0];
    assert!(links.starts_with("source_a,token_a,source_b,token_b,score\n"));
    assert!(clusters.starts_with("source,token,entity_id\n"));
    assert!(review.starts_with("source_a,token_a,source_b,token_b,score\n"));
    // Every record of every source is in clusters.csv: 18 + 11 + 4.
    assert_eq!(clusters.lines().count() - 1, 33);
    // The NHS numbers the council and health share are certain matches.
    assert!(
        links.lines().filter(|l| l.ends_with(",1.000000")).count() >= 4,
        "{links}"
    );
    // Rows are sorted by name, not by input order.
    let rows: Vec<&str> = links.lines().skip(1).collect();
    assert!(rows.windows(2).all(|w| w[0] < w[1]));
    // Tokens in links are the holders' record tokens.
    let council = dir.read("council.kith");
    for l in &rows {
        let f: Vec<&str> = l.split(',').collect();
        if f[0] == "council" {
            assert!(council.contains(f[1]), "{l}");
        }
    }
}

#[test]
fn inputs_from_different_schemas_or_secrets_are_refused() {
    let dir = Dir::new();
    encode_demo(&dir);
    let schema = std::fs::read_to_string(demo("schema.json"))
        .expect("schema")
        .replace("\"bitsPerToken\": 12", "\"bitsPerToken\": 11");
    let other = dir.write("other-schema.json", schema);
    ok(
        crate::util::encode_with_schema(&dir, &other, &demo("council.csv"), "other.kith")
            .arg("--quiet")
            .args(["--party", "other"]),
    );
    let err = fails(
        kith()
            .args(["link", "--output"])
            .arg(dir.path("out"))
            .arg(dir.path("health.kith"))
            .arg(dir.path("other.kith")),
    );
    assert!(err.contains("different schemas"), "{err}");
    assert!(!dir.path("out/links.csv").exists());
    ok(encode_cmd(&dir, &demo("council.csv"), "council2.kith")
        .args(["--party", "council2"])
        .env("KITH_SECRET", format!("{SECRET}-other")));
    let err = fails(
        kith()
            .args(["link", "--output"])
            .arg(dir.path("out"))
            .arg(dir.path("health.kith"))
            .arg(dir.path("council2.kith")),
    );
    assert!(err.contains("different secrets"), "{err}");
    let err = fails(
        kith()
            .args(["link", "--output"])
            .arg(dir.path("out"))
            .arg(dir.path("health.kith"))
            .arg(dir.path("health.kith")),
    );
    assert!(err.contains("given twice"), "{err}");
    let bad = dir.write("bad.json", "{\"clks\": [\"AAAA\", \"not base64!\"]}");
    let err = fails(
        kith()
            .args(["link", "--output"])
            .arg(dir.path("out"))
            .arg(dir.path("health.kith"))
            .arg(&bad),
    );
    assert!(
        err.contains("bad.json: clks[1] is not valid base64"),
        "{err}"
    );
}

#[test]
fn evaluate_reports_pairwise_precision_recall_and_f1() {
    let dir = Dir::new();
    let truth = dir.write(
        "truth.csv",
        "source,token,entity\na,1,p\nb,1,p\nb,2,p\na,2,q\nb,3,q\n",
    );
    let links = dir.write(
        "links.csv",
        "source_a,token_a,source_b,token_b,score\na,1,b,1,0.9\na,2,b,2,0.85\nb,1,b,2,0.8\n",
    );
    let o = ok(kith()
        .args(["evaluate", "--truth"])
        .arg(&truth)
        .arg("--links")
        .arg(&links));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("cross-source   precision 0.5000  recall 0.3333  F1 0.4000"),
        "{out}"
    );
    assert!(
        out.contains("within-source  precision 1.0000  recall 1.0000  F1 1.0000"),
        "{out}"
    );
    // By pair of sources: a-b holds the cross-source pairs, b-b the duplicate.
    assert!(
        out.contains("  a-b            precision 0.5000  recall 0.3333  F1 0.4000"),
        "{out}"
    );
    assert!(out.contains("  b-b            precision 1.0000"), "{out}");
    let clusters = dir.write(
        "clusters.csv",
        "source,token,entity_id\na,1,x\nb,1,x\nb,2,x\na,2,y\nb,3,y\n",
    );
    let o = ok(kith()
        .args(["evaluate", "--truth"])
        .arg(&truth)
        .arg("--clusters")
        .arg(&clusters));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("cross-source   precision 1.0000  recall 1.0000"),
        "{out}"
    );
    let err = fails(
        kith()
            .args(["evaluate", "--truth"])
            .arg(&links)
            .arg("--links")
            .arg(&links),
    );
    assert!(err.contains("no column \"source\""), "{err}");
    // A truth file saved by Excel (`\r\n`, a blank line) that lists a record twice: the line
    // named is the second listing's own.
    let twice = dir.write(
        "twice.csv",
        "source,token,entity\r\na,1,p\r\n\r\nb,1,p\r\na,1,q\r\n",
    );
    let err = fails(
        kith()
            .args(["evaluate", "--truth"])
            .arg(&twice)
            .arg("--links")
            .arg(&links),
    );
    assert!(
        err.contains("twice.csv: line 5: record a/1 is listed twice"),
        "{err}"
    );
}

/// The holders' local IDs of each linked pair (each holder maps its own tokens back).
fn linked_ids(dir: &Dir, links: &str) -> Vec<(String, String)> {
    let mut local: BTreeMap<(String, String), String> = BTreeMap::new();
    for (source, map) in [("council", "council-map.csv"), ("health", "health-map.csv")] {
        for line in dir.read(map).lines().skip(1) {
            let (token, id) = line.split_once(',').expect("token,local_id");
            local.insert((source.to_owned(), token.to_owned()), id.to_owned());
        }
    }
    let id = |s: &str, t: &str| local[&(s.to_owned(), t.to_owned())].clone();
    let mut out: Vec<(String, String)> = links
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (id(f[0], f[1]), id(f[2], f[3]))
        })
        .collect();
    out.sort();
    out
}

/// An NHS number two records of one holder share outweighs the twin rule: a record whose
/// forename was replaced (Jade for Amelia, one date of birth) but which carries its person's NHS
/// number is linked with its duplicate, while a girl and a boy of one family and date of birth,
/// without NHS numbers, stay apart.
#[test]
fn a_shared_nhs_number_outweighs_the_twin_rule() {
    let dir = Dir::new();
    let council = dir.write(
        "council.csv",
        "given_name,surname,dob,sex,postcode,nhs_number,person_id\n\
         Jade,Kilpatrick,19/10/2006,F,PR21 6ZF,943 476 5919,C1\n\
         Amelia,Kilpatrick,19/10/2006,F,PR21 6ZF,943 476 5919,C2\n\
         Oliver,Smith,02/01/1980,M,M1 1AA,,C3\n\
         Olivia,Smith,02/01/1980,F,M1 1AA,,C4\n\
         Jack,Brown,05/05/1990,M,LS1 1AA,,C5\n\
         Jack,Brown,05/05/1990,M,LS1 1AA,,C6\n",
    );
    ok(encode_cmd(&dir, &council, "council.kith")
        .args(["--id-column", "person_id", "--keep-map"])
        .arg(dir.path("council-map.csv")));
    ok(kith()
        .args(["link", "--quiet", "--dedupe", "--output"])
        .arg(dir.path("out"))
        .arg(dir.path("council.kith")));
    let local: BTreeMap<String, String> = dir
        .read("council-map.csv")
        .lines()
        .skip(1)
        .map(|l| {
            let (token, id) = l.split_once(',').expect("token,local_id");
            (token.to_owned(), id.to_owned())
        })
        .collect();
    let mut linked: Vec<(String, String)> = dir
        .read("out/links.csv")
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let mut p = [local[f[1]].clone(), local[f[3]].clone()];
            p.sort();
            (p[0].clone(), p[1].clone())
        })
        .collect();
    linked.sort();
    assert_eq!(
        linked,
        [
            ("C1".to_owned(), "C2".to_owned()),
            ("C5".into(), "C6".into())
        ]
    );
}

/// With the demo schema's field-level filters, pairs are scored field by field: the council and
/// health extracts link as a person would link them (diacritics, a hyphenated surname partly
/// present, Ewa as Eva), and the twins in each household (same surname, date of birth
/// and postcode) stay apart, also when duplicates are looked for within each holder.
#[test]
fn field_scoring_links_the_demo_and_keeps_twins_apart() {
    let dir = Dir::new();
    ok(encode_cmd(&dir, &demo("council.csv"), "council.kith")
        .args(["--id-column", "person_id", "--keep-map"])
        .arg(dir.path("council-map.csv")));
    ok(encode_cmd(&dir, &demo("health.csv"), "health.kith")
        .arg("--mapping")
        .arg(demo("health-mapping.json"))
        .arg("--keep-map")
        .arg(dir.path("health-map.csv")));
    let expected: Vec<(String, String)> = [
        ("C1001", "H-77"),
        ("C1003", "H-78"),
        ("C1004", "H-79"),
        ("C1005", "H-80"),
        ("C1006", "H-81"),
        ("C1008", "H-82"),
        ("C1010", "H-83"),
        ("C1013", "H-84"),
        ("C1014", "H-85"),
        ("C1015", "H-86"),
    ]
    .iter()
    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
    .collect();
    for dedupe in [false, true] {
        let out = format!("out-{dedupe}");
        let mut c = kith();
        c.args(["link", "--output"])
            .arg(dir.path(&out))
            .arg(dir.path("council.kith"))
            .arg(dir.path("health.kith"));
        if dedupe {
            c.arg("--dedupe");
        }
        let err = stderr(&ok(&mut c));
        assert!(err.contains("field scoring model"), "{err}");
        assert!(err.contains("suggested threshold 0.50"), "{err}");
        assert_eq!(
            linked_ids(&dir, &dir.read(&format!("{out}/links.csv"))),
            expected,
            "dedupe {dedupe}"
        );
    }
    // A review threshold above the (probability) threshold gives no band, and says so.
    let err = stderr(&ok(kith()
        .args(["link", "--review-threshold", "0.7", "--output"])
        .arg(dir.path("rv"))
        .arg(dir.path("council.kith"))
        .arg(dir.path("health.kith"))));
    assert!(
        err.contains("no review band") && err.contains("try 0.1"),
        "{err}"
    );
    assert!(!dir.path("rv/review.csv").exists());
    // A threshold within one source below the threshold is raised to it, and says so; one
    // above it is used, and said.
    for (within, says) in [
        (
            "0.3",
            "--within-threshold 0.3 is below the threshold 0.50, so pairs within one source are held at 0.50",
        ),
        ("0.9", "threshold 0.90 for pairs within one source (given)"),
    ] {
        let err = stderr(&ok(kith()
            .args(["link", "--dedupe", "--within-threshold", within, "--output"])
            .arg(dir.path(&format!("wt{within}")))
            .arg(dir.path("council.kith"))
            .arg(dir.path("health.kith"))));
        assert!(err.contains(says), "{err}");
    }
    // CLK scoring is still there on request: Dice scores and the best-score histogram.
    let err = stderr(&ok(kith()
        .args(["link", "--scoring", "clk", "--output"])
        .arg(dir.path("clk"))
        .arg(dir.path("council.kith"))
        .arg(dir.path("health.kith"))));
    assert!(err.contains("each record's best score"), "{err}");
    assert!(!err.contains("field scoring model"), "{err}");
    // clkhash-json carries no field filters.
    let f = fixtures().join("anonlink");
    let err = fails(
        kith()
            .args(["link", "--scoring", "fields", "--output"])
            .arg(dir.path("x"))
            .arg(f.join("a.json"))
            .arg(f.join("b.json")),
    );
    assert!(err.contains("--scoring fields needs every input"), "{err}");
    assert!(!dir.path("x/links.csv").exists());
}

/// Two clkhash-json files of `n` random 1,024-bit CLKs each; every fifth CLK of the second is a
/// copy of one of the first with four bits flipped (Dice about 0.99). Returns the planted pairs.
fn random_clks(dir: &Dir, n: usize) -> Vec<(usize, usize)> {
    use base64::Engine;
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut clk = || -> Vec<u8> {
        (0..16)
            .flat_map(|_| (next() & next()).to_be_bytes())
            .collect()
    };
    let a: Vec<Vec<u8>> = (0..n).map(|_| clk()).collect();
    let mut b: Vec<Vec<u8>> = (0..n).map(|_| clk()).collect();
    let mut planted = Vec::new();
    for (j, c) in b.iter_mut().enumerate().step_by(5) {
        let i = (j * 7919) % n;
        *c = a[i].clone();
        for k in 0..4 {
            c[(j + 31 * k) % 128] ^= 1 << k;
        }
        planted.push((i, j));
    }
    let json = |v: &[Vec<u8>]| {
        let clks: Vec<String> = v
            .iter()
            .map(|c| {
                format!(
                    "\"{}\"",
                    base64::engine::general_purpose::STANDARD.encode(c)
                )
            })
            .collect();
        format!("{{\"clks\": [{}]}}", clks.join(", "))
    };
    dir.write("a.json", json(&a));
    dir.write("b.json", json(&b));
    planted.sort();
    planted
}

/// All pairs at a high threshold: the scan drops most pairs early (an exact bound), the histogram
/// comes from a sample of the records and says so, and exactly the planted pairs are linked, by
/// every kernel the CPU has.
#[test]
fn an_all_pairs_scan_at_a_high_threshold_finds_every_planted_pair() {
    let dir = Dir::new();
    let planted = random_clks(&dir, 3000);
    for kernel in ["portable", "default"] {
        let mut c = kith();
        c.arg("link")
            .arg(dir.path("a.json"))
            .arg(dir.path("b.json"))
            .args(["--blocking", "none", "--threshold", "0.9", "--output"])
            .arg(dir.path(kernel));
        if kernel != "default" {
            c.args(["--kernel", kernel]);
        }
        let out = ok(&mut c);
        let err = stderr(&out);
        assert!(
            err.contains("for a sample of 1000 records"),
            "the histogram is a sample: {err}"
        );
        let mut got: Vec<(usize, usize)> = dir
            .read(&format!("{kernel}/links.csv"))
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[1].parse().expect("row"), f[3].parse().expect("row"))
            })
            .collect();
        got.sort();
        assert_eq!(got, planted, "{kernel}");
    }
}

/// `kith link --chunk`: the first file read a few hundred records at a time gives, with CLK
/// scoring at a given threshold, exactly the links of an ordinary run, and every record in
/// clusters.csv once; the options it cannot honour are refused.
#[test]
fn linking_in_chunks_gives_the_links_of_an_ordinary_run() {
    let dir = Dir::new();
    crate::pipeline::pipeline(&dir, "1");
    let t = dir.path("t1");
    let run = |extra: &[&str], out: &str| {
        let mut c = kith();
        c.args(["link", "--quiet"]);
        for a in ["council", "health", "police"] {
            c.arg(t.join(format!("{a}.kith")));
        }
        c.args(["--scoring", "clk", "--threshold", "0.8"])
            .args(extra)
            .arg("--output")
            .arg(dir.path(out));
        ok(&mut c);
    };
    run(&[], "whole");
    run(&["--chunk", "700"], "chunked");
    let links = dir.read("whole/links.csv");
    assert!(links.lines().count() > 1000);
    assert_eq!(dir.read("chunked/links.csv"), links);
    let sorted = |f: &str| {
        let mut l: Vec<String> = dir.read(f).lines().map(String::from).collect();
        l.sort();
        l
    };
    assert_eq!(sorted("chunked/clusters.csv"), sorted("whole/clusters.csv"));
    for (extra, says) in [
        (
            &["--chunk", "700", "--scoring", "clk"][..],
            "needs --threshold",
        ),
        (&["--chunk", "700", "--dedupe"][..], "without --dedupe"),
    ] {
        let mut c = kith();
        c.arg("link");
        for a in ["council", "health"] {
            c.arg(t.join(format!("{a}.kith")));
        }
        let o = c
            .args(extra)
            .arg("--output")
            .arg(dir.path("x"))
            .output()
            .expect("run");
        assert!(!o.status.success());
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
        assert!(!dir.path("x/links.csv").exists());
    }
}

/// `--blocking auto` compares every pair of a small run (blocking could only lose matches) and
/// says so; asked for keys, it blocks and estimates the pairs completeness of blocking.
/// `kith link` of `dir`'s council.kith and health.kith with `extra` flags into `dir/out`; its
/// stderr.
fn link_council_health(dir: &Dir, extra: &[&str], out: &str) -> String {
    let o = ok(kith()
        .arg("link")
        .arg(dir.path("council.kith"))
        .arg(dir.path("health.kith"))
        .args(extra)
        .arg("--output")
        .arg(dir.path(out)));
    crate::util::stderr(&o)
}

#[test]
fn small_runs_compare_every_pair_by_default() {
    let dir = Dir::new();
    encode_demo(&dir);
    let run = |extra: &[&str], out: &str| link_council_health(&dir, extra, out);
    let auto = run(&[], "auto");
    assert!(auto.contains("blocking none (all pairs)"), "{auto}");
    assert!(
        auto.contains("every pair was compared, so blocking lost nothing"),
        "{auto}"
    );
    let keys = run(&["--blocking", "keys"], "keys");
    assert!(keys.contains("blocking keyed blocking keys"), "{keys}");
    // Every blocked run estimates what blocking lost.
    assert!(
        keys.contains("pairs completeness of blocking, estimated on up to 500 records per source"),
        "{keys}"
    );
    // With CLK scoring too, against all pairs of a smaller sample: the pairs each other's best.
    let clk = run(&["--blocking", "keys", "--scoring", "clk"], "clk");
    assert!(
        clk.contains("estimated on up to 200 records per source: of the")
            && clk.contains("pairs that all-pairs scoring makes each other's best at"),
        "{clk}"
    );
    // LSH alone finds pairs by their CLKs only: every pair from the threshold up counts.
    let lsh = run(&["--blocking", "lsh", "--scoring", "clk"], "lsh");
    let threshold = lsh
        .split("suggested threshold ")
        .nth(1)
        .and_then(|t| t.get(..4))
        .unwrap_or_else(|| panic!("no threshold in {lsh}"));
    assert!(
        lsh.contains(&format!(
            "makes each other's best at {threshold} or more, blocking found"
        )),
        "{lsh}"
    );
    // The manifest says from which score the estimate counted pairs.
    let manifest: serde_json::Value =
        serde_json::from_str(&dir.read("lsh/manifest.json")).expect("JSON");
    let from = manifest["counts"]["pairs_completeness_from"]
        .as_f64()
        .expect("pairs_completeness_from");
    let used: f64 = threshold.parse().expect("threshold");
    assert!((from - used).abs() < 1e-9, "{manifest}");
}

/// The estimate a blocked run prints, as (found, sampled pairs, ratio).
fn estimate_of(stderr: &str) -> (u64, u64, f64) {
    let line = stderr
        .lines()
        .find(|l| l.contains("pairs completeness of blocking, estimated"))
        .unwrap_or_else(|| panic!("no estimate in {stderr}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |w: &str| {
        let i = words.iter().position(|x| *x == w).expect(w);
        words[i + 1].trim_start_matches('(').to_owned()
    };
    let all = after("the").parse().expect("sampled pairs");
    let found = after("found").parse().expect("found");
    let ratio = words[words.iter().position(|x| *x == "found").expect("found") + 2]
        .trim_start_matches('(')
        .trim_end_matches(';')
        .parse()
        .expect("ratio");
    (found, all, ratio)
}

/// A schema whose only blocking key is the whole date of birth loses every pair with a date
/// typed wrong. Above the all-pairs limit, `--blocking auto` widens blocking (LSH beside the
/// keys, then wider LSH) until its estimate reaches 0.995, and says so; `--blocking keys` keeps
/// the keys, warns, and finds fewer links.
#[test]
fn auto_blocking_widens_until_the_estimate_reaches_the_target() {
    let dir = Dir::new();
    let src = dir.path("src");
    ok(kith()
        .args([
            "synth", "--quiet", "--people", "6000", "--seed", "3", "--output",
        ])
        .arg(&src));
    let mut schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo("schema.json")).expect("schema"))
            .expect("json");
    let dob = schema["kith"]["blocking"]["dob"].clone();
    schema["kith"]["blocking"] = serde_json::json!({ "dob": dob });
    let weak = dir.write("weak.json", schema.to_string());
    // 5,319 council and 5,815 health records: 31 M pairs, over the all-pairs limit.
    for a in ["council", "health"] {
        let mut c = crate::util::encode_with_schema(
            &dir,
            &weak,
            &src.join(format!("{a}.csv")),
            &format!("{a}.kith"),
        );
        ok(c.arg("--quiet")
            .arg("--mapping")
            .arg(src.join(format!("{a}-mapping.json"))));
    }
    let run = |extra: &[&str], out: &str| link_council_health(&dir, extra, out);
    let keys = run(&["--blocking", "keys"], "keys");
    let (_, _, short) = estimate_of(&keys);
    assert!(short < 0.995, "{keys}");
    assert!(
        keys.contains("kith: warning: that is under 0.995"),
        "{keys}"
    );
    assert!(!keys.contains("widened"), "{keys}");

    let auto = run(&[], "auto");
    assert!(
        auto.contains("kith: blocking keyed blocking keys found an estimated")
            && auto.contains("under 0.995: widened"),
        "{auto}"
    );
    // Each widening is announced as it starts, with what it will cost.
    assert!(
        auto.contains("under 0.995: scoring again with keyed blocking keys + LSH (32 tables of 16 bits) (about "),
        "{auto}"
    );
    let (_, _, reached) = estimate_of(&auto);
    assert!(reached >= 0.995, "{auto}");
    assert!(!auto.contains("warning: that is under"), "{auto}");
    let links = |out: &str| dir.read(&format!("{out}/links.csv")).lines().count();
    assert!(links("auto") > links("keys"), "{auto}");
}

/// `--model` scores with a model fitted before: a run given its own model.json gives its own
/// links and clusters, chunk by chunk too; a model of other fields, a file that is not a model,
/// and a model with CLK scoring are refused.
#[test]
fn a_run_given_its_own_model_links_as_it_did() {
    let dir = Dir::new();
    crate::pipeline::pipeline(&dir, "1");
    let t = dir.path("t1");
    let link = |extra: &[&str], out: &str| {
        let mut c = kith();
        c.args(["link", "--quiet", "--dedupe"]);
        for a in ["council", "health", "police"] {
            c.arg(t.join(format!("{a}.kith")));
        }
        c.args(extra).arg("--output").arg(dir.path(out));
        c
    };
    ok(&mut link(&[], "fitted"));
    let model = dir.path("fitted/model.json");
    let model = model.to_str().expect("utf-8 path");
    ok(&mut link(&["--model", model], "given"));
    for f in ["links.csv", "clusters.csv", "model.json"] {
        assert_eq!(
            dir.read(&format!("given/{f}")),
            dir.read(&format!("fitted/{f}")),
            "{f}"
        );
    }
    assert!(dir.read("given/links.csv").lines().count() > 1000);
    assert!(
        dir.read("given/manifest.json")
            .contains("field model given")
    );

    // A model of other fields: one field renamed.
    let v: serde_json::Value = serde_json::from_str(&dir.read("fitted/model.json")).expect("json");
    let mut other = v.clone();
    other["fields"][0]["name"] = "nickname".into();
    dir.write("other.json", other.to_string());
    dir.write("bad.json", r#"{"fields": [{"name": "dob", "m": [1]}]}"#);
    for (extra, says) in [
        (
            vec!["--model", "other.json"],
            "fitted on encodings of another schema",
        ),
        (vec!["--model", "bad.json"], "not a kith field model"),
        (vec!["--model", "missing.json"], "cannot read the model"),
        (
            vec!["--model", model, "--scoring", "clk"],
            "not with --scoring clk",
        ),
    ] {
        let extra: Vec<String> = extra
            .iter()
            .map(|a| {
                if a.ends_with(".json") && !a.contains('/') {
                    dir.path(a).to_string_lossy().into_owned()
                } else {
                    (*a).to_owned()
                }
            })
            .collect();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let e = fails(&mut link(&extra, "refused"));
        assert!(e.contains(says), "{extra:?}: {e}");
        assert!(!dir.path("refused/links.csv").exists());
    }
}
