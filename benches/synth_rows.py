"""The raw rows of a `kith synth` population's extracts, by record token: (forename, surname,
date of birth as (year, month, day) or None, sex as written, postcode), read with each agency's
own columns and date format. Shared by the scripts that look at what kith linked and missed."""
import csv

MONTHS = {m: i + 1 for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
SOURCES = ("council", "health", "police", "school")


def parse_dob(s):
    s = s.strip()
    if not s:
        return None
    if "/" in s:
        d, m, y = s.split("/")
    elif s[:4].isdigit() and "-" in s:
        y, m, d = s.split("-")
    else:
        d, m, y = s.split("-")
        m = MONTHS[m]
    return int(y), int(m), int(d)


def row_of(source, r):
    """(forename, surname, dob, sex, postcode) of a raw row, by the agency's columns."""
    if source == "police":
        sur, _, fore = r["NAME"].partition(", ")
        return fore, sur, parse_dob(r["DOB"]), None, r["LAST_KNOWN_POSTCODE"]
    if source == "health":
        return r["given"], r["family"], parse_dob(r["birth_date"]), r["sex_code"], r["post_code"]
    sex = r.get("sex", r.get("gender"))
    return r["forename"], r["surname"], parse_dob(r["dob"]), sex, r["postcode"]


def read_rows(w, sources=SOURCES):
    """{(source, record token): raw row} for the extracts in folder `w`."""
    rows = {}
    for s in sources:
        local = {}
        enc = "cp1252" if s == "police" else "utf-8"
        with open(f"{w}/{s}.csv", encoding=enc) as f:
            for r in csv.DictReader(f):
                local[next(iter(r.values()))] = row_of(s, r)
        with open(f"{w}/{s}-map.csv") as f:
            for r in csv.DictReader(f):
                rows[(s, r["token"])] = local[r["local_id"]]
    return rows


def read_truth(w):
    """({(source, record token): person}, {person: household}) from `w`/truth.csv."""
    entity, household = {}, {}
    with open(f"{w}/truth.csv") as f:
        for r in csv.DictReader(f):
            entity[(r["source"], r["token"])] = r["entity"]
            household[r["entity"]] = r["household"]
    return entity, household


def norm(x):
    return "".join(c for c in x.lower() if c.isalnum())
