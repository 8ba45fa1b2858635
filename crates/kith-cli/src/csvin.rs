//! Reading a holder's CSV extract: header checks, character encodings, and errors that name the
//! file, the line and the column.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::flags::InputEncoding;

/// One data row as read, before decoding; its fields live in its [`Chunk`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRow {
    /// 1-based line where the row starts.
    pub(crate) line: u64,
    /// 1-based number of the data row (the header is not counted).
    pub(crate) number: u64,
    /// Index in the chunk's `ends` of the row's first field.
    first: usize,
    /// Number of fields.
    fields: usize,
    /// Offset in the chunk's `bytes` where the row's first field starts.
    start: usize,
}

impl RawRow {
    /// Number of fields in the row.
    pub(crate) fn len(&self) -> usize {
        self.fields
    }
}

/// Rows read together: every field's bytes back to back in one buffer, so that a chunk costs a
/// few allocations however many rows it holds, and a recycled chunk none.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    pub(crate) rows: Vec<RawRow>,
}

impl Chunk {
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The fields of a row of this chunk.
    pub(crate) fn fields(&self, row: &RawRow) -> impl Iterator<Item = &[u8]> + '_ {
        let ends = &self.ends[row.first..row.first + row.fields];
        let mut start = row.start;
        ends.iter().map(move |&end| {
            let f = &self.bytes[start..end];
            start = end;
            f
        })
    }

    /// All of a row's field bytes, back to back, and each field's range in them.
    pub(crate) fn row_bytes(
        &self,
        row: &RawRow,
    ) -> (&[u8], impl Iterator<Item = (usize, usize)> + '_) {
        let ends = &self.ends[row.first..row.first + row.fields];
        let end = ends.last().copied().unwrap_or(row.start);
        let mut start = row.start;
        let base = row.start;
        let ranges = ends.iter().map(move |&e| {
            let r = (start - base, e - base);
            start = e;
            r
        });
        (&self.bytes[row.start..end], ranges)
    }
}

/// An open extract.
pub(crate) struct CsvInput {
    path: PathBuf,
    reader: csv::Reader<File>,
    record: csv::ByteRecord,
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
            .buffer_capacity(1 << 20)
            .from_reader(file);
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
            record: csv::ByteRecord::new(),
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

    /// Read up to `n` rows into `out`, replacing what it held (its buffers are kept, so a recycled
    /// chunk costs no allocation). Returns false at the end of the file.
    pub(crate) fn read_chunk(&mut self, n: usize, out: &mut Chunk) -> Result<bool> {
        out.bytes.clear();
        out.ends.clear();
        out.rows.clear();
        while out.rows.len() < n {
            let more = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| csv_error(&self.path, e))?;
            if !more {
                return Ok(false);
            }
            self.rows += 1;
            let start = out.bytes.len();
            out.rows.push(RawRow {
                line: self.record.position().map_or(0, |p| p.line()),
                number: self.rows,
                first: out.ends.len(),
                fields: self.record.len(),
                start,
            });
            out.bytes.extend_from_slice(self.record.as_slice());
            let mut field_start = start;
            for f in self.record.iter() {
                field_start += f.len();
                out.ends.push(field_start);
            }
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
    match encoding {
        InputEncoding::Utf8 => utf8(bytes).map(Cow::Borrowed),
        InputEncoding::Windows1252 => {
            no_nul(bytes)?;
            Ok(encoding_rs::WINDOWS_1252
                .decode_without_bom_handling(bytes)
                .0)
        }
    }
}

/// A UTF-8 field, borrowed.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, String> {
    no_nul(bytes)?;
    std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "not valid UTF-8 (byte {} of the field); if the file came from Excel or an older system, \
             pass --encoding windows-1252",
            e.valid_up_to() + 1
        )
    })
}

/// The longest field read, in bytes: far longer than any name, date or address, short enough that
/// a missing closing quote (which makes the rest of the file one field) is caught on its row.
pub(crate) const MAX_FIELD: usize = 64 * 1024;

fn no_nul(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() > MAX_FIELD {
        return Err(format!(
            "the value is {} bytes long; at most {MAX_FIELD} are read (is a closing quote missing?)",
            bytes.len()
        ));
    }
    if bytes.contains(&0) {
        return Err(
            "contains a NUL byte; is the file UTF-16 or binary? Save it as UTF-8 CSV".to_owned(),
        );
    }
    Ok(())
}
