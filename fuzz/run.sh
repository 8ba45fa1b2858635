#!/usr/bin/env bash
# Fuzz kith's input parsers for a bounded time each, with cargo-fuzz (libFuzzer + AddressSanitizer):
#
#   fuzz/run.sh [SECONDS]          (default 60 per target)
#
# Targets (crates/kith/src/fuzzing.rs): `schema` (linkage schemas and their kith sections),
# `encodings` (encodings files), `extract` (rows of an extract through normalising, formatting,
# tokenising and encoding with the demo schema). Each starts from a corpus seeded with the
# repository's fixtures. A crash is copied into fuzz/regressions/<target>/, where
# `cargo test -p kith --test fuzz_regressions` replays it for ever after; commit it with the fix.
#
# Needs `cargo install cargo-fuzz`. cargo-fuzz passes -Z flags (sanitizers); on a stable toolchain
# RUSTC_BOOTSTRAP=1 allows them, which is all this script uses it for.
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-60}
command -v cargo-fuzz >/dev/null || { echo "fuzz/run.sh: install cargo-fuzz first (cargo install cargo-fuzz)" >&2; exit 1; }
export RUSTC_BOOTSTRAP=1
mkdir -p corpus/schema corpus/encodings corpus/extract
cp ../fixtures/demo/schema.json ../fixtures/bench-schema.json corpus/schema/ 2>/dev/null || cp ../fixtures/demo/schema.json corpus/schema/
find ../crates/kith/tests/vectors -name '*.json' -size -64k | head -50 | while read -r f; do cp "$f" corpus/schema/; done
cp ../fixtures/golden/council.kith corpus/encodings/
tail -n +2 ../fixtures/demo/council.csv > corpus/extract/council.csv
status=0
for t in schema encodings extract; do
  echo "== $t, $SECS s"
  if ! cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$SECS" -rss_limit_mb=4096; then
    status=1
  fi
  for crash in artifacts/"$t"/crash-* artifacts/"$t"/oom-* artifacts/"$t"/timeout-*; do
    [ -e "$crash" ] || continue
    cp "$crash" "regressions/$t/"
    echo "fuzz/run.sh: kept $crash as regressions/$t/$(basename "$crash")"
  done
done
exit $status
