//! The errors people make when they type identities do not sink a match, and the people who look
//! alike (twins, siblings, a parent and child of one name) are not linked. Test records with one
//! error each are added to a synthetic council and health extract (for the model to be fitted on a
//! population), encoded with the demo schema and linked with the defaults; each pair is checked in
//! clusters.csv.

use std::collections::BTreeMap;

use crate::util::{Dir, SECRET, demo, kith, ok};

/// One test person: the council's row and the health service's row. Council:
/// `forename, surname, dob (DD/MM/YYYY), sex (Male/Female), postcode`; health:
/// `given, family, birth_date (YYYY-MM-DD), sex_code (1/2), post_code`.
struct Case {
    what: &'static str,
    council: [&'static str; 5],
    health: [&'static str; 5],
    /// True when the two rows are one person.
    same: bool,
}

const CASES: &[Case] = &[
    Case {
        what: "a year of birth one out",
        council: [
            "Ottoline",
            "Quarrington",
            "17/03/1984",
            "Female",
            "YO17 9QT",
        ],
        health: ["Ottoline", "Quarrington", "1985-03-17", "2", "YO17 9QT"],
        same: true,
    },
    Case {
        what: "day and month swapped",
        council: ["Barnaby", "Wendlebury", "04/07/1990", "Male", "DN21 4RT"],
        health: ["Barnaby", "Wendlebury", "1990-04-07", "1", "DN21 4RT"],
        same: true,
    },
    Case {
        what: "a missing date of birth",
        council: ["Cressida", "Pettigrove", "22/11/1975", "Female", "TR18 2EJ"],
        health: ["Cressida", "Pettigrove", "", "2", "TR18 2EJ"],
        same: true,
    },
    Case {
        what: "a changed surname (married)",
        council: ["Imogen", "Lancefield", "09/05/1988", "Female", "HX7 5PL"],
        health: ["Imogen", "Ormeshaw", "1988-05-09", "2", "HX7 5PL"],
        same: true,
    },
    Case {
        what: "an alternative surname (Kaur for the family name)",
        council: ["Harpreet", "Sandhu", "30/01/1979", "Female", "LE4 7GH"],
        health: ["Harpreet", "Kaur", "1979-01-30", "2", "LE4 7GH"],
        same: true,
    },
    Case {
        what: "a stale postcode (moved house)",
        council: ["Peregrine", "Blakiston", "12/12/1962", "Male", "CA12 5DU"],
        health: ["Peregrine", "Blakiston", "1962-12-12", "1", "LS6 2AB"],
        same: true,
    },
    Case {
        what: "a missing postcode and sex",
        council: ["Wilfreda", "Tredinnick", "03/08/1957", "Female", "PL26 8XR"],
        health: ["Wilfreda", "Tredinnick", "1957-08-03", "", ""],
        same: true,
    },
    Case {
        what: "a middle name in the forename field",
        council: [
            "Jocasta Mary",
            "Vellacott",
            "25/02/2001",
            "Female",
            "EX39 1AB",
        ],
        health: ["Jocasta", "Vellacott", "2001-02-25", "2", "EX39 1AB"],
        same: true,
    },
    Case {
        what: "a nickname",
        council: ["William", "Arbuthnott", "14/06/1970", "Male", "AB51 0QX"],
        health: ["Bill", "Arbuthnott", "1970-06-14", "1", "AB51 0QX"],
        same: true,
    },
    Case {
        what: "twins, a girl and a boy, one known to each holder",
        council: [
            "Rosalind",
            "Featherstonehaugh",
            "08/10/2015",
            "Female",
            "BA2 4QP",
        ],
        health: [
            "Sebastian",
            "Featherstonehaugh",
            "2015-10-08",
            "1",
            "BA2 4QP",
        ],
        same: false,
    },
    // Twin sisters each known to one holder only are not told apart from one girl whose
    // forename one holder has wrong: the linkage issue's notes say so.
    // Twins with similar names, both known to both holders: each links to herself, not to her
    // sister (checked below).
    Case {
        what: "a twin, Sophie",
        council: ["Sophie", "Cholmondeley", "19/04/2012", "Female", "GL7 1RT"],
        health: ["Sophie", "Cholmondeley", "2012-04-19", "2", "GL7 1RT"],
        same: true,
    },
    Case {
        what: "her twin, Sophia",
        council: ["Sophia", "Cholmondeley", "19/04/2012", "Female", "GL7 1RT"],
        health: ["Sophia", "Cholmondeley", "2012-04-19", "2", "GL7 1RT"],
        same: true,
    },
    Case {
        what: "siblings",
        council: ["Amelia", "Fotheringham", "02/03/2009", "Female", "NR21 8PE"],
        health: ["Oliver", "Fotheringham", "2011-09-27", "1", "NR21 8PE"],
        same: false,
    },
    Case {
        what: "a parent and child of one name",
        council: [
            "Jonathan",
            "Postlethwaite",
            "11/01/1961",
            "Male",
            "LA22 9HJ",
        ],
        health: ["Jonathan", "Postlethwaite", "1993-07-23", "1", "LA22 9HJ"],
        same: false,
    },
];

#[test]
fn errors_people_make_still_link_and_people_who_look_alike_do_not() {
    let dir = Dir::new();
    ok(kith()
        .args([
            "--quiet", "synth", "--people", "3000", "--seed", "5", "--output",
        ])
        .arg(dir.path("src")));
    // The test rows, appended to the extracts: council rows C9000…, health rows H9000….
    let mut council = dir.read("src/council.csv");
    let mut health = dir.read("src/health.csv");
    for (n, c) in CASES.iter().enumerate() {
        let [f, s, d, x, p] = c.council;
        council.push_str(&format!("C9{n:06},{f},{s},{d},{x},,{p},,,,\n"));
        let [f, s, d, x, p] = c.health;
        health.push_str(&format!("H9{n:06},{f},{s},{d},{x},,{p},,0\n"));
    }
    dir.write("src/council.csv", council);
    dir.write("src/health.csv", health);
    for s in ["council", "health"] {
        ok(kith()
            .args(["encode", "--quiet", "--schema"])
            .arg(demo("schema.json"))
            .arg("--mapping")
            .arg(dir.path(&format!("src/{s}-mapping.json")))
            .arg("--input")
            .arg(dir.path(&format!("src/{s}.csv")))
            .arg("--output")
            .arg(dir.path(&format!("{s}.kith")))
            .arg("--keep-map")
            .arg(dir.path(&format!("{s}-map.csv")))
            .env("KITH_SECRET", SECRET));
    }
    ok(kith()
        .args(["link", "--quiet"])
        .arg(dir.path("council.kith"))
        .arg(dir.path("health.kith"))
        .arg("--output")
        .arg(dir.path("out")));
    // Local ID → entity, through each holder's map of tokens.
    let mut token_to_id: BTreeMap<(String, String), String> = BTreeMap::new();
    for s in ["council", "health"] {
        for line in dir.read(&format!("{s}-map.csv")).lines().skip(1) {
            let (token, id) = line.split_once(',').expect("token,local_id");
            token_to_id.insert((s.to_owned(), token.to_owned()), id.to_owned());
        }
    }
    let mut entity: BTreeMap<String, String> = BTreeMap::new();
    for line in dir.read("out/clusters.csv").lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let id = &token_to_id[&(f[0].to_owned(), f[1].to_owned())];
        entity.insert(id.clone(), f[2].to_owned());
    }
    let mut wrong = Vec::new();
    for (n, c) in CASES.iter().enumerate() {
        let linked = entity[&format!("C9{n:06}")] == entity[&format!("H9{n:06}")];
        if linked != c.same {
            wrong.push(format!(
                "{}: {}",
                c.what,
                if c.same { "not linked" } else { "linked" }
            ));
        }
    }
    let twin = |name: &str| {
        let n = CASES
            .iter()
            .position(|c| c.council[0] == name)
            .expect("case");
        (
            entity[&format!("C9{n:06}")].clone(),
            entity[&format!("H9{n:06}")].clone(),
        )
    };
    let (sophie, sophia) = (twin("Sophie"), twin("Sophia"));
    if sophie.0 == sophia.0 || sophie.0 == sophia.1 || sophie.1 == sophia.0 {
        wrong.push("twins with similar forenames: linked to each other".to_owned());
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
