#!/usr/bin/env python3
"""Why true pairs were missed (and wrong pairs made) on a `kith synth` population: each missed
cross-source pair of records of one person is compared on the raw extracts, and counted by what
differs between the two rows (date of birth: year one out, day and month swapped, a day or month
one out, missing; surname; forename; postcode; sex missing). A pair can show several causes.

    python3 benches/miss_causes.py DIR [OUT]   (DIR from benches/synth_quality.sh; OUT, the link
                                                output folder in DIR, default "out")
    WITHIN=1 python3 benches/miss_causes.py DIR [OUT]   (pairs within one source: duplicates)

Reads DIR/<source>.csv, DIR/<source>-map.csv, DIR/truth.csv and DIR/OUT/clusters.csv; when
DIR/OUT/review.csv and links.csv are there (run `kith link` with a low --review-threshold), each
missed pair is also counted by the score it got, or as never a candidate. With SHOW_TWINS=1 each
pair of twins put in one entity is printed, raw rows side by side; with SHOW_LEFT=1 each missed pair
that scored 0.5 or more (the solver left it out); with SHOW_SOURCE=police (and WITHIN=1) each missed
pair of that source's records, with its score ("-" for none); with SHOW_WRONG=police each pair of that
source's records of two people put in one entity (one household, or strangers).
"""
import os
import collections
import csv
import itertools
import sys

from synth_rows import norm, read_rows, read_truth

w = sys.argv[1]
WITHIN = os.environ.get("WITHIN") == "1"
out = sys.argv[2] if len(sys.argv) > 2 else "out"
rows = read_rows(w)
entity, household = read_truth(w)
twin = set()
with open(f"{w}/truth-local.csv") as f:
    for r in csv.DictReader(f):
        if r.get("multiple_birth") == "1":
            twin.add(r["person"])
cluster = {}
with open(f"{w}/{out}/clusters.csv") as f:
    for r in csv.DictReader(f):
        cluster[(r["source"], r["token"])] = r["entity_id"]


def causes(a, b):
    fa, sa, da, xa, pa = a
    fb, sb, db, xb, pb = b
    c = []
    if da is None or db is None:
        c.append("dob missing")
    elif da != db:
        (ya, ma, dda), (yb, mb, ddb) = da, db
        if (ma, dda) == (mb, ddb) and abs(ya - yb) == 1:
            c.append("dob year one out")
        elif ya == yb and (ma, dda) == (ddb, mb):
            c.append("dob day/month swapped")
        elif ya == yb and ((ma == mb and abs(dda - ddb) == 1) or (dda == ddb and abs(ma - mb) == 1)):
            c.append("dob day or month one out")
        else:
            c.append("dob other")
    if norm(sa) != norm(sb):
        if not sa or not sb:
            c.append("surname missing")
        elif norm(sa) == norm(fb) or norm(sb) == norm(fa):
            c.append("names swapped")
        else:
            c.append("surname differs")
    fa_, fb_ = norm(fa.split(" ")[0]) if fa else "", norm(fb.split(" ")[0]) if fb else ""
    if norm(fa) != norm(fb):
        if not fa or not fb:
            c.append("forename missing")
        elif fa_ == fb_:
            c.append("middle name")
        elif "names swapped" not in c:
            c.append("forename differs")
    if not pa or not pb:
        c.append("postcode missing")
    elif norm(pa) != norm(pb):
        c.append("postcode differs")
    if xa is None or xb is None or not xa or not xb:
        c.append("sex missing")
    return c or ["no difference"]


score = {}
for name in ("review.csv", "links.csv"):
    path = f"{w}/{out}/{name}"
    if os.path.exists(path):
        with open(path) as f:
            for r in csv.DictReader(f):
                a, b = (r["source_a"], r["token_a"]), (r["source_b"], r["token_b"])
                score[tuple(sorted((a, b)))] = float(r["score"])
bands = collections.Counter()

by_person = collections.defaultdict(list)
for k, e in entity.items():
    if k in rows:
        by_person[e].append(k)
missed = collections.Counter()
missed_pairs = 0
pairs = 0
single = collections.Counter()
by_sources = collections.Counter()
for e, recs in by_person.items():
    for a, b in itertools.combinations(sorted(recs), 2):
        if (a[0] == b[0]) != WITHIN:
            continue
        pairs += 1
        if cluster.get(a) is not None and cluster.get(a) == cluster.get(b):
            continue
        missed_pairs += 1
        if score:
            sc = score.get((a, b))
            bands["never scored (not a candidate, or under the review threshold)" if sc is None
                  else "0.5 or more (a link the solver left out)" if sc >= 0.5
                  else f"{min(int(sc * 10), 4) / 10:.1f}-{min(int(sc * 10), 4) / 10 + 0.1:.1f}"] += 1
        by_sources["-".join(sorted((a[0], b[0])))] += 1
        c = causes(rows[a], rows[b])
        if os.environ.get("SHOW_LEFT") and score.get((a, b), 0) >= 0.5:
            print("left out:", f"{score[(a, b)]:.3f}", a[0], rows[a], "|", b[0], rows[b])
        if os.environ.get("SHOW_SOURCE") == a[0] == b[0]:
            sc = score.get((a, b))
            print("missed:", "-" if sc is None else f"{sc:.3f}", rows[a], "|", rows[b])
        for x in c:
            missed[x] += 1
        single[" + ".join(sorted(c))] += 1
print(f"{missed_pairs} of {pairs} {'within-source' if WITHIN else 'cross-source'} pairs missed")
print("by sources:", ", ".join(f"{k} {v}" for k, v in by_sources.most_common()))
print("each cause (a pair may show several):")
for k, v in missed.most_common():
    print(f"  {v:6d} {100 * v / max(missed_pairs, 1):5.1f}%  {k}")
if bands:
    print("by score:")
    for k, v in sorted(bands.items()):
        print(f"  {v:6d}  {k}")
print("commonest combinations:")
for k, v in single.most_common(15):
    print(f"  {v:6d}  {k}")

# Wrong merges: pairs of records of two people put in one entity.
members = collections.defaultdict(list)
for k, c in cluster.items():
    if k in entity:
        members[c].append(k)
wrong = collections.Counter()
for recs in members.values():
    for a, b in itertools.combinations(sorted(recs), 2):
        ea, eb = entity[a], entity[b]
        if ea == eb:
            continue
        kind = "cross-source" if a[0] != b[0] else "within-source"
        if ea in twin and eb in twin and household[ea] == household[eb]:
            wrong[f"{kind}: twins (or triplets)"] += 1
            if os.environ.get("SHOW_TWINS"):
                print("twins merged:", a[0], rows[a], "|", b[0], rows[b])
        elif household[ea] == household[eb]:
            wrong[f"{kind}: one household"] += 1
            if os.environ.get("SHOW_WRONG") == a[0] == b[0]:
                print("one household:", rows[a], "|", rows[b])
        else:
            wrong[f"{kind}: other households"] += 1
            if os.environ.get("SHOW_WRONG") == a[0] == b[0]:
                print("strangers:", rows[a], "|", rows[b])
print("wrong merges (record pairs of two people in one entity):",
      ", ".join(f"{k} {v}" for k, v in sorted(wrong.items())) or "none")
