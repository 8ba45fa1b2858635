//! `kith families`, `kith split` and `kith reveal`: from linked people to families, from the
//! linkage party's results to one file per holder, and from a holder's file to its own records.
//!
//! Files (all CSV, written whole or not at all):
//! - `families.csv`: `family_id, persons, records, agencies, criteria_met`, then one column per
//!   criterion: how many holders flagged it for the family (0: not met).
//! - `members.csv`: `family_id, entity_id, source, token`, one row per record.
//! - `<party>.csv` from `kith split`: `token, entity_id, family_id, family_persons,
//!   family_agencies, family_criteria_met` (and `family_criteria`, the names, for the holders named
//!   by `--criteria-to`); from link results only: `token, entity_id, agencies`.
//! - `kith reveal` writes the holder's file with `local_id` in place of `token`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use kith::encodings::{Reader, parse_token};
use kith_link::families::{self, Member, Token};
use sha2::{Digest, Sha256};

use crate::atomic::AtomicFile;
use crate::csvin::CsvRows;
use crate::flags::{FamiliesArgs, RevealArgs, SplitArgs};
use crate::link::csv_field;

/// Check a CSV header starts with `want`.
fn expect_header(r: &CsvRows, path: &Path, want: &[&str]) -> Result<()> {
    let h = r.header();
    ensure!(
        h.iter().take(want.len()).eq(want.iter().copied()),
        "{}: line 1: expected the columns {} (found {})",
        path.display(),
        want.join(","),
        h.iter().collect::<Vec<_>>().join(",")
    );
    Ok(())
}

/// clusters.csv: source → token → entity index, and the entity ids.
struct Clusters {
    entity_of: HashMap<String, HashMap<Token, u32>>,
    records: usize,
    ids: Vec<String>,
}

fn read_clusters(links: &Path) -> Result<(PathBuf, Clusters)> {
    let path = if links.is_dir() {
        links.join("clusters.csv")
    } else {
        links.to_path_buf()
    };
    let mut r = CsvRows::open(&path)?;
    expect_header(&r, &path, &["source", "token", "entity_id"])?;
    let mut c = Clusters {
        entity_of: HashMap::new(),
        records: 0,
        ids: Vec::new(),
    };
    let mut index: HashMap<String, u32> = HashMap::new();
    while let Some((line, rec)) = r.next_row()? {
        let token = parse_token(&rec[1]).with_context(|| {
            format!(
                "{}: line {line}: field token: expected 32 hexadecimal digits",
                path.display()
            )
        })?;
        ensure!(
            !rec[2].is_empty(),
            "{}: line {line}: field entity_id is empty",
            path.display()
        );
        let next = index.len() as u32;
        let e = *index.entry(rec[2].to_owned()).or_insert(next);
        if e == next {
            c.ids.push(rec[2].to_owned());
        }
        c.records += 1;
        if c.entity_of
            .entry(rec[0].to_owned())
            .or_default()
            .insert(token, e)
            .is_some()
        {
            bail!(
                "{}: line {line}: record {} of {} appears twice",
                path.display(),
                &rec[1],
                &rec[0]
            );
        }
    }
    Ok((path, c))
}

pub(crate) fn run_families(args: &FamiliesArgs, quiet: bool) -> Result<()> {
    let say = |m: String| {
        if !quiet {
            eprintln!("{m}");
        }
    };
    let (clusters_path, clusters) = read_clusters(&args.links)?;
    // Every file's header first: the criteria of all files, sorted by name, so that the output
    // does not depend on the order the files are given in.
    let mut readers = Vec::with_capacity(args.inputs.len());
    for path in &args.inputs {
        let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let r = Reader::new(BufReader::with_capacity(1 << 20, f))
            .with_context(|| path.display().to_string())?;
        readers.push((path, r));
    }
    let criteria: Vec<String> = readers
        .iter()
        .flat_map(|(_, r)| r.header().flags.iter().cloned())
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    ensure!(criteria.len() <= 64, "more than 64 criteria in one run");
    let mut sources: Vec<String> = Vec::new();
    let mut members: Vec<Member> = Vec::new();
    let mut tokens: Vec<Token> = Vec::new();
    let mut check: Option<(String, String, PathBuf)> = None;
    let mut held: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, mut r) in readers {
        let h = r.header().clone();
        let this = (h.schema_fingerprint.clone(), h.key_check.clone());
        match &check {
            None => check = Some((this.0, this.1, path.clone())),
            Some((fp, kc, first)) => ensure!(
                (fp, kc) == (&this.0, &this.1),
                "{} and {} were not made with the same schema and secret; they cannot be in one run",
                first.display(),
                path.display()
            ),
        }
        ensure!(
            !sources.contains(&h.party),
            "{}: the party {:?} is given twice",
            path.display(),
            h.party
        );
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
        let no_records = HashMap::new();
        let entity_of = clusters.entity_of.get(&h.party).unwrap_or(&no_records);
        let dwelling = h.house.iter().position(|x| x == "dwelling");
        let register = h.house.iter().position(|x| x == "register");
        let mut line = 1u64;
        while let Some(row) = r
            .next_record()
            .with_context(|| path.display().to_string())?
        {
            line += 1;
            let entity = *entity_of.get(&row.token).with_context(|| {
                    format!(
                        "{}: line {line}: record {} is not in {}: were these links made from these files?",
                        path.display(),
                        kith::hex(&row.token),
                        clusters_path.display()
                    )
                })?;
            let mut flags = 0u64;
            for (f, b) in row.flags.iter().zip(&bit) {
                if *f == Some(true) {
                    flags |= 1 << b;
                }
            }
            members.push(Member {
                source,
                entity,
                dwelling: dwelling.and_then(|i| row.house[i]),
                register: register.and_then(|i| row.house[i]),
                flags,
            });
            tokens.push(row.token);
        }
    }
    ensure!(
        members.len() == clusters.records,
        "{} holds {} records but the encodings files {}: give every file that was linked, and only those",
        clusters_path.display(),
        clusters.records,
        members.len()
    );
    let grouping = families::group(clusters.ids.len(), &members);
    let described = families::describe(&grouping, &members, criteria.len());

    // A family's id: a hash of its members' record tokens, so that it says nothing about any
    // holder's data and is the same whatever the order of the inputs or the threads.
    let mut of_family: Vec<Vec<usize>> = vec![Vec::new(); grouping.families];
    for (i, m) in members.iter().enumerate() {
        of_family[grouping.family[m.entity as usize] as usize].push(i);
    }
    let mut rows: Vec<(String, usize)> = of_family
        .iter_mut()
        .enumerate()
        .map(|(f, list)| {
            list.sort_by(|&a, &b| {
                (&sources[members[a].source as usize], tokens[a])
                    .cmp(&(&sources[members[b].source as usize], tokens[b]))
            });
            let mut h = Sha256::new();
            h.update(b"kith family v1\0");
            for &i in list.iter() {
                h.update(sources[members[i].source as usize].as_bytes());
                h.update([0]);
                h.update(tokens[i]);
            }
            (kith::hex(&h.finalize()[..8]), f)
        })
        .collect();
    rows.sort();

    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let fam_path = args.output.join("families.csv");
    let mem_path = args.output.join("members.csv");
    let mut fam = AtomicFile::create(&fam_path)?;
    let mut mem = AtomicFile::create(&mem_path)?;
    let ctx = |p: &Path| format!("cannot write {}", p.display());
    {
        let w = fam.writer();
        let mut head = "family_id,persons,records,agencies,criteria_met".to_owned();
        for c in &criteria {
            head.push(',');
            head.push_str(&csv_field(c));
        }
        writeln!(w, "{head}").with_context(|| ctx(&fam_path))?;
    }
    writeln!(mem.writer(), "family_id,entity_id,source,token").with_context(|| ctx(&mem_path))?;
    let mut by_criteria: BTreeMap<usize, usize> = BTreeMap::new();
    let mut written = 0;
    for (id, f) in &rows {
        let d = &described[*f];
        *by_criteria.entry(d.criteria_met()).or_default() += 1;
        if d.criteria_met() < args.min_criteria {
            continue;
        }
        written += 1;
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
        writeln!(fam.writer(), "{line}").with_context(|| ctx(&fam_path))?;
        for &i in &of_family[*f] {
            let m = &members[i];
            writeln!(
                mem.writer(),
                "{id},{},{},{}",
                clusters.ids[m.entity as usize],
                csv_field(&sources[m.source as usize]),
                kith::hex(&tokens[i])
            )
            .with_context(|| ctx(&mem_path))?;
        }
    }
    fam.commit()?;
    mem.commit()?;

    say(format!(
        "kith families: {} people in {} families from {} records of {} holders ({})",
        clusters.ids.len(),
        grouping.families,
        members.len(),
        sources.len(),
        sources.join(", ")
    ));
    say(format!(
        "  in a holder's register group: {} people; placed by their household's home (the dwelling most of its records give): {}",
        grouping.in_register, grouping.with_home
    ));
    say(format!(
        "  not placed by dwelling because their household's records' dwellings tie (stale addresses): {}; filed in two register groups by one holder: {}",
        grouping.ambiguous_homes, grouping.register_conflicts
    ));
    say(format!(
        "  criteria and who holds them: {}",
        held.iter()
            .map(|(c, h)| format!("{c} ({})", h.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    say(format!(
        "  families by criteria met: {}",
        by_criteria
            .iter()
            .map(|(n, f)| format!("{n}: {f}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    say(format!(
        "  wrote {written} families{} to {} and {}",
        if args.min_criteria > 0 {
            format!(" meeting {} or more criteria", args.min_criteria)
        } else {
            String::new()
        },
        fam_path.display(),
        mem_path.display()
    ));
    Ok(())
}

/// One family of families.csv: (persons, agencies, criteria met, names of the criteria met).
type FamilyRow = (String, String, String, Vec<String>);

pub(crate) fn run_split(args: &SplitArgs, quiet: bool) -> Result<BTreeMap<String, usize>> {
    // Per holder: its rows, each already formatted after the token.
    let mut per: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let header: String;
    if let Some(dir) = &args.families {
        let fam_path = dir.join("families.csv");
        let mut r = CsvRows::open(&fam_path)?;
        expect_header(
            &r,
            &fam_path,
            &[
                "family_id",
                "persons",
                "records",
                "agencies",
                "criteria_met",
            ],
        )?;
        let names: Vec<String> = r.header().iter().skip(5).map(str::to_owned).collect();
        let mut fams: HashMap<String, FamilyRow> = HashMap::new();
        while let Some((line, rec)) = r.next_row()? {
            let mut met = Vec::new();
            for (i, n) in names.iter().enumerate() {
                let v: u32 = rec[5 + i].parse().with_context(|| {
                    format!(
                        "{}: line {line}: field {n}: expected a number of holders",
                        fam_path.display()
                    )
                })?;
                if v > 0 {
                    met.push(n.clone());
                }
            }
            fams.insert(
                rec[0].to_owned(),
                (rec[1].to_owned(), rec[3].to_owned(), rec[4].to_owned(), met),
            );
        }
        let mem_path = dir.join("members.csv");
        let mut r = CsvRows::open(&mem_path)?;
        expect_header(
            &r,
            &mem_path,
            &["family_id", "entity_id", "source", "token"],
        )?;
        while let Some((line, rec)) = r.next_row()? {
            let (persons, agencies, met, names) = fams.get(&rec[0]).with_context(|| {
                format!(
                    "{}: line {line}: family {} is not in {}",
                    mem_path.display(),
                    &rec[0],
                    fam_path.display()
                )
            })?;
            let mut rest = format!("{},{},{persons},{agencies},{met}", &rec[1], &rec[0]);
            if args.criteria_to.iter().any(|p| p == &rec[2]) {
                rest.push(',');
                rest.push_str(&csv_field(&names.join(";")));
            }
            per.entry(rec[2].to_owned())
                .or_default()
                .push((rec[3].to_owned(), rest));
        }
        for p in &args.criteria_to {
            ensure!(
                per.contains_key(p),
                "--criteria-to {p}: no holder of that name is in {} (holders: {})",
                mem_path.display(),
                per.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        header = "token,entity_id,family_id,family_persons,family_agencies,family_criteria_met"
            .to_owned();
    } else {
        let dir = args.links.as_ref().context("give --families or --links")?;
        let path = dir.join("clusters.csv");
        let mut r = CsvRows::open(&path)?;
        expect_header(&r, &path, &["source", "token", "entity_id"])?;
        let mut rows: Vec<(String, String, String)> = Vec::new();
        let mut holders: HashMap<String, BTreeSet<String>> = HashMap::new();
        while let Some((_, rec)) = r.next_row()? {
            holders
                .entry(rec[2].to_owned())
                .or_default()
                .insert(rec[0].to_owned());
            rows.push((rec[0].to_owned(), rec[1].to_owned(), rec[2].to_owned()));
        }
        for (source, token, entity) in rows {
            let n = holders[&entity].len();
            per.entry(source)
                .or_default()
                .push((token, format!("{entity},{n}")));
        }
        header = "token,entity_id,agencies".to_owned();
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let mut files = Vec::new();
    let mut counts = BTreeMap::new();
    for (party, mut rows) in per {
        ensure!(
            !party.is_empty()
                && party
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
                && !party.starts_with('.'),
            "the party name {party:?} cannot be a file name"
        );
        // Sorted by token: the order says nothing about families or input order.
        rows.sort();
        let path = args.output.join(format!("{party}.csv"));
        let mut f = AtomicFile::create(&path)?;
        let w = f.writer();
        let with_names = args.criteria_to.contains(&party);
        writeln!(
            w,
            "{header}{}",
            if with_names { ",family_criteria" } else { "" }
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
        for (token, rest) in &rows {
            writeln!(w, "{token},{rest}")
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        counts.insert(party, rows.len());
        files.push(f);
    }
    for f in files {
        f.commit()?;
    }
    if !quiet {
        eprintln!(
            "kith split: {} in {}",
            counts
                .iter()
                .map(|(p, n)| format!("{p}.csv ({n} records)"))
                .collect::<Vec<_>>()
                .join(", "),
            args.output.display()
        );
    }
    Ok(counts)
}

pub(crate) fn run_reveal(args: &RevealArgs, quiet: bool) -> Result<usize> {
    let mut r = CsvRows::open(&args.map)?;
    expect_header(&r, &args.map, &["token", "local_id"])?;
    let mut local: HashMap<String, String> = HashMap::new();
    while let Some((_, rec)) = r.next_row()? {
        local.insert(rec[0].to_owned(), rec[1].to_owned());
    }
    let mut r = CsvRows::open(&args.input)?;
    let head = r.header().clone();
    ensure!(
        head.get(0) == Some("token"),
        "{}: line 1: expected a results file from `kith split` (first column token)",
        args.input.display()
    );
    let mut out = AtomicFile::create(&args.output)?;
    let ctx = || format!("cannot write {}", args.output.display());
    let mut w = csv::Writer::from_writer(out.writer());
    let mut fields: Vec<&str> = vec!["local_id"];
    fields.extend(head.iter().skip(1));
    w.write_record(&fields).with_context(ctx)?;
    let mut n = 0;
    while let Some((line, rec)) = r.next_row()? {
        let id = local.get(&rec[0]).with_context(|| {
            format!(
                "{}: line {line}: token {} is not in your map {}: is this your results file, and the map you kept when you encoded?",
                args.input.display(),
                &rec[0],
                args.map.display()
            )
        })?;
        let mut row: Vec<&str> = vec![id.as_str()];
        row.extend(rec.iter().skip(1));
        w.write_record(&row).with_context(ctx)?;
        n += 1;
    }
    w.flush().with_context(ctx)?;
    drop(w);
    out.commit()?;
    if !quiet {
        eprintln!(
            "kith reveal: {n} of your records joined to your local IDs in {}",
            args.output.display()
        );
    }
    Ok(n)
}
