#!/usr/bin/env python3
"""How much of one source's duplicates any pair-by-pair decision could find on a `kith synth`
population: an upper bound on within-source recall at a given precision, from the raw rows and
the truth, to set beside what `kith link --dedupe` finds.

Each pair of one source's records that agrees exactly on two of forename, surname, date of birth
and postcode (or on the forename and two parts of the date) is put in a cell by how its raw fields
compare: forename equal (a common or a rare one), first names equal, similar, different or
missing; surname equal (common or rare), similar, different or missing; date of birth equal, day
and month swapped, one part different, different or missing; postcode equal, one district,
different or missing; sex equal, different or missing. The "oracle" then links whole cells in
order of their true share of matches, which it knows from the truth, while precision stays at or
above the level asked for. No rule that sees a pair's fields alone (and no more finely than these
cells) can do better than it: a cell's pairs look alike to it. What kith finds beyond this comes
from the other sources' records of the same people (the solver and the partner view).

    python3 benches/within_bound.py DIR [SOURCE ...]   (DIR from benches/synth_quality.sh;
                                                        default every source)
    SHOW=police python3 benches/within_bound.py DIR   (that source's cells, in the oracle's order)
"""
import collections
import itertools
import os
import sys

from synth_rows import SOURCES, norm, read_rows, read_truth

PRECISIONS = (0.95, 0.98, 0.99)
# A value held by fewer records of the source than this is rare.
RARE = 20
# Blocks larger than this (a common forename and a year) are not paired: too costly, and their
# pairs agree on too little to be in the oracle's first cells.
BLOCK = 300

w = sys.argv[1]
sources = sys.argv[2:] or SOURCES
rows = read_rows(w, sources)
entity, _ = read_truth(w)
SEX = {"1": "M", "2": "F", "Male": "M", "Female": "F", "M": "M", "F": "F"}


def bigrams(s):
    return {s[i:i + 2] for i in range(len(s) - 1)}


def dice(a, b):
    x, y = bigrams(a), bigrams(b)
    return 2 * len(x & y) / (len(x) + len(y)) if x or y else 0.0


def cell(a, b, forenames, surnames):
    (fa1, fa, sa, da, xa, pa, _), (fb1, fb, sb, db, xb, pb, _) = a, b
    rare = lambda n: "rare" if n < RARE else "common"  # noqa: E731
    if not fa or not fb:
        f = "missing"
    elif fa == fb:
        f = "equal " + rare(forenames[fa1])
    elif fa1 == fb1:
        f = "first equal " + rare(forenames[fa1])
    elif fa1 in fb.split() or fb1 in fa.split() or dice(fa1, fb1) >= 0.6:
        f = "similar"
    else:
        f = "different"
    if not sa or not sb:
        s = "missing"
    elif sa == sb:
        s = "equal " + rare(surnames[sa])
    else:
        s = "similar" if dice(sa, sb) >= 0.6 else "different"
    if da is None or db is None:
        d = "missing"
    elif da == db:
        d = "equal"
    elif da == (db[0], db[2], db[1]):
        d = "swapped"
    else:
        d = "one part" if sum(x != y for x, y in zip(da, db)) == 1 else "different"
    if not pa or not pb:
        p = "missing"
    elif pa == pb:
        p = "equal"
    else:
        p = "district" if pa[:-3] == pb[:-3] else "different"
    x = "missing" if not xa or not xb else ("equal" if xa == xb else "different")
    return f, s, d, p, x


for src in sources:
    recs = []
    for key, (fore, sur, dob, sex, pc) in rows.items():
        if key[0] != src:
            continue
        names = [norm(n) for n in fore.split()]
        recs.append((names[0] if names else "", " ".join(names), norm(sur), dob,
                     SEX.get(sex or "", ""), norm(pc), entity[key]))
    forenames = collections.Counter(r[0] for r in recs)
    surnames = collections.Counter(r[2] for r in recs)
    blocks = collections.defaultdict(list)
    for n, (f1, _, s, d, _, p, _) in enumerate(recs):
        fields = {"f": f1, "s": s, "d": d, "p": p}
        for a, b in itertools.combinations("fsdp", 2):
            if fields[a] and fields[b]:
                blocks[(a, b, fields[a], fields[b])].append(n)
        if d and f1:
            blocks[("f-month-day", f1, d[1], d[2])].append(n)
            blocks[("f-year", f1, d[0])].append(n)
    pairs = set()
    for members in blocks.values():
        if len(members) <= BLOCK:
            pairs.update(itertools.combinations(members, 2))
    cells = collections.defaultdict(lambda: [0, 0])
    for a, b in pairs:
        cells[cell(recs[a], recs[b], forenames, surnames)][recs[a][6] != recs[b][6]] += 1
    people = collections.Counter(r[6] for r in recs)
    true_pairs = sum(n * (n - 1) // 2 for n in people.values())
    ranked = sorted(cells.items(), key=lambda kv: (-kv[1][0] / sum(kv[1]), kv[0]))
    best, tp, fp = {}, 0, 0
    for k, (m, u) in ranked:
        tp, fp = tp + m, fp + u
        for p in PRECISIONS:
            if tp >= (tp + fp) * p:
                best[p] = tp
    found = sum(m for m, _ in cells.values())
    print(f"{src}: {len(recs)} records, {true_pairs} pairs of one person's records, "
          f"{found} of them among the {len(pairs)} pairs compared")
    for p in PRECISIONS:
        print(f"  recall at precision >= {p}: {best.get(p, 0) / max(true_pairs, 1):.4f} "
              f"({best.get(p, 0)} pairs)")
    if os.environ.get("SHOW") == src:
        tp = fp = 0
        for k, (m, u) in ranked:
            if m == 0:
                break
            tp, fp = tp + m, fp + u
            print(f"    {' / '.join(k)}: {m} matches, {u} not; "
                  f"recall {tp / true_pairs:.4f}, precision {tp / (tp + fp):.4f}")
