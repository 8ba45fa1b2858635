//! The native half of `kith.spark`: what the Spark job runs on each executor (keys of a record,
//! value hashes, fitting counts, one bucket's pairs) and once on the driver (the model, the
//! solve). Each takes and returns Arrow record batches; the logic is `kith_link::shard`'s.

use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_pyarrow::{FromPyArrow, ToPyArrow};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use base64::Engine as _;
use kith_core::encodings::{Header, parse_token};
use kith_link::Dataset;
use kith_link::block::{Lsh, LshParams};
use kith_link::kernel::Kernel;
use kith_link::shard::{self, Found, GroupOptions, Member, Scoring};
use kith_link::solve::Candidate;
use kith_link::weigh::{Comparator, FieldValues, Model};
use pyo3::prelude::*;
use rustc_hash::FxHashMap;

use crate::err;

/// The header of the job's encodings (any input's: they share the schema).
fn header(line: &str) -> PyResult<Header> {
    Header::parse(line).map_err(|e| err(format!("the encodings header: {e}")))
}

/// The text column `name` of `batch`.
fn text<'b>(batch: &'b RecordBatch, name: &str) -> PyResult<&'b StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| err(format!("the batch has no text column {name:?}")))
}

/// The integer column `name` of `batch`, as i64.
fn ints(batch: &RecordBatch, name: &str) -> PyResult<Vec<i64>> {
    let c = batch
        .column_by_name(name)
        .ok_or_else(|| err(format!("the batch has no column {name:?}")))?;
    let c = arrow_cast::cast(c, &DataType::Int64).map_err(err)?;
    Ok(c.as_primitive::<Int64Type>().values().to_vec())
}

/// Datasets built from a batch, and each batch row's (input, row) in them.
type Built = (Vec<Dataset>, Vec<(u32, u32)>);

/// One dataset per input (`inputs` of them), shaped by `h`, holding the rows of `batch` whose
/// `ds` column names that input (all rows in input 0 when `ds` is `None`); with `fields`, their
/// field filters too. Returns the datasets and each batch row's (input, row).
fn datasets(
    batch: &RecordBatch,
    h: &Header,
    inputs: usize,
    ds: Option<&[i64]>,
    fields: bool,
) -> PyResult<Built> {
    let mut shape = h.clone();
    if !fields {
        shape.fields.clear();
    }
    shape.blocks.clear();
    let mut out: Vec<Dataset> = (0..inputs).map(|_| Dataset::from_header(&shape)).collect();
    let token = text(batch, "token")?;
    let clk = text(batch, "clk")?;
    let exact: Vec<&StringArray> = shape
        .exact
        .iter()
        .map(|e| text(batch, &format!("exact:{e}")))
        .collect::<PyResult<_>>()?;
    let filters: Vec<&StringArray> = shape
        .fields
        .iter()
        .map(|f| text(batch, &format!("field:{}", f.name)))
        .collect::<PyResult<_>>()?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut at = Vec::with_capacity(batch.num_rows());
    for r in 0..batch.num_rows() {
        let bad = |what: &str| err(format!("row {}: {what}", r + 1));
        let d = ds.map_or(0, |d| d[r]);
        let d = usize::try_from(d)
            .ok()
            .filter(|&d| d < inputs)
            .ok_or_else(|| bad(&format!("no input {d}")))?;
        let t = parse_token(token.value(r)).ok_or_else(|| bad("token: not 32 hex digits"))?;
        let c = b64
            .decode(clk.value(r))
            .map_err(|e| bad(&format!("clk: {e}")))?;
        let mut ex = Vec::with_capacity(exact.len());
        for col in &exact {
            let v = col.value(r);
            ex.push(if v.is_empty() {
                None
            } else {
                Some(parse_token(v).ok_or_else(|| bad("an exact token: not 32 hex digits"))?)
            });
        }
        let mut f = Vec::with_capacity(filters.len());
        for col in &filters {
            let v = col.value(r);
            f.push(if v.is_empty() {
                None
            } else {
                Some(
                    b64.decode(v)
                        .map_err(|e| bad(&format!("a field filter: {e}")))?,
                )
            });
        }
        let target = &mut out[d];
        let row = target.len() as u32;
        target.push(Some(t), &c, &ex, &[]).map_err(err)?;
        target.push_fields(&f).map_err(err)?;
        at.push((d as u32, row));
    }
    Ok((out, at))
}

/// The comparator of the job's field filters, with the value counts gathered across every
/// record: `values` has `slot`, `hash` and `count` (values two or more records hold), `present`
/// and `singles` one entry per compared field.
fn comparator(
    h: &Header,
    values: &Bound<'_, PyAny>,
    present: Vec<u64>,
    singles: Vec<u64>,
) -> PyResult<Comparator> {
    let d = Dataset::from_header(h);
    let cmp = Comparator::new(&d, &d)
        .ok_or_else(|| err("the encodings carry no field-level filters"))?
        .with_kernel(Kernel::detect());
    if present.len() != cmp.len() || singles.len() != cmp.len() {
        return Err(err(format!(
            "value counts for {} fields where the encodings compare {}",
            present.len(),
            cmp.len()
        )));
    }
    let v = RecordBatch::from_pyarrow_bound(values)?;
    let (slot, hash, count) = (ints(&v, "slot")?, ints(&v, "hash")?, ints(&v, "count")?);
    let mut per: Vec<FieldValues> = present
        .iter()
        .zip(&singles)
        .map(|(&present, &singles)| FieldValues {
            counts: Vec::new(),
            present,
            singles,
        })
        .collect();
    for i in 0..slot.len() {
        let f = per
            .get_mut(usize::try_from(slot[i]).unwrap_or(usize::MAX))
            .ok_or_else(|| err(format!("value counts: no field {}", slot[i])))?;
        f.counts
            .push((hash[i] as u64, u32::try_from(count[i]).unwrap_or(u32::MAX)));
    }
    Ok(cmp.with_field_values(per))
}

fn model_of(json: &str) -> PyResult<Model> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| err(format!("the model: not JSON: {e}")))?;
    Model::from_json(&v).map_err(|e| err(format!("not a kith field model: {e}")))
}

/// Every key a record is looked up by, as `kith link` blocks: `b:<name>:<key>` for each keyed
/// blocking key (with `blocks`), `l:<table>:<key>` for each LSH table (with `lsh_tables`), both
/// folded to the 32 bits `kith link`'s index keeps, and `e:<name>:<token>` for each exact
/// identifier. Returns `batch` with a `keys` column (a list of text per row).
#[pyfunction]
#[pyo3(signature = (batch, *, header_line, blocks, lsh_tables=0, lsh_bits=16))]
pub(crate) fn record_keys<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    header_line: &str,
    blocks: bool,
    lsh_tables: u32,
    lsh_bits: u32,
) -> PyResult<Bound<'py, PyAny>> {
    let h = header(header_line)?;
    let b = RecordBatch::from_pyarrow_bound(batch)?;
    let lsh = (lsh_tables > 0).then(|| {
        Lsh::new(
            LshParams {
                tables: lsh_tables,
                bits: lsh_bits,
                ..LshParams::default()
            },
            h.clk_bits,
        )
    });
    let (d, _) = datasets(&b, &h, 1, None, false)?;
    let d = &d[0];
    let block_cols: Vec<(&str, &StringArray)> = if blocks {
        h.blocks
            .iter()
            .map(|n| Ok((n.as_str(), text(&b, &format!("block:{n}"))?)))
            .collect::<PyResult<_>>()?
    } else {
        Vec::new()
    };
    let exact_cols: Vec<(&str, &StringArray)> = h
        .exact
        .iter()
        .map(|n| Ok((n.as_str(), text(&b, &format!("exact:{n}"))?)))
        .collect::<PyResult<_>>()?;
    let mut keys = ListBuilder::new(StringBuilder::new());
    for r in 0..b.num_rows() {
        let k = keys.values();
        for (name, col) in &block_cols {
            let v = col.value(r);
            if v.is_empty() {
                continue;
            }
            let t = u64::from_str_radix(v, 16)
                .map_err(|_| err(format!("row {}: block:{name}: not hexadecimal", r + 1)))?;
            k.append_value(format!("b:{name}:{:08x}", kith_link::block::fold(t.max(1))));
        }
        if let Some(l) = &lsh {
            for t in 0..l.tables() {
                let key = kith_link::block::fold(l.key(t, d.clk(r)));
                k.append_value(format!("l:{t}:{key:08x}"));
            }
        }
        for (name, col) in &exact_cols {
            let v = col.value(r);
            if !v.is_empty() {
                k.append_value(format!("e:{name}:{v}"));
            }
        }
        keys.append(true);
    }
    let keys: ArrayRef = Arc::new(keys.finish());
    let mut fields: Vec<Field> = b.schema().fields().iter().map(|f| (**f).clone()).collect();
    fields.push(Field::new("keys", keys.data_type().clone(), false));
    let mut cols: Vec<ArrayRef> = b.columns().to_vec();
    cols.push(keys);
    RecordBatch::try_new(Arc::new(ArrowSchema::new(fields)), cols)
        .map_err(err)?
        .to_pyarrow(py)
}

/// Each record's value hash in each compared field where it has one: `slot`, `hash`.
#[pyfunction]
#[pyo3(signature = (batch, *, header_line))]
pub(crate) fn value_hashes<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    header_line: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let h = header(header_line)?;
    let b = RecordBatch::from_pyarrow_bound(batch)?;
    let (d, _) = datasets(&b, &h, 1, None, true)?;
    let d = &d[0];
    let cmp = Comparator::new(d, d).ok_or_else(|| err("the encodings carry no field filters"))?;
    let (mut slots, mut hashes) = (Vec::new(), Vec::new());
    for r in 0..d.len() {
        for s in 0..cmp.len() {
            if let Some(v) = cmp.value_of(s, d, r) {
                slots.push(s as i64);
                hashes.push(v as i64);
            }
        }
    }
    let schema = ArrowSchema::new(vec![
        Field::new("slot", DataType::Int64, false),
        Field::new("hash", DataType::Int64, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(arrow_array::Int64Array::from(slots)),
        Arc::new(arrow_array::Int64Array::from(hashes)),
    ];
    RecordBatch::try_new(Arc::new(schema), cols)
        .map_err(err)?
        .to_pyarrow(py)
}

/// The field model's fitting counts of one part of input `j`'s records (`batch`) against the
/// sampled queries of every input (`queries`, with a `ds` column): pairs of a query of input
/// `i < j` (or `i == j` with `dedupe`) whose CLK Dice reaches 0.5, twins left out. Returns
/// `kind`, `pattern` and `count`.
#[pyfunction]
#[pyo3(signature = (queries, batch, *, j, inputs, header_line, values, present, singles, dedupe))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit_patterns<'py>(
    py: Python<'py>,
    queries: &Bound<'py, PyAny>,
    batch: &Bound<'py, PyAny>,
    j: usize,
    inputs: usize,
    header_line: &str,
    values: &Bound<'py, PyAny>,
    present: Vec<u64>,
    singles: Vec<u64>,
    dedupe: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let h = header(header_line)?;
    let cmp = comparator(&h, values, present, singles)?;
    let q = RecordBatch::from_pyarrow_bound(queries)?;
    let qds = ints(&q, "ds")?;
    let (qsets, _) = datasets(&q, &h, inputs, Some(&qds), true)?;
    let b = RecordBatch::from_pyarrow_bound(batch)?;
    let (records, _) = datasets(&b, &h, 1, None, true)?;
    let kernel = Kernel::detect();
    let counts = py.detach(|| {
        let mut counts = FxHashMap::default();
        for (i, qs) in qsets.iter().enumerate() {
            if i < j || (i == j && dedupe) {
                shard::fit_patterns(&cmp, qs, i, &records[0], j, kernel, &mut counts);
            }
        }
        counts
    });
    let mut rows: Vec<((usize, u64), u64)> = counts.into_iter().collect();
    rows.sort_unstable();
    let schema = ArrowSchema::new(vec![
        Field::new("kind", DataType::Int64, false),
        Field::new("pattern", DataType::Int64, false),
        Field::new("count", DataType::Int64, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(arrow_array::Int64Array::from_iter_values(
            rows.iter().map(|r| r.0.0 as i64),
        )),
        Arc::new(arrow_array::Int64Array::from_iter_values(
            rows.iter().map(|r| r.0.1 as i64),
        )),
        Arc::new(arrow_array::Int64Array::from_iter_values(
            rows.iter().map(|r| r.1 as i64),
        )),
    ];
    RecordBatch::try_new(Arc::new(schema), cols)
        .map_err(err)?
        .to_pyarrow(py)
}

/// Fit the field model from the summed fitting counts (`patterns`: `kind`, `pattern`, `count`):
/// `sizes` are the inputs' records, `sampled` their sampled queries, and `random` (with a `ds`
/// column) a sample of each input's records to count `u` on. Returns the model as JSON.
#[pyfunction]
#[pyo3(signature = (patterns, random, *, header_line, values, present, singles, sizes, sampled, dedupe))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit_model(
    py: Python<'_>,
    patterns: &Bound<'_, PyAny>,
    random: &Bound<'_, PyAny>,
    header_line: &str,
    values: &Bound<'_, PyAny>,
    present: Vec<u64>,
    singles: Vec<u64>,
    sizes: Vec<usize>,
    sampled: Vec<usize>,
    dedupe: bool,
) -> PyResult<String> {
    let h = header(header_line)?;
    let cmp = comparator(&h, values, present, singles)?;
    let p = RecordBatch::from_pyarrow_bound(patterns)?;
    let (kind, pattern, count) = (ints(&p, "kind")?, ints(&p, "pattern")?, ints(&p, "count")?);
    let mut counts: FxHashMap<(usize, u64), u64> = FxHashMap::default();
    for i in 0..kind.len() {
        *counts
            .entry((kind[i] as usize, pattern[i] as u64))
            .or_default() += count[i] as u64;
    }
    let r = RecordBatch::from_pyarrow_bound(random)?;
    let rds = ints(&r, "ds")?;
    let (rsets, _) = datasets(&r, &h, sizes.len(), Some(&rds), true)?;
    if sampled.len() != sizes.len() {
        return Err(err("one sampled count per input"));
    }
    let model = py.detach(|| shard::fit_model(&cmp, &counts, &sizes, &sampled, &rsets, dedupe));
    serde_json::to_string_pretty(&model.to_json()).map_err(err)
}

/// Score one bucket of the Spark job: the records of a few keys from every input (columns `ds`,
/// `token`, `clk`, `exact:<name>`, with field scoring `field:<name>`, and `key`, `kcount` (the
/// key's records in the record's input, or -1 to count them here), `part`, `lo`, `hi`). Records
/// are grouped by (`key`, `lo`, `hi`) and each group scored by `kith_link::shard::score_group`:
/// CLK Dice from `threshold`, or with a model (`model_json`, and the value counts) field by
/// field. Returns `ds_a`, `token_a`, `ds_b`, `token_b`, `score`, `kind` (see
/// `kith_link::shard::Found`) and `forename` (see `kith_link::shard::FoundPair`).
#[pyfunction]
#[pyo3(signature = (batch, *, inputs, header_line, threshold, dedupe, max_bucket, exact_veto=true,
    model_json=None, values=None, present=None, singles=None, candidate_floor=0.3, score_from=0.01))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn score_bucket<'py>(
    py: Python<'py>,
    batch: &Bound<'py, PyAny>,
    inputs: usize,
    header_line: &str,
    threshold: f64,
    dedupe: bool,
    max_bucket: u64,
    exact_veto: bool,
    model_json: Option<&str>,
    values: Option<&Bound<'py, PyAny>>,
    present: Option<Vec<u64>>,
    singles: Option<Vec<u64>>,
    candidate_floor: f64,
    score_from: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let h = header(header_line)?;
    let b = RecordBatch::from_pyarrow_bound(batch)?;
    let fields = model_json.is_some();
    let field_scoring = match (model_json, values, present, singles) {
        (Some(m), Some(v), Some(p), Some(s)) => Some((model_of(m)?, comparator(&h, v, p, s)?)),
        (None, ..) => None,
        _ => return Err(err("field scoring needs the model and the value counts")),
    };
    let scoring = match &field_scoring {
        Some((model, cmp)) => Scoring::Fields {
            cmp,
            model,
            candidate_floor,
            score_from,
        },
        None => Scoring::Clk { threshold },
    };
    let ds = ints(&b, "ds")?;
    let (sets, at) = datasets(&b, &h, inputs, Some(&ds), fields)?;
    let (kcount, part, lo, hi) = (
        ints(&b, "kcount")?,
        ints(&b, "part")?,
        ints(&b, "lo")?,
        ints(&b, "hi")?,
    );
    let key = text(&b, "key")?;
    let mut groups: std::collections::BTreeMap<(&str, i64, i64), Vec<usize>> =
        std::collections::BTreeMap::new();
    for r in 0..b.num_rows() {
        groups
            .entry((key.value(r), lo[r], hi[r]))
            .or_default()
            .push(r);
    }
    let opts = GroupOptions {
        dedupe,
        exact_veto,
        max_bucket,
        kernel: Kernel::detect(),
    };
    let found = py.detach(|| {
        let mut found = Vec::new();
        let mut counted = vec![0u64; inputs];
        let mut members = Vec::new();
        for ((k, glo, ghi), rows) in &groups {
            // A key not cut into parts lies whole in this group: its records per input are
            // counted here (the job sends -1); a cut key's come with it.
            counted.fill(0);
            for &r in rows {
                counted[at[r].0 as usize] += 1;
            }
            members.clear();
            members.extend(rows.iter().map(|&r| Member {
                ds: at[r].0,
                row: at[r].1,
                part: part[r],
                key_records: u64::try_from(kcount[r]).unwrap_or(counted[at[r].0 as usize]),
            }));
            let exact_key = k.starts_with("e:");
            shard::score_group(
                &sets,
                &members,
                exact_key,
                (*glo, *ghi),
                &scoring,
                &opts,
                &mut found,
            );
        }
        found
    });
    pairs_batch(&sets, &found)?.to_pyarrow(py)
}

/// Found pairs as a batch: `ds_a`, `token_a`, `ds_b`, `token_b`, `score`, `kind`, `forename`.
fn pairs_batch(sets: &[Dataset], found: &[shard::FoundPair]) -> PyResult<RecordBatch> {
    let (mut ta, mut tb) = (StringBuilder::new(), StringBuilder::new());
    for (c, _, _) in found {
        ta.append_value(sets[c.a.ds as usize].id(c.a.row as usize));
        tb.append_value(sets[c.b.ds as usize].id(c.b.row as usize));
    }
    let schema = ArrowSchema::new(vec![
        Field::new("ds_a", DataType::Int64, false),
        Field::new("token_a", DataType::Utf8, false),
        Field::new("ds_b", DataType::Int64, false),
        Field::new("token_b", DataType::Utf8, false),
        Field::new("score", DataType::Float64, false),
        Field::new("kind", DataType::Int64, false),
        Field::new("forename", DataType::Int64, false),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(arrow_array::Int64Array::from_iter_values(
            found.iter().map(|(c, _, _)| i64::from(c.a.ds)),
        )),
        Arc::new(ta.finish()),
        Arc::new(arrow_array::Int64Array::from_iter_values(
            found.iter().map(|(c, _, _)| i64::from(c.b.ds)),
        )),
        Arc::new(tb.finish()),
        Arc::new(arrow_array::Float64Array::from_iter_values(
            found.iter().map(|(c, _, _)| c.score),
        )),
        Arc::new(arrow_array::Int64Array::from_iter_values(
            found.iter().map(|(_, k, _)| *k as i64),
        )),
        Arc::new(arrow_array::Int64Array::from_iter_values(
            found.iter().map(|(_, _, f)| i64::from(*f)),
        )),
    ];
    RecordBatch::try_new(Arc::new(schema), cols).map_err(err)
}

/// Solve the pairs the Spark job's buckets found as `kith link` solves its own, and write
/// `links.csv` and `clusters.csv` (with a review threshold `review.csv`, with field scoring
/// `model.json`) to `output`. `sources` are
/// the inputs in link order and `names` one batch per input with its records' `token` column (in
/// any order: an input's rows are its tokens sorted, as in its encodings file); `candidates` has
/// `ds_a`, `token_a`, `ds_b`, `token_b`, `score`, `kind` and `forename`. Every file appears whole
/// or not at all.
#[pyfunction]
#[pyo3(signature = (sources, names, candidates, *, threshold, output, dedupe=false, model_json=None, review=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_candidates(
    py: Python<'_>,
    sources: Vec<String>,
    names: Vec<Bound<'_, PyAny>>,
    candidates: &Bound<'_, PyAny>,
    threshold: f64,
    output: PathBuf,
    dedupe: bool,
    model_json: Option<&str>,
    review: Option<f64>,
) -> PyResult<()> {
    use kith_link::solve::Rec;
    if sources.len() != names.len() {
        return Err(err("one batch of names per source"));
    }
    let model = model_json.map(model_of).transpose()?;
    let mut sets = Vec::with_capacity(sources.len());
    for (source, batch) in sources.into_iter().zip(&names) {
        let b = RecordBatch::from_pyarrow_bound(batch)?;
        let t = text(&b, "token")?;
        let mut names: Vec<String> = (0..t.len()).map(|i| t.value(i).to_owned()).collect();
        names.sort_unstable();
        sets.push(kith_link::output::Names { source, names });
    }
    let c = RecordBatch::from_pyarrow_bound(candidates)?;
    let (ds_a, ds_b, kind) = (ints(&c, "ds_a")?, ints(&c, "ds_b")?, ints(&c, "kind")?);
    let forename = ints(&c, "forename")?;
    let score = c
        .column_by_name("score")
        .ok_or_else(|| err("the candidates have no score"))?;
    let score = arrow_cast::cast(score, &DataType::Float64).map_err(err)?;
    let score = score.as_primitive::<Float64Type>().values().to_vec();
    let (ta, tb) = (text(&c, "token_a")?, text(&c, "token_b")?);
    let rec = |ds: i64, token: &str| -> PyResult<Rec> {
        let d = sets
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
    let mut found = Vec::with_capacity(score.len());
    for i in 0..score.len() {
        let k = Found::from_code(kind[i]).ok_or_else(|| err(format!("kind {}", kind[i])))?;
        found.push((
            Candidate {
                score: score[i],
                shown: Candidate::SCORE,
                a: rec(ds_a[i], ta.value(i))?,
                b: rec(ds_b[i], tb.value(i))?,
                exact: k == Found::Exact,
            },
            k,
            u8::try_from(forename[i])
                .map_err(|_| err(format!("forename level {}", forename[i])))?,
        ));
    }
    let sizes: Vec<usize> = sets.iter().map(|s| s.names.len()).collect();
    py.detach(|| -> Result<(), String> {
        let review = review.filter(|&r| r < threshold);
        let keep_at = review.map_or(threshold, |r| r.min(threshold));
        let collected_at = if model.is_some() {
            keep_at.min(kith_link::partner::FROM)
        } else {
            keep_at
        };
        let cands = shard::assemble(found, &sizes, model, collected_at, threshold, dedupe);
        let within: Vec<(&str, f64)> = sets
            .iter()
            .map(|s| s.source.as_str())
            .zip(cands.within_multiples.iter().copied())
            .collect();
        let model_text = cands
            .model
            .as_ref()
            .map(|m| serde_json::to_string_pretty(&m.to_json_with_sources(&within)))
            .transpose()
            .map_err(|e| e.to_string())?;
        // A given threshold holds within each source too, as in `kith link --threshold`.
        let linkage = kith_link::link::solve(
            &sets,
            &cands,
            (threshold, threshold),
            review,
            dedupe,
            kith_link::solve::Join::Majority,
        );
        let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut buf = Vec::new();
        kith_link::output::write_pairs(&mut buf, &sets, &linkage.links)
            .map_err(|e| e.to_string())?;
        files.push(("links.csv", std::mem::take(&mut buf)));
        kith_link::output::write_clusters(&mut buf, &sets, &linkage.entity)
            .map_err(|e| e.to_string())?;
        files.push(("clusters.csv", buf));
        if review.is_some() {
            let mut buf = Vec::new();
            kith_link::output::write_pairs(&mut buf, &sets, &linkage.review)
                .map_err(|e| e.to_string())?;
            files.push(("review.csv", buf));
        }
        if let Some(m) = model_text {
            files.push(("model.json", m.into_bytes()));
        }
        write_all(&output, &files)
    })
    .map_err(err)
}

/// Write an encodings file from a table of its columns (text, empty where missing, as
/// `read_encodings` gives them) and its header line (its record count is the table's): the
/// file `kith link` reads, every line checked as it reads any file.
#[pyfunction]
#[pyo3(signature = (batch, *, header_line, path))]
pub(crate) fn write_encodings(
    py: Python<'_>,
    batch: &Bound<'_, PyAny>,
    header_line: &str,
    path: PathBuf,
) -> PyResult<()> {
    let mut h = header(header_line)?;
    let b = RecordBatch::from_pyarrow_bound(batch)?;
    let want = crate::encodings_columns(&h);
    let have: Vec<String> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    if have != want {
        return Err(err(format!(
            "the table's columns are [{}] where the header's encodings have [{}]",
            have.join(", "),
            want.join(", ")
        )));
    }
    let cols: Vec<&StringArray> = want.iter().map(|n| text(&b, n)).collect::<PyResult<_>>()?;
    h.records = b.num_rows() as u64;
    py.detach(|| -> Result<(), String> {
        let mut out = Vec::new();
        h.write(&mut out).map_err(|e| e.to_string())?;
        for r in 0..b.num_rows() {
            for (n, c) in cols.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                let v = c.value(r);
                if v.contains([',', '\n', '\r']) {
                    return Err(format!(
                        "row {}: {}: a value with a comma or line end",
                        r + 1,
                        want[n]
                    ));
                }
                out.extend_from_slice(v.as_bytes());
            }
            out.push(b'\n');
        }
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: not a file name", path.display()))?;
        write_all(dir, &[(name, out)])
    })
    .map_err(err)
}

/// Write every file under a temporary name first, then rename them all: a failure leaves no
/// partial file and none of the new ones.
fn write_all(output: &std::path::Path, files: &[(&str, Vec<u8>)]) -> Result<(), String> {
    std::fs::create_dir_all(output)
        .map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    let tmp = |name: &str| output.join(format!(".{name}.tmp"));
    for (name, bytes) in files {
        if let Err(e) = std::fs::write(tmp(name), bytes) {
            for (n, _) in files {
                let _ = std::fs::remove_file(tmp(n));
            }
            return Err(format!("cannot write {}: {e}", tmp(name).display()));
        }
    }
    for (name, _) in files {
        std::fs::rename(tmp(name), output.join(name))
            .map_err(|e| format!("cannot write {}: {e}", output.join(name).display()))?;
    }
    Ok(())
}
