#!/usr/bin/env python3
"""Block sizes of two encodings files, per blocking key, and what they become at national scale.

    python3 benches/block_sizes.py council.kith health.kith [TARGET_RECORDS_A_SIDE]

Prints, per blocking key (and per exact identifier): distinct keys, the largest key on each side,
the pairs it gives (the sum over keys of records a side times records b side), and the pairs at
TARGET records a side (default 50,000,000) under two assumptions: keys whose values do not grow
with the population (a date, a district and year) keep their number, so each key's records grow
with the population and its pairs with its square; keys that do grow (names) keep their size, so
pairs grow with the population. The truth lies between; the plan in docs/scale.md takes the
first, the worse. Needs the kith Python package.
"""
import collections
import sys

from kith import linkage

a, b = sys.argv[1], sys.argv[2]
target = int(sys.argv[3]) if len(sys.argv) > 3 else 50_000_000
ta, ha = linkage.read_encodings(a)
tb, hb = linkage.read_encodings(b)
n = (ta.num_rows + tb.num_rows) / 2
scale = target / n
cols = [c for c in ta.column_names if c.startswith(("block:", "exact:")) and c in tb.column_names]
print(f"{ta.num_rows} and {tb.num_rows} records; scaled to {target:,} a side (x{scale:,.0f})")
print(f"{'key':26} {'distinct':>9} {'max a':>7} {'max b':>7} {'pairs':>12} {'fixed keys':>16} {'growing keys':>14}")
total = [0, 0, 0]
for c in cols:
    ca = collections.Counter(v for v in ta.column(c).to_pylist() if v)
    cb = collections.Counter(v for v in tb.column(c).to_pylist() if v)
    pairs = sum(ca[k] * cb[k] for k in ca if k in cb)
    fixed, growing = pairs * scale * scale, pairs * scale
    total[0] += pairs
    total[1] += fixed
    total[2] += growing
    print(f"{c:26} {len(set(ca) | set(cb)):>9} {max(ca.values(), default=0):>7} {max(cb.values(), default=0):>7} "
          f"{pairs:>12,} {fixed:>16,.3g} {growing:>14,.3g}")
print(f"{'all keys':26} {'':>9} {'':>7} {'':>7} {total[0]:>12,} {total[1]:>16,.3g} {total[2]:>14,.3g}")
