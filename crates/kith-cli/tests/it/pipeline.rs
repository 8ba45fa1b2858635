//! The whole pipeline on a synthetic population: the same bytes at any thread count, and nothing
//! of a holder's raw values or of the secret in what leaves the holder.

use crate::util::{Dir, SECRET, encode_cmd, kith, ok};

const AGENCIES: [&str; 4] = ["council", "health", "police", "school"];

/// Synthesise (`--people 3000`) into `dir/src`, then encode every agency, link them all (with
/// `--dedupe` and a review band), group families, run an identification (two or more criteria)
/// and split its results per holder, at `threads` threads into `dir/t<threads>`.
pub(crate) fn pipeline(dir: &Dir, threads: &str) {
    let src = dir.path("src");
    if !src.exists() {
        ok(kith()
            .args([
                "synth", "--quiet", "--people", "3000", "--seed", "3", "--output",
            ])
            .arg(&src));
    }
    let out = dir.path(&format!("t{threads}"));
    std::fs::create_dir_all(&out).expect("folder");
    for a in AGENCIES {
        let mut c = encode_cmd(
            dir,
            &src.join(format!("{a}.csv")),
            &format!("t{threads}/{a}.kith"),
        );
        c.arg("--mapping")
            .arg(src.join(format!("{a}-mapping.json")))
            .arg("--keep-map")
            .arg(out.join(format!("{a}-map.csv")))
            .args(["--threads", threads]);
        if a == "police" {
            c.args(["--encoding", "windows-1252"]);
        }
        ok(&mut c);
    }
    let mut c = kith();
    c.arg("link");
    for a in AGENCIES {
        c.arg(out.join(format!("{a}.kith")));
    }
    ok(c.args([
        "--dedupe",
        "--review-threshold",
        "0.1",
        "--quiet",
        "--threads",
        threads,
        "--report",
    ])
    .arg(out.join("links-report.html"))
    .arg("--output")
    .arg(out.join("links")));
    for (folder, min) in [("families", "0"), ("run", "2")] {
        let mut c = kith();
        c.args([
            "families",
            "--quiet",
            "--threads",
            threads,
            "--min-criteria",
            min,
        ]);
        // In another order than the link's: the output does not depend on it.
        for a in AGENCIES.iter().rev() {
            c.arg(out.join(format!("{a}.kith")));
        }
        ok(c.arg("--links")
            .arg(out.join("links"))
            .arg("--report")
            .arg(out.join(format!("{folder}-report.html")))
            .arg("--output")
            .arg(out.join(folder)));
    }
    ok(kith()
        .args(["patterns", "--quiet"])
        .arg(out.join("families"))
        .arg("--output")
        .arg(out.join("patterns")));
    ok(kith()
        .args(["split", "--quiet", "--criteria-to", "council", "--families"])
        .arg(out.join("run"))
        .arg("--output")
        .arg(out.join("results")));
}

/// The tables `kith patterns` writes for the pipeline's families.
pub(crate) const PATTERNS: [&str; 4] = [
    "people_by_agencies",
    "families_by_agencies",
    "families_by_criteria",
    "families_by_area",
];

/// Everything the linkage party returns, as one text.
pub(crate) fn returned(dir: &Dir, t: &str) -> String {
    let mut files: Vec<String> = ["links/links.csv", "links/clusters.csv", "links/review.csv"]
        .map(String::from)
        .to_vec();
    files.extend(
        ["families", "run"]
            .iter()
            .flat_map(|f| [format!("{f}/families.csv"), format!("{f}/members.csv")]),
    );
    files.extend(AGENCIES.map(|a| format!("results/{a}.csv")));
    files.extend(PATTERNS.map(|t| format!("patterns/{t}.csv")));
    // The run manifests and reports, which the linkage party keeps with what it returns.
    files.extend(
        ["links", "families", "run", "results", "patterns"].map(|f| format!("{f}/manifest.json")),
    );
    files.extend(["links", "families", "run"].map(|f| format!("{f}-report.html")));
    files
        .iter()
        .map(|f| dir.read(&format!("t{t}/{f}")))
        .collect()
}

/// Encodings, maps, links, clusters, the review band, families and patterns are byte-identical
/// at 1, 2 and 8 threads.
#[test]
fn outputs_are_byte_identical_at_1_2_and_8_threads() {
    let dir = Dir::new();
    for t in ["1", "2", "8"] {
        pipeline(&dir, t);
    }
    let mut files: Vec<String> = AGENCIES
        .iter()
        .flat_map(|a| [format!("{a}.kith"), format!("{a}-map.csv")])
        .collect();
    files.extend(["links/links.csv", "links/clusters.csv", "links/review.csv"].map(String::from));
    files.extend(
        [
            "families/families.csv",
            "families/members.csv",
            "run/families.csv",
            "run/members.csv",
        ]
        .map(String::from),
    );
    files.extend(AGENCIES.map(|a| format!("results/{a}.csv")));
    files.extend(PATTERNS.map(|t| format!("patterns/{t}.csv")));
    for f in files {
        let one = std::fs::read(dir.path(&format!("t1/{f}"))).expect("written");
        assert!(!one.is_empty(), "{f}");
        for t in ["2", "8"] {
            assert!(
                one == std::fs::read(dir.path(&format!("t{t}/{f}"))).expect("written"),
                "{f} differs at {t} threads"
            );
        }
    }
}

/// `text` with an index of its 8-byte windows, so that asking whether it holds a value of 8 bytes
/// or more is a few hash lookups first (a plain search per value is too slow unoptimised).
pub(crate) struct Haystack {
    text: String,
    windows: std::collections::HashSet<[u8; 8]>,
}

impl Haystack {
    pub(crate) fn new(text: String) -> Haystack {
        let windows = text
            .as_bytes()
            .windows(8)
            .map(|w| <[u8; 8]>::try_from(w).expect("8 bytes"))
            .collect();
        Haystack { text, windows }
    }

    pub(crate) fn holds(&self, value: &str) -> bool {
        let v = value.as_bytes();
        assert!(v.len() >= 8, "values of 8 bytes or more");
        v.windows(8).all(|w| self.windows.contains(w)) && self.text.contains(value)
    }
}

/// What leaves a holder (its encodings file, and its run manifest) and what the linkage party
/// returns (links, clusters, families, the identification run, each holder's results, the run
/// manifests and reports) hold none of the holder's raw values
/// (names, dates of birth in the extract's own format, postcodes, NHS numbers, local IDs,
/// addresses, household register references) and no run of the secret's bytes; and the encodings rows do not
/// follow the extract's row order.
#[test]
fn nothing_raw_and_nothing_of_the_secret_leaves_a_holder() {
    let dir = Dir::new();
    pipeline(&dir, "2");
    let src = dir.path("src");
    let returned = returned(&dir, "2");
    let back = Haystack::new(returned.clone());
    let mut sent_all = String::new();
    for a in AGENCIES {
        let bytes = std::fs::read(src.join(format!("{a}.csv"))).expect("extract");
        // Windows-1252 (the police) read as Latin-1: the same characters for these names.
        let text: String = bytes.iter().map(|&b| char::from(b)).collect();
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        let sent_text = dir.read(&format!("t2/{a}.kith"));
        // The holder's run manifest too: it names the holder's files, never their contents.
        let manifest = dir.read(&format!("t2/{a}.kith.manifest.json"));
        let sent = Haystack::new(sent_text.clone() + &manifest);
        let (mut checked, mut ids) = (0, Vec::new());
        for row in rows.records() {
            let row = row.expect("row");
            ids.push(row[0].to_owned());
            for field in row.iter() {
                // Values long enough that encoded text (hex and base64) cannot hold them by
                // chance; shorter ones (sex codes, short names) are covered by the longer ones.
                if field.len() >= 8 {
                    checked += 1;
                    assert!(!sent.holds(field), "{a}: {field:?} is in {a}.kith");
                    assert!(!back.holds(field), "{a}: {field:?} came back from linkage");
                } else if field.contains(' ') && field.len() >= 6 {
                    // A short postcode ("LS6 2AB"): encoded text holds no spaces at all.
                    checked += 1;
                    assert!(!sent_text.contains(field), "{a}: {field:?} is in {a}.kith");
                }
            }
        }
        assert!(
            checked > 500 || a == "police",
            "{a}: only {checked} values checked"
        );
        // The check itself finds a value where there is one.
        assert!(Haystack::new(text.clone()).holds(&ids[ids.len() / 2]));
        // Record tokens, not local IDs, and not in the extract's order.
        let map = dir.read(&format!("t2/{a}-map.csv"));
        let local: std::collections::HashMap<&str, &str> = map
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(','))
            .collect();
        let order: Vec<&str> = sent_text
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next())
            .map(|t| local[t])
            .collect();
        assert_eq!(order.len(), ids.len());
        assert_ne!(
            order,
            ids.iter().map(String::as_str).collect::<Vec<_>>(),
            "{a}: rows in input order"
        );
        sent_all.push_str(&sent_text);
    }
    // No 8-byte run of the secret, as text or in hex, anywhere the holders send or get back.
    let everything = Haystack::new(sent_all + &returned);
    let secret = SECRET.as_bytes();
    for w in secret.windows(8) {
        let w = std::str::from_utf8(w).expect("ascii secret");
        assert!(!everything.holds(w), "{w:?} of the secret");
    }
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    for w in hex.as_bytes().windows(16).step_by(2) {
        let w = std::str::from_utf8(w).expect("hex");
        assert!(!everything.holds(w), "{w} of the secret in hex");
    }
}
