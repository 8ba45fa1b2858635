//! `kith explain`: a pair's evidence from the run's own model and encodings gives the probability
//! the run gave it; it refuses encodings changed since the run; a holder turns local IDs into
//! tokens with its map.

use crate::pipeline::pipeline;
use crate::util::{Dir, fails, kith, ok};

fn explain_row(links: &std::path::Path, row: &str) -> String {
    let o = ok(kith()
        .arg("explain")
        .arg("--links")
        .arg(links)
        .args(["--row", row]));
    String::from_utf8(o.stdout).expect("utf-8")
}

#[test]
fn explain_gives_each_pair_the_probability_the_run_gave_it() {
    let dir = Dir::new();
    pipeline(&dir, "2");
    let links = dir.path("t2/links");
    // Pairs within one source keep the model's probability (the one-partner view is for pairs
    // across sources), so the waterfall must end on the file's score exactly.
    let mut checked = 0;
    for file in ["links.csv", "review.csv"] {
        let text = dir.read(&format!("t2/links/{file}"));
        for row in text.lines().skip(1) {
            let f: Vec<&str> = row.split(',').collect();
            if f[0] != f[2] || checked >= 25 {
                continue;
            }
            let said = explain_row(&links, row);
            assert!(
                said.contains(&format!("match probability {}", f[4])),
                "{row}: {said}"
            );
            let outcome = if file == "links.csv" {
                "linked"
            } else {
                "listed for review"
            };
            assert!(said.contains(&format!("outcome: {outcome}")), "{said}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} pairs within one source");
    // A pair across sources: every field of the model has a line, and the running total ends on
    // the weight the probability is computed from.
    let text = dir.read("t2/links/links.csv");
    let row = text
        .lines()
        .skip(1)
        .find(|r| {
            let f: Vec<&str> = r.split(',').collect();
            f[0] != f[2]
        })
        .expect("a link across sources");
    let said = explain_row(&links, row);
    for field in [
        "dob.year",
        "given_name",
        "surname",
        "postcode",
        "term frequency",
    ] {
        assert!(said.contains(field), "{field}: {said}");
    }
    assert!(said.contains("outcome: linked"), "{said}");
    // Tokens given bare find the same pair.
    let f: Vec<&str> = row.split(',').collect();
    let o = ok(kith()
        .arg("explain")
        .arg("--links")
        .arg(&links)
        .args([f[1], f[3]]));
    assert_eq!(String::from_utf8_lossy(&o.stdout), said);
}

#[test]
fn explain_refuses_encodings_changed_since_the_run_and_unknown_tokens() {
    let dir = Dir::new();
    pipeline(&dir, "1");
    let links = dir.path("t1/links");
    let row = dir
        .read("t1/links/links.csv")
        .lines()
        .nth(1)
        .expect("a link")
        .to_owned();
    let f: Vec<&str> = row.split(',').collect();
    let err = fails(
        kith()
            .arg("explain")
            .arg("--links")
            .arg(&links)
            .args([f[1], "0".repeat(32).as_str()]),
    );
    assert!(err.contains("no record 0000"), "{err}");
    let school = dir.path("t1/school.kith");
    let mut bytes = std::fs::read(&school).expect("encodings");
    bytes.extend_from_slice(b"\n");
    std::fs::write(&school, bytes).expect("write");
    let err = fails(
        kith()
            .arg("explain")
            .arg("--links")
            .arg(&links)
            .args(["--row", &row]),
    );
    assert!(err.contains("has changed since the run"), "{err}");
}

#[test]
fn a_holder_turns_its_local_ids_into_tokens_with_its_map() {
    let dir = Dir::new();
    pipeline(&dir, "1");
    let map = dir.path("t1/council-map.csv");
    let line = dir
        .read("t1/council-map.csv")
        .lines()
        .nth(3)
        .expect("a row")
        .to_owned();
    let (token, id) = line.split_once(',').expect("token,local_id");
    let o = ok(kith().arg("explain").arg("--map").arg(&map).arg(id));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("{id}\t{token}\n")
    );
    let err = fails(
        kith()
            .arg("explain")
            .arg("--map")
            .arg(&map)
            .arg("no-such-id"),
    );
    assert!(err.contains("not in your map"), "{err}");
}

#[test]
fn a_pair_of_a_clk_scored_run_is_explained_by_its_dice() {
    let dir = Dir::new();
    pipeline(&dir, "1");
    let out = dir.path("clk");
    // Into a folder an earlier field-scored run left its model and review band in: they are not
    // this run's, and neither explain nor the report may use them.
    std::fs::create_dir_all(&out).expect("folder");
    for f in ["model.json", "review.csv"] {
        std::fs::copy(dir.path(&format!("t1/links/{f}")), out.join(f)).expect("copy");
    }
    ok(kith()
        .args(["link", "--quiet", "--scoring", "clk", "--threshold", "0.8"])
        .arg(dir.path("t1/council.kith"))
        .arg(dir.path("t1/health.kith"))
        .arg("--output")
        .arg(&out));
    let row = std::fs::read_to_string(out.join("links.csv"))
        .expect("links")
        .lines()
        .nth(1)
        .expect("a link")
        .to_owned();
    let score = row.rsplit(',').next().expect("score");
    let said = explain_row(&out, &row);
    assert!(
        said.contains(&format!(
            "CLK Dice {score} against the run's threshold 0.80: at or above"
        )),
        "{said}"
    );
    assert!(said.contains("outcome: linked"), "{said}");
    let report = out.join("report.html");
    ok(kith().arg("report").arg(&out).arg("--output").arg(&report));
    let html = std::fs::read_to_string(&report).expect("report");
    assert!(
        !html.contains("id=\"model\"") && !html.contains("review band"),
        "a stale file was read"
    );
}
