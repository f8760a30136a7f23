"""The risk and disagreement digest sources: the SQL band agrees with `band_of`, the number of
SQL statements does not grow with the records, and the features never import the aggregators."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert
from sqlmodel import Session, col, func, select

from bot.db import make_engine, upgrade
from bot.domain.digest import DigestWindow, disagreement_digest_part, risk_digest_counts
from bot.domain.disagreements import Disagreement, DisagreementState
from bot.domain.escalations import Escalation, EscalationState
from bot.domain.risks import RiskAcceptance, RiskState, band_expression, band_of
from bot.domain.roles import Role

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def engine(migrated_database_url: str) -> Iterator[Engine]:
    made = make_engine(migrated_database_url)
    upgrade(made)
    yield made
    made.dispose()


def risk_row(n: int, likelihood: int, impact: int, state: RiskState) -> dict[str, Any]:
    return {
        "title": f"Risk {n}",
        "description": "",
        "asset": "",
        "controls": "",
        "techniques": [],
        "likelihood": likelihood,
        "impact": impact,
        "requested_by": "U0CISO1",
        "expires_on": date(2027, 1, 1),
        "review_days": 30,
        "next_review_on": date(2026, 12, 25),
        "state": state,
        "round": 1,
        "created_at": NOW - timedelta(days=n % 250),
        "updated_by": "U0CISO1",
        "updated_at": NOW,
    }


def test_band_in_sql_agrees_with_band_of(engine: Engine) -> None:
    rows = [
        risk_row(n, likelihood, impact, RiskState.ACCEPTED)
        for n, (likelihood, impact) in enumerate(product(range(1, 6), repeat=2))
    ]
    with Session(engine) as session:
        session.execute(insert(RiskAcceptance), rows)
        session.commit()
        found = session.exec(
            select(RiskAcceptance.likelihood, RiskAcceptance.impact, band_expression())
        ).all()
    assert len(found) == 25
    for likelihood, impact, band in found:
        assert band == band_of(likelihood * impact).value, (likelihood, impact)


def seed(engine: Engine, count: int) -> None:
    states = [RiskState.PENDING, RiskState.ACCEPTED, RiskState.EXPIRED, RiskState.REVOKED]
    risks = [risk_row(n, n % 5 + 1, n % 4 + 1, states[n % 4]) for n in range(count)]
    disagreements = [
        {
            "subject": f"Disagreement {n}",
            "cio_position": "ship",
            "ciso_position": "hold",
            "business_impact": "",
            "security_impact": "",
            "options": [],
            "state": DisagreementState.ESCALATED if n % 3 == 0 else DisagreementState.OPEN,
            "raised_by": "U0CIO1",
            "raised_side": Role.CIO,
            "settle_version": 0,
            "timebox_from": NOW,
            "created_at": NOW - timedelta(days=n),
            "updated_by": "U0CIO1",
            "updated_at": NOW,
        }
        for n in range(count)
    ]
    with Session(engine) as session:
        session.execute(insert(RiskAcceptance), risks)
        session.execute(insert(Disagreement), disagreements)
        escalated = session.exec(
            select(Disagreement.id).where(
                Disagreement.state == DisagreementState.ESCALATED,
                col(Disagreement.id).not_in(select(Escalation.disagreement_id)),
            )
        ).all()
        session.execute(
            insert(Escalation),
            [
                {
                    "disagreement_id": number,
                    "question": "Which way?",
                    "decide_by": NOW.date() + timedelta(days=(number or 0) % 10 - 5),
                    "state": EscalationState.PENDING,
                    "channel_id": "C0EXEC",
                    "thread_ts": f"1.{number}",
                    "escalated_by": "U0CISO1",
                    "escalated_at": NOW,
                }
                for number in escalated
            ],
        )
        session.commit()


def statements_for_sources(engine: Engine) -> tuple[int, int]:
    statements = 0

    def counted(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    window = DigestWindow(now=NOW, since=NOW - timedelta(days=7))
    event.listen(engine, "before_cursor_execute", counted)
    try:
        with Session(engine) as session:
            briefs = len(disagreement_digest_part(session, window).briefs)
            risk_digest_counts(session, window)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return statements, briefs


def test_statement_count_does_not_grow_with_the_records(engine: Engine) -> None:
    seed(engine, 6)
    few, briefs = statements_for_sources(engine)
    assert briefs == 6
    seed(engine, 120)
    many, briefs = statements_for_sources(engine)
    assert briefs == 126
    assert few == many  # a fixed number of statements, whatever the number of records
    assert few <= 6
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Escalation)).one() == 2 + 40


def test_features_never_import_the_agenda_or_the_digest() -> None:
    offenders = []
    paths: list[Path] = []
    for name in ("initiatives", "risks", "disagreements", "escalations", "touchpoints"):
        module = Path("bot/domain") / f"{name}.py"
        found = [module] if module.exists() else sorted((Path("bot/domain") / name).rglob("*.py"))
        assert found, f"bot/domain/{name} was not found"
        paths += found
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            modules: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            offenders += [
                f"{path}: {m}" for m in modules if m in ("bot.domain.agenda", "bot.domain.digest")
            ]
    assert offenders == []


def test_a_full_agenda_section_keeps_whole_lines_within_slacks_limit() -> None:
    from bot.domain.agenda import AgendaItem, AgendaSection
    from bot.slack.blocks.touchpoints import _section_block

    items = [
        AgendaItem(
            ref=f"ESC-{n}",
            text="How do we resolve the question of " + "x" * 200,
            flags=("awaiting decision", "overdue"),
            owner_ids=("U0EXEC1",),
            due=date(2026, 12, 3),
            due_label="decide by",
        )
        for n in range(1, 16)
    ]
    text = _section_block(AgendaSection(key="d", title="Disagreements", items=items, more=4))
    body = text.to_dict()["text"]["text"]
    assert len(body) <= 3000
    lines = body.splitlines()
    assert all(line.endswith("<@U0EXEC1>") for line in lines[1:-1])
    shown = len(lines) - 2
    assert 0 < shown < 15 and lines[-1] == f"_…and {15 - shown + 4} more_"
