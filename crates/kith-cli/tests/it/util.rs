//! Fixtures helper: a temporary folder per test, the repository's fixtures, and a `kith` command
//! builder that never inherits a secret from the developer's environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) const SECRET: &str = "integration-test-secret-0123456789";

/// The repository's `fixtures/` folder.
pub(crate) fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub(crate) fn demo(name: &str) -> PathBuf {
    fixtures().join("demo").join(name)
}

/// A temporary folder that is removed at the end of the test.
pub(crate) struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    pub(crate) fn new() -> Dir {
        Dir {
            dir: tempfile::tempdir().expect("temporary folder"),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(crate) fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, contents).expect("write fixture");
        p
    }

    pub(crate) fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Names of the files in the folder, sorted (temporary files included, so tests can see that
    /// nothing was left behind).
    pub(crate) fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
            .collect();
        names.sort();
        names
    }

    /// A secret file with owner-only permissions.
    pub(crate) fn secret_file(&self, secret: &str) -> PathBuf {
        let p = self.write("secret.key", format!("{secret}\n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        p
    }
}

/// `kith` with a clean environment: no KITH_SECRET unless the test sets one.
pub(crate) fn kith() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kith"));
    c.env_remove("KITH_SECRET").env_remove("RAYON_NUM_THREADS");
    c
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run kith")
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run and require success.
pub(crate) fn ok(cmd: &mut Command) -> Output {
    let o = run(cmd);
    assert!(o.status.success(), "kith failed: {}", stderr(&o));
    o
}

/// Run and require failure with exit code 1; returns stderr.
pub(crate) fn fails(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1; stderr: {}",
        stderr(&o)
    );
    stderr(&o)
}

/// `kith encode --quiet` of `input` with the demo schema into `dir/output`, secret from the environment.
pub(crate) fn encode_cmd(dir: &Dir, input: &Path, output: &str) -> Command {
    let mut c = encode_with_schema(dir, &demo("schema.json"), input, output);
    c.arg("--quiet");
    c
}

/// `kith encode --quiet --format clkhash-json` of `input` into `dir/output`: with the demo
/// schema's features but an unhardened CLK (the golden schema), as clkhash-json needs.
pub(crate) fn clkhash_cmd(dir: &Dir, input: &Path, output: &str) -> Command {
    let schema = crate::util::fixtures().join("golden").join("schema.json");
    let mut c = encode_with_schema(dir, &schema, input, output);
    c.args(["--quiet", "--format", "clkhash-json"]);
    c
}

/// `kith encode` of `input` with `schema` into `dir/output`, secret from the environment.
pub(crate) fn encode_with_schema(dir: &Dir, schema: &Path, input: &Path, output: &str) -> Command {
    let mut c = kith();
    c.arg("encode")
        .arg("--schema")
        .arg(schema)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(dir.path(output))
        .env("KITH_SECRET", SECRET);
    c
}

/// A parsed kith encodings file.
pub(crate) struct Encodings {
    pub(crate) header: serde_json::Value,
    pub(crate) rows: Vec<Vec<String>>,
}

/// The base64 CLK of the first row of the encodings file `dir/name`.
pub(crate) fn first_clk(dir: &Dir, name: &str) -> String {
    read_encodings(&dir.read(name)).rows[0][1].clone()
}

pub(crate) fn read_encodings(text: &str) -> Encodings {
    let mut lines = text.lines();
    let header = serde_json::from_str(lines.next().expect("header")).expect("header json");
    let rows = lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    Encodings { header, rows }
}
