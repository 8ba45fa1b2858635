#!/usr/bin/env python3
"""The truth in token terms: each holder joins its own keep-map (token,local_id) to its local truth
(source, local ID, entity), as a holder with a labelled sample would. Rows a holder's encoding
refused (and so has no token for) are left out.

    python3 benches/token_truth.py DIR [PREFIX]

Reads DIR/truth-local.csv (columns source, local_id or person_id, entity) and
DIR/PREFIX<source>-map.csv for each source in it; writes DIR/PREFIXtruth.csv
(source,token,entity).
"""
import csv
import os
import sys

w = sys.argv[1]
prefix = sys.argv[2] if len(sys.argv) > 2 else ""
with open(f"{w}/truth-local.csv") as f:
    rows = list(csv.DictReader(f))
tok = {}
for s in sorted({r["source"] for r in rows}):
    path = f"{w}/{prefix}{s}-map.csv"
    if os.path.exists(path):
        with open(path) as f:
            for row in csv.DictReader(f):
                tok[(s, row["local_id"])] = row["token"]
with open(f"{w}/{prefix}truth.csv", "w", newline="") as out:
    o = csv.writer(out)
    o.writerow(["source", "token", "entity"])
    for row in rows:
        t = tok.get((row["source"], row.get("local_id", row.get("person_id"))))
        if t is not None:
            o.writerow([row["source"], t, row["entity"]])
