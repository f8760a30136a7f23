"""The shell's demo directory: people on each side and an executive, so one person can try
every flow (two-sided approvals, executive decisions) alone."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoUser:
    user_id: str
    name: str
    title: str
    tz: str = "Europe/Berlin"


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("U0ALICE", "alice", "CIO side: Head of Infrastructure (also an Accord admin)"),
    DemoUser("U0DAVE", "dave", "CIO side: Network Engineering Lead", tz="America/New_York"),
    DemoUser("U0BOB", "bob", "CISO side: Security Architect"),
    DemoUser("U0CAROL", "carol", "CISO side: GRC Manager", tz="Europe/London"),
    DemoUser("U0ERIN", "erin", "Executive: COO"),
    DemoUser("U0FRANK", "frank", "Not on any side (an outsider)"),
)
DEMO_CHANNELS: dict[str, str] = {
    "C0COORD": "cio-ciso-coordination",
    "C0EXEC": "exec-decisions",
    "C0DIGEST": "leadership-digest",
    "C0RANDOM": "random",
}
#: Channels Accord has not been invited to, so the shell can show what happens there.
CHANNELS_WITHOUT_ACCORD: frozenset[str] = frozenset({"C0RANDOM"})
DEMO_ENVIRONMENT: dict[str, str] = {
    "ACCORD_CIO_SIDE": "U0ALICE,U0DAVE",
    "ACCORD_CISO_SIDE": "U0BOB,U0CAROL",
    "ACCORD_EXECUTIVES": "U0ERIN",
    "ACCORD_ADMINS": "U0ALICE",
    "ACCORD_COORDINATION_CHANNEL": "C0COORD",
    "ACCORD_EXECUTIVE_CHANNEL": "C0EXEC",
    "ACCORD_DIGEST_CHANNEL": "C0DIGEST",
}


def by_name(name: str) -> DemoUser | None:
    key = name.lstrip("@").lower()
    return next((u for u in DEMO_USERS if u.name == key or u.user_id.lower() == key), None)


def by_id(user_id: str) -> DemoUser | None:
    return next((u for u in DEMO_USERS if u.user_id == user_id), None)
