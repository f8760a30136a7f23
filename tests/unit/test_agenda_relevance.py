"""A touchpoint's agenda puts what concerns its participants first in each section, so the cut
at SECTION_LIMIT drops what concerns them least."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from bot.db import make_engine, upgrade
from bot.domain.agenda import SECTION_LIMIT, build_agenda
from bot.domain.initiatives import Health, Initiative
from bot.domain.risks import RiskAcceptance, RiskState

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Berlin")
PARTICIPANT, STRANGER = "U0ANN", "U0ZED"


@pytest.fixture
def engine(migrated_database_url: str) -> Iterator[Engine]:
    made = make_engine(migrated_database_url)
    upgrade(made)
    yield made
    made.dispose()


def red(n: int, owner: str) -> Initiative:
    return Initiative(
        title=f"Red {n}",
        cio_owner_id=owner,
        health=Health.RED,
        created_by=STRANGER,
        created_at=NOW,
        updated_by=STRANGER,
        updated_at=NOW,
    )


def pending(n: int, requester: str) -> RiskAcceptance:
    return RiskAcceptance(
        title=f"Risk {n}",
        likelihood=3,
        impact=3,
        requested_by=requester,
        expires_on=date(2027, 6, 1),
        review_days=30,
        next_review_on=date(2026, 12, 25),
        state=RiskState.PENDING,
        round=1,
        created_at=NOW,
        updated_by=requester,
        updated_at=NOW,
    )


def test_what_concerns_the_participants_survives_the_cut(engine: Engine) -> None:
    with Session(engine) as session:
        for n in range(SECTION_LIMIT + 5):
            session.add(red(n, PARTICIPANT if n == SECTION_LIMIT + 3 else STRANGER))
            session.add(pending(n, PARTICIPANT if n == SECTION_LIMIT + 4 else STRANGER))
        session.commit()

        def sections(people: frozenset[str]) -> dict[str, list[str]]:
            agenda = build_agenda(
                session,
                series_id=1,
                today=NOW.date(),
                window_end=datetime(2026, 12, 2, 9, 0, tzinfo=ZONE),
                zone=ZONE,
                people=people,
            )
            return {s.key: [item.text for item in s.items] for s in agenda.sections}

        theirs = sections(frozenset({PARTICIPANT}))
        assert theirs["initiatives"][0] == f"Red {SECTION_LIMIT + 3}"
        assert theirs["risks"][0].startswith(f"Risk {SECTION_LIMIT + 4} ")
        # With nobody to favour, the oldest come first and theirs falls off the page.
        anyone = sections(frozenset())
        assert f"Red {SECTION_LIMIT + 3}" not in anyone["initiatives"]
        assert len(theirs["initiatives"]) == len(anyone["initiatives"]) == SECTION_LIMIT
