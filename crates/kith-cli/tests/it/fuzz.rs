//! Replays every input kept in `fuzz/regressions/<target>/` (what `fuzz/run.sh` found) through the
//! same entry point the fuzz target calls, so that a crash fixed once stays fixed; and checks that
//! the entry points still accept good input (the repository's fixtures), so that a parser that
//! refused everything would not pass for one that never crashes.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kept(target: &str) -> Vec<PathBuf> {
    let dir = root().join("fuzz/regressions").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.file_name().is_some_and(|n| n != ".keep"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn kept_fuzzing_inputs_are_handled() {
    for p in kept("schema") {
        kith::fuzzing::schema(&read(&p));
    }
    for p in kept("encodings") {
        kith::fuzzing::encodings(&read(&p));
    }
    for p in kept("extract") {
        kith::fuzzing::extract(&read(&p));
    }
}

#[test]
fn the_entry_points_accept_good_input() {
    let demo = read(&root().join("fixtures/demo/schema.json"));
    assert!(kith::fuzzing::schema(&demo));
    assert!(!kith::fuzzing::schema(b"{\"version\": 3"));
    let golden = read(&root().join("fixtures/golden/council.kith"));
    let records = golden.iter().filter(|&&b| b == b'\n').count() - 1;
    assert_eq!(kith::fuzzing::encodings(&golden), Some(records));
    assert_eq!(kith::fuzzing::encodings(&golden[..golden.len() - 5]), None);
    // given_name, surname, dob, sex, postcode; nhs_number; local ID.
    let rows =
        b"Ann,Smith,14/03/1984,F,LS6 2AB,943 476 5919,C1\nBob,Jones,1990-01-05,M,M14 5RT,,C2\n";
    assert_eq!(kith::fuzzing::extract(rows), 2);
}
