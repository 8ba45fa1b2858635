//! `kith patterns`: aggregate tables from the pipeline's families run, with no count under the
//! threshold published or recoverable from a table's total, totals that agree with the run, and
//! a manifest `kith verify-run` accepts.

use std::collections::BTreeMap;

use crate::families::rows;
use crate::pipeline::{PATTERNS, pipeline};
use crate::util::{Dir, fails, kith, ok, read_encodings};

/// A table as rows of fields.
fn table(dir: &Dir, path: &str) -> Vec<Vec<String>> {
    dir.read(path)
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

fn small(n: u64) -> bool {
    (1..10).contains(&n)
}

#[test]
fn patterns_publish_no_small_count_and_no_total_gives_one_back() {
    let dir = Dir::new();
    pipeline(&dir, "2");
    let manifest: serde_json::Value =
        serde_json::from_str(&dir.read("t2/families/manifest.json")).expect("json");
    let families = manifest["counts"]["families"].as_u64().expect("families");
    let people = manifest["counts"]["people"].as_u64().expect("people");
    let mut suppressed = 0;
    for name in PATTERNS {
        let rows = table(&dir, &format!("t2/patterns/{name}.csv"));
        let (head, body) = rows.split_first().expect("a header");
        assert_eq!(
            head.last().map(String::as_str),
            Some(if name.starts_with("people") {
                "people"
            } else {
                "families"
            })
        );
        let mut published = 0;
        let mut total = None;
        for r in body {
            let cell = r.last().expect("a count");
            if cell == "[c]" {
                suppressed += 1;
                continue;
            }
            let n: u64 = cell.parse().expect("a count or [c]");
            assert!(!small(n), "{name}: {r:?}");
            // Rows of combinations add up to the last row (the criteria table's subtotals and
            // total are checked against their groups below).
            if r[0] == "all" {
                total = Some(n);
            } else if r.get(1).is_none_or(|c| c != "all") {
                published += n;
            }
        }
        let total = total.expect("a total row");
        assert_eq!(
            total,
            if name.starts_with("people") {
                people
            } else {
                families
            }
        );
        assert!(
            !small(total - published),
            "{name}: the total less the published rows is {}",
            total - published
        );
    }
    assert!(
        suppressed > 0,
        "the pipeline's tables have small counts to suppress"
    );
    // Each group of criteria met: its subtotal less its published rows is not small either.
    let rows = table(&dir, "t2/patterns/families_by_criteria.csv");
    for group in ["0", "1", "2", "3 or more"] {
        let in_group: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == group).collect();
        let Some(sub) = in_group.iter().find(|r| r[1] == "all") else {
            continue;
        };
        if let Ok(sub) = sub[2].parse::<u64>() {
            let published: u64 = in_group
                .iter()
                .filter(|r| r[1] != "all")
                .filter_map(|r| r[2].parse::<u64>().ok())
                .sum();
            assert!(!small(sub - published), "group {group}");
        }
    }
    let o = ok(kith().arg("verify-run").arg(dir.path("t2/patterns")));
    assert!(o.status.success());
}

#[test]
fn patterns_round_and_refuse_a_zero_threshold() {
    let dir = Dir::new();
    pipeline(&dir, "2");
    ok(kith()
        .args(["patterns", "--quiet", "--round", "5"])
        .arg(dir.path("t2/families"))
        .arg("--output")
        .arg(dir.path("rounded")));
    for r in table(&dir, "rounded/people_by_agencies.csv").iter().skip(1) {
        let cell = &r[1];
        assert!(
            cell == "[c]" || cell.parse::<u64>().expect("a count") % 5 == 0,
            "{r:?}"
        );
    }
    let err = fails(
        kith()
            .args(["patterns", "--threshold", "0"])
            .arg(dir.path("t2/families"))
            .arg("--output")
            .arg(dir.path("none")),
    );
    assert!(err.contains("--threshold must be at least 1"), "{err}");
    let err = fails(
        kith()
            .arg("patterns")
            .arg(dir.path("t2/links"))
            .arg("--output")
            .arg(dir.path("none")),
    );
    assert!(err.contains("not of kith families"), "{err}");
    assert!(!dir.path("none").exists());
}

#[test]
fn each_family_gets_the_area_most_of_its_records_give() {
    let dir = Dir::new();
    pipeline(&dir, "2");
    // Each record's district, as its holder sent it.
    let mut area_of: BTreeMap<(String, String), String> = BTreeMap::new();
    for a in ["council", "health", "police", "school"] {
        let enc = read_encodings(&dir.read(&format!("t2/{a}.kith")));
        let col = enc.header["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .position(|c| c == "area:district")
            .expect("an area column");
        for r in &enc.rows {
            area_of.insert((a.to_owned(), r[0].clone()), r[col].clone());
        }
    }
    let mut counts: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for m in rows(&dir.read("t2/families/members.csv")) {
        let area = &area_of[&(m["source"].clone(), m["token"].clone())];
        if !area.is_empty() {
            *counts
                .entry(m["family_id"].clone())
                .or_default()
                .entry(area.clone())
                .or_default() += 1;
        }
    }
    let families = rows(&dir.read("t2/families/families.csv"));
    let mut with_area = 0;
    for f in &families {
        let want = counts.get(&f["family_id"]).map_or(String::new(), |c| {
            let best = c.values().max().copied().unwrap_or(0);
            c.iter()
                .find(|(_, n)| **n == best)
                .map(|(a, _)| a.clone())
                .unwrap_or_default()
        });
        assert_eq!(f["area:district"], want, "family {}", f["family_id"]);
        with_area += usize::from(!want.is_empty());
    }
    assert!(
        with_area * 10 > families.len() * 9,
        "{with_area} of {}",
        families.len()
    );
    // The area table has a row per family area ("none" for families with none), then "all".
    let mut want: std::collections::BTreeSet<String> = families
        .iter()
        .map(|f| match f["area:district"].as_str() {
            "" => "none".to_owned(),
            a => a.to_owned(),
        })
        .collect();
    want.insert("all".to_owned());
    let got: std::collections::BTreeSet<String> = table(&dir, "t2/patterns/families_by_area.csv")
        .into_iter()
        .skip(1)
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(got, want);
}
