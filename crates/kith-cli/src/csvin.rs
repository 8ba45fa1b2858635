//! Reading a holder's CSV extract: header checks, character encodings, and errors that name the
//! file, the line and the column.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use crate::flags::InputEncoding;
use crate::manifest::HashingReader;

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

/// Rows read together: every row's fields in one buffer, each field followed by one separator byte
/// (for an unquoted line, the line itself), so that a chunk costs a few allocations however many
/// rows it holds, and a recycled chunk none.
#[derive(Debug, Default)]
pub(crate) struct Chunk {
    bytes: Vec<u8>,
    /// Where each field ends in `bytes`; the next starts one byte later.
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
            start = end + 1;
            f
        })
    }

    /// All of a row's bytes (its fields and the separators between them), and each field's range in
    /// them.
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
            start = e + 1;
            r
        });
        (&self.bytes[row.start..end], ranges)
    }
}

/// An open extract.
pub(crate) struct CsvInput {
    path: PathBuf,
    records: Records<HashingReader<File>>,
    header: Vec<String>,
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
        let mut records = Records::new(HashingReader::new(file), 256 << 10);
        let mut raw = Chunk::default();
        let read = records
            .read_header(&mut raw)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        let first = raw.rows.first().filter(|_| read);
        let header = match first {
            Some(row) if !raw.fields(row).all(|f| f.is_empty()) || row.fields > 1 => raw
                .fields(row)
                .enumerate()
                .map(|(i, f)| {
                    decode(f, encoding).map(Cow::into_owned).map_err(|m| {
                        anyhow::anyhow!("{}: line 1, column {}: {m}", path.display(), i + 1)
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            _ => bail!(
                "{}: the file is empty; expected a header row",
                path.display()
            ),
        };
        Ok(CsvInput {
            path: path.to_path_buf(),
            records,
            header,
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
        self.records.position()
    }

    /// The SHA-256 and size of what was read (the whole file once it has been read to the end),
    /// for the run's manifest.
    pub(crate) fn hash(&self) -> crate::atomic::Committed {
        self.records.inner.hash()
    }

    /// Read up to `n` rows into `out`, replacing what it held (its buffers are kept, so a recycled
    /// chunk costs no allocation). Returns false at the end of the file.
    pub(crate) fn read_chunk(&mut self, n: usize, out: &mut Chunk) -> Result<bool> {
        out.bytes.clear();
        out.ends.clear();
        out.rows.clear();
        while out.rows.len() < n {
            let more = self
                .records
                .read_record(out)
                .with_context(|| format!("{}: cannot read", self.path.display()))?;
            if !more {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A CSV file that kith wrote and a user hands back (clusters, families and members files, a
/// holder's map and results), read row by row as text, each row with the line it starts on and as
/// many fields as the header: what `csv::Reader` gives, but with line numbers that stay right in a
/// file re-saved with `\r\n` line endings.
pub(crate) struct CsvRows {
    path: PathBuf,
    records: Records<File>,
    chunk: Chunk,
    header: csv::StringRecord,
}

impl CsvRows {
    pub(crate) fn open(path: &Path) -> Result<CsvRows> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut rows = CsvRows {
            path: path.to_path_buf(),
            records: Records::new(file, 64 << 10),
            chunk: Chunk::default(),
            header: csv::StringRecord::new(),
        };
        let read = rows
            .records
            .read_header(&mut rows.chunk)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        if read {
            rows.header = rows.text_record()?;
        }
        Ok(rows)
    }

    /// The header row (empty for an empty file).
    pub(crate) fn header(&self) -> &csv::StringRecord {
        &self.header
    }

    /// The next row and the line it starts on; `None` at the end of the file.
    pub(crate) fn next_row(&mut self) -> Result<Option<(u64, csv::StringRecord)>> {
        self.chunk.bytes.clear();
        self.chunk.ends.clear();
        self.chunk.rows.clear();
        let more = self
            .records
            .read_record(&mut self.chunk)
            .with_context(|| format!("{}: cannot read", self.path.display()))?;
        if !more {
            return Ok(None);
        }
        let record = self.text_record()?;
        let line = self.chunk.rows[0].line;
        ensure!(
            record.len() == self.header.len(),
            "{}: line {line}: the row has {} fields but the header has {}",
            self.path.display(),
            record.len(),
            self.header.len()
        );
        Ok(Some((line, record)))
    }

    /// The chunk's one row as text.
    fn text_record(&self) -> Result<csv::StringRecord> {
        let row = &self.chunk.rows[0];
        let bytes: csv::ByteRecord = self.chunk.fields(row).collect();
        csv::StringRecord::from_byte_record(bytes).map_err(|e| {
            anyhow::anyhow!(
                "{}: line {}: field {}: not valid UTF-8",
                self.path.display(),
                row.line,
                e.utf8_error().field() + 1
            )
        })
    }
}

/// The records of a CSV file, as the `csv` crate reads them (RFC 4180 with its leniencies: `\n`,
/// `\r\n` or `\r` ending a record, blank lines skipped, a UTF-8 BOM dropped, rows of any length),
/// each with the line its first byte is on.
///
/// A line without quotes or carriage returns (but for a `\r\n` ending; nearly every line of an
/// extract) is found with `memchr` and split at its commas here, with
/// [`kith::kernel::byte_positions`] (sixteen bytes to a compare); any other line goes to
/// `csv_core`'s parser,
/// which is several times slower per byte. `csv::Reader`
/// itself is not used because the line it gives a record is where the previous record ended: wrong
/// after blank lines, and on every line of a `\r\n` file. A property test holds this reader to what
/// `csv::Reader` reads.
struct Records<R> {
    inner: R,
    /// Bytes read and not yet consumed are `buf[pos..end]`.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Bytes dropped from the front of `buf` so far.
    dropped: u64,
    eof: bool,
    /// 1-based line of `buf[pos]`.
    line: u64,
    rows: u64,
    core: csv_core::Reader,
    /// One record's fields as `core` writes them, and their ends.
    fields: Vec<u8>,
    ends: Vec<usize>,
}

impl<R: std::io::Read> Records<R> {
    fn new(inner: R, capacity: usize) -> Records<R> {
        Records {
            inner,
            buf: vec![0; capacity.max(1)],
            pos: 0,
            end: 0,
            dropped: 0,
            eof: false,
            line: 1,
            rows: 0,
            core: csv_core::Reader::new(),
            fields: vec![0; 1024],
            ends: vec![0; 64],
        }
    }

    /// Bytes consumed so far.
    fn position(&self) -> u64 {
        self.dropped + self.pos as u64
    }

    /// Read more of the input, keeping what is not consumed (moved to the front of the buffer, which
    /// doubles when one line fills it). Returns false when nothing more came (the end of the input).
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.dropped += self.pos as u64;
        self.pos = 0;
        if self.end == self.buf.len() {
            self.buf.resize(2 * self.buf.len(), 0);
        }
        let have = self.end;
        while self.end < self.buf.len() {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end > have)
    }

    /// Read the header row into `out` (blank lines before it and a BOM are dropped, as `csv` does).
    fn read_header(&mut self, out: &mut Chunk) -> std::io::Result<bool> {
        // `csv_core` drops a BOM only when its first input holds all three bytes, and takes an
        // input of nothing but a BOM for the end of the file.
        while self.end < 4 && self.fill()? {}
        let read = self.parse_record(out, self.line)?;
        self.rows = 0; // rows are numbered from the first data row
        Ok(read)
    }

    /// Read the next row into `out`, after what it holds. Returns false at the end of the input.
    fn read_record(&mut self, out: &mut Chunk) -> std::io::Result<bool> {
        // Blank lines (`csv` skips them, and so does `csv_core` at the start of a record).
        loop {
            match self.buf[..self.end].get(self.pos) {
                Some(b'\n') => {
                    self.line += 1;
                    self.pos += 1;
                }
                Some(b'\r') => self.pos += 1,
                Some(_) => break,
                None => {
                    if !self.fill()? {
                        return Ok(false);
                    }
                }
            }
        }
        let line = self.line;
        loop {
            let rest = &self.buf[self.pos..self.end];
            // The line's text and the bytes it takes with its ending: a plain line ends at a `\n`
            // or a `\r\n` (or at the end of the input) and holds no quote and no other `\r`.
            let (text, next, newline) = match memchr::memchr3(b'\n', b'\r', b'"', rest) {
                Some(n) if rest[n] == b'\n' => (&rest[..n], n + 1, true),
                Some(n) if rest[n] == b'\r' && rest.get(n + 1) == Some(&b'\n') => {
                    (&rest[..n], n + 2, true)
                }
                Some(n) if rest[n] == b'\r' && n + 1 == rest.len() && !self.eof => {
                    self.fill()?; // is it `\r\n`?
                    continue;
                }
                Some(_) => return self.parse_record(out, line),
                None if self.eof => (rest, rest.len(), false),
                None => {
                    self.fill()?;
                    continue;
                }
            };
            let start = out.bytes.len();
            let first = out.ends.len();
            out.bytes.extend_from_slice(text);
            kith::kernel::byte_positions(text, b',', start, &mut out.ends);
            out.ends.push(start + text.len());
            self.rows += 1;
            out.rows.push(RawRow {
                line,
                number: self.rows,
                first,
                fields: out.ends.len() - first,
                start,
            });
            self.line += u64::from(newline);
            self.pos += next;
            return Ok(true);
        }
    }

    /// Read one record with `csv_core` into `out`, noting it as starting on `line`.
    fn parse_record(&mut self, out: &mut Chunk, line: u64) -> std::io::Result<bool> {
        use csv_core::ReadRecordResult;
        let (mut len, mut nends) = (0, 0);
        loop {
            let input = &self.buf[self.pos..self.end];
            let (res, nin, nout, nend) =
                self.core
                    .read_record(input, &mut self.fields[len..], &mut self.ends[nends..]);
            self.line += memchr::memchr_iter(b'\n', &input[..nin]).count() as u64;
            self.pos += nin;
            len += nout;
            nends += nend;
            match res {
                ReadRecordResult::InputEmpty => {
                    if self.pos == self.end {
                        self.fill()?;
                    }
                }
                ReadRecordResult::OutputFull => {
                    let n = self.fields.len() * 2;
                    self.fields.resize(n, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let n = self.ends.len() * 2;
                    self.ends.resize(n, 0);
                }
                ReadRecordResult::Record => {
                    let start = out.bytes.len();
                    let first = out.ends.len();
                    let mut from = 0;
                    for &end in &self.ends[..nends] {
                        out.bytes.extend_from_slice(&self.fields[from..end]);
                        out.ends.push(out.bytes.len());
                        out.bytes.push(b',');
                        from = end;
                    }
                    self.rows += 1;
                    out.rows.push(RawRow {
                        line,
                        number: self.rows,
                        first,
                        fields: nends,
                        start,
                    });
                    return Ok(true);
                }
                ReadRecordResult::End => return Ok(false),
            }
        }
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
    if memchr::memchr(0, bytes).is_some() {
        return Err(
            "contains a NUL byte; is the file UTF-16 or binary? Save it as UTF-8 CSV".to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A file as read: the header's fields, and each row's line and fields.
    type Read = (Vec<Vec<u8>>, Vec<(u64, Vec<Vec<u8>>)>);

    /// Every record with its line, read by `Records` with a buffer of `capacity` bytes.
    fn read_all(input: &[u8], capacity: usize) -> Read {
        let mut records = Records::new(input, capacity);
        let mut chunk = Chunk::default();
        let header = match records.read_header(&mut chunk).expect("read") {
            true => chunk.fields(&chunk.rows[0]).map(<[u8]>::to_vec).collect(),
            false => Vec::new(),
        };
        let mut rows = Vec::new();
        loop {
            chunk.bytes.clear();
            chunk.ends.clear();
            chunk.rows.clear();
            if !records.read_record(&mut chunk).expect("read") {
                break;
            }
            let row = chunk.rows[0];
            assert_eq!(
                row.number,
                rows.len() as u64 + 1,
                "rows are numbered from 1"
            );
            let (bytes, ranges) = chunk.row_bytes(&row);
            let fields: Vec<Vec<u8>> = chunk.fields(&row).map(<[u8]>::to_vec).collect();
            let again: Vec<Vec<u8>> = ranges.map(|(a, b)| bytes[a..b].to_vec()).collect();
            assert_eq!(fields, again, "row_bytes gives the fields");
            rows.push((row.line, fields));
        }
        assert_eq!(
            records.position(),
            input.len() as u64,
            "every byte is consumed"
        );
        (header, rows)
    }

    /// What the `csv` crate reads, with each record's line worked out from its bytes: the line of
    /// the record's first byte, after the blank lines `csv` skips.
    fn read_with_csv(input: &[u8]) -> Read {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(input);
        let header = reader
            .byte_headers()
            .expect("headers")
            .iter()
            .map(<[u8]>::to_vec)
            .collect();
        let mut rows = Vec::new();
        let mut record = csv::ByteRecord::new();
        while reader.read_byte_record(&mut record).expect("read") {
            let mut at = record.position().map_or(0, |p| p.byte()) as usize;
            while matches!(input.get(at), Some(b'\r' | b'\n')) {
                at += 1;
            }
            let line = 1 + memchr::memchr_iter(b'\n', &input[..at]).count() as u64;
            rows.push((line, record.iter().map(<[u8]>::to_vec).collect()));
        }
        (header, rows)
    }

    /// Text made mostly of plain lines, with quotes, carriage returns, NULs and BOM bytes about.
    fn csv_text() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop::sample::select(vec![
            b'a', b'b', b'a', b'b', b' ', b',', b',', b',', b'\n', b'\n', b'"', b'\r', 0, 0xef,
            0xbb, 0xbf,
        ]);
        let text = prop::collection::vec(byte, 0..160);
        (text, any::<bool>()).prop_map(|(text, bom)| {
            let mut t = if bom {
                b"\xef\xbb\xbf".to_vec()
            } else {
                Vec::new()
            };
            t.extend(text);
            t
        })
    }

    proptest! {
        #[test]
        fn records_are_what_csv_reads_with_the_line_they_start_on(
            input in csv_text(),
            capacity in 1usize..48,
        ) {
            prop_assert_eq!(read_all(&input, capacity), read_with_csv(&input));
        }
    }

    #[test]
    fn lines_are_counted_across_blank_lines_crlf_and_quoted_newlines() {
        let input = b"h1,h2\r\na,b\r\n\r\nc,\"d\ne\"\r\n\n\nf,g";
        let (header, rows) = read_all(input, 4);
        assert_eq!(header, [b"h1".to_vec(), b"h2".to_vec()]);
        let lines: Vec<u64> = rows.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [2, 4, 8]);
        assert_eq!(rows[1].1, [b"c".to_vec(), b"d\ne".to_vec()]);
    }
}
