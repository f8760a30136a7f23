"""ATT&CK techniques through the signed-HTTP path: refused with suggestions, shown by name."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Option, PlainTextObject

from tests.harness import CISO, RunningAccord

NEW = "risk new Legacy VPN likelihood:3 impact:4 expires:2027-01-31"


def test_unknown_and_revoked_ids_are_refused_and_names_are_shown(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    unknown = accord.command_text(f"{NEW} attack:T1078,T1999", user=CISO)
    assert "`T1999` is not a technique in ATT&amp;CK Enterprise v18.1" in unknown
    assert "Closest: `T1" in unknown
    revoked = accord.command_text(f"{NEW} attack:T1002", user=CISO)
    assert "is revoked" in revoked and "Use `T1560` Archive Collected Data instead" in revoked
    created = accord.command_text(f"{NEW} attack:T1078.004,T1566", user=CISO)
    assert "Requested *RSK-1*" in created
    shown = accord.command_text("risk show RSK-1", user=CISO)
    assert "`T1078.004` Cloud Accounts (Defense Evasion, Persistence" in shown
    assert "`T1566` Phishing (Initial Access)" in shown
    listed = accord.command_text("risk list open", user=CISO)
    assert "ATT&amp;CK: `T1078.004` Cloud Accounts, `T1566` Phishing" in listed


def suggestions(accord: RunningAccord, typed: str) -> list[dict[str, Any]]:
    reply = accord.slack.interactive(
        {
            "type": "block_suggestion",
            "user": {"id": CISO, "name": "ciso"},
            "team": {"id": "T0TEAM"},
            "api_app_id": "A0APP",
            "token": "legacy",
            "container": {"type": "view", "view_id": "V0RISK"},
            "view": {"id": "V0RISK", "type": "modal", "callback_id": "risk.create"},
            "block_id": "attack",
            "action_id": "value",
            "value": typed,
        }
    )
    assert reply.status == 200, reply.body
    options: list[dict[str, Any]] = reply.json()["options"]
    for option in options:
        assert option["text"]["type"] == "plain_text"
        Option(
            value=option["value"], text=PlainTextObject(text=option["text"]["text"])
        ).validate_json()
        assert len(option["text"]["text"]) <= 75
    assert len(options) <= 100
    return options


def test_the_form_picks_techniques_by_id_or_name(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    accord.command("risk", user=CISO)
    view = accord.fake.wait_for("views.open")[0].body["view"]
    picker = next(b for b in view["blocks"] if b["block_id"] == "attack")
    assert picker["element"]["type"] == "multi_external_select"
    by_name = suggestions(accord, "phish")
    assert {"T1566", "T1566.001", "T1598"} <= {o["value"] for o in by_name}
    assert by_name[0]["text"]["text"] == "T1566 Phishing"
    by_id = suggestions(accord, "t1078")
    assert [o["value"] for o in by_id][:2] == ["T1078", "T1078.001"]
    assert suggestions(accord, "T1002") == []  # revoked: not offered
    assert len(suggestions(accord, "a")) == 100
    assert suggestions(accord, "x" * 5000) == []
    picked = [{"value": "T1566.001", "text": {"type": "plain_text", "text": "T1566.001"}}]
    values = {
        "title": {"value": {"type": "plain_text_input", "value": "Mail gateway bypass"}},
        "likelihood": {"value": {"type": "static_select", "selected_option": {"value": "2"}}},
        "impact": {"value": {"type": "static_select", "selected_option": {"value": "3"}}},
        "expires": {"value": {"type": "datepicker", "selected_date": "2027-01-15"}},
        "attack": {"value": {"type": "multi_external_select", "selected_options": picked}},
    }
    ok = accord.slack.view_submission("risk.create", values, user_id=CISO)
    assert ok.status == 200
    shown = accord.command_text("risk show RSK-1", user=CISO)
    assert "`T1566.001` Spearphishing Attachment (Initial Access)" in shown
