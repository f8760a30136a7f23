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
