//! A proposed column mapping, from an extract's header and a sample of its values, for the holder
//! to check (`kith mapping`).
//!
//! Each of the schema's features and keyed inputs is matched to at most one column, each column to
//! at most one of them, best evidence first. Evidence is the header (the name itself or a common UK
//! name for it: `forename`, `family`, `birth_date`, `gender`, `post_code`, `nhs`) and the values:
//! the share of the sample that the input's normaliser reads (dates, postcodes, NHS numbers with
//! their check digit, sex codes, yes/no flags). A `SURNAME, Forename` column feeds both names
//! when neither has its own column. Dates no built-in format reads get the format that reads the
//! most of the sample (day first when the sample cannot tell). Name columns with titles get
//! `strip_titles`; a note flags forenames with more than one word. What no column matches is left
//! out: missing in every record.

use crate::datefmt::DateFormat;
use crate::normalize::{self, Normalized, Normalizer};
use crate::schema::{InputKind, Schema};

/// A proposal: the mapping's JSON and one note per decision, for the holder to read.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// A kith mapping file (version 1).
    pub json: String,
    /// What was matched and on what evidence, what was left out, what to check.
    pub notes: Vec<String>,
}

/// What an input holds, as far as matching goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Forename,
    Surname,
    Date,
    Sex,
    Postcode,
    Nhs,
    Address,
    Register,
    Flag,
    Other,
}

impl Kind {
    /// Header names (letters and digits only, lower case) that mean this kind.
    fn names(self) -> &'static [&'static str] {
        match self {
            Kind::Forename => &[
                "forename",
                "forenames",
                "firstname",
                "givenname",
                "given",
                "fname",
                "christianname",
            ],
            Kind::Surname => &[
                "surname",
                "lastname",
                "familyname",
                "family",
                "lname",
                "sname",
            ],
            Kind::Date => &[
                "dob",
                "dateofbirth",
                "birthdate",
                "birthdt",
                "bdate",
                "birth",
            ],
            Kind::Sex => &["sex", "gender", "sexcode", "gendercode"],
            Kind::Postcode => &[
                "postcode",
                "pcode",
                "postalcode",
                "lastknownpostcode",
                "zip",
            ],
            Kind::Nhs => &["nhs", "nhsnumber", "nhsno"],
            Kind::Address => &["address", "address1", "addressline1", "addr", "street"],
            Kind::Register => &["householdref", "household", "householdid", "familyref"],
            Kind::Flag | Kind::Other => &[],
        }
    }

    /// The share of `values` (non-empty) this kind's normaliser reads as a value.
    fn reads(self, values: &[&str]) -> f64 {
        let n: Option<Normalizer> = match self {
            Kind::Date => Some(Normalizer::Date(normalize::DateNormalizer::new(
                Vec::new(),
                DateFormat::parse("%Y-%m-%d").expect("a valid format"),
            ))),
            Kind::Sex => Some(Normalizer::Sex),
            Kind::Postcode => Some(Normalizer::Postcode),
            Kind::Nhs => Some(Normalizer::NhsNumber),
            Kind::Flag => Some(Normalizer::Flag),
            _ => None,
        };
        if values.is_empty() {
            return 0.0;
        }
        let read = |v: &str| match &n {
            Some(Normalizer::Sex) => !matches!(normalize::sex(v), Normalized::Invalid),
            Some(n) => matches!(n.apply(v), Normalized::Value(_)),
            None => v.chars().all(|c| c.is_alphabetic() || " -'.,".contains(c)),
        };
        values.iter().filter(|v| read(v)).count() as f64 / values.len() as f64
    }
}

/// Header text reduced to lower-case letters and digits.
fn squash(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .flat_map(char::to_lowercase)
        .collect()
}

/// Date formats tried on a date column no built-in format reads.
const DATE_FORMATS: [&str; 10] = [
    "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%d %b %Y", "%d-%b-%y", "%d/%m/%y",
    "%Y%m%d", "%d %B %Y",
];

/// Propose a mapping for an extract with `header` whose first rows are `sample`.
pub fn propose(
    schema: &Schema,
    header: &[String],
    sample: &[Vec<String>],
    party: &str,
) -> Proposal {
    let kith = schema.kith();
    // The schema's inputs in schema order, with their kinds.
    let mut targets: Vec<(String, Kind)> = schema
        .features()
        .iter()
        .filter(|f| f.hashing.is_some())
        .map(|f| {
            let id = f.identifier.as_str();
            let s = squash(id);
            let kind = match kith.normalize.get(id) {
                Some(Normalizer::Date(_)) => Kind::Date,
                Some(Normalizer::Sex) => Kind::Sex,
                Some(Normalizer::Postcode) => Kind::Postcode,
                Some(Normalizer::NhsNumber) => Kind::Nhs,
                Some(Normalizer::Forename) => Kind::Forename,
                _ if s.contains("sur") || s.contains("last") || s.contains("family") => {
                    Kind::Surname
                }
                _ if s.contains("given") || s.contains("fore") || s.contains("first") => {
                    Kind::Forename
                }
                _ => Kind::Other,
            };
            (id.to_owned(), kind)
        })
        .collect();
    targets.extend(kith.keyed_inputs().into_iter().map(|(name, k)| {
        let kind = match k {
            InputKind::Exact if squash(name).contains("nhs") => Kind::Nhs,
            InputKind::Exact => Kind::Other,
            InputKind::Address => Kind::Address,
            InputKind::Register => Kind::Register,
            InputKind::Criterion => Kind::Flag,
        };
        (name.to_owned(), kind)
    }));
    let column_values: Vec<Vec<&str>> = (0..header.len())
        .map(|c| {
            sample
                .iter()
                .filter_map(|r| r.get(c).map(|v| v.trim()))
                .filter(|v| !v.is_empty())
                .collect()
        })
        .collect();
    // Scores of each (target, column).
    let mut scored: Vec<(f64, usize, usize, String)> = Vec::new();
    for (t, (name, kind)) in targets.iter().enumerate() {
        for (c, h) in header.iter().enumerate() {
            let (hs, ns) = (squash(h), squash(name));
            let by_name = if hs == ns || kind.names().contains(&hs.as_str()) {
                3.0
            } else if (hs.len() >= 3 && ns.len() >= 3 && (hs.contains(&ns) || ns.contains(&hs)))
                || kind.names().iter().any(|k| k.len() >= 3 && hs.contains(k))
            {
                1.5
            } else {
                0.0
            };
            let read = kind.reads(&column_values[c]);
            let by_values = match kind {
                // Values this distinctive say enough alone.
                Kind::Postcode | Kind::Nhs if read >= 0.8 => 3.0,
                Kind::Date | Kind::Sex | Kind::Flag if read >= 0.8 => 1.5,
                Kind::Forename | Kind::Surname if read >= 0.9 => 0.5,
                _ => 0.0,
            };
            // Evidence against: a header that names another kind.
            let named_else = targets
                .iter()
                .any(|(_, k)| k != kind && k.names().contains(&hs.as_str()));
            let score = by_name + by_values - if named_else { 2.0 } else { 0.0 };
            if score >= 3.0 {
                let why = match (by_name > 0.0, by_values > 0.0) {
                    (true, true) => format!(
                        "the header, and {:.0}% of the sample read as one",
                        100.0 * read
                    ),
                    (true, false) => "the header".to_owned(),
                    _ => format!("{:.0}% of the sample read as one", 100.0 * read),
                };
                scored.push((score, t, c, why));
            }
        }
    }
    scored.sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
    let mut chosen: Vec<Option<(usize, String)>> = vec![None; targets.len()];
    let mut used = vec![false; header.len()];
    for (_, t, c, why) in scored {
        if chosen[t].is_none() && !used[c] {
            chosen[t] = Some((c, why));
            used[c] = true;
        }
    }
    let mut notes = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    // A `SURNAME, Forename` column for names without a column of their own.
    let name_targets = |k: Kind| targets.iter().position(|(_, x)| *x == k);
    let combined = (0..header.len()).find(|&c| {
        let v = &column_values[c];
        !used[c]
            && !v.is_empty()
            && v.iter().filter(|s| s.contains(',')).count() * 10 >= v.len() * 8
            && Kind::Surname.reads(v) >= 0.9
    });
    let mut split_name: Option<(usize, usize, usize)> = None;
    if let (Some(s), Some(f), Some(c)) = (
        name_targets(Kind::Surname),
        name_targets(Kind::Forename),
        combined,
    ) && chosen[s].is_none()
        && chosen[f].is_none()
    {
        split_name = Some((s, f, c));
        used[c] = true;
    }
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""));
    for (t, (name, kind)) in targets.iter().enumerate() {
        let picked = chosen[t].clone().or_else(|| {
            split_name.and_then(|(s, f, c)| {
                (t == s || t == f).then(|| (c, "a SURNAME, Forename column".to_owned()))
            })
        });
        let Some((c, why)) = picked else {
            notes.push(format!(
                "{name}: no column found; left out, so missing in every record"
            ));
            continue;
        };
        let col = &header[c];
        let values = &column_values[c];
        let mut spec: Vec<String> = vec![format!("\"column\": {}", quote(col))];
        if let Some((s, _, sc)) = split_name
            && sc == c
        {
            spec.push(format!(
                "\"split\": \",\", \"part\": {}",
                usize::from(t != s)
            ));
        }
        let part_values: Vec<&str> = match split_name {
            Some((s, _, sc)) if sc == c => values
                .iter()
                .map(|v| {
                    let mut it = v.splitn(2, ',');
                    let (a, b) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
                    if t == s { a.trim() } else { b.trim() }
                })
                .collect(),
            _ => values.clone(),
        };
        if matches!(kind, Kind::Forename | Kind::Surname) {
            let titled = part_values
                .iter()
                .filter(|v| {
                    v.split_whitespace().next().is_some_and(|w| {
                        let w = w.trim_end_matches('.').to_ascii_lowercase();
                        ["mr", "mrs", "ms", "miss", "dr", "mx", "prof", "rev"].contains(&w.as_str())
                    })
                })
                .count();
            if titled > 0 {
                spec.push("\"strip_titles\": true".to_owned());
                notes.push(format!(
                    "{name}: {titled} of {} sampled values start with a title; strip_titles drops it",
                    part_values.len()
                ));
            }
            let several = part_values
                .iter()
                .filter(|v| v.split_whitespace().count() > 1)
                .count();
            if *kind == Kind::Forename && several * 10 > part_values.len() {
                notes.push(format!(
                    "{name}: {several} of {} sampled values have more than one word (middle names?); add \"first_word\": true if the first is the forename",
                    part_values.len()
                ));
            }
        }
        if *kind == Kind::Date && kind.reads(values) < 0.95 {
            let best = DATE_FORMATS
                .iter()
                .filter_map(|f| DateFormat::parse(f).ok())
                .map(|f| {
                    let n = values.iter().filter(|v| f.parse_date(v).is_some()).count();
                    (n, f)
                })
                .max_by(|a, b| a.0.cmp(&b.0));
            if let Some((n, f)) = best.filter(|(n, _)| *n > 0) {
                spec.push(format!("\"date_formats\": [{}]", quote(f.as_str())));
                notes.push(format!(
                    "{name}: dates read with {} ({n} of {} sampled); check day and month order",
                    f.as_str(),
                    values.len()
                ));
            }
        }
        notes.push(format!("{name} ← {col} ({why})"));
        let value = if spec.len() == 1 {
            quote(col)
        } else {
            format!("{{{}}}", spec.join(", "))
        };
        columns.push(format!("    {}: {value}", quote(name)));
    }
    // The local ID: an unused column whose sampled values are all present and distinct, named
    // like an identifier.
    let id = (0..header.len()).find(|&c| {
        let h = squash(&header[c]);
        let v = &column_values[c];
        !used[c]
            && (h.ends_with("id") || h.contains("urn") || h.ends_with("ref") || h.ends_with("no"))
            && v.len() == sample.len()
            && !v.is_empty()
            && v.iter().collect::<std::collections::BTreeSet<_>>().len() == v.len()
    });
    if let Some(c) = id {
        used[c] = true;
        notes.push(format!(
            "local ID ← {} (distinct in every sampled row)",
            header[c]
        ));
    } else {
        notes.push("no local ID column found: records are named by row number".to_owned());
    }
    let unused: Vec<&str> = (0..header.len())
        .filter(|&c| !used[c])
        .map(|c| header[c].as_str())
        .collect();
    if !unused.is_empty() {
        notes.push(format!("columns not used: {}", unused.join(", ")));
    }
    let mut json = format!("{{\n  \"kith_mapping\": 1,\n  \"party\": {}", quote(party));
    if let Some(c) = id {
        json.push_str(&format!(",\n  \"id_column\": {}", quote(&header[c])));
    }
    json.push_str(&format!(
        ",\n  \"columns\": {{\n{}\n  }}\n}}\n",
        columns.join(",\n")
    ));
    Proposal { json, notes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mapping;

    fn demo() -> Schema {
        Schema::from_json_str(include_str!("../data/demo-schema.json")).expect("demo schema")
    }

    fn rows(lines: &[&str]) -> Vec<Vec<String>> {
        lines
            .iter()
            .map(|l| l.split(';').map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn a_police_extract_gets_its_name_split_and_its_dates_read() {
        let header: Vec<String> = ["URN", "NAME", "DOB", "LAST_KNOWN_POSTCODE", "OFFENDING"]
            .map(str::to_owned)
            .to_vec();
        let sample = rows(&[
            "P1;SMITH, Mr John;15.06.1997;WN2 5FE;Y",
            "P2;JONES, Aisha Mary;03.11.2001;;N",
            "P3;KHAN, Imran;28.02.1985;M14 5RT;N",
        ]);
        let p = propose(&demo(), &header, &sample, "police");
        let m = Mapping::from_json_str(&p.json).expect("a valid mapping");
        assert_eq!(m.id_column.as_deref(), Some("URN"));
        let col = |n: &str| m.columns[n].clone().expect(n);
        let surname = col("surname");
        assert_eq!(surname.column, "NAME");
        assert_eq!(surname.cut("SMITH, Mr John"), "SMITH");
        assert_eq!(col("given_name").cut("SMITH, Mr John"), "John");
        assert_eq!(col("postcode").column, "LAST_KNOWN_POSTCODE");
        assert_eq!(col("offending").column, "OFFENDING");
        assert_eq!(
            m.date_formats["dob"]
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>(),
            ["%d.%m.%Y"]
        );
        assert!(!m.columns.contains_key("sex") && !m.columns.contains_key("nhs_number"));
        assert!(
            p.notes
                .iter()
                .any(|n| n == "nhs_number: no column found; left out, so missing in every record"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn health_columns_are_found_by_their_values_and_common_names() {
        let header: Vec<String> = [
            "patient_id",
            "given",
            "family",
            "birth_date",
            "sex_code",
            "post_code",
            "nhs",
        ]
        .map(str::to_owned)
        .to_vec();
        let sample = rows(&[
            "H1;Aleksandra;Mcdonald;1997-03-14;2;N13 9BL;6682532113",
            "H2;Zoe Anne;Okafor;1990-01-05;2;M14 5RT;4000158384",
        ]);
        let p = propose(&demo(), &header, &sample, "health");
        let m = Mapping::from_json_str(&p.json).expect("a valid mapping");
        let col = |n: &str| m.columns[n].clone().expect(n).column;
        assert_eq!(
            [
                "given_name",
                "surname",
                "dob",
                "sex",
                "postcode",
                "nhs_number"
            ]
            .map(col),
            [
                "given",
                "family",
                "birth_date",
                "sex_code",
                "post_code",
                "nhs"
            ]
        );
        assert!(m.date_formats.is_empty(), "ISO dates need no format");
        assert_eq!(m.id_column.as_deref(), Some("patient_id"));
        assert!(p.notes.iter().any(|n| n.starts_with("given_name: 1 of 2 sampled values have more than one word")), "{:?}", p.notes);
    }
}
