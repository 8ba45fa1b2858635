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

mod spark;

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
pub(crate) fn encodings_columns(h: &kith::encodings::Header) -> Vec<String> {
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
    let mut line = Vec::new();
    head.write(&mut line).map_err(err)?;
    info.set_item("line", String::from_utf8_lossy(&line).trim_end())?;
    let fields: BTreeMap<&str, u32> = head
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.bits))
        .collect();
    info.set_item("field_bits", fields)?;
    Ok((batch.to_pyarrow(py)?, info))
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
    for f in [
        wrap_pyfunction!(spark::record_keys, &linkage)?,
        wrap_pyfunction!(spark::value_hashes, &linkage)?,
        wrap_pyfunction!(spark::fit_patterns, &linkage)?,
        wrap_pyfunction!(spark::fit_model, &linkage)?,
        wrap_pyfunction!(spark::score_bucket, &linkage)?,
        wrap_pyfunction!(spark::solve_candidates, &linkage)?,
        wrap_pyfunction!(spark::write_encodings, &linkage)?,
    ] {
        linkage.add_function(f)?;
    }
    m.add_submodule(&linkage)?;
    Ok(())
}
