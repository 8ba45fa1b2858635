//! Reading the shared secret: from `--secret-file` or the `KITH_SECRET` environment variable, never
//! from the command line. The bytes are zeroized as soon as the `Secret` is dropped.

use std::path::Path;

use anyhow::{Context, Result, bail};
use kith::Secret;
use zeroize::Zeroizing;

/// The environment variable that may hold the secret.
pub(crate) const ENV: &str = "KITH_SECRET";

/// Secrets shorter than this draw a warning.
const SHORT: usize = 16;

pub(crate) fn load(file: Option<&Path>, warn: &mut dyn FnMut(String)) -> Result<Secret> {
    let (bytes, origin) = match file {
        Some(path) => {
            check_permissions(path, warn)?;
            let bytes = Zeroizing::new(
                std::fs::read(path)
                    .with_context(|| format!("cannot read the secret file {}", path.display()))?,
            );
            (bytes, format!("the secret file {}", path.display()))
        }
        None => match std::env::var_os(ENV) {
            Some(v) => (
                Zeroizing::new(v.into_encoded_bytes()),
                format!("the environment variable {ENV}"),
            ),
            None => bail!(
                "no secret: pass --secret-file FILE (make one with `kith keygen --out FILE`) or set {ENV}; \
                 the secret is never taken from the command line"
            ),
        },
    };
    let secret =
        Secret::from_file_bytes(bytes.to_vec()).with_context(|| format!("{origin} is empty"))?;
    if secret.len() < SHORT {
        warn(format!(
            "warning: {origin} holds only {} bytes; use at least {SHORT} random bytes (`kith keygen` makes 32)",
            secret.len()
        ));
    }
    Ok(secret)
}

#[cfg(unix)]
fn check_permissions(path: &Path, warn: &mut dyn FnMut(String)) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read the secret file {}", path.display()))?;
    if !meta.is_file() {
        bail!("the secret file {} is not a regular file", path.display());
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        warn(format!(
            "warning: the secret file {} can be read by other users (mode {mode:03o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(path: &Path, _warn: &mut dyn FnMut(String)) -> Result<()> {
    if !path.is_file() {
        bail!("the secret file {} is not a regular file", path.display());
    }
    Ok(())
}

/// A run salt (`kith encode --run-salt FILE`): the file's bytes with surrounding white space
/// trimmed, or, when FILE does not exist, a new one made as `kith keygen` makes a secret.
pub(crate) fn run_salt(path: &Path, warn: &mut dyn FnMut(String)) -> Result<Zeroizing<Vec<u8>>> {
    if !path.exists() {
        keygen(path)?;
        warn(format!(
            "made a new run salt in {}; keep it with this run's map",
            path.display()
        ));
    }
    check_permissions(path, warn)?;
    let bytes = Zeroizing::new(
        std::fs::read(path)
            .with_context(|| format!("cannot read the run salt {}", path.display()))?,
    );
    let text = bytes.trim_ascii();
    if text.is_empty() {
        bail!("the run salt {} is empty", path.display());
    }
    Ok(Zeroizing::new(text.to_vec()))
}

/// `kith keygen`: 32 random bytes written as 64 hex digits and a newline, mode 0600, never over an
/// existing file.
pub(crate) fn keygen(out: &Path) -> Result<()> {
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::fill(raw.as_mut())
        .map_err(|e| anyhow::anyhow!("cannot get random bytes from the system: {e}"))?;
    let mut text = Zeroizing::new(kith::hex(raw.as_ref()));
    text.push('\n');
    let dir = crate::atomic::parent_dir(out);
    let mut builder = tempfile::Builder::new();
    builder.prefix(".kith-keygen-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    let mut tmp = builder
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes()).context("cannot write the secret")?;
    tmp.as_file()
        .sync_all()
        .context("cannot write the secret")?;
    tmp.persist_noclobber(out).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; kith keygen never overwrites a secret",
                out.display()
            )
        } else {
            anyhow::anyhow!("cannot write {}: {}", out.display(), e.error)
        }
    })?;
    Ok(())
}
