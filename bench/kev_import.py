"""What `accord threat import` costs for a CISA KEV catalogue of 1,500 entries (today's has
about 1,400): reading the file, storing the entries, matching them against 200 initiatives'
covered systems and making the briefs. Target: under 2 seconds. Prints figures; asserts nothing.

    python bench/kev_import.py                       # SQLite, 1,500 entries
    python bench/kev_import.py 5000                  # another size
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.db import make_engine, session_scope, upgrade
from bot.domain.gate.coverage import Coverage
from bot.domain.initiatives import InitiativeDraft, create_initiative
from bot.domain.roles import Actor, Role
from bot.domain.threats.service import import_kev

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
KEY = b"bench-key-0123456789abcdef0123456789"
VENDORS = ["Microsoft", "Ivanti", "Cisco", "Fortinet", "Citrix", "Apache", "VMware", "Oracle"]
PRODUCTS = [
    "Exchange Server",
    "Connect Secure",
    "IOS XE",
    "FortiOS",
    "NetScaler ADC",
    "Struts",
    "vCenter Server",
    "WebLogic Server",
    "Windows",
    "SharePoint",
    "ASA",
    "Log4j",
]


def kev_catalogue(entries: int, *, seed: int = 1) -> dict[str, Any]:
    """A catalogue in CISA's public JSON format (the fields Accord reads, and a few more)."""
    rng = random.Random(seed)
    day = date(2021, 11, 3)
    vulnerabilities = []
    for n in range(entries):
        added = day + timedelta(days=n // 3)
        vulnerabilities.append(
            {
                "cveID": f"CVE-{2015 + n % 11}-{10000 + n}",
                "vendorProject": rng.choice(VENDORS),
                "product": rng.choice(PRODUCTS) if n % 10 == 0 else f"Product {n}",
                "vulnerabilityName": f"Remote code execution vulnerability {n}",
                "dateAdded": added.isoformat(),
                "shortDescription": "Allows a remote attacker to execute arbitrary code. " * 3,
                "requiredAction": "Apply mitigations per vendor instructions.",
                "dueDate": (added + timedelta(days=21)).isoformat(),
                "knownRansomwareCampaignUse": "Known" if n % 7 == 0 else "Unknown",
                "notes": f"https://nvd.nist.gov/vuln/detail/CVE-{2015 + n % 11}-{10000 + n}",
                "cwes": ["CWE-78"],
            }
        )
    return {
        "title": "CISA Catalog of Known Exploited Vulnerabilities",
        "catalogVersion": "2026.12.01",
        "dateReleased": "2026-12-01T12:00:00.000Z",
        "count": entries,
        "vulnerabilities": vulnerabilities,
    }


def seed_initiatives(url: str, count: int) -> None:
    actor = Actor("U0BENCH", frozenset({Role.CISO}))
    with session_scope(make_engine(url, audit_key=KEY)) as session:
        for n in range(count):
            product = PRODUCTS[n % len(PRODUCTS)].lower().replace(" ", "-")
            draft = InitiativeDraft(
                title=f"Harden estate {n}",
                covers=[Coverage(f"{product}-{n}", "production")] if n % 4 == 0 else [],
            )
            create_initiative(session, actor=actor, draft=draft, now=NOW)


def run(entries: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(make_engine(url, audit_key=KEY))
        seed_initiatives(url, 200)
        path = Path(folder) / "known_exploited_vulnerabilities.json"
        path.write_text(json.dumps(kev_catalogue(entries)), encoding="utf-8")
        engine = make_engine(url, audit_key=KEY)
        started = time.perf_counter()
        data = json.loads(path.read_text(encoding="utf-8"))
        with session_scope(engine) as session:
            result = import_kev(session, data=data, actor_id="bench", now=NOW)
            briefs = len(result.briefs)
        first = time.perf_counter() - started
        started = time.perf_counter()
        with session_scope(engine) as session:
            again = import_kev(session, data=data, actor_id="bench", now=NOW)
        second = time.perf_counter() - started
        print(
            f"KEV import, {entries:,} entries, 200 initiatives: {first:.3f} s "
            f"({result.new:,} stored, {briefs} briefs made; target < 2 s); "
            f"the same file again: {second:.3f} s ({again.new} new)"
        )


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1500)
