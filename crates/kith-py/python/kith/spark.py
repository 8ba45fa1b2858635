"""The linkage party's job on Apache Spark (4.0 or later), for populations one machine cannot hold.

The encodings are Spark DataFrames (Parquet on disk: :func:`to_parquet` writes one from an
encodings file). Every dataset's records are keyed by their blocking-key tokens and
exact-identifier tokens and hashed by key into buckets; each bucket is one Arrow batch scored in
Rust (``applyInArrow``: no Python object per record or pair) as ``kith link --scoring clk
--blocking keys`` scores it: CLK Dice at the threshold with the exact-identifier veto, exact
matches at 1, keys a dataset holds too often skipped. A key with too many pairs for one task is
cut into parts. The candidate pairs, far fewer than the records, are gathered and solved once,
globally, by the same solver as ``kith link``, which names the entities and writes ``links.csv``
and ``clusters.csv``: the same bytes as ``kith link`` on the same files.

This module needs ``pyspark`` (``pip install pyspark``); like the rest of :mod:`kith.linkage` it
takes no secret.
"""

from __future__ import annotations

import json
import os
from typing import Any, List, Sequence, Tuple, Union

import pyarrow as pa
import pyarrow.parquet as pq

from kith._args import fspath
from kith._native import linkage as _native
from kith.linkage import read_encodings

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["to_parquet", "link"]

#: Blocks whose right side holds more records than this are skipped, as ``kith link`` skips them.
MAX_BUCKET = 20_000
#: A key with more pairs than this is cut into parts whose pairs are scored in separate groups.
SPLIT_OVER = 4_000_000

_METADATA_KEY = b"kith"


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
    return json.loads(meta[_METADATA_KEY])


def _score(
    threshold: float,
    dedupe: bool,
    exact_names: List[str],
    max_bucket: int,
    exact_veto: bool,
    key: Tuple[Any, ...],
    bucket: pa.Table,
) -> pa.Table:
    """Score one bucket (`key` is its number) on an executor: a module-level function, which
    Spark pickles by name."""
    from kith._native import linkage as native

    if bucket.num_rows == 0:
        return _empty()
    cols = ["ds", "token", "clk", "key", "kcount", "part", "lo", "hi"] + [f"exact:{e}" for e in exact_names]
    out = native.score_bucket(
        bucket.select(cols).combine_chunks().to_batches()[0],
        threshold=threshold,
        dedupe=dedupe,
        exact_names=exact_names,
        max_bucket=max_bucket,
        exact_veto=exact_veto,
    )
    return pa.Table.from_batches([out])


def _empty() -> pa.Table:
    return pa.table(
        {
            "ds_a": pa.array([], pa.int64()),
            "token_a": pa.array([], pa.string()),
            "ds_b": pa.array([], pa.int64()),
            "token_b": pa.array([], pa.string()),
            "score": pa.array([], pa.float64()),
            "exact": pa.array([], pa.bool_()),
        }
    )


_SCHEMA = "ds_a long, token_a string, ds_b long, token_b string, score double, exact boolean"


def _keyed(df, block_names: List[str], exact_names: List[str]):
    """One row per (key, record): `b:<name>:<token>` for each blocking key it has, and
    `e:<name>:<token>` for each exact identifier."""
    from pyspark.sql import functions as F

    keys = [
        F.when(F.col(f"`block:{b}`") != "", F.concat(F.lit(f"b:{b}:"), F.col(f"`block:{b}`")))
        for b in block_names
    ] + [
        F.when(F.col(f"`exact:{e}`") != "", F.concat(F.lit(f"e:{e}:"), F.col(f"`exact:{e}`")))
        for e in exact_names
    ]
    cols = [F.col("token"), F.col("clk")] + [F.col(f"`exact:{e}`") for e in exact_names]
    return (
        df.select(*cols, F.explode(F.array(*keys)).alias("key"))
        .where(F.col("key").isNotNull())
    )


def link(
    spark,
    inputs: Sequence[PathLike],
    output: PathLike,
    *,
    threshold: float,
    dedupe: bool = False,
    exact_veto: bool = True,
    max_bucket: int = MAX_BUCKET,
    split_over: int = SPLIT_OVER,
    buckets: int = 0,
) -> dict:
    """Link Parquet encodings (from :func:`to_parquet`) on ``spark`` as ``kith link --scoring clk
    --blocking keys --threshold T`` links the encodings files: ``links.csv`` and ``clusters.csv``
    in ``output``. Returns counts: candidate pairs, and keys cut for size.

    Every dataset's records are keyed by their blocking and exact tokens and hashed into
    ``buckets`` buckets (default: four per shuffle partition) by key; each bucket is one Arrow
    batch scored in Rust, all pairs of datasets at once. A key whose pairs exceed ``split_over``
    is cut into parts: each record belongs to one part and is copied to the group of each pair of
    parts it is in, so every pair is scored in exactly one group.
    """
    from pyspark.sql import functions as F

    paths = [fspath(p) for p in inputs]
    headers = [_header(p) for p in paths]
    prints = {(h["schema_fingerprint"], h["key_check"]) for h in headers}
    if len(prints) != 1:
        raise ValueError("the inputs were not made with the same schema and secret")
    frames = [spark.read.parquet(p) for p in paths]
    columns = [set(df.columns) for df in frames]
    blocks = sorted({c[6:] for c in set.intersection(*columns) if c.startswith("block:")})
    exact = sorted({c[6:] for c in set.intersection(*columns) if c.startswith("exact:")})
    keyed = None
    for i, df in enumerate(frames):
        k = _keyed(df, blocks, exact).withColumn("ds", F.lit(i).cast("int"))
        keyed = k if keyed is None else keyed.unionByName(k)
    # Keys with too many pairs for one task, with their records per dataset: few, so broadcast.
    # Only these are counted on Spark (a narrow shuffle of key and dataset); every other key lies
    # whole in one bucket, and Rust counts its records per dataset there (kcount -1).
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
    def score(key, bucket):  # no type hints: Spark 4.3 cannot infer a partial's, and fails
        return _score(threshold, dedupe, exact, max_bucket, exact_veto, key, bucket)

    pairs = keyed.groupBy("bucket").applyInArrow(score, _SCHEMA)
    # A pair found under several keys is one candidate; an exact match wins.
    found = pairs.groupBy("ds_a", "token_a", "ds_b", "token_b").agg(
        F.max("score").alias("score"), F.max(F.col("exact").cast("int")).alias("exact")
    )
    # The reduced candidate set and each dataset's tokens to the driver, as Arrow.
    names = [df.select("token").toArrow().combine_chunks().to_batches()[0] for df in frames]
    candidates = found.toArrow().combine_chunks()
    batch = (
        candidates.to_batches()[0]
        if candidates.num_rows
        else pa.RecordBatch.from_pylist([], schema=candidates.schema)
    )
    _native.solve_candidates(
        [h["party"] for h in headers],
        names,
        batch,
        threshold=threshold,
        output=fspath(output),
        dedupe=dedupe,
    )
    return {"candidates": candidates.num_rows, "keys_cut": cut}
