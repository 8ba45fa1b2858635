//! Name tables and sampling: forenames by sex and decade of birth, surnames with a long tail, and
//! the everyday forms (nicknames) of full names.
//!
//! Frequencies follow a Zipf-like rank law (the `r`-th name about `1/(r + c)` as common as the
//! first), which is the shape published name frequencies have. The tables are in `data/`: one
//! set for [`NameList::England`], another, of other names and another mix, for
//! [`NameList::Cities`], so that linkage can be measured on names it was not tuned on.

use std::sync::OnceLock;

use rand::{Rng, RngExt};

use crate::Sex;

/// A table of values with cumulative weights, sampled by binary search.
#[derive(Debug, Clone)]
struct Weighted {
    values: Vec<&'static str>,
    cumulative: Vec<f64>,
}

impl Weighted {
    /// Rank law: the value at rank `r` (from 0) has weight `1 / (r + offset)^power`.
    fn zipf(values: Vec<&'static str>, offset: f64, power: f64) -> Weighted {
        let mut total = 0.0;
        let cumulative = (0..values.len())
            .map(|r| {
                total += 1.0 / (r as f64 + offset).powf(power);
                total
            })
            .collect();
        Weighted { values, cumulative }
    }

    fn total(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0)
    }

    fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> &'static str {
        let x = rng.random::<f64>() * self.total();
        let i = self.cumulative.partition_point(|&c| c <= x);
        self.values[i.min(self.values.len() - 1)]
    }
}

/// Which name tables a population draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameList {
    /// England and Wales names by era (`data/`), the tables kith is tuned on.
    #[default]
    England,
    /// A mixed city's names (`data/cities/`): South Asian, African, Caribbean, Eastern European,
    /// Irish and Scottish families beside English ones, with Kaur, Singh and Begum used beside
    /// family names.
    Cities,
}

impl NameList {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            NameList::England => "england",
            NameList::Cities => "cities",
        }
    }

    /// The list called `name`.
    pub fn from_name(name: &str) -> Option<NameList> {
        [NameList::England, NameList::Cities]
            .into_iter()
            .find(|l| l.name() == name)
    }
}

/// Forename lists: (first year of the era, sex, names), plus names of every era.
struct Forenames {
    eras: Vec<(i32, Sex, Weighted)>,
    any: Vec<(Sex, Weighted)>,
}

fn forenames(list: NameList) -> &'static Forenames {
    static T: [OnceLock<Forenames>; 2] = [OnceLock::new(), OnceLock::new()];
    T[list as usize].get_or_init(|| {
        let mut eras = Vec::new();
        let mut any = Vec::new();
        let text = match list {
            NameList::England => include_str!("../data/forenames.txt"),
            NameList::Cities => include_str!("../data/cities/forenames.txt"),
        };
        for line in text.lines() {
            let Some((head, names)) = line.split_once(':') else {
                continue;
            };
            if line.starts_with('#') {
                continue;
            }
            let mut h = head.split_whitespace();
            let (Some(era), Some(sex)) = (h.next(), h.next()) else {
                continue;
            };
            let sex = if sex == "F" { Sex::Female } else { Sex::Male };
            let w = Weighted::zipf(names.split_whitespace().collect(), 3.0, 1.0);
            match era.parse::<i32>() {
                Ok(year) => eras.push((year, sex, w)),
                Err(_) => any.push((sex, w)),
            }
        }
        Forenames { eras, any }
    })
}

/// Share of people whose forename comes from the list of every era.
const ANY_ERA: f64 = 0.12;

/// A forename from `list` for someone of `sex` born in `year`.
pub(crate) fn forename<R: Rng + ?Sized>(
    rng: &mut R,
    list: NameList,
    sex: Sex,
    year: i32,
) -> &'static str {
    let t = forenames(list);
    if rng.random_bool(ANY_ERA)
        && let Some((_, w)) = t.any.iter().find(|(s, _)| *s == sex)
    {
        return w.sample(rng);
    }
    let era = t
        .eras
        .iter()
        .filter(|(y, s, _)| *s == sex && *y <= year.max(1930))
        .max_by_key(|(y, _, _)| *y);
    match era {
        Some((_, _, w)) => w.sample(rng),
        None => "Alex",
    }
}

/// True when two forenames are one name to a reader: equal, spellings of one name (Mohammed and
/// Muhammad), or sharing an everyday form (Harry and Henry, both Hal). Parents do not give twins
/// such names.
fn one_name(a: &str, b: &str) -> bool {
    const SPELLINGS: [&str; 7] = [
        "Muhammad", "Mohammed", "Mohammad", "Mohamed", "Muhammed", "Mohamad", "Mohamud",
    ];
    let (na, nb) = (nicknames(a), nicknames(b));
    a == b
        || (SPELLINGS.contains(&a) && SPELLINGS.contains(&b))
        || na.contains(&b)
        || nb.contains(&a)
        || na.iter().any(|x| nb.contains(x))
}

/// A twin's forename: another name of the same era and sex, with the same initial when there is
/// one (Sophie and Sophia, Jack and Jacob), else any other; never one that `taken` refuses (the
/// household's names), nor one that is the sibling's name written another way.
pub(crate) fn twin_forename<R: Rng + ?Sized>(
    rng: &mut R,
    list: NameList,
    sibling: &str,
    sex: Sex,
    year: i32,
    taken: &dyn Fn(&str) -> bool,
) -> &'static str {
    let initial = sibling.chars().next();
    for _ in 0..40 {
        let n = forename(rng, list, sex, year);
        if !taken(n) && n.chars().next() == initial && !one_name(sibling, n) {
            return n;
        }
    }
    loop {
        let n = forename(rng, list, sex, year);
        if !taken(n) && !one_name(sibling, n) {
            return n;
        }
    }
}

/// The table's own copy of a forename, if it has one (for a son named after his father).
pub(crate) fn same(list: NameList, name: &str) -> Option<&'static str> {
    let t = forenames(list);
    t.eras
        .iter()
        .map(|e| &e.2)
        .chain(t.any.iter().map(|a| &a.1))
        .flat_map(|w| w.values.iter())
        .find(|v| **v == name)
        .copied()
}

struct Surnames {
    common: Weighted,
    tail: Weighted,
    /// (family surname, women's alternative, men's alternative).
    alternatives: Vec<(&'static str, Option<&'static str>, Option<&'static str>)>,
}

fn surnames(list: NameList) -> &'static Surnames {
    static T: [OnceLock<Surnames>; 2] = [OnceLock::new(), OnceLock::new()];
    T[list as usize].get_or_init(|| {
        let mut common = Vec::new();
        let (mut prefixes, mut suffixes) = (Vec::new(), Vec::new());
        let mut alternatives = Vec::new();
        let text = match list {
            NameList::England => include_str!("../data/surnames.txt"),
            NameList::Cities => include_str!("../data/cities/surnames.txt"),
        };
        for l in text.lines() {
            if l.starts_with('#') {
                continue;
            }
            match l.split_once(':') {
                Some(("alternatives", p)) => {
                    for entry in p.split_whitespace() {
                        if let Some((family, alt)) = entry.split_once('=') {
                            let (w, m) = alt.split_once('/').unwrap_or((alt, "-"));
                            let some = |x: &'static str| (x != "-").then_some(x);
                            alternatives.push((family, some(w), some(m)));
                        }
                    }
                }
                Some(("prefixes", p)) => prefixes.extend(p.split_whitespace()),
                Some(("suffixes", p)) => suffixes.extend(p.split_whitespace()),
                _ => common.extend(l.split_whitespace()),
            }
        }
        // Built once for the life of the process.
        let tail: Vec<&'static str> = prefixes
            .iter()
            .flat_map(|p| suffixes.iter().map(move |s| format!("{p}{s}")))
            .map(|n| &*Box::leak(n.into_boxed_str()))
            .collect();
        Surnames {
            common: Weighted::zipf(common, 20.0, 1.0),
            tail: Weighted::zipf(tail, 30.0, 0.5),
            alternatives,
        }
    })
}

/// Share of people with one of the rarer, built surnames.
const TAIL: f64 = 0.4;

/// The alternative surname someone of `sex` with the family surname `family` may use (Kaur or
/// Singh for Sandhu, Begum for Khan), if the list has one.
pub(crate) fn alternative(list: NameList, family: &str, sex: Sex) -> Option<&'static str> {
    surnames(list)
        .alternatives
        .iter()
        .find(|(f, _, _)| *f == family)
        .and_then(|&(_, w, m)| if sex == Sex::Female { w } else { m })
}

/// A surname from `list`.
pub(crate) fn surname<R: Rng + ?Sized>(rng: &mut R, list: NameList) -> &'static str {
    let t = surnames(list);
    if rng.random_bool(TAIL) {
        t.tail.sample(rng)
    } else {
        t.common.sample(rng)
    }
}

/// Everyday forms of a full name (William: Bill, Billy, Will), if it has any.
pub(crate) fn nicknames(full: &str) -> &'static [&'static str] {
    static T: OnceLock<Vec<(&'static str, Vec<&'static str>)>> = OnceLock::new();
    let t = T.get_or_init(|| {
        include_str!("../data/nicknames.txt")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once(':'))
            .map(|(f, n)| (f.trim(), n.split_whitespace().collect()))
            .collect()
    });
    t.iter()
        .find(|(f, _)| *f == full)
        .map_or(&[], |(_, n)| n.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn names_follow_era_and_a_long_tail() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let old: Vec<&str> = (0..2000)
            .map(|_| forename(&mut rng, NameList::England, Sex::Female, 1938))
            .collect();
        let young: Vec<&str> = (0..2000)
            .map(|_| forename(&mut rng, NameList::England, Sex::Female, 2015))
            .collect();
        assert!(old.iter().filter(|n| **n == "Margaret").count() > 50);
        assert!(!young.contains(&"Margaret"));
        assert!(young.iter().filter(|n| **n == "Olivia").count() > 50);
        let s: std::collections::HashSet<&str> = (0..20000)
            .map(|_| surname(&mut rng, NameList::England))
            .collect();
        assert!(s.len() > 600, "a long tail of surnames: {}", s.len());
        let smiths = (0..20000)
            .filter(|_| surname(&mut rng, NameList::England) == "Smith")
            .count();
        assert!(
            (60..400).contains(&smiths),
            "Smith is the commonest but not most: {smiths}"
        );
        assert_eq!(nicknames("William"), ["Bill", "Billy", "Will"]);
        assert!(nicknames("Zoë").is_empty());
        let t = twin_forename(
            &mut rng,
            NameList::England,
            "Sophie",
            Sex::Female,
            1995,
            &|n| n == "Sophie",
        );
        assert_ne!(t, "Sophie");
        assert!(one_name("Muhammad", "Mohammed") && one_name("Harry", "Henry"));
        assert!(
            one_name("Muhammad", "Mohamud"),
            "the Somali spelling, in the cities list"
        );
        assert!(!one_name("Sophie", "Sophia"));
        for _ in 0..200 {
            let t = twin_forename(
                &mut rng,
                NameList::Cities,
                "Muhammad",
                Sex::Male,
                2015,
                &|_| false,
            );
            assert!(!one_name("Muhammad", t), "{t}");
        }
    }

    /// The second list is another list: its common names are mostly not the first's, and its
    /// Sikh and Muslim family names come with Kaur, Singh and Begum.
    #[test]
    fn the_cities_list_has_other_names_and_alternative_surnames() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let draw = |rng: &mut ChaCha8Rng, list| {
            (0..5000)
                .map(|_| surname(rng, list))
                .collect::<std::collections::HashSet<_>>()
        };
        let (a, b) = (
            draw(&mut rng, NameList::England),
            draw(&mut rng, NameList::Cities),
        );
        let shared = a.intersection(&b).count();
        assert!(shared * 5 < b.len(), "{shared} of {} shared", b.len());
        let young: std::collections::HashSet<&str> = (0..2000)
            .map(|_| forename(&mut rng, NameList::Cities, Sex::Male, 2015))
            .collect();
        assert!(young.contains("Muhammad") && !young.contains("Noah"));
        assert_eq!(
            alternative(NameList::Cities, "Gill", Sex::Female),
            Some("Kaur")
        );
        assert_eq!(
            alternative(NameList::Cities, "Gill", Sex::Male),
            Some("Singh")
        );
        assert_eq!(alternative(NameList::Cities, "Khan", Sex::Male), None);
        assert_eq!(alternative(NameList::England, "Gill", Sex::Female), None);
        assert_eq!(NameList::from_name("cities"), Some(NameList::Cities));
    }
}
