//! Families: linked people grouped into households, from the household tokens holders encode.
//!
//! The linkage party knows, for every record, its entity (the person it was linked to), and the
//! keyed household tokens its holder sent: a dwelling token (postcode and house or flat number),
//! a street token (postcode and street word) and a register token (the holder's own household
//! grouping, such as a council's household register, keyed to that holder). It never sees an
//! address. The rules:
//!
//! 1. **A holder's register** places a person in the group most of their records at that holder
//!    carry; a tie (a person the holder files in two households) places them in neither. People
//!    in one register group are one household.
//! 2. **A household's home** is the dwelling token most of its members' records carry (a person in
//!    no register group is a household of one). When two dwellings tie (one agency holds the new
//!    address, another the old), the household has no home: a stale address never outvotes the
//!    current one, and one member's stale record is outvoted by the rest of the household.
//! 3. **A family** is a connected group of households that share a home. Surnames play no part,
//!    so a step-family whose children carry another surname stays together; neighbours and the
//!    flats of one building have other dwelling tokens and stay apart. Two dwellings of one
//!    postcode and number (12 Mill Lane, Flat 12 Oak House) share a dwelling token but not a
//!    street token: where a home's households give two streets (each household the street most
//!    of its records at home give), they join only households of their own street.
//! 4. **Partial evidence.** A household none of whose records carries a dwelling (its people are
//!    known only to holders without an address line) joins a family when, in the postcode its
//!    records give (by majority), exactly one family with a home there has a member of one of its
//!    surnames. Postcode and surname are compared as the linkage party already can: equal
//!    field-level filters (see [`Member::area`]). Two families of that surname in the postcode
//!    (neighbours, flats of one building) place no one; a household with a home, or whose
//!    dwellings tie, is never moved. Nor is one whose rarest shared surname is so common that
//!    another household of the postcode would carry it by chance (see [`AREA_CHANCE`]), or one a
//!    holder's register files apart from the family's people. By default only households that
//!    carry a criterion are placed so ([`AreaRule`]): weak evidence joins people only where an
//!    identification hangs on it.
//!
//! Grouping is a pure function of its input, taken in order, so the result does not depend on
//! threads. Families are then described ([`describe`]) by who knows them and which criteria their
//! members' records carry.

use rustc_hash::{FxHashMap, FxHashSet};

pub use kith_core::Token;

/// One record, as families see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// The holder (an index into the caller's list of sources).
    pub source: u32,
    /// The entity (person) it was linked to, an index from 0.
    pub entity: u32,
    /// Its dwelling token, if its holder had the address.
    pub dwelling: Option<Token>,
    /// Its street token (the postcode and the address line's street word), if it has a dwelling
    /// token and its line a street word.
    pub street: Option<Token>,
    /// Its register token, if its holder keeps a register and filed it.
    pub register: Option<Token>,
    /// The criteria its holder flagged it with, a bit per criterion.
    pub flags: u64,
    /// Its postcode, as a hash of its postcode field filter (equal values give equal filters), if
    /// it has one.
    pub area: Option<u64>,
    /// Its surname, as a hash of its surname field filter, if it has one.
    pub surname: Option<u64>,
}

/// How people were grouped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grouping {
    /// The family (an index from 0, numbered in order of each family's first entity) of each
    /// entity.
    pub family: Vec<u32>,
    /// Number of families.
    pub families: usize,
    /// People whose household (rule 2) has a home.
    pub with_home: usize,
    /// People whose household's records' dwellings tie, so who have no home by dwelling.
    pub ambiguous_homes: usize,
    /// People whose home two streets share, while their household gives no street, so who join no
    /// one there.
    pub street_apart: usize,
    /// People placed in a register group.
    pub in_register: usize,
    /// People a holder files in two register groups equally often (placed in neither).
    pub register_conflicts: usize,
    /// People placed by postcode and surname (rule 4).
    pub by_area: usize,
}

struct UnionFind(Vec<u32>);

impl UnionFind {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.0[x as usize] != x {
            let up = self.0[self.0[x as usize] as usize];
            self.0[x as usize] = up;
            x = up;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        // The smaller index is the root, so the result does not depend on the order of unions.
        if ra < rb {
            self.0[rb as usize] = ra;
        } else if rb < ra {
            self.0[ra as usize] = rb;
        }
    }
}

/// The highest chance, in rule 4, that another household of the postcode carries the shared surname
/// (the share of people carrying it, times the postcode's homes) at which a household is placed,
/// unless the run sets another. A Singh or Kaur where one person in twenty carries the name, in a
/// postcode of ten homes, is over it; hardly any surname of an English name list is.
pub const AREA_CHANCE: f64 = 0.2;

/// How rule 4 (postcode and surname) places people.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaRule {
    /// The highest chance of a namesake household at which a household is placed
    /// ([`AREA_CHANCE`] by default).
    pub chance: f64,
    /// Place only households one of whose records carries a criterion: weak evidence joins
    /// people only where an identification hangs on it.
    pub flagged_only: bool,
}

/// Only flagged households, at [`AREA_CHANCE`]: where only one holder has address lines, placing
/// everyone joins several times more neighbours (docs/design.md, Families).
impl Default for AreaRule {
    fn default() -> AreaRule {
        AreaRule {
            chance: AREA_CHANCE,
            flagged_only: true,
        }
    }
}

/// The value with strictly the most votes, if one has.
fn majority<K: Copy + Eq + std::hash::Hash>(votes: &FxHashMap<K, u32>) -> Option<K> {
    let best = votes.values().copied().max()?;
    let mut top = votes.iter().filter(|(_, n)| **n == best);
    let first = top.next().map(|(k, _)| *k);
    if top.next().is_some() { None } else { first }
}

/// Group `entities` people into families by the rules of this module, rule 4 as `area` says. Every
/// member's entity must be below `entities`.
pub fn group(entities: usize, members: &[Member], area: &AreaRule) -> Grouping {
    // Each entity's records, in input order.
    let mut by_entity: Vec<Vec<u32>> = vec![Vec::new(); entities];
    for (i, m) in members.iter().enumerate() {
        by_entity[m.entity as usize].push(i as u32);
    }
    let mut g = Grouping::default();

    // Rule 1: register groups, holder by holder (in order, for determinism).
    let mut households = UnionFind((0..entities as u32).collect());
    let mut first_in_group: FxHashMap<(u32, Token), u32> = FxHashMap::default();
    let mut registers: FxHashMap<(u32, Token), u32> = FxHashMap::default();
    for (e, records) in by_entity.iter().enumerate() {
        let e = e as u32;
        registers.clear();
        for &r in records {
            let m = &members[r as usize];
            if let Some(t) = m.register {
                *registers.entry((m.source, t)).or_default() += 1;
            }
        }
        let mut sources: Vec<u32> = registers.keys().map(|k| k.0).collect();
        sources.sort_unstable();
        sources.dedup();
        let mut placed = false;
        for s in sources {
            let of_source: FxHashMap<Token, u32> = registers
                .iter()
                .filter(|(k, _)| k.0 == s)
                .map(|(k, n)| (k.1, *n))
                .collect();
            match majority(&of_source) {
                Some(t) => {
                    placed = true;
                    let first = *first_in_group.entry((s, t)).or_insert(e);
                    households.union(first, e);
                }
                None => g.register_conflicts += 1,
            }
        }
        g.in_register += usize::from(placed);
    }

    // Rule 2: each household's home, from all its members' records.
    let mut votes: FxHashMap<u32, FxHashMap<Token, u32>> = FxHashMap::default();
    for m in members {
        if let Some(d) = m.dwelling {
            let h = households.find(m.entity);
            *votes.entry(h).or_default().entry(d).or_default() += 1;
        }
    }
    let mut size: FxHashMap<u32, usize> = FxHashMap::default();
    for e in 0..entities as u32 {
        *size.entry(households.find(e)).or_default() += 1;
    }

    // Rule 3: households sharing a home are one family; households are taken in order of their
    // root entity, so that the result does not depend on hash order.
    let mut uf = UnionFind((0..entities as u32).collect());
    for e in 0..entities as u32 {
        let h = households.find(e);
        if h != e {
            uf.union(h, e);
        }
    }
    // A household's street is the street token most of its records at its home carry. Where the
    // households of one home give two streets, the home is two dwellings that share a postcode and
    // a number (12 Mill Lane and Flat 12, Oak House): households join only those of their street,
    // and one that gives none joins no one.
    let mut homes: Vec<(u32, Token)> = Vec::new();
    for h in 0..entities as u32 {
        if households.find(h) != h {
            continue;
        }
        let Some(v) = votes.get(&h) else { continue };
        match majority(v) {
            Some(home) => {
                g.with_home += size[&h];
                homes.push((h, home));
            }
            None => g.ambiguous_homes += size[&h],
        }
    }
    let home_of: FxHashMap<u32, Token> = homes.iter().copied().collect();
    let mut street_votes: FxHashMap<u32, FxHashMap<Token, u32>> = FxHashMap::default();
    for m in members {
        let h = households.find(m.entity);
        if let (Some(s), Some(home)) = (m.street, home_of.get(&h))
            && m.dwelling == Some(*home)
        {
            *street_votes.entry(h).or_default().entry(s).or_default() += 1;
        }
    }
    let street_of = |h: u32| street_votes.get(&h).and_then(majority);
    let mut streets_at: FxHashMap<Token, Vec<Token>> = FxHashMap::default();
    for &(h, home) in &homes {
        if let Some(s) = street_of(h) {
            let list = streets_at.entry(home).or_default();
            if !list.contains(&s) {
                list.push(s);
            }
        }
    }
    let mut first_at_home: FxHashMap<(Token, Option<Token>), u32> = FxHashMap::default();
    for &(h, home) in &homes {
        let key = if streets_at.get(&home).is_some_and(|l| l.len() > 1) {
            match street_of(h) {
                Some(s) => (home, Some(s)),
                None => {
                    g.street_apart += size[&h];
                    continue;
                }
            }
        } else {
            (home, None)
        };
        let first = *first_at_home.entry(key).or_insert(h);
        uf.union(first, h);
    }

    // Rule 4: households with no dwelling at all, by postcode and surname. Families and their
    // surnames are read before any join, so one join never enables another.
    let mut home_area: FxHashMap<Token, FxHashMap<u64, u32>> = FxHashMap::default();
    let mut surnames: FxHashMap<u32, Vec<u64>> = FxHashMap::default();
    // The register groups (holder, token) each family's and each household's records are filed in.
    let mut filed: FxHashMap<u32, Vec<(u32, Token)>> = FxHashMap::default();
    for m in members {
        if let (Some(d), Some(a)) = (m.dwelling, m.area) {
            *home_area.entry(d).or_default().entry(a).or_default() += 1;
        }
        if let Some(s) = m.surname {
            surnames.entry(uf.find(m.entity)).or_default().push(s);
        }
        if let Some(t) = m.register {
            filed
                .entry(uf.find(m.entity))
                .or_default()
                .push((m.source, t));
        }
    }
    // Families with a home, by the postcode their home's records give.
    let mut at_area: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    for h in 0..entities as u32 {
        if households.find(h) != h {
            continue;
        }
        let Some(home) = votes.get(&h).and_then(majority) else {
            continue;
        };
        if let Some(a) = home_area.get(&home).and_then(majority) {
            let f = uf.find(h);
            let list = at_area.entry(a).or_default();
            if !list.contains(&f) {
                list.push(f);
            }
        }
    }
    let mut area_votes: FxHashMap<u32, FxHashMap<u64, u32>> = FxHashMap::default();
    let mut own_surnames: FxHashMap<u32, Vec<u64>> = FxHashMap::default();
    let mut flagged: FxHashSet<u32> = FxHashSet::default();
    for m in members {
        let h = households.find(m.entity);
        if votes.contains_key(&h) {
            continue;
        }
        if m.flags != 0 {
            flagged.insert(h);
        }
        if let Some(a) = m.area {
            *area_votes.entry(h).or_default().entry(a).or_default() += 1;
        }
        if let Some(s) = m.surname {
            own_surnames.entry(h).or_default().push(s);
        }
    }
    // How many people carry each surname: a shared surname is weaker evidence the more common it
    // is.
    let mut carriers: FxHashMap<u64, u32> = FxHashMap::default();
    let mut named = 0u32;
    let mut own: Vec<u64> = Vec::new();
    for records in &by_entity {
        own.clear();
        own.extend(records.iter().filter_map(|&r| members[r as usize].surname));
        own.sort_unstable();
        own.dedup();
        for &s in &own {
            *carriers.entry(s).or_default() += 1;
        }
        named += u32::from(!own.is_empty());
    }
    let mut joins = Vec::new();
    for h in 0..entities as u32 {
        if households.find(h) != h || votes.contains_key(&h) {
            continue;
        }
        let (Some(a), Some(names)) = (area_votes.get(&h).and_then(majority), own_surnames.get(&h))
        else {
            continue;
        };
        if area.flagged_only && !flagged.contains(&h) {
            continue;
        }
        let mut fits = at_area.get(&a).into_iter().flatten().filter(|f| {
            surnames
                .get(f)
                .is_some_and(|theirs| theirs.iter().any(|s| names.contains(s)))
        });
        // A holder that files the household in a register group the family has none of its
        // records in, while filing the family's people elsewhere, says they live apart.
        let theirs = filed.get(&uf.find(h)).map_or(&[][..], Vec::as_slice);
        let apart = |f: u32| {
            let family = filed.get(&f).map_or(&[][..], Vec::as_slice);
            theirs.iter().any(|&(source, t)| {
                !family.contains(&(source, t)) && family.iter().any(|&(s, _)| s == source)
            })
        };
        if let (Some(&f), None) = (fits.next(), fits.next()) {
            // The chance that another household of the postcode (one of about as many as it has
            // homes) carries the rarest surname shared.
            let rarest = surnames[&f]
                .iter()
                .filter(|s| names.contains(s))
                .map(|s| carriers.get(s).copied().unwrap_or(0))
                .min()
                .unwrap_or(0);
            let homes = at_area.get(&a).map_or(0, Vec::len);
            let chance = f64::from(rarest) / f64::from(named.max(1)) * homes as f64;
            if chance <= area.chance && !apart(f) {
                joins.push((h, f));
            }
        }
    }
    for (h, f) in joins {
        g.by_area += size[&h];
        uf.union(f, h);
    }

    // Number the families in order of their first entity.
    let mut number: FxHashMap<u32, u32> = FxHashMap::default();
    g.family = (0..entities as u32)
        .map(|e| {
            let root = uf.find(e);
            let next = number.len() as u32;
            *number.entry(root).or_insert(next)
        })
        .collect();
    g.families = number.len();
    g
}

/// One family, described.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Family {
    /// Its people.
    pub persons: u32,
    /// Its records.
    pub records: u32,
    /// The holders that know it (sorted source indices).
    pub sources: Vec<u32>,
    /// Per criterion (bit order of [`Member::flags`]), the holders that flagged one of its
    /// records (sorted source indices); empty where the criterion is not met.
    pub criteria: Vec<Vec<u32>>,
}

impl Family {
    /// The number of criteria met.
    pub fn criteria_met(&self) -> usize {
        self.criteria.iter().filter(|c| !c.is_empty()).count()
    }
}

/// Describe each family of `grouping`: its size, its holders and, for each of `criteria`
/// criteria, which holders flagged it.
pub fn describe(grouping: &Grouping, members: &[Member], criteria: usize) -> Vec<Family> {
    let mut out = vec![
        Family {
            criteria: vec![Vec::new(); criteria],
            ..Family::default()
        };
        grouping.families
    ];
    for &f in &grouping.family {
        out[f as usize].persons += 1;
    }
    for m in members {
        let f = &mut out[grouping.family[m.entity as usize] as usize];
        f.records += 1;
        if !f.sources.contains(&m.source) {
            f.sources.push(m.source);
        }
        for (c, holders) in f.criteria.iter_mut().enumerate() {
            if m.flags >> c & 1 == 1 && !holders.contains(&m.source) {
                holders.push(m.source);
            }
        }
    }
    for f in &mut out {
        f.sources.sort_unstable();
        for c in &mut f.criteria {
            c.sort_unstable();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNCIL: u32 = 0;
    const HEALTH: u32 = 1;
    const POLICE: u32 = 2;

    /// Rule 4 for everyone: most tests' people carry no criterion.
    const EVERYONE: AreaRule = AreaRule {
        chance: AREA_CHANCE,
        flagged_only: false,
    };

    fn m(source: u32, entity: u32, dwelling: u8, register: u8, flags: u64) -> Member {
        Member {
            source,
            entity,
            dwelling: (dwelling != 0).then_some([dwelling; 16]),
            street: None,
            register: (register != 0).then_some([register; 16]),
            flags,
            area: None,
            surname: None,
        }
    }

    /// A record with a postcode (`area`) and a surname, and no dwelling unless given.
    fn at(source: u32, entity: u32, dwelling: u8, area: u64, surname: u64) -> Member {
        Member {
            area: Some(area),
            surname: Some(surname),
            ..m(source, entity, dwelling, 0, 0)
        }
    }

    /// People 0 to `n - 1` after `first`, each alone at a home of their own in a postcode of their
    /// own (a town around a test's street); the first `common` of them carry `surname`, the rest
    /// a surname of their own.
    fn town(first: u32, n: u32, common: u32, surname: u64) -> Vec<Member> {
        (0..n)
            .map(|i| {
                let e = first + i;
                let mut home = [0xee; 16];
                home[..4].copy_from_slice(&e.to_le_bytes());
                Member {
                    dwelling: Some(home),
                    ..at(
                        COUNCIL,
                        e,
                        0,
                        1000 + u64::from(e),
                        if i < common {
                            surname
                        } else {
                            5000 + u64::from(e)
                        },
                    )
                }
            })
            .collect()
    }

    /// Postcode 10: the Smiths (surname 100) at dwelling 1, persons 0 and 1; the Joneses
    /// (surname 200) at dwelling 2, person 2; all known to the council.
    fn smiths_and_joneses() -> Vec<Member> {
        vec![
            at(COUNCIL, 0, 1, 10, 100),
            at(COUNCIL, 1, 1, 10, 100),
            at(COUNCIL, 2, 2, 10, 200),
        ]
    }

    /// A record at `dwelling` whose address line gives street `street` (0 for none).
    fn on(source: u32, entity: u32, dwelling: u8, street: u8, register: u8) -> Member {
        Member {
            street: (street != 0).then_some([street; 16]),
            ..m(source, entity, dwelling, register, 0)
        }
    }

    #[test]
    fn households_of_one_dwelling_token_on_two_streets_stay_apart() {
        // Dwelling 1 is two dwellings of one postcode and number: 12 Mill Lane (street 7:
        // persons 0 and 1, one register household) and Flat 12, Oak House (street 8: person 2,
        // and person 3 at the health service). Person 4's line gives no street word, so they
        // join neither.
        let members = vec![
            on(COUNCIL, 0, 1, 7, 9),
            on(COUNCIL, 1, 1, 7, 9),
            on(COUNCIL, 2, 1, 8, 0),
            on(HEALTH, 3, 1, 8, 0),
            on(COUNCIL, 4, 1, 0, 0),
        ];
        let g = group(5, &members, &EVERYONE);
        assert_eq!(g.family, [0, 0, 1, 1, 2]);
        assert_eq!(g.street_apart, 1);
        assert_eq!(g.with_home, 5);
    }

    #[test]
    fn one_street_or_none_at_a_dwelling_token_joins_everyone_there() {
        // A household of three whose records give street 7 twice and a misspelt street 8 once
        // is on street 7, with person 3 there; person 4 gives no street, and no two streets
        // meet at the dwelling, so all are one family.
        let members = vec![
            on(COUNCIL, 0, 1, 7, 9),
            on(COUNCIL, 1, 1, 7, 9),
            on(COUNCIL, 2, 1, 8, 9),
            on(HEALTH, 3, 1, 7, 0),
            on(HEALTH, 4, 1, 0, 0),
        ];
        let g = group(5, &members, &EVERYONE);
        assert_eq!(g.family, [0; 5]);
        assert_eq!(g.street_apart, 0);
    }

    #[test]
    fn a_person_without_an_address_line_joins_the_one_family_of_their_surname_in_their_postcode() {
        // Postcode 10: the Smiths at dwelling 1 (persons 0, 1), the Joneses at dwelling 2
        // (person 2). Person 3, a Smith known only to the school and health (postcode, no address
        // line), joins the Smiths; person 4, a Patel there, joins no one. Around them, a town of
        // 100 with other surnames.
        let mut members = smiths_and_joneses();
        members.extend([
            at(HEALTH, 3, 0, 10, 100),
            at(POLICE, 3, 0, 10, 100),
            at(HEALTH, 4, 0, 10, 300),
        ]);
        members.extend(town(5, 100, 0, 0));
        let g = group(105, &members, &EVERYONE);
        assert_eq!(g.family[..5], [0, 0, 1, 0, 2]);
        assert_eq!(g.by_area, 1);
    }

    #[test]
    fn a_stricter_chance_keeps_a_person_of_a_rarer_surname_apart() {
        // The Smiths of the first test: three carriers in 104 people, two homes in the postcode,
        // a chance of about 0.06 of a namesake household, over a run's limit of 0.01.
        let mut members = smiths_and_joneses();
        members.push(at(HEALTH, 3, 0, 10, 100));
        members.extend(town(4, 100, 0, 0));
        let at = |chance| AreaRule {
            chance,
            flagged_only: false,
        };
        assert_eq!(group(104, &members, &at(0.1)).by_area, 1);
        let g = group(104, &members, &at(0.01));
        assert_eq!(g.family[..4], [0, 0, 1, 2]);
        assert_eq!(g.by_area, 0);
    }

    #[test]
    fn flagged_only_places_only_people_who_carry_a_criterion() {
        // Two people without an address line: person 3, flagged by the police, a Smith in
        // postcode 10 beside the Smiths of dwelling 1; person 4, flagged by no one, a Patel in
        // postcode 20 beside the Patels of dwelling 2. With `flagged_only` only person 3 is
        // placed.
        let mut members = vec![
            at(COUNCIL, 0, 1, 10, 100),
            at(COUNCIL, 1, 1, 10, 100),
            at(COUNCIL, 2, 2, 20, 300),
            at(POLICE, 3, 0, 10, 100),
            at(HEALTH, 4, 0, 20, 300),
        ];
        members[3].flags = 1;
        members.extend(town(5, 100, 0, 0));
        let all = group(105, &members, &EVERYONE);
        assert_eq!(all.family[..5], [0, 0, 1, 0, 1]);
        let rule = AreaRule {
            flagged_only: true,
            ..AreaRule::default()
        };
        let g = group(105, &members, &rule);
        assert_eq!(g.family[..5], [0, 0, 1, 0, 2]);
        assert_eq!(g.by_area, 1);
    }

    #[test]
    fn a_common_surname_places_no_one() {
        // As above, but one person in five of the town is a Smith: another household of the
        // postcode could as well be Smiths by chance, so person 3 stays apart.
        let mut members = smiths_and_joneses();
        members.push(at(HEALTH, 3, 0, 10, 100));
        members.extend(town(4, 100, 20, 100));
        let g = group(104, &members, &EVERYONE);
        assert_eq!(g.family[..4], [0, 0, 1, 2]);
        assert_eq!(g.by_area, 0);
    }

    #[test]
    fn a_holder_filing_a_person_apart_from_the_family_keeps_them_apart() {
        // Person 2's council record has an address line but no postcode (so no dwelling); the
        // council files them in register group 9, the Smiths of dwelling 1 in group 7: another
        // household, whatever the surname says. Filed nowhere, they join.
        let filed = |register| {
            let mut members = vec![
                Member {
                    register: Some([7; 16]),
                    ..at(COUNCIL, 0, 1, 10, 100)
                },
                Member {
                    register: Some([7; 16]),
                    ..at(COUNCIL, 1, 1, 10, 100)
                },
                Member {
                    register,
                    area: None,
                    ..at(COUNCIL, 2, 0, 10, 100)
                },
                at(HEALTH, 2, 0, 10, 100),
            ];
            members.extend(town(3, 100, 0, 0));
            group(103, &members, &EVERYONE)
        };
        let g = filed(Some([9; 16]));
        assert_ne!(g.family[2], g.family[0]);
        assert_eq!(g.by_area, 0);
        let g = filed(None);
        assert_eq!(g.family[2], g.family[0]);
        assert_eq!(g.by_area, 1);
    }

    #[test]
    fn two_families_of_one_surname_in_a_postcode_place_no_one() {
        // Neighbours (or flats of one building) at dwellings 1 and 2, both Smiths in postcode 10:
        // a Smith without an address line could belong to either, so stays apart.
        let members = [
            at(COUNCIL, 0, 1, 10, 100),
            at(COUNCIL, 1, 2, 10, 100),
            at(HEALTH, 2, 0, 10, 100),
        ];
        let g = group(3, &members, &EVERYONE);
        assert_eq!(g.families, 3);
        assert_eq!(g.by_area, 0);
        // A person whose records give a dwelling is never moved by postcode, nor one in another
        // postcode.
        let members = [
            at(COUNCIL, 0, 1, 10, 100),
            at(HEALTH, 1, 3, 10, 100),
            at(HEALTH, 2, 0, 11, 100),
        ];
        let g = group(3, &members, &EVERYONE);
        assert_eq!(g.families, 3);
    }

    #[test]
    fn households_stay_together_and_neighbours_apart() {
        // Family at dwelling 1: mother 0, her son 1 by an earlier partner (another surname, which
        // families never look at), stepfather 2 known only to the police at the same dwelling.
        // Neighbour 3 at dwelling 2; flat 4 at dwelling 3 of the same building.
        let members = [
            m(COUNCIL, 0, 1, 7, 0),
            m(HEALTH, 0, 1, 0, 0b100),
            m(COUNCIL, 1, 1, 7, 0),
            m(HEALTH, 1, 0, 0, 0),
            m(POLICE, 2, 1, 0, 0b001),
            m(COUNCIL, 3, 2, 8, 0b001),
            m(HEALTH, 4, 3, 0, 0),
        ];
        let g = group(5, &members, &EVERYONE);
        assert_eq!(g.family, [0, 0, 0, 1, 2]);
        assert_eq!(g.families, 3);
        let f = describe(&g, &members, 3);
        assert_eq!(f[0].persons, 3);
        assert_eq!(f[0].records, 5);
        assert_eq!(f[0].sources, [COUNCIL, HEALTH, POLICE]);
        assert_eq!(f[0].criteria, [vec![POLICE], vec![], vec![HEALTH]]);
        assert_eq!(f[0].criteria_met(), 2);
        assert_eq!(f[1].criteria_met(), 1);
    }

    #[test]
    fn a_stale_address_never_joins_a_family_to_the_new_occupants() {
        // Person 0 moved from dwelling 5 to dwelling 6: the council and health know the new home,
        // the police the old one, where person 1 lives now.
        let members = [
            m(COUNCIL, 0, 6, 0, 0),
            m(HEALTH, 0, 6, 0, 0),
            m(POLICE, 0, 5, 0, 0),
            m(COUNCIL, 1, 5, 0, 0),
        ];
        let g = group(2, &members, &EVERYONE);
        assert_ne!(g.family[0], g.family[1]);
        // With one record at each, the person has no home by dwelling at all.
        let members = [
            m(COUNCIL, 0, 6, 0, 0),
            m(POLICE, 0, 5, 0, 0),
            m(COUNCIL, 1, 5, 0, 0),
        ];
        let g = group(2, &members, &EVERYONE);
        assert_ne!(g.family[0], g.family[1]);
        assert_eq!(g.ambiguous_homes, 1);
    }

    #[test]
    fn one_members_stale_address_is_outvoted_by_the_rest_of_the_household() {
        // The council's household 4: persons 0 and 1, at dwelling 6 now. Person 1's records
        // both carry the old dwelling 5 (the council and health were not told), where person 2
        // lives now. The household's home is 6 (three records to two), so person 2 stays apart.
        let members = [
            m(COUNCIL, 0, 6, 4, 0),
            m(HEALTH, 0, 6, 0, 0),
            m(POLICE, 0, 6, 0, 0),
            m(COUNCIL, 1, 5, 4, 0),
            m(HEALTH, 1, 5, 0, 0),
            m(COUNCIL, 2, 5, 9, 0),
        ];
        let g = group(3, &members, &EVERYONE);
        assert_eq!(g.family[0], g.family[1]);
        assert_ne!(g.family[1], g.family[2]);
        assert_eq!(g.with_home, 3);
    }

    #[test]
    fn registers_group_only_within_their_holder_and_conflicts_place_no_one() {
        // One register token value at two holders means nothing: registers are per holder.
        let members = [m(COUNCIL, 0, 0, 9, 0), m(HEALTH, 1, 0, 9, 0)];
        assert_eq!(group(2, &members, &EVERYONE).families, 2);
        // Person 1 is filed in two of the council's households equally often (two people linked
        // as one, or a move within the council): joined to neither.
        let members = [
            m(COUNCIL, 0, 0, 1, 0),
            m(COUNCIL, 1, 0, 1, 0),
            m(COUNCIL, 1, 0, 2, 0),
            m(COUNCIL, 2, 0, 2, 0),
        ];
        let g = group(3, &members, &EVERYONE);
        assert_eq!(g.families, 3);
        assert_eq!(g.register_conflicts, 1);
    }

    #[test]
    fn grouping_does_not_depend_on_the_order_of_records_within_a_person() {
        let a = [
            m(COUNCIL, 0, 1, 3, 0),
            m(HEALTH, 0, 2, 0, 0),
            m(HEALTH, 1, 2, 0, 0),
            m(COUNCIL, 1, 2, 3, 0),
            m(POLICE, 2, 1, 0, 0),
        ];
        let mut b = a;
        b.reverse();
        assert_eq!(
            group(3, &a, &EVERYONE).family,
            group(3, &b, &EVERYONE).family
        );
    }
}
