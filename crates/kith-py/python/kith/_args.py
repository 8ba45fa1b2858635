"""Keyword arguments to a kith command line."""

from __future__ import annotations

import os
from typing import Any, Iterable, List


def flags(**options: Any) -> List[str]:
    """``--name value`` for each option that is set: ``True`` gives ``--name``, a list repeats it."""
    out: List[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            out.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                out.extend([flag, fspath(v)])
        else:
            out.extend([flag, fspath(value)])
    return out


def fspath(v: Any) -> str:
    return os.fspath(v) if isinstance(v, os.PathLike) else str(v)


def paths(items: Iterable[Any]) -> List[str]:
    return [fspath(p) for p in items]
