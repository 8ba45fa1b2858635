//! Per-agency extracts: who each agency knows, in its own columns and formats, with errors.

use rand::seq::SliceRandom;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Criterion, Date, Person, Population, Sex, YEAR, names};

/// An agency that holds an extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agency {
    /// A council: `person_id, forename, surname, dob (DD/MM/YYYY), sex (Male/Female), address,
    /// postcode, nhs_number (for a few), household_ref` (its household register), and the flags
    /// `out_of_work` and `child_in_need` (`Y` or blank). Knows about 85% of people; 3% of its rows
    /// are duplicates.
    Council,
    /// A health service: `patient_id, given, family, birth_date (YYYY-MM-DD), sex_code (1/2),
    /// address, post_code, nhs, health_need (1/0)`. Knows about 96% of people, with the NHS number
    /// for most.
    Health,
    /// The police: `URN, NAME ("SURNAME, Forename"), DOB (DD-Mon-YYYY), ADDRESS,
    /// LAST_KNOWN_POSTCODE, OFFENDING (Y/N), DA_MARKER (Y/N)`, exported as Windows-1252: no sex
    /// column, many missing postcodes, more nicknames and middle names. Knows nearly everyone who
    /// offended or lives with domestic abuse, and a few others over 12.
    Police,
    /// Schools: `pupil_id, forename, surname, dob (DD/MM/YYYY), gender (M/F), postcode,
    /// persistent_absence (TRUE/FALSE)`. Knows children of school age; holds no address line.
    School,
}

impl Agency {
    /// Every agency.
    pub const ALL: [Agency; 4] = [
        Agency::Council,
        Agency::Health,
        Agency::Police,
        Agency::School,
    ];

    /// Its name (the party name and the file stem).
    pub fn name(self) -> &'static str {
        match self {
            Agency::Council => "council",
            Agency::Health => "health",
            Agency::Police => "police",
            Agency::School => "school",
        }
    }

    /// Its CSV header.
    pub fn header(self) -> &'static [&'static str] {
        match self {
            Agency::Council => &[
                "person_id",
                "forename",
                "surname",
                "dob",
                "sex",
                "address",
                "postcode",
                "nhs_number",
                "household_ref",
                "out_of_work",
                "child_in_need",
            ],
            Agency::Health => &[
                "patient_id",
                "given",
                "family",
                "birth_date",
                "sex_code",
                "address",
                "post_code",
                "nhs",
                "health_need",
            ],
            Agency::Police => &[
                "URN",
                "NAME",
                "DOB",
                "ADDRESS",
                "LAST_KNOWN_POSTCODE",
                "OFFENDING",
                "DA_MARKER",
            ],
            Agency::School => &[
                "pupil_id",
                "forename",
                "surname",
                "dob",
                "gender",
                "postcode",
                "persistent_absence",
            ],
        }
    }

    /// True when its extract is written in Windows-1252, not UTF-8.
    pub fn windows_1252(self) -> bool {
        self == Agency::Police
    }

    /// The criteria whose flags it holds, with their columns.
    pub fn criteria(self) -> &'static [(Criterion, &'static str)] {
        match self {
            Agency::Council => &[
                (Criterion::OutOfWork, "out_of_work"),
                (Criterion::ChildInNeed, "child_in_need"),
            ],
            Agency::Health => &[(Criterion::HealthNeed, "health_need")],
            Agency::Police => &[
                (Criterion::Offending, "OFFENDING"),
                (Criterion::DomesticAbuse, "DA_MARKER"),
            ],
            Agency::School => &[(Criterion::Absence, "persistent_absence")],
        }
    }

    /// Its column mapping (a kith mapping file) onto the features `given_name`, `surname`, `dob`,
    /// `sex`, `postcode`, the exact identifier `nhs_number`, the household inputs `address` and
    /// `household_ref`, and the criteria: only those it holds (what a mapping leaves out is
    /// missing in every record).
    pub fn mapping_json(self) -> String {
        self.mapping_json_for(true)
    }

    /// Its column mapping, with its address column or (`address` false) without one.
    pub fn mapping_json_for(self, with_address: bool) -> String {
        let (id, given, surname, dob, sex, postcode, nhs) = match self {
            Agency::Council => (
                "person_id",
                "\"forename\"",
                "\"surname\"",
                "dob",
                "\"sex\"",
                "postcode",
                "\"nhs_number\"",
            ),
            Agency::Health => (
                "patient_id",
                "\"given\"",
                "\"family\"",
                "birth_date",
                "\"sex_code\"",
                "post_code",
                "\"nhs\"",
            ),
            Agency::Police => (
                "URN",
                r#"{"column": "NAME", "split": ",", "part": 1}"#,
                r#"{"column": "NAME", "split": ",", "part": 0}"#,
                "DOB",
                "null",
                "LAST_KNOWN_POSTCODE",
                "null",
            ),
            Agency::School => (
                "pupil_id",
                "\"forename\"",
                "\"surname\"",
                "dob",
                "\"gender\"",
                "postcode",
                "null",
            ),
        };
        let quoted = |c: &str| format!("\"{c}\"");
        let address = match self {
            Agency::Council | Agency::Health => quoted("address"),
            Agency::Police => quoted("ADDRESS"),
            Agency::School => "null".to_owned(),
        };
        let address = if with_address {
            address
        } else {
            "null".to_owned()
        };
        let register = if self == Agency::Council {
            quoted("household_ref")
        } else {
            "null".to_owned()
        };
        let (dob, postcode) = (quoted(dob), quoted(postcode));
        let mut columns: Vec<(&str, String)> = vec![
            ("given_name", given.to_owned()),
            ("surname", surname.to_owned()),
            ("dob", dob),
            ("sex", sex.to_owned()),
            ("postcode", postcode),
            ("nhs_number", nhs.to_owned()),
            ("address", address),
            ("household_ref", register),
        ];
        for c in Criterion::ALL {
            if let Some((_, col)) = self.criteria().iter().find(|(x, _)| *x == c) {
                columns.push((c.name(), quoted(col)));
            }
        }
        let columns: Vec<String> = columns
            .into_iter()
            .filter(|(_, v)| v != "null")
            .map(|(k, v)| format!("    \"{k}\": {v}"))
            .collect();
        format!(
            "{{\n  \"kith_mapping\": 1,\n  \"party\": \"{}\",\n  \"id_column\": \"{id}\",\n  \"columns\": {{\n{}\n  }}\n}}\n",
            self.name(),
            columns.join(",\n")
        )
    }

    fn id_prefix(self) -> &'static str {
        match self {
            Agency::Council => "C",
            Agency::Health => "H",
            Agency::Police => "P",
            Agency::School => "S",
        }
    }

    /// The chance that this agency holds a record of `p`.
    fn knows(self, p: &Person) -> f64 {
        let age = p.age(YEAR);
        match self {
            Agency::Council => 0.85,
            Agency::Health => 0.96,
            Agency::Police if age < 12 => 0.0,
            Agency::Police
                if p.meets(Criterion::Offending) || p.meets(Criterion::DomesticAbuse) =>
            {
                0.9
            }
            Agency::Police if age <= 40 => 0.06,
            Agency::Police => 0.02,
            Agency::School if (4..=17).contains(&age) => 0.97,
            Agency::School => 0.0,
        }
    }

    /// The chance that one of its records is held twice.
    fn duplicates(self) -> f64 {
        match self {
            Agency::Council => 0.03,
            Agency::Health => 0.01,
            Agency::Police => 0.02,
            Agency::School => 0.005,
        }
    }

    /// The chance that a row has no postcode.
    fn missing_postcode(self) -> f64 {
        match self {
            Agency::Council | Agency::Health => 0.02,
            Agency::Police => 0.15,
            Agency::School => 0.03,
        }
    }

    /// The chance that a row has no date of birth.
    fn missing_dob(self) -> f64 {
        match self {
            Agency::Council => 0.01,
            Agency::Health | Agency::School => 0.005,
            Agency::Police => 0.03,
        }
    }

    /// The chance that a row gives a nickname (Bill for William) for a forename that has one.
    fn nickname(self) -> f64 {
        match self {
            Agency::Police => 0.15,
            _ => 0.05,
        }
    }

    /// The chance that a row writes the middle name into the forename field.
    fn middle_in_forename(self) -> f64 {
        match self {
            Agency::Council => 0.05,
            Agency::Health => 0.1,
            Agency::Police => 0.25,
            Agency::School => 0.03,
        }
    }

    /// The chance that a row gives someone's alternative surname (Kaur, Singh, Begum) rather
    /// than the family name.
    fn alt_surname(self) -> f64 {
        match self {
            Agency::Health => 0.5,
            Agency::School => 0.2,
            _ => 0.3,
        }
    }

    /// The chance that it still holds a moved household's previous address.
    fn stale_address(self) -> f64 {
        match self {
            Agency::Council => 0.2,
            Agency::Health => 0.4,
            Agency::Police => 0.6,
            Agency::School => 0.1,
        }
    }
}

/// One agency's extract: rows in the order written, and for each row (by its local ID) the person
/// and household it came from.
#[derive(Debug, Clone)]
pub struct Extract {
    /// The agency.
    pub agency: Agency,
    /// Its CSV header: the agency's, less the address column where it holds no address line.
    pub header: Vec<&'static str>,
    /// Its column mapping (a kith mapping file).
    pub mapping: String,
    /// Rows, each as many fields as the header.
    pub rows: Vec<Vec<String>>,
    /// (local ID, person, household) per row.
    pub truth: Vec<(String, u32, u32)>,
}

/// `agency`'s extract of `pop`, with its own errors; `seed` as for the population.
pub fn extract(pop: &Population, agency: Agency, seed: u64) -> Extract {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (0x6167_656e_6379 + agency as u64));
    let mut picked: Vec<usize> = Vec::new();
    for (i, p) in pop.people.iter().enumerate() {
        if rng.random_bool(agency.knows(p)) {
            picked.push(i);
            if rng.random_bool(agency.duplicates()) {
                picked.push(i);
            }
        }
    }
    // Row order follows nothing about the population's order.
    picked.shuffle(&mut rng);
    let mut rows = Vec::with_capacity(picked.len());
    let mut truth = Vec::with_capacity(picked.len());
    for (n, &i) in picked.iter().enumerate() {
        let p = &pop.people[i];
        let h = &pop.households[p.household as usize - 1];
        let id = format!("{}{:07}", agency.id_prefix(), n + 1);
        rows.push(render(&mut rng, agency, pop.options.errors, p, h, &id));
        truth.push((id, p.id, p.household));
    }
    let mut header = agency.header().to_vec();
    let address = header
        .iter()
        .position(|c| c.eq_ignore_ascii_case("address"));
    let holds_address = address.is_some()
        && (pop.options.addresses == crate::AddressLines::Agencies || agency == Agency::Council);
    if let (Some(a), false) = (address, holds_address) {
        header.remove(a);
        for r in &mut rows {
            r.remove(a);
        }
    }
    Extract {
        agency,
        header,
        mapping: agency.mapping_json_for(holds_address),
        rows,
        truth,
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// One row for person `p`, with this row's errors, their rates multiplied by `e`.
fn render<R: Rng>(
    rng: &mut R,
    agency: Agency,
    e: f64,
    p: &Person,
    h: &crate::Household,
    id: &str,
) -> Vec<String> {
    let mut chance = |rate: f64| rng.random_bool((rate * e).clamp(0.0, 0.95));
    let mut forename = p.forename.clone();
    let mut surname = p.surname.clone();
    // Names.
    let maiden = p.birth_surname.is_some() && chance(0.06);
    let alternative = p.alt_surname.is_some() && chance(agency.alt_surname());
    let half = surname.contains('-') && chance(0.5);
    let nickname = chance(agency.nickname());
    let middle = p.middle.is_some() && chance(agency.middle_in_forename());
    let (typo_fore, typo_sur) = (chance(0.02), chance(0.02));
    let (swap_names, no_forename) = (chance(0.01), chance(0.01));
    let no_dob = chance(agency.missing_dob());
    let dob_slip = chance(0.045);
    let no_sex = chance(0.005);
    let no_postcode = chance(agency.missing_postcode());
    let no_address = chance(0.02);
    if maiden && let Some(m) = &p.birth_surname {
        surname = m.clone();
    } else if alternative && let Some(a) = &p.alt_surname {
        surname = a.clone();
    }
    if half && let Some((a, b)) = surname.split_once('-') {
        surname = if rng.random_bool(0.5) { a } else { b }.to_owned();
    }
    let nick = names::nicknames(&forename);
    if !nick.is_empty() && nickname {
        forename = nick[rng.random_range(0..nick.len())].to_owned();
    }
    if middle && let Some(m) = &p.middle {
        forename = format!("{forename} {m}");
    }
    if typo_fore {
        forename = typo(rng, &forename);
    }
    if typo_sur {
        surname = typo(rng, &surname);
    }
    // The police system keeps what Windows-1252 holds (Zoë, José) and loses the rest (Wiśniewski);
    // some health records lose every accent.
    if agency == Agency::Police || (agency == Agency::Health && rng.random_bool(0.3)) {
        forename = fold(&forename, agency == Agency::Health);
        surname = fold(&surname, agency == Agency::Health);
    }
    if swap_names {
        std::mem::swap(&mut forename, &mut surname);
    }
    if no_forename {
        forename.clear();
    }
    if agency != Agency::Police && rng.random_bool(0.25) {
        surname = surname.to_uppercase();
    }
    // Date of birth: missing, or one slip in a row of 4.5%: day and month swapped, a day one
    // out, a year one out (a third of slips), a month one out.
    let mut dob = (!no_dob).then_some(p.dob);
    if dob_slip {
        let mut d = p.dob;
        match rng.random_range(0..9) {
            0 | 1 if d.day <= 12 && d.day != d.month => (d.day, d.month) = (d.month, d.day),
            0..=3 => {
                if d.day > 1 && (d.day == Date::month_len(d.year, d.month) || rng.random_bool(0.5))
                {
                    d.day -= 1;
                } else {
                    d.day += 1;
                }
            }
            4..=6 => d.year += if rng.random_bool(0.5) { 1 } else { -1 },
            _ => {
                d.month = if d.month == 12 || (d.month > 1 && rng.random_bool(0.5)) {
                    d.month - 1
                } else {
                    d.month + 1
                };
                d.day = d.day.min(Date::month_len(d.year, d.month));
            }
        }
        d.day = d.day.min(Date::month_len(d.year, d.month));
        if dob.is_some() {
            dob = Some(d);
        }
    }
    let dob = dob.map_or_else(String::new, |d| match agency {
        Agency::Council | Agency::School => format!("{:02}/{:02}/{}", d.day, d.month, d.year),
        Agency::Health => format!("{}-{:02}-{:02}", d.year, d.month, d.day),
        Agency::Police => format!("{:02}-{}-{}", d.day, MONTHS[d.month as usize - 1], d.year),
    });
    let sex = if no_sex {
        String::new()
    } else {
        match (agency, p.sex) {
            (Agency::Council, Sex::Female) => "Female",
            (Agency::Council, Sex::Male) => "Male",
            (Agency::Health, Sex::Female) => "2",
            (Agency::Health, Sex::Male) => "1",
            (_, Sex::Female) => "F",
            (_, Sex::Male) => "M",
        }
        .to_owned()
    };
    // Address.
    let (mut postcode, mut address) = match &h.previous {
        Some((pc, a)) if rng.random_bool(agency.stale_address()) => (pc.clone(), a.clone()),
        _ => (h.postcode.clone(), h.address.clone()),
    };
    // Each system writes addresses its own way: a comma after the house number, a flat without
    // the word "Flat", a missing line.
    if agency == Agency::Council && rng.random_bool(0.2) {
        if let Some((n, rest)) = address.split_once(' ')
            && n.chars().all(|c| c.is_ascii_digit())
        {
            address = format!("{n}, {rest}");
        }
    } else if agency == Agency::Health
        && rng.random_bool(0.3)
        && let Some(rest) = address.strip_prefix("Flat ")
    {
        address = rest.replacen(',', "", 1);
    }
    if no_address {
        address.clear();
    }
    let flag = |c: Criterion, yes: &str, no: &str| -> String {
        if p.meets(c) { yes } else { no }.to_owned()
    };
    if no_postcode {
        postcode.clear();
    } else if agency == Agency::Health && rng.random_bool(0.3) {
        postcode = postcode.replace(' ', "").to_lowercase();
    }
    let nhs = |share: f64, rng: &mut R, spaced: bool| -> String {
        if !rng.random_bool(share) {
            return String::new();
        }
        if spaced {
            format!("{} {} {}", &p.nhs[..3], &p.nhs[3..6], &p.nhs[6..])
        } else {
            p.nhs.clone()
        }
    };
    match agency {
        Agency::Council => {
            let nhs = nhs(0.1, rng, true);
            let register = if rng.random_bool(0.95) {
                format!(
                    "HR{:08}",
                    u64::from(h.id).wrapping_mul(2_654_435_761) % 100_000_000
                )
            } else {
                String::new()
            };
            vec![
                id.to_owned(),
                forename,
                surname,
                dob,
                sex,
                address,
                postcode,
                nhs,
                register,
                flag(Criterion::OutOfWork, "Y", ""),
                flag(Criterion::ChildInNeed, "Y", ""),
            ]
        }
        Agency::Health => {
            let nhs = nhs(0.92, rng, false);
            vec![
                id.to_owned(),
                forename,
                surname,
                dob,
                sex,
                address,
                postcode,
                nhs,
                flag(Criterion::HealthNeed, "1", "0"),
            ]
        }
        Agency::Police => {
            let name = format!("{}, {}", surname.to_uppercase(), forename);
            vec![
                id.to_owned(),
                name,
                dob,
                address.to_uppercase(),
                postcode,
                flag(Criterion::Offending, "Y", "N"),
                flag(Criterion::DomesticAbuse, "Y", "N"),
            ]
        }
        Agency::School => vec![
            id.to_owned(),
            forename,
            surname,
            dob,
            sex,
            postcode,
            flag(Criterion::Absence, "TRUE", "FALSE"),
        ],
    }
}

/// One typing error: a letter replaced, dropped, doubled, or two swapped.
fn typo<R: Rng + ?Sized>(rng: &mut R, s: &str) -> String {
    let mut c: Vec<char> = s.chars().collect();
    if c.len() < 3 {
        return s.to_owned();
    }
    let i = rng.random_range(1..c.len() - 1);
    match rng.random_range(0..4) {
        0 => c[i] = char::from(b'a' + rng.random_range(0..26)),
        1 => {
            c.remove(i);
        }
        2 => c.insert(i, c[i]),
        _ => c.swap(i, i + 1),
    }
    c.into_iter().collect()
}

/// Letters without their accents: all of them (`all`), or only those Windows-1252 cannot hold.
fn fold(s: &str, all: bool) -> String {
    s.chars()
        .map(|c| {
            let plain = match c {
                'á' | 'à' | 'â' | 'ä' | 'ą' => 'a',
                'é' | 'è' | 'ê' | 'ë' | 'ę' => 'e',
                'í' | 'ì' | 'î' | 'ï' => 'i',
                'ó' | 'ò' | 'ô' | 'ö' | 'ő' => 'o',
                'ú' | 'ù' | 'û' | 'ü' => 'u',
                'Á' | 'Ą' => 'A',
                'É' | 'Ę' => 'E',
                'Ó' => 'O',
                'Ł' => 'L',
                'Ś' | 'Š' => 'S',
                'Ż' | 'Ź' | 'Ž' => 'Z',
                'Ć' | 'Č' => 'C',
                'Ń' => 'N',
                'ç' | 'č' | 'ć' => 'c',
                'ñ' | 'ń' => 'n',
                'ś' | 'š' => 's',
                'ł' => 'l',
                'ž' | 'ż' | 'ź' => 'z',
                other => other,
            };
            if all || u32::from(c) > 0xff { plain } else { c }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population;

    #[test]
    fn extracts_have_their_columns_formats_and_truth() {
        let pop = population(5000, 11);
        for a in Agency::ALL {
            let e = extract(&pop, a, 11);
            assert!(!e.rows.is_empty(), "{a:?}");
            assert_eq!(e.rows.len(), e.truth.len());
            for r in &e.rows {
                assert_eq!(r.len(), a.header().len(), "{a:?}");
            }
            let ids: std::collections::HashSet<&String> = e.truth.iter().map(|t| &t.0).collect();
            assert_eq!(ids.len(), e.rows.len(), "local IDs are unique");
            let people: std::collections::HashSet<u32> = e.truth.iter().map(|t| t.1).collect();
            assert!(people.len() < e.rows.len(), "{a:?} holds some people twice");
            // The order of rows does not follow the population's.
            let first: Vec<u32> = e.truth.iter().take(20).map(|t| t.1).collect();
            let mut sorted = first.clone();
            sorted.sort_unstable();
            assert_ne!(first, sorted);
        }
        let police = extract(&pop, Agency::Police, 11);
        assert!(police.rows.iter().all(|r| r[1].contains(", ")));
        assert!(
            police
                .rows
                .iter()
                .flatten()
                .all(|f| f.chars().all(|c| u32::from(c) <= 0xff))
        );
        let health = extract(&pop, Agency::Health, 11);
        let with_nhs = health.rows.iter().filter(|r| !r[7].is_empty()).count();
        assert!(
            with_nhs * 10 > health.rows.len() * 8,
            "most health rows carry the NHS number"
        );
        let school = extract(&pop, Agency::School, 11);
        assert!(school.truth.iter().all(|t| {
            let age = pop.people[t.1 as usize - 1].age(YEAR);
            (4..=17).contains(&age)
        }));
    }

    /// The errors the linkage issue names are made at their rates: a year of birth one out,
    /// day and month swapped, missing dates and postcodes (the police's often), no sex column
    /// in the police extract, middle names in the forename field, alternative surnames (Kaur,
    /// Singh, Begum) with the cities list; `errors` scales them.
    #[test]
    fn with_council_addresses_only_the_others_have_no_address_column() {
        let pop = crate::population_with(
            300,
            4,
            crate::Options {
                addresses: crate::AddressLines::Council,
                ..crate::Options::default()
            },
        );
        for a in Agency::ALL {
            let e = extract(&pop, a, 4);
            let has = e.header.iter().any(|c| c.eq_ignore_ascii_case("address"));
            assert_eq!(has, a == Agency::Council, "{a:?}");
            assert!(e.rows.iter().all(|r| r.len() == e.header.len()));
            assert_eq!(
                e.mapping.contains("\"address\""),
                a == Agency::Council,
                "{a:?}"
            );
        }
        let all = crate::population(300, 4);
        assert!(
            extract(&all, Agency::Health, 4)
                .mapping
                .contains("\"address\"")
        );
    }

    #[test]
    fn extracts_make_the_errors_people_make() {
        let measure = |errors: f64| {
            let pop = crate::population_with(
                30_000,
                3,
                crate::Options {
                    names: crate::NameList::Cities,
                    errors,
                    ..crate::Options::default()
                },
            );
            let mut year_out = 0;
            let mut swapped = 0;
            let mut dobs = 0;
            let health = extract(&pop, Agency::Health, 3);
            for (r, t) in health.rows.iter().zip(&health.truth) {
                let p = &pop.people[t.1 as usize - 1];
                let Some((y, rest)) = r[3].split_once('-') else {
                    continue;
                };
                dobs += 1;
                let y: i32 = y.parse().expect("year");
                let (m, d) = rest.split_once('-').expect("month and day");
                let (m, d): (u32, u32) = (m.parse().expect("month"), d.parse().expect("day"));
                year_out += usize::from((y - p.dob.year).abs() == 1);
                swapped +=
                    usize::from(y == p.dob.year && m == p.dob.day && d == p.dob.month && m != d);
            }
            let police = extract(&pop, Agency::Police, 3);
            assert!(!Agency::Police.header().contains(&"SEX"));
            assert!(!Agency::Police.mapping_json().contains("\"sex\""));
            let no_postcode = police.rows.iter().filter(|r| r[4].is_empty()).count();
            let middle = police
                .rows
                .iter()
                .filter(|r| r[1].split_once(", ").is_some_and(|(_, f)| f.contains(' ')))
                .count();
            let alternative = health
                .rows
                .iter()
                .filter(|r| ["Kaur", "KAUR", "Begum", "BEGUM"].contains(&r[2].as_str()))
                .count();
            (
                year_out as f64 / dobs as f64,
                swapped as f64 / dobs as f64,
                no_postcode as f64 / police.rows.len() as f64,
                middle as f64 / police.rows.len() as f64,
                alternative,
            )
        };
        let (year, swap, no_pc, middle, alt) = measure(1.0);
        assert!((0.01..0.03).contains(&year), "year one out {year}");
        assert!(
            (0.003..0.02).contains(&swap),
            "day and month swapped {swap}"
        );
        assert!(
            (0.1..0.2).contains(&no_pc),
            "police postcodes missing {no_pc}"
        );
        assert!(
            (0.05..0.25).contains(&middle),
            "police middle names {middle}"
        );
        assert!(alt > 50, "Kaur and Begum beside family names: {alt}");
        let (more_year, _, more_no_pc, _, _) = measure(2.0);
        assert!(more_year > year * 1.5 && more_no_pc > no_pc * 1.5);
    }

    #[test]
    fn typos_change_one_letter_and_folding_keeps_what_1252_holds() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..200 {
            let t = typo(&mut rng, "Margaret");
            assert_ne!(t, "", "{t}");
            assert!((7..=9).contains(&t.chars().count()), "{t}");
        }
        assert_eq!(fold("Zoë Wiśniewski", false), "Zoë Wisniewski");
        assert_eq!(fold("Zoë Wiśniewski", true), "Zoe Wisniewski");
        assert_eq!(fold("Łukasz Żak", false), "Lukasz Zak");
    }
}
