#!/usr/bin/env python3
"""The truth of a `kith synth` population in token terms: each holder joins its own keep-map
(token,local_id) to the truth (source,local_id,person,household,criteria), as a holder with a
labelled sample would. truth.csv has source,token,entity (the person),household,criteria.

    python3 benches/synth_truth.py DIR   (reads DIR/truth-local.csv and DIR/<source>-map.csv;
                                          writes DIR/truth.csv and DIR/truth-households.csv)
"""
import csv
import os
import sys

w = sys.argv[1]
tok = {}
for s in ("council", "health", "police", "school"):
    p = f"{w}/{s}-map.csv"
    if os.path.exists(p):
        with open(p) as f:
            for row in csv.DictReader(f):
                tok[(s, row["local_id"])] = row["token"]
with open(f"{w}/truth-local.csv") as f, open(f"{w}/truth.csv", "w", newline="") as out, \
        open(f"{w}/truth-households.csv", "w", newline="") as hh:
    o, h = csv.writer(out), csv.writer(hh)
    o.writerow(["source", "token", "entity", "household", "criteria"])
    h.writerow(["source", "token", "entity"])
    for row in csv.DictReader(f):
        t = tok.get((row["source"], row["local_id"]))
        if t is not None:
            o.writerow([row["source"], t, row["person"], row["household"], row.get("criteria", "")])
            h.writerow([row["source"], t, row["household"]])
