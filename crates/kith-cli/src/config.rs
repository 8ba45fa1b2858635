//! Stage two of argument handling: raw flags checked and turned into what a job needs. Files are read
//! here, so that every problem with an input is reported before any work starts.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use kith::{Mapping, Schema, Secret};

use crate::flags::{EncodeArgs, InputEncoding, OnError, OutputFormat};

/// A checked `kith encode` configuration.
#[derive(Debug)]
pub(crate) struct EncodeConfig {
    pub(crate) schema: Schema,
    /// Where the schema and the mapping were read from, for the run's manifest.
    pub(crate) schema_path: PathBuf,
    pub(crate) mapping: Option<Mapping>,
    pub(crate) mapping_path: Option<PathBuf>,
    pub(crate) secret: Secret,
    pub(crate) input: PathBuf,
    pub(crate) output: PathBuf,
    pub(crate) format: OutputFormat,
    pub(crate) party: String,
    pub(crate) id_column: Option<String>,
    pub(crate) keep_map: Option<PathBuf>,
    /// This run's record-token salt (`--run-salt`).
    pub(crate) run_salt: Option<zeroize::Zeroizing<Vec<u8>>>,
    pub(crate) encoding: InputEncoding,
    pub(crate) on_error: OnError,
    pub(crate) rejects: Option<PathBuf>,
    pub(crate) sort_run_rows: usize,
}

pub(crate) fn read_schema(path: &Path) -> Result<Schema> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the schema {}", path.display()))?;
    let schema =
        Schema::from_json_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    // Valid for clkhash too, so not an error; but what such a key says does not happen.
    for key in schema.unread_keys() {
        let name = key.rsplit('.').next().unwrap_or(key);
        let hint = if ["missingValue", "strategy", "comparison", "hash"].contains(&name) {
            format!("; {name} belongs inside hashing")
        } else {
            String::new()
        };
        eprintln!(
            "kith: warning: {}: {key} is not read (a feature has identifier, description, \
             ignored, format and hashing){hint}",
            path.display()
        );
    }
    Ok(schema)
}

pub(crate) fn read_mapping(path: &Path) -> Result<Mapping> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the mapping {}", path.display()))?;
    Mapping::from_json_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// A party name must be printable and short: it appears in file headers and results.
pub(crate) fn check_party(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().any(char::is_control) || name.chars().count() > 100 {
        bail!(
            "the party name {name:?} must be 1 to 100 printable characters (set it with --party)"
        );
    }
    Ok(())
}

/// A holder's party name: `--party`, else its mapping's, else the input file's stem; checked.
pub(crate) fn party_of(
    given: Option<&str>,
    mapping: Option<&Mapping>,
    input: &Path,
) -> Result<String> {
    let party = match (given, mapping.and_then(|m| m.party.clone())) {
        (Some(p), _) => p.to_owned(),
        (None, Some(p)) => p,
        (None, None) => input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    check_party(&party)?;
    Ok(party)
}

/// The same file under two names (or the same name twice).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => {
            let dir = |p: &Path| std::fs::canonicalize(crate::atomic::parent_dir(p)).ok();
            dir(a).is_some() && dir(a) == dir(b) && a.file_name() == b.file_name()
        }
    }
}

impl EncodeConfig {
    pub(crate) fn from_args(
        args: EncodeArgs,
        warn: &mut dyn FnMut(String),
    ) -> Result<EncodeConfig> {
        let schema = read_schema(&args.schema)?;
        let mapping = args.mapping.as_deref().map(read_mapping).transpose()?;
        if args.format == OutputFormat::ClkhashJson && schema.kith().clk.any() {
            bail!(
                "{}: the schema hardens the CLK (kith.clk), so its CLKs are not clkhash's and \
                 anonlink's tools cannot link them; use --format kith",
                args.schema.display()
            );
        }
        if args.rejects.is_some() && args.on_error != OnError::Skip {
            bail!("--rejects lists skipped rows, so it needs --on-error skip");
        }
        let party = party_of(args.party.as_deref(), mapping.as_ref(), &args.input)?;
        let mut outputs: Vec<(&str, &Path)> = vec![("--output", &args.output)];
        if let Some(m) = &args.keep_map {
            outputs.push(("--keep-map", m));
        }
        if let Some(r) = &args.rejects {
            outputs.push(("--rejects", r));
        }
        let inputs: Vec<(&str, &Path)> = [
            ("--input", Some(args.input.as_path())),
            ("--schema", Some(args.schema.as_path())),
            ("--mapping", args.mapping.as_deref()),
            ("--secret-file", args.secret_file.as_deref()),
            ("--run-salt", args.run_salt.as_deref()),
        ]
        .into_iter()
        .filter_map(|(n, p)| p.map(|p| (n, p)))
        .collect();
        for (i, (name, out)) in outputs.iter().enumerate() {
            for (other, path) in inputs.iter().chain(&outputs[..i]) {
                if same_file(out, path) {
                    bail!(
                        "{name} {} is the same file as {other}; refusing to overwrite it",
                        out.display()
                    );
                }
            }
        }
        if !args.input.is_file() {
            bail!("{}: no such file", args.input.display());
        }
        let secret = crate::secret::load(args.secret_file.as_deref(), warn)?;
        let run_salt = args
            .run_salt
            .as_deref()
            .map(|p| crate::secret::run_salt(p, warn))
            .transpose()?;
        Ok(EncodeConfig {
            schema,
            schema_path: args.schema,
            mapping,
            mapping_path: args.mapping,
            secret,
            input: args.input,
            output: args.output,
            format: args.format,
            party,
            id_column: args.id_column,
            keep_map: args.keep_map,
            run_salt,
            encoding: args.encoding,
            on_error: args.on_error,
            rejects: args.rejects,
            sort_run_rows: args.sort_run_rows.max(1),
        })
    }
}
