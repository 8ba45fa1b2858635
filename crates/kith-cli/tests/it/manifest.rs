//! Run manifests: every output folder of link, families and split holds `manifest.json`, and every
//! encodings file a `FILE.manifest.json`, naming each file by SHA-256 with its recipient; `kith
//! verify-run` accepts them as written and refuses them once a file has changed.

use sha2::{Digest, Sha256};

use crate::pipeline::pipeline;
use crate::util::{Dir, fails, kith, ok};

const AGENCIES: [&str; 4] = ["council", "health", "police", "school"];

fn sha256(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).expect("file");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn manifest(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("manifest written");
    serde_json::from_str(&text).expect("manifest is JSON")
}

/// Each entry's file (outputs relative to the manifest's folder) has the recorded hash and size.
fn check_entries(m: &serde_json::Value, dir: &std::path::Path, kind: &str) -> usize {
    let entries = m[kind].as_array().expect("a list of files");
    for e in entries {
        let p = std::path::Path::new(e["path"].as_str().expect("path"));
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            dir.join(p)
        };
        assert_eq!(
            e["sha256"].as_str(),
            Some(sha256(&p).as_str()),
            "{}",
            p.display()
        );
        let size = std::fs::metadata(&p).expect("file").len();
        assert_eq!(e["bytes"].as_u64(), Some(size), "{}", p.display());
        if kind == "outputs" {
            assert!(
                e["recipient"].as_str().is_some_and(|r| !r.is_empty()),
                "{}: no recipient",
                p.display()
            );
        }
    }
    entries.len()
}

#[test]
fn every_run_records_its_files_by_hash_and_verify_run_accepts_them() {
    let dir = Dir::new();
    pipeline(&dir, "2");
    let out = dir.path("t2");
    for a in AGENCIES {
        let at = out.join(format!("{a}.kith.manifest.json"));
        let m = manifest(&at);
        assert_eq!(m["command"], "encode");
        assert_eq!(m["parameters"]["party"], a);
        // The extract, the schema and the mapping in; the encodings and the map out.
        assert_eq!(check_entries(&m, &out, "inputs"), 3, "{a}");
        assert_eq!(check_entries(&m, &out, "outputs"), 2, "{a}");
        let written = m["counts"]["records_written"].as_u64().expect("count");
        let lines = std::fs::read_to_string(out.join(format!("{a}.kith")))
            .expect("encodings")
            .lines()
            .count() as u64;
        assert_eq!(
            written + 1,
            lines,
            "{a}: records written and the file's rows"
        );
        assert!(
            m["schema"]["key_check"]
                .as_str()
                .is_some_and(|k| k.len() == 16)
        );
        ok(kith().arg("verify-run").arg(&at));
    }
    for (folder, command, outputs) in [
        ("links", "link", 4),
        ("families", "families", 2),
        ("run", "families", 2),
        ("results", "split", 4),
    ] {
        let d = out.join(folder);
        let m = manifest(&d.join("manifest.json"));
        assert_eq!(m["command"], command);
        assert_eq!(check_entries(&m, &d, "outputs"), outputs, "{folder}");
        assert!(check_entries(&m, &d, "inputs") > 0, "{folder}");
        ok(kith().arg("verify-run").arg(&d));
    }
    let links = manifest(&out.join("links/manifest.json"));
    let rows = dir.read("t2/links/links.csv").lines().count() as u64 - 1;
    assert_eq!(links["counts"]["links"].as_u64(), Some(rows));
    assert_eq!(
        links["schema"]["key_checks"].as_array().map(Vec::len),
        Some(1)
    );
    let results = manifest(&out.join("results/manifest.json"));
    let to: Vec<&str> = results["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .filter_map(|e| e["recipient"].as_str())
        .collect();
    assert_eq!(to, AGENCIES.map(|a| format!("holder {a} only")).to_vec());
}

#[test]
fn verify_run_refuses_a_changed_or_missing_output() {
    let dir = Dir::new();
    pipeline(&dir, "1");
    let links = dir.path("t1/links");
    ok(kith().arg("verify-run").arg(&links));
    let path = links.join("links.csv");
    let text = std::fs::read_to_string(&path).expect("links");
    std::fs::write(&path, text.replacen(',', ";", 1)).expect("edit");
    let err = fails(kith().arg("verify-run").arg(&links));
    assert!(err.contains("differ"), "{err}");
    std::fs::remove_file(links.join("clusters.csv")).expect("remove");
    let o = kith().arg("verify-run").arg(&links).output().expect("runs");
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success());
    assert!(said.contains("links.csv (links): CHANGED"), "{said}");
    assert!(said.contains("clusters.csv (clusters): MISSING"), "{said}");
    // An input that is gone is reported, not failed: a holder's extract may rightly be deleted.
    let enc = dir.path("t1/police.kith.manifest.json");
    std::fs::remove_file(dir.path("src/police.csv")).expect("remove");
    let o = ok(kith().arg("verify-run").arg(&enc));
    assert!(String::from_utf8_lossy(&o.stdout).contains("not found here"));
}
