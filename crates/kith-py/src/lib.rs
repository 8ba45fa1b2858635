//! The native half of the `kith` Python package (`kith._native`), in two submodules that mirror
//! the protocol's roles:
//!
//! - `holder`: check a schema, run a holder's commands (encode, profile, mapping, reveal), and
//!   encode an Arrow table. The secret is read here, from a file or `KITH_SECRET`, held in Rust
//!   memory and wiped when dropped; Python never holds it.
//! - `linkage`: run the linkage party's commands (link, families, split, evaluate, patterns,
//!   report, verify-run, explain) and read encodings into Arrow. Nothing in it takes a secret,
//!   and the commands it accepts are those that need none.
//!
//! Commands run through the CLI's own code (`kith_cli::run_args`), so a call gives the files and
//! the messages `kith` gives; an error becomes `kith.KithError` with the CLI's message. Bulk data
//! crosses as Arrow record batches (the C data interface), never as a Python object per record.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use kith::encodings::Reader;
use kith::{Encoder, EncoderOptions, Layout, Mapping, RecordInput, Schema, Scratch};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;

pyo3::create_exception!(_native, KithError, PyException, "An error kith reports.");

fn err(e: impl std::fmt::Display) -> PyErr {
    KithError::new_err(e.to_string())
}

fn anyhow_err(e: &anyhow::Error) -> PyErr {
    KithError::new_err(format!("{e:#}"))
}

/// Run `kith COMMAND ARGS...` if `COMMAND` is one of `allowed`.
fn run_command(py: Python<'_>, argv: Vec<String>, allowed: &[&str]) -> PyResult<()> {
    let Some(command) = argv.first() else {
        return Err(err("no command"));
    };
    if !allowed.contains(&command.as_str()) {
        return Err(err(format!(
            "{command:?} is not one of this module's commands ({})",
            allowed.join(", ")
        )));
    }
    let mut full = vec!["kith".to_owned()];
    full.extend(argv);
    // The work runs without the GIL, so Python threads go on meanwhile.
    py.detach(|| kith_cli::run_args(full))
        .map_err(|e| anyhow_err(&e))
}

fn read_text(path: &str, what: &str) -> PyResult<String> {
    std::fs::read_to_string(path).map_err(|e| err(format!("cannot read the {what} {path}: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Holder side.

const HOLDER_COMMANDS: &[&str] = &[
    "encode", "profile", "mapping", "schema", "keygen", "reveal", "explain",
];

/// Run one of the holder's commands: `encode`, `profile`, `mapping`, `schema`, `keygen`,
/// `reveal`, `explain` (its `--map` form), with the CLI's arguments.
#[pyfunction]
fn holder_run(py: Python<'_>, argv: Vec<String>) -> PyResult<()> {
    run_command(py, argv, HOLDER_COMMANDS)
}

/// A schema's fingerprint and names, as `kith schema` checks it.
#[pyfunction]
fn schema_info<'py>(py: Python<'py>, path: &str) -> PyResult<Bound<'py, PyDict>> {
    let schema = Schema::from_json_str(&read_text(path, "schema")?)
        .map_err(|e| err(format!("{path}: {e}")))?;
    let d = PyDict::new(py);
    d.set_item("fingerprint", schema.fingerprint())?;
    d.set_item("clk_bits", schema.clk_bits())?;
    let features: Vec<&str> = schema
        .features()
        .iter()
        .filter(|f| f.hashing.is_some())
        .map(|f| f.identifier.as_str())
        .collect();
    d.set_item("features", features)?;
    let k = schema.kith();
    let inputs: Vec<&str> = k.keyed_inputs().into_iter().map(|(n, _)| n).collect();
    d.set_item("keyed_inputs", inputs)?;
    let blocks: Vec<&str> = k.blocking.iter().map(|b| b.name.as_str()).collect();
    d.set_item("blocking", blocks)?;
    let areas: Vec<&str> = k.areas.iter().map(|a| a.name.as_str()).collect();
    d.set_item("areas", areas)?;
    Ok(d)
}

/// Encode one Arrow record batch of text columns (the holder's extract) with the schema, the
/// holder's mapping and the secret from `secret_file` (or `KITH_SECRET`). Returns two batches:
/// the encodings (the columns of a kith encodings file, in input order; every value text, empty
/// where missing) and the holder's map (token, local_id). A row the schema refuses is an error
/// naming its row and field.
#[pyfunction]
#[pyo3(signature = (schema, batch, *, party, secret_file=None, mapping=None, id_column=None))]
fn encode_batch<'py>(
    py: Python<'py>,
    schema: &str,
    batch: &Bound<'py, PyAny>,
    party: &str,
    secret_file: Option<PathBuf>,
    mapping: Option<&str>,
    id_column: Option<&str>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let schema_path = schema;
    let schema = Schema::from_json_str(&read_text(schema_path, "schema")?)
        .map_err(|e| err(format!("{schema_path}: {e}")))?;
    let mapping = mapping
        .map(|m| {
            Mapping::from_json_str(&read_text(m, "mapping")?).map_err(|e| err(format!("{m}: {e}")))
        })
        .transpose()?;
    let batch = RecordBatch::from_pyarrow_bound(batch)?;
    let header: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut columns: Vec<&StringArray> = Vec::with_capacity(header.len());
    for (i, c) in batch.columns().iter().enumerate() {
        let s = c.as_any().downcast_ref::<StringArray>().ok_or_else(|| {
            err(format!(
                "column {:?} is {}, not text: cast the table's columns to strings first",
                header[i],
                c.data_type()
            ))
        })?;
        columns.push(s);
    }
    let refs: Vec<&str> = header.iter().map(String::as_str).collect();
    let layout = Layout::resolve(&schema, mapping.as_ref(), id_column, &refs)
        .map_err(|e| err(format!("the table's columns: {e}")))?;
    let mut warnings = Vec::new();
    let secret = kith_cli::load_secret(secret_file.as_deref(), &mut |w| warnings.push(w))
        .map_err(|e| anyhow_err(&e))?;
    let options = EncoderOptions {
        extra_date_formats: mapping
            .as_ref()
            .map(|m| m.date_formats.clone())
            .unwrap_or_default(),
        criteria_not_held: layout
            .not_held(&schema)
            .into_iter()
            .map(str::to_owned)
            .collect(),
        run_salt: None,
    };
    let encoder = Encoder::new(&schema, &secret, party, &options).map_err(err)?;
    drop(secret);
    let head = encoder.header(&schema, batch.num_rows() as u64);
    let (encodings, map) = py
        .detach(|| encode_rows(&encoder, &layout, &columns, &head))
        .map_err(err)?;
    if !warnings.is_empty() {
        let warn = py.import("warnings")?;
        for w in warnings {
            warn.call_method1("warn", (w,))?;
        }
    }
    Ok((encodings.to_pyarrow(py)?, map.to_pyarrow(py)?))
}

/// Encode every row; the encodings batch and the map batch.
fn encode_rows(
    encoder: &Encoder,
    layout: &Layout,
    columns: &[&StringArray],
    head: &kith::encodings::Header,
) -> Result<(RecordBatch, RecordBatch), String> {
    let names = encodings_columns(head);
    let mut builders: Vec<StringBuilder> = names.iter().map(|_| StringBuilder::new()).collect();
    let (mut map_token, mut map_id) = (StringBuilder::new(), StringBuilder::new());
    let mut scratch = Scratch::default();
    let (mut features, mut exact, mut alternatives) = (Vec::new(), Vec::new(), Vec::new());
    let rows = columns.first().map_or(0, |c| c.len());
    let mut cells: Vec<&str> = Vec::with_capacity(columns.len());
    let mut number = String::new();
    for row in 0..rows {
        cells.clear();
        cells.extend(
            columns
                .iter()
                .map(|c| if c.is_null(row) { "" } else { c.value(row) }),
        );
        layout.extract(&cells, &mut features, &mut exact);
        layout.extract_alternatives(&cells, &mut alternatives);
        number.clear();
        number.push_str(&(row + 1).to_string());
        let local_id = match layout.local_id(&cells) {
            Some(id) if id.trim().is_empty() => {
                return Err(format!("row {}: the local ID is empty", row + 1));
            }
            Some(id) => id,
            None => number.as_str(),
        };
        let input = RecordInput {
            features: &features,
            exact: &exact,
            alternatives: &alternatives,
            local_id: Some(local_id),
        };
        let rec = encoder
            .encode(&mut scratch, &input)
            .map_err(|e| format!("row {}: field `{}`: {}", row + 1, e.feature, e.message))?;
        let token = rec.token.map(|t| kith::hex(&t)).unwrap_or_default();
        let mut line = String::new();
        kith::encodings::record_line(&rec.token.unwrap_or_default(), rec, &mut line);
        for (b, field) in builders.iter_mut().zip(line.trim_end().split(',')) {
            b.append_value(field);
        }
        map_token.append_value(&token);
        map_id.append_value(local_id);
    }
    let batch = |names: &[String], builders| text_batch(names, builders).map_err(|e| e.to_string());
    Ok((
        batch(&names, builders)?,
        batch(
            &["token".to_owned(), "local_id".to_owned()],
            vec![map_token, map_id],
        )?,
    ))
}

/// A batch of text columns, one per name, from their builders.
fn text_batch(
    names: &[String],
    builders: Vec<StringBuilder>,
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let fields: Vec<Field> = names
        .iter()
        .map(|n| Field::new(n, DataType::Utf8, false))
        .collect();
    let arrays: Vec<ArrayRef> = builders
        .into_iter()
        .map(|mut b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays)
}

/// The column names of an encodings file with this header.
fn encodings_columns(h: &kith::encodings::Header) -> Vec<String> {
    let mut c = vec!["token".to_owned(), "clk".to_owned()];
    c.extend(h.exact.iter().map(|e| format!("exact:{e}")));
    c.extend(h.blocks.iter().map(|b| format!("block:{b}")));
    c.extend(h.house.iter().map(|x| format!("house:{x}")));
    c.extend(h.flags.iter().map(|f| format!("flag:{f}")));
    c.extend(h.areas.iter().map(|a| format!("area:{a}")));
    c.extend(h.fields.iter().map(|f| format!("field:{}", f.name)));
    c
}

// ---------------------------------------------------------------------------------------------
// Linkage side: nothing here takes a secret.

const LINKAGE_COMMANDS: &[&str] = &[
    "link",
    "families",
    "split",
    "evaluate",
    "patterns",
    "report",
    "verify-run",
    "explain",
];

/// Run one of the linkage party's commands: `link`, `families`, `split`, `evaluate`,
/// `patterns`, `report`, `verify-run`, `explain`, with the CLI's arguments.
#[pyfunction]
fn linkage_run(py: Python<'_>, argv: Vec<String>) -> PyResult<()> {
    run_command(py, argv, LINKAGE_COMMANDS)
}

/// An encodings file as an Arrow record batch of text columns (as in the file, empty where
/// missing), and its header's fields as a dict.
#[pyfunction]
fn read_encodings<'py>(
    py: Python<'py>,
    path: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
    let file = std::fs::File::open(path).map_err(|e| err(format!("cannot open {path}: {e}")))?;
    let mut reader =
        Reader::new(std::io::BufReader::new(file)).map_err(|e| err(format!("{path}: {e}")))?;
    let head = reader.header().clone();
    let names = encodings_columns(&head);
    let mut builders: Vec<StringBuilder> = names.iter().map(|_| StringBuilder::new()).collect();
    let mut line = String::new();
    while let Some(row) = reader
        .next_record()
        .map_err(|e| err(format!("{path}: {e}")))?
    {
        let rec = kith::EncodedRecord {
            token: Some(row.token),
            clk: row.clk,
            exact: row.exact,
            blocks: row.blocks,
            fields: row.fields,
            house: row.house,
            flags: row.flags,
            areas: row.areas,
        };
        line.clear();
        kith::encodings::record_line(&row.token, &rec, &mut line);
        for (b, field) in builders.iter_mut().zip(line.trim_end().split(',')) {
            b.append_value(field);
        }
    }
    let batch = text_batch(&names, builders).map_err(err)?;
    let info = PyDict::new(py);
    info.set_item("party", &head.party)?;
    info.set_item("schema_fingerprint", &head.schema_fingerprint)?;
    info.set_item("key_check", &head.key_check)?;
    info.set_item("clk_bits", head.clk_bits)?;
    info.set_item("records", head.records)?;
    let fields: BTreeMap<&str, u32> = head
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.bits))
        .collect();
    info.set_item("field_bits", fields)?;
    Ok((batch.to_pyarrow(py)?, info))
}

/// The text column `name` of `batch`.
fn text_column<'b>(batch: &'b RecordBatch, name: &str) -> PyResult<&'b StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| err(format!("the batch has no text column {name:?}")))
}

/// A group's records for scoring: CLK bytes, their popcounts, and per exact identifier each
/// record's token (empty where missing).
struct Side {
    clks: Vec<Vec<u8>>,
    pops: Vec<u32>,
    exact: Vec<Vec<String>>,
}

/// Decode a batch's CLKs (base64) and exact tokens (hex).
fn clks_and_exact(batch: &RecordBatch, exact: &[String]) -> PyResult<Side> {
    use base64::Engine as _;
    let clk = text_column(batch, "clk")?;
    let mut clks = Vec::with_capacity(clk.len());
    let mut pops = Vec::with_capacity(clk.len());
    for i in 0..clk.len() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(clk.value(i))
            .map_err(|e| err(format!("row {}: clk: {e}", i + 1)))?;
        pops.push(bytes.iter().map(|b| b.count_ones()).sum());
        clks.push(bytes);
    }
    let mut tokens = vec![Vec::with_capacity(clk.len()); exact.len()];
    for (e, name) in exact.iter().enumerate() {
        let col = text_column(batch, &format!("exact:{name}"))?;
        tokens[e] = (0..col.len()).map(|i| col.value(i).to_owned()).collect();
    }
    Ok(Side {
        clks,
        pops,
        exact: tokens,
    })
}

/// Score one bucket of the Spark job: every record of a few keys, from every dataset (columns
/// `ds`, `token`, `clk`, `exact:<name>`, `key`, `kcount` (the key's records in the record's
/// dataset, or -1 to count them here), `part`, `lo`, `hi`), and the pairs of
/// them `kith link --scoring clk --blocking keys` keeps. Records are grouped by (`key`, `lo`,
/// `hi`); a key too large for one task is cut into parts, and the group (`lo`, `hi`) holds the
/// pairs of a record of part `lo` with one of part `hi` (of part `lo` alone when equal). A pair
/// of datasets `i < j` (or one dataset against itself with `dedupe`) is kept as `kith link`
/// keeps it: a key held by more than `max_bucket` records of dataset `j` is skipped; an exact
/// identifier's key (`e:` keys) gives an exact match at 1; a blocking key's (`b:`) gives the pair
/// when its CLK Dice reaches `threshold` and no exact identifier of the two differs (unless
/// `exact_veto` is false). Returns `ds_a`, `token_a`, `ds_b`, `token_b`, `score`, `exact`.
#[pyfunction]
#[pyo3(signature = (batch, *, threshold, dedupe, exact_names, max_bucket, exact_veto=true))]
fn score_bucket<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    threshold: f64,
    dedupe: bool,
    exact_names: Vec<String>,
    max_bucket: i64,
    exact_veto: bool,
) -> PyResult<Bound<'py, PyAny>> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Int64Type;
    let b = RecordBatch::from_pyarrow_bound(batch)?;
    let ints = |n: &str| -> PyResult<Vec<i64>> {
        let c = b
            .column_by_name(n)
            .ok_or_else(|| err(format!("the bucket has no column {n:?}")))?;
        let c = arrow_cast_i64(c)?;
        Ok(c.as_primitive::<Int64Type>().values().to_vec())
    };
    let (ds, kcount, part, lo, hi) = (
        ints("ds")?,
        ints("kcount")?,
        ints("part")?,
        ints("lo")?,
        ints("hi")?,
    );
    let (token, key) = (text_column(&b, "token")?, text_column(&b, "key")?);
    let Side {
        clks,
        pops,
        exact: ex,
    } = clks_and_exact(&b, &exact_names)?;
    let mut groups: BTreeMap<(&str, i64, i64), Vec<usize>> = BTreeMap::new();
    for r in 0..b.num_rows() {
        groups
            .entry((key.value(r), lo[r], hi[r]))
            .or_default()
            .push(r);
    }
    let mut out = PairsOut::default();
    let mut counted: BTreeMap<i64, i64> = BTreeMap::new();
    for ((k, glo, ghi), rows) in &groups {
        let exact_key = k.starts_with("e:");
        // A key not cut into parts lies whole in this group: its records per dataset are
        // counted here (the job sends -1); a cut key's come with it.
        counted.clear();
        for &r in rows {
            *counted.entry(ds[r]).or_default() += 1;
        }
        let kcount = |r: usize| {
            if kcount[r] >= 0 {
                kcount[r]
            } else {
                counted.get(&ds[r]).copied().unwrap_or(0)
            }
        };
        for (n, &x) in rows.iter().enumerate() {
            for &y in &rows[n + 1..] {
                // One of part lo with one of part hi.
                let parts_fit = if glo == ghi {
                    part[x] == *glo && part[y] == *glo
                } else {
                    (part[x] == *glo && part[y] == *ghi) || (part[x] == *ghi && part[y] == *glo)
                };
                if !parts_fit {
                    continue;
                }
                // The pair as kith link sees it: the lower dataset first, or the lower token.
                let (a, c) = if (ds[x], token.value(x)) <= (ds[y], token.value(y)) {
                    (x, y)
                } else {
                    (y, x)
                };
                if ds[a] == ds[c] && !dedupe {
                    continue;
                }
                if kcount(c) > max_bucket {
                    continue;
                }
                if exact_key {
                    out.push(ds[a], token.value(a), ds[c], token.value(c), 1.0, true);
                    continue;
                }
                let count: u32 = clks[a]
                    .iter()
                    .zip(&clks[c])
                    .map(|(p, q)| (p & q).count_ones())
                    .sum();
                let score = kith_link::compare::dice(count, pops[a] + pops[c]);
                if score < threshold {
                    continue;
                }
                let conflict = exact_veto
                    && ex
                        .iter()
                        .any(|e| !e[a].is_empty() && !e[c].is_empty() && e[a] != e[c]);
                if !conflict {
                    out.push(ds[a], token.value(a), ds[c], token.value(c), score, false);
                }
            }
        }
    }
    out.finish().map_err(err)?.to_pyarrow(py)
}

/// Candidate pairs being collected.
#[derive(Default)]
struct PairsOut {
    ds_a: Vec<i64>,
    token_a: StringBuilder,
    ds_b: Vec<i64>,
    token_b: StringBuilder,
    score: Vec<f64>,
    exact: Vec<bool>,
}

impl PairsOut {
    fn push(&mut self, da: i64, ta: &str, db: i64, tb: &str, score: f64, exact: bool) {
        self.ds_a.push(da);
        self.token_a.append_value(ta);
        self.ds_b.push(db);
        self.token_b.append_value(tb);
        self.score.push(score);
        self.exact.push(exact);
    }

    fn finish(mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let fields = vec![
            Field::new("ds_a", DataType::Int64, false),
            Field::new("token_a", DataType::Utf8, false),
            Field::new("ds_b", DataType::Int64, false),
            Field::new("token_b", DataType::Utf8, false),
            Field::new("score", DataType::Float64, false),
            Field::new("exact", DataType::Boolean, false),
        ];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(arrow_array::Int64Array::from(self.ds_a)),
            Arc::new(self.token_a.finish()),
            Arc::new(arrow_array::Int64Array::from(self.ds_b)),
            Arc::new(self.token_b.finish()),
            Arc::new(arrow_array::Float64Array::from(self.score)),
            Arc::new(arrow_array::BooleanArray::from(self.exact)),
        ];
        RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), arrays)
    }
}

/// Solve candidate pairs found elsewhere (the Spark job's blocks) as `kith link` solves its own,
/// and write `links.csv` and `clusters.csv` to `output`. `sources` are the datasets in link order
/// and `names` one batch per dataset with its records' `token` column (in any order: a dataset's
/// rows are its tokens sorted, as in its encodings file); `candidates` has `ds_a`, `token_a`,
/// `ds_b`, `token_b`, `score` and `exact`. Nothing crosses as a Python object per record or pair.
#[pyfunction]
#[pyo3(signature = (sources, names, candidates, *, threshold, output, dedupe=false))]
fn solve_candidates(
    py: Python<'_>,
    sources: Vec<String>,
    names: Vec<Bound<'_, PyAny>>,
    candidates: &Bound<'_, PyAny>,
    threshold: f64,
    output: PathBuf,
    dedupe: bool,
) -> PyResult<()> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type};
    use kith_link::solve::{Candidate, Rec};
    if sources.len() != names.len() {
        return Err(err("one batch of names per source"));
    }
    let mut datasets = Vec::with_capacity(sources.len());
    for (source, batch) in sources.into_iter().zip(&names) {
        let b = RecordBatch::from_pyarrow_bound(batch)?;
        let t = text_column(&b, "token")?;
        let mut names: Vec<String> = (0..t.len()).map(|i| t.value(i).to_owned()).collect();
        names.sort_unstable();
        datasets.push(kith_link::output::Names { source, names });
    }
    let c = RecordBatch::from_pyarrow_bound(candidates)?;
    let col = |n: &str| {
        c.column_by_name(n)
            .cloned()
            .ok_or_else(|| err(format!("the candidates have no column {n:?}")))
    };
    let ints = |n: &str| -> PyResult<Vec<i64>> {
        let a = arrow_cast_i64(&col(n)?)?;
        Ok(a.as_primitive::<Int64Type>().values().to_vec())
    };
    let (ds_a, ds_b, exact) = (ints("ds_a")?, ints("ds_b")?, ints("exact")?);
    let score = arrow_cast::cast(&col("score")?, &DataType::Float64).map_err(err)?;
    let score = score.as_primitive::<Float64Type>().values().to_vec();
    let (ta, tb) = (text_column(&c, "token_a")?, text_column(&c, "token_b")?);
    let rec = |ds: i64, token: &str| -> PyResult<Rec> {
        let d = datasets
            .get(usize::try_from(ds).unwrap_or(usize::MAX))
            .ok_or_else(|| err(format!("no dataset {ds}")))?;
        let row = d
            .names
            .binary_search_by(|n| n.as_str().cmp(token))
            .map_err(|_| err(format!("record {token} is not in {}", d.source)))?;
        Ok(Rec {
            ds: ds as u32,
            row: row as u32,
        })
    };
    let mut pairs = Vec::with_capacity(score.len());
    for i in 0..score.len() {
        pairs.push(Candidate {
            score: score[i],
            a: rec(ds_a[i], ta.value(i))?,
            b: rec(ds_b[i], tb.value(i))?,
            exact: exact[i] != 0,
        });
    }
    py.detach(|| -> Result<(), String> {
        pairs.sort_unstable_by(kith_link::solve::candidate_order);
        let cands = kith_link::link::Candidates {
            pairs,
            best: Default::default(),
            stats: Default::default(),
            collected_at: threshold,
            model: None,
            comparator: None,
            twins: Vec::new(),
        };
        let linkage = kith_link::link::solve(
            &datasets,
            &cands,
            threshold,
            None,
            dedupe,
            kith_link::solve::Join::Majority,
        );
        std::fs::create_dir_all(&output)
            .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
        let write = |name: &str, f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| {
            let mut buf = Vec::new();
            f(&mut buf).map_err(|e| e.to_string())?;
            let (path, tmp) = (output.join(name), output.join(format!(".{name}.tmp")));
            std::fs::write(&tmp, buf)
                .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
            std::fs::rename(&tmp, &path)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))
        };
        write("links.csv", &|w| {
            kith_link::output::write_pairs(w, &datasets, &linkage.links)
        })?;
        write("clusters.csv", &|w| {
            kith_link::output::write_clusters(w, &datasets, &linkage.entity)
        })
    })
    .map_err(err)
}

/// An integer column as int64.
fn arrow_cast_i64(a: &ArrayRef) -> PyResult<ArrayRef> {
    arrow_cast::cast(a, &DataType::Int64).map_err(err)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("KithError", py.get_type::<KithError>())?;
    let holder = PyModule::new(py, "holder")?;
    holder.add_function(wrap_pyfunction!(holder_run, &holder)?)?;
    holder.add_function(wrap_pyfunction!(schema_info, &holder)?)?;
    holder.add_function(wrap_pyfunction!(encode_batch, &holder)?)?;
    m.add_submodule(&holder)?;
    let linkage = PyModule::new(py, "linkage")?;
    linkage.add_function(wrap_pyfunction!(linkage_run, &linkage)?)?;
    linkage.add_function(wrap_pyfunction!(read_encodings, &linkage)?)?;
    linkage.add_function(wrap_pyfunction!(score_bucket, &linkage)?)?;
    linkage.add_function(wrap_pyfunction!(solve_candidates, &linkage)?)?;
    m.add_submodule(&linkage)?;
    Ok(())
}
