//! A seeded generator of a synthetic population in households, and of the extracts that a council,
//! a health service, the police and schools would hold about it, with the errors real extracts
//! have. It exists to test record linkage where the truth is known: every extract row carries,
//! in a separate truth file, the person and household it came from.
//!
//! - [`population`] makes households: single people, couples with and without children, single
//!   parents, step-families whose children carry another surname, three generations under one
//!   roof; twins (and, rarely, triplets) with similar names; streets of neighbours and blocks of
//!   flats sharing a postcode; households that moved, whose old postcode some agencies still hold.
//! - [`extract`] makes one agency's rows (see [`Agency`] for their columns and formats) with
//!   typing errors, nicknames, middle names in the forename field, swapped forename and surname,
//!   half of a double-barrelled surname, maiden names, alternative surnames (Kaur, Singh, Begum),
//!   dropped diacritics, dates of birth with day and month swapped or a day, month or year one
//!   out, missing values (a police extract without a sex column and with many postcodes missing),
//!   old postcodes and duplicate rows.
//! - [`Options`] picks the name tables ([`NameList`]) and scales every error rate, so that
//!   linkage can be measured on data unlike what it was tuned on.
//!
//! Everything is a function of the seed: the same seed and size give the same bytes.
//!
//! The library does no I/O; `kith synth` writes the files.

mod agency;
mod names;
mod nhs;
mod places;

pub use agency::{Agency, Extract, extract};
pub use names::NameList;

/// What a population is drawn from and how error-prone its extracts are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// The name tables.
    pub names: NameList,
    /// Every per-row error rate of the extracts (typing errors, nicknames, middle names, date
    /// slips, missing and stale values, alternative surnames) multiplied by this (1 as tuned).
    pub errors: f64,
    /// Which agencies' extracts carry an address line.
    pub addresses: AddressLines,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            names: NameList::England,
            errors: 1.0,
            addresses: AddressLines::Agencies,
        }
    }
}

/// Which agencies' extracts carry an address line (every one that has a postcode keeps it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AddressLines {
    /// The council, health and the police (schools hold none).
    #[default]
    Agencies,
    /// The council only, as many real health, police and school extracts.
    Council,
}

impl AddressLines {
    /// The option's name on the command line.
    pub fn from_name(name: &str) -> Option<AddressLines> {
        match name {
            "agencies" => Some(AddressLines::Agencies),
            "council" => Some(AddressLines::Council),
            _ => None,
        }
    }
}

/// The criteria of an identification run (after the Troubled Families programme's), each known to
/// one agency: what a person's record there would be flagged with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// Crime or anti-social behaviour (police).
    Offending,
    /// Domestic abuse in the household (police).
    DomesticAbuse,
    /// Persistent school absence (schools).
    Absence,
    /// An adult out of work (council).
    OutOfWork,
    /// A child in need (council).
    ChildInNeed,
    /// A health need (health).
    HealthNeed,
}

impl Criterion {
    /// Every criterion.
    pub const ALL: [Criterion; 6] = [
        Criterion::Offending,
        Criterion::DomesticAbuse,
        Criterion::Absence,
        Criterion::OutOfWork,
        Criterion::ChildInNeed,
        Criterion::HealthNeed,
    ];

    /// Its name in schemas and mappings.
    pub fn name(self) -> &'static str {
        match self {
            Criterion::Offending => "offending",
            Criterion::DomesticAbuse => "domestic_abuse",
            Criterion::Absence => "absence",
            Criterion::OutOfWork => "out_of_work",
            Criterion::ChildInNeed => "child_in_need",
            Criterion::HealthNeed => "health_need",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Sex as recorded at birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
}

/// A date of birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day, 1 to the month's length.
    pub day: u32,
}

/// Days at least between two births of one household (twins aside), and draws of a birth date
/// before one is given up.
const BIRTHS_APART: i64 = 300;
const BIRTH_TRIES: usize = 8;

impl Date {
    /// Days since 1 March of year 0 (proleptic Gregorian calendar): their difference is the days
    /// between two dates.
    fn days(self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
        era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy
    }

    /// Days in `month` of `year`.
    pub fn month_len(year: i32, month: u32) -> u32 {
        match month {
            2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }
}

/// What kind of household.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One adult.
    Single,
    /// Two adults.
    Couple,
    /// Two adults and their children.
    Family,
    /// One adult and children.
    SingleParent,
    /// Two adults, with children of one of them from before who carry another surname.
    StepFamily,
    /// A grandparent living with a family.
    ThreeGenerations,
}

impl Kind {
    /// Its name in the truth files.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Single => "single",
            Kind::Couple => "couple",
            Kind::Family => "family",
            Kind::SingleParent => "single_parent",
            Kind::StepFamily => "step_family",
            Kind::ThreeGenerations => "three_generations",
        }
    }
}

/// A household.
#[derive(Debug, Clone)]
pub struct Household {
    /// Its number, from 1.
    pub id: u32,
    /// Its kind.
    pub kind: Kind,
    /// Current postcode.
    pub postcode: String,
    /// Current address line.
    pub address: String,
    /// Where it lived before, for a household that moved: (postcode, address). Half the time
    /// that is where another household of the population lives now.
    pub previous: Option<(String, String)>,
    /// True for a household with several problems: its members meet criteria far more often.
    pub troubled: bool,
}

/// A person.
#[derive(Debug, Clone)]
pub struct Person {
    /// Their number, from 1.
    pub id: u32,
    /// Their household's number.
    pub household: u32,
    /// Forename.
    pub forename: String,
    /// Current surname.
    pub surname: String,
    /// The surname before marriage, if it changed.
    pub birth_surname: Option<String>,
    /// Another surname they are known by (Kaur, Singh or Begum beside the family name), if any.
    pub alt_surname: Option<String>,
    /// A middle name, if any (some agencies write it into the forename field).
    pub middle: Option<String>,
    /// Date of birth.
    pub dob: Date,
    /// Sex.
    pub sex: Sex,
    /// NHS number (ten digits, valid).
    pub nhs: String,
    /// True for a twin or triplet.
    pub multiple_birth: bool,
    /// The criteria that hold for this person (a bit per [`Criterion`]); see [`Person::meets`].
    pub criteria: u8,
}

impl Person {
    /// Age on 1 January of `year`.
    pub fn age(&self, year: i32) -> i32 {
        year - self.dob.year - 1
    }

    /// True when criterion `c` holds for this person.
    pub fn meets(&self, c: Criterion) -> bool {
        self.criteria & c.bit() != 0
    }
}

/// A synthetic population.
#[derive(Debug, Clone, Default)]
pub struct Population {
    /// Households.
    pub households: Vec<Household>,
    /// People, household by household.
    pub people: Vec<Person>,
    /// What it was drawn with.
    pub options: Options,
}

/// The year extracts are taken in.
pub const YEAR: i32 = 2026;

/// Households per postcode unit, about.
const PER_UNIT: u32 = 12;

/// A population of about `people` people (the last household may take it a little over), with
/// the default [`Options`].
pub fn population(people: usize, seed: u64) -> Population {
    population_with(people, seed, Options::default())
}

/// A population of about `people` people drawn as `options` say.
pub fn population_with(people: usize, seed: u64, options: Options) -> Population {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pop = Population {
        options,
        ..Population::default()
    };
    let mut unit = places::unit(&mut rng);
    let mut in_unit = 0;
    while pop.people.len() < people {
        if in_unit >= PER_UNIT {
            unit = places::unit(&mut rng);
            in_unit = 0;
        }
        in_unit += 1;
        let id = pop.households.len() as u32 + 1;
        let previous = rng.random_bool(0.12).then(|| {
            // Half of those who moved left a home another household of the population now lives
            // in, so an agency's stale address is someone else's current one.
            if !pop.households.is_empty() && rng.random_bool(0.5) {
                let h = &pop.households[rng.random_range(0..pop.households.len())];
                (h.postcode.clone(), h.address.clone())
            } else {
                let mut old = places::unit(&mut rng);
                (old.postcode.clone(), old.address())
            }
        });
        let troubled = rng.random_bool(0.06);
        let kind = match rng.random::<f64>() {
            x if x < 0.28 => Kind::Single,
            x if x < 0.48 => Kind::Couple,
            x if x < 0.73 => Kind::Family,
            x if x < 0.85 => Kind::SingleParent,
            x if x < 0.94 => Kind::StepFamily,
            _ => Kind::ThreeGenerations,
        };
        let household = Household {
            id,
            kind,
            postcode: unit.postcode.clone(),
            address: unit.address(),
            previous,
            troubled,
        };
        let first = pop.people.len();
        let mut g = Gen {
            rng: &mut rng,
            list: options.names,
            household: id,
            first,
            people: &mut pop.people,
        };
        g.members(kind);
        criteria(&mut rng, troubled, &mut pop.people[first..]);
        pop.households.push(household);
    }
    pop
}

/// Draw which criteria hold for one household's members: rarely, except in a troubled household.
/// Domestic abuse is the household's, recorded against its adults.
fn criteria<R: Rng>(rng: &mut R, troubled: bool, members: &mut [Person]) {
    let p = |usual: f64, troubled_rate: f64| if troubled { troubled_rate } else { usual };
    let abuse = rng.random_bool(p(0.01, 0.3));
    for m in members {
        let age = m.age(YEAR);
        let mut c = 0u8;
        let mut set = |rng: &mut R, on: bool, crit: Criterion, usual: f64, t: f64| {
            if on && rng.random_bool(p(usual, t)) {
                c |= crit.bit();
            }
        };
        set(
            rng,
            (12..=70).contains(&age),
            Criterion::Offending,
            0.015,
            0.25,
        );
        set(rng, abuse && age >= 18, Criterion::DomesticAbuse, 1.0, 1.0);
        set(rng, (5..=16).contains(&age), Criterion::Absence, 0.04, 0.4);
        set(
            rng,
            (18..=64).contains(&age),
            Criterion::OutOfWork,
            0.06,
            0.5,
        );
        set(rng, age < 18, Criterion::ChildInNeed, 0.01, 0.3);
        set(rng, true, Criterion::HealthNeed, 0.03, 0.2);
        m.criteria = c;
    }
}

/// Makes one household's members.
struct Gen<'a, R: Rng> {
    rng: &'a mut R,
    list: NameList,
    household: u32,
    /// Index of the household's first member.
    first: usize,
    people: &'a mut Vec<Person>,
}

impl<R: Rng> Gen<'_, R> {
    fn sex(&mut self) -> Sex {
        if self.rng.random_bool(0.5) {
            Sex::Female
        } else {
            Sex::Male
        }
    }

    fn date(&mut self, year: i32) -> Date {
        let month = self.rng.random_range(1..=12);
        let day = self.rng.random_range(1..=Date::month_len(year, month));
        Date { year, month, day }
    }

    fn person(&mut self, sex: Sex, dob: Date, surname: &str, forename: &str) -> usize {
        let nhs = nhs::number(self.rng);
        // About half of people have a middle name; a different one from their forename.
        let middle = self
            .rng
            .random_bool(0.5)
            .then(|| names::forename(self.rng, self.list, sex, dob.year))
            .filter(|m| *m != forename)
            .map(str::to_owned);
        let alt_surname = names::alternative(self.list, surname, sex).map(str::to_owned);
        self.people.push(Person {
            id: self.people.len() as u32 + 1,
            household: self.household,
            forename: forename.to_owned(),
            surname: surname.to_owned(),
            birth_surname: None,
            alt_surname,
            middle,
            dob,
            sex,
            nhs,
            multiple_birth: false,
            criteria: 0,
        });
        self.people.len() - 1
    }

    fn adult(&mut self, sex: Sex, youngest: i32, oldest: i32, surname: &str) -> usize {
        let year = YEAR - self.rng.random_range(youngest..=oldest);
        let dob = self.date(year);
        let forename = names::forename(self.rng, self.list, sex, year);
        self.person(sex, dob, surname, forename)
    }

    /// A surname, sometimes double-barrelled.
    fn surname(&mut self) -> String {
        let a = names::surname(self.rng, self.list);
        if self.rng.random_bool(0.015) {
            format!("{a}-{}", names::surname(self.rng, self.list))
        } else {
            a.to_owned()
        }
    }

    /// Two adults; a married couple usually shares one surname (hers changed).
    fn couple(&mut self, youngest: i32, oldest: i32) -> (usize, String) {
        let surname = self.surname();
        let a = self.adult(Sex::Male, youngest, oldest, &surname);
        let year = self.people[a].dob.year + self.rng.random_range(-5..=5);
        let dob = self.date(year.min(YEAR - 18));
        if self.rng.random_bool(0.8) {
            let maiden = self.surname();
            let f = names::forename(self.rng, self.list, Sex::Female, dob.year);
            let b = self.person(Sex::Female, dob, &surname, f);
            self.people[b].birth_surname = Some(maiden);
        } else {
            let own = self.surname();
            let f = names::forename(self.rng, self.list, Sex::Female, dob.year);
            self.person(Sex::Female, dob, &own, f);
        }
        (a, surname)
    }

    /// Children born to a parent born in `parent_year`, with `surname`: one to three births,
    /// some of them twins (1.5%) or triplets (0.03%) with similar names.
    fn children(&mut self, parent_year: i32, surname: &str) {
        let births = self.rng.random_range(1..=3);
        for _ in 0..births {
            // A mother's births are ten months apart or more (twins aside): a birth too close to
            // one of the household's is drawn again, and dropped after a few tries.
            let mut dob = None;
            for _ in 0..BIRTH_TRIES {
                let year = parent_year + self.rng.random_range(20..=42);
                if year > YEAR - 1 {
                    break;
                }
                let d = self.date(year);
                if self.people[self.first..]
                    .iter()
                    .all(|p| (p.dob.days() - d.days()).abs() >= BIRTHS_APART)
                {
                    dob = Some(d);
                    break;
                }
            }
            let Some(dob) = dob else {
                continue;
            };
            let year = dob.year;
            let many = match self.rng.random::<f64>() {
                x if x < 0.0003 => 3,
                x if x < 0.0153 => 2,
                _ => 1,
            };
            let first = self.people.len();
            for k in 0..many {
                let sex = self.sex();
                let name = if k == 0 {
                    self.new_forename(sex, year)
                } else {
                    let sibling = self.people[first].forename.clone();
                    let taken: Vec<String> = self.people[self.first..]
                        .iter()
                        .map(|p| p.forename.clone())
                        .collect();
                    names::twin_forename(self.rng, self.list, &sibling, sex, year, &|n| {
                        taken.iter().any(|t| t == n)
                    })
                };
                let i = self.person(sex, dob, surname, name);
                self.people[i].multiple_birth = many > 1;
            }
        }
    }

    /// A child's forename: not one of the household's names already (two children of one family
    /// are not given one name), except for the occasional son named after his father.
    fn new_forename(&mut self, sex: Sex, year: i32) -> &'static str {
        let taken = |g: &Self, n: &str| g.people[g.first..].iter().any(|p| p.forename == n);
        let mut name = names::forename(self.rng, self.list, sex, year);
        for _ in 0..50 {
            if !taken(self, name) {
                break;
            }
            name = names::forename(self.rng, self.list, sex, year);
        }
        if sex == Sex::Male && self.rng.random_bool(0.01) {
            // Junior.
            let father = self.people[self.first..]
                .iter()
                .find(|p| p.sex == Sex::Male && p.dob.year + 18 <= year)
                .map(|p| p.forename.clone());
            if let Some(f) = father
                && self.people[self.first..]
                    .iter()
                    .filter(|p| p.forename == f)
                    .count()
                    == 1
            {
                return names::same(self.list, &f).unwrap_or(name);
            }
        }
        name
    }

    fn members(&mut self, kind: Kind) {
        match kind {
            Kind::Single => {
                let s = self.sex();
                let surname = self.surname();
                self.adult(s, 18, 95, &surname);
            }
            Kind::Couple => {
                self.couple(20, 90);
            }
            Kind::Family => {
                let (a, surname) = self.couple(22, 60);
                let year = self.people[a].dob.year;
                self.children(year, &surname);
            }
            Kind::SingleParent => {
                let s = if self.rng.random_bool(0.85) {
                    Sex::Female
                } else {
                    Sex::Male
                };
                let surname = self.surname();
                let a = self.adult(s, 20, 55, &surname);
                let year = self.people[a].dob.year;
                // Some children carry the other parent's surname.
                let theirs = if self.rng.random_bool(0.3) {
                    self.surname()
                } else {
                    surname
                };
                self.children(year, &theirs);
            }
            Kind::StepFamily => {
                let (a, surname) = self.couple(25, 55);
                let year = self.people[a].dob.year;
                let before = self.surname();
                self.children(year, &before);
                if self.rng.random_bool(0.5) {
                    self.children(year, &surname);
                }
            }
            Kind::ThreeGenerations => {
                let (a, surname) = self.couple(25, 55);
                let year = self.people[a].dob.year;
                self.children(year, &surname);
                let g = self.sex();
                let oldest = (YEAR - year + 45).min(100);
                let youngest = (YEAR - year + 20).min(oldest);
                self.adult(g, youngest, oldest, &surname);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_population_has_its_size_its_kinds_and_its_twins() {
        let p = population(20_000, 42);
        assert!(p.people.len() >= 20_000 && p.people.len() < 20_010);
        let twins = p.people.iter().filter(|x| x.multiple_birth).count();
        assert!((100..600).contains(&twins), "{twins} twins");
        for k in [
            Kind::Single,
            Kind::Couple,
            Kind::Family,
            Kind::SingleParent,
            Kind::StepFamily,
            Kind::ThreeGenerations,
        ] {
            assert!(p.households.iter().any(|h| h.kind == k), "{k:?}");
        }
        // Step-families with children hold two surnames (nearly always: a child's surname from
        // before can be the same common name by chance).
        let mut members: std::collections::HashMap<u32, Vec<&Person>> = Default::default();
        for x in &p.people {
            members.entry(x.household).or_default().push(x);
        }
        let (mut two, mut with_children) = (0, 0);
        for h in p.households.iter().filter(|h| h.kind == Kind::StepFamily) {
            let m = &members[&h.id];
            if m.len() > 2 {
                with_children += 1;
                let surnames: std::collections::HashSet<&str> =
                    m.iter().map(|x| x.surname.as_str()).collect();
                two += usize::from(surnames.len() >= 2);
            }
        }
        assert!(
            with_children > 50 && two * 10 >= with_children * 9,
            "{two} of {with_children}"
        );
        // Troubled households meet criteria far more often than others.
        let rate = |troubled: bool| {
            let hs: Vec<&Household> = p
                .households
                .iter()
                .filter(|h| h.troubled == troubled)
                .collect();
            let met = hs
                .iter()
                .filter(|h| {
                    members[&h.id]
                        .iter()
                        .map(|x| x.criteria.count_ones())
                        .sum::<u32>()
                        >= 2
                })
                .count();
            met as f64 / hs.len() as f64
        };
        assert!(
            rate(true) > 0.5 && rate(false) < 0.15,
            "{} {}",
            rate(true),
            rate(false)
        );
        // Some households that moved left a home another household lives in now.
        let current: std::collections::HashSet<(&str, &str)> = p
            .households
            .iter()
            .map(|h| (h.postcode.as_str(), h.address.as_str()))
            .collect();
        assert!(
            p.households
                .iter()
                .filter_map(|h| h.previous.as_ref())
                .any(|(pc, a)| current.contains(&(pc.as_str(), a.as_str())))
        );
        // Children of one household have different forenames (twins too).
        for h in p.households.iter().take(3000) {
            let kids: Vec<&Person> = p
                .people
                .iter()
                .filter(|x| x.household == h.id && x.age(YEAR) < 16)
                .collect();
            for (i, a) in kids.iter().enumerate() {
                for b in &kids[i + 1..] {
                    assert_ne!(a.forename, b.forename, "household {}", h.id);
                }
            }
        }
        // Neighbours share a postcode.
        let mut by_postcode = std::collections::HashMap::new();
        for h in &p.households {
            *by_postcode.entry(&h.postcode).or_insert(0) += 1;
        }
        assert!(by_postcode.values().any(|&n| n > 5));
        for x in &p.people {
            assert!(x.dob.day >= 1 && x.dob.day <= Date::month_len(x.dob.year, x.dob.month));
            assert!(x.dob.year < YEAR);
        }
    }

    /// Children of one household are born ten months apart or more, but for twins, who share a
    /// date of birth: siblings born weeks apart would look like one child with a mistyped date.
    #[test]
    fn births_of_one_household_are_months_apart() {
        let p = population(20_000, 7);
        let mut by_household: std::collections::HashMap<u32, Vec<&Person>> = Default::default();
        for x in p.people.iter().filter(|x| x.age(YEAR) < 18) {
            by_household.entry(x.household).or_default().push(x);
        }
        let (mut pairs, mut twins) = (0, 0);
        for kids in by_household.values() {
            for (i, a) in kids.iter().enumerate() {
                for b in &kids[i + 1..] {
                    let gap = (a.dob.days() - b.dob.days()).abs();
                    if gap == 0 && a.multiple_birth && b.multiple_birth {
                        twins += 1;
                    } else {
                        assert!(gap >= BIRTHS_APART, "{:?} and {:?}", a.dob, b.dob);
                        pairs += 1;
                    }
                }
            }
        }
        assert!(
            pairs > 1000 && twins > 20,
            "{pairs} pairs of siblings, {twins} of twins"
        );
        let d = |year, month, day| Date { year, month, day }.days();
        assert_eq!(d(2024, 3, 1) - d(2024, 2, 28), 2, "a leap year");
        assert_eq!(d(2023, 3, 1) - d(2023, 2, 28), 1);
        assert_eq!(d(2001, 1, 1) - d(2000, 1, 1), 366);
    }

    #[test]
    fn the_seed_decides_everything() {
        let (a, b, c) = (
            population(3000, 7),
            population(3000, 7),
            population(3000, 8),
        );
        let key = |p: &Population| format!("{:?}", p.people);
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&c));
    }
}
