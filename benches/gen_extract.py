#!/usr/bin/env python3
"""Write a seeded synthetic extract for benchmarks: 10 columns matching bench-schema.json.

    python3 benches/gen_extract.py ROWS OUT.csv [SEED] [--diverse]

By default values repeat as they do in a small extract (a few dozen common forenames and surnames);
with --diverse, names are built from syllables, so almost every name is new, as in a national
extract. Both tools cache per value, so the two settings show both ends.
"""
import csv
import random
import sys

GIVEN = ("Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Freya Willow Florence Emily Ella Poppy "
         "Evie Elsie Charlotte Noah Oliver George Arthur Muhammad Leo Harry Oscar Archie Henry Theodore Freddie "
         "Jack Charlie Theo Alfie Jacob Thomas Finley Arlo William Lucas Roman Tommy Isaac Teddy Alexander Luca "
         "Edward James Joshua Albie Elijah Max Mohammed Reggie Hugo Harrison Zoë Siobhán Aoife Niamh Priya Aisha "
         "Fatima Yusuf Ibrahim Omar Ewa Zofia Jakub Kacper Chidi Amara Kwame Ade Mei Wei Jun").split()
SURNAMES = ("Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright "
            "Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill "
            "Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker "
            "Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy "
            "Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Ali Hussain Ahmed Okafor "
            "Kowalski Nowak O'Brien O'Neill McDonald Campbell Stewart Murray Fraser Kaur Chen Wang Nguyen").split()
TOWNS = ("Leeds Bradford Manchester Salford Sheffield Rotherham Newcastle Gateshead Sunderland Liverpool Wigan "
         "Bolton Preston Blackburn York Hull Doncaster Wakefield Huddersfield Halifax Harrogate Durham Carlisle "
         "Lancaster Chester Stockport Oldham Rochdale Bury Barnsley").split()
STREETS = ("High Street, Station Road, Main Street, Park Road, Church Road, Church Street, London Road, Victoria Road, "
           "Green Lane, Manor Road, Church Lane, Park Avenue, The Avenue, The Crescent, Queens Road, New Road, "
           "Grange Road, Kings Road, Alexandra Road, Mill Lane").split(", ")
AREAS = "LS BD M S NE L WN BL PR BB YO HU DN WF HD HX HG DH CA LA CH SK OL".split()


SYLLABLES = ("an bel cor dan el fay gar han is jo kel lin mar nor os pen quin ros sal tor ul vin wen xan "
             "yor zel ba ce di fo gu ha ke li mo nu ra se ti vo wy").split()


def syllable_name(rng):
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    diverse = "--diverse" in sys.argv
    rows = int(args[0])
    out = args[1]
    rng = random.Random(int(args[2]) if len(args) > 2 else 2026)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["given_name", "middle_name", "surname", "dob", "sex", "address", "town", "postcode", "phone", "email"])
        for _ in range(rows):
            if diverse:
                given, surname = syllable_name(rng), syllable_name(rng)
                middle = syllable_name(rng) if rng.random() < 0.6 else ""
            else:
                given = rng.choice(GIVEN)
                surname = rng.choice(SURNAMES)
                middle = rng.choice(GIVEN) if rng.random() < 0.6 else ""
            dob = f"{rng.randint(1925, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            sex = rng.choice("mf")
            address = f"{rng.randint(1, 250)} {rng.choice(STREETS)}"
            town = rng.choice(TOWNS)
            postcode = f"{rng.choice(AREAS)}{rng.randint(1, 29)} {rng.randint(0, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
            phone = f"07{rng.randint(100, 999)} {rng.randint(100000, 999999)}"
            email = f"{given.lower()}.{surname.lower().replace(chr(39), '')}{rng.randint(1, 99)}@example.org" if rng.random() < 0.7 else ""
            w.writerow([given, middle, surname, dob, sex, address, town, postcode, phone, email])


if __name__ == "__main__":
    main()
