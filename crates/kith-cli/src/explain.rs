//! `kith explain`: one pair's evidence as a waterfall, from a finished run's own model and
//! encodings (checked against its manifest, so that the explanation is of the data that was
//! linked); and, for a holder, its local IDs turned into record tokens through its map.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use kith_link::Dataset;
use kith_link::dataset::Ids;
use kith_link::explain::{Contradiction, Exact, Explanation, explain};
use kith_link::weigh::{self, LEVELS, Model, NLEVELS, Twin};
use serde_json::Value;

use crate::csvin::CsvRows;
use crate::flags::ExplainArgs;
use crate::manifest::{ManifestFile, hash_file};

pub(crate) fn run(args: &ExplainArgs, out: &mut impl Write) -> Result<()> {
    if let Some(map) = &args.map {
        return tokens_of(map, &args.ids, out);
    }
    let Some(dir) = &args.links else {
        bail!("give --links DIR and two record tokens (or --row), or --map MAP and local IDs");
    };
    let (a, b) = match (&args.row, args.ids.as_slice()) {
        (Some(row), []) => {
            let f: Vec<&str> = row.split(',').map(str::trim).collect();
            ensure!(
                f.len() >= 4,
                "--row: expected a row of links.csv or review.csv (source_a,token_a,source_b,token_b,score)"
            );
            ((Some(f[0]), f[1]), (Some(f[2]), f[3]))
        }
        (None, [x, y]) => ((None, x.as_str()), (None, y.as_str())),
        _ => bail!("give two record tokens, or --row with a row of links.csv or review.csv"),
    };
    let run = LinkedRun::open(dir)?;
    let ra = run.find(a.0, a.1)?;
    let rb = run.find(b.0, b.1)?;
    let said = run.outcome(dir, a.1, b.1)?;
    let Some(model) = &run.model else {
        return write_clk(out, &run, ra, rb, &said).context("cannot write to standard output");
    };
    let e = explain(&run.datasets, model, ra, rb, run.within_multiple(ra, rb))
        .with_context(|| format!("cannot explain the pair from {}", dir.display()))?;
    write_waterfall(out, &run, ra, rb, &e, &said).context("cannot write to standard output")
}

/// A finished run's encodings (as its manifest names them, unchanged) and model.
pub(crate) struct LinkedRun {
    pub(crate) datasets: Vec<Dataset>,
    /// With field scoring: the fitted model.
    pub(crate) model: Option<Model>,
    /// Each source's share of duplicates as a multiple of the model's pooled one, as the run
    /// wrote them into model.json (none: 1).
    within: Vec<(String, f64)>,
    /// The threshold the run used.
    threshold: Option<f64>,
    /// Whether the run wrote a review band.
    review: bool,
}

impl LinkedRun {
    pub(crate) fn open(dir: &Path) -> Result<LinkedRun> {
        let at = dir.join("manifest.json");
        let text = std::fs::read_to_string(&at).with_context(|| {
            format!(
                "cannot read {}: is {} a kith link output folder?",
                at.display(),
                dir.display()
            )
        })?;
        let m: ManifestFile = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a kith run manifest", at.display()))?;
        ensure!(
            m.command == "link",
            "{}: the manifest of a {} run, not of a link",
            at.display(),
            m.command
        );
        ensure!(
            m.parameters.get("chunk").is_none_or(Value::is_null),
            "{}: a run in chunks fits a model per chunk, which explain cannot tell apart",
            dir.display()
        );
        let mut datasets = Vec::new();
        for input in m.inputs.iter().filter(|i| i.role.starts_with("encodings")) {
            let path = Path::new(&input.path);
            let (sha, _) = hash_file(path).with_context(|| {
                format!(
                    "the run's input {} is needed to explain its pairs",
                    path.display()
                )
            })?;
            ensure!(
                sha == input.sha256,
                "{} has changed since the run (its SHA-256 is not the manifest's): explain needs the encodings that were linked",
                path.display()
            );
            datasets.push(kith_link::input::read_dataset(path)?);
        }
        // Only the files this run wrote: a model.json or review.csv an earlier run left in the
        // folder is not this run's.
        let wrote = |role: &str| m.outputs.iter().any(|o| o.role == role);
        let model_path = dir.join("model.json");
        let model_json = wrote("model")
            .then(|| read_json_value(&model_path))
            .transpose()
            .with_context(|| format!("cannot read {}", model_path.display()))?;
        let model = model_json
            .as_ref()
            .map(|v| Model::from_json(v).map_err(anyhow::Error::msg))
            .transpose()
            .with_context(|| format!("cannot read {}", model_path.display()))?;
        let within = model_json
            .as_ref()
            .and_then(|v| v["within_sources"].as_object())
            .map(|o| {
                o.iter()
                    .filter_map(|(s, m)| Some((s.clone(), m.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let threshold = m.parameters.get("threshold_used").and_then(Value::as_f64);
        Ok(LinkedRun {
            datasets,
            model,
            within,
            threshold,
            review: wrote("review"),
        })
    }

    /// The multiple of the pooled share of duplicates a pair of records `a` and `b` took: its
    /// source's, for a pair within one source; else 1.
    pub(crate) fn within_multiple(&self, a: (usize, usize), b: (usize, usize)) -> f64 {
        if a.0 != b.0 {
            return 1.0;
        }
        let source = &self.datasets[a.0].source;
        self.within
            .iter()
            .find(|(s, _)| s == source)
            .map_or(1.0, |&(_, m)| m)
    }

    /// The dataset and row of a record token (of `source`, when given).
    pub(crate) fn find(&self, source: Option<&str>, token: &str) -> Result<(usize, usize)> {
        let want = kith::encodings::parse_token(token)
            .with_context(|| format!("{token:?} is not a record token (32 hexadecimal digits)"))?;
        for (i, d) in self.datasets.iter().enumerate() {
            if source.is_some_and(|s| s != d.source) {
                continue;
            }
            if let Ids::Tokens(t) = d.ids()
                && let Some(r) = t.iter().position(|x| *x == want)
            {
                return Ok((i, r));
            }
        }
        bail!(
            "no record {token}{} in the run's encodings",
            source.map(|s| format!(" of {s}")).unwrap_or_default()
        )
    }

    /// What became of the pair: its row in links.csv or review.csv, if it has one.
    fn outcome(&self, dir: &Path, a: &str, b: &str) -> Result<String> {
        for (file, what) in [
            ("links.csv", "linked"),
            (
                "review.csv",
                "listed for review (the band, a possible twin, or a pair the solver did not link)",
            ),
        ] {
            let path = dir.join(file);
            if file == "review.csv" && !self.review {
                continue;
            }
            let mut r = CsvRows::open(&path)?;
            while let Some((_, rec)) = r.next_row()? {
                if (rec[1] == *a && rec[3] == *b) || (rec[1] == *b && rec[3] == *a) {
                    let how = match (self.model.is_some(), rec[0] == rec[2]) {
                        (true, false) => {
                            " (the model's probability after the one-partner view of each record's candidates, and with --dedupe, of the partners each record has elsewhere)"
                        }
                        (true, true) => {
                            " (the model's probability with the source's own share of duplicates, which the run prints, and the chance its records' partners elsewhere are not two people)"
                        }
                        (false, _) => "",
                    };
                    return Ok(format!("{what}: {file} gives the pair {}{how}", &rec[4]));
                }
            }
        }
        Ok(
            "neither linked nor in the review band (links.csv and review.csv do not hold it)"
                .to_owned(),
        )
    }
}

fn read_json_value(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)?;
    Ok(serde_json::from_str(&text)?)
}

pub(crate) fn level_name(level: Option<usize>) -> String {
    match level {
        None => "missing".to_owned(),
        Some(0) => format!("disagree (Dice < {:.2})", LEVELS[LEVELS.len() - 1]),
        Some(l) => format!("Dice ≥ {:.2}", LEVELS[NLEVELS - 1 - l]),
    }
}

fn write_waterfall(
    out: &mut impl Write,
    run: &LinkedRun,
    (i, ra): (usize, usize),
    (j, rb): (usize, usize),
    e: &Explanation,
    said: &str,
) -> std::io::Result<()> {
    let (da, db) = (&run.datasets[i], &run.datasets[j]);
    let kind = if e.kind == weigh::CROSS {
        "across sources"
    } else {
        "within one source"
    };
    writeln!(
        out,
        "kith explain: {} {} and {} {} ({kind})",
        da.source,
        da.id(ra),
        db.source,
        db.id(rb)
    )?;
    writeln!(out, "  CLK Dice {:.3}", e.dice)?;
    writeln!(
        out,
        "  prior: {:.3e} of pairs {kind} are matches, so a pair is even odds from weight {:+.2}",
        e.prior, e.even_weight
    )?;
    writeln!(
        out,
        "  {:<22} {:<26} {:>8} {:>9}",
        "field", "level", "weight", "running"
    )?;
    let mut total = 0.0;
    for f in &e.fields {
        total += f.weight;
        writeln!(
            out,
            "  {:<22} {:<26} {:>+8.2} {:>+9.2}",
            f.name,
            level_name(f.level),
            f.weight,
            total
        )?;
    }
    total += e.tf_adjustment;
    writeln!(
        out,
        "  {:<22} {:<26} {:>+8.2} {:>+9.2}",
        "term frequency", "rare values agreeing", e.tf_adjustment, total
    )?;
    writeln!(
        out,
        "  weight {:+.2} against {:+.2} to be even odds: the model's match probability {:.6}",
        e.weight, e.even_weight, e.probability
    )?;
    write_exact(out, &e.exact)?;
    let against = e.twin == Twin::Like || e.contradicts != Contradiction::No;
    if against && e.exact.iter().any(|(_, x)| *x == Exact::Agree) {
        writeln!(
            out,
            "  twin rule: {}, but an exact identifier agrees, which outweighs it: not set aside",
            if e.twin == Twin::Like {
                "looks like twins"
            } else {
                "its shared fields contradict it"
            }
        )?;
    } else if against && !e.set_aside {
        writeln!(
            out,
            "  twin rule: {}: neither linked nor set aside",
            if e.twin == Twin::Like {
                "looks like twins, but the pair scores too low to be a candidate and would not match on the fields twins share"
            } else {
                "its shared fields contradict it, but the pair scores too low to be a candidate"
            }
        )?;
    } else if e.twin == Twin::Like {
        writeln!(
            out,
            "  twin rule: looks like twins, so set aside: never linked, and it keeps their groups apart"
        )?;
    } else if e.twin == Twin::Unsure {
        writeln!(
            out,
            "  twin rule: the forename is missing on one side, so this pair alone cannot tell a duplicate from a twin: a candidate only when the two records have the same other partners"
        )?;
    } else if e.contradicts == Contradiction::Wholly {
        writeln!(
            out,
            "  twin rule: every shared field wholly differs (a parent and child of one name?): never linked, listed for review"
        )?;
    } else if e.contradicts == Contradiction::EachPart {
        writeln!(
            out,
            "  twin rule: two records of one holder whose every shared field or part differs (siblings of one name?): never linked, listed for review"
        )?;
    } else if e.personal_agrees {
        writeln!(
            out,
            "  twin rule: a personal field agrees (a number twins and relatives do not share), so not twins or relatives"
        )?;
    } else {
        writeln!(out, "  twin rule: not twin-like")?;
    }
    writeln!(out, "  outcome: {said}")
}

/// A pair of a run with CLK scoring: its Dice against the threshold, and its exact identifiers.
fn write_clk(
    out: &mut impl Write,
    run: &LinkedRun,
    (i, ra): (usize, usize),
    (j, rb): (usize, usize),
    said: &str,
) -> std::io::Result<()> {
    let (da, db) = (&run.datasets[i], &run.datasets[j]);
    writeln!(
        out,
        "kith explain: {} {} and {} {} (CLK scoring: the score is the Dice similarity of the two CLKs)",
        da.source,
        da.id(ra),
        db.source,
        db.id(rb)
    )?;
    let dice = kith_link::explain::dice(da, ra, db, rb);
    match run.threshold {
        Some(t) => writeln!(
            out,
            "  CLK Dice {dice:.6} against the run's threshold {t:.2}: {}",
            if dice >= t { "at or above" } else { "below" }
        )?,
        None => writeln!(out, "  CLK Dice {dice:.6}")?,
    }
    write_exact(out, &kith_link::explain::exact_evidence(da, ra, db, rb))?;
    writeln!(out, "  outcome: {said}")
}

fn write_exact(out: &mut impl Write, exact: &[(String, Exact)]) -> std::io::Result<()> {
    for (name, x) in exact {
        let what = match x {
            Exact::Agree => "agrees: the pair is a match whatever its fields say",
            Exact::Differ => "differs: never linked (the exact veto)",
            Exact::Missing => "missing on one side: no say",
        };
        writeln!(out, "  exact identifier {name} {what}")?;
    }
    Ok(())
}

/// A holder's local IDs → its record tokens, through its map.
fn tokens_of(map: &Path, ids: &[String], out: &mut impl Write) -> Result<()> {
    ensure!(!ids.is_empty(), "give the local IDs to look up");
    let mut r = CsvRows::open(map)?;
    ensure!(
        r.header().iter().collect::<Vec<_>>() == ["token", "local_id"],
        "{}: line 1: expected a holder's map (token,local_id)",
        map.display()
    );
    let mut token: HashMap<String, String> = HashMap::new();
    while let Some((_, rec)) = r.next_row()? {
        token.insert(rec[1].to_owned(), rec[0].to_owned());
    }
    for id in ids {
        let t = token
            .get(id)
            .with_context(|| format!("local ID {id:?} is not in your map {}", map.display()))?;
        writeln!(out, "{id}\t{t}").context("cannot write to standard output")?;
    }
    Ok(())
}
