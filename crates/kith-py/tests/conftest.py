"""Fixtures: the repository's demo extracts and schema, a secret in a file, and the `kith` binary
the same commands run through (`KITH_BIN`, which `.ci/run` sets), to compare against."""

import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
DEMO = ROOT / "fixtures" / "demo"


@pytest.fixture
def demo():
    return DEMO


@pytest.fixture
def secret_file(tmp_path):
    p = tmp_path / "holders.key"
    p.write_text("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n")
    p.chmod(0o600)
    return p


@pytest.fixture(scope="session")
def kith_bin():
    path = os.environ.get("KITH_BIN") or shutil.which("kith")
    if not path:
        built = ROOT / "target" / "release" / "kith"
        path = str(built) if built.exists() else None
    if not path:
        pytest.skip("no kith binary to compare with (set KITH_BIN)")
    return path

