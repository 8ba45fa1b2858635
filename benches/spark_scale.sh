#!/usr/bin/env bash
# The Spark job (kith.spark) beside `kith link` on the same encodings, on growing inputs: two
# holders (council and health) of a `kith synth` population, linked on the keyed blocking keys.
# SCORING=clk (the default): CLK Dice at 0.8, as `kith link --scoring clk --blocking keys
# --threshold 0.8`; "same" checks the two give the same links.csv and clusters.csv.
# SCORING=fields: field scoring, each fitting its own model (the job on a sample of queries);
# "same" checks `kith link --model` with the job's model.json gives the job's bytes, and "F1" is
# the job's pairwise F1 against the population's truth (kith link's own in brackets).
# Prints, per size and per number of Spark workers, the wall time of each, Spark's shuffle bytes
# (from its event log) and the candidate pairs.
#
#   benches/spark_scale.sh [PEOPLE ...]        (default 50000 100000)
#   THREADS="1 2" benches/spark_scale.sh 100000          local[1], local[2]
#   MODE=cluster THREADS="1 2" benches/spark_scale.sh 100000
#       a standalone master and 1, then 2, workers of one core each, started on 127.0.0.1
#
# Needs the Python package and pyspark in PY (default target/py-venv/bin/python, as .ci/run
# makes it) and Java 17 or later.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-target/py-venv/bin/python}
THREADS=${THREADS:-"1 2"}
SCORING=${SCORING:-clk}
MODE=${MODE:-local}
SIZES=${*:-"50000 100000"}
cargo build -q --release -p kith-cli
K=target/release/kith
export KITH_SECRET=benchmark-secret-not-for-real-use
printf '%-9s %-9s %-9s %-12s %-10s %-9s %-12s %-12s %-5s %s\n' people council health "kith link" spark workers shuffle candidates same F1
for n in $SIZES; do
  W=target/spark-scale-$n
  rm -rf "$W"
  $K synth --quiet --people "$n" --output "$W/src"
  for a in council health; do
    $K encode -q --schema fixtures/demo/schema.json --mapping "$W/src/$a-mapping.json" \
      --input "$W/src/$a.csv" --output "$W/$a.kith" --keep-map "$W/$a-map.csv"
  done
  # The truth in token terms (the person behind each record), for F1.
  python3 - "$W" <<'PY'
import csv, sys
w = sys.argv[1]
tok = {}
for a in ["council", "health"]:
    for r in csv.DictReader(open(f"{w}/{a}-map.csv")):
        tok[(a, r["local_id"])] = r["token"]
with open(f"{w}/truth.csv", "w", newline="") as f:
    o = csv.writer(f)
    o.writerow(["source", "token", "entity"])
    for r in csv.DictReader(open(f"{w}/src/truth-local.csv")):
        if (r["source"], r["local_id"]) in tok:
            o.writerow([r["source"], tok[(r["source"], r["local_id"])], r["person"]])
PY
  if [ "$SCORING" = clk ]; then flags=(--scoring clk --threshold 0.8); else flags=(); fi
  t0=$(date +%s.%N)
  $K link --quiet "$W/council.kith" "$W/health.kith" --blocking keys "${flags[@]}" --output "$W/cli"
  t1=$(date +%s.%N)
  cli=$(printf "%.2f" "$(echo "$t1 - $t0" | bc)")
  for t in $THREADS; do
    rm -rf "$W/spark" "$W/events"
    mkdir -p "$W/events"
    out=$("$PY" - "$W" "$t" "$SCORING" "$MODE" 2>"$W/spark.log" <<'PY'
import glob, json, os, socket, subprocess, sys, time
os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers' Python: the one with kith
import pyspark
from pyspark.sql import SparkSession
from kith import spark as ks
w, t, scoring, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
for a in ["council", "health"]:
    ks.to_parquet(f"{w}/{a}.kith", f"{w}/{a}.parquet")

def port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]

procs, master = [], f"local[{t}]"
if mode == "cluster":  # a standalone master and t workers of one core each
    home = os.path.dirname(pyspark.__file__)
    cls = os.path.join(home, "bin", "spark-class")
    env = {**os.environ, "SPARK_HOME": home, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_WORKER_DIR": f"{w}/work",
           "SPARK_MASTER_OPTS": "-Dspark.ui.enabled=false", "SPARK_WORKER_OPTS": "-Dspark.ui.enabled=false"}
    mp = port()
    log = open(f"{w}/cluster.log", "w")
    procs.append(subprocess.Popen([cls, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                   "--port", str(mp), "--webui-port", str(port())], env=env, stdout=log, stderr=log))
    time.sleep(5)
    for _ in range(t):
        procs.append(subprocess.Popen([cls, "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{mp}",
                                       "--host", "127.0.0.1", "--cores", "1", "--memory", "6g",
                                       "--webui-port", str(port())], env=env, stdout=log, stderr=log))
    time.sleep(5)
    master = f"spark://127.0.0.1:{mp}"
try:
    s = (SparkSession.builder.master(master).config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", str(4 * t)).config("spark.driver.memory", "8g")
         .config("spark.executor.memory", "5g").config("spark.driver.host", "127.0.0.1")
         .config("spark.eventLog.enabled", "true").config("spark.eventLog.compress", "false").config("spark.eventLog.dir", f"{w}/events").getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    if mode == "cluster":  # every worker registered before the clock starts
        while s.sparkContext._jsc.sc().getExecutorMemoryStatus().size() < t + 1:
            time.sleep(1)
    start = time.time()
    opts = dict(threshold=0.8, scoring="clk") if scoring == "clk" else {}
    r = ks.link(s, [f"{w}/council.parquet", f"{w}/health.parquet"], f"{w}/spark", **opts)
    took = time.time() - start
    s.stop()
finally:
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        p.wait()
shuffle = 0
for log in glob.glob(f"{w}/events/**/*", recursive=True):
    if os.path.isdir(log) or not os.path.basename(log).startswith("events_"):
        continue
    for line in open(log):
        e = json.loads(line)
        if e.get("Event") == "SparkListenerTaskEnd":
            m = e.get("Task Metrics") or {}
            shuffle += (m.get("Shuffle Write Metrics") or {}).get("Shuffle Bytes Written", 0)
print(f"{took:.1f} {shuffle} {r['candidates']}")
PY
)
    read -r took shuffle cands <<<"$out"
    same=no
    f1=
    want=$W/cli
    if [ "$SCORING" != clk ]; then
      want=$W/again
      $K link --quiet "$W/council.kith" "$W/health.kith" --blocking keys --model "$W/spark/model.json" --output "$want"
      f1() { $K evaluate --truth "$W/truth.csv" --clusters "$1/clusters.csv" 2>&1 | sed -n 's/.*F1 *\([0-9.]*\).*/\1/p' | head -1; }
      f1="$(f1 "$W/spark") ($(f1 "$W/cli"))"
    fi
    cmp -s "$want/links.csv" "$W/spark/links.csv" && cmp -s "$want/clusters.csv" "$W/spark/clusters.csv" && same=yes
    printf '%-9s %-9s %-9s %-12s %-10s %-9s %-12s %-12s %-5s %s\n' "$n" \
      "$(grep -c . "$W/src/council.csv")" "$(grep -c . "$W/src/health.csv")" "${cli}s" "${took}s" \
      "$t" "$((shuffle / 1048576)) MiB" "$cands" "$same" "$f1"
  done
done
