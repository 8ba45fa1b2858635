//! Output files that appear whole or not at all: written to a temporary file in the same folder,
//! flushed, synced, then renamed over the destination. A failed run leaves nothing behind (the
//! temporary file is removed when dropped). The file is synced to disk as it grows, so that the
//! last sync, which the run waits for, has little left to write.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use tempfile::NamedTempFile;

use crate::manifest::Hashing;

/// The folder a path's file lives in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Bytes written between syncs of a file being written: the last sync, which the run waits for,
/// then has little left to write.
const SYNC_EVERY: u64 = 2 << 20;

/// The temporary file, synced (data only) every `SYNC_EVERY` bytes.
#[derive(Debug)]
pub(crate) struct Syncing {
    file: NamedTempFile,
    unsynced: u64,
    /// The SHA-256 of what was written, for the run's manifest.
    hash: Hashing,
}

impl Write for Syncing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        self.unsynced += n as u64;
        if self.unsynced >= SYNC_EVERY {
            self.file.as_file().sync_data()?;
            self.unsynced = 0;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// A file's SHA-256 (lower-case hex) and size, as written or read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Committed {
    pub(crate) sha256: String,
    pub(crate) bytes: u64,
}

/// A file being written; call [`AtomicFile::commit`] to put it in place.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    dest: PathBuf,
    writer: BufWriter<Syncing>,
}

impl AtomicFile {
    pub(crate) fn create(dest: &Path) -> Result<AtomicFile> {
        let dir = parent_dir(dest);
        let tmp = tempfile::Builder::new()
            .prefix(".kith-partial-")
            .tempfile_in(&dir)
            .with_context(|| {
                format!(
                    "cannot create a temporary file in {} for {}",
                    dir.display(),
                    dest.display()
                )
            })?;
        Ok(AtomicFile {
            dest: dest.to_path_buf(),
            writer: BufWriter::with_capacity(
                1 << 20,
                Syncing {
                    file: tmp,
                    unsynced: 0,
                    hash: Hashing::new(),
                },
            ),
        })
    }

    pub(crate) fn writer(&mut self) -> &mut BufWriter<Syncing> {
        &mut self.writer
    }

    /// Flush, sync and rename into place; the file's SHA-256 and size.
    pub(crate) fn commit(self) -> Result<Committed> {
        let dest = self.dest;
        let Syncing {
            file: tmp, hash, ..
        } = self
            .writer
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("cannot write {}", dest.display()))?;
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", dest.display()))?;
        tmp.persist(&dest)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot put {} in place", dest.display()))?;
        Ok(hash.finish())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}
