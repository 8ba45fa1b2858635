#!/usr/bin/env python3
"""Calibration of kith's match probabilities against a synthetic truth: of the pairs kith scores
in each band, the share that are true matches (a calibrated 0.3 band holds about 30% matches), for
all pairs and for pairs across sources alone.

    python3 benches/calibration.py TRUTH.csv RUN_DIR

RUN_DIR is a `kith link ... --review-threshold 0.01` output: links.csv gives the pairs linked,
review.csv every other candidate from 0.01 up (those below the threshold, and those at or above it
that the solver did not link), so each band holds every pair kith scored in it. TRUTH.csv has source,token,entity (benches/synth_truth.py, token_truth.py).
"""
import csv
import sys

truth_path, run = sys.argv[1], sys.argv[2]
entity = {}
with open(truth_path, newline="") as f:
    for row in csv.DictReader(f):
        entity[(row["source"], row["token"])] = row["entity"]

BANDS = [0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 0.99, 1.0000001]
counts = [[0, 0, 0.0, 0, 0] for _ in BANDS[:-1]]  # pairs, matches, sum of scores, cross pairs, cross matches
for name in ("review.csv", "links.csv"):
    try:
        f = open(f"{run}/{name}", newline="")
    except FileNotFoundError:
        continue
    with f:
        for row in csv.DictReader(f):
            score = float(row["score"])
            a = entity.get((row["source_a"], row["token_a"]))
            b = entity.get((row["source_b"], row["token_b"]))
            for i in range(len(BANDS) - 1):
                if BANDS[i] <= score < BANDS[i + 1]:
                    match = int(a is not None and a == b)
                    counts[i][0] += 1
                    counts[i][1] += match
                    counts[i][2] += score
                    if row["source_a"] != row["source_b"]:
                        counts[i][3] += 1
                        counts[i][4] += match
                    break

print(f"{'band':>13} {'pairs':>8} {'matches':>8} {'share':>7} {'mean score':>11} {'across':>8} {'share':>7}")
for i, (n, m, s, nc, mc) in enumerate(counts):
    if n:
        hi = min(BANDS[i + 1], 1.0)
        cross = f"{nc:8d} {mc / nc:7.3f}" if nc else f"{0:8d} {'':>7}"
        print(f"{BANDS[i]:5.2f} - {hi:5.2f} {n:8d} {m:8d} {m / n:7.3f} {s / n:11.3f} {cross}")
