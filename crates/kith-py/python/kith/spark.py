"""The linkage party's job on Apache Spark (4.0 or later), for populations one machine cannot hold.

The encodings are Spark DataFrames (Parquet on disk: :func:`to_parquet` writes one from an
encodings file). Every input's records are keyed as ``kith link`` blocks them (keyed blocking
keys, LSH keys of the CLKs, or both, and exact-identifier tokens), and hashed by key into buckets;
each bucket is one Arrow batch scored in Rust (``applyInArrow``: no Python object per record or
pair) by ``kith_link::shard``, as ``kith link`` scores the pairs of a key:

- **CLK scoring**: CLK Dice from the threshold, with the exact-identifier veto;
- **field scoring**: the field model's match probability with the term-frequency adjustment (the
  value counts are counted across every record first and handed to every executor), twins and
  relatives of one name set aside. The model is fitted once, on the pairs of a sample of queries
  against every record (counted on the executors, fitted on the driver), or given
  (``model=``, a ``model.json`` of an earlier run).

Exact matches come at 1; keys an input holds too often are skipped; a key with too many pairs for
one task is cut into parts. The candidate pairs, far fewer than the records, are gathered and
solved once, globally, by ``kith link``'s solver, which names the entities and writes
``links.csv`` and ``clusters.csv`` (and ``model.json`` with field scoring): given the same model,
the same bytes as ``kith link --model`` on the same files with the same blocking.

This module needs ``pyspark`` (``pip install pyspark``); like the rest of :mod:`kith.linkage` it
takes no secret.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import pyarrow as pa
import pyarrow.parquet as pq

from kith._args import fspath
from kith._native import linkage as _native
from kith.linkage import read_encodings

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["to_parquet", "link"]

#: Blocks whose later input holds more records than this are skipped, as ``kith link`` skips them.
MAX_BUCKET = 20_000
#: A key with more pairs than this is cut into parts whose pairs are scored in separate groups.
SPLIT_OVER = 4_000_000
#: Queries per input, about, that the field model is fitted on (as ``kith link``).
FIT_QUERIES = 2_000
#: Records per input, about, whose random pairs the model's ``u`` is counted on.
U_SAMPLE = 20_000
#: The field scoring threshold when none is given: a pair more likely a match than not.
FIELD_THRESHOLD = 0.5
#: With field scoring, pairs below this match probability are not kept (``kith link``'s floor of
#: the one-partner view).
PARTNER_FROM = 0.01

_METADATA_KEY = b"kith"

_BLOCKINGS = ("keys", "lsh", "keys+lsh")


def to_parquet(encodings: PathLike, out: PathLike) -> None:
    """Write an encodings file as Parquet, its header kept in the file's metadata."""
    table, header = read_encodings(encodings)
    meta = dict(table.schema.metadata or {})
    meta[_METADATA_KEY] = json.dumps(header, sort_keys=True).encode()
    pq.write_table(table.replace_schema_metadata(meta), fspath(out))


def _header(path: str) -> dict:
    meta = pq.read_schema(path).metadata or {}
    if _METADATA_KEY not in meta:
        raise ValueError(f"{path}: not written by kith.spark.to_parquet (no kith header)")
    header = json.loads(meta[_METADATA_KEY])
    if "line" not in header:
        raise ValueError(f"{path}: written by an older kith.spark.to_parquet; write it again")
    return header


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes) -> pa.RecordBatch:
    table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    return _one_batch(table)


def _one_batch(table: pa.Table) -> pa.RecordBatch:
    table = table.combine_chunks()
    batches = table.to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


_PAIRS = "ds_a long, token_a string, ds_b long, token_b string, score double, kind long, forename long"


def link(
    spark,
    inputs: Sequence[PathLike],
    output: PathLike,
    *,
    threshold: Optional[float] = None,
    review_threshold: Optional[float] = None,
    scoring: str = "auto",
    model: Optional[PathLike] = None,
    blocking: str = "keys",
    lsh_tables: int = 32,
    lsh_bits: int = 16,
    dedupe: bool = False,
    exact_veto: bool = True,
    candidate_floor: float = 0.3,
    max_bucket: int = MAX_BUCKET,
    split_over: int = SPLIT_OVER,
    buckets: int = 0,
    fit_queries: int = FIT_QUERIES,
) -> Dict[str, Any]:
    """Link Parquet encodings (from :func:`to_parquet`) on ``spark`` as ``kith link`` links the
    encodings files with ``--blocking`` ``blocking`` (``keys``, ``lsh`` or ``keys+lsh``) and
    ``--scoring`` ``scoring`` (``auto``: field by field when the encodings carry field filters,
    ``fields``, or ``clk``): ``links.csv``, ``clusters.csv`` and with field scoring ``model.json``
    in ``output``. With CLK scoring a ``threshold`` (a Dice coefficient) is needed; with field
    scoring it is a match probability (default 0.5), and ``model`` names a ``model.json`` to
    score with instead of fitting one. Returns counts: candidate pairs, keys cut for size, the
    scoring, and whether the model was fitted.

    Records are keyed and hashed into ``buckets`` buckets (default: four per shuffle partition)
    by key; each bucket is one Arrow batch scored in Rust, all pairs of inputs at once. A key
    whose pairs exceed ``split_over`` is cut into parts: each record belongs to one part and is
    copied to the group of each pair of parts it is in, so every pair is scored in exactly one
    group.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, StringType, StructField, StructType

    if blocking not in _BLOCKINGS:
        raise ValueError(f"blocking must be one of {', '.join(_BLOCKINGS)}, not {blocking!r}")
    if scoring not in ("auto", "fields", "clk"):
        raise ValueError(f"scoring must be auto, fields or clk, not {scoring!r}")
    paths = [fspath(p) for p in inputs]
    if len(paths) < 2 and not dedupe:
        raise ValueError("give at least two inputs (or one with dedupe=True)")
    headers = [_header(p) for p in paths]
    prints = {(h["schema_fingerprint"], h["key_check"]) for h in headers}
    if len(prints) != 1:
        raise ValueError("the inputs were not made with the same schema and secret")
    line = headers[0]["line"]
    frames = [spark.read.parquet(p) for p in paths]
    columns = [set(df.columns) for df in frames]
    common = set.intersection(*columns)
    blocks = sorted(c[6:] for c in common if c.startswith("block:"))
    exact = sorted(c[6:] for c in common if c.startswith("exact:"))
    filters = [c for c in frames[0].columns if c.startswith("field:")]
    has_fields = bool(filters) and all(c in common for c in filters)
    fields = scoring == "fields" or (scoring == "auto" and has_fields)
    if fields and not has_fields:
        raise ValueError("scoring='fields' needs encodings with field-level filters (kith.fields)")
    if model is not None and not fields:
        raise ValueError("model= is a field scoring model: not with CLK scoring")
    if threshold is None:
        if not fields:
            raise ValueError("CLK scoring needs a threshold (a Dice coefficient)")
        threshold = FIELD_THRESHOLD
    if review_threshold is not None and review_threshold >= threshold:
        raise ValueError(f"review_threshold ({review_threshold}) must be below the threshold ({threshold})")
    keep_at = threshold if review_threshold is None else review_threshold
    if blocking != "lsh" and not blocks:
        raise ValueError(f"blocking={blocking!r} needs encodings with keyed blocking keys")
    use_blocks = blocking in ("keys", "keys+lsh")
    tables = lsh_tables if blocking in ("lsh", "keys+lsh") else 0
    n = len(frames)

    # The columns a bucket needs, then every record with the keys it is looked up by.
    kept = ["token", "clk"] + [f"exact:{e}" for e in exact] + (filters if fields else [])
    keying = kept + ([f"block:{b}" for b in blocks] if use_blocks else [])
    frames = [df.select(*[F.col(f"`{c}`") for c in keying]) for df in frames]
    bits = lsh_bits

    def with_keys(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from kith._native import linkage as native

        for b in batches:
            yield native.record_keys(b, header_line=line, blocks=use_blocks, lsh_tables=tables, lsh_bits=bits)

    keys_type = ArrayType(StringType(), False)
    keyed = None
    for i, df in enumerate(frames):
        k = (
            df.mapInArrow(with_keys, StructType(df.schema.fields + [StructField("keys", keys_type, False)]))
            .select(*[F.col(f"`{c}`") for c in kept], F.explode("keys").alias("key"))
            .withColumn("ds", F.lit(i).cast("int"))
        )
        keyed = k if keyed is None else keyed.unionByName(k)

    sc = spark.sparkContext
    field_args: Dict[str, Any] = {}
    fitted = False
    if fields:
        values, present, singles = _value_counts(frames, line)
        values_b = sc.broadcast(_ipc(values))
        if model is None:
            model_json = _fit(spark, frames, line, values_b, present, singles, dedupe, fit_queries)
            fitted = True
        else:
            with open(fspath(model), encoding="utf-8") as f:
                model_json = f.read()
        field_args = dict(model_json=model_json, present=present, singles=singles)
    score_from = min(keep_at, PARTNER_FROM) if fields else keep_at

    # Keys with too many pairs for one task, with their records per input: few, so broadcast.
    # Only these are counted on Spark (a narrow shuffle of key and input); every other key lies
    # whole in one bucket, and Rust counts its records per input there (kcount -1).
    counts = keyed.select("key", "ds").groupBy("key", "ds").agg(F.count("*").alias("kcount"))
    totals = counts.groupBy("key").agg(F.sum("kcount").alias("n"))
    big = (
        totals.where(F.col("n") * F.col("n") > 2 * split_over)
        .select("key", F.ceil(F.col("n") * F.col("n") / (2 * split_over)).cast("int").alias("parts"))
        .join(counts, "key")
    )
    cut = big.select("key").distinct().count()
    keyed = (
        keyed.join(F.broadcast(big), ["key", "ds"], "left")
        .withColumn("parts", F.coalesce(F.col("parts"), F.lit(1)))
        .withColumn("kcount", F.coalesce(F.col("kcount"), F.lit(-1)))
        .withColumn("part", F.pmod(F.xxhash64("token", "ds"), F.col("parts")).cast("int"))
        .withColumn("q", F.explode(F.sequence(F.lit(0), (F.col("parts") - 1).cast("int"))))
        .withColumn("lo", F.least("part", "q"))
        .withColumn("hi", F.greatest("part", "q"))
        .drop("q", "parts")
    )
    n_buckets = buckets or 4 * int(spark.conf.get("spark.sql.shuffle.partitions"))
    keyed = keyed.withColumn("bucket", F.pmod(F.xxhash64("key", "lo", "hi"), F.lit(n_buckets)))
    bucket_cols = ["ds", "key", "kcount", "part", "lo", "hi"] + kept
    t, veto, floor = keep_at, exact_veto, candidate_floor
    values_ref = values_b if fields else None

    def score(key, bucket):  # no type hints: Spark 4.3 cannot infer a closure's, and fails
        from kith._native import linkage as native

        if bucket.num_rows == 0:
            return pa.table({c: pa.array([], ty) for c, ty in _PAIR_TYPES})
        extra = dict(field_args)
        if values_ref is not None:
            extra["values"] = _from_ipc(values_ref.value)
        out = native.score_bucket(
            _one_batch(bucket.select(bucket_cols)),
            inputs=n,
            header_line=line,
            threshold=t,
            dedupe=dedupe,
            max_bucket=max_bucket,
            exact_veto=veto,
            candidate_floor=floor,
            score_from=score_from,
            **extra,
        )
        return pa.Table.from_batches([out])

    pairs = keyed.groupBy("bucket").applyInArrow(score, _PAIRS)
    # A pair found under several keys is scored alike under each: once per kind.
    found = pairs.groupBy("ds_a", "token_a", "ds_b", "token_b", "kind").agg(
        F.max("score").alias("score"), F.max("forename").alias("forename")
    )
    # The reduced candidate set and each input's tokens to the driver, as Arrow.
    names = [_one_batch(df.select("token").toArrow()) for df in frames]
    candidates = _one_batch(found.toArrow())
    _native.solve_candidates(
        [h["party"] for h in headers],
        names,
        candidates,
        threshold=threshold,
        output=fspath(output),
        dedupe=dedupe,
        model_json=field_args.get("model_json"),
        review=review_threshold,
    )
    return {
        "candidates": candidates.num_rows,
        "keys_cut": cut,
        "scoring": "fields" if fields else "clk",
        "model_fitted": fitted,
    }


_PAIR_TYPES = [
    ("ds_a", pa.int64()),
    ("token_a", pa.string()),
    ("ds_b", pa.int64()),
    ("token_b", pa.string()),
    ("score", pa.float64()),
    ("kind", pa.int64()),
    ("forename", pa.int64()),
]


def _value_counts(frames, line: str):
    """How often each value of each compared field occurs across every record: the values two
    or more records hold (an Arrow table of ``slot``, ``hash``, ``count``), and per field the
    records with a value and the values held once."""
    from pyspark.sql import functions as F

    def hashes(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from kith._native import linkage as native

        for b in batches:
            yield native.value_hashes(b, header_line=line)

    every = None
    for df in frames:
        h = df.mapInArrow(hashes, "slot long, hash long")
        every = h if every is None else every.unionByName(h)
    counted = every.groupBy("slot", "hash").agg(F.count("*").alias("count")).cache()
    try:
        per = {
            r["slot"]: (r["present"], r["singles"])
            for r in counted.groupBy("slot")
            .agg(
                F.sum("count").alias("present"),
                F.sum(F.when(F.col("count") == 1, 1).otherwise(0)).alias("singles"),
            )
            .collect()
        }
        shared = counted.where(F.col("count") >= 2).orderBy("slot", "hash").toArrow()
    finally:
        counted.unpersist()
    slots = range(_compared_fields(line))
    present = [int(per.get(s, (0, 0))[0]) for s in slots]
    singles = [int(per.get(s, (0, 0))[1]) for s in slots]
    return shared, present, singles


def _compared_fields(line: str) -> int:
    """How many fields the comparator compares (a filter in parts counts each part)."""
    h = json.loads(line)
    return sum(max(1, len(f.get("parts", []))) for f in h.get("fields", []))


def _fit(spark, frames, line, values_b, present, singles, dedupe: bool, fit_queries: int) -> str:
    """Fit the field model once: the comparison vectors of a sample of each input's records
    (about ``fit_queries``) against every record of the later inputs (and of its own, with
    ``dedupe``), counted on the executors; ``u`` on random pairs of a sample of each input; EM on
    the driver. Returns the model as JSON."""
    from pyspark.sql import functions as F

    sizes = [df.count() for df in frames]
    every = max(1, math.ceil(max(sizes) / max(1, fit_queries)))

    def sample(df, i: int, n: int, salt: int):
        """About one record in ``n`` of input ``i``, chosen by a hash of its token."""
        keep = F.pmod(F.xxhash64("token", F.lit(salt)), F.lit(n)) == 0
        return df.where(keep).withColumn("ds", F.lit(i).cast("long"))
    queries = None
    for i, df in enumerate(frames):
        q = sample(df, i, every, 1)
        queries = q if queries is None else queries.unionByName(q)
    queries = queries.toArrow()
    sampled = [0] * len(frames)
    for d in queries.column("ds").to_pylist():
        sampled[d] += 1
    random = None
    for i, df in enumerate(frames):
        r = sample(df, i, max(1, math.ceil(sizes[i] / U_SAMPLE)), 2)
        random = r if random is None else random.unionByName(r)
    random = _one_batch(random.toArrow())
    queries_b = spark.sparkContext.broadcast(_ipc(queries))
    n = len(frames)
    patterns = None
    for j, df in enumerate(frames):

        def count(batches, j=j):
            from kith._native import linkage as native

            q = _from_ipc(queries_b.value)
            v = _from_ipc(values_b.value)
            for b in batches:
                yield native.fit_patterns(
                    q, b, j=j, inputs=n, header_line=line, values=v,
                    present=present, singles=singles, dedupe=dedupe,
                )

        p = df.mapInArrow(count, "kind long, pattern long, count long")
        patterns = p if patterns is None else patterns.unionByName(p)
    summed = patterns.groupBy("kind", "pattern").agg(F.sum("count").alias("count")).orderBy("kind", "pattern")
    return _native.fit_model(
        _one_batch(summed.toArrow()),
        random,
        header_line=line,
        values=_from_ipc(values_b.value),
        present=present,
        singles=singles,
        sizes=sizes,
        sampled=sampled,
        dedupe=dedupe,
    )
