"""Long titles and long changes still give messages Slack accepts (under 12,000 characters)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.db import session_scope
from bot.domain.audit import record_event
from tests.fakes.block_kit import MESSAGE_TEXT_LIMIT, block_text_length
from tests.harness import CIO, RunningAccord, reply_text

LONG = "R&D keys " + "&" * 120  # under the 150-character title limit, ~640 escaped


def _size(payload: dict[str, Any]) -> int:
    return block_text_length(payload.get("blocks"))


def test_a_list_of_long_titles_stays_under_the_size_limit(accord_sqlite: RunningAccord) -> None:
    accord = accord_sqlite
    for n in range(21):
        reply = accord.command(
            f"risk new {n} {LONG} likelihood:1 impact:1 expires:2027-01-31 draft:yes"
        )
        assert reply.status == 200
    for n in range(21):
        accord.command(f"initiative new {n} {LONG}")
    risks = accord.command("risk list all").json()
    initiatives = accord.command("initiative list all").json()
    for payload, first_row in ((risks, "*RSK-1* 0 R&amp;D"), (initiatives, "*INI-1* 0 R&amp;D")):
        assert 0 < _size(payload) < MESSAGE_TEXT_LIMIT
        assert first_row in reply_text(payload)
        assert "Showing 1–20 of 21" in reply_text(payload)


def test_the_audit_feed_of_long_changes_stops_before_the_size_limit(
    accord_sqlite: RunningAccord,
) -> None:
    accord = accord_sqlite
    accord.command("initiative new Short")
    with session_scope(accord.services.engine) as session:
        for n in range(40):
            record_event(
                session,
                at=accord.clock.now() + timedelta(minutes=n),
                actor_id=CIO,
                record_ref="INI-1",
                action="initiative.updated",
                before={f"field{k}": "&" * 80 for k in range(4)},
                after={f"field{k}": f"{n}:" + "<" * 78 for k in range(4)},
                note="&" * 300,
            )
    feed = accord.command("audit INI-1").json()
    assert 0 < _size(feed) < MESSAGE_TEXT_LIMIT
    text = reply_text(feed)
    assert "field0: " in text and "39:" in text  # the newest change is there
    assert "Older entries are not shown" in text
