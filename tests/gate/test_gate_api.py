"""The gate API over real HTTP: tokens, held and allowed answers, the audit trail, bad input."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlmodel import select

from bot.db import session_scope
from bot.domain.audit import AuditEvent
from bot.domain.gate.models import GateCheck, GateToken
from tests.fakes.slack_api import TEAM_DOMAIN
from tests.gate.helpers import Answer, call, new_token
from tests.harness import ADMIN, CIO, CISO, COORDINATION, RunningAccord


def gate(accord: RunningAccord, token: str | None, service: str, environment: str) -> Answer:
    query = urlencode({"service": service, "environment": environment})
    return call(accord.root_url, "GET", f"/api/v1/gate?{query}", token=token)


def test_a_hold_stops_what_its_initiative_covers_and_its_release_frees_it(
    accord: RunningAccord,
) -> None:
    token = new_token(accord)
    accord.command_text(
        "initiative new Patch the edge covers:payments-api@*,ledger@production", user=CISO
    )
    accord.command_text("initiative new Unrelated covers:ledger@staging", user=CISO)
    assert gate(accord, token, "payments-api", "production").json() == {
        "allowed": True,
        "holds": [],
    }
    accord.command_text("initiative hold INI-1 unpatched CVE-2026-1234 on the edge", user=CISO)
    (announcement,) = [m for m in accord.fake.messages_in(COORDINATION) if "INI-1" in m["text"]]
    permalink = (
        f"https://{TEAM_DOMAIN}.slack.com/archives/{COORDINATION}/"
        f"p{announcement['ts'].replace('.', '')}"
    )

    held = gate(accord, token, "payments-api", "production")
    assert held.status == 200
    assert held.json() == {
        "allowed": False,
        "holds": [
            {
                "initiative": "INI-1",
                "title": "Patch the edge",
                "reason": "unpatched CVE-2026-1234 on the edge",
                "placed_by": CISO,
                "placed_at": "2026-11-25T10:00:00Z",
                "link": permalink,  # the hold's announcement in Slack
            }
        ],
    }
    assert gate(accord, token, "Payments-API", "staging").json()["allowed"] is False  # `*`
    assert gate(accord, token, "ledger", "production").json()["allowed"] is False
    assert gate(accord, token, "ledger", "staging").json()["allowed"] is True  # INI-2: no hold
    assert gate(accord, token, "billing", "production").json()["allowed"] is True

    accord.command_text("initiative release INI-1 patched and verified", user=CISO)
    assert gate(accord, token, "payments-api", "production").json()["allowed"] is True


def test_each_recorded_check_is_an_audit_event(accord: RunningAccord) -> None:
    token = new_token(accord, "gitlab")
    accord.command_text("initiative new Patch covers:payments-api@production", user=CISO)
    accord.command_text("initiative hold INI-1 leaked signing key", user=CISO)
    attempt = {
        "service": "payments-api",
        "environment": "production",
        "version": "v1.4.2",
        "pipeline_url": "https://gitlab.example.com/acme/payments/-/pipelines/42",
    }
    blocked = call(accord.root_url, "POST", "/api/v1/gate/checks", token=token, payload=attempt)
    assert blocked.status == 200
    assert blocked.json()["allowed"] is False
    assert blocked.json()["holds"][0]["reason"] == "leaked signing key"
    free = call(
        accord.root_url,
        "POST",
        "/api/v1/gate/checks",
        token=token,
        payload={"service": "payments-api", "environment": "staging"},
    )
    assert free.json()["allowed"] is True

    with session_scope(accord.services.engine) as session:
        events = list(
            session.exec(
                select(AuditEvent)
                .where(AuditEvent.record_ref.startswith("GATE-"))  # type: ignore[attr-defined]
                .order_by(AuditEvent.id)  # type: ignore[arg-type]
            )
        )
        checks = list(session.exec(select(GateCheck).order_by(GateCheck.id)))  # type: ignore[arg-type]
    assert [(e.record_ref, e.action, e.actor_id) for e in events] == [
        (f"GATE-{checks[0].id}", "gate.blocked", "api:gitlab"),
        (f"GATE-{checks[1].id}", "gate.allowed", "api:gitlab"),
    ]
    assert events[0].after is not None
    assert events[0].after["version"] == "v1.4.2"
    assert events[0].after["held_by"] == ["INI-1"]
    assert events[0].after["pipeline_url"] == attempt["pipeline_url"]
    assert "GATE-" in accord.command_text("audit")
    status = accord.command_text("gate status")
    assert status.index("`payments-api@staging`") < status.index("`payments-api@production`")
    assert "`payments-api@production` · `v1.4.2` · :no_entry: *blocked* by INI-1" in status
    assert "<https://gitlab.example.com/acme/payments/-/pipelines/42|pipeline>" in status


def test_missing_wrong_and_revoked_tokens_get_401_and_nothing_else(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    token = new_token(accord)
    attempt = {"service": "payments-api", "environment": "production"}
    refused = [
        call(accord.root_url, "POST", "/api/v1/gate/checks", payload=attempt),
        call(accord.root_url, "POST", "/api/v1/gate/checks", token=token + "x", payload=attempt),
        call(
            accord.root_url,
            "POST",
            "/api/v1/gate/checks",
            payload=attempt,
            headers={"Authorization": f"Basic {token}"},
        ),
    ]
    assert [answer.status for answer in refused] == [401, 401, 401]
    assert refused[0].json() == {"error": "A valid gate token is required."}
    assert refused[0].headers["www-authenticate"].startswith("Bearer")
    # Without a token even malformed input gets 401: nothing is revealed before the token.
    for query in ("service=%00", "service=%ff&environment=prod", ""):
        assert call(accord.root_url, "GET", f"/api/v1/gate?{query}").status == 401

    assert "is revoked" in accord.command_text("gate token revoke ci", user=ADMIN)
    revoked = call(accord.root_url, "POST", "/api/v1/gate/checks", token=token, payload=attempt)
    assert revoked.status == 401
    assert revoked.json() == {"error": "A valid gate token is required."}
    with session_scope(accord.services.engine) as session:
        assert session.exec(select(GateCheck)).first() is None


def test_tokens_are_for_admins_and_the_ciso_side_and_only_their_hash_is_kept(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    refused = accord.command_text("gate token new ci", user=CIO)
    assert "Only Accord admins and the CISO side can manage deployment gate tokens" in refused
    secret = new_token(accord, "github-prod", user=CISO)
    assert "not shown again" in accord.replies[-1].body
    assert accord.replies[-1].json()["response_type"] == "ephemeral"
    assert "already a gate token named `github-prod`" in accord.command_text(
        "gate token new github-prod", user=CISO
    )
    with session_scope(accord.services.engine) as session:
        stored = session.exec(select(GateToken)).one()
        assert secret not in repr(stored.model_dump())
        assert len(stored.token_hash) == 64

    listed = accord.command_text("gate token list", user=CISO)
    assert "*github-prod*" in listed and "last used never" in listed
    assert secret not in listed
    accord.clock.advance(minutes=5)
    assert gate(accord, secret, "payments-api", "production").status == 200
    listed = accord.command_text("gate token list", user=CISO)
    assert "last used 2026-11-25 10:05 UTC" in listed


def test_bad_input_gets_400_with_a_json_error(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    token = new_token(accord)
    root = accord.root_url
    cases = [
        call(root, "GET", "/api/v1/gate?service=payments-api", token=token),
        call(root, "GET", "/api/v1/gate?service=pay%20ments&environment=prod", token=token),
        call(root, "GET", "/api/v1/gate?service=a&environment=*", token=token),
        call(root, "GET", "/api/v1/gate?service=%ff&environment=prod", token=token),
        call(root, "GET", "/api/v1/gate?service=a&environment=b&colour=red", token=token),
        call(root, "POST", "/api/v1/gate/checks", token=token, raw=b"[1,2"),
        call(root, "POST", "/api/v1/gate/checks", token=token, payload=["a"]),
        call(
            root,
            "POST",
            "/api/v1/gate/checks",
            token=token,
            payload={"service": "a", "environment": "b", "colour": "red"},
        ),
        call(
            root,
            "POST",
            "/api/v1/gate/checks",
            token=token,
            payload={"service": "a", "environment": "b", "version": "v" * 201},
        ),
    ]
    assert [answer.status for answer in cases] == [400] * len(cases)
    assert all(set(answer.json()) == {"error"} for answer in cases)
    assert "environment" in cases[0].json()["error"]
    assert call(root, "GET", "/api/v1/nothing", token=token).status == 404
    wrong_method = call(root, "DELETE", "/api/v1/gate/checks", token=token)
    assert wrong_method.status == 405 and wrong_method.headers["allow"] == "POST"
    document = call(root, "GET", "/api/v1/openapi.json").json()
    assert set(document["paths"]) == {"/api/v1/gate", "/api/v1/gate/checks"}


def test_text_postgresql_cannot_store_is_accepted_not_a_500(accord: RunningAccord) -> None:
    token = new_token(accord)
    answer = call(
        accord.root_url,
        "POST",
        "/api/v1/gate/checks",
        token=token,
        payload={"service": "a", "environment": "b", "version": "v1\x00", "pipeline_url": "ü"},
    )
    assert answer.status == 200 and answer.json()["allowed"] is True


def test_the_home_tab_counts_deployments_blocked_this_week(accord_sqlite: RunningAccord) -> None:
    import json

    accord = accord_sqlite
    token = new_token(accord)
    accord.command_text("initiative new Patch covers:payments-api@*", user=CISO)
    accord.command_text("initiative hold INI-1 leaked key", user=CISO)
    attempt = {"service": "payments-api", "environment": "production"}
    for _ in range(2):
        call(accord.root_url, "POST", "/api/v1/gate/checks", token=token, payload=attempt)

    def home() -> str:
        seen = len(accord.fake.calls("views.publish"))
        accord.slack.event({"type": "app_home_opened", "user": CIO, "tab": "home"})
        return json.dumps(accord.fake.wait_for("views.publish", count=seen + 1)[seen].body)

    assert "2 deployments blocked this week* by INI-1 (2)" in home()
    accord.clock.advance(days=8)
    assert "blocked this week" not in home()
