#!/usr/bin/env bash
# Linkage quality on a `kith synth` population: four agencies (council, health, police, school),
# each encoding with the demo schema and its own column mapping, linked together with duplicates
# within each agency looked for, and evaluated against the truth. Names, date of birth, sex and
# postcode only: the NHS number's column is left unmapped, as the linkage issue's quality target
# asks. Then families (dwelling and register tokens) and the identification run's families
# meeting two or more criteria are scored against the synthetic households.
#
#   benches/synth_quality.sh [PEOPLE] [SEED]     (default 20000 and 1)
#   SCHEMA=other.json benches/synth_quality.sh    (default fixtures/demo/schema.json)
#   NAMES=cities ERRORS=1.5 benches/synth_quality.sh 200000
#                        (another name list, error rates x1.5: data kith was not tuned on)
#   ADDRESSES=council benches/synth_quality.sh 20000
#                        (only the council's extract has address lines)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
SEED=${2:-1}
SCHEMA=${SCHEMA:-fixtures/demo/schema.json}
NAMES=${NAMES:-england}
ERRORS=${ERRORS:-1}
ADDRESSES=${ADDRESSES:-agencies}
W=target/synth-quality-$N-$SEED-$NAMES-$ERRORS-$(basename "$SCHEMA" .json)
[ "$ADDRESSES" = agencies ] || W=$W-addresses-$ADDRESSES
cargo build -q --release -p kith-cli
rm -rf "$W"
target/release/kith synth --people "$N" --seed "$SEED" --names "$NAMES" --errors "$ERRORS" \
  --addresses "$ADDRESSES" --output "$W"
export KITH_SECRET=benchmark-secret-not-for-real-use
for s in council health police school; do
  # Without NHS numbers: the mapping's nhs_number becomes null.
  sed -E 's/"nhs_number": "[^"]*"/"nhs_number": null/' "$W/$s-mapping.json" > "$W/$s-mapping-no-nhs.json"
  enc=()
  [ "$s" = police ] && enc=(--encoding windows-1252)
  target/release/kith encode -q --schema "$SCHEMA" --mapping "$W/$s-mapping-no-nhs.json" \
    "${enc[@]}" --input "$W/$s.csv" --output "$W/$s.kith" --keep-map "$W/$s-map.csv"
done
python3 benches/synth_truth.py "$W"
/usr/bin/time -f "link: %e s, peak %M KB" target/release/kith link "$W"/{council,health,police,school}.kith \
  --output "$W/out" --dedupe 2>&1 | grep -v '^  [0-9b ]'
target/release/kith evaluate --truth "$W/truth.csv" --clusters "$W/out/clusters.csv"
# Families (households with their criteria), and an identification run's families (>= 2 criteria).
/usr/bin/time -f "families: %e s, peak %M KB" target/release/kith families --links "$W/out" \
  "$W"/{council,health,police,school}.kith --output "$W/families"
target/release/kith evaluate --truth "$W/truth.csv" --families "$W/families" --min-criteria 2
