//! An identification run (`kith families`): the people of a linkage ([`Clusters`]) and the
//! household tokens and criteria flags of the encodings files, grouped into families
//! ([`crate::families`]) with stable ids, and the families that meet enough criteria written out.
//!
//! Files:
//! - `families.csv`: `family_id, persons, records, agencies, criteria_met`, then one column per
//!   criterion: how many holders flagged it for the family (0: not met); then, where the schema
//!   sends coarse areas in clear (`kith.areas`), one `area:<name>` column each: the area most of
//!   the family's records give (the first in order on a tie; empty when none gives one).
//! - `members.csv`: `family_id, entity_id, source, token`, one row per record.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use kith_core::encodings::Reader;
use kith_core::{Token, hex};
use sha2::{Digest, Sha256};

use crate::LinkError;
use crate::families::{self, Family, Grouping, Member};
use crate::output::csv_field;

/// The people of a linkage: each record's entity, as `clusters.csv` lists them.
#[derive(Debug, Clone, Default)]
pub struct Clusters {
    entity_of: HashMap<String, HashMap<Token, u32>>,
    records: usize,
    ids: Vec<String>,
    index: HashMap<String, u32>,
}

impl Clusters {
    /// No records yet.
    pub fn new() -> Clusters {
        Clusters::default()
    }

    /// Add one record of `source` with its entity id. Returns `false`, adding nothing, when the
    /// record is there already.
    pub fn add(&mut self, source: &str, token: Token, entity_id: &str) -> bool {
        // Strings are allocated once per source and per entity, not once per record.
        if !self.entity_of.contains_key(source) {
            self.entity_of.insert(source.to_owned(), HashMap::new());
        }
        let Some(of_source) = self.entity_of.get_mut(source) else {
            return false;
        };
        if of_source.contains_key(&token) {
            return false;
        }
        let e = match self.index.get(entity_id) {
            Some(&e) => e,
            None => {
                let e = self.ids.len() as u32;
                self.index.insert(entity_id.to_owned(), e);
                self.ids.push(entity_id.to_owned());
                e
            }
        };
        of_source.insert(token, e);
        self.records += 1;
        true
    }

    /// People (entities).
    pub fn people(&self) -> usize {
        self.ids.len()
    }

    /// Records.
    pub fn records(&self) -> usize {
        self.records
    }
}

/// A family's id: a hash of its members' (source, record token) pairs in sorted order, so that it
/// says nothing about any holder's data and is the same whatever the order of the inputs or the
/// threads. Not keyed: it is made from tokens the linkage party holds anyway.
pub fn family_id<'a>(members: impl IntoIterator<Item = (&'a str, &'a Token)>) -> String {
    let mut sorted: Vec<(&str, &Token)> = members.into_iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    h.update(b"kith family v1\0");
    for (source, token) in sorted {
        h.update(source.as_bytes());
        h.update([0]);
        h.update(token);
    }
    hex(&h.finalize()[..8])
}

/// People grouped into families, with their ids and criteria.
#[derive(Debug)]
pub struct Identification {
    /// Every criterion of the run, sorted by name (the order of `families.csv`'s columns).
    pub criteria: Vec<String>,
    /// The holders, in the order their files were given.
    pub sources: Vec<String>,
    /// For each criterion, the holders that hold it.
    pub held: BTreeMap<String, Vec<String>>,
    /// How people were grouped.
    pub grouping: Grouping,
    members: Vec<Member>,
    tokens: Vec<Token>,
    entity_ids: Vec<String>,
    families: Vec<Family>,
    /// (family id, family index), sorted by id; each family's member indices, sorted.
    order: Vec<(String, usize)>,
    of_family: Vec<Vec<usize>>,
    /// The areas' names, sorted; each record's value of each (an index into `area_values`).
    pub areas: Vec<String>,
    record_areas: Vec<Vec<Option<u32>>>,
    area_values: Vec<String>,
}

/// The field-level filters [`families`]' rule 4 compares: a postcode's and a surname's (by
/// name); `None` turns the rule off.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The postcode's field filter.
    pub area: Option<&'a str>,
    /// The surname's field filter.
    pub surname: Option<&'a str>,
    /// How rule 4 places people by postcode and surname.
    pub area_rule: families::AreaRule,
}

/// A hash of field filter `k` of `row`, when there is one (equal filters, equal hashes).
fn field_hash(row: &kith_core::encodings::Row, k: Option<usize>) -> Option<u64> {
    let bytes = row.fields.get(k?)?.as_deref()?;
    let mut h = rustc_hash::FxHasher::default();
    std::hash::Hasher::write(&mut h, bytes);
    Some(std::hash::Hasher::finish(&h))
}

/// Read the encodings files and group their records' people into families. Every record of the
/// files must be in `clusters` (named `clusters_name` in errors) and every clustered record in
/// the files.
pub fn identify(
    clusters: &Clusters,
    clusters_name: &Path,
    inputs: &[PathBuf],
    evidence: &Evidence<'_>,
) -> Result<Identification, LinkError> {
    let mut readers = Vec::with_capacity(inputs.len());
    for path in inputs {
        let f = File::open(path)
            .map_err(|e| LinkError::io(format!("cannot open {}", path.display()), e))?;
        let r = Reader::new(BufReader::with_capacity(1 << 20, f))
            .map_err(|e| LinkError::from(e).in_file(path))?;
        readers.push((path, r));
    }
    // The criteria of all files, sorted by name, so that the output does not depend on the order
    // the files are given in.
    let criteria: Vec<String> = readers
        .iter()
        .flat_map(|(_, r)| r.header().flags.iter().cloned())
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    if criteria.len() > 64 {
        return Err(LinkError::Input("more than 64 criteria in one run".into()));
    }
    let areas: Vec<String> = readers
        .iter()
        .flat_map(|(_, r)| r.header().areas.iter().cloned())
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    let mut record_areas: Vec<Vec<Option<u32>>> = vec![Vec::new(); areas.len()];
    let mut area_values: Vec<String> = Vec::new();
    let mut area_index: HashMap<String, u32> = HashMap::new();
    let mut sources: Vec<String> = Vec::new();
    let mut members: Vec<Member> = Vec::new();
    let mut tokens: Vec<Token> = Vec::new();
    let mut first: Option<(String, String, &PathBuf)> = None;
    let mut held: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let no_records = HashMap::new();
    for (path, mut r) in readers {
        let h = r.header().clone();
        match &first {
            None => first = Some((h.schema_fingerprint.clone(), h.key_check.clone(), path)),
            Some((fp, kc, p)) if (fp, kc) != (&h.schema_fingerprint, &h.key_check) => {
                return Err(LinkError::Input(format!(
                    "{} and {} were not made with the same schema and secret; they cannot be in one run",
                    p.display(),
                    path.display()
                )));
            }
            Some(_) => {}
        }
        if sources.contains(&h.party) {
            return Err(LinkError::Input(format!(
                "{}: the party {:?} is given twice",
                path.display(),
                h.party
            )));
        }
        let source = sources.len() as u32;
        sources.push(h.party.clone());
        let bit: Vec<u32> = h
            .flags
            .iter()
            .map(|f| {
                held.entry(f.clone()).or_default().push(h.party.clone());
                criteria.iter().position(|c| c == f).unwrap_or(0) as u32
            })
            .collect();
        let entity_of = clusters.entity_of.get(&h.party).unwrap_or(&no_records);
        let field =
            |name: Option<&str>| name.and_then(|n| h.fields.iter().position(|f| f.name == n));
        let (area, surname) = (field(evidence.area), field(evidence.surname));
        // Each area of the run: its column in this file, if the file has it.
        let area_cols: Vec<Option<usize>> = areas
            .iter()
            .map(|a| h.areas.iter().position(|x| x == a))
            .collect();
        let dwelling = h.house.iter().position(|x| x == "dwelling");
        let street = h.house.iter().position(|x| x == "street");
        let register = h.house.iter().position(|x| x == "register");
        let mut line = 1u64;
        while let Some(row) = r
            .next_record()
            .map_err(|e| LinkError::from(e).in_file(path))?
        {
            line += 1;
            let entity = *entity_of.get(&row.token).ok_or_else(|| {
                LinkError::Input(format!(
                    "{}: line {line}: record {} is not in {}: were these links made from these files?",
                    path.display(),
                    hex(&row.token),
                    clusters_name.display()
                ))
            })?;
            let flags = row
                .flags
                .iter()
                .zip(&bit)
                .filter(|(f, _)| **f == Some(true))
                .fold(0u64, |acc, (_, b)| acc | 1 << b);
            for (values, col) in record_areas.iter_mut().zip(&area_cols) {
                let v = col.and_then(|c| row.areas[c].as_deref());
                values.push(v.map(|v| match area_index.get(v) {
                    Some(&i) => i,
                    None => {
                        let i = area_values.len() as u32;
                        area_index.insert(v.to_owned(), i);
                        area_values.push(v.to_owned());
                        i
                    }
                }));
            }
            members.push(Member {
                source,
                entity,
                dwelling: dwelling.and_then(|i| row.house[i]),
                street: street.and_then(|i| row.house[i]),
                register: register.and_then(|i| row.house[i]),
                flags,
                area: field_hash(&row, area),
                surname: field_hash(&row, surname),
            });
            tokens.push(row.token);
        }
    }
    if members.len() != clusters.records {
        return Err(LinkError::Input(format!(
            "{} holds {} records but the encodings files {}: give every file that was linked, and only those",
            clusters_name.display(),
            clusters.records,
            members.len()
        )));
    }
    let grouping = families::group(clusters.ids.len(), &members, &evidence.area_rule);
    let described = families::describe(&grouping, &members, criteria.len());
    let mut of_family: Vec<Vec<usize>> = vec![Vec::new(); grouping.families];
    for (i, m) in members.iter().enumerate() {
        of_family[grouping.family[m.entity as usize] as usize].push(i);
    }
    let mut order: Vec<(String, usize)> = of_family
        .iter_mut()
        .enumerate()
        .map(|(f, list)| {
            let key = |i: usize| (sources[members[i].source as usize].as_str(), tokens[i]);
            list.sort_by(|&a, &b| key(a).cmp(&key(b)));
            let id = family_id(
                list.iter()
                    .map(|&i| (sources[members[i].source as usize].as_str(), &tokens[i])),
            );
            (id, f)
        })
        .collect();
    order.sort();
    Ok(Identification {
        criteria,
        sources,
        held,
        grouping,
        members,
        tokens,
        entity_ids: clusters.ids.clone(),
        families: described,
        order,
        of_family,
        areas,
        record_areas,
        area_values,
    })
}

impl Identification {
    /// People in the run.
    pub fn people(&self) -> usize {
        self.entity_ids.len()
    }

    /// Records in the run.
    pub fn records(&self) -> usize {
        self.members.len()
    }

    /// Families by the number of criteria they meet.
    pub fn by_criteria(&self) -> BTreeMap<usize, usize> {
        let mut out = BTreeMap::new();
        for f in &self.families {
            *out.entry(f.criteria_met()).or_default() += 1;
        }
        out
    }

    /// Families meeting at least `min_criteria` criteria.
    pub fn meeting(&self, min_criteria: usize) -> usize {
        self.families
            .iter()
            .filter(|f| f.criteria_met() >= min_criteria)
            .count()
    }

    /// Write `families.csv`: the families meeting at least `min_criteria` criteria, by id.
    pub fn write_families<W: Write>(&self, w: &mut W, min_criteria: usize) -> std::io::Result<()> {
        let mut head = "family_id,persons,records,agencies,criteria_met".to_owned();
        for c in &self.criteria {
            head.push(',');
            head.push_str(&csv_field(c));
        }
        for a in &self.areas {
            head.push(',');
            head.push_str(&csv_field(&format!("area:{a}")));
        }
        writeln!(w, "{head}")?;
        for (id, f) in &self.order {
            let d = &self.families[*f];
            if d.criteria_met() < min_criteria {
                continue;
            }
            let mut line = format!(
                "{id},{},{},{},{}",
                d.persons,
                d.records,
                d.sources.len(),
                d.criteria_met()
            );
            for c in &d.criteria {
                line.push_str(&format!(",{}", c.len()));
            }
            for values in &self.record_areas {
                line.push(',');
                if let Some(a) = self.family_area(values, *f) {
                    line.push_str(a);
                }
            }
            writeln!(w, "{line}")?;
        }
        Ok(())
    }

    /// The area most of family `f`'s records give (of one area's values), the first in order on
    /// a tie.
    fn family_area(&self, values: &[Option<u32>], f: usize) -> Option<&str> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for &i in &self.of_family[f] {
            if let Some(v) = values[i] {
                *counts
                    .entry(self.area_values[v as usize].as_str())
                    .or_default() += 1;
            }
        }
        let best = counts.values().copied().max()?;
        counts.into_iter().find(|&(_, n)| n == best).map(|(a, _)| a)
    }

    /// Write `members.csv`: every record of the families meeting at least `min_criteria`
    /// criteria, by family id, then source and token.
    pub fn write_members<W: Write>(&self, w: &mut W, min_criteria: usize) -> std::io::Result<()> {
        writeln!(w, "family_id,entity_id,source,token")?;
        for (id, f) in &self.order {
            if self.families[*f].criteria_met() < min_criteria {
                continue;
            }
            for &i in &self.of_family[*f] {
                let m = &self.members[i];
                writeln!(
                    w,
                    "{id},{},{},{}",
                    self.entity_ids[m.entity as usize],
                    csv_field(&self.sources[m.source as usize]),
                    hex(&self.tokens[i])
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_ids_depend_on_members_not_their_order() {
        let (a, b) = ([1u8; 16], [2u8; 16]);
        let id = family_id([("council", &a), ("health", &b)]);
        // SHA-256("kith family v1\0" ‖ "council\0" ‖ a ‖ "health\0" ‖ b), first 8 bytes: ids in
        // families.csv files already handed out must not change.
        assert_eq!(id, "2141afe973fbb7f4");
        assert_eq!(family_id([("health", &b), ("council", &a)]), id);
        assert_ne!(family_id([("council", &a)]), id);
        assert_ne!(family_id([("council", &b), ("health", &a)]), id);
    }

    #[test]
    fn clusters_refuse_a_record_twice_and_number_entities_in_order() {
        let mut c = Clusters::new();
        assert!(c.add("council", [1; 16], "e1"));
        assert!(c.add("health", [1; 16], "e1"));
        assert!(c.add("council", [2; 16], "e2"));
        assert!(!c.add("council", [1; 16], "e2"));
        assert_eq!((c.people(), c.records()), (2, 3));
    }
}
