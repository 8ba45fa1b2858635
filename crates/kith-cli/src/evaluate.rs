//! `kith evaluate`: pairwise precision, recall and F1 of links or clusters against a labelled sample.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use kith_link::evaluate::{Counts, RecordName, cluster_pairs, evaluate};

use crate::flags::EvaluateArgs;

/// Read a CSV with a header, returning the named columns of each row.
fn read_columns(path: &Path, want: &[&str]) -> Result<Vec<Vec<String>>> {
    let mut r = csv::ReaderBuilder::new()
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let headers = r
        .headers()
        .with_context(|| format!("{}: cannot read the header row", path.display()))?
        .clone();
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
    for (n, rec) in r.records().enumerate() {
        let rec = rec.with_context(|| format!("{}: line {}", path.display(), n + 2))?;
        let mut row = Vec::with_capacity(idx.len());
        for (&i, w) in idx.iter().zip(want) {
            match rec.get(i) {
                Some(v) => row.push(v.trim().to_owned()),
                None => bail!("{}: line {}: no value for {w:?}", path.display(), n + 2),
            }
        }
        out.push(row);
    }
    Ok(out)
}

fn to_map(rows: Vec<Vec<String>>, path: &Path) -> Result<BTreeMap<RecordName, String>> {
    let mut m = BTreeMap::new();
    for (n, mut r) in rows.into_iter().enumerate() {
        let e = r.pop().unwrap_or_default();
        let t = r.pop().unwrap_or_default();
        let s = r.pop().unwrap_or_default();
        if let Some(old) = m.insert((s.clone(), t.clone()), e.clone())
            && old != e
        {
            bail!(
                "{}: line {}: record {s}/{t} is listed twice with different entities",
                path.display(),
                n + 2
            );
        }
    }
    Ok(m)
}

pub(crate) fn run(args: &EvaluateArgs) -> Result<()> {
    let truth = to_map(
        read_columns(&args.truth, &["source", "token", "entity"])?,
        &args.truth,
    )?;
    let predicted: Vec<(RecordName, RecordName)> = if let Some(l) = &args.links {
        read_columns(l, &["source_a", "token_a", "source_b", "token_b"])?
            .into_iter()
            .map(|mut r| {
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
    let line = |name: &str, c: &Counts| {
        format!(
            "{name:<14} precision {:.4}  recall {:.4}  F1 {:.4}  (true positives {}, false positives {}, false negatives {})\n",
            c.precision(),
            c.recall(),
            c.f1(),
            c.true_positives,
            c.false_positives,
            c.false_negatives
        )
    };
    let mut out = String::new();
    out.push_str(&line("cross-source", &e.cross));
    out.push_str(&line("within-source", &e.within));
    if e.unlabelled > 0 {
        out.push_str(&format!(
            "{} predicted pairs involve records the truth does not label; they are left out\n",
            e.unlabelled
        ));
    }
    std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes())
        .context("cannot write to standard output")
}
