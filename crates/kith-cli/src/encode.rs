//! `kith encode`: stream a holder's CSV through the encoder in parallel and write the encodings.
//!
//! A reader thread reads chunks of rows, each chunk's fields back to back in one buffer (a fixed
//! pool of four chunks circulates, so buffers are reused); the rayon pool encodes each chunk in
//! batches of 256 rows, feature by feature (a batch takes its worker's scratch and caches once, and
//! writes its rows' output into one string); a writer thread walks each chunk's batches in input
//! order and feeds the output while the pool encodes the next chunk. Memory stays bounded:
//! kith-format rows are sorted by record token in runs that spill to temporary files and are merged
//! at the end, so output order says nothing about input order. Everything is written to temporary
//! files and renamed into place only on success.

use std::collections::BTreeMap;
use std::io::{BufReader, Seek, Write};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use kith::encode::EncodedBatch;
use kith::encodings::{push_base64, record_line};
use kith::schema::InputKind;
use kith::{Encoder, EncoderOptions, FieldOutcome, Layout, RecordInput, Scratch};
use rayon::prelude::*;

use crate::atomic::AtomicFile;
use crate::config::EncodeConfig;
use crate::csvin::{Chunk, CsvInput, MAX_FIELD, RawRow, decode, utf8};
use crate::flags::{InputEncoding, OnError, OutputFormat};
use crate::summary::{EncodeSummary, FieldCounts};

/// Rows read and encoded together: eight batches per worker thread, at least 4,096 rows and at most
/// 32,768. Small chunks stay in the cache between the reader and the workers, and the pipeline
/// fills and drains sooner.
fn chunk_rows(threads: usize) -> usize {
    (threads * 8 * BATCH_ROWS).clamp(4 * 1024, 32 * 1024)
}
/// Chunks in circulation with a reader thread (more than one worker thread): one being encoded, up
/// to two queued, one being read. The reader is several times faster than the encoder, so a deeper
/// queue only adds memory to fault in.
const CHUNKS_IN_FLIGHT: usize = 4;
/// Rows one worker encodes in one go.
const BATCH_ROWS: usize = 256;

/// The output of one batch of rows, in input order. Batches go back from the writer to be filled
/// again, so their buffers are allocated once per run.
#[derive(Default)]
struct Batch {
    /// kith: record lines, each ending in a newline; clkhash-json: each CLK as the JSON array's next
    /// element, `, "<base64>"` (the writer drops the first separator of the file).
    text: String,
    /// Local IDs back to back (kith format only).
    ids: String,
    rows: Vec<BatchRow>,
    counts: Vec<FieldCounts>,
    empty_clks: u64,
}

enum BatchRow {
    Ok {
        line: u64,
        text_end: usize,
        id_end: usize,
    },
    Err {
        line: u64,
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
    /// Which encoder outcomes are reported (ignored features are not).
    reported: Vec<bool>,
    /// One scratch space and result buffer per worker thread.
    scratches: Vec<Mutex<(Scratch, EncodedBatch)>>,
}

pub(crate) fn run(cfg: &EncodeConfig, quiet: bool) -> Result<EncodeSummary> {
    let started = Instant::now();
    let mut input = CsvInput::open(&cfg.input, cfg.encoding)?;
    let threads = rayon::current_num_threads();
    let job = Job::new(cfg, input.header().to_vec(), threads)?;
    let mut summary = EncodeSummary::new(cfg, &job.encoder, job.field_labels());
    summary.unmentioned = job.layout.unmentioned().to_vec();
    let progress = crate::summary::progress_bar(input.size(), quiet);
    let mut out = Output {
        sink: Sink::new(cfg)?,
        rejects: open_rejects(cfg)?,
    };
    job.pipeline(&mut input, &mut out, &mut summary, &progress)?;
    progress.finish_and_clear();
    summary.duplicates = out.sink.finish(&job, &mut summary, out.rejects.as_mut())?;
    if let Some(w) = out.rejects {
        summary.hashes.rejects = Some(
            w.into_inner()
                .map_err(|e| e.into_error())
                .context("cannot write the rejects file")?
                .commit()?,
        );
    }
    summary.hashes.input = Some(input.hash());
    summary.elapsed = started.elapsed();
    summary.threads = threads;
    Ok(summary)
}

/// Write the run's manifest beside its output (`FILE.manifest.json`): the files by SHA-256,
/// the schema's fingerprint and key check, the settings and the counts; who keeps which file.
pub(crate) fn write_manifest(
    cfg: &EncodeConfig,
    summary: &EncodeSummary,
    mut m: crate::manifest::Manifest,
) -> Result<()> {
    let h = &summary.hashes;
    if let Some(input) = h.input.clone() {
        m.input_hashed("extract", &cfg.input, input);
    }
    m.input("schema", &cfg.schema_path)?;
    if let Some(p) = &cfg.mapping_path {
        m.input("mapping", p)?;
    }
    let (role, to) = match cfg.format {
        OutputFormat::Kith => ("encodings", "the linkage party"),
        OutputFormat::ClkhashJson => ("clks", "the linkage party"),
    };
    if let Some(out) = h.output.clone() {
        m.output(role, &cfg.output, out, to);
    }
    let holder = "this holder only: never sent";
    if let (Some(p), Some(map)) = (&cfg.keep_map, h.map.clone()) {
        m.output("map", p, map, holder);
    }
    if let (Some(p), Some(r)) = (&cfg.rejects, h.rejects.clone()) {
        m.output("rejects", p, r, holder);
    }
    summary.fill_manifest(&mut m);
    m.param("format", value_name(cfg.format));
    m.param("party", &cfg.party);
    m.param("id_column", &cfg.id_column);
    m.param("input_encoding", value_name(cfg.encoding));
    m.param("on_error", value_name(cfg.on_error));
    m.param("run_salt", cfg.run_salt.is_some());
    m.param("threads", summary.threads);
    m.write(&crate::manifest::beside(&cfg.output))
}

/// The name a flag's value has on the command line.
fn value_name(v: impl clap::ValueEnum) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_owned())
        .unwrap_or_default()
}

/// Where a run's rows go: the encodings (or CLKs) and, if asked for, the refused rows.
struct Output {
    sink: Sink,
    rejects: Option<csv::Writer<AtomicFile>>,
}

/// The rejects file, with its header, when `--rejects` asks for one.
fn open_rejects(cfg: &EncodeConfig) -> Result<Option<csv::Writer<AtomicFile>>> {
    cfg.rejects
        .as_deref()
        .map(|p| -> Result<_> {
            let mut w = csv::Writer::from_writer(AtomicFile::create(p)?);
            w.write_record(["line", "field", "reason"])?;
            Ok(w)
        })
        .transpose()
}

/// A reader thread's loop: fill chunks from `input` (a fixed pool of `CHUNKS_IN_FLIGHT` circulates:
/// new ones are made until the pool is full, then spent ones come back on `back`) and send each with
/// the input position after it, until the input ends, an error (sent on), or the receiver stops.
fn read_ahead(
    input: &mut CsvInput,
    chunk_rows: usize,
    tx: &std::sync::mpsc::SyncSender<Result<(Chunk, u64)>>,
    back: &std::sync::mpsc::Receiver<Chunk>,
) {
    let mut made = 0;
    loop {
        let mut chunk = match back.try_recv() {
            Ok(c) => c,
            Err(_) if made < CHUNKS_IN_FLIGHT => {
                made += 1;
                Chunk::default()
            }
            Err(_) => match back.recv() {
                Ok(c) => c,
                Err(_) => return, // the main thread has stopped
            },
        };
        match input.read_chunk(chunk_rows, &mut chunk) {
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
}

/// Hand one chunk's results to the output, in input order. With `--on-error fail` the first refused
/// row ends the run.
fn write_batches(
    cfg: &EncodeConfig,
    batches: &[Batch],
    sink: &mut Sink,
    mut rejects: Option<&mut csv::Writer<AtomicFile>>,
    summary: &mut EncodeSummary,
) -> Result<()> {
    for batch in batches {
        summary.add_batch(&batch.counts, batch.empty_clks);
        let (mut text_start, mut id_start) = (0, 0);
        for row in &batch.rows {
            match row {
                BatchRow::Ok {
                    line,
                    text_end,
                    id_end,
                } => {
                    summary.encoded += 1;
                    sink.push(
                        &batch.text[text_start..*text_end],
                        *line,
                        &batch.ids[id_start..*id_end],
                    )?;
                    (text_start, id_start) = (*text_end, *id_end);
                }
                BatchRow::Err {
                    line,
                    field,
                    message,
                } => {
                    let reason = if field.is_empty() {
                        message.clone()
                    } else {
                        format!("{field}: {message}")
                    };
                    if cfg.on_error == OnError::Fail {
                        bail!(
                            "{}: line {line}: {reason}\n(no output was written; pass --on-error skip to skip bad rows and count them)",
                            cfg.input.display()
                        );
                    }
                    if let Some(w) = rejects.as_mut() {
                        w.write_record([line.to_string().as_str(), field, &reason])
                            .context("cannot write the rejects file")?;
                    }
                    summary.count_skip(reason);
                }
            }
        }
    }
    Ok(())
}

impl<'a> Job<'a> {
    /// Resolve the holder's columns against the schema and prepare the encoder.
    fn new(cfg: &'a EncodeConfig, header: Vec<String>, threads: usize) -> Result<Job<'a>> {
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
            criteria_not_held: layout
                .not_held(&cfg.schema)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            run_salt: cfg.run_salt.clone(),
        };
        let encoder = Encoder::new(&cfg.schema, &cfg.secret, &cfg.party, &options)
            .context("cannot derive the keys")?;
        let mut feature_cols = BTreeMap::new();
        let names = encoder
            .feature_names()
            .into_iter()
            .chain(encoder.input_names());
        let columns = layout
            .feature_columns()
            .into_iter()
            .chain(layout.exact_columns());
        for (name, col) in names.zip(columns) {
            if let Some(c) = col {
                feature_cols.insert(name.to_owned(), header[c].clone());
            }
        }
        let id_col_name = layout.id_column().map(|c| header[c].clone());
        let reported: Vec<bool> = cfg
            .schema
            .features()
            .iter()
            .map(|f| f.hashing.is_some())
            .chain(encoder.input_names().iter().map(|n| {
                // A criterion this holder does not hold is not reported as missing everywhere.
                !cfg.schema.kith().criteria.iter().any(|c| c.name == *n)
                    || encoder.criteria_names().contains(n)
            }))
            .collect();
        Ok(Job {
            cfg,
            layout,
            encoder,
            header,
            feature_cols,
            id_col_name,
            reported,
            scratches: (0..threads + 1)
                .map(|_| Mutex::new((Scratch::default(), EncodedBatch::default())))
                .collect(),
        })
    }

    /// The summary's label of each reported field, and whether it is a keyed input rather than a
    /// CLK feature.
    fn field_labels(&self) -> Vec<(String, bool)> {
        let schema = &self.cfg.schema;
        let features = self
            .encoder
            .feature_names()
            .into_iter()
            .zip(schema.features())
            .filter(|(_, f)| f.hashing.is_some())
            .map(|(n, _)| (n.to_owned(), false));
        let inputs = schema
            .kith()
            .keyed_inputs()
            .into_iter()
            .zip(&self.reported[schema.features().len()..])
            .filter(|(_, r)| **r)
            .map(|((n, kind), _)| {
                let label = match kind {
                    InputKind::Exact => n.to_owned(),
                    InputKind::Address | InputKind::Register => format!("{n} (household)"),
                    InputKind::Criterion => format!("{n} (flag)"),
                };
                (label, true)
            });
        features.chain(inputs).collect()
    }
}

impl Job<'_> {
    /// Read, encode and write the whole input: with one thread, this thread reads and encodes in
    /// turn; with more, a reader thread keeps the pool fed. Either way a writer thread takes each
    /// chunk's results in input order while the next chunk is encoded.
    fn pipeline(
        &self,
        input: &mut CsvInput,
        out: &mut Output,
        summary: &mut EncodeSummary,
        progress: &indicatif::ProgressBar,
    ) -> Result<()> {
        let cfg = self.cfg;
        let threads = self.scratches.len() - 1;
        std::thread::scope(|scope| -> Result<()> {
            // Written batches come back to be filled again: buffers freed on the writer thread
            // and allocated anew on the workers made the allocator hand memory back to the system
            // and fault it in again.
            let (out_tx, out_rx) = std::sync::mpsc::sync_channel::<Vec<Batch>>(2);
            let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Vec<Batch>>();
            let writer = scope.spawn(move || -> Result<()> {
                for batches in out_rx {
                    write_batches(cfg, &batches, &mut out.sink, out.rejects.as_mut(), summary)?;
                    let _ = spent_tx.send(batches);
                }
                Ok(())
            });
            // Encode a chunk and hand its batches to the writer; false once the writer has stopped
            // (on an error, reported below).
            let encode = |chunk: &Chunk| -> bool {
                let mut batches = spent_rx.try_recv().unwrap_or_default();
                batches.resize_with(chunk.rows.len().div_ceil(BATCH_ROWS), Batch::default);
                if threads == 1 {
                    // This thread, with no hand-over to the pool and back for each chunk.
                    for (batch, rows) in batches.iter_mut().zip(chunk.rows.chunks(BATCH_ROWS)) {
                        self.encode_batch(chunk, rows, batch);
                    }
                } else {
                    batches
                        .par_iter_mut()
                        .zip(chunk.rows.par_chunks(BATCH_ROWS))
                        .for_each(|(batch, rows)| self.encode_batch(chunk, rows, batch));
                }
                out_tx.send(batches).is_ok()
            };
            let chunk_rows = chunk_rows(threads);
            if threads == 1 {
                // One thread reads and encodes in turn: each chunk is still in this core's cache
                // when it is encoded, and one thread means one core's work.
                let mut chunk = Chunk::default();
                loop {
                    let more = input.read_chunk(chunk_rows, &mut chunk)?;
                    if chunk.is_empty() || !encode(&chunk) {
                        break;
                    }
                    progress.set_position(input.position());
                    if !more {
                        break;
                    }
                }
            } else {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(Chunk, u64)>>(2);
                let (back_tx, back_rx) = std::sync::mpsc::channel::<Chunk>();
                scope.spawn(move || read_ahead(input, chunk_rows, &tx, &back_rx));
                for msg in rx {
                    let (chunk, pos) = msg?;
                    let written = encode(&chunk);
                    let _ = back_tx.send(chunk);
                    if !written {
                        break;
                    }
                    progress.set_position(pos);
                }
            }
            drop(out_tx);
            match writer.join() {
                Ok(result) => result?,
                Err(panic) => std::panic::resume_unwind(panic),
            }
            Ok(())
        })
    }

    fn column_label(&self, field: &str) -> String {
        match self.feature_cols.get(field) {
            Some(col) if col != field => format!("field `{field}` (column {col:?})"),
            _ => format!("field `{field}`"),
        }
    }

    /// Encode `rows` of `chunk` into `batch`, whose earlier contents are dropped (its buffers are
    /// kept): decode every row, pick each good row's values in schema order, encode the good rows
    /// together feature by feature, and write the results in input order.
    fn encode_batch(&self, chunk: &Chunk, rows: &[RawRow], batch: &mut Batch) {
        let nfields = self.reported.iter().filter(|r| **r).count();
        batch.text.clear();
        batch.text.reserve(rows.len() * 240);
        batch.ids.clear();
        batch.rows.clear();
        batch.counts.clear();
        batch.counts.resize(nfields, FieldCounts::default());
        batch.empty_clks = 0;
        let mut decoded = Decoded::default();
        let mut cells: Vec<&str> = Vec::with_capacity(rows.len() * self.header.len());
        for row in rows {
            let problem = self.decode_row(chunk, row, &mut cells, &mut decoded);
            decoded.problems.push(problem);
        }
        if self.cfg.encoding == InputEncoding::Windows1252 {
            cells.extend(decoded.spans.iter().map(|&(a, b)| &decoded.text[a..b]));
        }
        let mut problems = std::mem::take(&mut decoded.problems);
        let picked = self.pick(rows, &cells, &mut problems, &decoded);
        let inputs: Vec<RecordInput<'_>> = (0..picked.local_ids.len())
            .map(|j| picked.input(j, self.cfg.format == OutputFormat::Kith))
            .collect();
        let slot = rayon::current_thread_index().map_or(self.scratches.len() - 1, |i| {
            i.min(self.scratches.len() - 1)
        });
        let mut guard = match self.scratches[slot].lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let (scratch, encoded) = &mut *guard;
        self.encoder.encode_many(scratch, &inputs, encoded);
        self.write_rows(rows, problems, encoded, &picked.local_ids, batch);
    }

    /// Check and decode one row, appending its cells to `cells` (UTF-8 cells borrow from the chunk;
    /// Windows-1252 cells are decoded into `decoded.text`, to be borrowed once it is complete); why
    /// the row is refused, if it is.
    fn decode_row<'c>(
        &self,
        chunk: &'c Chunk,
        row: &RawRow,
        cells: &mut Vec<&'c str>,
        decoded: &mut Decoded,
    ) -> Option<BatchRow> {
        let ncols = self.header.len();
        let err = |field: String, message: String| {
            Some(BatchRow::Err {
                line: row.line,
                field,
                message,
            })
        };
        let needs_id = self.cfg.format == OutputFormat::Kith || self.cfg.keep_map.is_some();
        let start = decoded.numbers.len();
        if needs_id && self.layout.id_column().is_none() {
            let _ =
                std::fmt::Write::write_fmt(&mut decoded.numbers, format_args!("{}", row.number));
        }
        decoded.number_spans.push((start, decoded.numbers.len()));
        if row.len() != ncols {
            let message = format!(
                "the row has {} fields but the header has {ncols}",
                row.len()
            );
            return err(String::new(), message);
        }
        if self.cfg.encoding == InputEncoding::Utf8 {
            // The common case checked once for the whole row: valid UTF-8, no NUL byte, every
            // field starting on a character and short enough. Otherwise the fields are checked
            // one by one below, to say which column is wrong.
            let (bytes, ranges) = chunk.row_bytes(row);
            if memchr::memchr(0, bytes).is_none()
                && let Ok(text) = std::str::from_utf8(bytes)
            {
                let before = cells.len();
                let all = ranges.into_iter().all(|(a, b)| {
                    match text.get(a..b).filter(|f| f.len() <= MAX_FIELD) {
                        Some(f) => {
                            cells.push(f);
                            true
                        }
                        None => false,
                    }
                });
                if all {
                    return None;
                }
                cells.truncate(before);
            }
        }
        let (cells_before, spans_before) = (cells.len(), decoded.spans.len());
        for (i, f) in chunk.fields(row).enumerate() {
            let checked = match self.cfg.encoding {
                InputEncoding::Utf8 => utf8(f).map(|v| cells.push(v)),
                InputEncoding::Windows1252 => decode(f, InputEncoding::Windows1252).map(|v| {
                    let start = decoded.text.len();
                    decoded.text.push_str(&v);
                    decoded.spans.push((start, decoded.text.len()));
                }),
            };
            if let Err(m) = checked {
                // Drop what the refused row left behind.
                cells.truncate(cells_before);
                decoded.spans.truncate(spans_before);
                return err(format!("column {:?}", self.header[i]), m);
            }
        }
        None
    }

    /// Each good row's values in schema order (`cells` holds the good rows' cells back to back); a
    /// row whose local ID is empty is refused here.
    fn pick<'c>(
        &self,
        rows: &[RawRow],
        cells: &[&'c str],
        problems: &mut [Option<BatchRow>],
        decoded: &'c Decoded,
    ) -> Picked<'c> {
        let ncols = self.header.len();
        let (nf, nx) = (
            self.encoder.feature_names().len(),
            self.encoder.input_names().len(),
        );
        let mut picked = Picked {
            features: Vec::with_capacity(cells.len() / ncols.max(1) * nf),
            alternatives: Vec::new(),
            exact: Vec::with_capacity(cells.len() / ncols.max(1) * nx),
            local_ids: Vec::new(),
            nf,
            nx,
        };
        let (mut f1, mut x1) = (Vec::with_capacity(nf), Vec::with_capacity(nx));
        let mut a1 = Vec::new();
        let mut good = 0;
        for (r, problem) in problems.iter_mut().enumerate() {
            if problem.is_some() {
                continue;
            }
            let row_cells = &cells[good * ncols..(good + 1) * ncols];
            good += 1;
            let local_id = match self.layout.local_id(row_cells) {
                Some(id) if id.trim().is_empty() => {
                    *problem = Some(BatchRow::Err {
                        line: rows[r].line,
                        field: format!("column {:?}", self.id_col_name.as_deref().unwrap_or("")),
                        message: "the local ID is empty".to_owned(),
                    });
                    continue;
                }
                Some(id) => id,
                None => {
                    let (a, b) = decoded.number_spans[r];
                    &decoded.numbers[a..b]
                }
            };
            self.layout.extract(row_cells, &mut f1, &mut x1);
            picked.features.extend_from_slice(&f1);
            picked.exact.extend_from_slice(&x1);
            if self.layout.has_alternatives() {
                self.layout.extract_alternatives(row_cells, &mut a1);
                picked.alternatives.extend_from_slice(&a1);
            }
            picked.local_ids.push(local_id);
        }
        picked
    }

    /// Append the batch's rows to `batch` in input order: each refused row's reason, each encoded
    /// row's output and its fields' outcomes.
    fn write_rows(
        &self,
        rows: &[RawRow],
        problems: Vec<Option<BatchRow>>,
        encoded: &EncodedBatch,
        local_ids: &[&str],
        batch: &mut Batch,
    ) {
        let kith_format = self.cfg.format == OutputFormat::Kith;
        let mut j = 0;
        for (row, problem) in rows.iter().zip(problems) {
            if let Some(p) = problem {
                batch.rows.push(p);
                continue;
            }
            let result = encoded.get(j);
            let outcomes = encoded.outcomes(j);
            let local_id = local_ids[j];
            j += 1;
            let rec = match result {
                Ok(rec) => rec,
                Err(e) => {
                    batch.rows.push(BatchRow::Err {
                        line: row.line,
                        field: self.column_label(&e.feature),
                        message: e.message.clone(),
                    });
                    continue;
                }
            };
            if rec.clk.iter().all(|&b| b == 0) {
                batch.empty_clks += 1;
            }
            match rec.token {
                Some(token) if kith_format => {
                    record_line(&token, rec, &mut batch.text);
                    batch.ids.push_str(local_id);
                }
                _ => {
                    batch.text.push_str(", \"");
                    push_base64(&rec.clk, &mut batch.text);
                    batch.text.push('"');
                    if self.cfg.keep_map.is_some() {
                        batch.ids.push_str(local_id);
                    }
                }
            }
            let reported = outcomes.iter().zip(&self.reported).filter(|(_, r)| **r);
            for (c, (o, _)) in batch.counts.iter_mut().zip(reported) {
                match o {
                    FieldOutcome::Present => {}
                    FieldOutcome::Missing => c.missing += 1,
                    FieldOutcome::Invalid => c.invalid += 1,
                }
            }
            batch.rows.push(BatchRow::Ok {
                line: row.line,
                text_end: batch.text.len(),
                id_end: batch.ids.len(),
            });
        }
    }
}

/// One batch's rows as decoded: why each row was refused (if it was), Windows-1252 cells' text,
/// and the row numbers that stand in for local IDs when there is no ID column.
#[derive(Default)]
struct Decoded {
    problems: Vec<Option<BatchRow>>,
    text: String,
    spans: Vec<(usize, usize)>,
    numbers: String,
    number_spans: Vec<(usize, usize)>,
}

/// The good rows' values in schema order, back to back: `nf` features and `nx` keyed inputs a row.
struct Picked<'c> {
    features: Vec<&'c str>,
    /// Alternative values, `nf` a row, or empty when the mapping gives none.
    alternatives: Vec<&'c str>,
    exact: Vec<&'c str>,
    local_ids: Vec<&'c str>,
    nf: usize,
    nx: usize,
}

impl<'c> Picked<'c> {
    /// Good row `j`'s input to the encoder (with its local ID when record tokens are made).
    fn input(&self, j: usize, with_token: bool) -> RecordInput<'_> {
        let alternatives = if self.alternatives.is_empty() {
            &[][..]
        } else {
            &self.alternatives[j * self.nf..(j + 1) * self.nf]
        };
        RecordInput {
            features: &self.features[j * self.nf..(j + 1) * self.nf],
            alternatives,
            exact: &self.exact[j * self.nx..(j + 1) * self.nx],
            local_id: with_token.then_some(self.local_ids[j]),
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
    fn new(cfg: &EncodeConfig) -> Result<Sink> {
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

    /// One encoded row: a kith record line with its newline, or a base64 CLK.
    fn push(&mut self, text: &str, line: u64, local_id: &str) -> Result<()> {
        match self {
            Sink::Kith { sorter } => sorter.push(text.trim_end_matches('\n'), line, local_id),
            Sink::Clkhash { out, map, written } => {
                // One write per CLK: `, "<base64>"`, without the separator before the first.
                let element = if *written == 0 {
                    text.strip_prefix(", ").unwrap_or(text)
                } else {
                    text
                };
                out.write_all(element.as_bytes())?;
                if let Some(m) = map {
                    m.write_record([written.to_string().as_str(), local_id])?;
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
        rejects: Option<&mut csv::Writer<AtomicFile>>,
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
                commit(out, map, summary)?;
                Ok(0)
            }
            Sink::Kith { mut sorter } => {
                let mut map = open_map(cfg)?;
                let rows = |sorter: Sorter, w: &mut dyn Write, map: Option<&mut _>| {
                    kith_rows(sorter, job, summary, rejects, map, w)
                };
                let (out, written, duplicates) = match sorter.distinct_in_memory() {
                    // Nothing was spilled: the header's count is known before the rows, which
                    // then go straight to the output rather than through a temporary file.
                    Some(distinct) => {
                        let mut out = AtomicFile::create(&cfg.output)?;
                        let header = job.encoder.header(&cfg.schema, distinct);
                        header
                            .write(out.writer())
                            .context("cannot write the output")?;
                        let (written, duplicates) = rows(sorter, out.writer(), map.as_mut())?;
                        (out, written, duplicates)
                    }
                    None => {
                        let dir = crate::atomic::parent_dir(&cfg.output);
                        let mut body = tempfile::tempfile_in(&dir).with_context(|| {
                            format!("cannot create a temporary file in {}", dir.display())
                        })?;
                        let (written, duplicates) = {
                            let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut body);
                            let counts = rows(sorter, &mut w, map.as_mut())?;
                            w.flush().context("cannot write a temporary file")?;
                            counts
                        };
                        let mut out = AtomicFile::create(&cfg.output)?;
                        let header = job.encoder.header(&cfg.schema, written);
                        header
                            .write(out.writer())
                            .context("cannot write the output")?;
                        body.rewind().context("cannot read a temporary file")?;
                        std::io::copy(&mut body, out.writer())
                            .context("cannot write the output")?;
                        (out, written, duplicates)
                    }
                };
                summary.written = written;
                commit(out, map, summary)?;
                Ok(duplicates)
            }
        }
    }
}

/// The sorted rows of a kith-format output written to `w` (and their tokens to the map), a
/// repeated local ID counted and reported (or, with `--on-error fail`, the end of the run).
/// Returns the rows written and the duplicates left out.
fn kith_rows(
    sorter: Sorter,
    job: &Job<'_>,
    summary: &mut EncodeSummary,
    mut rejects: Option<&mut csv::Writer<AtomicFile>>,
    mut map: Option<&mut csv::Writer<AtomicFile>>,
    w: &mut dyn Write,
) -> Result<(u64, u64)> {
    let cfg = job.cfg;
    let mut written = 0u64;
    let mut duplicates = 0u64;
    let mut prev: Option<([u8; 32], u64)> = None;
    sorter.merge(|text, line, local_id| {
        let token = token_key(text);
        if let Some((p, first)) = prev
            && p == token
        {
            let what = match &job.id_col_name {
                Some(c) => format!("duplicate local ID in column {c:?} (first at line {first})"),
                None => format!("duplicate record (first at line {first})"),
            };
            if cfg.on_error == OnError::Fail {
                bail!(
                    "{}: line {line}: {what}; local IDs must be unique",
                    cfg.input.display()
                );
            }
            duplicates += 1;
            summary.count_skip("duplicate local ID".to_owned());
            summary.encoded = summary.encoded.saturating_sub(1);
            if let Some(r) = rejects.as_mut() {
                r.write_record([
                    line.to_string(),
                    job.id_col_name.clone().unwrap_or_default(),
                    what,
                ])?;
            }
            return Ok(());
        }
        w.write_all(text.as_bytes())?;
        w.write_all(b"\n")?;
        if let Some(m) = map.as_mut() {
            m.write_record([&text[..32], local_id])?;
        }
        written += 1;
        prev = Some((token, line));
        Ok(())
    })?;
    Ok((written, duplicates))
}

/// Put the map, then the output, in place; their hashes go to the summary for the manifest.
fn commit(
    out: AtomicFile,
    map: Option<csv::Writer<AtomicFile>>,
    summary: &mut EncodeSummary,
) -> Result<()> {
    if let Some(m) = map {
        summary.hashes.map = Some(
            m.into_inner()
                .map_err(|e| e.into_error())
                .context("cannot write the map")?
                .commit()?,
        );
    }
    summary.hashes.output = Some(out.commit()?);
    Ok(())
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

/// The 32 hex digits of the record token at the start of a record line.
fn token_key(text: &str) -> [u8; 32] {
    let mut k = [0u8; 32];
    let b = text.as_bytes();
    let n = b.len().min(32);
    k[..n].copy_from_slice(&b[..n]);
    k
}

/// A row in a sort run: where its record line and local ID are in the run's arena.
#[derive(Clone, Copy)]
struct Item {
    /// The key's first eight bytes as one number, in the same order as the bytes (the key's hex
    /// digits are random, so this decides nearly every comparison without comparing 32 bytes).
    prefix: u64,
    key: [u8; 32],
    line: u64,
    start: usize,
    text_len: u32,
    id_len: u32,
}

/// External sort by (record token, input line). Rows are appended to one string per run; a full
/// run is sorted and spilled to an anonymous temporary file as CSV; spilled runs are merged at the
/// end.
struct Sorter {
    arena: String,
    items: Vec<Item>,
    /// Whether `items` are in order (see [`Sorter::distinct_in_memory`]).
    sorted: bool,
    run_rows: usize,
    spills: Vec<std::fs::File>,
    dir: std::path::PathBuf,
}

/// A run is also spilled once its text reaches this size.
const RUN_BYTES: usize = 256 << 20;

impl Sorter {
    fn new(output: &std::path::Path, run_rows: usize) -> Sorter {
        Sorter {
            arena: String::new(),
            items: Vec::new(),
            sorted: false,
            run_rows,
            spills: Vec::new(),
            dir: crate::atomic::parent_dir(output),
        }
    }

    fn push(&mut self, text: &str, line: u64, local_id: &str) -> Result<()> {
        let start = self.arena.len();
        self.arena.push_str(text);
        self.arena.push_str(local_id);
        let key = token_key(text);
        self.items.push(Item {
            prefix: key.first_chunk().map_or(0, |b| u64::from_be_bytes(*b)),
            key,
            line,
            start,
            text_len: text.len() as u32,
            id_len: local_id.len() as u32,
        });
        if self.items.len() >= self.run_rows || self.arena.len() >= RUN_BYTES {
            self.spill()?;
        }
        Ok(())
    }

    fn parts(&self, it: &Item) -> (&str, &str) {
        let t_end = it.start + it.text_len as usize;
        (
            &self.arena[it.start..t_end],
            &self.arena[t_end..t_end + it.id_len as usize],
        )
    }

    /// With every row still in memory (no run spilled): sort them, and the number of distinct
    /// record tokens among them, the rows the output will hold. `None` once a run was spilled.
    fn distinct_in_memory(&mut self) -> Option<u64> {
        if !self.spills.is_empty() {
            return None;
        }
        self.sort();
        self.sorted = true;
        let repeats = self
            .items
            .windows(2)
            .filter(|p| p[0].key == p[1].key)
            .count();
        Some((self.items.len() - repeats) as u64)
    }

    fn sort(&mut self) {
        let order = |a: &Item, b: &Item| (a.prefix, a.key, a.line).cmp(&(b.prefix, b.key, b.line));
        if rayon::current_num_threads() > 1 {
            self.items.par_sort_unstable_by(order);
        } else {
            self.items.sort_unstable_by(order); // without the pool's hand-overs
        }
    }

    fn spill(&mut self) -> Result<()> {
        self.sort();
        let mut file = tempfile::tempfile_in(&self.dir)
            .with_context(|| format!("cannot create a temporary file in {}", self.dir.display()))?;
        {
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(std::io::BufWriter::with_capacity(1 << 20, &mut file));
            for it in &self.items {
                let (text, id) = self.parts(it);
                w.write_record([text, it.line.to_string().as_str(), id])?;
            }
            w.flush().context("cannot write a temporary file")?;
        }
        file.rewind().context("cannot read a temporary file")?;
        self.spills.push(file);
        self.items.clear();
        self.arena.clear();
        Ok(())
    }

    /// Hand every row to `emit` in (token, line) order.
    fn merge(mut self, mut emit: impl FnMut(&str, u64, &str) -> Result<()>) -> Result<()> {
        if self.spills.is_empty() {
            if !self.sorted {
                self.sort();
            }
            for it in &self.items {
                let (text, id) = self.parts(it);
                emit(text, it.line, id)?;
            }
            return Ok(());
        }
        if !self.items.is_empty() {
            self.spill()?;
        }
        let mut readers: Vec<csv::Reader<BufReader<std::fs::File>>> = self
            .spills
            .into_iter()
            .map(|f| {
                csv::ReaderBuilder::new()
                    .has_headers(false)
                    .from_reader(BufReader::with_capacity(1 << 16, f))
            })
            .collect();
        let mut heads: Vec<csv::StringRecord> = vec![csv::StringRecord::new(); readers.len()];
        let mut heap = std::collections::BinaryHeap::new();
        let read = |r: &mut csv::Reader<BufReader<std::fs::File>>,
                    rec: &mut csv::StringRecord|
         -> Result<Option<u64>> {
            if !r.read_record(rec).context("cannot read a temporary file")? {
                return Ok(None);
            }
            rec.get(1)
                .and_then(|l| l.parse().ok())
                .map(Some)
                .context("a temporary file is damaged")
        };
        for (i, (r, rec)) in readers.iter_mut().zip(heads.iter_mut()).enumerate() {
            if let Some(line) = read(r, rec)? {
                heap.push(std::cmp::Reverse((
                    token_key(rec.get(0).unwrap_or_default()),
                    line,
                    i,
                )));
            }
        }
        while let Some(std::cmp::Reverse((_, line, i))) = heap.pop() {
            emit(
                heads[i].get(0).unwrap_or_default(),
                line,
                heads[i].get(2).unwrap_or_default(),
            )?;
            if let Some(next) = read(&mut readers[i], &mut heads[i])? {
                heap.push(std::cmp::Reverse((
                    token_key(heads[i].get(0).unwrap_or_default()),
                    next,
                    i,
                )));
            }
        }
        Ok(())
    }
}

/// `kith mapping`: a proposed column mapping for an extract, from its header and first rows.
pub(crate) fn propose_mapping(args: &crate::flags::MappingArgs, quiet: bool) -> Result<()> {
    let schema = crate::config::read_schema(&args.schema)?;
    let mut input = CsvInput::open(&args.input, args.encoding)?;
    let header = input.header().to_vec();
    let mut chunk = crate::csvin::Chunk::default();
    input.read_chunk(args.sample.max(1), &mut chunk)?;
    let mut sample = Vec::with_capacity(chunk.rows.len());
    for (n, row) in chunk.rows.iter().enumerate() {
        let fields = chunk
            .fields(row)
            .map(|f| crate::csvin::decode(f, args.encoding).map(std::borrow::Cow::into_owned))
            .collect::<Result<Vec<String>, String>>()
            .map_err(|m| anyhow::anyhow!("{}: line {}: {m}", args.input.display(), n + 2))?;
        sample.push(fields);
    }
    let party = match &args.party {
        Some(p) => p.clone(),
        None => args
            .input
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "holder".to_owned()),
    };
    let proposal = kith::propose::propose(&schema, &header, &sample, &party);
    match &args.output {
        Some(path) => {
            anyhow::ensure!(
                !path.exists(),
                "{} exists; kith mapping does not overwrite a mapping",
                path.display()
            );
            let mut f = crate::atomic::AtomicFile::create(path)?;
            std::io::Write::write_all(f.writer(), proposal.json.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            f.commit()?;
        }
        None => std::io::Write::write_all(&mut std::io::stdout(), proposal.json.as_bytes())
            .context("cannot write to standard output")?,
    }
    if !quiet {
        eprintln!(
            "kith mapping: proposed from the header and {} sampled rows of {}; check it before encoding:",
            sample.len(),
            args.input.display()
        );
        for n in &proposal.notes {
            eprintln!("  {n}");
        }
    }
    Ok(())
}
