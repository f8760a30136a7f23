"""The technique picker's options load (`block_suggestion`): search the catalogue in force."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.db import session_scope
from bot.domain.attack.service import current_catalogue
from bot.domain.validation import clean_text
from bot.services import Services
from bot.slack.blocks.attack import OPTIONS_LIMIT, technique_options
from bot.slack.ids import BlockId

#: Longer queries name no technique; Slack sends what the person typed, unchecked.
QUERY_LIMIT = 100


def register(app: App, services: Services) -> None:
    @app.options({"block_id": BlockId.ATTACK.value, "action_id": "value"})
    def technique_search(ack: Ack, body: dict[str, Any]) -> None:
        query = clean_text(str(body.get("value") or ""))[:QUERY_LIMIT]
        with session_scope(services.engine) as session:
            found = current_catalogue(session).search(query, limit=OPTIONS_LIMIT)
        ack(options=technique_options(found))
