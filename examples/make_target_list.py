"""Generate the synthetic example target list and rep list for the Premium -> Ultimate play.

Deterministic (fixed seed, stdlib only): running it twice writes byte-identical files.

    python3 examples/make_target_list.py
    -> examples/target-list.csv  (200 contacts at 40 accounts)
    -> examples/reps.csv         (the 5 account owners)

All names, companies and domains are fictional; every domain ends in ".example" (RFC 2606),
so nothing generated here can reach a real mailbox.
"""

from __future__ import annotations

import csv
import random
import unicodedata
from pathlib import Path

SEED = 20210427  # the play's launch day; change it and every row changes
HERE = Path(__file__).resolve().parent
TARGET_LIST = HERE / "target-list.csv"
REPS_FILE = HERE / "reps.csv"

COLUMNS = [
    "exclude",
    "reason",
    "email",
    "first_name",
    "last_name",
    "title",
    "account",
    "employees",
    "segment",
    "owner_email",
    "outreach_mode",
]
REP_COLUMNS = ["email", "name", "title", "timezone"]


def _listed(text: str, sep: str | None = None) -> list[str]:
    """Long word lists written as text blocks: "a, b c," -> ["a", "b c"] with sep=","."""
    return [item.strip() for item in text.split(sep) if item.strip()]


REPS = [
    ("dana.reyes@gitlab-demo.example", "Dana Reyes", "SMB Account Executive", "America/New_York"),
    ("liam.obrien@gitlab-demo.example", "Liam O'Brien", "SMB Account Executive", "Europe/London"),
    ("priya.nair@gitlab-demo.example", "Priya Nair", "Account Executive", "America/Chicago"),
    (
        "tomas.herrera@gitlab-demo.example",
        "Tomás Herrera",
        "Senior Account Executive",
        "Europe/Madrid",
    ),
    (
        "grace.kim@gitlab-demo.example",
        "Grace Kim",
        "Strategic Account Leader",
        "America/Los_Angeles",
    ),
]

# Which reps cover which segment (indexes into REPS); accounts are dealt round-robin.
REP_POOLS = {"SMB": [0, 1, 2], "MM": [2, 3], "ENT": [3, 4]}

# (segment, number of accounts, number of contacts): 22 + 10 + 8 = 40 accounts, 120 + 46 + 34 = 200.
SEGMENT_PLAN = [("SMB", 22, 120), ("MM", 10, 46), ("ENT", 8, 34)]

ACCOUNT_NAMES = _listed(
    """
    Acme Robotics, Bluefin Analytics, Cobalt Ledger, Driftwood Health, Ember Logistics,
    Fernhill Foods, Granite Payments, Harbor Light Media, Ironbark Labs, Juniper Freight,
    Kestrel Insurance, Lumen Grid, Maple & Stone, Northwind Outfitters, Orchid Biotech,
    Pinecrest Software, Quarry Point Energy, Redwood Learning, Saltmarsh Travel, Tidewater Bank,
    Umbra Security, Vantage Retail, Willowbrook Clinics, Xylo Games, Yellowtail Marine,
    Zephyr Telecom, Atlas Fabrication, Beacon Civic Tech, Cinder Cloud, Dovetail Furniture,
    Evergreen Mutual, Foxglove Pharma, Glacier Data, Highline Airways, Indigo Textiles,
    Jetstream Mobility, Kiln Ceramics, Lodestar Aerospace, Meridian Public Sector,
    Nimbus Weather
""",
    sep=",",
)

FIRST_NAMES = _listed("""
    Aisha Alejandro Amelia Arjun Beatriz Ben Chen Chloe Daniel Diego Elena Emeka Emma Fatima
    Felix Gabriel Hana Hiroshi Ines Isaac Jamal Jana Javier Julia Kai Kavya Laura Leon Lucía
    Malik Maria Mateo Mei Mohammed Nadia Noah Olga Omar Paula Rafael Rania Ravi Rosa Sam Sara
    Sean Sofia Stefan Tariq Thandiwe Uma Victor Wei Yara Yusuf Zoë Anders Bridget Carlos Deborah
""")
LAST_NAMES = _listed("""
    Abara Andersson Bauer Becker Chen Costa Dubois Dlamini Edwards Fischer Fernández Garcia
    Gupta Haddad Hansen Hughes Ibrahim Ivanova Jensen Kaur Kowalski Kumar Larsen Lee Lopez
    Martin Mensah Meyer Moreau Murphy Nakamura Novak O'Connor Okafor Olsen Patel Petrov Quinn
    Rossi Santos Schmidt Silva Singh Sato Tanaka Taylor Torres Varga Walsh Wang Weber Williams
    Wójcik Yamamoto Yilmaz Zhang Zimmermann Nguyen Brown Ali
""")

# Titles from the play's target personas (economic buyers, technical influencers, others to
# consider) plus the practitioners who actually work in the pipeline.
MANAGEMENT_TITLES = [
    "CISO",
    "VP of Security",
    "Director of Security",
    "Security Manager",
    "CTO",
    "VP of IT",
    "App/Dev Director",
    "Chief Architect",
    "App Dev Manager",
    "Infrastructure Engineering Director",
    "Release and Change Management Director",
]
PRACTITIONER_TITLES = [
    "Software Engineer",
    "Senior Software Engineer",
    "DevOps Engineer",
    "Developer",
    "Security Analyst",
]
ONE_PER_ACCOUNT = {"CISO", "CTO", "VP of Security", "VP of IT", "Chief Architect"}

EXCLUSIONS = [
    ("SMB", "open renewal negotiation"),
    ("SMB", "customer escalation in progress"),
    ("SMB", "open renewal negotiation"),
    ("MM", "customer escalation in progress"),
]
MODE_COUNTS = {"A": 4, "B": 8}  # everyone else is blank, i.e. the default C


def main() -> None:
    rng = random.Random(SEED)
    accounts = _make_accounts(rng)
    rows = _make_contacts(rng, accounts)
    _mark_exclusions_and_modes(rng, rows)

    with TARGET_LIST.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    with REPS_FILE.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(REP_COLUMNS)
        writer.writerows(REPS)
    print(f"wrote {len(rows)} contacts at {len(accounts)} accounts to {TARGET_LIST.name}")
    print(f"wrote {len(REPS)} reps to {REPS_FILE.name}")


def _make_accounts(rng: random.Random) -> list[dict]:
    names = ACCOUNT_NAMES[:]
    rng.shuffle(names)
    accounts = []
    for segment, n_accounts, n_contacts in SEGMENT_PLAN:
        sizes = _split(rng, n_contacts, n_accounts)
        pool = REP_POOLS[segment]
        for i in range(n_accounts):
            employees, label = _employees_and_label(rng, segment, i)
            accounts.append(
                {
                    "name": names.pop(),
                    "segment_group": segment,
                    "employees": employees,
                    "segment": label,
                    "owner": REPS[pool[i % len(pool)]][0],
                    "size": sizes[i],
                }
            )
    rng.shuffle(accounts)  # an export is sorted by nothing in particular
    return accounts


def _employees_and_label(rng: random.Random, segment: str, i: int) -> tuple[int, str]:
    """Employee count and the segment label as ops would type it ("" = let the engine derive it).

    A few blank-label accounts sit exactly on the boundaries (99/100, 749/750, 4999/5000).
    """
    if segment == "SMB":
        boundary = {0: 99, 1: 5}
        if i in boundary:
            return boundary[i], ""
        return rng.randint(8, 95), ("" if i % 4 == 3 else "SMB")
    if segment == "MM":
        boundary = {0: 100, 1: 749}
        if i in boundary:
            return boundary[i], ""
        return rng.randint(110, 720), ("" if i % 4 == 3 else "MM")
    # ENT: Large is 750-4999 employees, Strategic 5000+ (market segmentation seed).
    fixed = {
        0: (750, ""),
        1: (4999, ""),
        2: (5000, ""),
        3: (rng.randint(900, 4800), "Large"),
        4: (rng.randint(900, 4800), "Large"),
        5: (rng.randint(1000, 4800), "Large"),
        6: (rng.randint(6000, 60000), "Strategic"),
        7: (rng.randint(6000, 60000), "Strategic"),
    }
    return fixed[i]


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """Split total into parts sizes of at least 2, roughly even, with some jitter."""
    sizes = [total // parts] * parts
    for i in range(total - sum(sizes)):
        sizes[i] += 1
    for _ in range(parts):
        a, b = rng.randrange(parts), rng.randrange(parts)
        if sizes[a] > 3:
            sizes[a] -= 1
            sizes[b] += 1
    return sizes


def _make_contacts(rng: random.Random, accounts: list[dict]) -> list[dict]:
    rows = []
    seen_emails: set[str] = set()
    for account in accounts:
        domain = _slug(account["name"]) + ".example"
        titles = _titles(rng, account["size"])
        people = []
        for title in titles:
            while True:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                email = f"{_slug(first, '')}.{_slug(last, '')}@{domain}"
                if email not in seen_emails:
                    break
            seen_emails.add(email)
            people.append((last, first, email, title))
        for last, first, email, title in sorted(people):
            rows.append(
                {
                    "exclude": "",
                    "reason": "",
                    "email": email,
                    "first_name": first,
                    "last_name": last,
                    "title": title,
                    "account": account["name"],
                    "employees": str(account["employees"]),
                    "segment": account["segment"],
                    "owner_email": account["owner"],
                    "outreach_mode": "",
                    "_segment_group": account["segment_group"],
                }
            )
    return rows


def _titles(rng: random.Random, n: int) -> list[str]:
    """At least one management contact per account, about 45% management overall."""
    titles = [rng.choice(MANAGEMENT_TITLES)]
    while len(titles) < n:
        if rng.random() < 0.4:
            title = rng.choice(MANAGEMENT_TITLES)
            if title in ONE_PER_ACCOUNT and title in titles:
                continue
        else:
            title = rng.choice(PRACTITIONER_TITLES)
        titles.append(title)
    return titles


def _mark_exclusions_and_modes(rng: random.Random, rows: list[dict]) -> None:
    free = list(range(len(rows)))
    for segment, reason in EXCLUSIONS:
        i = rng.choice([j for j in free if rows[j]["_segment_group"] == segment])
        rows[i]["exclude"], rows[i]["reason"] = "y", reason
        free.remove(i)
    for mode, count in MODE_COUNTS.items():
        for i in rng.sample(free, count):
            rows[i]["outreach_mode"] = mode
            free.remove(i)
    for row in rows:
        del row["_segment_group"]


def _slug(text: str, sep: str = "-") -> str:
    """ "Maple & Stone" -> "maple-stone", "Zoë" -> "zoe", "O'Connor" -> "oconnor"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in ascii_text.replace("'", "")).split()
    return sep.join(words).lower()


if __name__ == "__main__":
    main()
