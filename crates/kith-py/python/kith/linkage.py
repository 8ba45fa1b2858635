"""The linkage party's side: it holds encodings, never a secret, and nothing here takes one."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import pyarrow as pa

from kith._args import flags, fspath, paths
from kith._native import linkage as _native

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["read_encodings", "link", "families", "split", "evaluate", "patterns", "report"]


def read_encodings(path: PathLike) -> Tuple[pa.Table, Dict[str, Any]]:
    """An encodings file as an Arrow table (one text column per column of the file, empty where
    missing) and its header (party, schema fingerprint, key check, CLK bits, records)."""
    batch, header = _native.read_encodings(fspath(path))
    return pa.Table.from_batches([batch]), dict(header)


def link(
    inputs: Sequence[PathLike],
    output: PathLike,
    *,
    threshold: Optional[float] = None,
    review_threshold: Optional[float] = None,
    dedupe: bool = False,
    blocking: Optional[str] = None,
    scoring: Optional[str] = None,
    solver: Optional[str] = None,
    no_exact_veto: bool = False,
    report: Optional[PathLike] = None,
    threads: Optional[int] = None,
    quiet: bool = True,
) -> None:
    """Link encodings files as ``kith link`` does: links.csv, clusters.csv, review.csv (with a
    review threshold), model.json and manifest.json in ``output``."""
    argv = ["link"] + paths(inputs)
    argv += flags(
        output=output,
        threshold=threshold,
        review_threshold=review_threshold,
        dedupe=dedupe,
        blocking=blocking,
        scoring=scoring,
        solver=solver,
        no_exact_veto=no_exact_veto,
        report=report,
        threads=threads,
        quiet=quiet,
    )
    _native.linkage_run(argv)


def families(
    inputs: Sequence[PathLike],
    links: PathLike,
    output: PathLike,
    *,
    min_criteria: int = 0,
    report: Optional[PathLike] = None,
    quiet: bool = True,
) -> None:
    """Group linked people into families, as ``kith families``."""
    argv = ["families"] + paths(inputs)
    argv += flags(links=links, output=output, min_criteria=min_criteria, report=report, quiet=quiet)
    _native.linkage_run(argv)


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
