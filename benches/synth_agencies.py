#!/usr/bin/env python3
"""Seeded synthetic two-agency extracts with ground truth, for linkage quality and scale benchmarks.

    python3 benches/synth_agencies.py PEOPLE OUTDIR [SEED]

Writes OUTDIR/council.csv and OUTDIR/health.csv (columns person_id, given_name, surname, dob, sex,
postcode, nhs_number; the NHS number is left empty, so linkage uses names, date of birth, sex and
postcode only) and OUTDIR/truth-local.csv (source, person_id, entity). Each agency holds about 80% of
the people. Errors, drawn per record: typos in names, nicknames, swapped forename and surname,
diacritics dropped, surnames changed by marriage, day and month swapped or a day off by one, a moved
household's new postcode, missing values, SURNAME in capitals. About 1.5% of people have a twin (same
surname, date of birth and postcode, a similar forename: a known pair such as Jack and Jake, or
one with the same initial), and about 3% of council records are duplicated within the council
with fresh errors.

This stands in for `kith synth` until the families issue builds it.
"""
import csv
import os
import random
import sys

GIVEN_F = ("Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Willow Florence Emily Ella Poppy "
           "Evie Elsie Charlotte Zoë Siobhán Aoife Niamh Priya Aisha Fatima Ewa Zofia Amara Mei Hannah Lucy Chloe "
           "Jessica Sophie Megan Holly Ellie Katie Lauren Amy Rebecca Rachel Laura Emma Sarah Victoria Catherine "
           "Elizabeth Margaret Susan Patricia Jennifer Deborah Karen Julie Joanne Nicola Claire Michelle Kelly "
           "Gemma Danielle Stacey Leanne Natalie Samantha Jade Abigail Phoebe Matilda Harriet Imogen Esme Thea "
           "Emilia Lola Eva").split()
GIVEN_M = ("Noah Oliver George Arthur Muhammad Leo Harry Oscar Archie Henry Theodore Freddie Jack Charlie Theo Alfie "
           "Jacob Thomas Finley Arlo William Lucas Roman Tommy Isaac Teddy Alexander Luca Edward James Joshua Albie "
           "Elijah Max Mohammed Reggie Hugo Harrison Yusuf Ibrahim Omar Jakub Kacper Chidi Kwame Ade Wei Jun Daniel "
           "Matthew Ryan Liam Connor Callum Kieran Jordan Bradley Lewis Nathan Adam Michael David Richard Robert "
           "Stephen Paul Mark Andrew Christopher Anthony Peter John Steven Gary Lee Craig Dean Wayne Darren Shaun "
           "Jake Leon Maxwell Rhys").split()
NICK = {"William": "Bill", "Robert": "Bob", "Elizabeth": "Liz", "Margaret": "Maggie", "Thomas": "Tom",
        "James": "Jim", "Alexander": "Alex", "Catherine": "Kate", "Rebecca": "Becky", "Samantha": "Sam",
        "Christopher": "Chris", "Anthony": "Tony", "Michael": "Mike", "Daniel": "Dan", "Matthew": "Matt",
        "Richard": "Dick", "Stephen": "Steve", "Andrew": "Andy", "Edward": "Ed", "Joshua": "Josh",
        "Victoria": "Vicky", "Jennifer": "Jenny", "Patricia": "Trish", "Nicola": "Nicky", "Abigail": "Abbie",
        "Theodore": "Theo", "Frederick": "Fred", "Isabella": "Bella", "Charlotte": "Lottie", "Peter": "Pete"}
# Twins' forenames are names the population uses too (a twin's name found nowhere else would look
# like a typing error of its twin's).
TWIN = {"Amelia": "Emilia", "Isla": "Ella", "Lily": "Lola", "Jack": "Jake", "Oliver": "Olivia", "Harry": "Harriet",
        "Sophie": "Sophia", "Leo": "Leon", "Max": "Maxwell", "Evie": "Eva", "Lucas": "Luca", "Ryan": "Rhys"}
SURNAMES = ("Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright "
            "Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill "
            "Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker "
            "Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy "
            "Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Ali Hussain Ahmed Okafor "
            "Kowalski Nowak O'Brien O'Neill McDonald Campbell Stewart Murray Fraser Kaur Chen Wang Nguyen Brennan "
            "Gallagher Doherty Lynch Quinn Byrne Ryan Walsh Kennedy Reid Ross Graham Hamilton Gordon Duncan Hunter "
            "Holmes Mills Rogers Lloyd Knight Butler Barker Fox Pearson Webb Mason Rose Grant Hunt Black Dixon "
            "Jenkins Stevens Russell Owen Palmer Lawrence Holland Gibson Chapman Burton Harvey Wells Marsh Dawson "
            "Powell Fisher Lowe Hart Spencer Perry Ford Ahmad Rahman Hossain Iqbal Mahmood Akhtar Sharma Kumar "
            "Mensah Adeyemi Okonkwo Nowicki Wisniewski Popescu Silva Santos Müller Núñez Brontë Ó'Súilleabháin").split()
AREAS = "LS BD M S NE L WN BL PR BB YO HU DN WF HD HX HG DH CA LA CH SK OL SW SE N E W NW B CV LE NG DE".split()
LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def postcode(rng):
    return f"{rng.choice(AREAS)}{rng.randint(1, 29)} {rng.randint(0, 9)}{rng.choice(LETTERS)}{rng.choice(LETTERS)}"


def typo(rng, s):
    if len(s) < 3:
        return s
    i = rng.randrange(1, len(s))
    k = rng.random()
    if k < 0.33:
        return s[:i] + s[i + 1:]
    if k < 0.66 and i < len(s) - 1:
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    return s[:i] + rng.choice("aeiourstnl") + s[i + 1:]


def strip_accents(s):
    import unicodedata
    return "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))


def person(rng):
    sex = rng.choice("MF")
    return {"given": rng.choice(GIVEN_M if sex == "M" else GIVEN_F), "surname": rng.choice(SURNAMES),
            "dob": (rng.randint(1930, 2023), rng.randint(1, 12), rng.randint(1, 28)), "sex": sex,
            "postcode": postcode(rng)}


def observe(rng, p, style):
    given, surname = p["given"], p["surname"]
    y, m, d = p["dob"]
    pc = p["postcode"]
    r = rng.random
    if r() < 0.08: given = typo(rng, given)
    if r() < 0.08: surname = typo(rng, surname)
    if r() < 0.05 and given in NICK: given = NICK[given]
    if r() < 0.05: given, surname = strip_accents(given), strip_accents(surname)
    if r() < 0.02 and p["sex"] == "F": surname = rng.choice(SURNAMES)  # married
    if r() < 0.02: given, surname = surname, given
    if r() < 0.02 and d <= 12: m, d = d, m
    elif r() < 0.02: d = d + 1 if d < 28 else d - 1
    if r() < 0.12: pc = postcode(rng)  # moved house
    if r() < 0.03: pc = ""
    if r() < 0.02: given = ""
    if r() < 0.2: surname = surname.upper()
    if style == "council":
        dob = f"{d:02d}/{m:02d}/{y}"
        sex = {"M": "Male", "F": "Female"}[p["sex"]]
    else:
        dob = f"{y}-{m:02d}-{d:02d}" if r() < 0.7 else f"{d:02d}-{MONTHS[m - 1]}-{y}"
        sex = p["sex"]
    if r() < 0.02: dob = ""
    return [given, surname, dob, sex, pc]


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 2026)
    os.makedirs(out, exist_ok=True)
    people = []
    while len(people) < n:
        p = person(rng)
        people.append(p)
        if rng.random() < 0.015:
            # A twin: same surname, date of birth and address, a similar forename (a known pair,
            # or one with the same initial), and the sex that goes with it.
            t = dict(p)
            if p["given"] in TWIN and rng.random() < 0.5:
                t["given"] = TWIN[p["given"]]
                t["sex"] = "F" if t["given"] in GIVEN_F else "M"
            else:
                t["sex"] = rng.choice("MF")
                pool = GIVEN_M if t["sex"] == "M" else GIVEN_F
                same = [g for g in pool if g[0] == p["given"][0] and g != p["given"]]
                t["given"] = rng.choice(same or [g for g in pool if g != p["given"]])
            people.append(t)
    truth = open(os.path.join(out, "truth-local.csv"), "w", newline="", encoding="utf-8")
    tw = csv.writer(truth)
    tw.writerow(["source", "person_id", "entity"])
    for source in ("council", "health"):
        with open(os.path.join(out, f"{source}.csv"), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["person_id", "given_name", "surname", "dob", "sex", "postcode", "nhs_number"])
            rid = 0
            for e, p in enumerate(people):
                if rng.random() >= 0.8:
                    continue
                copies = 2 if source == "council" and rng.random() < 0.03 else 1
                for _ in range(copies):
                    rid += 1
                    pid = f"{source[0].upper()}{rid:08d}"
                    w.writerow([pid] + observe(rng, p, source) + [""])
                    tw.writerow([source, pid, f"P{e}"])
    truth.close()


if __name__ == "__main__":
    main()
