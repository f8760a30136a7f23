"""A fuller register (owner, treatment, residual rating, evidence, what retires a risk) and
security investment (budget, funding side, state), in the service and through signed HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from bot.config import Settings
from bot.db import make_engine, upgrade
from bot.domain.budget import (
    Budget,
    BudgetPeriod,
    BudgetState,
    FundingSide,
    parse_budget,
    parse_funding,
)
from bot.domain.errors import InvalidInput
from bot.domain.risk_export import ExportFormat, export_risks
from bot.domain.risks import Band, RiskChanges, RiskDraft, Treatment, parse_evidence
from bot.domain.risks.policy import RiskPolicy, parse_residual
from bot.domain.risks.service import create_risk, update_risk
from bot.domain.roles import Actor, Role
from bot.export.review import review_markdown
from bot.slack.digest_delivery import make_digest
from tests.harness import CIO, CISO, CISO_2, DIGEST_CHANNEL, RunningAccord, reply_text
from tests.slack.test_risks import dms_to

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ANN = Actor("U0ANN", frozenset({Role.CIO}))
POLICY = RiskPolicy.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


@pytest.fixture
def session(migrated_database_url: str) -> Iterator[Session]:
    engine = make_engine(migrated_database_url)
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def request(session: Session, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "title": "Flat network",
        "likelihood": 5,
        "impact": 5,
        "expires_on": NOW.date() + timedelta(days=60),
    }
    values.update(fields)
    return create_risk(session, actor=ANN, draft=RiskDraft(**values), now=NOW, policy=POLICY)


def test_the_band_and_expiry_cap_follow_the_residual_score(session: Session) -> None:
    long = NOW.date() + timedelta(days=300)
    with pytest.raises(InvalidInput, match="critical risk can be accepted for at most 90 days"):
        request(session, expires_on=long)
    risk = request(session, expires_on=long, residual=(2, 2), treatment=Treatment.MITIGATE)
    assert (risk.inherent_score, risk.residual_score, risk.score) == (25, 4, 4)
    assert risk.band == Band.LOW
    session.commit()
    with pytest.raises(InvalidInput, match="residual score 25 is above the inherent score 4"):
        request(session, likelihood=2, impact=2, residual=(5, 5))
    with pytest.raises(InvalidInput, match="at most"):
        update_risk(
            session,
            actor=ANN,
            number=risk.id,
            changes=RiskChanges(residual=(4, 4)),
            now=NOW,
            policy=POLICY,
        )
    session.rollback()  # as the unit of work does when a rule refuses
    record = export_risks(session, ExportFormat.JSON)
    assert '"inherent_score": 25' in record and '"residual_score": 4' in record


def test_register_values_are_parsed_once_with_clear_refusals() -> None:
    assert parse_residual("2x3") == (2, 3) and parse_residual("2×3") == (2, 3)
    with pytest.raises(InvalidInput, match="not a residual rating"):
        parse_residual("6")
    assert parse_evidence("https://jira/SEC-1, https://scan/r/2") == (
        "https://jira/SEC-1",
        "https://scan/r/2",
    )
    for bad in ("javascript:alert(1)", "https://a|b", "<!channel>", "https://a b"):
        with pytest.raises(InvalidInput):
            parse_evidence(bad)
    with pytest.raises(InvalidInput, match="At most 5"):
        parse_evidence(",".join(f"https://e/{n}" for n in range(6)))
    assert parse_budget("120000EUR/year") == Budget(120000, "EUR", BudgetPeriod.YEARLY)
    assert parse_budget("80kusd") == Budget(80000, "USD", BudgetPeriod.ONE_OFF)
    assert parse_budget("1.5mGBP/once").amount == 1_500_000
    for bad in ("lots", "0EUR", "12", "10000000000000EUR"):
        with pytest.raises(InvalidInput):
            parse_budget(bad)
    assert parse_funding("shared:60/40").split(1000) == {"cio": 600, "ciso": 400}
    assert parse_funding("ciso").side == FundingSide.CISO
    with pytest.raises(InvalidInput, match="add up to 100"):
        parse_funding("shared:60/60")
    assert BudgetState("approved") == BudgetState.APPROVED


def test_budgets_owners_unfunded_risks_and_spend_by_side(accord: RunningAccord) -> None:
    made = accord.command_text(
        f"initiative new Segment OT network cio:<@{CIO}|cio> ciso:<@{CISO}|ciso> "
        "budget:120000EUR/year funding:shared:25/75",
        user=CISO,
    )
    assert "120,000 EUR/year · shared 25/75 (CIO/CISO) · requested" in made
    accord.command_text(
        "initiative new EDR rollout budget:50kEUR funding:cio money:approved", user=CIO
    )
    changed = accord.command_text("initiative update INI-1 budget:150000EUR/year", user=CISO)
    assert "150,000 EUR/year" in changed
    # the other owner sees the material change
    [dm] = dms_to(accord, CIO, "budget 120,000 EUR/year → 150,000 EUR/year")
    assert "INI-1" in dm
    refused = accord.command_text("initiative update INI-2 funding:shared:70/70", user=CIO)
    assert "add up to 100" in refused
    today = accord.clock.now().date()
    text = accord.command_text(
        f"risk new Flat OT network likelihood:4 impact:4 expires:{today + timedelta(days=60)} "
        f"residual:3x3 treatment:mitigate treatment-due:{today + timedelta(days=200)} "
        f"owner:<@{CISO_2}|c2> retired-by:INI-1 evidence:https://jira.example/SEC-12",
        user=CISO,
    )
    assert "Requested *RSK-1*" in text
    assert "residual score 9 (3 × 3 after controls; inherent 16 = 4 × 4)" in text
    assert f"<@{CISO_2}>" in text and "mitigate by" in text
    assert "<https://jira.example/SEC-12>" in text
    value = _approve_value(accord)
    for user in (CIO, CISO_2):
        accord.slack.block_action("risk.approve", value, user_id=user)
    accord.wait_idle()
    shown = accord.command_text("risk show RSK-1", user=CISO)
    assert "*Would be retired by* INI-1 Segment OT network" in shown
    assert "accepted because unfunded" in shown

    accord.command("digest now", user=CIO)
    posted = reply_text(accord.posts_in(DIGEST_CHANNEL)[0].body)
    assert "*Security spend by funding side*" in posted
    assert "CIO side: 37,500 EUR requested, 50,000 EUR approved, 0 EUR spent" in posted
    assert "CISO side: 112,500 EUR requested, 0 EUR approved, 0 EUR spent" in posted
    assert "Waiting for money: INI-1 Segment OT network" in posted
    assert "would retire RSK-1, accepted because unfunded" in posted
    pack = review_markdown(make_digest(accord.services, accord.clock.now()))
    assert "## Security spend by funding side" in pack
    assert "would retire RSK-1, accepted because unfunded" in pack
    # approved money: no longer "unfunded"
    accord.command_text("initiative update INI-1 money:approved", user=CISO)
    assert "unfunded" not in accord.command_text("risk show RSK-1", user=CISO)
    moved = accord.command_text("risk update RSK-1 retired-by:INI-2", user=CISO)
    assert "material change" in moved
    assert "*Would be retired by* INI-2 EDR rollout · 50,000 EUR one-off · CIO side" in moved


def _approve_value(accord: RunningAccord) -> str:
    from tests.slack.test_risks import approve_button

    return approve_button(accord)


def test_treatment_date_in_the_past_is_refused(session: Session) -> None:
    with pytest.raises(InvalidInput, match="treatment target date"):
        request(session, residual=(1, 1), treatment_due=date(2020, 1, 1))


def test_the_risk_form_takes_the_register_fields(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    accord.command("risk", user=CISO)
    view = accord.fake.wait_for("views.open")[0].body["view"]
    blocks = {b["block_id"] for b in view["blocks"]}
    assert {"risk_owner", "treatment", "residual_likelihood", "evidence", "retired_by"} <= blocks
    expires = (accord.clock.now().date() + timedelta(days=60)).isoformat()

    def select(value: str) -> dict[str, Any]:
        return {"value": {"type": "static_select", "selected_option": {"value": value}}}

    values: dict[str, Any] = {
        "title": {"value": {"type": "plain_text_input", "value": "Shared admin account"}},
        "likelihood": select("4"),
        "impact": select("4"),
        "expires": {"value": {"type": "datepicker", "selected_date": expires}},
        "risk_owner": {"value": {"type": "users_select", "selected_user": CISO_2}},
        "treatment": select("transfer"),
        "residual_likelihood": select("2"),
        "residual_impact": select("3"),
        "evidence": {"value": {"type": "plain_text_input", "value": "ftp://nope"}},
    }
    bad = accord.slack.view_submission("risk.create", values, user_id=CISO)
    assert "evidence" in bad.json()["errors"]
    values["evidence"] = {"value": {"type": "plain_text_input", "value": "https://ev.example/1"}}
    ok = accord.slack.view_submission("risk.create", values, user_id=CISO, hash="h2")
    assert ok.status == 200
    shown = accord.command_text("risk show RSK-1", user=CISO)
    assert "residual score 6 (2 × 3 after controls; inherent 16 = 4 × 4)" in shown
    assert f"*Risk owner*\n<@{CISO_2}>" in shown and "*Treatment*\ntransfer" in shown


def test_the_initiative_forms_carry_the_budget(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    accord.command("initiative", user=CISO)
    view = accord.fake.wait_for("views.open")[0].body["view"]
    assert {"budget", "funding", "money"} <= {b["block_id"] for b in view["blocks"]}
    values: dict[str, Any] = {
        "title": {"value": {"type": "plain_text_input", "value": "Zero trust pilot"}},
        "budget": {"value": {"type": "plain_text_input", "value": "lots of money"}},
        "funding": {"value": {"type": "plain_text_input", "value": "shared:30/70"}},
    }
    bad = accord.slack.view_submission("initiative.create", values, user_id=CISO)
    assert "budget" in bad.json()["errors"]
    values["budget"] = {"value": {"type": "plain_text_input", "value": "90kEUR/year"}}
    ok = accord.slack.view_submission("initiative.create", values, user_id=CISO, hash="h2")
    assert ok.status == 200
    shown = accord.command_text("initiative show INI-1", user=CISO)
    assert "90,000 EUR/year · shared 30/70 (CIO/CISO) · requested" in shown
