#!/usr/bin/env bash
# Side-by-side encoding benchmark: clkhash 0.18.3 (single core, as anonlink-client runs it for one
# process) against `kith encode`, on the same generated extract, schema and secret, in one run.
# Prints records per second for both, the per-core ratio, and checks the CLKs are byte-identical.
#
#   benches/vs_clkhash.sh [ROWS] [--diverse]     (default 100000 rows of repetitive names)
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

python3 benches/gen_extract.py "$rows" "$work/extract.csv" 2026 $diverse
printf 'kith benchmark secret, not for real use\n' > "$work/secret.key"
chmod 600 "$work/secret.key"

cargo build --release -q -p kith-cli
kith=target/release/kith

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "extract: $rows records ${diverse:-(repetitive names)}, 10 fields, 1024-bit CLKs (benches/bench-schema.json)"

clk_line=$("$venv/bin/python" benches/clkhash_encode.py benches/bench-schema.json "$work/secret.key" "$work/extract.csv" "$work/clkhash.json")
echo "$clk_line"
clk_secs=$(echo "$clk_line" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')

timeit() { # prints the best wall time in seconds of three runs of the command (this machine is noisy)
  local start end best=""
  for _ in 1 2 3; do
    start=$(date +%s.%N)
    "$@"
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  echo "$best"
}
k1=$(timeit "$kith" --quiet --threads 1 encode --schema benches/bench-schema.json --secret-file "$work/secret.key" \
  --input "$work/extract.csv" --output "$work/kith-1.json" --format clkhash-json)
kn=$(timeit "$kith" --quiet encode --schema benches/bench-schema.json --secret-file "$work/secret.key" \
  --input "$work/extract.csv" --output "$work/kith-n.json" --format clkhash-json)
kk=$(timeit "$kith" --quiet encode --schema benches/bench-schema.json --secret-file "$work/secret.key" \
  --input "$work/extract.csv" --output "$work/kith-n.kith")

if cmp -s "$work/clkhash.json" "$work/kith-1.json" && cmp -s "$work/kith-1.json" "$work/kith-n.json"; then
  echo "outputs: byte-identical (clkhash, kith 1 thread, kith $(nproc) threads)"
else
  echo "outputs: DIFFER" >&2
  exit 1
fi

awk -v n="$rows" -v c="$clk_secs" -v k1="$k1" -v kn="$kn" -v kk="$kk" -v cores="$(nproc)" 'BEGIN {
  printf "clkhash, 1 core:            %10.0f records/s  (%.2f s)\n", n / c, c
  printf "kith clkhash-json, 1 thread: %10.0f records/s  (%.3f s)\n", n / k1, k1
  printf "kith clkhash-json, %d threads: %9.0f records/s  (%.3f s)\n", cores, n / kn, kn
  printf "kith kith format, %d threads: %10.0f records/s  (%.3f s)\n", cores, n / kk, kk
  printf "ratio per core (kith 1 thread / clkhash 1 core): %.0fx\n", c / k1
}'
