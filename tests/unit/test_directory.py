"""Side membership from user ids, user groups (cached) and admin grants."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from bot.db import make_engine, upgrade
from bot.domain.roles import Directory, Role, grant_role
from tests.harness import FakeClock


class CountingGroups:
    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def members(self, group_id: str) -> list[str]:
        self.calls += 1
        if self.fail:
            raise ConnectionError("slack unreachable")
        return ["U0GROUPIE"] if group_id == "S0SEC" else []


def test_groups_are_cached_refreshed_and_survive_outages(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    upgrade(engine)
    clock = FakeClock()
    groups = CountingGroups()
    directory = Directory(
        configured={Role.CISO: ["S0SEC", "U0DIRECT"]},
        groups=groups,
        clock=clock,
        cache_seconds=300,
    )
    with Session(engine) as session:
        assert Role.CISO in directory.actor(session, "U0GROUPIE").roles
        assert Role.CISO in directory.actor(session, "U0DIRECT").roles
        assert directory.actor(session, "U0OTHER").roles == frozenset()
        assert groups.calls == 1  # cached
        clock.advance(seconds=301)
        groups.fail = True
        assert Role.CISO in directory.actor(session, "U0GROUPIE").roles  # stale beats nothing
        assert groups.calls == 2
        grant_role(
            session, role=Role.EXECUTIVE, subject_id="U0OTHER", granted_by="U0ADM", at=clock.now()
        )
        session.flush()
        assert directory.actor(session, "U0OTHER").is_executive
