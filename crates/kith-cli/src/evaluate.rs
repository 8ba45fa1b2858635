//! `kith evaluate`: pairwise precision, recall and F1 of links or clusters against a labelled sample.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use kith_link::evaluate::{Counts, RecordName, cluster_pairs, evaluate, evaluate_families};

use crate::csvin::CsvRows;
use crate::flags::EvaluateArgs;

/// Read a CSV with a header, returning the line and the named columns of each row.
pub(crate) fn read_columns(path: &Path, want: &[&str]) -> Result<Vec<(u64, Vec<String>)>> {
    let mut r = CsvRows::open(path)?;
    let headers = r.header().clone();
    let idx: Vec<usize> = want
        .iter()
        .map(|w| {
            headers
                .iter()
                .position(|h| h.trim() == *w)
                .with_context(|| {
                    format!(
                        "{}: no column {w:?} (the header has: {})",
                        path.display(),
                        headers.iter().collect::<Vec<_>>().join(", ")
                    )
                })
        })
        .collect::<Result<_>>()?;
    let mut out = Vec::new();
    while let Some((line, rec)) = r.next_row()? {
        // Every row has the header's fields (`next_row` refuses others), so each index is in it.
        out.push((
            line,
            idx.iter().map(|&i| rec[i].trim().to_owned()).collect(),
        ));
    }
    Ok(out)
}

pub(crate) fn to_map(
    rows: Vec<(u64, Vec<String>)>,
    path: &Path,
) -> Result<BTreeMap<RecordName, String>> {
    let mut m = BTreeMap::new();
    for (line, mut r) in rows {
        let e = r.pop().unwrap_or_default();
        let t = r.pop().unwrap_or_default();
        let s = r.pop().unwrap_or_default();
        if let Some(old) = m.insert((s.clone(), t.clone()), e.clone())
            && old != e
        {
            bail!(
                "{}: line {line}: record {s}/{t} is listed twice with different entities",
                path.display()
            );
        }
    }
    Ok(m)
}

/// Score families against a truth with household and criteria columns.
fn families(args: &EvaluateArgs, dir: &Path) -> Result<String> {
    let mut names: BTreeMap<String, u32> = BTreeMap::new();
    let mut households: BTreeMap<String, u32> = BTreeMap::new();
    let mut truth: BTreeMap<RecordName, (u32, u64)> = BTreeMap::new();
    for (_, r) in read_columns(&args.truth, &["source", "token", "household", "criteria"])? {
        let mut bits = 0u64;
        for c in r[3].split(';').map(str::trim).filter(|c| !c.is_empty()) {
            let next = names.len() as u32;
            let i = *names.entry(c.to_owned()).or_insert(next);
            anyhow::ensure!(i < 64, "{}: more than 64 criteria", args.truth.display());
            bits |= 1 << i;
        }
        let next = households.len() as u32;
        let h = *households.entry(r[2].clone()).or_insert(next);
        truth.insert((r[0].clone(), r[1].clone()), (h, bits));
    }
    let fam_path = dir.join("families.csv");
    let mut index: BTreeMap<String, u32> = BTreeMap::new();
    let mut met: Vec<usize> = Vec::new();
    for (_, r) in read_columns(&fam_path, &["family_id", "criteria_met"])? {
        let n: usize = r[1].parse().with_context(|| {
            format!(
                "{}: criteria_met {:?} is not a number",
                fam_path.display(),
                r[1]
            )
        })?;
        index.insert(r[0].clone(), met.len() as u32);
        met.push(n);
    }
    let mem_path = dir.join("members.csv");
    let mut records = Vec::new();
    let mut unlabelled = 0;
    let mut seen = 0usize;
    for (_, r) in read_columns(&mem_path, &["family_id", "source", "token"])? {
        let f = *index.get(&r[0]).with_context(|| {
            format!(
                "{}: family {} is not in {}",
                mem_path.display(),
                r[0],
                fam_path.display()
            )
        })?;
        match truth.get(&(r[1].clone(), r[2].clone())) {
            Some(&(h, bits)) => {
                seen += 1;
                records.push((f, h, bits));
            }
            None => unlabelled += 1,
        }
    }
    // Every labelled record must be in some family, or the households are scored on a part of
    // their records: the output of an identification run (--min-criteria) holds only some.
    anyhow::ensure!(
        seen == truth.len(),
        "{} of the truth's records are in no family of {}: score the output of `kith families` without --min-criteria (it holds every family), from the same link",
        truth.len() - seen,
        mem_path.display()
    );
    let s = evaluate_families(&records, &met, args.min_criteria);
    let mut out = line("families", &s.pairs);
    out.push_str(&line(
        &format!(">={} criteria", args.min_criteria),
        &s.identified,
    ));
    out.push_str(&format!(
        "(families: pairs of records put in one family, against pairs from one true household; >={n} criteria: families meeting {n} or more criteria, each right when most of its records come from one true household that meets them and it holds most of that household's records)\n",
        n = args.min_criteria
    ));
    if unlabelled > 0 {
        out.push_str(&format!(
            "{unlabelled} family members are not in the truth; they are left out\n"
        ));
    }
    Ok(out)
}

fn line(name: &str, c: &Counts) -> String {
    format!(
        "{name:<14} precision {:.4}  recall {:.4}  F1 {:.4}  (true positives {}, false positives {}, false negatives {})\n",
        c.precision(),
        c.recall(),
        c.f1(),
        c.true_positives,
        c.false_positives,
        c.false_negatives
    )
}

pub(crate) fn run(args: &EvaluateArgs) -> Result<()> {
    let mut out = String::new();
    if let Some(dir) = &args.families {
        out.push_str(&families(args, dir)?);
    }
    if args.families.is_none() || args.links.is_some() || args.clusters.is_some() {
        out.push_str(&persons(args)?);
    }
    std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes())
        .context("cannot write to standard output")
}

fn persons(args: &EvaluateArgs) -> Result<String> {
    let truth = to_map(
        read_columns(&args.truth, &["source", "token", "entity"])?,
        &args.truth,
    )?;
    let predicted: Vec<(RecordName, RecordName)> = if let Some(l) = &args.links {
        read_columns(l, &["source_a", "token_a", "source_b", "token_b"])?
            .into_iter()
            .map(|(_, mut r)| {
                let tb = r.pop().unwrap_or_default();
                let sb = r.pop().unwrap_or_default();
                let ta = r.pop().unwrap_or_default();
                let sa = r.pop().unwrap_or_default();
                ((sa, ta), (sb, tb))
            })
            .collect()
    } else if let Some(c) = &args.clusters {
        cluster_pairs(&to_map(
            read_columns(c, &["source", "token", "entity_id"])?,
            c,
        )?)
    } else {
        bail!("give --links or --clusters");
    };
    let e = evaluate(&truth, predicted);
    let mut out = String::new();
    out.push_str(&line("cross-source", &e.cross));
    out.push_str(&line("within-source", &e.within));
    if e.by_sources.len() > 1 {
        out.push_str(
            "by sources (a source with itself: its duplicates):
",
        );
        for ((a, b), c) in &e.by_sources {
            out.push_str(&format!("  {}", line(&format!("{a}-{b}"), c)));
        }
    }
    if e.unlabelled > 0 {
        out.push_str(&format!(
            "{} predicted pairs involve records the truth does not label; they are left out\n",
            e.unlabelled
        ));
    }
    Ok(out)
}
