#!/usr/bin/env python3
"""Write the demo schema's hardening variants, one schema file each, for the privacy frontier.

    python3 benches/privacy/variants.py OUT_DIR

Each variant starts from the demo schema with double-hashed field filters (the library's default)
and changes only the field filters or `kith.clk`; `clk-only` drops the field filters altogether.
"""
import copy
import json
import sys

out = sys.argv[1]
with open("fixtures/demo/schema.json") as f:
    base = json.load(f)
# Every variant starts from double hashing (the library's default) and a plain CLK, and says what
# it changes.
for spec in base["kith"]["fields"].values():
    spec.pop("hash", None)
base["kith"].pop("clk", None)
REHASH = {"window": 8, "step": 6, "k": 3}

NAMES = ("given_name", "surname")
YEAR_SALT = {"feature": "dob", "transform": "year"}


def variant(name, change):
    s = copy.deepcopy(base)
    change(s["kith"])
    with open(f"{out}/{name}.json", "w") as f:
        json.dump(s, f, indent=1)


def fields(k, names=NAMES + ("dob",), **opts):
    for n in names:
        k["fields"][n].update(opts)


def clk_only(k):
    del k["fields"]
    del k["twins"]


variant("double", lambda k: None)
variant("random", lambda k: fields(k, hash="random"))
variant("random-blip4", lambda k: fields(k, hash="random", blip=4.0))
variant("random-blip3", lambda k: fields(k, hash="random", blip=3.0))
variant("random-blip2", lambda k: fields(k, hash="random", blip=2.0))
variant("double-blip3", lambda k: fields(k, blip=3.0))
variant("random-forename-blip3", lambda k: (fields(k, hash="random"),
                                            fields(k, names=("given_name",), blip=3.0)))
variant("random-names-blip3.5", lambda k: (fields(k, hash="random"),
                                           fields(k, names=NAMES, blip=3.5)))
variant("random-salt", lambda k: (fields(k, names=NAMES, hash="random", salt=YEAR_SALT),
                                  fields(k, names=("dob",), hash="random")))
variant("random-salt-blip3", lambda k: (fields(k, names=NAMES, hash="random", salt=YEAR_SALT, blip=3.0),
                                        fields(k, names=("dob",), hash="random", blip=3.0)))
variant("random-clk-blip4", lambda k: (fields(k, hash="random"), k.update(clk={"blip": 4.0})))
variant("random-clk-rehash", lambda k: (fields(k, hash="random"), k.update(clk={"rehash": REHASH})))
variant("random-clk-balance", lambda k: (fields(k, hash="random"), k.update(clk={"balance": True})))
variant("clk-only", clk_only)
# The demo schema (random hashing, rehashed CLK) with each deterministic field transform.
for name, opts in [("fold", {"fold": 1}), ("rule90", {"rule90": True}),
                   ("rehash", {"rehash": REHASH}), ("balance", {"balance": True})]:
    variant(f"demo-fields-{name}", lambda k, opts=opts: (fields(k, hash="random", **opts),
                                                         k.update(clk={"rehash": REHASH})))
variant("demo-clk-salt", lambda k: (fields(k, hash="random"),
                                    k.update(clk={"rehash": REHASH, "salt": YEAR_SALT})))
variant("demo-clk-dates", lambda k: (fields(k, hash="random"),
                                     k.update(clk={"rehash": REHASH, "dates": "parts"})))
