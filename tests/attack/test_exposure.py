"""Accepted exposure by ATT&CK tactic, in Slack, the digest, the review pack and a Navigator
layer, from records made through signed HTTP."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from bot.db import session_scope
from bot.domain.attack.exposure import accepted_in_force, navigator_layer
from bot.domain.attack.service import current_catalogue
from bot.export.review import review_markdown
from bot.slack.digest_delivery import make_digest
from tests.harness import CIO, CISO, CISO_2, DIGEST_CHANNEL, RunningAccord, reply_text
from tests.slack.test_risks import approve_button
from tests.test_cli import run


def accepted(accord: RunningAccord, number: int, command: str) -> None:
    """Requested by the CISO side, approved by one person of each side."""
    assert f"Requested *RSK-{number}*" in accord.command_text(command, user=CISO)
    value = approve_button(accord, number)
    for user in (CIO, CISO_2):
        assert accord.slack.block_action("risk.approve", value, user_id=user).status == 200
    accord.wait_idle()
    assert "accepted" in accord.command_text(f"risk show RSK-{number}", user=CISO)


def seed(accord: RunningAccord) -> None:
    today = accord.clock.now().date()
    soon = (today + timedelta(days=20)).isoformat()
    later = (today + timedelta(days=80)).isoformat()
    accepted(accord, 1, f"risk new VPN likelihood:3 impact:3 expires:{later} attack:T1078,T1133")
    accepted(accord, 2, f"risk new Mail likelihood:2 impact:4 expires:{soon} attack:T1566.001")
    accepted(accord, 3, f"risk new Old NAS likelihood:2 impact:2 expires:{later}")
    # pending (never approved) and revoked records leave nothing accepted
    accord.command_text(f"risk new Pending likelihood:5 impact:4 expires:{soon} attack:T1486")
    accepted(accord, 5, f"risk new Gone likelihood:4 impact:4 expires:{soon} attack:T1190")
    accord.command_text("risk revoke RSK-5 system retired", user=CISO)
    accepted(
        accord, 6, f"risk new Shared VPN login likelihood:2 impact:2 expires:{later} attack:T1078"
    )


def test_exposure_digest_review_pack_and_layer(accord: RunningAccord) -> None:
    seed(accord)
    text = accord.command_text("risk exposure", user=CIO)
    assert "Accepted exposure by ATT&CK tactic (4 in force)" in text
    assert "*Initial Access* — 3 accepted · :hourglass: 1 expiring · highest score 9" in text
    assert "RSK-1, RSK-2, RSK-6" in text
    assert "*Persistence* — 2 accepted · highest score 9" in text
    assert "*No technique named* — 1 accepted · highest score 4" in text
    assert "Impact" not in text.split("Accepted exposure")[1]  # RSK-4 pending, RSK-5 revoked

    accord.command("digest now", user=CIO)
    posted = reply_text(accord.posts_in(DIGEST_CHANNEL)[0].body)
    assert "Accepted exposure by ATT&amp;CK tactic" in posted
    assert "Initial Access: 3 accepted, 1 expiring within 30 days, highest score 9" in posted
    pack = review_markdown(make_digest(accord.services, accord.clock.now()))
    assert "## Accepted exposure by ATT&CK tactic" in pack
    assert "- Initial Access: 3 accepted, 1 expiring within 30 days, highest score 9" in pack

    with session_scope(accord.services.engine) as session:
        layer = navigator_layer(
            accepted_in_force(session, today=accord.clock.now().date()),
            catalogue=current_catalogue(session),
            today=accord.clock.now().date(),
        )
    check_layer(json.loads(json.dumps(layer)))


def check_layer(layer: dict[str, object]) -> None:
    assert {"name", "versions", "domain"} <= set(layer)
    assert layer["domain"] == "enterprise-attack"
    assert layer["versions"] == {"attack": "18", "navigator": "5.1.0", "layer": "4.5"}
    techniques = layer["techniques"]
    assert isinstance(techniques, list)
    ids = [t["techniqueID"] for t in techniques]
    assert ids == ["T1078", "T1133", "T1566.001"]  # each once; revoked RSK-5's T1190 absent
    scores = {t["techniqueID"]: t["score"] for t in techniques}
    assert scores == {"T1078": 9, "T1133": 9, "T1566.001": 8}
    comments = {t["techniqueID"]: t["comment"] for t in techniques}
    assert comments["T1078"] == "Accepted in RSK-1 (9), RSK-6 (4)"  # once, the highest score
    assert comments["T1566.001"] == "Accepted in RSK-2 (8)"


def test_expired_acceptances_leave_the_layer(accord_sqlite: RunningAccord, tmp_path: Path) -> None:
    accord = accord_sqlite
    today = accord.clock.now().date()
    accepted(
        accord,
        1,
        f"risk new VPN likelihood:3 impact:3 expires:{today + timedelta(days=3)} attack:T1078",
    )
    with session_scope(accord.services.engine) as session:
        catalogue = current_catalogue(session)
        now_layer = navigator_layer(
            accepted_in_force(session, today=today), catalogue=catalogue, today=today
        )
        later = today + timedelta(days=4)
        later_layer = navigator_layer(
            accepted_in_force(session, today=later), catalogue=catalogue, today=later
        )
    assert [t["techniqueID"] for t in now_layer["techniques"]] == ["T1078"]
    assert later_layer["techniques"] == []


def test_export_attack_layer_command_writes_a_layer_file(tmp_path: Path) -> None:
    database = tmp_path / "accord.db"
    assert run(["db", "upgrade", "--database", str(database)], cwd=tmp_path).returncode == 0
    output = tmp_path / "layer.json"
    done = run(
        ["export", "attack-layer", "--output", str(output), "--database", str(database)],
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "(0 techniques)" in done.stderr
    layer = json.loads(output.read_text())
    assert layer["versions"]["layer"] == "4.5" and layer["techniques"] == []
