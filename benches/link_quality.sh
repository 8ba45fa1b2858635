#!/usr/bin/env bash
# Linkage quality on synthetic two-agency data (benches/synth_agencies.py): names, date of birth,
# sex and postcode only. Encodes both extracts with the demo schema, links them with the threshold
# kith suggests, one record per holder per person (1:1), and once more with --dedupe (duplicates
# within a holder found too, so a council's two records of one person can both link), and
# evaluates both against the ground truth.
#
#   benches/link_quality.sh [PEOPLE] [extra kith link flags...]     (default 20000)
#   SCHEMA=other.json benches/link_quality.sh                        (default the demo schema)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
shift || true
SCHEMA=${SCHEMA:-fixtures/demo/schema.json}
W=target/link-quality-$N-$(basename "$SCHEMA" .json)
cargo build -q --release -p kith-cli
python3 benches/synth_agencies.py "$N" "$W"
export KITH_SECRET=benchmark-secret-not-for-real-use
for s in council health; do
  target/release/kith encode -q --schema "$SCHEMA" --input "$W/$s.csv" \
    --id-column person_id --output "$W/$s.kith" --keep-map "$W/$s-map.csv"
done
python3 benches/token_truth.py "$W"
echo "== $(wc -l < "$W/council.csv") council rows, $(wc -l < "$W/health.csv") health rows"
/usr/bin/time -f "link: %e s, peak %M KB" target/release/kith link "$W/council.kith" "$W/health.kith" \
  --output "$W/out" --check-blocking 2000 "$@" 2>&1 | grep -v '^  [0-9b ]'
target/release/kith evaluate --truth "$W/truth.csv" --links "$W/out/links.csv"
echo "== with --dedupe"
target/release/kith link "$W/council.kith" "$W/health.kith" --output "$W/dedupe" --dedupe -q "$@"
target/release/kith evaluate --truth "$W/truth.csv" --clusters "$W/dedupe/clusters.csv"
