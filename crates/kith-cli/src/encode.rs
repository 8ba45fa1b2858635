//! `kith encode`: stream a holder's CSV through the encoder in parallel and write the encodings.
//!
//! A reader thread reads chunks of rows; the rayon pool encodes each chunk (every worker thread
//! keeps its own scratch and value cache); the main thread collects the chunk's results in input
//! order and feeds the output. Memory stays bounded: kith-format rows are sorted by record token in
//! runs that spill to temporary files and are merged at the end, so output order says nothing about
//! input order. Everything is written to temporary files and renamed into place only on success.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{BufReader, Seek, Write};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use kith::encodings::{Header, record_line};
use kith::{Encoder, EncoderOptions, FieldOutcome, Layout, RecordInput, Scratch};
use rayon::prelude::*;

use crate::atomic::AtomicFile;
use crate::config::EncodeConfig;
use crate::csvin::{CsvInput, RawRow, decode};
use crate::flags::{OnError, OutputFormat};
use crate::summary::EncodeSummary;

/// Rows read and encoded together.
const CHUNK_ROWS: usize = 16 * 1024;

/// The result of one row.
enum RowResult {
    Ok {
        /// kith: the record line without its newline; clkhash-json: the base64 CLK.
        text: String,
        local_id: String,
        outcomes: Vec<FieldOutcome>,
        empty_clk: bool,
    },
    Err {
        field: String,
        message: String,
    },
}

struct Job<'a> {
    cfg: &'a EncodeConfig,
    layout: Layout,
    encoder: Encoder,
    header: Vec<String>,
    /// Column name per schema feature / exact identifier, for messages.
    feature_cols: BTreeMap<String, String>,
    id_col_name: Option<String>,
    scratches: Vec<Mutex<Scratch>>,
}

pub(crate) fn run(cfg: &EncodeConfig, quiet: bool) -> Result<EncodeSummary> {
    let started = Instant::now();
    let mut input = CsvInput::open(&cfg.input, cfg.encoding)?;
    let header = input.header().to_vec();
    let refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let layout = Layout::resolve(
        &cfg.schema,
        cfg.mapping.as_ref(),
        cfg.id_column.as_deref(),
        &refs,
    )
    .map_err(|e| anyhow::anyhow!("{}: line 1 (header): {e}", cfg.input.display()))?;
    let options = EncoderOptions {
        extra_date_formats: cfg
            .mapping
            .as_ref()
            .map(|m| m.date_formats.clone())
            .unwrap_or_default(),
    };
    let encoder = Encoder::new(&cfg.schema, &cfg.secret, &cfg.party, &options)
        .context("cannot derive the keys")?;

    let mut feature_cols = BTreeMap::new();
    for (name, col) in encoder
        .feature_names()
        .into_iter()
        .zip(layout.feature_columns())
    {
        if let Some(c) = col {
            feature_cols.insert(name.to_owned(), header[c].clone());
        }
    }
    for (name, col) in encoder
        .exact_names()
        .into_iter()
        .zip(layout.exact_columns())
    {
        if let Some(c) = col {
            feature_cols.insert(name.to_owned(), header[c].clone());
        }
    }
    let id_col_name = layout.id_column().map(|c| header[c].clone());
    let threads = rayon::current_num_threads();
    let job = Job {
        cfg,
        layout,
        encoder,
        header,
        feature_cols,
        id_col_name,
        scratches: (0..threads + 1)
            .map(|_| Mutex::new(Scratch::default()))
            .collect(),
    };

    let field_names: Vec<(String, bool)> = job
        .encoder
        .feature_names()
        .iter()
        .zip(cfg.schema.features())
        .filter(|(_, f)| f.hashing.is_some())
        .map(|(n, _)| ((*n).to_owned(), false))
        .chain(
            job.encoder
                .exact_names()
                .iter()
                .map(|n| ((*n).to_owned(), true)),
        )
        .collect();
    let hashed: Vec<bool> = cfg
        .schema
        .features()
        .iter()
        .map(|f| f.hashing.is_some())
        .chain(job.encoder.exact_names().iter().map(|_| true))
        .collect();
    let mut summary = EncodeSummary::new(cfg, &job.encoder, field_names);

    let progress = crate::summary::progress_bar(input.size(), quiet);
    let mut sink = Sink::new(cfg, &job)?;
    let mut rejects = cfg
        .rejects
        .as_deref()
        .map(AtomicFile::create)
        .transpose()?
        .map(|f| {
            let mut w = csv::Writer::from_writer(f);
            let _ = w.write_record(["line", "field", "reason"]);
            w
        });

    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(Vec<RawRow>, u64)>>(2);
        scope.spawn(move || {
            loop {
                let mut chunk = Vec::with_capacity(CHUNK_ROWS);
                match input.read_chunk(CHUNK_ROWS, &mut chunk) {
                    Ok(more) => {
                        let pos = input.position();
                        if !chunk.is_empty() && tx.send(Ok((chunk, pos))).is_err() {
                            return;
                        }
                        if !more {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        for msg in rx {
            let (chunk, pos) = msg?;
            let results: Vec<RowResult> = chunk.par_iter().map(|row| job.encode_row(row)).collect();
            for (row, result) in chunk.iter().zip(results) {
                match result {
                    RowResult::Ok {
                        text,
                        local_id,
                        outcomes,
                        empty_clk,
                    } => {
                        summary.count_record(&outcomes, &hashed, empty_clk);
                        sink.push(text, row.line, local_id)?;
                    }
                    RowResult::Err { field, message } => {
                        let reason = if field.is_empty() {
                            message
                        } else {
                            format!("{field}: {message}")
                        };
                        if cfg.on_error == OnError::Fail {
                            bail!(
                                "{}: line {}: {reason}\n(no output was written; pass --on-error skip to skip bad rows and count them)",
                                cfg.input.display(),
                                row.line
                            );
                        }
                        if let Some(w) = rejects.as_mut() {
                            w.write_record([row.line.to_string(), field, reason.clone()])
                                .with_context(|| {
                                    format!(
                                        "cannot write the rejects file {}",
                                        cfg.rejects
                                            .as_deref()
                                            .map(|p| p.display().to_string())
                                            .unwrap_or_default()
                                    )
                                })?;
                        }
                        summary.count_skip(reason);
                    }
                }
            }
            progress.set_position(pos);
        }
        Ok(())
    })?;
    progress.finish_and_clear();

    let duplicates = sink.finish(&job, &mut summary, rejects.as_mut())?;
    if let Some(w) = rejects {
        let f = w
            .into_inner()
            .map_err(|e| e.into_error())
            .context("cannot write the rejects file")?;
        f.commit()?;
    }
    summary.duplicates = duplicates;
    summary.elapsed = started.elapsed();
    summary.threads = threads;
    Ok(summary)
}

impl Job<'_> {
    fn column_label(&self, field: &str) -> String {
        match self.feature_cols.get(field) {
            Some(col) if col != field => format!("field `{field}` (column {col:?})"),
            _ => format!("field `{field}`"),
        }
    }

    fn encode_row(&self, row: &RawRow) -> RowResult {
        let err = |field: String, message: String| RowResult::Err { field, message };
        if row.record.len() != self.header.len() {
            return err(
                String::new(),
                format!(
                    "the row has {} fields but the header has {}",
                    row.record.len(),
                    self.header.len()
                ),
            );
        }
        let mut values: Vec<Cow<'_, str>> = Vec::with_capacity(row.record.len());
        for (i, f) in row.record.iter().enumerate() {
            match decode(f, self.cfg.encoding) {
                Ok(v) => values.push(v),
                Err(m) => return err(format!("column {:?}", self.header[i]), m),
            }
        }
        let refs: Vec<&str> = values.iter().map(|v| v.as_ref()).collect();
        let (mut features, mut exact) = (Vec::new(), Vec::new());
        self.layout.extract(&refs, &mut features, &mut exact);
        let number;
        let local_id = match self.layout.local_id(&refs) {
            Some(id) if id.trim().is_empty() => {
                return err(
                    format!("column {:?}", self.id_col_name.as_deref().unwrap_or("")),
                    "the local ID is empty".to_owned(),
                );
            }
            Some(id) => id,
            None => {
                number = row.number.to_string();
                number.as_str()
            }
        };
        let slot = rayon::current_thread_index().map_or(self.scratches.len() - 1, |i| {
            i.min(self.scratches.len() - 1)
        });
        let mut scratch = match self.scratches[slot].lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let kith_format = self.cfg.format == OutputFormat::Kith;
        let input = RecordInput {
            features: &features,
            exact: &exact,
            local_id: kith_format.then_some(local_id),
        };
        let encoded = match self.encoder.encode(&mut scratch, &input) {
            Ok(e) => e,
            Err(e) => return err(self.column_label(&e.feature), e.message),
        };
        let empty_clk = encoded.clk.iter().all(|&b| b == 0);
        let text = match self.cfg.format {
            OutputFormat::Kith => {
                let mut line = String::with_capacity(256);
                let token = encoded.token.unwrap_or_default();
                record_line(&token, encoded, &mut line);
                line.pop(); // the newline is added when written
                line
            }
            OutputFormat::ClkhashJson => B64.encode(&encoded.clk),
        };
        RowResult::Ok {
            text,
            local_id: local_id.to_owned(),
            outcomes: scratch.outcomes().to_vec(),
            empty_clk,
        }
    }
}

/// Where encoded rows go. There is one per run, so its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Sink {
    Kith {
        sorter: Sorter,
    },
    Clkhash {
        out: AtomicFile,
        map: Option<csv::Writer<AtomicFile>>,
        written: u64,
    },
}

impl Sink {
    fn new(cfg: &EncodeConfig, _job: &Job<'_>) -> Result<Sink> {
        Ok(match cfg.format {
            OutputFormat::Kith => Sink::Kith {
                sorter: Sorter::new(&cfg.output, cfg.sort_run_rows),
            },
            OutputFormat::ClkhashJson => {
                let mut out = AtomicFile::create(&cfg.output)?;
                out.write_all(b"{\"clks\": [")
                    .context("cannot write the output")?;
                Sink::Clkhash {
                    out,
                    map: open_map(cfg)?,
                    written: 0,
                }
            }
        })
    }

    fn push(&mut self, text: String, line: u64, local_id: String) -> Result<()> {
        match self {
            Sink::Kith { sorter } => sorter.push(Entry {
                text,
                line,
                local_id,
            }),
            Sink::Clkhash { out, map, written } => {
                if *written > 0 {
                    out.write_all(b", ")?;
                }
                out.write_all(b"\"")?;
                out.write_all(text.as_bytes())?;
                out.write_all(b"\"")?;
                if let Some(m) = map {
                    m.write_record([written.to_string().as_str(), local_id.as_str()])?;
                }
                *written += 1;
                Ok(())
            }
        }
    }

    /// Write everything out and put the files in place. Returns the number of duplicate local IDs.
    fn finish(
        self,
        job: &Job<'_>,
        summary: &mut EncodeSummary,
        mut rejects: Option<&mut csv::Writer<AtomicFile>>,
    ) -> Result<u64> {
        let cfg = job.cfg;
        match self {
            Sink::Clkhash {
                mut out,
                map,
                written,
            } => {
                out.write_all(b"]}").context("cannot write the output")?;
                summary.written = written;
                if let Some(m) = map {
                    m.into_inner()
                        .map_err(|e| e.into_error())
                        .context("cannot write the map")?
                        .commit()?;
                }
                out.commit()?;
                Ok(0)
            }
            Sink::Kith { sorter } => {
                let dir = crate::atomic::parent_dir(&cfg.output);
                let mut body = tempfile::tempfile_in(&dir).with_context(|| {
                    format!("cannot create a temporary file in {}", dir.display())
                })?;
                let mut map = open_map(cfg)?;
                let mut written = 0u64;
                let mut duplicates = 0u64;
                {
                    let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut body);
                    let mut prev: Option<Entry> = None;
                    sorter.merge(|e| {
                        if let Some(p) = &prev
                            && p.text[..32] == e.text[..32]
                        {
                            let what = match &job.id_col_name {
                                Some(c) => format!(
                                    "duplicate local ID in column {c:?} (first at line {})",
                                    p.line
                                ),
                                None => format!("duplicate record (first at line {})", p.line),
                            };
                            if cfg.on_error == OnError::Fail {
                                bail!(
                                    "{}: line {}: {what}; local IDs must be unique",
                                    cfg.input.display(),
                                    e.line
                                );
                            }
                            duplicates += 1;
                            summary.count_skip("duplicate local ID".to_owned());
                            summary.uncount_record();
                            if let Some(r) = rejects.as_mut() {
                                r.write_record([
                                    e.line.to_string(),
                                    job.id_col_name.clone().unwrap_or_default(),
                                    what,
                                ])?;
                            }
                            return Ok(());
                        }
                        w.write_all(e.text.as_bytes())?;
                        w.write_all(b"\n")?;
                        if let Some(m) = map.as_mut() {
                            m.write_record([&e.text[..32], e.local_id.as_str()])?;
                        }
                        written += 1;
                        prev = Some(e);
                        Ok(())
                    })?;
                    w.flush().context("cannot write a temporary file")?;
                }
                let mut out = AtomicFile::create(&cfg.output)?;
                let header = Header {
                    party: cfg.party.clone(),
                    schema_fingerprint: cfg.schema.fingerprint().to_owned(),
                    key_check: job.encoder.key_check().to_owned(),
                    clk_bits: job.encoder.clk_bits(),
                    records: written,
                    exact: job
                        .encoder
                        .exact_names()
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect(),
                };
                header
                    .write(out.writer())
                    .context("cannot write the output")?;
                body.rewind().context("cannot read a temporary file")?;
                std::io::copy(&mut body, out.writer()).context("cannot write the output")?;
                summary.written = written;
                if let Some(m) = map {
                    m.into_inner()
                        .map_err(|e| e.into_error())
                        .context("cannot write the map")?
                        .commit()?;
                }
                out.commit()?;
                Ok(duplicates)
            }
        }
    }
}

fn open_map(cfg: &EncodeConfig) -> Result<Option<csv::Writer<AtomicFile>>> {
    cfg.keep_map
        .as_deref()
        .map(|p| -> Result<_> {
            let mut w = csv::Writer::from_writer(AtomicFile::create(p)?);
            w.write_record(["token", "local_id"])?;
            Ok(w)
        })
        .transpose()
}

/// One kith-format row on its way to being sorted.
struct Entry {
    /// The record line without newline; it starts with the 32-hex-digit record token.
    text: String,
    line: u64,
    local_id: String,
}

impl Entry {
    fn key(&self) -> (&str, u64) {
        (&self.text[..32], self.line)
    }
}

/// External sort by (record token, input line): sorted runs of `run_rows` rows spill to anonymous
/// temporary files as CSV, and are merged at the end.
struct Sorter {
    run: Vec<Entry>,
    run_rows: usize,
    spills: Vec<std::fs::File>,
    dir: std::path::PathBuf,
}

impl Sorter {
    fn new(output: &std::path::Path, run_rows: usize) -> Sorter {
        Sorter {
            run: Vec::new(),
            run_rows,
            spills: Vec::new(),
            dir: crate::atomic::parent_dir(output),
        }
    }

    fn push(&mut self, e: Entry) -> Result<()> {
        self.run.push(e);
        if self.run.len() >= self.run_rows {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        self.run.par_sort_unstable_by(|a, b| a.key().cmp(&b.key()));
        let mut file = tempfile::tempfile_in(&self.dir)
            .with_context(|| format!("cannot create a temporary file in {}", self.dir.display()))?;
        {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(std::io::BufWriter::with_capacity(1 << 20, &mut file));
            for e in self.run.drain(..) {
                w.write_record([
                    e.text.as_str(),
                    e.line.to_string().as_str(),
                    e.local_id.as_str(),
                ])?;
            }
            w.flush().context("cannot write a temporary file")?;
        }
        file.rewind().context("cannot read a temporary file")?;
        self.spills.push(file);
        Ok(())
    }

    /// Hand every entry to `emit` in (token, line) order.
    fn merge(mut self, mut emit: impl FnMut(Entry) -> Result<()>) -> Result<()> {
        self.run.par_sort_unstable_by(|a, b| a.key().cmp(&b.key()));
        if self.spills.is_empty() {
            for e in self.run {
                emit(e)?;
            }
            return Ok(());
        }
        let mut sources: Vec<Source> = self
            .spills
            .into_iter()
            .map(|f| {
                Source::File(
                    csv::ReaderBuilder::new()
                        .has_headers(false)
                        .from_reader(BufReader::with_capacity(1 << 16, f)),
                )
            })
            .collect();
        sources.push(Source::Mem(self.run.into_iter()));
        let mut heads: Vec<Option<Entry>> = Vec::with_capacity(sources.len());
        for s in &mut sources {
            heads.push(s.next()?);
        }
        let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(String, u64, usize)>> = heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                h.as_ref()
                    .map(|e| std::cmp::Reverse((e.text[..32].to_owned(), e.line, i)))
            })
            .collect();
        while let Some(std::cmp::Reverse((_, _, i))) = heap.pop() {
            let Some(e) = heads[i].take() else { continue };
            heads[i] = sources[i].next()?;
            if let Some(n) = &heads[i] {
                heap.push(std::cmp::Reverse((n.text[..32].to_owned(), n.line, i)));
            }
            emit(e)?;
        }
        Ok(())
    }
}

enum Source {
    File(csv::Reader<BufReader<std::fs::File>>),
    Mem(std::vec::IntoIter<Entry>),
}

impl Source {
    fn next(&mut self) -> Result<Option<Entry>> {
        match self {
            Source::Mem(it) => Ok(it.next()),
            Source::File(r) => {
                let mut rec = csv::StringRecord::new();
                if !r
                    .read_record(&mut rec)
                    .context("cannot read a temporary file")?
                {
                    return Ok(None);
                }
                let line = rec
                    .get(1)
                    .and_then(|l| l.parse().ok())
                    .context("a temporary file is damaged")?;
                Ok(Some(Entry {
                    text: rec.get(0).unwrap_or_default().to_owned(),
                    line,
                    local_id: rec.get(2).unwrap_or_default().to_owned(),
                }))
            }
        }
    }
}
