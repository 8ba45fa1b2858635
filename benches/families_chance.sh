#!/usr/bin/env bash
# The trade rule 4 of `kith families` makes (docs/design.md, Families): for each --area-chance,
# the families meeting two or more criteria (precision, recall) against the neighbouring houses
# and flats of one building put in one family, on a `benches/synth_quality.sh` population.
#
#   benches/families_chance.sh DIR [CHANCE...]    (default 0.2 0.05 0.01 0.002, then dwellings only)
#   benches/families_chance.sh target/synth-quality-200000-1-england-1-schema-addresses-council
#   FLAGS="--by-postcode flagged" benches/families_chance.sh DIR    (extra `kith families` flags)
set -euo pipefail
cd "$(dirname "$0")/.."
W=$1
shift
chances=("${@:-0.2 0.05 0.01 0.002}")
read -r -a chances <<<"${chances[*]}"
cargo build -q --release -p kith-cli
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for c in "${chances[@]}" dwellings; do
  read -r -a extra <<<"${FLAGS:-}"
  opt=(--area-chance "$c" "${extra[@]}")
  [ "$c" = dwellings ] && opt=(--dwellings-only)
  mkdir -p "$out/$c"
  cp "$W/truth.csv" "$W/households.csv" "$out/$c/"
  target/release/kith families -q --links "$W/out" "$W"/{council,health,police,school}.kith \
    "${opt[@]}" --output "$out/$c/families"
  echo "== ${opt[*]}"
  target/release/kith evaluate --truth "$W/truth.csv" --families "$out/$c/families" --min-criteria 2 \
    | grep '^>=2'
  python3 benches/families_by_kind.py "$out/$c" | grep '^neighbouring'
done
