//! `kith patterns`: the linkage party's aggregate tables from a families run, protected by
//! suppression (and optional rounding) so that they can go to commissioners.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use kith_link::disclose::{Published, Rules};
use kith_link::patterns::{FamilyFacts, PatternInput, PublishedTable, patterns};

use crate::atomic::AtomicFile;
use crate::csvin::CsvRows;
use crate::flags::PatternsArgs;
use crate::manifest::Manifest;

/// The clusters file a families run read, from its manifest.
pub(crate) fn clusters_of(families: &Path) -> Result<PathBuf> {
    let path = families.join("manifest.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {}: is {} the output folder of a kith families run?",
            path.display(),
            families.display()
        )
    })?;
    let m: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    ensure!(
        m["command"] == "families",
        "{}: the manifest of a kith {} run, not of kith families",
        path.display(),
        m["command"].as_str().unwrap_or("?")
    );
    m["inputs"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["role"] == "clusters"))
        .and_then(|i| i["path"].as_str())
        .map(PathBuf::from)
        .with_context(|| format!("{}: names no clusters input", path.display()))
}

fn column(r: &CsvRows, path: &Path, name: &str) -> Result<usize> {
    r.header()
        .iter()
        .position(|h| h == name)
        .with_context(|| format!("{}: line 1: no column {name:?}", path.display()))
}

/// Read what the patterns are counted from: people from the clusters, families from the families
/// run's two files.
pub(crate) fn read_input(
    families_dir: &Path,
    area_name: Option<&str>,
) -> Result<(PatternInput, Vec<(String, PathBuf)>)> {
    let clusters = clusters_of(families_dir)?;
    let fam_path = families_dir.join("families.csv");
    let mem_path = families_dir.join("members.csv");

    // People: each entity's agencies.
    let mut r = CsvRows::open(&clusters)?;
    let (src, ent) = (
        column(&r, &clusters, "source")?,
        column(&r, &clusters, "entity_id")?,
    );
    let mut people: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    while let Some((_, rec)) = r.next_row()? {
        people
            .entry(rec[ent].to_owned())
            .or_default()
            .insert(rec[src].to_owned());
    }
    // Families: each family's agencies, from its members.
    let mut r = CsvRows::open(&mem_path)?;
    let (fid, src) = (
        column(&r, &mem_path, "family_id")?,
        column(&r, &mem_path, "source")?,
    );
    let mut agencies_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    while let Some((_, rec)) = r.next_row()? {
        agencies_of
            .entry(rec[fid].to_owned())
            .or_default()
            .insert(rec[src].to_owned());
    }
    let agencies: Vec<String> = people
        .values()
        .chain(agencies_of.values())
        .flatten()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    ensure!(
        agencies.len() <= 64,
        "{}: {} agencies; patterns count at most 64",
        clusters.display(),
        agencies.len()
    );
    let mask = |set: &BTreeSet<String>| -> u64 {
        agencies
            .iter()
            .enumerate()
            .filter(|(_, a)| set.contains(*a))
            .fold(0, |m, (i, _)| m | 1 << i)
    };
    // Criteria and areas, from families.csv.
    let mut r = CsvRows::open(&fam_path)?;
    let fid = column(&r, &fam_path, "family_id")?;
    let met = column(&r, &fam_path, "criteria_met")?;
    ensure!(
        met == 4,
        "{}: line 1: expected criteria_met as the fifth column",
        fam_path.display()
    );
    let area = match area_name {
        Some(name) => Some(column(&r, &fam_path, &format!("area:{name}"))?),
        None => r.header().iter().position(|h| h.starts_with("area:")),
    };
    let (criteria_cols, criteria): (Vec<usize>, Vec<String>) =
        crate::families::criteria_columns(r.header())
            .into_iter()
            .unzip();
    ensure!(
        criteria.len() <= 64,
        "{}: {} criteria; patterns count at most 64",
        fam_path.display(),
        criteria.len()
    );
    let mut families = Vec::new();
    while let Some((line, rec)) = r.next_row()? {
        let mut bits = 0u64;
        for (b, &i) in criteria_cols.iter().enumerate() {
            let n: u64 = rec[i].parse().with_context(|| {
                format!(
                    "{}: line {line}: field {}: expected a number",
                    fam_path.display(),
                    criteria[b]
                )
            })?;
            if n > 0 {
                bits |= 1 << b;
            }
        }
        let members = agencies_of.get(&rec[fid]).with_context(|| {
            format!(
                "{}: line {line}: family {} has no members in {}",
                fam_path.display(),
                &rec[fid],
                mem_path.display()
            )
        })?;
        families.push(FamilyFacts {
            agencies: mask(members),
            criteria: bits,
            area: area.map(|a| rec[a].to_owned()).filter(|a| !a.is_empty()),
        });
    }
    let input = PatternInput {
        people: people.values().map(mask).collect(),
        agencies,
        criteria,
        families,
        with_areas: area.is_some(),
    };
    let read = vec![
        ("clusters".to_owned(), clusters),
        ("families".to_owned(), fam_path),
        ("members".to_owned(), mem_path),
    ];
    Ok((input, read))
}

fn write_table(t: &PublishedTable, path: &Path) -> Result<crate::atomic::Committed> {
    let mut f = AtomicFile::create(path)?;
    {
        let mut w = csv::Writer::from_writer(f.writer());
        w.write_record(&t.header)
            .and_then(|()| {
                for (labels, cells) in &t.rows {
                    let mut rec = labels.clone();
                    rec.extend(cells.iter().map(|c| c.to_field()));
                    w.write_record(&rec)?;
                }
                w.flush().map_err(csv::Error::from)
            })
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    f.commit()
}

pub(crate) fn run(args: &PatternsArgs, quiet: bool) -> Result<()> {
    let mut manifest = Manifest::start("patterns");
    ensure!(
        args.threshold >= 1,
        "--threshold must be at least 1 (counts under it are suppressed)"
    );
    let rules = Rules {
        threshold: args.threshold,
        zeros: args.suppress_zeros,
        round: args.round.unwrap_or(1),
    };
    let (input, read) = read_input(&args.families, args.area.as_deref())?;
    let tables = patterns(&input, &rules).context("cannot protect the tables")?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let (mut shown, mut primary, mut secondary) = (0, 0, 0);
    for t in &tables {
        let path = args.output.join(format!("{}.csv", t.name));
        let hash = write_table(t, &path)?;
        manifest.output(
            t.name,
            &path,
            hash,
            "anyone: aggregate counts, small ones suppressed",
        );
        for (_, cells) in &t.rows {
            for c in cells {
                match c {
                    Published::Count(_) => shown += 1,
                    Published::Primary => primary += 1,
                    Published::Secondary => secondary += 1,
                }
            }
        }
    }
    for (role, path) in &read {
        manifest.input(role, path)?;
    }
    manifest.param("threshold", rules.threshold);
    manifest.param("suppress_zeros", rules.zeros);
    manifest.param("round", rules.round);
    manifest.count("people", input.people.len());
    manifest.count("families", input.families.len());
    manifest.count("cells_published", shown);
    manifest.count("cells_suppressed_small", primary);
    manifest.count("cells_suppressed_secondary", secondary);
    manifest.write(&args.output.join("manifest.json"))?;
    if !quiet {
        eprintln!(
            "kith patterns: {} people and {} families of {} agencies; wrote {} to {}",
            input.people.len(),
            input.families.len(),
            input.agencies.len(),
            tables
                .iter()
                .map(|t| format!("{}.csv", t.name))
                .collect::<Vec<_>>()
                .join(", "),
            args.output.display()
        );
        eprintln!(
            "  {shown} counts published{}; {primary} suppressed as under {}, {secondary} more so that no total gives one back (shown as [c]){}",
            if rules.round > 1 {
                format!(" (rounded to the nearest {})", rules.round)
            } else {
                String::new()
            },
            rules.threshold,
            if input.with_areas {
                ""
            } else {
                "; no area table: the encodings carry no area (the schema's kith.area)"
            }
        );
    }
    Ok(())
}
