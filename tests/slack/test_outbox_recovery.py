"""A post whose process died after Slack took it and before the outbox recorded it.

The row is left `sending` with a lease that runs out; the deliverer that takes it over must
find the message in the channel's history (by the outbox id in its metadata) instead of posting
it again, however many messages were posted in the channel since. The crashed state is written
directly (the real kill -9 runs in tests/integration/test_outbox_faults_postgres.py).
"""

from __future__ import annotations

from datetime import timedelta

from slack_sdk import WebClient

from bot.db import session_scope
from bot.domain.outbox import OutboxMessage, OutboxState
from bot.slack import send
from bot.slack.blocks.errors import notice
from bot.slack.deliver import METADATA_TYPE
from tests.harness import BOT_TOKEN, COORDINATION, RunningAccord


def test_a_post_slack_took_before_a_crash_is_recorded_not_posted_again_behind_many_messages(
    accord: RunningAccord,
) -> None:
    services, fake = accord.services, accord.fake
    web = WebClient(token=BOT_TOKEN, base_url=fake.base_url)
    with session_scope(services.engine) as session:
        row = send.post(
            session,
            services,
            channel=COORDINATION,
            message=notice("The approval request of RSK-1"),
            summary="the approval request of RSK-1",
        )
        # What a deliverer killed mid-post leaves: Slack has the message, the row is
        # `sending` with its first attempt counted, and the lease has run out.
        earlier = web.chat_postMessage(
            channel=COORDINATION,
            text="The approval request of RSK-1",
            metadata={"event_type": METADATA_TYPE, "event_payload": {"id": row.id}},
        )
        row.state, row.attempts = OutboxState.SENDING, 1
        row.lease_until = accord.clock.now() - timedelta(seconds=1)
        row_id = row.id
        # Busy channel: more messages since than one page of history holds.
        for n in range(250):
            web.chat_postMessage(channel=COORDINATION, text=f"chatter {n}")
    fake.clear()

    accord.services.outbound.drain()  # type: ignore[union-attr]

    requests = [
        m for m in fake.messages_in(COORDINATION) if m["text"] == "The approval request of RSK-1"
    ]
    assert [m["ts"] for m in requests] == [earlier["ts"]]
    fake.assert_no_call("chat.postMessage")
    with session_scope(services.engine) as session:
        stored = session.get(OutboxMessage, row_id)
        assert stored is not None
        assert (stored.state, stored.result_ts) == (OutboxState.SENT, earlier["ts"])
