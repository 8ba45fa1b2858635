"""The linkage party's job on Apache Spark (4.0 or later), for populations one machine cannot hold.

The encodings are Spark DataFrames (Parquet on disk: :func:`to_parquet` writes one from an
encodings file). Each dataset's records are keyed by their blocking-key tokens and exact-identifier
tokens; each pair of datasets is cogrouped on those keys, and every group pair is scored in Rust
(``applyInArrow``: Arrow batches, no Python object per record) as ``kith link --scoring clk
--blocking keys`` scores it: CLK Dice at the threshold with the exact-identifier veto, and exact
matches at 1. A group too large for one task is cut: its left records are dealt into sub-groups
and its right records copied to each. The candidate pairs, far fewer than the records, are
gathered and solved once, globally, by the same solver as ``kith link``, which names the entities
and writes ``links.csv`` and ``clusters.csv``: the same bytes as ``kith link`` on the same files.

This module needs ``pyspark`` (``pip install pyspark``); like the rest of :mod:`kith.linkage` it
takes no secret.
"""

from __future__ import annotations

import functools
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
#: A group pair with more comparisons than this is cut into sub-groups of about this many.
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
    same: bool,
    exact_names: List[str],
    exact_veto: bool,
    key: Tuple[Any, ...],
    left: pa.Table,
    right: pa.Table,
) -> pa.Table:
    """Score one group pair on an executor (a module-level function: Spark pickles it by name).
    The key comes as Arrow scalars: its first part says whether it is an exact identifier's."""
    from kith._native import linkage as native

    cols = ["token", "clk"] + [f"exact:{e}" for e in exact_names]
    if left.num_rows == 0 or right.num_rows == 0:
        return _empty()
    lb = left.select(cols).combine_chunks().to_batches()[0]
    rb = right.select(cols).combine_chunks().to_batches()[0]
    out = native.score_group(
        lb,
        rb,
        threshold=threshold,
        exact_group=str(getattr(key[0], "as_py", lambda: key[0])()).startswith("e:"),
        same=same,
        exact_names=exact_names,
        exact_veto=exact_veto,
    )
    return pa.Table.from_batches([out])


def _empty() -> pa.Table:
    return pa.table(
        {
            "token_a": pa.array([], pa.string()),
            "token_b": pa.array([], pa.string()),
            "score": pa.array([], pa.float64()),
            "exact": pa.array([], pa.bool_()),
        }
    )


_SCHEMA = "token_a string, token_b string, score double, exact boolean"

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
) -> dict:
    """Link Parquet encodings (from :func:`to_parquet`) on ``spark`` as ``kith link --scoring clk
    --blocking keys --threshold T`` links the encodings files: ``links.csv`` and ``clusters.csv``
    in ``output``. Returns counts: candidate pairs, and group pairs cut for size."""
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
    keyed = [_keyed(df, blocks, exact) for df in frames]
    found = []
    cut = 0
    n = len(frames)
    for i in range(n):
        for j in range(i if dedupe else i + 1, n):
            # The right side read afresh: one dataset against itself must not be one plan twice.
            left = keyed[i]
            right = _keyed(spark.read.parquet(paths[j]), blocks, exact)
            # Keys the right side holds too many records of are skipped, as kith link skips them.
            sizes = right.groupBy("key").count()
            right = right.join(sizes.where(F.col("count") <= max_bucket).select("key"), "key")
            # Group pairs too large for one task: deal the left records into sub-groups and copy
            # the right ones to each. (Both sides' part numbers must have one type, or their
            # groups never meet.)
            lsizes = left.groupBy("key").agg(F.count("*").alias("l"))
            big = (
                lsizes.join(sizes, "key")
                .where(F.col("l") * F.col("count") > split_over)
                .select("key", F.ceil(F.col("l") * F.col("count") / split_over).cast("int").alias("parts"))
            )
            cut += big.count()
            left = (
                left.join(big, "key", "left")
                .withColumn("part", F.coalesce(F.pmod(F.xxhash64("token"), F.col("parts")), F.lit(0)).cast("int"))
                .drop("parts")
            )
            right = (
                right.join(big, "key", "left")
                .withColumn("part", F.explode(F.sequence(F.lit(0), (F.coalesce(F.col("parts"), F.lit(1)) - 1).cast("int"))))
                .drop("parts")
            )
            pairs = (
                left.groupBy("key", "part")
                .cogroup(right.groupBy("key", "part"))
                .applyInArrow(functools.partial(_score, threshold, i == j, exact, exact_veto), _SCHEMA)
            )
            # A pair found under several keys is one candidate; an exact match wins.
            found.append(
                pairs.groupBy("token_a", "token_b")
                .agg(F.max("score").alias("score"), F.max(F.col("exact").cast("int")).alias("exact"))
                .select(F.lit(i).alias("ds_a"), "token_a", F.lit(j).alias("ds_b"), "token_b", "score", "exact")
            )
    # The reduced candidate set and each dataset's tokens to the driver, as Arrow.
    names = [df.select("token").toArrow().combine_chunks().to_batches()[0] for df in frames]
    candidates = None
    if found:
        union = found[0]
        for f in found[1:]:
            union = union.unionByName(f)
        candidates = union.toArrow().combine_chunks()
    if candidates is None or candidates.num_rows == 0:
        candidates = pa.table(
            {
                "ds_a": pa.array([], pa.int64()),
                "token_a": pa.array([], pa.string()),
                "ds_b": pa.array([], pa.int64()),
                "token_b": pa.array([], pa.string()),
                "score": pa.array([], pa.float64()),
                "exact": pa.array([], pa.int64()),
            }
        )
    batch = candidates.to_batches()[0] if candidates.num_rows else pa.RecordBatch.from_pylist([], schema=candidates.schema)
    _native.solve_candidates(
        [h["party"] for h in headers],
        names,
        batch,
        threshold=threshold,
        output=fspath(output),
        dedupe=dedupe,
    )
    return {"candidates": candidates.num_rows, "groups_cut": cut}
