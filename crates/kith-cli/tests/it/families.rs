//! `kith families`, `kith split` and `kith reveal` on a synthetic population (the pipeline of
//! `pipeline.rs`), and their errors.

use std::collections::{BTreeMap, BTreeSet};

use crate::pipeline::pipeline;
use crate::util::{Dir, fails, kith, ok, stderr};

const AGENCIES: [&str; 4] = ["council", "health", "police", "school"];

/// Rows of a CSV file as maps from column name to value.
pub(crate) fn rows(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let head: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("row");
            head.iter()
                .cloned()
                .zip(rec.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

#[test]
fn families_split_and_reveal_give_each_holder_only_its_own_records() {
    let dir = Dir::new();
    pipeline(&dir, "2");
    let all = rows(&dir.read("t2/families/families.csv"));
    let run = rows(&dir.read("t2/run/families.csv"));
    // The identification run holds exactly the families meeting two or more criteria.
    let met = |r: &BTreeMap<String, String>| r["criteria_met"].parse::<usize>().expect("number");
    assert!(run.len() > 10, "{} families identified", run.len());
    assert!(run.iter().all(|r| met(r) >= 2));
    assert_eq!(run.len(), all.iter().filter(|r| met(r) >= 2).count());
    // Each criterion column counts the holders that flagged it; criteria_met counts those met.
    for r in &all {
        let counted = [
            "absence",
            "child_in_need",
            "domestic_abuse",
            "health_need",
            "offending",
            "out_of_work",
        ]
        .iter()
        .filter(|c| r[**c] != "0")
        .count();
        assert_eq!(counted, met(r));
    }
    // Every linked record is in exactly one family.
    let clusters = rows(&dir.read("t2/links/clusters.csv"));
    let members = rows(&dir.read("t2/families/members.csv"));
    let key = |r: &BTreeMap<String, String>| (r["source"].clone(), r["token"].clone());
    let in_clusters: BTreeSet<_> = clusters.iter().map(key).collect();
    let in_families: BTreeSet<_> = members.iter().map(key).collect();
    assert_eq!(members.len(), clusters.len());
    assert_eq!(in_clusters, in_families);

    // Each holder's results file holds exactly its records of identified families.
    let run_members = rows(&dir.read("t2/run/members.csv"));
    for a in AGENCIES {
        let text = dir.read(&format!("t2/results/{a}.csv"));
        let got: BTreeSet<String> = rows(&text).iter().map(|r| r["token"].clone()).collect();
        let want: BTreeSet<String> = run_members
            .iter()
            .filter(|r| r["source"] == a)
            .map(|r| r["token"].clone())
            .collect();
        assert_eq!(got, want, "{a}");
        assert_eq!(
            text.lines()
                .next()
                .expect("header")
                .ends_with(",family_criteria"),
            a == "council",
            "only the lead learns which criteria: {a}"
        );
    }

    // From person-level links alone: each holder's records with their entity and how many holders
    // know the entity.
    ok(kith()
        .args(["split", "--quiet", "--links"])
        .arg(dir.path("t2/links"))
        .arg("--output")
        .arg(dir.path("person-results")));
    let holders_of: BTreeMap<&str, BTreeSet<&str>> =
        clusters.iter().fold(BTreeMap::new(), |mut m, r| {
            m.entry(r["entity_id"].as_str())
                .or_default()
                .insert(r["source"].as_str());
            m
        });
    for a in AGENCIES {
        let got = rows(&dir.read(&format!("person-results/{a}.csv")));
        let want: BTreeSet<&str> = clusters
            .iter()
            .filter(|r| r["source"] == a)
            .map(|r| r["token"].as_str())
            .collect();
        assert_eq!(got.len(), want.len(), "{a}");
        for r in &got {
            assert!(want.contains(r["token"].as_str()), "{a}");
            let n: usize = r["agencies"].parse().expect("number");
            assert_eq!(n, holders_of[r["entity_id"].as_str()].len());
        }
    }

    // The council joins its results to its own local IDs.
    ok(kith()
        .args(["reveal", "--map"])
        .arg(dir.path("t2/council-map.csv"))
        .arg("--input")
        .arg(dir.path("t2/results/council.csv"))
        .arg("--output")
        .arg(dir.path("council-identified.csv")));
    let revealed = rows(&dir.read("council-identified.csv"));
    let results = rows(&dir.read("t2/results/council.csv"));
    assert_eq!(revealed.len(), results.len());
    assert!(
        revealed
            .iter()
            .all(|r| r["local_id"].starts_with('C') && !r.contains_key("token"))
    );
    let map = rows(&dir.read("t2/council-map.csv"));
    let local: BTreeMap<&str, &str> = map
        .iter()
        .map(|r| (r["token"].as_str(), r["local_id"].as_str()))
        .collect();
    for (r, x) in results.iter().zip(&revealed) {
        assert_eq!(local[r["token"].as_str()], x["local_id"]);
        assert_eq!(r["family_id"], x["family_id"]);
    }

    // Another holder's map does not fit: an error naming the file, line and token; no output.
    let e = fails(
        kith()
            .args(["reveal", "--map"])
            .arg(dir.path("t2/health-map.csv"))
            .arg("--input")
            .arg(dir.path("t2/results/council.csv"))
            .arg("--output")
            .arg(dir.path("wrong.csv")),
    );
    assert!(
        e.contains("council.csv: line 2: token") && e.contains("is not in your map"),
        "{e}"
    );
    assert!(!dir.path("wrong.csv").exists());
}

/// The families found agree with the synthetic households: scored by `kith evaluate` against the
/// truth in record tokens.
#[test]
fn families_meeting_two_criteria_are_found() {
    let dir = Dir::new();
    pipeline(&dir, "2");
    let mut token_of: BTreeMap<(String, String), String> = BTreeMap::new();
    for a in AGENCIES {
        for r in rows(&dir.read(&format!("t2/{a}-map.csv"))) {
            token_of.insert((a.to_owned(), r["local_id"].clone()), r["token"].clone());
        }
    }
    let mut truth = String::from("source,token,entity,household,criteria\n");
    for r in rows(&dir.read("src/truth-local.csv")) {
        let t = &token_of[&(r["source"].clone(), r["local_id"].clone())];
        truth.push_str(&format!(
            "{},{t},{},{},{}\n",
            r["source"], r["person"], r["household"], r["criteria"]
        ));
    }
    std::fs::write(dir.path("truth.csv"), truth).expect("write");
    let o = ok(kith()
        .args(["evaluate", "--truth"])
        .arg(dir.path("truth.csv"))
        .arg("--families")
        .arg(dir.path("t2/families")));
    let out = String::from_utf8(o.stdout).expect("utf8");
    let score = |name: &str, what: &str| -> f64 {
        let line = out.lines().find(|l| l.starts_with(name)).expect(name);
        let at = line.find(what).expect(what) + what.len();
        line[at..]
            .split_whitespace()
            .next()
            .expect("number")
            .parse()
            .expect("number")
    };
    for what in ["precision ", "recall "] {
        assert!(score("families", what) > 0.93, "{out}");
        assert!(score(">=2 criteria", what) > 0.9, "{out}");
    }
    // The identification run holds only some families: scoring it would mislead, so it is refused.
    let o = kith()
        .args(["evaluate", "--truth"])
        .arg(dir.path("truth.csv"))
        .arg("--families")
        .arg(dir.path("t2/run"))
        .output()
        .expect("run");
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("without --min-criteria"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn families_refuse_files_that_were_not_linked_together() {
    let dir = Dir::new();
    pipeline(&dir, "1");
    let t = dir.path("t1");
    let families = |agencies: &[&str], links: std::path::PathBuf| {
        let mut c = kith();
        c.arg("families");
        for a in agencies {
            c.arg(t.join(format!("{a}.kith")));
        }
        c.arg("--links")
            .arg(links)
            .arg("--output")
            .arg(dir.path("out"));
        c
    };
    // Three of the four linked files.
    let e = fails(&mut families(&AGENCIES[..3], t.join("links")));
    assert!(e.contains("give every file that was linked"), "{e}");
    assert!(!dir.path("out/families.csv").exists());
    // A clusters file with a broken token: the file and line are named.
    let clusters = dir.read("t1/links/clusters.csv");
    let mut lines: Vec<&str> = clusters.lines().collect();
    let broken = lines[3].replacen(',', ",zz", 1);
    lines[3] = &broken;
    std::fs::write(dir.path("bad-clusters.csv"), lines.join("\n") + "\n").expect("write");
    let e = fails(&mut families(&AGENCIES, dir.path("bad-clusters.csv")));
    assert!(e.contains("bad-clusters.csv: line 4: field token"), "{e}");
    assert!(!dir.path("out/families.csv").exists());
}

/// With address lines at the council only, people known only to health, the police or a school
/// have no dwelling; the postcode and surname place some of them in their family, which
/// `--dwellings-only` does not do. By default only people with a criterion are placed so;
/// `--by-postcode everyone` places more, and a stricter `--area-chance` fewer.
#[test]
fn people_without_an_address_line_reach_their_family_by_postcode_and_surname() {
    let dir = Dir::new();
    let src = dir.path("src");
    ok(kith()
        .args([
            "synth",
            "--quiet",
            "--people",
            "1500",
            "--seed",
            "9",
            "--addresses",
            "council",
            "--output",
        ])
        .arg(&src));
    for a in AGENCIES {
        let mut c =
            crate::util::encode_cmd(&dir, &src.join(format!("{a}.csv")), &format!("{a}.kith"));
        c.arg("--mapping")
            .arg(src.join(format!("{a}-mapping.json")));
        if a == "police" {
            c.args(["--encoding", "windows-1252"]);
        }
        ok(&mut c);
    }
    let mut link = kith();
    link.args(["link", "--quiet", "--dedupe", "--output"])
        .arg(dir.path("links"));
    for a in AGENCIES {
        link.arg(dir.path(&format!("{a}.kith")));
    }
    ok(&mut link);
    let families = |out: &str, extra: &[&str]| {
        let mut c = kith();
        c.arg("families");
        for a in AGENCIES {
            c.arg(dir.path(&format!("{a}.kith")));
        }
        let o = ok(c
            .arg("--links")
            .arg(dir.path("links"))
            .arg("--output")
            .arg(dir.path(out))
            .args(extra));
        let said = stderr(&o);
        assert_eq!(
            said.contains("with no dwelling at all and with a criterion"),
            !extra.contains(&"everyone") && !extra.contains(&"--dwellings-only"),
            "{said}"
        );
        let placed = said
            .lines()
            .find_map(|l| l.split("in their postcode): ").nth(1))
            .map(|n| n.trim().parse::<usize>().expect("a number"));
        (
            placed,
            rows(&dir.read(&format!("{out}/families.csv"))).len(),
        )
    };
    let (Some(placed), with) = families("with", &["--by-postcode", "everyone"]) else {
        panic!("no count of people placed by postcode and surname");
    };
    let (none, without) = families("without", &["--dwellings-only"]);
    let (strict, _) = families(
        "strict",
        &["--by-postcode", "everyone", "--area-chance", "0.05"],
    );
    let (Some(flagged), _) = families("flagged", &[]) else {
        panic!("no count of people placed by postcode and surname");
    };
    assert!(placed > 20, "{placed} placed by postcode and surname");
    assert_eq!(none, None, "--dwellings-only places no one by postcode");
    let strict = strict.unwrap_or(0);
    assert!(
        0 < strict && strict < placed,
        "{strict} placed at chance 0.05, {placed} at 0.2"
    );
    assert!(
        0 < flagged && flagged < placed,
        "{flagged} people with a criterion placed by default, {placed} in all"
    );
    assert!(
        with < without,
        "{with} families, {without} by dwellings only"
    );
    let mut c = kith();
    c.arg("families");
    for a in AGENCIES {
        c.arg(dir.path(&format!("{a}.kith")));
    }
    c.arg("--links").arg(dir.path("links")).arg("--output");
    let e = fails(c.arg(dir.path("bad")).args(["--area-chance", "1.5"]));
    assert!(e.contains("--area-chance must be from 0 to 1"), "{e}");
    assert!(!dir.path("bad").exists());
}

/// Encodings without household tokens would make every person a family of one: `kith families`
/// refuses them, saying why, and with `--allow-no-households` warns and groups them anyway.
#[test]
fn families_refuse_encodings_without_household_tokens() {
    let dir = Dir::new();
    let mut schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::util::demo("schema.json")).expect("schema"),
    )
    .expect("json");
    let kith_section = schema["kith"].as_object_mut().expect("kith section");
    kith_section.remove("household");
    let schema = dir.write("no-households.json", schema.to_string());
    ok(crate::util::encode_with_schema(
        &dir,
        &schema,
        &crate::util::demo("council.csv"),
        "council.kith",
    )
    .args(["--quiet", "--id-column", "person_id"]));
    ok(kith()
        .args(["link", "--quiet", "--dedupe"])
        .arg(dir.path("council.kith"))
        .arg("--output")
        .arg(dir.path("links")));
    let families = |extra: &[&str]| {
        let mut c = kith();
        c.arg("families")
            .arg(dir.path("council.kith"))
            .arg("--links")
            .arg(dir.path("links"))
            .arg("--output")
            .arg(dir.path("out"))
            .args(extra);
        c
    };
    let e = fails(&mut families(&[]));
    assert!(
        e.contains("none of the encodings files carries household tokens")
            && e.contains("--allow-no-households"),
        "{e}"
    );
    assert!(!dir.path("out/families.csv").exists());
    let o = ok(&mut families(&["--allow-no-households"]));
    assert!(
        stderr(&o).contains("warning: none of the encodings files carries household tokens"),
        "{}",
        stderr(&o)
    );
    assert!(dir.path("out/families.csv").exists());
}

/// `kith split` refuses an unknown lead and a members file that does not fit its families file,
/// naming the file and line, and writes nothing.
#[test]
fn split_refuses_inconsistent_results_and_writes_nothing() {
    let dir = Dir::new();
    pipeline(&dir, "1");
    let run = dir.path("t1/run");
    let e = fails(
        kith()
            .args(["split", "--criteria-to", "nobody", "--families"])
            .arg(&run)
            .arg("--output")
            .arg(dir.path("out")),
    );
    assert!(e.contains("--criteria-to nobody"), "{e}");
    assert!(!dir.path("out/council.csv").exists());
    // A members file whose third row names a family the families file does not have.
    std::fs::create_dir_all(dir.path("bad")).expect("folder");
    std::fs::copy(run.join("families.csv"), dir.path("bad/families.csv")).expect("copy");
    let members = dir.read("t1/run/members.csv");
    let mut lines: Vec<String> = members.lines().map(String::from).collect();
    lines[3] = format!("ffffffffffffffff{}", &lines[3][16..]);
    std::fs::write(dir.path("bad/members.csv"), lines.join("\n") + "\n").expect("write");
    let e = fails(
        kith()
            .args(["split", "--families"])
            .arg(dir.path("bad"))
            .arg("--output")
            .arg(dir.path("out")),
    );
    assert!(
        e.contains("members.csv: line 4: family ffffffffffffffff is not in"),
        "{e}"
    );
    assert!(!dir.path("out/council.csv").exists());
    let split_bad = || {
        let mut c = kith();
        c.args(["split", "--families"])
            .arg(dir.path("bad"))
            .arg("--output")
            .arg(dir.path("out"));
        c
    };
    // The same file re-saved with `\r\n` endings and a blank line after the header: the line named
    // is still the row's own.
    let mut crlf = lines.clone();
    crlf.insert(1, String::new());
    std::fs::write(dir.path("bad/members.csv"), crlf.join("\r\n") + "\r\n").expect("write");
    let e = fails(&mut split_bad());
    assert!(
        e.contains("members.csv: line 5: family ffffffffffffffff is not in"),
        "{e}"
    );
    // A row cut short, before that one.
    let mut short = lines.clone();
    short[2] = short[2].rsplit_once(',').expect("fields").0.to_owned();
    std::fs::write(dir.path("bad/members.csv"), short.join("\n") + "\n").expect("write");
    let e = fails(&mut split_bad());
    assert!(
        e.contains("members.csv: line 3: the row has 3 fields but the header has 4"),
        "{e}"
    );
    // A row that is not UTF-8: its line and field are named.
    let mut bytes = lines[..3].join("\n").into_bytes();
    bytes.extend_from_slice(b"\nab\xff,x,council,y\n");
    std::fs::write(dir.path("bad/members.csv"), bytes).expect("write");
    let e = fails(&mut split_bad());
    assert!(
        e.contains("members.csv: line 4: field 1: not valid UTF-8"),
        "{e}"
    );
    assert!(!dir.path("out/council.csv").exists());
}
