//! Run manifests: `manifest.json` in every output folder of `kith link`, `families` and `split`,
//! and `FILE.manifest.json` beside the encodings file of `kith encode`. A manifest records what
//! was run (command, tool version, parameters), on what and to what (every input and output file
//! by SHA-256 and size), the schema fingerprint and key check, counts in and out, times, and who
//! is to receive each output. It holds no personal data: file names, hashes, counts and settings
//! only; never a value, a token or the secret. `kith verify-run` re-checks the hashes.
//!
//! Outputs are hashed as they are written ([`crate::atomic::AtomicFile::commit`] returns the
//! digest) and the extract of `kith encode` as it is read, so that a manifest costs no second pass
//! over large files; other inputs are hashed once the run is done.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::atomic::{AtomicFile, Committed, parent_dir};

/// The manifest format's version (the `kith_manifest` field).
pub(crate) const VERSION: u32 = 1;

/// One file a run read or wrote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct FileEntry {
    /// What the file is to the run (`input`, `encodings`, `links`, ...).
    pub(crate) role: String,
    /// Outputs: relative to the manifest's folder when inside it; inputs: as found (absolute).
    pub(crate) path: String,
    pub(crate) sha256: String,
    pub(crate) bytes: u64,
    /// Outputs: who is to receive the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) recipient: Option<String>,
}

/// The manifest file's content.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ManifestFile {
    pub(crate) kith_manifest: u32,
    pub(crate) command: String,
    pub(crate) tool: String,
    pub(crate) version: String,
    pub(crate) started: String,
    pub(crate) finished: String,
    pub(crate) seconds: f64,
    #[serde(default)]
    pub(crate) schema: Map<String, Value>,
    #[serde(default)]
    pub(crate) parameters: Map<String, Value>,
    #[serde(default)]
    pub(crate) counts: Map<String, Value>,
    pub(crate) inputs: Vec<FileEntry>,
    pub(crate) outputs: Vec<FileEntry>,
}

/// A manifest being gathered during a run; [`Manifest::write`] puts it in place.
#[derive(Debug)]
pub(crate) struct Manifest {
    command: &'static str,
    started: jiff::Timestamp,
    clock: std::time::Instant,
    schema: Map<String, Value>,
    parameters: Map<String, Value>,
    counts: Map<String, Value>,
    inputs: Vec<FileEntry>,
    outputs: Vec<FileEntry>,
}

impl Manifest {
    /// Start the manifest of one run of `command` (its start time is now).
    pub(crate) fn start(command: &'static str) -> Manifest {
        Manifest {
            command,
            started: jiff::Timestamp::now(),
            clock: std::time::Instant::now(),
            schema: Map::new(),
            parameters: Map::new(),
            counts: Map::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
        }
    }

    /// Record a parameter of the run.
    pub(crate) fn param(&mut self, name: &str, value: impl Serialize) {
        self.parameters.insert(name.to_owned(), json(value));
    }

    /// Record a count in or out.
    pub(crate) fn count(&mut self, name: &str, value: impl Serialize) {
        self.counts.insert(name.to_owned(), json(value));
    }

    /// Record a fact of the schema (fingerprint, key check, CLK length).
    pub(crate) fn schema(&mut self, name: &str, value: impl Serialize) {
        self.schema.insert(name.to_owned(), json(value));
    }

    /// Record an input file, hashing it now.
    pub(crate) fn input(&mut self, role: &str, path: &Path) -> Result<()> {
        let (sha256, bytes) = hash_file(path)?;
        self.input_hashed(role, path, Committed { sha256, bytes });
        Ok(())
    }

    /// Record an input file already hashed as it was read.
    pub(crate) fn input_hashed(&mut self, role: &str, path: &Path, hash: Committed) {
        self.inputs.push(FileEntry {
            role: role.to_owned(),
            path: absolute(path),
            sha256: hash.sha256,
            bytes: hash.bytes,
            recipient: None,
        });
    }

    /// Record an output file (hashed as it was written) and who is to receive it.
    pub(crate) fn output(&mut self, role: &str, path: &Path, hash: Committed, recipient: &str) {
        self.outputs.push(FileEntry {
            role: role.to_owned(),
            path: path.display().to_string(),
            sha256: hash.sha256,
            bytes: hash.bytes,
            recipient: Some(recipient.to_owned()),
        });
    }

    /// Write the manifest to `at` (whole or not at all); output paths inside its folder become
    /// relative to it, so that the folder can be moved and still verified.
    pub(crate) fn write(self, at: &Path) -> Result<()> {
        let dir = parent_dir(at);
        let outputs = self
            .outputs
            .into_iter()
            .map(|mut f| {
                f.path = relative_to(&dir, Path::new(&f.path));
                f
            })
            .collect();
        let file = ManifestFile {
            kith_manifest: VERSION,
            command: self.command.to_owned(),
            tool: "kith".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            started: self.started.to_string(),
            finished: jiff::Timestamp::now().to_string(),
            seconds: (self.clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            schema: self.schema,
            parameters: self.parameters,
            counts: self.counts,
            inputs: self.inputs,
            outputs,
        };
        let mut f = AtomicFile::create(at)?;
        serde_json::to_writer_pretty(f.writer(), &file)
            .with_context(|| format!("cannot write {}", at.display()))?;
        std::io::Write::write_all(f.writer(), b"\n")
            .with_context(|| format!("cannot write {}", at.display()))?;
        f.commit()?;
        Ok(())
    }
}

fn json(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The manifest of an encodings file: `FILE.manifest.json` beside it.
pub(crate) fn beside(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".manifest.json");
    output.with_file_name(name)
}

/// `path` absolute (and without `..`), or as given if it cannot be resolved.
fn absolute(path: &Path) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}

/// `path` relative to `dir` when it lies inside it, else absolute.
fn relative_to(dir: &Path, path: &Path) -> String {
    match (std::fs::canonicalize(dir), std::fs::canonicalize(path)) {
        (Ok(d), Ok(p)) => match p.strip_prefix(&d) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => p.display().to_string(),
        },
        _ => path.display().to_string(),
    }
}

/// SHA-256 (lower-case hex) and size of a file.
pub(crate) fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Hashing::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let c = h.finish();
    Ok((c.sha256, c.bytes))
}

/// A running SHA-256 and byte count.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hashing {
    sha: Sha256,
    bytes: u64,
}

impl Hashing {
    pub(crate) fn new() -> Hashing {
        Hashing::default()
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        self.sha.update(data);
        self.bytes += data.len() as u64;
    }

    pub(crate) fn finish(self) -> Committed {
        Committed {
            sha256: kith::hex(&self.sha.finalize()),
            bytes: self.bytes,
        }
    }
}

/// A reader that hashes what passes through it.
#[derive(Debug)]
pub(crate) struct HashingReader<R> {
    inner: R,
    hash: Hashing,
}

impl<R> HashingReader<R> {
    pub(crate) fn new(inner: R) -> HashingReader<R> {
        HashingReader {
            inner,
            hash: Hashing::new(),
        }
    }

    /// The hash of everything read so far.
    pub(crate) fn hash(&self) -> Committed {
        self.hash.clone().finish()
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// `kith verify-run PATH`: re-hash every file a manifest names (PATH is a manifest, or a folder
/// holding `manifest.json`). Prints one line per file; an error if an output is missing or
/// changed, or an input still at its recorded path has changed. Inputs no longer there are
/// reported, not failed: a holder's extract may rightly be gone.
pub(crate) fn verify_run(path: &Path, out: &mut impl std::io::Write) -> Result<()> {
    let at = if path.is_dir() {
        path.join("manifest.json")
    } else {
        path.to_path_buf()
    };
    let text =
        std::fs::read_to_string(&at).with_context(|| format!("cannot read {}", at.display()))?;
    let m: ManifestFile = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a kith run manifest", at.display()))?;
    if m.kith_manifest != VERSION {
        bail!(
            "{}: manifest version {} (this kith reads version {VERSION})",
            at.display(),
            m.kith_manifest
        );
    }
    let dir = parent_dir(&at);
    let w = |out: &mut dyn std::io::Write, line: String| -> Result<()> {
        writeln!(out, "{line}").context("cannot write to standard output")
    };
    w(
        out,
        format!(
            "{}: kith {} {}, {} to {}",
            at.display(),
            m.version,
            m.command,
            m.started,
            m.finished
        ),
    )?;
    let mut bad = 0;
    for (kind, entries) in [("output", &m.outputs), ("input", &m.inputs)] {
        for e in entries {
            let p = Path::new(&e.path);
            let p = if p.is_absolute() {
                p.to_path_buf()
            } else {
                dir.join(p)
            };
            let status = match hash_file(&p) {
                Ok((sha, bytes)) if sha == e.sha256 && bytes == e.bytes => "ok".to_owned(),
                Ok(_) => {
                    bad += 1;
                    "CHANGED".to_owned()
                }
                Err(_) if kind == "input" => "not found here (not checked)".to_owned(),
                Err(_) => {
                    bad += 1;
                    "MISSING".to_owned()
                }
            };
            w(out, format!("  {kind} {} ({}): {status}", e.path, e.role))?;
        }
    }
    if bad > 0 {
        bail!(
            "{bad} file(s) differ from {}: these are not the files of that run",
            at.display()
        );
    }
    Ok(())
}
