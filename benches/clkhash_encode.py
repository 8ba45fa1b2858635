#!/usr/bin/env python3
"""Encode a CSV with clkhash 0.18.3 on one core and write anonlink-client's JSON.

    python clkhash_encode.py SCHEMA.json SECRET_FILE IN.csv OUT.json

Prints one line: `clkhash records=N seconds=S`. The timing covers what anonlink-client's `encode`
does: read the CSV, check the header, validate, hash, serialise.
"""
import json
import sys
import time

from clkhash import clk, schema as schema_mod
from clkhash.serialization import serialize_bitarray


def main():
    schema_path, secret_path, csv_path, out_path = sys.argv[1:5]
    with open(schema_path) as f:
        schema = schema_mod.from_json_file(f)
    with open(secret_path, "rb") as f:
        secret = f.read()
    if secret.endswith(b"\n"):
        secret = secret[:-1]
    start = time.perf_counter()
    with open(csv_path, encoding="utf-8") as f:
        bfs = clk.generate_clk_from_csv(f, secret.decode("utf-8"), schema, progress_bar=False, max_workers=1)
    clks = [serialize_bitarray(bf) for bf in bfs]
    with open(out_path, "w") as f:
        json.dump({"clks": clks}, f)
    seconds = time.perf_counter() - start
    print(f"clkhash records={len(clks)} seconds={seconds:.3f}")


if __name__ == "__main__":
    main()
