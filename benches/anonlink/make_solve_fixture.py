"""Make fixtures/anonlink/: three small clkhash-json datasets with near and exact ties, and the
groups anonlink 0.15.3's greedy_solve makes of them (two-party and three-party), for kith's tests.

Run with the anonlink venv: target/anonlink-venv/bin/python benches/anonlink/make_solve_fixture.py
"""
import base64
import json
import random

import anonlink
from bitarray import bitarray

rng = random.Random(11)
OUT = "fixtures/anonlink"
T = 0.8


def noisy(c, flips):
    c = bytearray(c)
    for _ in range(flips):
        bit = rng.randrange(256)
        c[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(c)


# 256-bit CLKs, few bits set, so that many pairs land near the threshold and ties are common.
bases = [bytes(rng.getrandbits(8) & rng.getrandbits(8) for _ in range(32)) for _ in range(60)]
sets = []
for d in range(3):
    recs = []
    for i, b in enumerate(bases):
        if rng.random() < 0.8:
            recs.append(noisy(b, rng.choice([0, 0, 2, 6, 12])))
        if rng.random() < 0.15:
            recs.append(b)  # exact copies give tied scores
    rng.shuffle(recs)
    sets.append(recs)
for d, recs in enumerate(sets):
    with open(f"{OUT}/{'abc'[d]}.json", "w") as f:
        json.dump({"clks": [base64.b64encode(c).decode() for c in recs]}, f)


def bits(recs):
    out = []
    for c in recs:
        b = bitarray(endian="big")
        b.frombytes(c)
        out.append(b)
    return out


for name, ds in (("ab", sets[:2]), ("abc", sets)):
    cands = anonlink.candidate_generation.find_candidate_pairs(
        [bits(r) for r in ds], anonlink.similarities.dice_coefficient_accelerated, T)
    groups = anonlink.solving.greedy_solve(cands)
    with open(f"{OUT}/groups-{name}.csv", "w") as f:
        f.write("group\n")
        for g in sorted(sorted(g) for g in groups):
            f.write(" ".join(f"{'abc'[d]}:{r}" for d, r in g) + "\n")
    print(name, len(cands[0]), "candidates", len(groups), "groups")
