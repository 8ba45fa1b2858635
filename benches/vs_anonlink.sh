#!/usr/bin/env bash
# kith link vs anonlink 0.15.3, side by side in one run, on the same random 1024-bit CLKs.
#
#   benches/vs_anonlink.sh [N] [THRESHOLD]     (default 40000 and 0.9)
#
# anonlink is installed from PyPI into target/anonlink-venv (it needs setuptools<81 to build).
# Both are timed on one core: anonlink's candidate search is single-threaded, and kith runs with
# --threads 1. anonlink is timed in-process (loading excluded); kith's figure is its own scoring
# time, and the whole process is timed too. The script also checks that both found the same
# matches with the same scores, and prints the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-40000}
T=${2:-0.9}
VENV=target/anonlink-venv
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import anonlink' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'setuptools<81' wheel
  "$VENV/bin/pip" install -q --no-build-isolation anonlink==0.15.3
fi
cargo build -q --release -p kith-cli
W=target/vs-anonlink
mkdir -p "$W"
"$VENV/bin/python" benches/anonlink/make_clks.py "$N" "$W/a.json" "$W/b.json"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "data: $N x $N random 1024-bit CLKs, threshold $T"

A_OUT=$("$VENV/bin/python" benches/anonlink/anonlink_link.py "$W/a.json" "$W/b.json" "$T" "$W/anonlink.csv")
echo "anonlink: $A_OUT"
A_FIND=$(echo "$A_OUT" | sed -E 's/.*find ([0-9.]+) s.*/\1/')

best=""
for run in 1 2 3; do
  start=$(date +%s.%N)
  target/release/kith link "$W/a.json" "$W/b.json" --output "$W/kith" --blocking none \
    --threshold "$T" --threads 1 2> "$W/kith.log"
  end=$(date +%s.%N)
  secs=$(grep -oE '[0-9.]+ s \([0-9]+ M comparisons/s\)' "$W/kith.log" | head -1 | cut -d' ' -f1)
  whole=$(echo "$end - $start" | bc)
  if [ -z "$best" ] || (( $(echo "$secs < $best" | bc) )); then best=$secs; best_whole=$whole; fi
done
echo "kith: scoring $best s (best of 3), whole process $best_whole s, 1 thread, kernel $(grep -oE 'kernel [a-z0-9]+' "$W/kith.log" | cut -d' ' -f2)"

tail -n +2 "$W/kith/links.csv" | awk -F, '{printf "%s,%s,%s\n", $2, $4, $5}' | sort -t, -k1,1n -k2,2n > "$W/kith.csv"
sort -t, -k1,1n -k2,2n "$W/anonlink.csv" > "$W/anonlink.sorted.csv"
if cmp -s "$W/kith.csv" "$W/anonlink.sorted.csv"; then
  echo "same matches: yes ($(wc -l < "$W/kith.csv") pairs, identical scores)"
else
  echo "same matches: NO (see $W/kith.csv and $W/anonlink.sorted.csv)"
  exit 1
fi
python3 - "$N" "$A_FIND" "$best" "$best_whole" <<'PY'
import sys
n, a, k, w = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
c = n * n
print(f"anonlink: {c / a / 1e6:8.1f} M comparisons/s per core")
print(f"kith:     {c / k / 1e6:8.1f} M comparisons/s per core (whole process: {c / w / 1e6:.1f} M/s)")
print(f"ratio:    {a / k:.1f}x per core (whole process {a / w:.1f}x)")
PY
