#!/usr/bin/env python3
"""Families by household kind, and neighbours kept apart, for a `benches/synth_quality.sh` run.

    python3 benches/families_by_kind.py target/synth-quality-200000-1

Reads truth.csv, households.csv and families/members.csv. Prints, per kind of household of two or
more records, the share whose records all land in one family; and, over pairs of households that
share a postcode (neighbours on a street, or flats of one building), how many were put in one
family (each household taken at the family most of its records are in).
"""
import collections
import csv
import sys

w = sys.argv[1]
truth = {(r["source"], r["token"]): r["household"] for r in csv.DictReader(open(f"{w}/truth.csv"))}
hh = {r["household"]: r for r in csv.DictReader(open(f"{w}/households.csv"))}
fam_of = {(r["source"], r["token"]): r["family_id"] for r in csv.DictReader(open(f"{w}/families/members.csv"))}
by_h = collections.defaultdict(list)
for k, h in truth.items():
    by_h[h].append(fam_of[k])
stat = collections.defaultdict(lambda: [0, 0])
for h, fs in by_h.items():
    if len(fs) > 1:
        s = stat[hh[h]["kind"]]
        s[0] += 1
        s[1] += len(set(fs)) == 1
for kind, (n, whole) in sorted(stat.items()):
    print(f"{kind:18} {n:7} households of 2+ records, kept whole {whole / n:.4f}")
main_f = {h: collections.Counter(fs).most_common(1)[0][0] for h, fs in by_h.items()}
by_pc = collections.defaultdict(list)
for h, r in hh.items():
    if h in main_f:
        by_pc[r["postcode"]].append(h)
counts = {"houses": [0, 0], "flats": [0, 0]}
for hs in by_pc.values():
    for i, a in enumerate(hs):
        for b in hs[i + 1:]:
            flats = hh[a]["address"].startswith("Flat") and hh[b]["address"].startswith("Flat")
            c = counts["flats" if flats else "houses"]
            c[0] += 1
            c[1] += main_f[a] == main_f[b]
for what, (n, merged) in counts.items():
    print(f"neighbouring {what}: {n} pairs of households, {merged} put in one family ({merged / max(n, 1):.5f})")
