#!/usr/bin/env bash
# Encode and link a multi-gigabyte extract with flat memory (not a CI test).
#
#   benches/big_link.sh [ROWS] [CHUNK] [LSH_BITS]   (default 25000000 rows, chunks of 1000000,
#                                                    LSH keys of 24 bits)
#
# Generates ROWS diverse records (names built from syllables, as in a national extract; about 2.4
# GB of CSV for 25 M rows), takes its first million rows as the second holder's extract (the same
# people, so a million links), encodes both with benches/bench-schema.json, and links the big file
# chunk by chunk (`kith link --chunk`) against the small one with LSH blocking at CLK Dice 0.9
# (32 tables of 24 bits: the bench schema's dense CLKs make 16-bit keys collide too often for 25 M
# x 1 M; a pair at Dice 0.9 still shares a 24-bit key in one of 32 tables more than 99% of the time).
# Prints wall time and peak memory of each step. Needs about 10 GB of disk under target/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-25000000}
CHUNK=${2:-1000000}
LSH_BITS=${3:-24}
W=target/big-link-$ROWS
mkdir -p "$W"
cargo build -q --release -p kith-cli
export KITH_SECRET=benchmark-secret-not-for-real-use
if [ ! -s "$W/big.csv" ]; then
  /usr/bin/time -f "generate: %e s, peak %M KB" python3 benches/gen_extract.py "$ROWS" "$W/big.csv" 11 --diverse
fi
head -n 1000001 "$W/big.csv" > "$W/small.csv"
ls -l "$W/big.csv" "$W/small.csv"
/usr/bin/time -f "encode big: %e s, peak %M KB" target/release/kith encode -q --schema benches/bench-schema.json \
  --input "$W/big.csv" --party big --output "$W/big.kith" --keep-map "$W/big-map.csv"
/usr/bin/time -f "encode small: %e s, peak %M KB" target/release/kith encode -q --schema benches/bench-schema.json \
  --input "$W/small.csv" --party small --output "$W/small.kith" --keep-map "$W/small-map.csv"
ls -l "$W/big.kith" "$W/small.kith"
/usr/bin/time -f "link --chunk $CHUNK: %e s, peak %M KB" target/release/kith link "$W/big.kith" "$W/small.kith" \
  --scoring clk --threshold 0.9 --blocking lsh --lsh-bits "$LSH_BITS" --chunk "$CHUNK" --output "$W/out" 2>&1 | grep -v "^kith: chunk "
wc -l "$W/out/links.csv" "$W/out/clusters.csv"
