#!/usr/bin/env bash
# Encoding speed per token of each clkhash v3 schema shape (crates/kith/benches/shapes.rs), then a
# table of nanoseconds per token against the fastest shape of each group.
#
#   benches/shapes.sh            (about two minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p kith --bench shapes >/dev/null 2>&1 || { echo "cargo bench failed: run cargo bench -p kith --bench shapes" >&2; exit 1; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
python3 - <<'PY'
import json, pathlib
root = pathlib.Path("target/criterion")
for group in ("shapes", "new tokens"):
    rows = []
    for bench in sorted((root / group).glob("*/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        tokens = meta["throughput"]["Elements"]
        rows.append((meta["function_id"], est["mean"]["point_estimate"] / tokens))
    if not rows:
        continue
    fastest = min(ns for _, ns in rows)
    print(f"\n{group}: ns per token, and against the fastest")
    for name, ns in sorted(rows, key=lambda r: r[1]):
        flag = "" if ns <= 2 * fastest else "   more than twice the fastest"
        print(f"  {name:45} {ns:7.1f} ns  {ns / fastest:5.2f}x{flag}")
PY
