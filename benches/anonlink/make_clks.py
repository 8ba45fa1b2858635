"""Write two clkhash-json files of random 1024-bit CLKs for the kith-vs-anonlink comparison.

Usage: make_clks.py N OUT_A OUT_B [SEED]

Every third record of B is a noisy copy of a record of A (about 8% of its bits flipped), so that
there are true matches above a high threshold; the rest are independent random CLKs. Deterministic
for a given seed.
"""
import base64
import json
import random
import sys

n = int(sys.argv[1])
out_a, out_b = sys.argv[2], sys.argv[3]
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 7)


def clk():
    # About 40% of bits set, like a real CLK.
    return bytes(rng.getrandbits(8) & rng.getrandbits(8) | (rng.getrandbits(8) & rng.getrandbits(8) & rng.getrandbits(8)) for _ in range(128))


a = [clk() for _ in range(n)]
b = []
for i in range(n):
    if i % 3 == 0:
        src = bytearray(a[rng.randrange(n)])
        for _ in range(80):
            bit = rng.randrange(1024)
            src[bit // 8] ^= 0x80 >> (bit % 8)
        b.append(bytes(src))
    else:
        b.append(clk())
for path, clks in ((out_a, a), (out_b, b)):
    with open(path, "w") as f:
        json.dump({"clks": [base64.b64encode(c).decode() for c in clks]}, f)
