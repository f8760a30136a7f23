"""Records as people read them: the digest's "what changed" names each record's title and who
acted, groups repeated events, and names the records needing attention; the review pack is
plain Markdown and takes `--since`; the risk export names approvers beside their ids."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.export.review import md, review_markdown
from bot.slack.digest_delivery import make_digest
from tests.harness import CIO, CISO, CISO_2, COORDINATION, RunningAccord, reply_text
from tests.slack.test_risks import approve_button, click


def preview(accord: RunningAccord) -> str:
    before = len(accord.fake.calls("response_url"))
    accord.command("digest preview")
    return reply_text(accord.fake.wait_for("response_url", before + 2)[-1].body)


def seed(accord: RunningAccord) -> None:
    accord.fake.add_user(CIO, name="ann", real_name="Ann Lee")
    accord.fake.add_user(CISO, name="bo", real_name="Bo Chen")
    accord.command("initiative new Roll out MFA due:2026-12-31 #iam")
    accord.command("initiative new Segment the OT network")
    accord.command("initiative update INI-2 status:active health:red")
    for topic in ("VPN appliance", "Badge readers", "Patch window"):
        accord.command_text(f'initiative update INI-2 description:"{topic}"')
    accord.command("initiative hold INI-1 unpatched VPN appliance", user=CISO)
    accord.posts_in(COORDINATION)
    accord.wait_idle()


def test_what_changed_names_titles_and_people_and_groups_repeats(accord: RunningAccord) -> None:
    seed(accord)
    text = preview(accord)
    changed = text[text.index("What changed") :]
    assert "*INI-1* Roll out MFA — hold placed" in changed and "by Bo Chen" in changed
    assert "*INI-2* Segment the OT network — updated ×4 (description, health, status)" in changed
    assert "by Ann Lee" in changed
    assert "4 initiative updated" in changed  # the totals in words
    for raw in ("initiative.hold_placed", "hold_placed", "initiative.updated", CIO, CISO):
        assert raw not in changed, raw  # no Python values, no ids
    assert changed.count("INI-2* Segment the OT network — updated") == 1  # four updates, a line


def test_the_digest_names_red_held_overdue_and_expiring_records(accord: RunningAccord) -> None:
    seed(accord)
    accord.command("initiative new Retire the fax gateway due:2026-11-26")
    accord.command("risk new Old TLS likelihood:1 impact:2 expires:2026-12-05", user=CISO)
    value = approve_button(accord)
    click(accord, "risk.approve", value, CISO_2)
    click(accord, "risk.approve", value, CIO)
    accord.command("risk new Far away likelihood:1 impact:2 expires:2027-06-01", user=CISO)
    far = approve_button(accord, 2)
    click(accord, "risk.approve", far, CISO_2)
    click(accord, "risk.approve", far, CIO)
    accord.clock.advance(days=3)  # 2026-11-28: INI-3 is overdue, RSK-1 expires within 14 days
    text = preview(accord)
    attention = text[text.index("Needs attention") : text.index("What changed")]
    assert "*RSK-1* Old TLS — expires 2026-12-05" in attention
    assert "RSK-2" not in attention
    assert "*INI-1* Roll out MFA — on security hold" in attention
    assert "*INI-2* Segment the OT network — red" in attention
    assert "*INI-3* Retire the fax gateway — overdue (due 2026-11-26)" in attention

    pack = review_markdown(make_digest(accord.services, accord.clock.now()))
    assert "## Needs attention" in pack and "- INI-2 Segment the OT network — red" in pack


def test_the_review_pack_is_plain_markdown_and_takes_since(
    accord_sqlite: RunningAccord, tmp_path: Path
) -> None:
    accord = accord_sqlite
    seed(accord)
    pack = review_markdown(make_digest(accord.services, accord.clock.now()))
    assert "\\(" not in pack and "\\=" not in pack and "\\#iam" not in pack
    assert "- 2026-11-25 INI-1 Roll out MFA — hold placed (hold reason, on hold) by Bo Chen" in pack
    assert md("open 90–180 days: 2 (=)") == "open 90–180 days: 2 (=)"
    assert md("R&D (phase 2) #iam") == "R&D (phase 2) #iam"

    # `accord export review` names people through Slack's users.info when it has a token
    env = {
        "DATABASE_URL": accord.services.settings.database_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_API_BASE_URL": accord.fake.base_url,
    }
    runner = CliRunner()
    later = runner.invoke(app, ["export", "review", "--since", "2030-01-01"], env=env)
    assert later.exit_code == 0, later.output
    assert "_Changes since 2030-01-01 00:00 UTC." in later.stdout
    assert "Nothing changed since the last digest." in later.stdout
    earlier = runner.invoke(app, ["export", "review", "--since", "2026-11-01"], env=env)
    assert earlier.exit_code == 0, earlier.output
    assert "INI-1 Roll out MFA — hold placed (hold reason, on hold) by Bo Chen" in earlier.stdout
    wrong = runner.invoke(app, ["export", "review", "--since", "last week"], env=env)
    assert wrong.exit_code != 0 and "--since 2026-11-01" in wrong.output


def test_the_risk_export_names_approvers_beside_their_ids(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    accord.fake.add_user(CISO, name="bo", real_name="Bo Chen")
    accord.fake.add_user(CISO_2, name="cy", real_name="Cy Diaz")
    accord.fake.add_user(CIO, name="ann", real_name="Ann Lee")
    accord.command("risk new Legacy VPN likelihood:3 impact:4 expires:2027-01-31", user=CISO)
    value = approve_button(accord)
    click(accord, "risk.approve", value, CISO_2)
    click(accord, "risk.approve", value, CIO)

    assert "on its way to your DM" in accord.command_text("risk export json", user=CIO)
    accord.fake.wait_for("files.completeUploadExternal")
    [uploaded] = accord.fake.uploaded_files().values()
    [record] = json.loads(uploaded.decode())["risks"]
    assert record["requested_by"] == CISO and record["requested_by_name"] == "Bo Chen"
    assert {(a["approver"], a["approver_name"]) for a in record["approvals"]} == {
        (CISO_2, "Cy Diaz"),
        (CIO, "Ann Lee"),
    }
    assert record["rounds"][0]["requested_by_name"] == "Bo Chen"
    assert record["updated_by_name"] == {CIO: "Ann Lee", CISO: "Bo Chen"}[record["updated_by"]]

    env = {
        "DATABASE_URL": accord.services.settings.database_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_API_BASE_URL": accord.fake.base_url,
    }
    result = CliRunner().invoke(app, ["export", "risks", "--format", "csv"], env=env)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {(r["approver"], r["approver_name"]) for r in rows} == {
        (CISO_2, "Cy Diaz"),
        (CIO, "Ann Lee"),
    }
    assert {r["requested_by_name"] for r in rows} == {"Bo Chen"}


def test_the_latest_changes_feed_names_each_records_title(accord: RunningAccord) -> None:
    accord.command("initiative new Roll out MFA #iam")
    accord.command("risk new Legacy VPN likelihood:3 impact:4 expires:2027-01-31", user=CISO)
    accord.command_text('disagree "Cloud region" the US region is cheaper')
    feed = accord.command_text("audit")
    assert "*INI-1* Roll out MFA created by" in feed
    assert "*RSK-1* Legacy VPN requested by" in feed
    assert "*DIS-1* Cloud region" in feed
