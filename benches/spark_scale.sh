#!/usr/bin/env bash
# The Spark job (kith.spark) beside `kith link` on the same encodings, on growing inputs: two
# holders (council and health) of a `kith synth` population, CLK Dice at 0.8 with the keyed
# blocking keys, as `kith link --scoring clk --blocking keys --threshold 0.8` links them. Prints,
# per size and per number of Spark worker threads (local[N]), the wall time of each, Spark's
# shuffle bytes (from its event log) and the candidate pairs, and checks the two give the same
# links.csv and clusters.csv.
#
#   benches/spark_scale.sh [PEOPLE ...]        (default 50000 100000)
#   THREADS="1 2" benches/spark_scale.sh 100000
#
# Needs the Python package and pyspark in PY (default target/py-venv/bin/python, as .ci/run
# makes it) and Java 17 or later.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-target/py-venv/bin/python}
THREADS=${THREADS:-"1 2"}
SIZES=${*:-"50000 100000"}
cargo build -q --release -p kith-cli
K=target/release/kith
export KITH_SECRET=benchmark-secret-not-for-real-use
printf '%-9s %-9s %-9s %-12s %-10s %-9s %-12s %-12s %s\n' people council health "kith link" spark threads shuffle candidates same
for n in $SIZES; do
  W=target/spark-scale-$n
  rm -rf "$W"
  $K synth --quiet --people "$n" --output "$W/src"
  for a in council health; do
    $K encode -q --schema fixtures/demo/schema.json --mapping "$W/src/$a-mapping.json" \
      --input "$W/src/$a.csv" --output "$W/$a.kith"
  done
  t0=$(date +%s.%N)
  $K link --quiet "$W/council.kith" "$W/health.kith" --scoring clk --blocking keys \
    --threshold 0.8 --output "$W/cli"
  t1=$(date +%s.%N)
  cli=$(printf "%.2f" "$(echo "$t1 - $t0" | bc)")
  for t in $THREADS; do
    rm -rf "$W/spark" "$W/events"
    mkdir -p "$W/events"
    out=$("$PY" - "$W" "$t" 2>"$W/spark.log" <<'PY'
import glob, json, os, sys, time
os.environ["PYSPARK_PYTHON"] = sys.executable  # the workers' Python: the one with kith
from pyspark.sql import SparkSession
from kith import spark as ks
w, t = sys.argv[1], int(sys.argv[2])
for a in ["council", "health"]:
    ks.to_parquet(f"{w}/{a}.kith", f"{w}/{a}.parquet")
s = (SparkSession.builder.master(f"local[{t}]").config("spark.ui.enabled", "false")
     .config("spark.sql.shuffle.partitions", str(4 * t)).config("spark.driver.memory", "8g")
     .config("spark.eventLog.enabled", "true").config("spark.eventLog.compress", "false").config("spark.eventLog.dir", f"{w}/events").getOrCreate())
s.sparkContext.setLogLevel("ERROR")
start = time.time()
r = ks.link(s, [f"{w}/council.parquet", f"{w}/health.parquet"], f"{w}/spark", threshold=0.8)
took = time.time() - start
s.stop()
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
    cmp -s "$W/cli/links.csv" "$W/spark/links.csv" && cmp -s "$W/cli/clusters.csv" "$W/spark/clusters.csv" && same=yes
    printf '%-9s %-9s %-9s %-12s %-10s %-9s %-12s %-12s %s\n' "$n" \
      "$(grep -c . "$W/src/council.csv")" "$(grep -c . "$W/src/health.csv")" "${cli}s" "${took}s" \
      "$t" "$((shuffle / 1048576)) MiB" "$cands" "$same"
  done
done
