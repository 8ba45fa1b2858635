#!/usr/bin/env python3
"""The synthetic truth in token terms: each holder joins its own keep-map (token,local_id) to its
local truth (source,person_id,entity), as a holder with a labelled sample would.

    python3 benches/token_truth.py DIR     (reads DIR/truth-local.csv, DIR/*-map.csv; writes DIR/truth.csv)
"""
import csv
import sys

w = sys.argv[1]
tok = {}
for s in ("council", "health"):
    with open(f"{w}/{s}-map.csv") as f:
        for row in csv.DictReader(f):
            tok[(s, row["local_id"])] = row["token"]
with open(f"{w}/truth-local.csv") as f, open(f"{w}/truth.csv", "w", newline="") as out:
    o = csv.writer(out)
    o.writerow(["source", "token", "entity"])
    for row in csv.DictReader(f):
        o.writerow([row["source"], tok[(row["source"], row["person_id"])], row["entity"]])
