//! `kith link`: flags → a checked [`LinkJob`] → [`LinkJob::run`] → the report on stderr and
//! links, clusters and the review band written whole or not at all.

use std::path::PathBuf;

use anyhow::{Context, Result};
use kith_link::block::LshParams;
use kith_link::job::{BlockingChoice, LinkJob, LinkRun, Scoring};
use kith_link::kernel::Kernel;
use kith_link::link::LinkOptions;
use kith_link::solve::Join;

use crate::atomic::AtomicFile;
use crate::flags::{BlockingArg, LinkArgs, ScoringArg, SolverArg};

/// The checked configuration of one `kith link` run.
#[derive(Debug)]
pub(crate) struct LinkConfig {
    job: LinkJob,
    output: PathBuf,
}

impl LinkConfig {
    pub(crate) fn from_args(a: LinkArgs) -> Result<LinkConfig> {
        let kernel = match &a.kernel {
            None => Kernel::detect(),
            Some(n) => {
                Kernel::by_name(n).with_context(|| format!("this CPU cannot run the {n} kernel"))?
            }
        };
        let job = LinkJob {
            inputs: a.inputs,
            options: LinkOptions {
                threshold: a.threshold,
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
        })
    }
}

pub(crate) fn run(cfg: &LinkConfig, quiet: bool) -> Result<()> {
    let say = |m: &dyn std::fmt::Display| {
        if !quiet {
            eprintln!("{m}");
        }
    };
    let run = cfg.job.run(&mut |p| say(p))?;
    for line in run.report.lines() {
        say(&line);
    }
    let written = write_outputs(&cfg.output, &run)?;
    say(&written.summary(&run));
    Ok(())
}

/// The files one run wrote.
struct Written {
    links: PathBuf,
    clusters: PathBuf,
    review: Option<PathBuf>,
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
    let written = Written {
        links: output.join("links.csv"),
        clusters: output.join("clusters.csv"),
        review: run.has_review().then(|| output.join("review.csv")),
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
    links.commit()?;
    clusters.commit()?;
    if let Some(r) = review {
        r.commit()?;
    }
    Ok(written)
}
