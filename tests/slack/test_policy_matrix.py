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
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from sqlmodel import func, select

from bot.db import session_scope
from bot.domain.audit import AuditEvent
from bot.domain.disagreements import Disagreement
from bot.domain.outbox import OutboxMessage
from bot.domain.permissions import Permission, allowed, policy_table
from bot.domain.roles import Actor, Role
from bot.slack.app import build_app
from bot.slack.commands import NOUNS
from bot.slack.ids import ActionId, CallbackId
from tests.fakes.slack_api import FakeSlackServer
from tests.harness import (
    ADMIN,
    ADMIN_2,
    CIO,
    CIO_2,
    CISO,
    CISO_2,
    CISO_GROUP,
    COORDINATION,
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


def _fill(template: str, setup: Any) -> str:
    """`{n}` in a command, button value or expected answer is what the case's setup made."""
    return template.replace("{n}", str(setup))


@dataclass(frozen=True)
class Answer:
    text: str
    private: bool


def command(text: str) -> Callable[[RunningAccord, str, Any], Answer]:
    def run(app: RunningAccord, user: str, setup: Any) -> Answer:
        path = f"/respond/matrix{next(_NUMBERS)}"
        reply = app.command(_fill(text, setup), user=user, response_url=app.fake.root_url + path)
        assert reply.status == 200, reply.body
        payload = reply.json()
        if not reply_text(payload).strip():  # the answer follows the ack (a digest preview)
            app.wait_idle()
            later = [c.body for c in app.fake.calls("response_url") if c.path == path]
            payload = later[-1] if later else payload
        return Answer(reply_text(payload), payload.get("response_type") != "in_channel")

    return run


def button(action_id: str, value: str) -> Callable[[RunningAccord, str, Any], Answer]:
    def run(app: RunningAccord, user: str, setup: Any) -> Answer:
        before = len(app.fake.calls("response_url"))
        reply = app.slack.block_action(action_id, _fill(value, setup), user_id=user)
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


def new_touchpoint(app: RunningAccord) -> int:
    text = app.command_text(
        f"touchpoint new Matrix meeting {next(_NUMBERS)} every:weekly at:09:00 "
        f"with:<@{CIO}|cio>,<@{CISO}|ciso>",
        user=CIO,
    )
    return _ref(text, "TP")


def paused_touchpoint(app: RunningAccord) -> int:
    number = new_touchpoint(app)
    app.command_text(f"touchpoint pause TP-{number}", user=CIO)
    return number


def touchpoint_action(app: RunningAccord) -> int:
    """An action item of a new series, owned by the CISO side."""
    number = new_touchpoint(app)
    text = app.command_text(
        f"touchpoint action TP-{number} Patch the edge owner:<@{CISO}|ciso>", user=CIO
    )
    found = re.search(r"\bA-(\d+)\b", text)
    assert found, text
    return int(found.group(1))


def new_threat(app: RunningAccord) -> int:
    text = app.command_text(f"threat add Matrix threat {next(_NUMBERS)} severity:high", user=CISO)
    return _ref(text, "THR")


def accepted_risk(app: RunningAccord) -> int:
    number = new_risk(app)
    app.command_text(f"risk approve RSK-{number}", user=CIO)
    app.command_text(f"risk approve RSK-{number}", user=CISO)
    return number


def covered_hold(app: RunningAccord) -> int:
    """An initiative on hold that blocks payments@production."""
    text = app.command_text(
        f"initiative new Gated {next(_NUMBERS)} ciso:<@{CISO_2}|owner> covers:payments@production",
        user=CIO,
    )
    number = _ref(text, "INI")
    app.command_text(f"initiative hold INI-{number} unpatched CVE", user=CISO)
    return number


def gate_token(app: RunningAccord) -> str:
    name = f"matrix-{next(_NUMBERS)}"
    app.command_text(f"gate token new {name}", user=ADMIN)
    return name


def token_name(_app: RunningAccord) -> str:
    return f"matrix-{next(_NUMBERS)}"


def positioned(app: RunningAccord) -> int:
    """A disagreement with both sides' positions (ready to settle or escalate)."""
    number = new_disagreement(app)
    app.command_text(f"disagree position DIS-{number} not before the patch", user=CISO)
    return number


def proposed_settlement(app: RunningAccord) -> str:
    """A settlement the CIO side proposed; the CISO side's button confirms it."""
    number = positioned(app)
    app.command_text(f"disagree settle DIS-{number} ship behind the WAF", user=CIO)
    with session_scope(app.services.engine) as session:
        found = session.get(Disagreement, number)
        assert found is not None
        return json.dumps({"d": number, "v": found.settle_version})


def escalation(app: RunningAccord) -> int:
    number = positioned(app)
    reply = app.command_text(f"escalate DIS-{number}", user=CIO)
    found = re.search(r"\*ESC-(\d+)\*", reply)
    assert found, reply
    return int(found.group(1))


def confirmed_grant(app: RunningAccord) -> str:
    """Someone given the CISO side by two admins, for `roles remove`."""
    user = f"U0GRANT{next(_NUMBERS)}"
    text = app.command_text(f"roles add ciso <@{user}|granted>", user=ADMIN_2)
    found = re.search(r"Role change #(\d+)", text)
    assert found, text
    app.command_text(f"roles confirm {found.group(1)}", user=ADMIN)
    return user


def command_opens_form(text: str) -> Callable[[RunningAccord, str, Any], Answer]:
    """A command that opens a form for those allowed, and answers the others privately."""

    def run(app: RunningAccord, user: str, setup: Any) -> Answer:
        opened = len(app.fake.calls("views.open"))
        reply = app.command(_fill(text, setup), user=user, trigger_id=f"t{next(_NUMBERS)}")
        assert reply.status == 200, reply.body
        app.wait_idle()
        if len(app.fake.calls("views.open")) > opened:
            return Answer("opened the form", True)
        payload = reply.json()
        return Answer(reply_text(payload), payload.get("response_type") != "in_channel")

    return run


@dataclass(frozen=True)
class Case:
    name: str
    #: The entry point walked: `/noun verb` (or `/noun` alone), `button <action id>`,
    #: `form <callback id>`; `test_every_entry_point_has_a_case` wants every one of them.
    entry: str
    setup: Callable[[RunningAccord], Any]
    act: Callable[[RunningAccord, str, Any], Answer]
    allowed: frozenset[str]
    #: A permitted request leaves an audit event (writes, exports) or only answers (reads).
    writes: bool = True
    #: What a permitted answer contains.
    expect: str = ""
    #: The policy's permission, so the README table's columns for the plain roles must say
    #: the same as this case (`test_the_matrix_is_the_table`)...
    permission: Permission | None = None
    #: ... or, where the record narrows it (its answerable people, a hold's side), no more.
    narrowed_by_record: bool = False


def _nothing(_app: RunningAccord) -> None:
    return None


def _text(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


REASON = {"reason": _text("controls are too weak")}
RATIONALE = {"rationale": _text("patch first")}
APPROVERS = frozenset({"cio side", "ciso side", "owner"})
CISO_SIDE = frozenset({"ciso side", "owner", "both sides"})
CIO_SIDE = frozenset({"cio side", "requester", "both sides"})

EVERYONE = frozenset(PEOPLE)
SIDES = frozenset({"cio side", "ciso side", "requester", "owner", "both sides"})
# Someone also on the CIO side never lifts a CISO hold, whatever else they are.
RELEASERS = (CISO_SIDE - {"both sides"}) | {"executive"}
#: The people answerable for a matrix initiative (its creator and CISO owner), and those
#: who may act on any record.
INITIATIVE_STEWARDS = frozenset({"cio side", "owner", "executive", "admin"})
RISK_STEWARDS = frozenset({"requester", "executive", "admin"})
READERS = PARTICIPANTS
THREAT_RECORDERS = frozenset({"ciso side", "owner", "both sides", "admin"})
GATE_KEEPERS = frozenset({"ciso side", "owner", "both sides", "admin"})


def _meta(number: int) -> str:
    return json.dumps({"id": number, "channel": ""})


TOUCHPOINT_FORM = {
    "tp_name": _text("Matrix review"),
    "tp_participants": {"value": {"type": "multi_users_select", "selected_users": [CIO, CISO]}},
    "tp_channel": {"value": {"type": "channels_select", "selected_channel": COORDINATION}},
    "tp_every": {"value": {"type": "static_select", "selected_option": {"value": "monthly"}}},
    "tp_time": {"value": {"type": "timepicker", "selected_time": "16:30"}},
    "tp_first": {"value": {"type": "datepicker", "selected_date": "2027-01-14"}},
}
RISK_FORM = {
    "title": _text("Shared admin account"),
    "likelihood": {"value": {"type": "static_select", "selected_option": {"value": "2"}}},
    "impact": {"value": {"type": "static_select", "selected_option": {"value": "3"}}},
    "expires": {"value": {"type": "datepicker", "selected_date": "2027-01-31"}},
}
THREAT_FORM = {
    "title": _text("Edge VPN exploited"),
    "severity": {"value": {"type": "static_select", "selected_option": {"value": "critical"}}},
}
DEFER_FORM = {
    "date": {"value": {"type": "datepicker", "selected_date": "2026-12-10"}},
    "rationale": _text("board meeting first"),
}


def _json(**values: Any) -> Callable[[Any], str]:
    return lambda _: json.dumps(values)


def _tp_button(number: int) -> str:
    return json.dumps({"o": 1, "s": number})


CASES = [
    # -- general ---------------------------------------------------------------------------
    Case("whoami", "/whoami", _nothing, command("whoami"), EVERYONE, writes=False, expect="<@"),
    Case("help", "/help", _nothing, command("help"), EVERYONE, writes=False, expect="/accord"),
    Case(
        "audit",
        "/audit",
        _nothing,
        command("audit"),
        READERS,
        writes=False,
        expect="Latest changes",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "audit verify",
        "/audit verify",
        _nothing,
        command("audit verify"),
        frozenset({"admin"}),
        writes=False,
        expect="verif",
        permission=Permission.AUDIT_VERIFY,
    ),
    Case(
        "roles",
        "/roles",
        _nothing,
        command("roles"),
        EVERYONE,
        writes=False,
        expect="Who is on each side",
    ),
    Case(
        "roles list",
        "/roles list",
        _nothing,
        command("roles list"),
        EVERYONE,
        writes=False,
        expect="Who is on each side",
    ),
    Case(
        "roles add",
        "/roles add",
        _nothing,
        command("roles add cio <@U0NEWCIO|n>"),
        frozenset({"admin"}),
        expect="waits for a second admin",
        permission=Permission.MANAGE_ROLES,
    ),
    Case(
        "roles remove",
        "/roles remove",
        confirmed_grant,
        command("roles remove ciso <@{n}|granted>"),
        frozenset({"admin"}),
        expect="waits for a second admin",
        permission=Permission.MANAGE_ROLES,
    ),
    Case(
        "roles confirm",
        "/roles confirm",
        proposed_role_change,
        command("roles confirm {n}"),
        frozenset({"admin"}),
        expect="is in effect",
        permission=Permission.MANAGE_ROLES,
    ),
    Case(
        "roles cancel",
        "/roles cancel",
        proposed_role_change,
        command("roles cancel {n}"),
        frozenset({"admin"}),
        expect="cancelled",
        permission=Permission.MANAGE_ROLES,
    ),
    Case(
        "button: confirm role change",
        "button roles.confirm",
        proposed_role_change,
        button("roles.confirm", "{n}"),
        frozenset({"admin"}),
        expect="is in effect",
        permission=Permission.MANAGE_ROLES,
    ),
    # -- initiatives -----------------------------------------------------------------------
    Case(
        "initiative form",
        "/initiative",
        _nothing,
        command_opens_form("initiative"),
        PARTICIPANTS,
        writes=False,
        expect="opened the form",
        permission=Permission.INITIATIVE_CREATE,
    ),
    Case(
        "initiative new",
        "/initiative new",
        _nothing,
        command("initiative new Matrix made"),
        PARTICIPANTS,
        expect="INI-",
        permission=Permission.INITIATIVE_CREATE,
    ),
    Case(
        "initiative list",
        "/initiative list",
        new_initiative,
        command("initiative list all"),
        EVERYONE,
        writes=False,
        expect="INI-",
    ),
    Case(
        "initiative show",
        "/initiative show",
        new_initiative,
        command("initiative show INI-{n}"),
        EVERYONE,
        writes=False,
        expect="INI-",
    ),
    Case(
        "initiative update",
        "/initiative update",
        new_initiative,
        command("initiative update INI-{n} health:red"),
        INITIATIVE_STEWARDS,
        expect="INI-",
        permission=Permission.INITIATIVE_EDIT,
        narrowed_by_record=True,
    ),
    # Taking systems out of a hold's reach: an answerable person who may also narrow a hold.
    Case(
        "initiative update narrowing a hold",
        "/initiative update",
        covered_hold,
        command("initiative update INI-{n} covers:none"),
        frozenset({"owner", "executive"}),
        expect="INI-",
        permission=Permission.HOLD_NARROW,
        narrowed_by_record=True,
    ),
    Case(
        "initiative hold",
        "/initiative hold",
        new_initiative,
        command("initiative hold INI-{n} unpatched CVE"),
        CISO_SIDE,
        expect="hold",
        permission=Permission.HOLD_PLACE,
    ),
    Case(
        "initiative release",
        "/initiative release",
        held_initiative,
        command("initiative release INI-{n} patched"),
        RELEASERS,
        expect="INI-",
        permission=Permission.HOLD_RELEASE,
    ),
    Case(
        "initiative audit",
        "/initiative audit",
        new_initiative,
        command("initiative audit INI-{n}"),
        READERS,
        writes=False,
        expect="INI-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "button: show initiative",
        "button initiative.show",
        new_initiative,
        button("initiative.show", "{n}"),
        EVERYONE,
        writes=False,
        expect="INI-",
    ),
    Case(
        "button: initiatives page",
        "button initiative.page",
        new_initiative,
        button("initiative.page.next", json.dumps({"f": "all", "p": 1})),
        EVERYONE,
        writes=False,
        expect="INI-",
    ),
    Case(
        "button: initiative audit",
        "button initiative.audit",
        new_initiative,
        button("initiative.audit", "{n}"),
        READERS,
        writes=False,
        expect="INI-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "button: hold",
        "button initiative.hold",
        new_initiative,
        opens_form(lambda _: "initiative.hold", lambda n: str(n)),
        CISO_SIDE,
        writes=False,
        expect="opened the form",
        permission=Permission.HOLD_PLACE,
    ),
    Case(
        "button: release",
        "button initiative.release",
        held_initiative,
        opens_form(lambda _: "initiative.release", lambda n: str(n)),
        RELEASERS,
        writes=False,
        expect="opened the form",
        permission=Permission.HOLD_RELEASE,
    ),
    Case(
        "button: edit initiative",
        "button initiative.edit",
        new_initiative,
        opens_form(lambda _: "initiative.edit", lambda n: str(n)),
        INITIATIVE_STEWARDS,
        writes=False,
        expect="opened the form",
        permission=Permission.INITIATIVE_EDIT,
        narrowed_by_record=True,
    ),
    Case(
        "form: create initiative",
        "form initiative.create",
        _nothing,
        form("initiative.create", {"title": _text("Made in a form")}, _json(channel="")),
        PARTICIPANTS,
        expect="submitted",
        permission=Permission.INITIATIVE_CREATE,
    ),
    Case(
        "form: edit initiative",
        "form initiative.edit",
        new_initiative,
        form("initiative.edit", {"title": _text("Renamed in a form")}, _meta),
        INITIATIVE_STEWARDS,
        expect="submitted",
        permission=Permission.INITIATIVE_EDIT,
        narrowed_by_record=True,
    ),
    Case(
        "form: hold",
        "form initiative.hold",
        new_initiative,
        form("initiative.hold", REASON, _meta),
        CISO_SIDE,
        expect="submitted",
        permission=Permission.HOLD_PLACE,
    ),
    Case(
        "form: release",
        "form initiative.release",
        held_initiative,
        form("initiative.release", REASON, _meta),
        RELEASERS,
        expect="submitted",
        permission=Permission.HOLD_RELEASE,
    ),
    # -- the deployment gate ---------------------------------------------------------------
    Case(
        "gate status",
        "/gate status",
        _nothing,
        command("gate status"),
        READERS,
        writes=False,
        permission=Permission.REGISTER_READ,
        expect="Deployment gate",
    ),
    Case(
        "gate override",
        "/gate override",
        covered_hold,
        command("gate override INI-{n} payments@production 2h hotfix for the outage"),
        frozenset({"executive"}),
        expect="INI-",
        permission=Permission.GATE_OVERRIDE,
    ),
    Case(
        "gate token new",
        "/gate token",
        token_name,
        command("gate token new {n}"),
        GATE_KEEPERS,
        expect="{n}",
        permission=Permission.GATE_TOKENS_MANAGE,
    ),
    Case(
        "gate token list",
        "/gate token",
        gate_token,
        command("gate token list"),
        GATE_KEEPERS,
        writes=False,
        expect="matrix-",
        permission=Permission.GATE_TOKENS_MANAGE,
    ),
    Case(
        "gate token revoke",
        "/gate token",
        gate_token,
        command("gate token revoke {n}"),
        GATE_KEEPERS,
        expect="{n}",
        permission=Permission.GATE_TOKENS_MANAGE,
    ),
    # -- touchpoints -----------------------------------------------------------------------
    Case(
        "touchpoint form",
        "/touchpoint",
        _nothing,
        command_opens_form("touchpoint"),
        PARTICIPANTS,
        writes=False,
        expect="opened the form",
        permission=Permission.TOUCHPOINT_MANAGE,
    ),
    Case(
        "touchpoint new",
        "/touchpoint new",
        _nothing,
        command(f"touchpoint new Made every:weekly at:09:00 with:<@{CIO}|a>,<@{CISO}|b>"),
        PARTICIPANTS,
        expect="TP-",
        permission=Permission.TOUCHPOINT_MANAGE,
    ),
    Case(
        "touchpoint update",
        "/touchpoint update",
        new_touchpoint,
        command("touchpoint update TP-{n} at:10:00"),
        PARTICIPANTS,
        expect="TP-",
        permission=Permission.TOUCHPOINT_MANAGE,
    ),
    Case(
        "touchpoint list",
        "/touchpoint list",
        new_touchpoint,
        command("touchpoint list"),
        READERS,
        writes=False,
        expect="TP-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "touchpoint show",
        "/touchpoint show",
        new_touchpoint,
        command("touchpoint show TP-{n}"),
        READERS,
        writes=False,
        expect="TP-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "touchpoint ics",
        "/touchpoint ics",
        new_touchpoint,
        command("touchpoint ics TP-{n}"),
        READERS,
        writes=False,
        expect=".ics",
        permission=Permission.REGISTER_READ,
    ),
    *(
        Case(
            f"touchpoint {verb}",
            f"/touchpoint {verb}",
            setup,
            command(f"touchpoint {verb} TP-{{n}}{rest}"),
            PARTICIPANTS,
            expect="TP-",
            permission=Permission.TOUCHPOINT_MANAGE,
        )
        for verb, setup, rest in (
            ("pause", new_touchpoint, ""),
            ("resume", paused_touchpoint, ""),
            ("cancel", new_touchpoint, ""),
            ("skip", new_touchpoint, ""),
            ("add", new_touchpoint, " VPN vendor renewal"),
            ("action", new_touchpoint, f" Draft the exception owner:<@{CISO}|ciso>"),
            ("decision", new_touchpoint, " Freeze firewall changes"),
        )
    ),
    Case(
        "touchpoint reassign",
        "/touchpoint reassign",
        touchpoint_action,
        command(f"touchpoint reassign A-{{n}} owner:<@{CISO_2}|owner>"),
        PARTICIPANTS,
        expect="A-",
        permission=Permission.TOUCHPOINT_MANAGE,
    ),
    Case(
        "touchpoint done",
        "/touchpoint done",
        touchpoint_action,
        command("touchpoint done A-{n}"),
        PARTICIPANTS,
        expect="A-",
        permission=Permission.TOUCHPOINT_MANAGE,
    ),
    Case(
        "button: capture an action",
        "button touchpoint.action",
        new_touchpoint,
        opens_form(lambda _: "touchpoint.action", _tp_button),
        PARTICIPANTS,
        writes=False,
        expect="opened the form",
        permission=Permission.TOUCHPOINT_MANAGE,
    ),
    Case(
        "button: capture a decision",
        "button touchpoint.decision",
        new_touchpoint,
        opens_form(lambda _: "touchpoint.decision", _tp_button),
        PARTICIPANTS,
        writes=False,
        expect="opened the form",
        permission=Permission.TOUCHPOINT_MANAGE,
    ),
    Case(
        "button: touchpoints page",
        "button touchpoint.page",
        new_touchpoint,
        button("touchpoint.page.next", json.dumps({"a": 0, "p": 1})),
        READERS,
        writes=False,
        expect="TP-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "form: create touchpoint",
        "form touchpoint.create",
        _nothing,
        form("touchpoint.create", TOUCHPOINT_FORM, _json(channel="")),
        PARTICIPANTS,
        expect="submitted",
        permission=Permission.TOUCHPOINT_MANAGE,
    ),
    Case(
        "form: capture an action",
        "form touchpoint.action",
        new_touchpoint,
        form(
            "touchpoint.action",
            {
                "tp_text": _text("Patch the edge"),
                "tp_owner": {"value": {"type": "users_select", "selected_user": CISO}},
            },
            _meta,
        ),
        PARTICIPANTS,
        expect="submitted",
        permission=Permission.TOUCHPOINT_MANAGE,
    ),
    Case(
        "form: capture a decision",
        "form touchpoint.decision",
        new_touchpoint,
        form("touchpoint.decision", {"tp_text": _text("Freeze firewall changes")}, _meta),
        PARTICIPANTS,
        expect="submitted",
        permission=Permission.TOUCHPOINT_MANAGE,
    ),
    # -- risks -----------------------------------------------------------------------------
    Case(
        "risk form",
        "/risk",
        _nothing,
        command_opens_form("risk"),
        PARTICIPANTS,
        writes=False,
        expect="opened the form",
        permission=Permission.RISK_REQUEST,
    ),
    Case(
        "risk new",
        "/risk new",
        _nothing,
        command("risk new Mine likelihood:1 impact:1 expires:2027-01-31"),
        PARTICIPANTS,
        expect="Requested",
        permission=Permission.RISK_REQUEST,
    ),
    Case(
        "risk list",
        "/risk list",
        _nothing,
        command("risk list all"),
        READERS,
        writes=False,
        expect="risk acceptances",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "risk exposure",
        "/risk exposure",
        accepted_risk,
        command("risk exposure"),
        READERS,
        writes=False,
        permission=Permission.REGISTER_READ,
        expect="Accepted exposure",
    ),
    Case(
        "risk show",
        "/risk show",
        new_risk,
        command("risk show RSK-{n}"),
        READERS,
        writes=False,
        expect="RSK-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "risk approve",
        "/risk approve",
        new_risk,
        command("risk approve RSK-{n}"),
        APPROVERS,
        expect="You approved",
        permission=Permission.RISK_APPROVE,
    ),
    Case(
        "risk reject",
        "/risk reject",
        new_risk,
        command("risk reject RSK-{n} controls are not enough"),
        APPROVERS,
        expect="RSK-",
        permission=Permission.RISK_APPROVE,
    ),
    Case(
        "risk revoke",
        "/risk revoke",
        new_risk,
        command("risk revoke RSK-{n} no longer needed"),
        frozenset({"cio side", "ciso side", "admin", "requester", "owner", "both sides"}),
        expect="Revoked",
        permission=Permission.RISK_REVOKE,
    ),
    Case(
        "risk renew",
        "/risk renew",
        accepted_risk,
        command("risk renew RSK-{n} expires:2027-06-30"),
        RISK_STEWARDS,
        expect="RSK-",
        permission=Permission.RISK_CHANGE,
        narrowed_by_record=True,
    ),
    Case(
        "risk update title",
        "/risk update",
        new_risk,
        command('risk update RSK-{n} title:"Renamed"'),
        RISK_STEWARDS,
        expect="Updated",
        permission=Permission.RISK_CHANGE,
        narrowed_by_record=True,
    ),
    Case(
        "risk submit",
        "/risk submit",
        draft_risk,
        command("risk submit RSK-{n}"),
        RISK_STEWARDS,
        expect="Submitted",
        permission=Permission.RISK_CHANGE,
        narrowed_by_record=True,
    ),
    Case(
        "risk snooze",
        "/risk snooze",
        accepted_risk,
        command("risk snooze RSK-{n} 7"),
        RISK_STEWARDS,
        expect="snoozed",
        permission=Permission.RISK_CHANGE,
        narrowed_by_record=True,
    ),
    Case(
        "risk export",
        "/risk export",
        _nothing,
        command("risk export json"),
        READERS,
        expect="on its way to your DM",
        permission=Permission.REGISTER_EXPORT,
    ),
    Case(
        "risk audit",
        "/risk audit",
        new_risk,
        command("risk audit RSK-{n}"),
        READERS,
        writes=False,
        expect="Audit trail",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "button: approve",
        "button risk.approve",
        new_risk,
        button("risk.approve", "{n}:1"),
        APPROVERS,
        expect="You approved",
        permission=Permission.RISK_APPROVE,
    ),
    Case(
        "button: reject risk",
        "button risk.reject",
        new_risk,
        opens_form(lambda _: "risk.reject", lambda n: f"{n}:1"),
        APPROVERS,
        writes=False,
        expect="opened the form",
        permission=Permission.RISK_APPROVE,
    ),
    Case(
        "button: show risk",
        "button risk.show",
        new_risk,
        button("risk.show", "{n}"),
        READERS,
        writes=False,
        expect="RSK-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "button: snooze risk",
        "button risk.snooze",
        accepted_risk,
        button("risk.snooze", "{n}:7"),
        RISK_STEWARDS,
        expect="snoozed",
        permission=Permission.RISK_CHANGE,
        narrowed_by_record=True,
    ),
    Case(
        "button: risks page",
        "button risk.page",
        new_risk,
        button("risk.page.next", "all:1"),
        READERS,
        writes=False,
        expect="RSK-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "form: request risk",
        "form risk.create",
        _nothing,
        form("risk.create", RISK_FORM, _json(channel="")),
        PARTICIPANTS,
        expect="submitted",
        permission=Permission.RISK_REQUEST,
    ),
    Case(
        "form: reject risk",
        "form risk.reject",
        new_risk,
        form("risk.reject", REASON, lambda n: json.dumps({"id": n, "round": 1, "channel": ""})),
        APPROVERS,
        expect="submitted",
        permission=Permission.RISK_APPROVE,
    ),
    # -- threat briefs ---------------------------------------------------------------------
    Case(
        "threat form",
        "/threat",
        _nothing,
        command_opens_form("threat"),
        THREAT_RECORDERS,
        writes=False,
        expect="opened the form",
        permission=Permission.THREAT_RECORD,
    ),
    Case(
        "threat add",
        "/threat add",
        _nothing,
        command("threat add Phishing wave severity:high"),
        THREAT_RECORDERS,
        expect="THR-",
        permission=Permission.THREAT_RECORD,
    ),
    Case(
        "threat list",
        "/threat list",
        new_threat,
        command("threat list"),
        READERS,
        writes=False,
        expect="THR-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "threat show",
        "/threat show",
        new_threat,
        command("threat show THR-{n}"),
        READERS,
        writes=False,
        expect="THR-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "threat close",
        "/threat close",
        new_threat,
        command("threat close THR-{n}"),
        THREAT_RECORDERS,
        expect="Closed",
        permission=Permission.THREAT_RECORD,
    ),
    Case(
        "form: record threat",
        "form threat.create",
        _nothing,
        form("threat.create", THREAT_FORM, _json(channel="")),
        THREAT_RECORDERS,
        expect="submitted",
        permission=Permission.THREAT_RECORD,
    ),
    # -- disagreements and escalations -----------------------------------------------------
    # Someone on both sides must say which side they speak for (`as:cio`), so is refused.
    Case(
        "disagree",
        "/disagree",
        _nothing,
        command('disagree "Matrix raised" keep it'),
        SIDES - {"both sides"},
        expect="DIS-",
        permission=Permission.DISAGREEMENT_RAISE,
    ),
    Case(
        "disagree new",
        "/disagree new",
        _nothing,
        command('disagree new "Matrix raised" keep it'),
        SIDES - {"both sides"},
        expect="DIS-",
        permission=Permission.DISAGREEMENT_RAISE,
    ),
    Case(
        "disagree list",
        "/disagree list",
        new_disagreement,
        command("disagree list all"),
        READERS,
        writes=False,
        expect="DIS-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "disagree show",
        "/disagree show",
        new_disagreement,
        command("disagree show DIS-{n}"),
        READERS,
        writes=False,
        expect="DIS-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "disagree position",
        "/disagree position",
        new_disagreement,
        command("disagree position DIS-{n} not before the patch"),
        SIDES - {"both sides"},
        expect="DIS-",
        permission=Permission.DISAGREEMENT_RAISE,
    ),
    Case(
        "disagree security impact",
        "/disagree update",
        new_disagreement,
        command('disagree update DIS-{n} security:"card data exposure"'),
        CISO_SIDE,
        expect="DIS-",
        permission=Permission.DISAGREEMENT_RAISE,
        narrowed_by_record=True,
    ),
    Case(
        "disagree business impact",
        "/disagree update",
        new_disagreement,
        command('disagree update DIS-{n} business:"EUR 2M a month"'),
        CIO_SIDE,
        expect="DIS-",
        permission=Permission.DISAGREEMENT_RAISE,
        narrowed_by_record=True,
    ),
    Case(
        "disagree settle",
        "/disagree settle",
        positioned,
        command("disagree settle DIS-{n} ship behind the WAF"),
        SIDES - {"both sides"},
        expect="DIS-",
        permission=Permission.DISAGREEMENT_RAISE,
    ),
    Case(
        "disagree withdraw",
        "/disagree withdraw",
        new_disagreement,
        command("disagree withdraw DIS-{n} vendor patched it"),
        CIO_SIDE,  # the side that raised it
        expect="DIS-",
        permission=Permission.DISAGREEMENT_RAISE,
        narrowed_by_record=True,
    ),
    Case(
        "escalate",
        "/escalate",
        new_disagreement,
        command("escalate DIS-{n}"),
        PARTICIPANTS,
        expect="ESC-",
        permission=Permission.ESCALATE,
    ),
    Case(
        "escalate list",
        "/escalate list",
        escalation,
        command("escalate list all"),
        READERS,
        writes=False,
        expect="ESC-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "escalate show",
        "/escalate show",
        escalation,
        command("escalate show ESC-{n}"),
        READERS,
        writes=False,
        expect="ESC-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "button: show disagreement",
        "button disagreement.show",
        new_disagreement,
        button("disagreement.show", "{n}"),
        READERS,
        writes=False,
        expect="DIS-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "button: disagreements page",
        "button disagreement.page",
        new_disagreement,
        button("disagreement.page.next", json.dumps({"p": 1, "all": True})),
        READERS,
        writes=False,
        expect="DIS-",
        permission=Permission.REGISTER_READ,
    ),
    Case(
        "button: state the CISO position",
        "button disagreement.position",
        new_disagreement,
        opens_form(lambda _: "disagreement.position.ciso", lambda n: str(n)),
        CISO_SIDE,
        writes=False,
        expect="opened the form",
        permission=Permission.DISAGREEMENT_RAISE,
        narrowed_by_record=True,
    ),
    Case(
        "button: confirm settlement",
        "button disagreement.settle",
        proposed_settlement,
        button("disagreement.settle", "{n}"),
        CISO_SIDE - {"both sides"},
        expect="DIS-",
        permission=Permission.DISAGREEMENT_RAISE,
        narrowed_by_record=True,
    ),
    Case(
        "button: escalate now",
        "button disagreement.escalate",
        positioned,
        button("disagreement.escalate", "{n}"),
        PARTICIPANTS,
        expect="ESC-",
        permission=Permission.ESCALATE,
    ),
    Case(
        "button: snooze disagreement",
        "button disagreement.snooze",
        new_disagreement,
        opens_form(lambda _: "disagreement.snooze", lambda n: str(n)),
        SIDES,
        writes=False,
        expect="opened the form",
        permission=Permission.DISAGREEMENT_RAISE,
    ),
    Case(
        "button: escalation option",
        "button escalation.option",
        escalated,
        decision_button,
        frozenset({"executive"}),
        writes=False,
        expect="opened the form",
        permission=Permission.ESCALATION_DECIDE,
    ),
    Case(
        "button: more information",
        "button escalation.more_info",
        escalation,
        opens_form(lambda _: "escalation.more_info", lambda n: str(n)),
        frozenset({"executive"}),
        writes=False,
        expect="opened the form",
        permission=Permission.ESCALATION_DECIDE,
    ),
    Case(
        "button: defer",
        "button escalation.defer",
        escalation,
        opens_form(lambda _: "escalation.defer", lambda n: str(n)),
        frozenset({"executive"}),
        writes=False,
        expect="opened the form",
        permission=Permission.ESCALATION_DECIDE,
    ),
    Case(
        "form: CISO position",
        "form disagreement.position",
        new_disagreement,
        form(
            "disagreement.position",
            {"position": _text("not before the patch")},
            lambda n: json.dumps({"id": n, "side": "ciso", "channel": ""}),
        ),
        CISO_SIDE,
        expect="submitted",
        permission=Permission.DISAGREEMENT_RAISE,
        narrowed_by_record=True,
    ),
    Case(
        "form: snooze disagreement",
        "form disagreement.snooze",
        new_disagreement,
        form("disagreement.snooze", {"reason": _text("vendor fix next week")}, _meta),
        SIDES,
        expect="submitted",
        permission=Permission.DISAGREEMENT_RAISE,
    ),
    Case(
        "form: decide escalation",
        "form escalation.decide",
        escalated,
        form("escalation.decide", RATIONALE, lambda s: str(s["metadata"])),
        frozenset({"executive"}),
        expect="submitted",
        permission=Permission.ESCALATION_DECIDE,
    ),
    Case(
        "form: ask for more information",
        "form escalation.more_info",
        escalation,
        form("escalation.more_info", {"rationale": _text("What does a delay cost?")}, _meta),
        frozenset({"executive"}),
        expect="submitted",
        permission=Permission.ESCALATION_DECIDE,
    ),
    Case(
        "form: defer escalation",
        "form escalation.defer",
        escalation,
        form("escalation.defer", DEFER_FORM, _meta),
        frozenset({"executive"}),
        expect="submitted",
        permission=Permission.ESCALATION_DECIDE,
    ),
    # -- the digest ------------------------------------------------------------------------
    Case(
        "digest",
        "/digest",
        _nothing,
        command("digest"),
        READERS,
        writes=False,
        permission=Permission.REGISTER_READ,
        expect="Accord digest — preview",
    ),
    Case(
        "digest preview",
        "/digest preview",
        _nothing,
        command("digest preview"),
        READERS,
        writes=False,
        permission=Permission.REGISTER_READ,
        expect="Accord digest — preview",
    ),
    Case(
        "digest now",
        "/digest now",
        _nothing,
        command("digest now again"),
        PARTICIPANTS,
        writes=False,  # the digest itself goes out after the answer
        permission=Permission.DIGEST_SEND,
        expect="The digest is on its way",
    ),
]


_SHARED_SETUPS: dict[str, Any] = {}


def _setup(app: RunningAccord, case: Case) -> Any:
    """A fresh record per role for a case that changes it; one for all roles of a case that
    only reads it (or opens a form on it), to keep the matrix fast."""
    if case.writes:
        return case.setup(app)
    if case.name not in _SHARED_SETUPS:
        _SHARED_SETUPS[case.name] = case.setup(app)
    return _SHARED_SETUPS[case.name]


@pytest.mark.parametrize("who", list(PEOPLE))
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_role_matrix(app: RunningAccord, case: Case, who: str) -> None:
    setup = _setup(app, case)
    app.wait_idle()
    before = (_count(app, AuditEvent), _count(app, OutboxMessage))
    forms_opened = len(app.fake.calls("views.open"))
    answer = case.act(app, PEOPLE[who], setup)
    app.wait_idle()
    after = (_count(app, AuditEvent), _count(app, OutboxMessage))
    if who in case.allowed:
        assert ":warning:" not in answer.text, answer.text
        assert _fill(case.expect, setup) in answer.text, answer.text
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
    """What the HTTP matrix found for the plain roles is what the README table says (or,
    where the record narrows the permission, nobody the table refuses)."""
    assert case.permission is not None
    table = {
        who
        for who, roles in PLAIN.items()
        if allowed(Actor(user_id="U0TABLE", roles=roles), case.permission)
    }
    found = case.allowed & set(PLAIN)
    if case.narrowed_by_record:
        assert found and found <= table, (found, table)
    else:
        assert found == table


def test_every_row_of_the_table_is_walked() -> None:
    walked = {case.permission for case in CASES if case.permission}
    assert [p.value for p in Permission if p not in walked] == []


def _entry_points(app: RunningAccord) -> set[str]:
    """Every command verb (and noun alone), and every button and form with a listener of its
    own (asked of bolt's matchers, so a listener registered anywhere counts)."""
    entries = {f"/{noun.name}" for noun in NOUNS if noun.bare is not None}
    entries |= {f"/{noun.name} {verb.name}" for noun in NOUNS for verb in noun.verbs}
    bolt = build_app(app.services, client=WebClient(token="xoxb-matrix"), signing_secret="m")

    def handled(body: dict[str, Any], unknown: dict[str, Any]) -> bool:
        def matches(listener: Any, payload: dict[str, Any]) -> bool:
            return bool(
                listener.matches(
                    req=BoltRequest(body=payload, mode="socket_mode"), resp=BoltResponse(status=200)
                )
            )

        return any(
            matches(listener, body) and not matches(listener, unknown)  # not the fallback
            for listener in bolt._listeners
        )

    def action(action_id: str) -> dict[str, Any]:
        return {"type": "block_actions", "actions": [{"action_id": action_id, "block_id": "b"}]}

    def view(callback_id: str) -> dict[str, Any]:
        return {"type": "view_submission", "view": {"type": "modal", "callback_id": callback_id}}

    for action_id in ActionId:
        forms = (action_id.value, *(f"{action_id.value}.{tail}" for tail in ("0", "cio", "next")))
        if any(handled(action(name), action("zz.unknown")) for name in forms):
            entries.add(f"button {action_id.value}")
    for callback_id in CallbackId:
        if handled(view(callback_id.value), view("zz.unknown")):
            entries.add(f"form {callback_id.value}")
    return entries


def test_every_entry_point_has_a_case(app: RunningAccord) -> None:
    """A new verb, button or form without a case here fails, so the matrix cannot fall
    behind what Accord accepts."""
    entries = _entry_points(app)
    cases = {case.entry for case in CASES}
    assert sorted(entries - cases) == [], "entry points without a case"
    assert sorted(cases - entries) == [], "cases for entry points that do not exist"
    # Every button and form id Accord renders has a listener (none answers "out of date").
    ids = {f"button {a.value}" for a in ActionId} | {f"form {c.value}" for c in CallbackId}
    assert sorted(ids - entries) == []


def test_the_readme_table_is_generated_from_the_policy() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert policy_table() in readme
