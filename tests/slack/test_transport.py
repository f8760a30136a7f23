"""What every request path must guarantee: signatures, retries, modals, Slack failures, health."""

from __future__ import annotations

import json
import time
import urllib.request
from urllib.parse import urlencode

from sqlmodel import func, select

from bot.db import session_scope
from bot.domain.initiatives import Initiative
from tests.harness import CIO, CISO, COORDINATION, RunningAccord, mrkdwn_texts, reply_text


def initiatives(accord: RunningAccord) -> int:
    with session_scope(accord.services.engine) as session:
        return int(session.exec(select(func.count()).select_from(Initiative)).one())


def command_body(text: str) -> bytes:
    return urlencode(
        {
            "command": "/accord",
            "text": text,
            "user_id": CIO,
            "channel_id": COORDINATION,
            "team_id": "T0ACCORD",
            "trigger_id": "t.1",
            "response_url": "http://127.0.0.1:9/x",
        }
    ).encode()


def test_bad_signature_and_stale_timestamp_are_rejected(accord_sqlite: RunningAccord) -> None:
    body = command_body("initiative new Forged")
    forged = accord_sqlite.slack.send_raw(
        body, content_type="application/x-www-form-urlencoded", signature="v0=" + "0" * 64
    )
    assert forged.status == 401
    stale_ts = int(time.time()) - 6 * 60
    stale = accord_sqlite.slack.send_raw(
        body,
        content_type="application/x-www-form-urlencoded",
        timestamp=stale_ts,
        signature=accord_sqlite.slack.sign(body, stale_ts),
    )
    assert stale.status == 401
    unsigned = accord_sqlite.slack.send_raw(
        body, content_type="application/x-www-form-urlencoded", signed=False
    )
    assert unsigned.status == 401
    assert initiatives(accord_sqlite) == 0
    assert accord_sqlite.fake.calls("chat.postMessage") == []


def test_a_retried_command_creates_one_record(accord_sqlite: RunningAccord) -> None:
    first = accord_sqlite.command("initiative new Only once", trigger_id="trig.42")
    again = accord_sqlite.command("initiative new Only once", trigger_id="trig.42", retry_num=1)
    assert "INI-1" in reply_text(first.json())
    assert again.status == 200
    assert "INI-2" not in again.body
    assert initiatives(accord_sqlite) == 1


def test_bare_noun_opens_the_modal_and_submission_creates_the_same_record(
    accord: RunningAccord,
) -> None:
    reply = accord.command("initiative")
    assert reply.status == 200
    opened = accord.fake.wait_for("views.open")[0].body
    view = opened["view"]
    assert view["callback_id"] == "initiative.create"
    assert {b["block_id"] for b in view["blocks"]} >= {"title", "cio_owner", "ciso_owner", "due"}

    values = {
        "title": {"value": {"type": "plain_text_input", "value": "Rotate <!channel> keys"}},
        "description": {"value": {"type": "plain_text_input", "value": "All KMS keys"}},
        "cio_owner": {"value": {"type": "users_select", "selected_user": CIO}},
        "ciso_owner": {"value": {"type": "users_select", "selected_user": CISO}},
        "due": {"value": {"type": "datepicker", "selected_date": "2027-01-31"}},
        "tags": {"value": {"type": "plain_text_input", "value": "#crypto kms"}},
    }
    submitted = accord.slack.view_submission(
        "initiative.create", values, user_id=CIO, private_metadata=view["private_metadata"]
    )
    assert submitted.status == 200
    assert submitted.json() == {}
    confirmation = accord.fake.wait_for("chat.postEphemeral")[0].body
    assert confirmation["channel"] == COORDINATION
    assert "INI-1" in reply_text(confirmation)
    assert not any("<!channel>" in text for text in mrkdwn_texts(confirmation))
    with session_scope(accord.services.engine) as session:
        initiative = session.get(Initiative, 1)
        assert initiative is not None
        assert initiative.title == "Rotate <!channel> keys"
        assert initiative.ciso_owner_id == CISO
        assert initiative.tags == ["crypto", "kms"]
        assert str(initiative.due_date) == "2027-01-31"

    # Slack resubmitting the same view (a retry) does not create a second record.
    again = accord.slack.view_submission(
        "initiative.create", values, user_id=CIO, private_metadata=view["private_metadata"]
    )
    assert again.status == 200
    assert initiatives(accord) == 1


def test_modal_errors_point_at_the_field_and_change_nothing(accord_sqlite: RunningAccord) -> None:
    values = {
        "title": {"value": {"type": "plain_text_input", "value": "x" * 200}},
        "due": {"value": {"type": "datepicker", "selected_date": "2020-01-01"}},
    }
    reply = accord_sqlite.slack.view_submission(
        "initiative.create", values, user_id=CIO, private_metadata='{"channel": "C0COORD"}'
    )
    assert reply.json()["response_action"] == "errors"
    assert "the limit is 150" in reply.json()["errors"]["title"]
    assert initiatives(accord_sqlite) == 0


def test_hold_button_opens_a_reason_form_and_records_who_and_why(
    accord_sqlite: RunningAccord,
) -> None:
    accord_sqlite.command("initiative new Patch edge routers")
    accord_sqlite.slack.block_action("initiative.hold", "1", user_id=CISO)
    view = accord_sqlite.fake.wait_for("views.open")[0].body["view"]
    assert view["callback_id"] == "initiative.hold"
    values = {"reason": {"value": {"type": "plain_text_input", "value": "CVE-2026-1234"}}}
    reply = accord_sqlite.slack.view_submission(
        "initiative.hold",
        values,
        user_id=CISO,
        private_metadata=view["private_metadata"],
        view_id="V0HOLD",
    )
    assert reply.json() == {}
    with session_scope(accord_sqlite.services.engine) as session:
        initiative = session.get(Initiative, 1)
        assert initiative is not None
        assert initiative.on_hold
        assert initiative.hold_by == CISO
        assert initiative.hold_reason == "CVE-2026-1234"


def test_cio_side_cannot_place_a_hold_through_the_form(accord_sqlite: RunningAccord) -> None:
    accord_sqlite.command("initiative new Patch edge routers")
    values = {"reason": {"value": {"type": "plain_text_input", "value": "because"}}}
    reply = accord_sqlite.slack.view_submission(
        "initiative.hold", values, user_id=CIO, private_metadata='{"id": 1, "channel": "C0COORD"}'
    )
    assert "Only the CISO side" in reply.json()["errors"]["reason"]


def test_stale_button_and_unknown_record_get_a_clear_answer(accord_sqlite: RunningAccord) -> None:
    accord_sqlite.slack.block_action("initiative.show", "999", user_id=CIO)
    answer = accord_sqlite.fake.wait_for("response_url")[0].body
    assert "There is no INI-999" in reply_text(answer)
    accord_sqlite.slack.block_action("initiative.page", "not-json", user_id=CIO)
    stale = accord_sqlite.fake.wait_for("response_url", count=2)[1].body
    assert "out of date" in reply_text(stale)


def test_rate_limited_and_failing_slack_calls_are_retried(accord_sqlite: RunningAccord) -> None:
    accord_sqlite.fake.fail_next("views.open", status=429, retry_after=0)
    accord_sqlite.command("initiative")
    opened = accord_sqlite.fake.wait_for("views.open", count=2)
    assert [call.status for call in opened] == [429, 200]
    accord_sqlite.fake.fail_next("views.publish", status=500)
    accord_sqlite.slack.event({"type": "app_home_opened", "user": CIO, "tab": "home"})
    published = accord_sqlite.fake.wait_for("views.publish", count=2)
    assert [call.status for call in published] == [500, 200]


def test_unexpected_failure_reaches_slack_without_internals(accord_sqlite: RunningAccord) -> None:
    with accord_sqlite.services.engine.begin() as connection:  # a schema that lost a table
        connection.exec_driver_sql("ALTER TABLE initiative_tag RENAME TO initiative_tag_gone")
    reply = accord_sqlite.command("initiative new Something #tagged")
    text = reply_text(reply.json())
    assert "Something went wrong on Accord's side" in text
    assert "nothing was changed" in text
    for internal in ("Traceback", "sqlite", "initiative_tag", "Error"):
        assert internal not in reply.body
    with accord_sqlite.services.engine.begin() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM initiative").scalar()
    assert count == 0


def test_health_check(accord_sqlite: RunningAccord) -> None:
    url = accord_sqlite.url.replace("/slack/events", "/healthz")
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"status": "ok"}


def test_whoami_and_admin_role_grants(accord_sqlite: RunningAccord) -> None:
    from tests.harness import ADMIN, ADMIN_2, OUTSIDER

    assert "no side yet" in accord_sqlite.command_text("whoami", user=OUTSIDER)
    refused = accord_sqlite.command_text(f"roles add ciso <@{OUTSIDER}|o>", user=CIO)
    assert "Only Accord admins" in refused
    proposed = accord_sqlite.command_text(f"roles add ciso <@{OUTSIDER}|o>", user=ADMIN)
    assert "waits for a second admin" in proposed
    assert "no side yet" in accord_sqlite.command_text("whoami", user=OUTSIDER)
    granted = accord_sqlite.command_text("roles confirm 1", user=ADMIN_2)
    assert "is in effect" in granted
    assert "CISO side" in accord_sqlite.command_text("whoami", user=OUTSIDER)
    assert "place a security hold" in accord_sqlite.command_text("whoami", user=OUTSIDER)


def test_help_lists_every_subcommand_with_an_example(accord_sqlite: RunningAccord) -> None:
    from bot.slack.commands import NOUNS
    from bot.slack.text import escape

    every = [accord_sqlite.command_text(f"help {noun.name}") for noun in NOUNS]
    text = "\n".join(every)
    for noun in NOUNS:
        assert f"/accord {noun.name}" in text
        for verb in noun.verbs:
            assert verb.example.startswith(f"/accord {noun.name} "), verb.example
            assert f"e.g. `{escape(verb.example)}`" in text, verb.example
    assert "e.g. `/accord escalate DIS-2" in text
    assert "e.g. `/accord initiative new" in text
    assert "&lt;title&gt;" in text  # usage placeholders are escaped, not swallowed as markup


def test_unknown_button_gets_an_answer_not_a_404(accord_sqlite: RunningAccord) -> None:
    reply = accord_sqlite.slack.block_action("retired.feature", "1", user_id=CIO)
    assert reply.status == 200
    answer = accord_sqlite.fake.wait_for("response_url")[0].body
    assert "older version of Accord" in reply_text(answer)


def test_a_bad_tag_in_the_form_is_marked_on_the_tags_field(accord_sqlite: RunningAccord) -> None:
    values = {
        "title": {"value": {"type": "plain_text_input", "value": "Tagged"}},
        "tags": {"value": {"type": "plain_text_input", "value": "<b>"}},
    }
    reply = accord_sqlite.slack.view_submission(
        "initiative.create", values, user_id=CIO, private_metadata='{"channel": "C0COORD"}'
    )
    assert set(reply.json()["errors"]) == {"tags"}
    assert initiatives(accord_sqlite) == 0
