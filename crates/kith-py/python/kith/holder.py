"""The data holder's side: everything here runs on the holder's own machine.

The secret is given as a file (``secret_file``) or the ``KITH_SECRET`` environment variable, never
as a Python value: Rust reads it, uses it and wipes it.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple, Union

import pyarrow as pa

from kith._args import flags, fspath
from kith._native import holder as _native

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["check_schema", "encode", "encode_table", "profile", "propose_mapping", "reveal"]


def check_schema(schema: PathLike) -> Dict[str, Any]:
    """The schema's fingerprint (holders compare it to be sure they agreed the same schema), its
    CLK length, features, keyed inputs, blocking keys and areas."""
    return dict(_native.schema_info(fspath(schema)))


def encode(
    schema: PathLike,
    input: PathLike,
    output: PathLike,
    *,
    secret_file: Optional[PathLike] = None,
    mapping: Optional[PathLike] = None,
    party: Optional[str] = None,
    id_column: Optional[str] = None,
    keep_map: Optional[PathLike] = None,
    format: str = "kith",
    encoding: str = "utf-8",
    on_error: str = "fail",
    rejects: Optional[PathLike] = None,
    run_salt: Optional[PathLike] = None,
    threads: Optional[int] = None,
) -> None:
    """Encode a CSV extract into an encodings file, as ``kith encode`` does (with its manifest
    beside the output)."""
    argv = ["encode", "--quiet"]
    argv += flags(
        schema=schema,
        input=input,
        output=output,
        secret_file=secret_file,
        mapping=mapping,
        party=party,
        id_column=id_column,
        keep_map=keep_map,
        format=format,
        encoding=encoding,
        on_error=on_error,
        rejects=rejects,
        run_salt=run_salt,
        threads=threads,
    )
    _native.holder_run(argv)


def encode_table(
    schema: PathLike,
    table: Any,
    *,
    party: str,
    secret_file: Optional[PathLike] = None,
    mapping: Optional[PathLike] = None,
    id_column: Optional[str] = None,
) -> Tuple[pa.Table, pa.Table]:
    """Encode a pandas DataFrame or an Arrow table (the extract's columns, read through the mapping
    as ``kith encode`` reads a CSV file).

    Returns ``(encodings, map)``: the encodings as an Arrow table with the columns of an encodings
    file, sorted by record token as the file is (what may be sent), and the holder's map from
    record token to local ID (what it keeps). Data crosses into Rust as Arrow record batches.
    """
    if not isinstance(table, (pa.Table, pa.RecordBatch)):
        table = pa.Table.from_pandas(table, preserve_index=False)
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    text = pa.table(
        {name: _as_text(table.column(name)) for name in table.column_names}
    ).combine_chunks()
    batches = text.to_batches() or [pa.RecordBatch.from_pylist([], schema=text.schema)]
    if len(batches) != 1:
        batches = [pa.Table.from_batches(batches).combine_chunks().to_batches()[0]]
    enc, keep = _native.encode_batch(
        fspath(schema),
        batches[0],
        party=party,
        secret_file=None if secret_file is None else fspath(secret_file),
        mapping=None if mapping is None else fspath(mapping),
        id_column=id_column,
    )
    encodings = pa.Table.from_batches([enc]).sort_by("token")
    return encodings, pa.Table.from_batches([keep])


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_large_string(column.type):
        return column.cast(pa.string())
    if pa.types.is_date(column.type) or pa.types.is_timestamp(column.type):
        return column.cast(pa.date32()).cast(pa.string())
    return column.cast(pa.string())


def profile(
    schema: PathLike,
    input: PathLike,
    *,
    mapping: Optional[PathLike] = None,
    json: Optional[PathLike] = None,
    id_column: Optional[str] = None,
    party: Optional[str] = None,
    encoding: str = "utf-8",
    as_of: Optional[str] = None,
) -> Dict[str, Any]:
    """Profile an extract as ``kith profile`` does; returns the profile (counts, shares and the
    verdict; no value) as a dict, and also writes it to ``json`` when given."""
    import json as _json
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = json if json is not None else os.path.join(tmp, "profile.json")
        argv = ["profile"] + flags(
            schema=schema,
            input=input,
            mapping=mapping,
            json=out,
            id_column=id_column,
            party=party,
            encoding=encoding,
            as_of=as_of,
        )
        _native.holder_run(argv)
        with open(fspath(out), encoding="utf-8") as f:
            return _json.load(f)


def propose_mapping(
    schema: PathLike, input: PathLike, output: PathLike, *, encoding: str = "utf-8"
) -> None:
    """Propose a column mapping from the extract's header and a sample, as ``kith mapping``."""
    _native.holder_run(
        ["mapping", "--quiet"] + flags(schema=schema, input=input, output=output, encoding=encoding)
    )


def reveal(map: PathLike, input: PathLike, output: PathLike) -> None:
    """Join a returned results file to the holder's local IDs, as ``kith reveal``."""
    _native.holder_run(["reveal", "--quiet"] + flags(map=map, input=input, output=output))
