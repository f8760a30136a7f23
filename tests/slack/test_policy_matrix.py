"""Who may do what, through signed HTTP: every kind of entry point (commands, buttons, form
submissions) × every role. A refusal is private and changes nothing (no audit event, no
outbox row, no form opened); a permitted request does its work.

One app on SQLite serves the whole module (each case makes its own records), so the matrix
stays fast; the rules themselves are tested at the service level in tests/unit/test_policy.py.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import func, select

from bot.db import session_scope
from bot.domain.audit import AuditEvent
from bot.domain.outbox import OutboxMessage
from bot.domain.permissions import Permission, allowed, policy_table
from bot.domain.roles import Actor, Role
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import (
    ADMIN,
    ADMIN_2,
    CIO,
    CIO_2,
    CISO,
    CISO_2,
    CISO_GROUP,
    EXEC,
    EXECUTIVE_CHANNEL,
    OUTSIDER,
    RunningAccord,
    reply_text,
    running_accord,
)

BOTH = "U0BOTH1"
#: The people of the matrix. The requester asks for every risk record of a case; the owner
#: owns (for the CISO side) every initiative of a case.
PEOPLE = {
    "cio side": CIO,
    "ciso side": CISO,
    "executive": EXEC,
    "admin": ADMIN,
    "outsider": OUTSIDER,
    "requester": CIO_2,
    "owner": CISO_2,
    "both sides": BOTH,
}
PARTICIPANTS = frozenset(PEOPLE) - {"outsider"}
_NUMBERS = itertools.count(1)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAccord]:
    database = tmp_path_factory.mktemp("matrix") / "accord.db"
    with (
        FakeSlackServer() as fake,
        running_accord(
            f"sqlite:///{database}",
            fake,
            accord_cio_side=f"{CIO},{CIO_2},{BOTH}",
            accord_ciso_side=f"{CISO},{CISO_2},{CISO_GROUP},{BOTH}",
        ) as running,
    ):
        yield running


def _count(app: RunningAccord, model: type) -> int:
    with session_scope(app.services.engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def _ref(text: str, kind: str) -> int:
    found = re.search(rf"\*{kind}-(\d+)\*", text)
    assert found, text
    return int(found.group(1))


def new_risk(app: RunningAccord) -> int:
    text = app.command_text(
        f"risk new Matrix risk {next(_NUMBERS)} likelihood:2 impact:2 expires:2027-01-31",
        user=CIO_2,
    )
    return _ref(text, "RSK")


def new_initiative(app: RunningAccord) -> int:
    text = app.command_text(
        f"initiative new Matrix work {next(_NUMBERS)} ciso:<@{CISO_2}|owner>", user=CIO
    )
    return _ref(text, "INI")


def new_disagreement(app: RunningAccord) -> int:
    text = app.command_text(f'disagree "Matrix dispute {next(_NUMBERS)}" ship it now', user=CIO)
    return _ref(text, "DIS")


def escalated(app: RunningAccord) -> dict[str, Any]:
    """An escalation's brief (its first decision button) and the form EXEC opened from it."""
    number = new_disagreement(app)
    app.command_text(f"disagree position DIS-{number} not before the patch", user=CISO)
    reply = app.command_text(f"escalate DIS-{number}", user=CIO)
    ref = re.search(r"\*(ESC-\d+)\*", reply)
    assert ref, reply
    app.wait_idle()
    brief = next(
        c.body
        for c in reversed(app.fake.calls("chat.postMessage"))
        if c.body.get("channel") == EXECUTIVE_CHANNEL and ref.group(1) in str(c.body)
    )
    button = next(
        element
        for block in brief["blocks"]
        for element in block.get("elements", [])
        if str(element.get("action_id", "")).startswith("escalation.option.")
    )
    opened = len(app.fake.calls("views.open"))
    app.slack.block_action(
        button["action_id"], button["value"], user_id=EXEC, channel_id=EXECUTIVE_CHANNEL
    )
    form = app.fake.wait_for("views.open", count=opened + 1)[-1].body["view"]
    return {"button": button, "metadata": form["private_metadata"]}


def proposed_role_change(app: RunningAccord) -> int:
    """A side change proposed by the second admin, for ADMIN to confirm."""
    text = app.command_text(f"roles add ciso <@U0NEW{next(_NUMBERS)}|new>", user=ADMIN_2)
    found = re.search(r"Role change #(\d+)", text)
    assert found, text
    return int(found.group(1))


@dataclass(frozen=True)
class Answer:
    text: str
    private: bool


def command(text: str) -> Callable[[RunningAccord, str, Any], Answer]:
    def run(app: RunningAccord, user: str, setup: Any) -> Answer:
        reply = app.command(text.format(n=setup), user=user)
        assert reply.status == 200, reply.body
        payload = reply.json()
        return Answer(reply_text(payload), payload.get("response_type") != "in_channel")

    return run


def button(action_id: str, value: str) -> Callable[[RunningAccord, str, Any], Answer]:
    def run(app: RunningAccord, user: str, setup: Any) -> Answer:
        before = len(app.fake.calls("response_url"))
        reply = app.slack.block_action(action_id, value.format(n=setup), user_id=user)
        assert reply.status == 200, reply.body
        answer = app.fake.wait_for("response_url", count=before + 1)[before].body
        return Answer(reply_text(answer), answer.get("response_type") == "ephemeral")

    return run


def opens_form(
    action_id: Callable[[Any], str], value: Callable[[Any], str]
) -> Callable[[RunningAccord, str, Any], Answer]:
    """A button that opens a form for those allowed, and answers the others privately."""

    def run(app: RunningAccord, user: str, setup: Any) -> Answer:
        before = len(app.fake.calls("response_url"))
        opened = len(app.fake.calls("views.open"))
        reply = app.slack.block_action(
            action_id(setup), value(setup), user_id=user, channel_id=EXECUTIVE_CHANNEL
        )
        assert reply.status == 200, reply.body
        app.wait_idle()
        if len(app.fake.calls("views.open")) > opened:
            return Answer("opened the form", True)
        answer = app.fake.wait_for("response_url", count=before + 1)[before].body
        return Answer(reply_text(answer), answer.get("response_type") == "ephemeral")

    return run


decision_button = opens_form(
    lambda s: str(s["button"]["action_id"]), lambda s: str(s["button"]["value"])
)


def held_initiative(app: RunningAccord) -> int:
    number = new_initiative(app)
    app.command_text(f"initiative hold INI-{number} unpatched CVE", user=CISO)
    return number


def draft_risk(app: RunningAccord) -> int:
    text = app.command_text(
        f"risk new Draft {next(_NUMBERS)} likelihood:1 impact:2 expires:2027-01-31 draft:yes",
        user=CIO_2,
    )
    return _ref(text, "RSK")


def form(
    callback_id: str, values: dict[str, Any], metadata: Callable[[Any], str]
) -> Callable[[RunningAccord, str, Any], Answer]:
    def run(app: RunningAccord, user: str, setup: Any) -> Answer:
        reply = app.slack.view_submission(
            callback_id,
            values,
            user_id=user,
            private_metadata=metadata(setup),
            view_id=f"V{next(_NUMBERS)}",
        )
        assert reply.status == 200, reply.body
        payload = reply.json()
        if payload.get("response_action") == "errors":  # shown on the form, to them alone
            return Answer(":warning: " + " ".join(payload["errors"].values()), True)
        return Answer("submitted", True)

    return run


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[RunningAccord], Any]
    act: Callable[[RunningAccord, str, Any], Answer]
    allowed: frozenset[str]
    #: A permitted request leaves an audit event (writes, exports) or only answers (reads).
    writes: bool = True
    #: What a permitted answer contains.
    expect: str = ""
    #: The policy's permission when the record adds no limit, so the README table's columns
    #: for the plain roles must say the same as this case (`test_the_matrix_is_the_table`).
    permission: Permission | None = None


def _nothing(_app: RunningAccord) -> None:
    return None


REASON = {"reason": {"value": {"type": "plain_text_input", "value": "controls are too weak"}}}
RATIONALE = {"rationale": {"value": {"type": "plain_text_input", "value": "patch first"}}}
APPROVERS = frozenset({"cio side", "ciso side", "owner"})
CISO_SIDE = frozenset({"ciso side", "owner", "both sides"})

EVERYONE = frozenset(PEOPLE)
SIDES = frozenset({"cio side", "ciso side", "requester", "owner", "both sides"})
# Someone also on the CIO side never lifts a CISO hold, whatever else they are.
RELEASERS = (CISO_SIDE - {"both sides"}) | {"executive"}


def _meta(number: int) -> str:
    return json.dumps({"id": number, "channel": ""})


CASES = [
    Case("whoami", _nothing, command("whoami"), EVERYONE, writes=False, expect="<@"),
    Case("help", _nothing, command("help"), EVERYONE, writes=False, expect="/accord"),
    Case(
        "initiative new",
        _nothing,
        command("initiative new Matrix made"),
        PARTICIPANTS,
        expect="INI-",
        permission=Permission.INITIATIVE_CREATE,
    ),
    Case(
        "initiative release",
        held_initiative,
        command("initiative release INI-{n} patched"),
        RELEASERS,
        expect="INI-",
    ),
    Case(
        "risk new",
        _nothing,
        command("risk new Mine likelihood:1 impact:1 expires:2027-01-31"),
        PARTICIPANTS,
        expect="Requested",
        permission=Permission.RISK_REQUEST,
    ),
    Case(
        "risk submit",
        draft_risk,
        command("risk submit RSK-{n}"),
        frozenset({"requester", "executive", "admin"}),
        expect="Submitted",
    ),
    Case(
        "risk revoke",
        new_risk,
        command("risk revoke RSK-{n} no longer needed"),
        frozenset({"cio side", "ciso side", "admin", "requester", "owner", "both sides"}),
        expect="Revoked",
    ),
    # Someone on both sides must say which side they speak for (`as:cio`), so is refused.
    Case(
        "disagree",
        _nothing,
        command('disagree "Matrix raised" keep it'),
        SIDES - {"both sides"},
        expect="DIS-",
    ),
    Case(
        "escalate",
        new_disagreement,
        command("escalate DIS-{n}"),
        PARTICIPANTS,
        expect="ESC-",
        permission=Permission.ESCALATE,
    ),
    Case(
        "audit verify",
        _nothing,
        command("audit verify"),
        frozenset({"admin"}),
        writes=False,
        expect="verif",
        permission=Permission.AUDIT_VERIFY,
    ),
    Case(
        "roles cancel",
        proposed_role_change,
        command("roles cancel {n}"),
        frozenset({"admin"}),
        expect="cancelled",
        permission=Permission.MANAGE_ROLES,
    ),
    Case(
        "button: hold",
        new_initiative,
        opens_form(lambda _: "initiative.hold", lambda n: str(n)),
        CISO_SIDE,
        writes=False,
        expect="opened the form",
        permission=Permission.HOLD_PLACE,
    ),
    Case(
        "button: release",
        held_initiative,
        opens_form(lambda _: "initiative.release", lambda n: str(n)),
        RELEASERS,
        writes=False,
        expect="opened the form",
    ),
    Case(
        "button: edit initiative",
        new_initiative,
        opens_form(lambda _: "initiative.edit", lambda n: str(n)),
        frozenset({"cio side", "owner", "executive", "admin"}),
        writes=False,
        expect="opened the form",
    ),
    Case(
        "button: reject risk",
        new_risk,
        opens_form(lambda _: "risk.reject", lambda n: f"{n}:1"),
        APPROVERS,
        writes=False,
        expect="opened the form",
    ),
    Case(
        "form: hold",
        new_initiative,
        form("initiative.hold", REASON, _meta),
        CISO_SIDE,
        expect="submitted",
        permission=Permission.HOLD_PLACE,
    ),
    Case(
        "form: release",
        held_initiative,
        form("initiative.release", REASON, _meta),
        RELEASERS,
        expect="submitted",
    ),
    Case(
        "risk list",
        _nothing,
        command("risk list all"),
        PARTICIPANTS,
        writes=False,
        expect="risk acceptances",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "risk export",
        _nothing,
        command("risk export json"),
        PARTICIPANTS,
        expect="on its way to your DM",
        permission=Permission.REGISTER_EXPORT,
    ),
    Case(
        "audit",
        _nothing,
        command("audit"),
        PARTICIPANTS,
        writes=False,
        expect="Latest changes",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "risk audit",
        new_risk,
        command("risk audit RSK-{n}"),
        PARTICIPANTS,
        writes=False,
        expect="Audit trail",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "digest preview",
        _nothing,
        command("digest preview"),
        PARTICIPANTS,
        writes=False,
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "risk approve",
        new_risk,
        command("risk approve RSK-{n}"),
        APPROVERS,
        expect="You approved",
        permission=Permission.RISK_APPROVE,
    ),
    Case(
        "risk update title",
        new_risk,
        command('risk update RSK-{n} title:"Renamed"'),
        frozenset({"requester", "executive", "admin"}),
        expect="Updated",
    ),
    Case(
        "initiative hold",
        new_initiative,
        command("initiative hold INI-{n} unpatched CVE"),
        CISO_SIDE,
        expect="hold",
        permission=Permission.HOLD_PLACE,
    ),
    Case(
        "initiative update",
        new_initiative,
        command("initiative update INI-{n} health:red"),
        frozenset({"cio side", "owner", "executive", "admin"}),
        expect="INI-",
    ),
    Case(
        "disagree security impact",
        new_disagreement,
        command('disagree update DIS-{n} security:"card data exposure"'),
        CISO_SIDE,
        expect="DIS-",
    ),
    Case(
        "disagree business impact",
        new_disagreement,
        command('disagree update DIS-{n} business:"EUR 2M a month"'),
        frozenset({"cio side", "requester", "both sides"}),
        expect="DIS-",
    ),
    Case(
        "roles add",
        _nothing,
        command("roles add cio <@U0NEWCIO|n>"),
        frozenset({"admin"}),
        expect="waits for a second admin",
        permission=Permission.MANAGE_ROLES,
    ),
    Case(
        "button: approve",
        new_risk,
        button("risk.approve", "{n}:1"),
        APPROVERS,
        expect="You approved",
        permission=Permission.RISK_APPROVE,
    ),
    Case(
        "button: show risk",
        new_risk,
        button("risk.show", "{n}"),
        PARTICIPANTS,
        writes=False,
        expect="RSK-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "button: confirm role change",
        proposed_role_change,
        button("roles.confirm", "{n}"),
        frozenset({"admin"}),
        expect="is in effect",
    ),
    Case(
        "button: escalation option",
        escalated,
        decision_button,
        frozenset({"executive"}),
        writes=False,
        expect="opened the form",
    ),
    Case(
        "form: reject risk",
        new_risk,
        form("risk.reject", REASON, lambda n: json.dumps({"id": n, "round": 1, "channel": ""})),
        APPROVERS,
        expect="submitted",
    ),
    Case(
        "form: decide escalation",
        escalated,
        form("escalation.decide", RATIONALE, lambda s: str(s["metadata"])),
        frozenset({"executive"}),
        expect="submitted",
    ),
]


@pytest.mark.parametrize("who", list(PEOPLE))
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_role_matrix(app: RunningAccord, case: Case, who: str) -> None:
    setup = case.setup(app)
    app.wait_idle()
    before = (_count(app, AuditEvent), _count(app, OutboxMessage))
    forms_opened = len(app.fake.calls("views.open"))
    answer = case.act(app, PEOPLE[who], setup)
    app.wait_idle()
    after = (_count(app, AuditEvent), _count(app, OutboxMessage))
    if who in case.allowed:
        assert ":warning:" not in answer.text, answer.text
        assert case.expect in answer.text, answer.text
        if case.writes:
            assert after[0] > before[0], f"{case.name} by {who} recorded nothing"
        return
    assert ":warning:" in answer.text, f"{case.name} by {who} was not refused: {answer.text}"
    assert answer.private, f"{case.name} refused {who} in public"
    assert after == before, f"{case.name} by {who} changed something although refused"
    assert len(app.fake.calls("views.open")) == forms_opened


PLAIN = {
    "cio side": frozenset({Role.CIO}),
    "ciso side": frozenset({Role.CISO}),
    "executive": frozenset({Role.EXECUTIVE}),
    "admin": frozenset({Role.ADMIN}),
    "outsider": frozenset(),
}


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.permission], ids=[c.name for c in CASES if c.permission]
)
def test_the_matrix_is_the_table(case: Case) -> None:
    """What the HTTP matrix found for the plain roles is what the README table says."""
    assert case.permission is not None
    table = {
        who
        for who, roles in PLAIN.items()
        if allowed(Actor(user_id="U0TABLE", roles=roles), case.permission)
    }
    assert table == case.allowed & set(PLAIN)


def test_the_readme_table_is_generated_from_the_policy() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert policy_table() in readme
