"""Registered last: a button or form Accord no longer knows gets a clear answer, not a 404
(which Slack would retry and show as an error)."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.services import Services

log = logging.getLogger(__name__)
STALE = "That button belongs to an older version of Accord; run the command again."


def register(app: App, _services: Services) -> None:
    @app.action(re.compile(".*"))
    def unknown_action(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        action = (body.get("actions") or [{}])[0]
        log.info("no listener for action %s", action.get("action_id"))
        if body.get("response_url"):
            respond(text=STALE, response_type="ephemeral", replace_original=False)

    @app.view(re.compile(".*"))
    def unknown_view(ack: Ack, view: dict[str, Any]) -> None:
        log.info("no listener for view %s", view.get("callback_id"))
        ack(response_action="errors", errors={_first_block(view): STALE})


def _first_block(view: dict[str, Any]) -> str:
    blocks = view.get("blocks") or [{}]
    return str(blocks[0].get("block_id", "title"))
