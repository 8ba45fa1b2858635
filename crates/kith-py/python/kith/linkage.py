"""The linkage party's side: it holds encodings, never a secret, and nothing here takes one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import pyarrow as pa
import pyarrow.compute as pc

from kith._args import flags, fspath
from kith._native import linkage as _native

PathLike = Union[str, "os.PathLike[str]"]
#: An encodings file, or an encodings table with its header as :func:`read_encodings` gives them
#: (an Arrow table or a pandas DataFrame of the file's columns, and the header dict).
Encodings = Union[PathLike, Tuple[Any, Dict[str, Any]]]

__all__ = ["read_encodings", "link", "families", "split", "evaluate", "patterns", "report"]


def read_encodings(path: PathLike) -> Tuple[pa.Table, Dict[str, Any]]:
    """An encodings file as an Arrow table (one text column per column of the file, empty where
    missing) and its header (party, schema fingerprint, key check, CLK bits, records)."""
    batch, header = _native.read_encodings(fspath(path))
    return pa.Table.from_batches([batch]), dict(header)


def _as_arrow(table: Any) -> pa.Table:
    """An Arrow table of text columns, empty where missing."""
    if not isinstance(table, (pa.Table, pa.RecordBatch)):
        table = pa.Table.from_pandas(table, preserve_index=False)
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    cols = [pc.fill_null(pc.cast(c, pa.string()), "") for c in table.columns]
    return pa.table(cols, names=table.column_names)


@contextlib.contextmanager
def _files(inputs: Sequence[Encodings]) -> Iterator[List[str]]:
    """The inputs as encodings files: tables are written, each as its party's file, into a
    private temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="kith-") as tmp:
        out = []
        for n, item in enumerate(inputs):
            if isinstance(item, tuple):
                table, header = item
                if "line" not in header:
                    raise ValueError(f"input {n + 1}: a header from kith.linkage.read_encodings is needed")
                path = os.path.join(tmp, f"{n + 1}-{header.get('party', 'input')}.kith")
                batches = _as_arrow(table).combine_chunks().to_batches()
                batch = batches[0] if batches else pa.RecordBatch.from_pylist([], schema=_as_arrow(table).schema)
                _native.write_encodings(batch, header_line=header["line"], path=path)
                out.append(path)
            else:
                out.append(fspath(item))
        yield out


def link(
    inputs: Sequence[Encodings],
    output: PathLike,
    *,
    threshold: Optional[float] = None,
    review_threshold: Optional[float] = None,
    dedupe: bool = False,
    blocking: Optional[str] = None,
    scoring: Optional[str] = None,
    model: Optional[PathLike] = None,
    candidate_floor: Optional[float] = None,
    lsh_tables: Optional[int] = None,
    lsh_bits: Optional[int] = None,
    max_bucket: Optional[int] = None,
    solver: Optional[str] = None,
    no_exact_veto: bool = False,
    check_blocking: Optional[int] = None,
    kernel: Optional[str] = None,
    chunk: Optional[int] = None,
    report: Optional[PathLike] = None,
    threads: Optional[int] = None,
    quiet: bool = True,
) -> None:
    """Link encodings as ``kith link`` does: links.csv, clusters.csv, review.csv (with a review
    threshold), model.json and manifest.json in ``output``. Each input is an encodings file or a
    table with its header, as :func:`read_encodings` gives them (an Arrow table or a pandas
    DataFrame, whose rows may be a selection of the file's). Every option is the ``kith link``
    flag of the same name (``blocking="keys+lsh"``, ``scoring="clk"``, ``model="model.json"`` to
    score with a model fitted before, ``chunk=`` for an input larger than memory...)."""
    options = flags(
        output=output,
        threshold=threshold,
        review_threshold=review_threshold,
        dedupe=dedupe,
        blocking=blocking,
        scoring=scoring,
        model=model,
        candidate_floor=candidate_floor,
        lsh_tables=lsh_tables,
        lsh_bits=lsh_bits,
        max_bucket=max_bucket,
        solver=solver,
        no_exact_veto=no_exact_veto,
        check_blocking=check_blocking,
        kernel=kernel,
        chunk=chunk,
        report=report,
        threads=threads,
        quiet=quiet,
    )
    with _files(inputs) as files:
        _native.linkage_run(["link"] + files + options)


def families(
    inputs: Sequence[Encodings],
    links: PathLike,
    output: PathLike,
    *,
    min_criteria: int = 0,
    report: Optional[PathLike] = None,
    quiet: bool = True,
) -> None:
    """Group linked people into families, as ``kith families`` (inputs as for :func:`link`)."""
    options = flags(links=links, output=output, min_criteria=min_criteria, report=report, quiet=quiet)
    with _files(inputs) as files:
        _native.linkage_run(["families"] + files + options)


def split(
    families: PathLike,
    output: PathLike,
    *,
    criteria_to: Sequence[str] = (),
    quiet: bool = True,
) -> None:
    """One results file per holder, as ``kith split``."""
    argv = ["split"] + flags(families=families, output=output, criteria_to=list(criteria_to), quiet=quiet)
    _native.linkage_run(argv)


def evaluate(truth: PathLike, *, links: Optional[PathLike] = None, clusters: Optional[PathLike] = None) -> None:
    """Pairwise precision, recall and F1 against a labelled sample, as ``kith evaluate``."""
    _native.linkage_run(["evaluate"] + flags(truth=truth, links=links, clusters=clusters))


def patterns(
    families: PathLike,
    output: PathLike,
    *,
    threshold: int = 10,
    round: Optional[int] = None,
    suppress_zeros: bool = False,
    quiet: bool = True,
) -> Dict[str, pa.Table]:
    """Publishable aggregate tables, as ``kith patterns``; returns them by name (suppressed
    counts are ``"[c]"``)."""
    import pyarrow.csv as pacsv

    argv = ["patterns", fspath(families)] + flags(
        output=output, threshold=threshold, round=round, suppress_zeros=suppress_zeros, quiet=quiet
    )
    _native.linkage_run(argv)
    out = {}
    for name in sorted(os.listdir(fspath(output))):
        if name.endswith(".csv"):
            out[name[:-4]] = pacsv.read_csv(
                os.path.join(fspath(output), name),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=False, column_types=None),
                read_options=pacsv.ReadOptions(),
            )
    return out


def report(links: PathLike, output: PathLike, **options: Any) -> None:
    """The run report, as ``kith report`` (``families=``, ``profile=[...]``, ``patterns=``...)."""
    _native.linkage_run(["report", fspath(links)] + flags(output=output, **options))
