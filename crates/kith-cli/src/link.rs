//! `kith link`: flags → a checked [`LinkJob`] → [`LinkJob::run`] → the report on stderr and
//! links, clusters and the review band written whole or not at all.

use std::path::PathBuf;

use anyhow::{Context, Result};
use kith_link::block::LshParams;
use kith_link::job::{BlockingChoice, LinkJob, LinkRun, Scoring};
use kith_link::kernel::Kernel;
use kith_link::link::LinkOptions;
use kith_link::solve::Join;

use crate::atomic::{AtomicFile, Committed};
use crate::flags::{BlockingArg, LinkArgs, ScoringArg, SolverArg};
use crate::manifest::Manifest;

/// The checked configuration of one `kith link` run.
#[derive(Debug)]
pub(crate) struct LinkConfig {
    job: LinkJob,
    output: PathBuf,
    report: Option<PathBuf>,
    /// The model given with --model.
    model: Option<PathBuf>,
}

impl LinkConfig {
    pub(crate) fn from_args(a: LinkArgs) -> Result<LinkConfig> {
        let kernel = match &a.kernel {
            None => Kernel::detect(),
            Some(n) => {
                Kernel::by_name(n).with_context(|| format!("this CPU cannot run the {n} kernel"))?
            }
        };
        let model = match &a.model {
            None => None,
            Some(path) => {
                if a.scoring == ScoringArg::Clk {
                    anyhow::bail!("--model is a field scoring model: not with --scoring clk");
                }
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the model {}", path.display()))?;
                let v: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("{}: not JSON", path.display()))?;
                let m = kith_link::weigh::Model::from_json(&v).map_err(|e| {
                    anyhow::anyhow!("{}: not a kith field model: {e}", path.display())
                })?;
                Some(m)
            }
        };
        let job = LinkJob {
            inputs: a.inputs,
            options: LinkOptions {
                threshold: a.threshold,
                within_threshold: a.within_threshold,
                review: a.review_threshold,
                max_bucket: a.max_bucket,
                dedupe: a.dedupe,
                exact_veto: !a.no_exact_veto,
                kernel,
                candidate_floor: a.candidate_floor,
                join: match a.solver {
                    SolverArg::Evidence => Join::Majority,
                    SolverArg::Anonlink => Join::Every,
                },
                model,
                ..LinkOptions::default()
            },
            blocking: match a.blocking {
                BlockingArg::Auto => BlockingChoice::Auto,
                BlockingArg::None => BlockingChoice::None,
                BlockingArg::Keys => BlockingChoice::Keys,
                BlockingArg::Lsh => BlockingChoice::Lsh,
                BlockingArg::KeysLsh => BlockingChoice::KeysAndLsh,
            },
            lsh: LshParams {
                tables: a.lsh_tables,
                bits: a.lsh_bits,
                ..LshParams::default()
            },
            scoring: match a.scoring {
                ScoringArg::Auto => Scoring::Auto,
                ScoringArg::Clk => Scoring::Clk,
                ScoringArg::Fields => Scoring::Fields,
            },
            check_blocking: a.check_blocking,
            chunk: a.chunk,
        };
        job.check()?;
        Ok(LinkConfig {
            job,
            output: a.output,
            report: a.report,
            model: a.model,
        })
    }
}

pub(crate) fn run(cfg: &LinkConfig, quiet: bool) -> Result<()> {
    let say = |m: &dyn std::fmt::Display| {
        if !quiet {
            eprintln!("{m}");
        }
    };
    let manifest = Manifest::start("link");
    let run = cfg.job.run(&mut |p| say(p))?;
    for line in run.report.lines() {
        say(&line);
    }
    let written = write_outputs(&cfg.output, &run)?;
    write_manifest(cfg, &run, &written, manifest)?;
    say(&written.summary(&run));
    // The report reads the run back from its files: the linked datasets go first, so that a
    // large run does not hold them twice.
    drop(run);
    if let Some(path) = &cfg.report {
        let src = crate::report::Sources {
            links: &cfg.output,
            families: None,
            encodes: &[],
            profiles: &[],
            patterns: None,
            truth: None,
        };
        crate::report::write(&src, path)?;
        say(&format!("kith: wrote the report {}", path.display()));
    }
    Ok(())
}

/// `manifest.json` in the output folder: the encodings read and the files written by SHA-256, the
/// schema as the encodings' headers give it, the settings and threshold used, and the counts.
fn write_manifest(
    cfg: &LinkConfig,
    run: &LinkRun,
    written: &Written,
    mut m: Manifest,
) -> Result<()> {
    let r = &run.report;
    for (input, summary) in cfg.job.inputs.iter().zip(&r.inputs) {
        m.input(&format!("encodings of {}", summary.source), input)?;
    }
    schema_of_inputs(&mut m, &cfg.job.inputs);
    if let Some(p) = &cfg.model {
        m.input("field model given", p)?;
    }
    let to = "the linkage party (kith split gives each holder its own part)";
    m.output("links", &written.links, written.hashes[0].clone(), to);
    m.output("clusters", &written.clusters, written.hashes[1].clone(), to);
    if let (Some(p), Some(h)) = (&written.review, written.hashes.get(2)) {
        m.output("review", p, h.clone(), "the linkage party's reviewers");
    }
    if let Some((p, h)) = &written.model {
        m.output("model", p, h.clone(), "the linkage party");
    }
    let o = &cfg.job.options;
    m.param("threshold_given", o.threshold);
    m.param("within_threshold_given", o.within_threshold);
    m.param("threshold_used", r.threshold.used);
    m.param("threshold_suggested", r.threshold.suggested);
    m.param("threshold_within", r.threshold.within);
    m.param("review_threshold", r.review());
    m.param("blocking", kith_link::report::describe_blocking(r.blocking));
    m.param("scoring", if r.fields { "fields" } else { "clk" });
    m.param("candidate_floor", r.candidate_floor);
    m.param("dedupe", o.dedupe);
    m.param("exact_veto", o.exact_veto);
    m.param("solver", format!("{:?}", o.join).to_lowercase());
    m.param("max_bucket", r.max_bucket);
    m.param("chunk", cfg.job.chunk);
    let records: std::collections::BTreeMap<&str, usize> = r
        .inputs
        .iter()
        .map(|i| (i.source.as_str(), i.records))
        .collect();
    m.count("records_by_source", records);
    m.count("comparisons", r.stats.comparisons);
    m.count("all_pairs", r.stats.all_pairs);
    m.count("candidates", r.candidates);
    m.count("links", r.links);
    m.count("entities", r.entities);
    m.count("review_pairs", r.review_pairs);
    if let Some(e) = r.estimate.as_ref().or(r.completeness.as_ref()) {
        m.count(
            "pairs_completeness_estimate",
            e.found as f64 / e.all.max(1) as f64,
        );
        // The score the estimate counted pairs from (the threshold, or with CLK scoring beside
        // keyed blocking keys where the best scores split into strangers and partners).
        m.count("pairs_completeness_from", e.at);
    }
    m.write(&cfg.output.join("manifest.json"))
}

/// The schema fingerprint and key check of each kith encodings file (clkhash-json files carry
/// none).
pub(crate) fn schema_of_inputs(m: &mut Manifest, inputs: &[PathBuf]) {
    let mut fingerprints = std::collections::BTreeSet::new();
    let mut checks = std::collections::BTreeSet::new();
    for path in inputs {
        let header = std::fs::File::open(path).ok().and_then(|f| {
            kith::encodings::Reader::new(std::io::BufReader::new(f))
                .ok()
                .map(|r| r.header().clone())
        });
        if let Some(h) = header {
            fingerprints.insert(h.schema_fingerprint);
            checks.insert(h.key_check);
        }
    }
    m.schema("fingerprints", fingerprints);
    m.schema("key_checks", checks);
}

/// The files one run wrote.
struct Written {
    links: PathBuf,
    clusters: PathBuf,
    review: Option<PathBuf>,
    /// Their SHA-256 and sizes, in that order.
    hashes: Vec<Committed>,
    /// model.json, with field scoring.
    model: Option<(PathBuf, Committed)>,
}

impl Written {
    fn summary(&self, run: &LinkRun) -> String {
        let r = &run.report;
        let files = format!(
            "{}, {}{}",
            self.links.display(),
            self.clusters.display(),
            self.review
                .as_ref()
                .map(|p| format!(", {}", p.display()))
                .unwrap_or_default()
        );
        if r.chunked.is_some() {
            return format!(
                "kith: threshold {:.2}; {} links, {} entities of two or more records; wrote {files} (reading and scoring {:.1} s, solving and writing {:.1} s)",
                r.threshold.used,
                r.links,
                r.entities,
                r.timings.read.as_secs_f64(),
                (r.timings.total - r.timings.read).as_secs_f64()
            );
        }
        format!(
            "kith: {} links, {} entities of two or more records{}; wrote {files} (read {:.1} s, total {:.1} s)",
            r.links,
            r.entities,
            if r.review().is_some() {
                format!(", {} pairs for review", r.review_pairs)
            } else {
                String::new()
            },
            r.timings.read.as_secs_f64(),
            r.timings.total.as_secs_f64()
        )
    }
}

/// Write links.csv, clusters.csv and, with a review band, review.csv into `output`; each appears
/// whole or not at all.
fn write_outputs(output: &std::path::Path, run: &LinkRun) -> Result<Written> {
    std::fs::create_dir_all(output)
        .with_context(|| format!("cannot create the folder {}", output.display()))?;
    let mut written = Written {
        links: output.join("links.csv"),
        clusters: output.join("clusters.csv"),
        review: run.has_review().then(|| output.join("review.csv")),
        hashes: Vec::new(),
        model: None,
    };
    // The fitted field model (field weights by agreement level, no record data), for the report
    // and `kith explain`.
    let model = match &run.report.model {
        Some(m) => {
            let path = output.join("model.json");
            let mut f = AtomicFile::create(&path)?;
            let within: Vec<(&str, f64)> = run
                .report
                .inputs
                .iter()
                .map(|i| i.source.as_str())
                .zip(run.report.within_multiples.iter().copied())
                .collect();
            serde_json::to_writer_pretty(f.writer(), &m.to_json_with_sources(&within))
                .with_context(|| format!("cannot write {}", path.display()))?;
            Some((path, f))
        }
        None => None,
    };
    let mut links = AtomicFile::create(&written.links)?;
    run.write_links(links.writer())?;
    let mut clusters = AtomicFile::create(&written.clusters)?;
    run.write_clusters(clusters.writer())?;
    let review = match &written.review {
        Some(path) => {
            let mut f = AtomicFile::create(path)?;
            run.write_review(f.writer())?;
            Some(f)
        }
        None => None,
    };
    written.hashes.push(links.commit()?);
    written.hashes.push(clusters.commit()?);
    if let Some(r) = review {
        written.hashes.push(r.commit()?);
    }
    if let Some((path, f)) = model {
        written.model = Some((path, f.commit()?));
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use kith_link::block::Blocking;
    use kith_link::report::blocking_flags;

    /// The flags a warning tells the user to run a blocking with choose that blocking.
    #[test]
    fn the_flags_a_warning_gives_choose_its_blocking() {
        let p = LshParams {
            tables: 256,
            bits: 10,
            ..LshParams::default()
        };
        for (b, choice) in [
            (Blocking::None, BlockingChoice::None),
            (Blocking::Keys, BlockingChoice::Keys),
            (Blocking::Lsh(p), BlockingChoice::Lsh),
            (Blocking::KeysAndLsh(p), BlockingChoice::KeysAndLsh),
        ] {
            let flags = blocking_flags(b);
            let mut argv = vec!["kith", "link", "a.kith", "b.kith", "--output", "out"];
            argv.extend(flags.split_whitespace());
            let cli = crate::flags::Cli::try_parse_from(&argv).expect("flags parse");
            let crate::flags::Command::Link(a) = cli.command else {
                panic!("not link: {flags}");
            };
            let cfg = LinkConfig::from_args(*a).expect("a valid run");
            assert_eq!(cfg.job.blocking, choice, "{flags}");
            if let Some(q) = b.lsh() {
                assert_eq!((cfg.job.lsh.tables, cfg.job.lsh.bits), (q.tables, q.bits));
            }
        }
    }
}
