//! Reading a holder's CSV extract: header checks, character encodings, and errors that name the
//! file, the line and the column.

use std::borrow::Cow;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::flags::InputEncoding;

/// One data row as read, before decoding.
#[derive(Debug)]
pub(crate) struct RawRow {
    /// 1-based line where the row starts.
    pub(crate) line: u64,
    /// 1-based number of the data row (the header is not counted).
    pub(crate) number: u64,
    pub(crate) record: csv::ByteRecord,
}

/// An open extract.
pub(crate) struct CsvInput {
    path: PathBuf,
    reader: csv::Reader<BufReader<File>>,
    header: Vec<String>,
    rows: u64,
    size: u64,
}

impl std::fmt::Debug for CsvInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvInput")
            .field("path", &self.path)
            .finish()
    }
}

impl CsvInput {
    pub(crate) fn open(path: &Path, encoding: InputEncoding) -> Result<CsvInput> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(BufReader::with_capacity(1 << 20, file));
        let raw = reader
            .byte_headers()
            .map_err(|e| csv_error(path, e))?
            .clone();
        if raw.is_empty() || (raw.len() == 1 && raw[0].is_empty()) {
            bail!(
                "{}: the file is empty; expected a header row",
                path.display()
            );
        }
        let header = raw
            .iter()
            .enumerate()
            .map(|(i, f)| {
                decode(f, encoding).map(Cow::into_owned).map_err(|m| {
                    anyhow::anyhow!("{}: line 1, column {}: {m}", path.display(), i + 1)
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(CsvInput {
            path: path.to_path_buf(),
            reader,
            header,
            rows: 0,
            size,
        })
    }

    pub(crate) fn header(&self) -> &[String] {
        &self.header
    }

    /// Size of the file in bytes (for the progress bar).
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Bytes read so far.
    pub(crate) fn position(&self) -> u64 {
        self.reader.position().byte()
    }

    /// Read up to `n` rows into `out`. Returns false at the end of the file.
    pub(crate) fn read_chunk(&mut self, n: usize, out: &mut Vec<RawRow>) -> Result<bool> {
        out.clear();
        while out.len() < n {
            let mut record = csv::ByteRecord::new();
            let more = self
                .reader
                .read_byte_record(&mut record)
                .map_err(|e| csv_error(&self.path, e))?;
            if !more {
                return Ok(false);
            }
            self.rows += 1;
            let line = record.position().map_or(0, |p| p.line());
            out.push(RawRow {
                line,
                number: self.rows,
                record,
            });
        }
        Ok(true)
    }
}

fn csv_error(path: &Path, e: csv::Error) -> anyhow::Error {
    let at = e
        .position()
        .map(|p| format!("line {}: ", p.line()))
        .unwrap_or_default();
    match e.kind() {
        csv::ErrorKind::Io(_) => anyhow::anyhow!("{}: cannot read: {e}", path.display()),
        _ => anyhow::anyhow!("{}: {at}not valid CSV: {e}", path.display()),
    }
}

/// Decode one field. Errors say what is wrong without repeating the value.
pub(crate) fn decode(bytes: &[u8], encoding: InputEncoding) -> Result<Cow<'_, str>, String> {
    if bytes.contains(&0) {
        return Err(
            "contains a NUL byte; is the file UTF-16 or binary? Save it as UTF-8 CSV".to_owned(),
        );
    }
    match encoding {
        InputEncoding::Utf8 => std::str::from_utf8(bytes).map(Cow::Borrowed).map_err(|e| {
            format!(
                "not valid UTF-8 (byte {} of the field); if the file came from Excel or an older system, \
                 pass --encoding windows-1252",
                e.valid_up_to() + 1
            )
        }),
        InputEncoding::Windows1252 => Ok(encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0),
    }
}
