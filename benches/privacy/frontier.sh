#!/usr/bin/env bash
# The privacy-quality frontier: for each hardening variant of the demo schema
# (benches/privacy/variants.py), linkage quality on two kinds of synthetic data and the share of
# records `kith audit` re-identifies. Prints one table row per variant.
#
#   benches/privacy/frontier.sh [PEOPLE] [VARIANT...]     (default 20000 people, every variant)
#
# Quality: cross-source F1 and within-source precision/recall on a `kith synth` population
# (four agencies, seed 1 and seed 2), families meeting two or more criteria (F1), and cross-source
# F1 on the independent two-agency generator of benches/synth_agencies.py (--dedupe). Privacy:
# `kith audit --people 60000` on the health extract: the best attack's share of records whose
# forename, surname, full name are named, the share grouped by year of birth, and the full names
# the seedless CLK attack names.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-20000}
shift || true
W=target/privacy-frontier
mkdir -p "$W"
cargo build -q --release -p kith-cli
python3 benches/privacy/variants.py "$W"
VARIANTS=("$@")
[ ${#VARIANTS[@]} -eq 0 ] && VARIANTS=(double random random-blip4 random-blip3 random-blip2 double-blip3 random-forename-blip3
  random-names-blip3.5 random-salt random-salt-blip3 random-clk-blip4 random-clk-rehash
  random-clk-balance clk-only demo-fields-fold demo-fields-rule90 demo-fields-rehash demo-fields-balance
  demo-clk-dates)
f1() { grep -E "^$1" | head -1 | sed -E 's/.*F1 ([0-9.]+).*/\1/'; }
pr() { grep -E "^$1" | head -1 | sed -E 's/.*precision ([0-9.]+)  recall ([0-9.]+).*/\1\/\2/'; }
printf "%-20s %8s %8s %12s %8s %8s | %8s %8s %8s %8s %8s\n" variant cross1 cross2 within1 fam2 indep forename surname fullname year clkfull
for v in "${VARIANTS[@]}"; do
  s="$W/$v.json"
  q1=$(SCHEMA=$s bash benches/synth_quality.sh "$N" 1 2>&1)
  q2=$(SCHEMA=$s bash benches/synth_quality.sh "$N" 2 2>&1)
  ind=$(SCHEMA=$s bash benches/link_quality.sh "$N" 2>&1 | sed -n '/with --dedupe/,$p')
  a=$(target/release/kith audit --schema "$s" --people 60000 --json "$W/$v-audit.json" 2>/dev/null || true)
  read -r fore sur full year clk < <(python3 - "$W/$v-audit.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
best = {f["field"]: f for f in a["fields"]}
def get(name, key="best"):
    f = best.get(name)
    return f"{100 * f[key]:.1f}%" if f and f.get(key) is not None else "-"
full = a.get("full_name")
clk = a.get("clk_seedless_full_name")
print(get("given_name"), get("surname"), f"{100 * full:.1f}%" if full is not None else "-",
      get("dob", "year_grouped"), f"{100 * clk:.1f}%" if clk is not None else "-")
PY
)
  printf "%-20s %8s %8s %12s %8s %8s | %8s %8s %8s %8s %8s\n" "$v" \
    "$(echo "$q1" | f1 cross-source)" "$(echo "$q2" | f1 cross-source)" "$(echo "$q1" | pr within-source)" \
    "$(echo "$q1" | f1 '>=2 criteria')" "$(echo "$ind" | f1 cross-source)" "$fore" "$sur" "$full" "$year" "$clk"
done
