//! `kith synth`: write a synthetic population's agency extracts, their column mappings and the
//! truth, for trying kith and measuring its quality where the answer is known.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use kith_synth::{Agency, Extract, Population};
use rayon::prelude::*;

use crate::atomic::AtomicFile;
use crate::flags::SynthArgs;

/// Write the files of `args`, each whole or not at all.
pub(crate) fn run(args: &SynthArgs, quiet: bool) -> Result<()> {
    anyhow::ensure!(args.people > 0, "--people must be at least 1");
    anyhow::ensure!(
        args.errors.is_finite() && (0.0..=20.0).contains(&args.errors),
        "--errors must be from 0 to 20, found {}",
        args.errors
    );
    let names = kith_synth::NameList::from_name(&args.names)
        .with_context(|| format!("--names: no name list {:?}", args.names))?;
    let start = Instant::now();
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let pop = kith_synth::population_with(
        args.people,
        args.seed,
        kith_synth::Options {
            names,
            errors: args.errors,
            addresses: kith_synth::AddressLines::from_name(&args.addresses)
                .with_context(|| format!("--addresses: no choice {:?}", args.addresses))?,
        },
    );
    let extracts: Vec<Extract> = Agency::ALL
        .par_iter()
        .map(|&a| kith_synth::extract(&pop, a, args.seed))
        .collect();
    for e in &extracts {
        write_extract(&args.output, e)?;
        let mapping = args
            .output
            .join(format!("{}-mapping.json", e.agency.name()));
        write_bytes(&mapping, e.mapping.as_bytes())?;
    }
    write_truth(&args.output.join("truth-local.csv"), &extracts, &pop)?;
    write_households(&args.output.join("households.csv"), &pop)?;
    if !quiet {
        let counts: Vec<String> = extracts
            .iter()
            .map(|e| format!("{} {}", e.agency.name(), e.rows.len()))
            .collect();
        eprintln!(
            "kith: {} people in {} households (seed {}); rows: {}; wrote {} in {:.1} s",
            pop.people.len(),
            pop.households.len(),
            args.seed,
            counts.join(", "),
            args.output.display(),
            start.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn path_of(dir: &Path, agency: Agency) -> PathBuf {
    dir.join(format!("{}.csv", agency.name()))
}

fn write_extract(dir: &Path, e: &Extract) -> Result<()> {
    let path = path_of(dir, e.agency);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&e.header)?;
    for r in &e.rows {
        w.write_record(r)?;
    }
    let bytes = w.into_inner().context("cannot finish the CSV")?;
    if e.agency.windows_1252() {
        // Generated text holds only characters Windows-1252 has (the generator folds the rest).
        let text = String::from_utf8(bytes).context("generated text is UTF-8")?;
        let (encoded, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
        anyhow::ensure!(
            !unmappable,
            "{} holds a character Windows-1252 lacks",
            path.display()
        );
        write_bytes(&path, &encoded)
    } else {
        write_bytes(&path, &bytes)
    }
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = AtomicFile::create(path)?;
    f.writer()
        .write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.commit().map(|_| ())
}

/// truth-local.csv: each row's person and household, the criteria the row is flagged with (names
/// joined by ';'), and whether the person is a twin or triplet.
fn write_truth(path: &Path, extracts: &[Extract], pop: &kith_synth::Population) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    {
        let mut w = csv::Writer::from_writer(f.writer());
        w.write_record([
            "source",
            "local_id",
            "person",
            "household",
            "criteria",
            "multiple_birth",
        ])?;
        for e in extracts {
            for (id, person, household) in &e.truth {
                let p = &pop.people[*person as usize - 1];
                let criteria: Vec<&str> = e
                    .agency
                    .criteria()
                    .iter()
                    .filter(|(c, _)| p.meets(*c))
                    .map(|(c, _)| c.name())
                    .collect();
                w.write_record([
                    e.agency.name(),
                    id,
                    &format!("P{person}"),
                    &format!("F{household}"),
                    &criteria.join(";"),
                    if p.multiple_birth { "1" } else { "" },
                ])?;
            }
        }
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    f.commit().map(|_| ())
}

fn write_households(path: &Path, pop: &Population) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    {
        let mut w = csv::Writer::from_writer(f.writer());
        w.write_record([
            "household",
            "kind",
            "postcode",
            "address",
            "previous_postcode",
            "members",
        ])?;
        let mut members = vec![0u32; pop.households.len()];
        for p in &pop.people {
            members[p.household as usize - 1] += 1;
        }
        for h in &pop.households {
            let previous = h.previous.as_ref().map_or("", |p| p.0.as_str());
            w.write_record([
                format!("F{}", h.id).as_str(),
                h.kind.name(),
                &h.postcode,
                &h.address,
                previous,
                &members[h.id as usize - 1].to_string(),
            ])?;
        }
        w.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    f.commit().map(|_| ())
}
