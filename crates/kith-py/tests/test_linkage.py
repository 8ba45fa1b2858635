"""The linkage party's side from Python: the same links as `kith link`, families, patterns, and a
module that cannot reach a key."""

import subprocess
import sys

import pytest

import kith
from kith import holder, linkage


@pytest.fixture
def encodings(demo, secret_file, tmp_path):
    out = []
    for name, mapping in [("council", None), ("health", "health-mapping.json"), ("police", "police-mapping.json")]:
        path = tmp_path / f"{name}.kith"
        holder.encode(
            demo / "schema.json",
            demo / f"{name}.csv",
            path,
            secret_file=secret_file,
            mapping=None if mapping is None else demo / mapping,
            id_column="person_id" if mapping is None else None,
            keep_map=tmp_path / f"{name}-map.csv",
        )
        out.append(path)
    return out


def test_link_writes_what_kith_link_writes(encodings, tmp_path, kith_bin):
    linkage.link(encodings, tmp_path / "py", review_threshold=0.1, dedupe=True)
    subprocess.run([kith_bin, "link", "--quiet", *encodings, "--review-threshold", "0.1", "--dedupe",
                    "--output", tmp_path / "cli"], check=True)
    for name in ["links.csv", "clusters.csv", "review.csv"]:
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    assert (tmp_path / "py" / "links.csv").read_text().count("\n") > 5


def test_families_and_patterns(encodings, tmp_path):
    linkage.link(encodings, tmp_path / "links")
    linkage.families(encodings, tmp_path / "links", tmp_path / "families")
    tables = linkage.patterns(tmp_path / "families", tmp_path / "patterns")
    assert set(tables) == {"people_by_agencies", "families_by_agencies", "families_by_criteria", "families_by_area"}
    people = tables["people_by_agencies"]
    assert people.column_names == ["agencies", "people"]
    for cell in people.column("people").to_pylist():
        assert str(cell) == "[c]" or int(cell) == 0 or int(cell) >= 10


def test_read_encodings_gives_the_header(encodings):
    table, header = linkage.read_encodings(encodings[0])
    assert header["party"] == "council" and header["records"] == table.num_rows == 18
    assert table.column_names[:2] == ["token", "clk"]


def test_the_linkage_module_cannot_reach_a_key():
    # Importing it does not import the holder's module, and no function of it takes a secret.
    code = "import sys, kith.linkage; print('kith.holder' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
    import inspect
    for name in linkage.__all__:
        assert not any("secret" in p for p in inspect.signature(getattr(linkage, name)).parameters), name
    # Its native half runs only the linkage party's commands.
    with pytest.raises(kith.KithError, match="not one of this module's commands"):
        kith._native.linkage.linkage_run(["encode", "--help"])


def test_link_from_tables_gives_the_links_of_the_files(encodings, tmp_path):
    linkage.link(encodings, tmp_path / "files", dedupe=True)
    tables = [linkage.read_encodings(p) for p in encodings]
    # Arrow tables, and one as a pandas DataFrame.
    inputs = [tables[0], (tables[1][0].to_pandas(), tables[1][1]), tables[2]]
    linkage.link(inputs, tmp_path / "tables", dedupe=True)
    for name in ["links.csv", "clusters.csv"]:
        assert (tmp_path / "tables" / name).read_bytes() == (tmp_path / "files" / name).read_bytes(), name
    # A selection of rows: only those records are linked.
    council, header = tables[0]
    kept = council.slice(0, 5)
    linkage.link([(kept, header), tables[1]], tmp_path / "some")
    clusters = (tmp_path / "some" / "clusters.csv").read_text().splitlines()[1:]
    tokens = {line.split(",")[1] for line in clusters if line.startswith("council,")}
    assert tokens == set(kept.column("token").to_pylist())
    # A table that is not an encodings table is refused, naming what is wrong.
    with pytest.raises(kith.KithError, match="columns are"):
        linkage.link([(council.drop_columns(["clk"]), header), tables[1]], tmp_path / "bad")
    assert not (tmp_path / "bad" / "links.csv").exists()


def test_every_link_option_is_the_flag_of_the_same_name(encodings, tmp_path, kith_bin):
    linkage.link(encodings, tmp_path / "first", dedupe=True)
    options = dict(blocking="keys+lsh", lsh_tables=8, lsh_bits=12, max_bucket=500, candidate_floor=0.4,
                   model=tmp_path / "first" / "model.json", solver="anonlink", check_blocking=10,
                   kernel="portable", threshold=0.6)
    linkage.link(encodings, tmp_path / "py", **options)
    flags = ["--blocking", "keys+lsh", "--lsh-tables", "8", "--lsh-bits", "12", "--max-bucket", "500",
             "--candidate-floor", "0.4", "--model", tmp_path / "first" / "model.json", "--solver", "anonlink",
             "--check-blocking", "10", "--kernel", "portable", "--threshold", "0.6"]
    subprocess.run([kith_bin, "link", "--quiet", *encodings, *flags, "--output", tmp_path / "cli"], check=True)
    for name in ["links.csv", "clusters.csv"]:
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    manifest = (tmp_path / "py" / "manifest.json").read_text()
    assert '"solver": "every"' in manifest and "field model given" in manifest
    with pytest.raises(kith.KithError, match="--lsh-bits"):
        linkage.link(encodings, tmp_path / "bad", lsh_bits=99)
