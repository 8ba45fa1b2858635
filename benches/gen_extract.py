#!/usr/bin/env python3
"""Write a seeded synthetic extract for benchmarks: 10 columns matching bench-schema.json.

    python3 benches/gen_extract.py ROWS OUT.csv [SEED]

Values repeat as they do in real extracts (common forenames, surnames and towns), so neither tool
is flattered or penalised by caching.
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


def main():
    rows = int(sys.argv[1])
    out = sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 2026)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["given_name", "middle_name", "surname", "dob", "sex", "address", "town", "postcode", "phone", "email"])
        for _ in range(rows):
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
