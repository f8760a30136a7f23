"""Structured logs: one JSON object per line, so no value (a user's text, a header, an
exception message) can break a line or forge one — JSON escapes CR, LF and every other
control character, and `ensure_ascii` also escapes Unicode line separators."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

#: The logger handed to bolt (`bot.slack.app.bolt_logger`); its level bounds all of bolt's.
BOLT_LOGGER = "slack_bolt"
#: Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=True, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """One JSON object per line on stderr (`JsonFormatter`)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # slack_sdk logs request bodies (and headers) at DEBUG; keep tokens out of logs. Bolt's
    # own loggers take their level from the logger `build_app` gives it (`BOLT_LOGGER`).
    logging.getLogger("slack_sdk").setLevel(logging.WARNING)
    logging.getLogger(BOLT_LOGGER).setLevel(logging.WARNING)
    # Alembic names each of its plugins at INFO when it is first imported, which the CLI does
    # after this (only commands that touch a database import it).
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
