#!/usr/bin/env bash
# How good kith's own threshold is: links the encodings in DIR (every *.kith there, with
# --dedupe when there are more than two) at kith's suggested threshold and at each threshold
# given, and prints cross-source F1 and within-source precision and recall for each, so that
# the best threshold in hindsight (with the truth) can be set against kith's (without it).
#
#   benches/threshold_sweep.sh DIR [THRESHOLD...] [-- extra kith link flags]
#   e.g. benches/threshold_sweep.sh target/synth-quality-20000-1-cities-1.5-schema \
#          0.05 0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9
#
# DIR holds the .kith files and truth.csv (source,token,entity), as benches/synth_quality.sh,
# benches/link_quality.sh and benches/febrl_half.sh leave them.
set -euo pipefail
cd "$(dirname "$0")/.."
D=$1
shift
T=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do T+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
cargo build -q --release -p kith-cli
mapfile -t IN < <(ls "$D"/*.kith)
DEDUPE=()
[ ${#IN[@]} -gt 2 ] && DEDUPE=(--dedupe)
export KITH_SECRET=unused-the-linkage-party-holds-no-secret
row() {
  local label=$1 out=$2
  local e
  e=$(target/release/kith evaluate --truth "$D/truth.csv" --clusters "$out/clusters.csv")
  local cross within
  cross=$(grep '^cross-source' <<<"$e" | sed -E 's/.*F1 ([0-9.]+).*/\1/')
  within=$(grep '^within-source' <<<"$e" | sed -E 's/.*precision ([0-9.]+)  recall ([0-9.]+).*/P \1 R \2/')
  printf '%-22s cross-source F1 %s   within-source %s\n' "$label" "$cross" "$within"
}
O=$(mktemp -d)
trap 'rm -rf "$O"' EXIT
used=$(target/release/kith link "${IN[@]}" --output "$O/kith" "${DEDUPE[@]}" "$@" 2>&1 |
  sed -nE 's/.*(suggested threshold|threshold) ([0-9.]+).*/\2/p' | head -1)
row "kith's ($used)" "$O/kith"
for t in "${T[@]}"; do
  target/release/kith link "${IN[@]}" --output "$O/$t" "${DEDUPE[@]}" --threshold "$t" -q "$@"
  row "$t" "$O/$t"
done
