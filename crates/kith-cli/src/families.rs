//! `kith families`, `kith split` and `kith reveal`: from linked people to families, from the
//! linkage party's results to one file per holder, and from a holder's file to its own records.
//!
//! Files (all CSV, written whole or not at all): `families.csv` and `members.csv` (see
//! `kith_link::identify`);
//! - `<party>.csv` from `kith split`: `token, entity_id, family_id, family_persons,
//!   family_agencies, family_criteria_met` (and `family_criteria`, the names, for the holders named
//!   by `--criteria-to`); from link results only: `token, entity_id, agencies`.
//! - `kith reveal` writes the holder's file with `local_id` in place of `token`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use kith::encodings::parse_token;
use kith_link::identify::{Clusters, identify};

use crate::atomic::AtomicFile;
use crate::csvin::CsvRows;
use crate::flags::{ByPostcode, FamiliesArgs, RevealArgs, SplitArgs};
use crate::manifest::Manifest;
use kith_link::output::csv_field;

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

/// Read clusters.csv (or the clusters.csv in a folder) into the people of a linkage.
fn read_clusters(links: &Path) -> Result<(PathBuf, Clusters)> {
    let path = if links.is_dir() {
        links.join("clusters.csv")
    } else {
        links.to_path_buf()
    };
    let mut r = CsvRows::open(&path)?;
    expect_header(&r, &path, &["source", "token", "entity_id"])?;
    let mut c = Clusters::new();
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
        ensure!(
            c.add(&rec[0], token, &rec[2]),
            "{}: line {line}: record {} of {} appears twice",
            path.display(),
            &rec[1],
            &rec[0]
        );
    }
    Ok((path, c))
}

/// The household columns (`dwelling`, `street`, `register`) each encodings file carries.
fn household_columns(inputs: &[PathBuf]) -> Result<Vec<Vec<String>>> {
    inputs
        .iter()
        .map(|path| {
            let f = std::fs::File::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            let r = kith::encodings::Reader::new(std::io::BufReader::new(f))
                .with_context(|| format!("{}", path.display()))?;
            Ok(r.header().house.clone())
        })
        .collect()
}

/// `kith families`: clusters.csv and the encodings files → [`identify`] → families.csv and
/// members.csv, written whole or not at all, and the summary.
pub(crate) fn run_families(args: &FamiliesArgs, quiet: bool) -> Result<()> {
    let mut manifest = Manifest::start("families");
    let house = household_columns(&args.inputs)?;
    if house.iter().all(Vec::is_empty) {
        let what = "none of the encodings files carries household tokens (the schema's kith.household section: a dwelling or a household register), so every person would be a family of one";
        ensure!(
            args.allow_no_households,
            "{what}; encode with a schema that has a household section, or give --allow-no-households to group them anyway"
        );
        if !quiet {
            eprintln!("kith families: warning: {what}");
        }
    }
    ensure!(
        (0.0..=1.0).contains(&args.area_chance),
        "--area-chance must be from 0 to 1, not {}",
        args.area_chance
    );
    let (clusters_path, clusters) = read_clusters(&args.links)?;
    let evidence = kith_link::identify::Evidence {
        area: (!args.dwellings_only).then_some(args.area_field.as_str()),
        surname: (!args.dwellings_only).then_some(args.surname_field.as_str()),
        area_rule: kith_link::families::AreaRule {
            chance: args.area_chance,
            flagged_only: args.by_postcode == ByPostcode::Flagged,
        },
    };
    let run = identify(&clusters, &clusters_path, &args.inputs, &evidence)?;

    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let fam_path = args.output.join("families.csv");
    let mem_path = args.output.join("members.csv");
    let mut fam = AtomicFile::create(&fam_path)?;
    run.write_families(fam.writer(), args.min_criteria)
        .with_context(|| format!("cannot write {}", fam_path.display()))?;
    let mut mem = AtomicFile::create(&mem_path)?;
    run.write_members(mem.writer(), args.min_criteria)
        .with_context(|| format!("cannot write {}", mem_path.display()))?;
    let to = "the linkage party (kith split gives each holder its own part)";
    manifest.output("families", &fam_path, fam.commit()?, to);
    manifest.output("members", &mem_path, mem.commit()?, to);
    for input in &args.inputs {
        manifest.input("encodings", input)?;
    }
    manifest.input("clusters", &clusters_path)?;
    crate::link::schema_of_inputs(&mut manifest, &args.inputs);
    manifest.param("min_criteria", args.min_criteria);
    manifest.param("area_field", evidence.area);
    manifest.param("surname_field", evidence.surname);
    manifest.param("dwellings_only", args.dwellings_only);
    manifest.param("area_chance", args.area_chance);
    manifest.param(
        "by_postcode",
        match args.by_postcode {
            ByPostcode::Everyone => "everyone",
            ByPostcode::Flagged => "flagged",
        },
    );
    manifest.param("allow_no_households", args.allow_no_households);
    let g = &run.grouping;
    manifest.count("records", run.records());
    manifest.count("people", run.people());
    manifest.count("families", g.families);
    manifest.count("placed_by_postcode_and_surname", g.by_area);
    manifest.count("apart_at_a_dwelling_of_two_streets", g.street_apart);
    let by_criteria: BTreeMap<String, usize> = run
        .by_criteria()
        .iter()
        .map(|(n, f)| (n.to_string(), *f))
        .collect();
    manifest.count("families_by_criteria_met", by_criteria);
    manifest.count("families_written", run.meeting(args.min_criteria));
    manifest.write(&args.output.join("manifest.json"))?;
    if let Some(path) = &args.report {
        let links = crate::atomic::parent_dir(&clusters_path);
        let src = crate::report::Sources {
            links: &links,
            families: Some(&args.output),
            encodes: &[],
            profiles: &[],
            patterns: None,
            truth: None,
        };
        crate::report::write(&src, path)?;
    }
    if quiet {
        return Ok(());
    }
    eprintln!(
        "kith families: {} people in {} families from {} records of {} holders ({})",
        run.people(),
        g.families,
        run.records(),
        run.sources.len(),
        run.sources.join(", ")
    );
    eprintln!(
        "  in a holder's register group: {} people; placed by their household's home (the dwelling most of its records give): {}",
        g.in_register, g.with_home
    );
    eprintln!(
        "  not placed by dwelling because their household's records' dwellings tie (stale addresses): {}; filed in two register groups by one holder: {}",
        g.ambiguous_homes, g.register_conflicts
    );
    if g.street_apart > 0 {
        eprintln!(
            "  at a dwelling two streets share (one postcode and number), with no street of their own, so joined to no one there: {}",
            g.street_apart
        );
    }
    if !args.dwellings_only {
        let who = match args.by_postcode {
            ByPostcode::Everyone => "",
            ByPostcode::Flagged => " and with a criterion",
        };
        eprintln!(
            "  with no dwelling at all{who}, placed by postcode and surname (the one family of their surname in their postcode): {}",
            g.by_area
        );
        if args.by_postcode == ByPostcode::Flagged && run.criteria.is_empty() {
            eprintln!(
                "  no encodings file carries criteria, so no one is placed by postcode and surname; --by-postcode everyone places everyone without a dwelling"
            );
        }
    }
    eprintln!(
        "  criteria and who holds them: {}",
        run.held
            .iter()
            .map(|(c, h)| format!("{c} ({})", h.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    );
    eprintln!(
        "  families by criteria met: {}",
        run.by_criteria()
            .iter()
            .map(|(n, f)| format!("{n}: {f}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    eprintln!(
        "  wrote {} families{} to {} and {}",
        run.meeting(args.min_criteria),
        if args.min_criteria > 0 {
            format!(" meeting {} or more criteria", args.min_criteria)
        } else {
            String::new()
        },
        fam_path.display(),
        mem_path.display()
    );
    Ok(())
}

/// The criteria columns of a families.csv header (after `criteria_met`, but not the `area:`
/// columns), with their indices.
pub(crate) fn criteria_columns(header: &csv::StringRecord) -> Vec<(usize, String)> {
    header
        .iter()
        .enumerate()
        .skip(5)
        .filter(|(_, h)| !h.starts_with("area:"))
        .map(|(i, h)| (i, h.to_owned()))
        .collect()
}

/// One family of families.csv: (persons, agencies, criteria met, names of the criteria met).
type FamilyRow = (String, String, String, Vec<String>);

pub(crate) fn run_split(args: &SplitArgs, quiet: bool) -> Result<BTreeMap<String, usize>> {
    let mut manifest = Manifest::start("split");
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
        let names = criteria_columns(r.header());
        let mut fams: HashMap<String, FamilyRow> = HashMap::new();
        while let Some((line, rec)) = r.next_row()? {
            let mut met = Vec::new();
            for (i, n) in &names {
                let v: u32 = rec[*i].parse().with_context(|| {
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
        counts.insert(party.clone(), rows.len());
        files.push((party, path, f));
    }
    for (party, path, f) in files {
        manifest.output(
            "results",
            &path,
            f.commit()?,
            &format!("holder {party} only"),
        );
    }
    match (&args.families, &args.links) {
        (Some(dir), _) => {
            manifest.input("families", &dir.join("families.csv"))?;
            manifest.input("members", &dir.join("members.csv"))?;
        }
        (None, Some(links)) => {
            let clusters = if links.is_dir() {
                links.join("clusters.csv")
            } else {
                links.clone()
            };
            manifest.input("clusters", &clusters)?;
        }
        (None, None) => {}
    }
    manifest.param("criteria_to", &args.criteria_to);
    manifest.count("records_by_holder", &counts);
    manifest.write(&args.output.join("manifest.json"))?;
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
