//! The `kith` command-line tool. It does files, progress and exit codes; the `kith` library does
//! the rest. Exit codes: 0 success, 1 an error (message on stderr, no output file left behind),
//! 2 a usage error.

mod atomic;
mod audit;
mod config;
mod csvin;
mod demo;
mod encode;
mod evaluate;
mod explain;
mod families;
mod flags;
mod link;
mod manifest;
mod patterns;
mod profile;
mod report;
mod secret;
mod summary;
mod synth;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::flags::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kith: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    if let Some(n) = cli.threads {
        anyhow::ensure!(n > 0, "--threads must be at least 1");
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("cannot start the worker threads")?;
    }
    let quiet = cli.quiet;
    let mut warn = |m: String| eprintln!("kith: {m}");
    match cli.command {
        Command::Keygen(args) => {
            secret::keygen(&args.out)?;
            if !quiet {
                eprintln!(
                    "kith: wrote a new 256-bit secret to {} (mode 0600). Share it only with the other data holders, \
                     over a secure channel; never with the linkage party.",
                    args.out.display()
                );
            }
            Ok(())
        }
        Command::Schema(args) => {
            let schema = config::read_schema(&args.schema)?;
            std::io::Write::write_all(
                &mut std::io::stdout(),
                summary::describe_schema(&schema).as_bytes(),
            )
            .context("cannot write to standard output")
        }
        Command::Mapping(args) => encode::propose_mapping(&args, quiet),
        Command::Profile(args) => {
            if profile::run(&args, &mut std::io::stdout())? {
                Ok(())
            } else {
                // The verdict is printed; a pipeline stops on it.
                std::process::exit(1)
            }
        }
        Command::Link(args) => link::run(&link::LinkConfig::from_args(*args)?, quiet),
        Command::Evaluate(args) => evaluate::run(&args),
        Command::Families(args) => families::run_families(&args, quiet),
        Command::Split(args) => families::run_split(&args, quiet).map(|_| ()),
        Command::Reveal(args) => families::run_reveal(&args, quiet).map(|_| ()),
        Command::Synth(args) => synth::run(&args, quiet),
        Command::Demo(args) => demo::run(&args),
        Command::Audit(args) => audit::run(&args, quiet),
        Command::Patterns(args) => patterns::run(&args, quiet),
        Command::Explain(args) => explain::run(&args, &mut std::io::stdout()),
        Command::Report(args) => report::write(
            &report::Sources {
                links: &args.links,
                families: args.families.as_deref(),
                encodes: &args.encode_manifests,
                profiles: &args.profiles,
                patterns: args.patterns.as_deref(),
                truth: args.truth.as_deref(),
            },
            &args.output,
        ),
        Command::VerifyRun(args) => manifest::verify_run(&args.path, &mut std::io::stdout()),
        Command::Encode(args) => {
            let manifest = manifest::Manifest::start("encode");
            let cfg = config::EncodeConfig::from_args(*args, &mut warn)?;
            let summary = encode::run(&cfg, quiet)?;
            encode::write_manifest(&cfg, &summary, manifest)?;
            if !quiet {
                eprint!("{}", summary.render());
            }
            Ok(())
        }
    }
}
