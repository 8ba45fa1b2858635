"""Run anonlink 0.15.3 on two clkhash-json files: all-pairs Dice candidates, then greedy_solve.

Usage: anonlink_link.py A.json B.json THRESHOLD OUT.csv

Prints the seconds spent finding candidates and solving (loading excluded) and writes the matched
pairs as `row_a,row_b,score`, sorted, for comparison with kith's links.csv.
"""
import base64
import json
import sys
import time

import anonlink
from bitarray import bitarray


def load(path):
    with open(path) as f:
        clks = json.load(f)["clks"]
    out = []
    for c in clks:
        b = bitarray(endian="big")
        b.frombytes(base64.b64decode(c))
        out.append(b)
    return out


a, b = load(sys.argv[1]), load(sys.argv[2])
threshold = float(sys.argv[3])
t0 = time.perf_counter()
cands = anonlink.candidate_generation.find_candidate_pairs(
    [a, b], anonlink.similarities.dice_coefficient_accelerated, threshold
)
t1 = time.perf_counter()
groups = anonlink.solving.greedy_solve(cands)
t2 = time.perf_counter()
sims, (d0, d1), (r0, r1) = cands
score = {(d0[i], r0[i], d1[i], r1[i]): sims[i] for i in range(len(sims))}
rows = []
for g in groups:
    assert len(g) == 2, g
    (da, ra), (db, rb) = sorted(g)
    rows.append((ra, rb, score[(da, ra, db, rb)]))
rows.sort()
with open(sys.argv[4], "w") as f:
    for ra, rb, s in rows:
        f.write(f"{ra},{rb},{s:.6f}\n")
print(f"candidates {len(sims)} find {t1 - t0:.3f} s solve {t2 - t1:.3f} s comparisons {len(a) * len(b)}")
