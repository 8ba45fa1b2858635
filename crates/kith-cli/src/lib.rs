//! The `kith` command-line tool as a library: the binary (`main.rs`) and the Python package
//! (`crates/kith-py`) both run a command line through [`run_args`], so that a command gives the
//! same files and the same messages whichever way it is called. It does files, progress and exit
//! codes; the `kith` and `kith-link` libraries do the rest.

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

use anyhow::{Context, Result};
use clap::Parser;

use crate::flags::{Cli, Command};

/// Parse a command line (its first item is the program's name) and run it. A usage error comes
/// back as an error whose message is clap's.
pub fn run_args<I, T>(argv: I) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(argv).map_err(|e| anyhow::anyhow!("{e}"))?;
    run(cli)
}

/// Load a secret as `kith encode` does: from a file, or from the `KITH_SECRET` environment
/// variable when no file is given. Warnings (a file others can read) go to `warn`.
pub fn load_secret(
    file: Option<&std::path::Path>,
    warn: &mut dyn FnMut(String),
) -> Result<kith::Secret> {
    secret::load(file, warn)
}

/// Parse the command line of this process and run it; the exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kith: error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    if let Some(n) = cli.threads {
        anyhow::ensure!(n > 0, "--threads must be at least 1");
        // The first run in a process sets the pool; a later one in the same process (the Python
        // package) keeps it: outputs do not depend on the number of threads.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
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
                // The verdict and its reasons are printed above.
                anyhow::bail!("the extract is not fit to link (--strict)")
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
