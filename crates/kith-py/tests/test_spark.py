"""The Spark job gives what `kith link` gives on the same files with the same blocking and scoring:
CLK scoring on keyed blocking keys (with oversized groups cut) and on keys and LSH; field scoring
with `kith link`'s model, and with a model the job fits itself, which `kith link --model` then
reproduces. On `local[2]`, and on a real standalone master and worker started here on 127.0.0.1
(free ports, web UIs off), stopped whatever happens."""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

pyspark = pytest.importorskip("pyspark")

from kith import spark as ks  # noqa: E402

AGENCIES = ["council", "health", "police", "school"]
THRESHOLD = "0.8"


@pytest.fixture(scope="module")
def population(tmp_path_factory, kith_bin):
    """A synthetic population's four extracts, encoded, as files and as Parquet, with the
    binary's links of them."""
    d = tmp_path_factory.mktemp("population")
    subprocess.run([kith_bin, "synth", "--quiet", "--people", "1500", "--output", d / "src"], check=True)
    env = {**os.environ, "KITH_SECRET": "spark-test-secret-0123456789abcdef"}
    files = []
    for a in AGENCIES:
        out = d / f"{a}.kith"
        cmd = [kith_bin, "encode", "--quiet", "--schema", _schema(),
               "--mapping", d / "src" / f"{a}-mapping.json", "--input", d / "src" / f"{a}.csv", "--output", out]
        if a == "police":
            cmd += ["--encoding", "windows-1252"]
        subprocess.run(cmd, check=True, env=env)
        ks.to_parquet(out, d / f"{a}.parquet")
        files.append(out)
    _cli(kith_bin, d, "cli", "--scoring", "clk", "--blocking", "keys", "--threshold", THRESHOLD)
    _cli(kith_bin, d, "cli-lsh", "--scoring", "clk", "--blocking", "keys+lsh", "--threshold", THRESHOLD,
         "--review-threshold", "0.7")
    _cli(kith_bin, d, "cli-fields", "--blocking", "keys", "--review-threshold", "0.1")
    return d


def _cli(kith_bin, d, out, *flags):
    """`kith link` of the population's four encodings files, with `--dedupe`, into `d / out`."""
    files = [d / f"{a}.kith" for a in AGENCIES]
    subprocess.run([kith_bin, "link", "--quiet", *files, "--dedupe", *flags, "--output", d / out], check=True)


def _schema():
    from pathlib import Path

    return Path(__file__).resolve().parents[3] / "fixtures" / "demo" / "schema.json"


def _same(d, out, cli="cli", files=("links.csv", "clusters.csv")):
    for name in files:
        assert (out / name).read_bytes() == (d / cli / name).read_bytes(), name


def _fits_its_own_model(kith_bin, population, out):
    """A model the job fitted itself: `kith link --model` with it gives the job's bytes."""
    _cli(kith_bin, population, out.name + "-again", "--blocking", "keys", "--model", out / "model.json")
    again = population / (out.name + "-again")
    for name in ["links.csv", "clusters.csv", "model.json"]:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def _session(master):
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    s = (
        SparkSession.builder.master(master)
        .appName("kith-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.executorEnv.PYSPARK_PYTHON", sys.executable)
        .getOrCreate()
    )
    s.sparkContext.setLogLevel("ERROR")
    return s


def test_local_spark_links_as_kith_link_does(population, tmp_path, kith_bin):
    s = _session("local[2]")
    try:
        parquet = [population / f"{a}.parquet" for a in AGENCIES]
        clk = dict(threshold=float(THRESHOLD), scoring="clk", dedupe=True)
        counts = ks.link(s, parquet, tmp_path / "out", **clk)
        _same(population, tmp_path / "out")
        assert counts["candidates"] > 500 and counts["scoring"] == "clk"
        # Groups cut into sub-groups (every group pair over 3 comparisons) give the same links.
        cut = ks.link(s, parquet, tmp_path / "cut", split_over=3, **clk)
        assert cut["keys_cut"] > 0
        _same(population, tmp_path / "cut")
        # Keyed blocking keys and LSH keys of the CLKs, with a review band.
        ks.link(s, parquet, tmp_path / "lsh", blocking="keys+lsh", review_threshold=0.7, **clk)
        _same(population, tmp_path / "lsh", "cli-lsh", ("links.csv", "clusters.csv", "review.csv"))
        # Field scoring with the model kith link fitted: its links and review band, cut into parts
        # or not.
        given = population / "cli-fields" / "model.json"
        f = ks.link(s, parquet, tmp_path / "given", model=given, dedupe=True, review_threshold=0.1)
        assert f["scoring"] == "fields" and not f["model_fitted"]
        _same(population, tmp_path / "given", "cli-fields", ("links.csv", "clusters.csv", "review.csv"))
        assert (tmp_path / "given" / "review.csv").read_text().count("\n") > 10
        ks.link(s, parquet, tmp_path / "given-cut", model=given, dedupe=True, split_over=3)
        _same(population, tmp_path / "given-cut", "cli-fields")
        # Field scoring with a model fitted on a sample of queries (one record in three here).
        fit = ks.link(s, parquet, tmp_path / "fit", dedupe=True, fit_queries=1000)
        assert fit["model_fitted"]
        _fits_its_own_model(kith_bin, population, tmp_path / "fit")
        links = (tmp_path / "fit" / "links.csv").read_text().count("\n")
        cli = (population / "cli-fields" / "links.csv").read_text().count("\n")
        assert abs(links - cli) <= 0.02 * cli, (links, cli)
    finally:
        s.stop()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port, seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def test_a_standalone_master_and_worker_link_as_kith_link_does(population, tmp_path, kith_bin):
    home = os.path.dirname(pyspark.__file__)
    spark_class = os.path.join(home, "bin", "spark-class")
    if not os.path.exists(spark_class):
        pytest.skip("this pyspark has no spark-class")
    port = _free_port()
    env = {
        **os.environ,
        "SPARK_HOME": home,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_WORKER_DIR": str(tmp_path / "work"),
    }
    log = open(tmp_path / "cluster.log", "w")
    procs = []
    try:
        procs.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(port), "--webui-port", str(_free_port())],
            env={**env, "SPARK_MASTER_OPTS": "-Dspark.ui.enabled=false"}, stdout=log, stderr=log))
        _wait_for(port)
        procs.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
             "--host", "127.0.0.1", "--cores", "2", "--memory", "2g", "--webui-port", str(_free_port())],
            env={**env, "SPARK_WORKER_OPTS": "-Dspark.ui.enabled=false"}, stdout=log, stderr=log))
        s = _session(f"spark://127.0.0.1:{port}")
        try:
            parquet = [population / f"{a}.parquet" for a in AGENCIES]
            ks.link(s, parquet, tmp_path / "out", threshold=float(THRESHOLD), scoring="clk", dedupe=True)
            _same(population, tmp_path / "out")
            # Field scoring, the model fitted by executors in their own processes.
            ks.link(s, parquet, tmp_path / "fit", dedupe=True, fit_queries=1000)
            _fits_its_own_model(kith_bin, population, tmp_path / "fit")
        finally:
            s.stop()
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
