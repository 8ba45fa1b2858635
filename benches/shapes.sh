#!/usr/bin/env bash
# Encoding speed per token of each clkhash v3 schema shape (crates/kith/benches/shapes.rs), then a
# table of nanoseconds per token against the fastest shape of each group, raw and net of a
# record's own cost (the shape of empty values).
#
#   benches/shapes.sh            (about six minutes on two cores)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p kith --bench shapes >/dev/null 2>&1 || { echo "cargo bench failed: run cargo bench -p kith --bench shapes" >&2; exit 1; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
python3 - <<'PY'
import json, pathlib
root = pathlib.Path("target/criterion")
RECORD_ONLY = "record only (empty values)"
BATCH = 2048          # records a batch (crates/kith/benches/shapes.rs)
for group in ("shapes", "new tokens"):
    rows = []
    for bench in sorted((root / group).glob("*/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        rows.append((meta["function_id"], est["mean"]["point_estimate"], meta["throughput"]["Elements"]))
    if not rows:
        continue
    # A record's own cost (its bit vector, outcomes, place in the batch), from the shape of empty
    # values, is the same whatever its fields: the net column takes it off before dividing by the
    # tokens, so that shapes of one token a value (exact) are set against the others on their tokens.
    base = next((ns for name, ns, _ in rows if name == RECORD_ONLY), None)
    rows = [(name, ns / tokens, (ns - base) / tokens if base is not None else None)
            for name, ns, tokens in rows if name != RECORD_ONLY]
    fastest = min(ns for _, ns, _ in rows)
    fastest_net = min((net for _, _, net in rows if net is not None), default=None)
    print(f"\n{group}: ns per token, and against the fastest" + (
        f"; net of a record's own cost ({base / BATCH:.0f} ns a record)" if base is not None else ""))
    for name, ns, net in sorted(rows, key=lambda r: r[2] if r[2] is not None else r[1]):
        line = f"  {name:45} {ns:7.1f} ns  {ns / fastest:5.2f}x"
        if net is not None:
            line += f"   net {net:6.1f} ns  {net / fastest_net:5.2f}x"
            if net > 2 * fastest_net:
                line += "   more than twice the fastest"
        elif ns > 2 * fastest:
            line += "   more than twice the fastest"
        print(line)
PY
