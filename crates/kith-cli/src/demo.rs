//! `kith demo`: the protocol end to end on a synthetic population, in a temporary folder, with a
//! short account of what each party sees and keeps.
//!
//! 1. `kith synth` makes four agencies' extracts and the truth.
//! 2. The holders agree the demo schema and a freshly generated secret.
//! 3. Each holder encodes its own extract with its own column mapping, keeping its map.
//! 4. The linkage party, with no secret, links the four encodings files (duplicates within each
//!    holder looked for too).
//! 5. The linkage party groups people into families and finds those meeting two or more criteria.
//! 6. Each holder gets its own tokens back (`kith split`) and joins them to its local IDs
//!    (`kith reveal`).
//! 7. Links and families are scored against the synthetic truth.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Parser;
use kith_synth::Agency;

use crate::flags::{Cli, DemoArgs, EvaluateArgs, SynthArgs};

/// The agreed schema of the demo (the repository's `fixtures/demo/schema.json`).
const SCHEMA: &str = include_str!("../../kith/data/demo-schema.json");

pub(crate) fn run(args: &DemoArgs) -> Result<()> {
    let tmp = tempfile::tempdir().context("cannot create a temporary folder")?;
    let dir: PathBuf = match &args.keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            d.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    say(format!(
        "kith demo: the whole protocol on {} synthetic people, in {}{}",
        args.people,
        dir.display(),
        if args.keep.is_some() {
            ""
        } else {
            " (removed at the end; --keep DIR keeps it)"
        }
    ));
    let demo = Demo {
        extracts: dir.join("extracts"),
        schema: dir.join("schema.json"),
        secret: dir.join("holders.key"),
        links: dir.join("links"),
        families: dir.join("families"),
        run: dir.join("run"),
        dir,
    };
    let rows = demo.extracts(args)?;
    demo.agree()?;
    demo.encode(&rows)?;
    demo.link()?;
    demo.families()?;
    demo.give_back()?;
    demo.score()
}

/// The demo's folder and the files its steps pass on.
struct Demo {
    dir: PathBuf,
    extracts: PathBuf,
    schema: PathBuf,
    secret: PathBuf,
    links: PathBuf,
    families: PathBuf,
    run: PathBuf,
}

fn say(s: String) {
    eprintln!("{s}");
}

impl Demo {
    /// The agencies' encodings files, in `Agency::ALL` order.
    fn kith_files(&self) -> Vec<String> {
        Agency::ALL
            .iter()
            .map(|a| path(&self.dir.join(format!("{}.kith", a.name()))))
            .collect()
    }

    /// 1. The population and the agencies' extracts; each agency's row count.
    fn extracts(&self, args: &DemoArgs) -> Result<Vec<(Agency, usize)>> {
        let extracts = &self.extracts;
        crate::synth::run(
            &SynthArgs {
                people: args.people,
                seed: args.seed,
                output: extracts.clone(),
                names: kith_synth::NameList::England.name().to_owned(),
                errors: 1.0,
                addresses: "agencies".to_owned(),
            },
            true,
        )?;
        let rows: Vec<(Agency, usize)> = Agency::ALL
            .iter()
            .map(|&a| Ok((a, count_rows(&extracts.join(format!("{}.csv", a.name())))?)))
            .collect::<Result<_>>()?;
        say(String::new());
        say("1. Four agencies hold extracts about the same households, each in its own columns and formats:".into());
        for (a, n) in &rows {
            say(format!(
                "   {:<8} {n:>7} rows   ({})",
                a.name(),
                a.header().join(", ")
            ));
        }
        Ok(rows)
    }

    /// 2. The agreed schema and the shared secret.
    fn agree(&self) -> Result<()> {
        let (schema, secret) = (&self.schema, &self.secret);
        std::fs::write(schema, SCHEMA)
            .with_context(|| format!("cannot write {}", schema.display()))?;
        crate::secret::keygen(secret)?;
        say(String::new());
        say("2. The holders agree a schema (names, date of birth, sex, postcode; the NHS number as a keyed".into());
        say("   token) and generate a secret among themselves. The linkage party gets neither the secret nor".into());
        say(format!(
            "   any raw value. Schema fingerprint: {}",
            kith::Schema::from_json_str(SCHEMA)?.fingerprint()
        ));
        Ok(())
    }

    /// 3. Each holder encodes its own extract.
    fn encode(&self, rows: &[(Agency, usize)]) -> Result<()> {
        let (dir, extracts, schema, secret) =
            (&self.dir, &self.extracts, &self.schema, &self.secret);
        say(String::new());
        say("3. Each holder encodes locally. What leaves it is an encodings file of record tokens, CLKs,".into());
        say(
            "   keyed tokens and field filters; what stays is its map from record token to local ID."
                .into(),
        );
        say("   First each profiles its extract (kith profile; no secret, nothing leaves):".into());
        for (a, _) in rows {
            let name = a.name();
            let json = dir.join(format!("{name}.profile.json"));
            let mut argv: Vec<String> = ["kith", "profile", "--schema"].map(String::from).to_vec();
            argv.extend([
                path(schema),
                "--mapping".into(),
                path(&extracts.join(format!("{name}-mapping.json"))),
                "--input".into(),
                path(&extracts.join(format!("{name}.csv"))),
                "--json".into(),
                path(&json),
            ]);
            if a.windows_1252() {
                argv.extend(["--encoding".into(), "windows-1252".into()]);
            }
            let cli = Cli::try_parse_from(&argv).map_err(|e| anyhow::anyhow!("{e}"))?;
            if let crate::flags::Command::Profile(args) = cli.command {
                crate::profile::run(&args, &mut std::io::sink())?;
            }
            let p: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
            let first = p["verdict"]["fix_first"][0]["what"]
                .as_str()
                .map_or(String::new(), |w| {
                    format!(
                        "; first to look at: {w} ({} records)",
                        p["verdict"]["fix_first"][0]["records"]
                    )
                });
            say(format!(
                "   {name:<8} {}{first}",
                p["verdict"]["fit"].as_str().unwrap_or("?"),
            ));
        }
        for (a, n) in rows {
            let name = a.name();
            let mut argv: Vec<String> = vec!["kith".into(), "--quiet".into(), "encode".into()];
            argv.extend([
                "--schema".into(),
                path(schema),
                "--secret-file".into(),
                path(secret),
            ]);
            argv.extend([
                "--mapping".into(),
                path(&extracts.join(format!("{name}-mapping.json"))),
            ]);
            argv.extend([
                "--input".into(),
                path(&extracts.join(format!("{name}.csv"))),
            ]);
            argv.extend(["--output".into(), path(&dir.join(format!("{name}.kith")))]);
            argv.extend([
                "--keep-map".into(),
                path(&dir.join(format!("{name}-map.csv"))),
            ]);
            if a.windows_1252() {
                argv.extend(["--encoding".into(), "windows-1252".into()]);
            }
            sub(&argv).with_context(|| format!("{name} could not encode its extract"))?;
            say(format!(
                "   {name:<8} sends {name}.kith ({n} records, {} bytes); keeps {name}-map.csv and the secret",
                std::fs::metadata(dir.join(format!("{name}.kith")))?.len()
            ));
        }
        Ok(())
    }

    /// 4. The linkage party links the files.
    fn link(&self) -> Result<()> {
        let out = &self.links;
        say(String::new());
        say("4. The linkage party links the four files, holding no key. Its own account:".into());
        let mut argv: Vec<String> = vec!["kith".into(), "link".into()];
        argv.extend(self.kith_files());
        argv.extend(["--dedupe".into(), "--review-threshold".into(), "0.1".into()]);
        argv.extend(["--output".into(), path(out)]);
        sub(&argv)?;
        Ok(())
    }

    /// 5. Families and the identification run, at the linkage party.
    fn families(&self) -> Result<()> {
        let (out, families, run) = (&self.links, &self.families, &self.run);
        say(String::new());
        say("5. The linkage party groups linked people into families by the keyed dwelling and register".into());
        say(
            "   tokens (never an address), and finds the families meeting two or more criteria:"
                .into(),
        );
        let kith_files = self.kith_files();
        let mut argv: Vec<String> = vec!["kith".into(), "families".into()];
        argv.extend(kith_files.iter().cloned());
        argv.extend([
            "--links".into(),
            path(out),
            "--output".into(),
            path(families),
        ]);
        sub(&argv)?;
        let mut argv: Vec<String> = vec!["kith".into(), "--quiet".into(), "families".into()];
        argv.extend(kith_files.iter().cloned());
        argv.extend([
            "--links".into(),
            path(out),
            "--min-criteria".into(),
            "2".into(),
        ]);
        argv.extend(["--output".into(), path(run)]);
        sub(&argv)?;
        say(format!(
            "   {} families meet two or more criteria (run/families.csv)",
            count_rows(&run.join("families.csv"))?
        ));
        say(String::new());
        say(
            "   For commissioners, aggregate counts with small counts suppressed (kith patterns):"
                .into(),
        );
        let patterns = self.dir.join("patterns");
        sub(&[
            "kith".into(),
            "patterns".into(),
            path(families),
            "--output".into(),
            path(&patterns),
        ])?;
        let table = std::fs::read_to_string(patterns.join("families_by_agencies.csv"))?;
        for line in table.lines() {
            say(format!("     {line}"));
        }
        Ok(())
    }

    /// 6. Results back to the holders, who reveal their own records.
    fn give_back(&self) -> Result<()> {
        let (dir, run) = (&self.dir, &self.run);
        let results = dir.join("results");
        sub(&[
            "kith".into(),
            "--quiet".into(),
            "split".into(),
            "--families".into(),
            path(run),
            "--criteria-to".into(),
            "council".into(),
            "--output".into(),
            path(&results),
        ])?;
        say(String::new());
        say("6. Each holder gets only its own record tokens with their family ids (the council, leading".into());
        say(
            "   the run, also which criteria each family meets), and joins them to its own local IDs"
                .into(),
        );
        say("   with the map it kept, on its own machine:".into());
        for a in Agency::ALL {
            let name = a.name();
            let file = results.join(format!("{name}.csv"));
            if !file.exists() {
                say(format!(
                    "   {name:<8} none of its records is in an identified family"
                ));
                continue;
            }
            let revealed = dir.join(format!("{name}-identified.csv"));
            sub(&[
                "kith".into(),
                "--quiet".into(),
                "reveal".into(),
                "--map".into(),
                path(&dir.join(format!("{name}-map.csv"))),
                "--input".into(),
                path(&file),
                "--output".into(),
                path(&revealed),
            ])?;
            say(format!(
                "   {name:<8} {:>6} of its records are in identified families ({name}-identified.csv)",
                count_rows(&revealed)?
            ));
        }
        Ok(())
    }

    /// 7. Quality against the truth.
    fn score(&self) -> Result<()> {
        let (dir, extracts) = (&self.dir, &self.extracts);
        let truth = dir.join("truth.csv");
        write_truth(dir, &extracts.join("truth-local.csv"), &truth)?;
        say(String::new());
        say("7. Scored against the synthetic truth: pairs of records of one person; pairs of records of".into());
        say("   one household; and the families meeting two or more criteria:".into());
        crate::evaluate::run(&EvaluateArgs {
            truth,
            links: None,
            clusters: Some(self.links.join("clusters.csv")),
            families: Some(self.families.clone()),
            min_criteria: 2,
        })?;
        Ok(())
    }
}

/// Run a `kith` subcommand given as its command line.
fn sub(argv: &[String]) -> Result<()> {
    let cli = Cli::try_parse_from(argv).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::run(cli)
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn count_rows(p: &Path) -> Result<usize> {
    let bytes = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
    Ok(bytes
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        .saturating_sub(1))
}

/// A holder's map: record token → local ID.
fn read_map(p: &Path) -> Result<HashMap<String, String>> {
    let mut r =
        csv::Reader::from_path(p).with_context(|| format!("cannot read {}", p.display()))?;
    r.records()
        .map(|rec| {
            let rec = rec.with_context(|| format!("cannot read {}", p.display()))?;
            Ok((rec[0].to_owned(), rec[1].to_owned()))
        })
        .collect()
}

/// The truth in record tokens: each holder's map joined to the synthetic truth's local IDs.
fn write_truth(dir: &Path, local: &Path, out: &Path) -> Result<()> {
    let mut token_of: HashMap<(String, String), String> = HashMap::new();
    for a in Agency::ALL {
        for (token, id) in read_map(&dir.join(format!("{}-map.csv", a.name())))? {
            token_of.insert((a.name().to_owned(), id), token);
        }
    }
    let mut r = csv::Reader::from_path(local)
        .with_context(|| format!("cannot read {}", local.display()))?;
    let mut w =
        csv::Writer::from_path(out).with_context(|| format!("cannot write {}", out.display()))?;
    w.write_record(["source", "token", "entity", "household", "criteria"])?;
    for rec in r.records() {
        let rec = rec.with_context(|| format!("cannot read {}", local.display()))?;
        if let Some(t) = token_of.get(&(rec[0].to_owned(), rec[1].to_owned())) {
            w.write_record([&rec[0], t.as_str(), &rec[2], &rec[3], &rec[4]])?;
        }
    }
    w.flush()
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}
