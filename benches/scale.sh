#!/usr/bin/env bash
# National-scale run of the linkage party: two synthetic extracts of about a million records each
# (benches/synth_agencies.py), encoded with the demo schema, linked with kith's defaults (field
# scoring, keyed blocking keys), timed with peak memory, evaluated against the synthetic truth;
# then a second run measures pairs completeness against all-pairs scoring on 2,000 records.
#
#   benches/scale.sh [PEOPLE]          (default 1250000: about 1.03 M council and 1.0 M health rows)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1250000}
W=target/scale-$N
cargo build -q --release -p kith-cli
[ -f "$W/health.csv" ] || python3 benches/synth_agencies.py "$N" "$W"
export KITH_SECRET=benchmark-secret-not-for-real-use
for s in council health; do
  /usr/bin/time -f "encode $s: %e s, peak %M KB" target/release/kith encode -q \
    --schema fixtures/demo/schema.json --input "$W/$s.csv" --id-column person_id \
    --output "$W/$s.kith" --keep-map "$W/$s-map.csv"
done
python3 benches/token_truth.py "$W"
echo "== $(($(wc -l < "$W/council.csv") - 1)) council records x $(($(wc -l < "$W/health.csv") - 1)) health records"
/usr/bin/time -f "link: %e s, peak %M KB" target/release/kith link "$W/council.kith" "$W/health.kith" \
  --output "$W/out" 2>&1 | grep -v '^  '
target/release/kith evaluate --truth "$W/truth.csv" --links "$W/out/links.csv"
echo "== pairs completeness (a separate run: the check compares 2,000 records with every record)"
target/release/kith link "$W/council.kith" "$W/health.kith" --output "$W/check" --check-blocking 2000 2>&1 \
  | grep 'blocking check'
