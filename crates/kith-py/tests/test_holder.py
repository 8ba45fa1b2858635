"""The holder's side from Python: the same encodings as `kith encode`, from a file, a DataFrame or
an Arrow table; the secret only from a file or the environment; errors with the CLI's messages."""

import inspect
import os
import subprocess

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import kith
from kith import holder, linkage


def encode_file(demo, secret_file, tmp_path, name="council", id_column="person_id"):
    out = tmp_path / f"{name}.kith"
    holder.encode(
        demo / "schema.json",
        demo / f"{name}.csv",
        out,
        secret_file=secret_file,
        id_column=id_column,
        keep_map=tmp_path / f"{name}-map.csv",
    )
    return out


def test_schema_is_checked_and_fingerprinted(demo):
    info = holder.check_schema(demo / "schema.json")
    assert info["fingerprint"].startswith("sha256:")
    assert info["features"] == ["given_name", "surname", "dob", "sex", "postcode"]
    assert "nhs_number" in info["keyed_inputs"]
    assert info["areas"] == ["district"]
    with pytest.raises(kith.KithError, match="cannot read the schema"):
        holder.check_schema(demo / "no-such-schema.json")


def test_a_dataframe_and_an_arrow_table_encode_as_the_file_does(demo, secret_file, tmp_path):
    pd = pytest.importorskip("pandas")
    table, _ = linkage.read_encodings(encode_file(demo, secret_file, tmp_path))
    df = pd.read_csv(demo / "council.csv", dtype=str, keep_default_na=False)
    from_df, keep = holder.encode_table(
        demo / "schema.json", df, party="council", secret_file=secret_file, id_column="person_id"
    )
    assert from_df.equals(table)
    arrow = pacsv.read_csv(demo / "council.csv")  # typed columns: read back as text
    from_arrow, _ = holder.encode_table(
        demo / "schema.json", arrow, party="council", secret_file=secret_file, id_column="person_id"
    )
    assert from_arrow.column("clk").equals(table.column("clk"))
    # The map joins each token to its local ID, as --keep-map does.
    kept = pacsv.read_csv(tmp_path / "council-map.csv", convert_options=pacsv.ConvertOptions(column_types={"local_id": pa.string()}))
    assert sorted(zip(keep.column("token").to_pylist(), keep.column("local_id").to_pylist())) == sorted(
        zip(kept.column("token").to_pylist(), kept.column("local_id").to_pylist())
    )


def test_the_binary_gives_the_same_encodings(demo, secret_file, tmp_path, kith_bin):
    ours = encode_file(demo, secret_file, tmp_path)
    theirs = tmp_path / "cli.kith"
    subprocess.run(
        [kith_bin, "encode", "--quiet", "--schema", demo / "schema.json", "--input", demo / "council.csv",
         "--output", theirs, "--secret-file", secret_file, "--id-column", "person_id"],
        check=True,
    )
    assert ours.read_bytes() == theirs.read_bytes()


def test_the_secret_comes_only_from_a_file_or_the_environment(demo, secret_file, tmp_path, monkeypatch):
    monkeypatch.delenv("KITH_SECRET", raising=False)
    df = pa.table({"given_name": ["Ann"], "surname": ["Lee"], "dob": ["01/02/1990"], "sex": ["F"],
                   "postcode": ["LS6 2AB"], "nhs_number": [""], "person_id": ["C1"], "address": ["1 Mill Lane"],
                   "household_ref": ["H1"], "out_of_work": [""], "child_in_need": [""]})
    with pytest.raises(kith.KithError, match="no secret"):
        holder.encode_table(demo / "schema.json", df, party="council", id_column="person_id")
    for f in (holder.encode, holder.encode_table):
        params = inspect.signature(f).parameters
        assert "secret" not in params and "secret_file" in params
    monkeypatch.setenv("KITH_SECRET", secret_file.read_text().strip())
    from_env, _ = holder.encode_table(demo / "schema.json", df, party="council", id_column="person_id")
    from_file, _ = holder.encode_table(
        demo / "schema.json", df, party="council", id_column="person_id", secret_file=secret_file
    )
    assert from_env.equals(from_file)


def test_errors_carry_the_commands_messages(demo, secret_file, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("person_id,given_name\nC1,Ann\n")
    with pytest.raises(kith.KithError, match=r"bad\.csv: line 1 \(header\)"):
        holder.encode(demo / "schema.json", bad, tmp_path / "x.kith", secret_file=secret_file)
    assert not (tmp_path / "x.kith").exists()
    wrong = pa.table({"person_id": ["C1"], "given_name": [1]})
    with pytest.raises(kith.KithError, match="the table's columns"):
        holder.encode_table(demo / "schema.json", wrong, party="x", secret_file=secret_file)


def test_a_profile_comes_back_as_counts(demo):
    p = holder.profile(demo / "schema.json", demo / "health.csv", mapping=demo / "health-mapping.json",
                       as_of="2026-12-05")
    assert p["format"] == "kith-profile" and p["party"] == "health"
    assert p["verdict"]["fit"] == "fit"
