"""Arbitrary command texts, button values and form values through the signed-HTTP path.

Whatever a person (or a forged-but-signed payload from a tampered client) sends, Accord
answers with a 2xx and either does the thing or says what was wrong: never a 5xx, never the
"Something went wrong" reply (an unhandled exception), and the database keeps its invariants.
Each example that an earlier fuzzing run found is kept as an explicit `@example`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import unicodedata
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel, select

from bot.db import session_scope
from bot.domain.audit_chain import verify_chain
from bot.domain.risks import Decision, RiskAcceptance, RiskApproval, RiskRound, RiskState
from bot.domain.roles import Role
from bot.slack.commands import NOUNS
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.text import tokenize
from tests.harness import ADMIN, CIO, CISO, CISO_2, EXEC, OUTSIDER, RunningAccord

INTERNAL_ERROR = "Something went wrong on Accord's side"
PEOPLE = (CIO, CISO, CISO_2, EXEC, ADMIN, OUTSIDER)
#: What the fuzzing that led to these checks found, and what people plausibly type.
HOSTILE = (
    "2026-02-30",
    "2026-13-01",
    "0000-01-01",
    "9999-12-31",
    "²",
    "٣",
    "7²",
    "99999999999999999999",
    "9223372036854775808",
    "2147483648",
    "2147483647",
    "-1",
    "0",
    "31",
    "1e3",
    "\x00",
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "\u0085next",
    "\u009b",
    "\r\n",
    "",
    " ",
    "<!channel>",
    "RSK-99999999999999999999",
    "INI-2147483648",
    "DIS-9223372036854775808",
    "TP-²",
    "A-99999999999999999999",
    "@",
    '"',
    "{}",
    "[]",
    "null",
)
REF_LIKE = re.compile(r"^(INI|RSK|DIS|ESC|TP|A)-\d+$")
_value = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.dates().map(lambda day: day.isoformat()),
)
_ref = st.builds(
    lambda kind, number: f"{kind}-{number}",
    st.sampled_from(["INI", "RSK", "DIS", "ESC", "TP", "A"]),
    st.one_of(st.integers(min_value=0, max_value=3), st.sampled_from(HOSTILE)),
)
EXAMPLES = [
    verb.example.removeprefix("/accord ")
    for noun in NOUNS
    for verb in noun.verbs
    if not verb.example.startswith("/accord roles")
] + [noun.example.removeprefix("/accord ") for noun in NOUNS if noun.example and not noun.verbs]


@st.composite
def command_texts(draw: st.DrawFn) -> str:
    """A real example with some of its words, or the values after `key:`, replaced."""
    tokens = tokenize(draw(st.sampled_from(EXAMPLES)))
    for index in range(1, len(tokens)):
        if not draw(st.booleans()):
            continue
        key, sep, _ = tokens[index].partition(":")
        replacement = draw(_ref) if REF_LIKE.match(tokens[index]) else draw(_value)
        tokens[index] = f"{key}:{replacement}" if sep else replacement
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        tokens.append(draw(_value))
    return " ".join(tokens)


_json_value = st.one_of(_value, st.integers(min_value=-(2**70), max_value=2**70), st.none())
_button_value = st.one_of(
    _value,
    st.builds(lambda a, b: f"{a}:{b}", st.integers(0, 3).map(str) | _value, _value),
    st.dictionaries(
        st.sampled_from(["f", "t", "p", "d", "v", "e", "o", "s", "a", "k", "id"]),
        _json_value,
        max_size=4,
    ).map(json.dumps),
)
_action_id = st.one_of(
    st.sampled_from([action.value for action in ActionId]),
    _value.map(lambda index: f"{ActionId.ESCALATION_OPTION.value}.{index}"),
)
_element = st.fixed_dictionaries(
    {},
    optional={
        "value": _value,
        "selected_user": st.sampled_from(PEOPLE) | _value,
        "selected_date": _value,
        "selected_time": _value,
        "selected_channel": _value,
        "selected_option": st.fixed_dictionaries({"value": _value}),
        "selected_options": st.lists(st.fixed_dictionaries({"value": _value}), max_size=2),
        "selected_users": st.lists(st.sampled_from(PEOPLE) | _value, max_size=3),
    },
)
_form_values = st.dictionaries(
    st.sampled_from([block.value for block in BlockId]),
    _element.map(lambda element: {"value": {"type": "plain_text_input", **element}}),
    max_size=8,
)
_metadata = st.one_of(
    _value,
    st.dictionaries(
        st.sampled_from(
            ["id", "channel", "round", "side", "o", "k", "occurrence", "thread_ts", "d", "e"]
        ),
        _json_value | st.integers(0, 3) | st.sampled_from(["cio", "ciso", "C0COORD"]),
        max_size=5,
    ).map(json.dumps),
)

#: A longer, random search: `ACCORD_TEST_FUZZ_EXAMPLES=2000 pytest tests/slack/test_fuzz_inputs.py`.
#: By default the suite runs a fixed, derandomised set that fits in its time budget.
CAMPAIGN = int(os.environ.get("ACCORD_TEST_FUZZ_EXAMPLES") or 0)
FUZZ = settings(
    max_examples=CAMPAIGN or 40,
    deadline=None,
    derandomize=not CAMPAIGN,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class ErrorLog(logging.Handler):
    """Every ERROR record from Accord's code: an unhandled exception in a request."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.fixture
def seeded(accord: RunningAccord) -> RunningAccord:
    """A register with one record of each kind, so ids 1 and buttons on them mean something."""
    for text, user in (
        ("initiative new Roll out MFA due:2026-12-31 #iam", CIO),
        ("risk new Legacy VPN likelihood:2 impact:2 expires:2027-01-31", CIO),
        ("risk new Old TLS likelihood:2 impact:2 expires:2027-01-31", CIO),
        ("risk approve RSK-2", CISO),
        ("disagree INI-1 we need two more weeks", CIO),
        ("touchpoint new Weekly every:weekly at:09:00 tz:Europe/Berlin", CIO),
    ):
        assert accord.command(text, user=user).status == 200
    accord.wait_idle()
    return accord


def _start(accord: RunningAccord, errors: ErrorLog) -> int:
    """Forget what earlier examples left; returns where this example's calls to Slack begin."""
    errors.records.clear()
    return len(accord.fake.calls())


def _check(accord: RunningAccord, errors: ErrorLog, since: int, status: int, answer: str) -> None:
    """A 2xx, no internal-error reply (in the answer or anything sent to Slack after it), no
    error logged, and the database's invariants."""
    accord.wait_idle()
    assert status < 500, answer
    assert INTERNAL_ERROR not in answer
    sent = "\n".join(json.dumps(call.body) for call in accord.fake.calls()[since:])
    assert INTERNAL_ERROR not in sent
    assert not errors.records, [record.getMessage() for record in errors.records]
    _check_invariants(accord)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(char) == "Cc" and char not in "\n\t" for char in text)


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_strings(item)


def _check_invariants(accord: RunningAccord) -> None:
    with session_scope(accord.services.engine) as session:
        for risk in session.exec(select(RiskAcceptance)).all():
            if risk.state != RiskState.ACCEPTED:
                continue
            rounds = session.exec(select(RiskRound).where(RiskRound.risk_id == risk.id)).all()
            signed = []
            for round_ in rounds:
                approvals = session.exec(
                    select(RiskApproval).where(
                        RiskApproval.risk_id == risk.id,
                        RiskApproval.round == round_.round,
                        RiskApproval.decision == Decision.APPROVED,
                    )
                ).all()
                sides = sorted(str(approval.side) for approval in approvals)
                people = {approval.approver_id for approval in approvals}
                if sides == [Role.CIO.value, Role.CISO.value] and round_.requested_by not in people:
                    assert len(people) == 2, f"{risk.ref} round {round_.round}: one approver"
                    signed.append(round_.round)
            assert signed, f"{risk.ref} is accepted without one approval from each side"
        report = verify_chain(session)
        assert report.ok, report.summary()
        for table in SQLModel.metadata.sorted_tables:
            for row in session.execute(sa_select(table)).all():
                for text in _walk_strings(list(row)):
                    assert not _has_control(text), (table.name, text)


@FUZZ
@given(text=command_texts(), user=st.sampled_from(PEOPLE))
@example(text="risk new Impossible likelihood:2 impact:2 expires:2026-02-30", user=CIO)
@example(text="risk new Superscript likelihood:² impact:2 expires:2027-01-31", user=CIO)
@example(text="risk snooze RSK-1 ²", user=CIO)
@example(text="risk snooze RSK-1 99999999999999999999", user=CIO)
@example(text="initiative show INI-99999999999999999999", user=CIO)
@example(text="risk show RSK-9223372036854775808", user=CIO)
@example(text="initiative new Nul\x00title due:2026-12-31", user=CIO)
@example(text="risk new Esc\x1b[2Jtitle likelihood:2 impact:2 expires:2027-01-31", user=CIO)
@example(text="initiative update INI-1 due:2026-02-30", user=CIO)
@example(text="disagree list ²", user=CIO)
@example(text="touchpoint done A-99999999999999999999", user=CIO)
def test_any_command_text_gets_an_answer(
    seeded: RunningAccord, errors: ErrorLog, text: str, user: str
) -> None:
    since = _start(seeded, errors)
    reply = seeded.command(text, user=user)
    _check(seeded, errors, since, reply.status, reply.body)


@FUZZ
@given(action_id=_action_id, value=_button_value, user=st.sampled_from(PEOPLE))
@example(action_id=ActionId.RISK_SNOOZE.value, value="1:99999", user=CIO)
@example(action_id=ActionId.RISK_SNOOZE.value, value="1:0", user=CIO)
@example(action_id=ActionId.RISK_SNOOZE.value, value="1:²", user=CIO)
@example(action_id=ActionId.RISK_SHOW.value, value="99999999999999999999", user=CIO)
@example(action_id=ActionId.INITIATIVE_SHOW.value, value="9223372036854775808", user=CIO)
@example(action_id=ActionId.RISK_APPROVE.value, value="9223372036854775808:1", user=CISO)
@example(action_id=ActionId.RISK_PAGE.value, value="open:99999999999999999999", user=CIO)
@example(
    action_id=ActionId.INITIATIVE_PAGE.value, value='{"f":"open","t":"\\u0000","p":1}', user=CIO
)
@example(action_id=ActionId.INITIATIVE_PAGE.value, value='{"f":"open","p":1e400}', user=CIO)
@example(action_id=ActionId.DISAGREEMENT_SHOW.value, value="²", user=CIO)
@example(action_id="escalation.option.99999999999999999999", value='{"e":1}', user=EXEC)
def test_any_button_value_gets_an_answer(
    seeded: RunningAccord, errors: ErrorLog, action_id: str, value: str, user: str
) -> None:
    since = _start(seeded, errors)
    reply = seeded.slack.block_action(action_id, value, user_id=user)
    _check(seeded, errors, since, reply.status, reply.body)


@FUZZ
@given(
    callback_id=st.sampled_from([callback.value for callback in CallbackId]),
    values=_form_values,
    metadata=_metadata,
    user=st.sampled_from(PEOPLE),
)
@example(
    callback_id=CallbackId.RISK_CREATE.value,
    values={
        "title": {"value": {"type": "plain_text_input", "value": "Impossible date"}},
        "likelihood": {"value": {"type": "static_select", "selected_option": {"value": "2"}}},
        "impact": {"value": {"type": "static_select", "selected_option": {"value": "2"}}},
        "expires": {"value": {"type": "datepicker", "selected_date": "2026-02-30"}},
    },
    metadata='{"channel": "C0COORD"}',
    user=CIO,
)
@example(
    callback_id=CallbackId.RISK_CREATE.value,
    values={
        "title": {"value": {"type": "plain_text_input", "value": "Superscript"}},
        "likelihood": {"value": {"type": "static_select", "selected_option": {"value": "²"}}},
        "impact": {"value": {"type": "static_select", "selected_option": {"value": "9"}}},
        "expires": {"value": {"type": "datepicker", "selected_date": "2027-01-31"}},
    },
    metadata='{"channel": "C0COORD"}',
    user=CIO,
)
@example(
    callback_id=CallbackId.INITIATIVE_CREATE.value,
    values={
        "title": {"value": {"type": "plain_text_input", "value": "Nul\x00in a title"}},
        "description": {"value": {"type": "plain_text_input", "value": "line 1\nline\x1b 2"}},
    },
    metadata='{"channel": "C0COORD"}',
    user=CIO,
)
@example(
    callback_id=CallbackId.INITIATIVE_EDIT.value,
    values={"due": {"value": {"type": "datepicker", "selected_date": "2026-02-30"}}},
    metadata='{"id": 99999999999999999999, "channel": "C0COORD"}',
    user=CIO,
)
@example(
    callback_id=CallbackId.RISK_REJECT.value,
    values={"reason": {"value": {"type": "plain_text_input", "value": "no"}}},
    metadata='{"id": 9223372036854775808, "round": 1}',
    user=CISO,
)
@example(
    callback_id=CallbackId.DISAGREEMENT_SNOOZE.value,
    values={"date": {"value": {"type": "datepicker", "selected_date": "2026-02-30"}}},
    metadata='{"id": 1, "channel": "C0\\u0000"}',
    user=CIO,
)
def test_any_form_submission_gets_an_answer(
    seeded: RunningAccord,
    errors: ErrorLog,
    callback_id: str,
    values: dict[str, Any],
    metadata: str,
    user: str,
) -> None:
    since = _start(seeded, errors)
    reply = seeded.slack.view_submission(
        callback_id,
        values,
        user_id=user,
        private_metadata=metadata,
        view_id=f"V{uuid.uuid4().hex[:10].upper()}",  # each submission is a new one
    )
    _check(seeded, errors, since, reply.status, reply.body)
