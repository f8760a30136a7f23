"""Slack's rules for what it accepts, applied to every message and view the fakes see.

slack_sdk's models check many Block Kit limits (``Block.parse(...).to_dict()`` validates a block
and everything in it; ``View(**view).validate_json()`` a view's own fields) but not the rules that
real Slack enforces across blocks: an ``action_id`` used twice in one block, a ``block_id`` used
twice in one message or view, or far more text than Slack will show. Real Slack answers
``invalid_blocks`` for those; the fakes answer the same and record a violation in
:data:`VIOLATIONS`, which ``tests/conftest.py`` turns into a failure of the test that sent it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

__all__ = [
    "HEADER_TEXT_LIMIT",
    "MESSAGE_BLOCK_LIMIT",
    "MESSAGE_TEXT_LIMIT",
    "SECTION_TEXT_LIMIT",
    "VIEW_BLOCK_LIMIT",
    "VIOLATIONS",
    "Violations",
    "ack_problems",
    "block_text_length",
    "message_problems",
    "view_problems",
]

MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100
SECTION_TEXT_LIMIT = 3000
HEADER_TEXT_LIMIT = 150
#: Slack refuses messages near 13,000 characters of block text in practice; stay under 12,000.
MESSAGE_TEXT_LIMIT = 12_000
_TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})


class Violations:
    """Thread-safe record of payloads Slack would refuse (the fakes answer in server threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._found: list[str] = []

    def record(self, where: str, problems: Iterable[str], payload: Any = None) -> None:
        problems = list(problems)
        if not problems:
            return
        shown = json.dumps(payload, default=str)[:600] if payload is not None else ""
        entry = f"{where}: " + "; ".join(problems) + (f"\n    payload: {shown}" if shown else "")
        with self._lock:
            self._found.append(entry)

    def take(self) -> list[str]:
        """Every violation recorded so far; the record starts empty again."""
        with self._lock:
            found, self._found = self._found, []
        return found


VIOLATIONS = Violations()


def _texts(node: Any) -> Iterable[str]:
    """Every text object's text inside ``node`` (sections, fields, context, buttons, ...)."""
    if isinstance(node, Mapping):
        if node.get("type") in _TEXT_TYPES and isinstance(node.get("text"), str):
            yield node["text"]
        for key, value in node.items():
            if key != "text" or not isinstance(value, str):
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def block_text_length(blocks: Any) -> int:
    """Characters of text in ``blocks``, as Slack counts toward a message's size."""
    return sum(len(text) for text in _texts(blocks))


def _interactive_elements(block: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for key in ("elements", "element", "accessory"):
        value = block.get(key)
        items = value if isinstance(value, list) else [value]
        found.extend(item for item in items if isinstance(item, Mapping))
    return found


def _block_problems(index: int, block: Any) -> list[str]:
    if not isinstance(block, Mapping):
        return [f"block {index} is not an object"]
    kind = block.get("type")
    where = f"block {index} ({kind})"
    problems: list[str] = []
    try:
        parsed = Block.parse(dict(block))
        if parsed is None:
            return [f"{where}: unknown block type"]
        parsed.validate_json()
        parsed.to_dict()  # validates every element and text object inside, too
    except (SlackObjectFormationError, TypeError, ValueError, KeyError, AttributeError) as error:
        problems.append(f"{where}: {error}")
    text = block.get("text")
    length = len(str(text.get("text", ""))) if isinstance(text, Mapping) else 0
    if kind == "section" and length > SECTION_TEXT_LIMIT:
        problems.append(f"{where}: section text over {SECTION_TEXT_LIMIT} characters")
    if kind == "header" and length > HEADER_TEXT_LIMIT:
        problems.append(f"{where}: header text over {HEADER_TEXT_LIMIT} characters")
    seen: set[str] = set()
    for element in _interactive_elements(block):
        action_id = element.get("action_id")
        if not isinstance(action_id, str):
            continue
        if action_id in seen:
            problems.append(f"{where}: action_id {action_id!r} used twice in one block")
        seen.add(action_id)
    return problems


def _blocks_problems(blocks: Any, *, limit: int, surface: str) -> list[str]:
    if blocks is None or blocks == "":
        return []
    if not isinstance(blocks, list):
        return [f"{surface} blocks are not a list"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"{surface} has {len(blocks)} blocks; the limit is {limit}")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        problems.extend(_block_problems(index, block))
        block_id = block.get("block_id") if isinstance(block, Mapping) else None
        if isinstance(block_id, str):
            if block_id in block_ids:
                problems.append(f"block_id {block_id!r} used twice in one {surface}")
            block_ids.add(block_id)
    return problems


def message_problems(message: Mapping[str, Any]) -> list[str]:
    """Why Slack would refuse this chat.postMessage / chat.update / response_url body."""
    blocks = message.get("blocks")
    problems = _blocks_problems(blocks, limit=MESSAGE_BLOCK_LIMIT, surface="message")
    size = block_text_length(blocks)
    if size >= MESSAGE_TEXT_LIMIT:
        problems.append(f"message has {size} characters of block text; keep under 12,000")
    fallback = message.get("text")
    if isinstance(fallback, str) and len(fallback) >= MESSAGE_TEXT_LIMIT:
        problems.append(f"message text has {len(fallback)} characters; keep under 12,000")
    return problems


def view_problems(view: Any) -> list[str]:
    """Why Slack would refuse this view in views.open/update/push/publish or an ack."""
    if not isinstance(view, Mapping):
        return ["view is not an object"]
    problems: list[str] = []
    try:
        View(**dict(view)).validate_json()
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError) as error:
        problems.append(f"view: {error}")
    if view.get("type") == "modal" and not view.get("title"):
        problems.append("modal has no title")
    problems.extend(
        _blocks_problems(view.get("blocks"), limit=VIEW_BLOCK_LIMIT, surface=f"{view.get('type')}")
    )
    return problems


def ack_problems(body: Any, *, submitted_blocks: list[Any] | None = None) -> list[str]:
    """Why Slack would refuse what an app answered in its HTTP ack.

    ``response_action: update|push`` carries a view; ``errors`` must name input blocks of the
    submitted view (checked when the test gave its blocks); other answers are messages.
    """
    if not isinstance(body, Mapping):
        return []
    action = body.get("response_action")
    if action is None:
        if "blocks" in body or "text" in body:
            return message_problems(body)
        return []
    if action in ("update", "push"):
        return view_problems(body.get("view"))
    if action == "errors":
        errors = body.get("errors")
        if not isinstance(errors, Mapping) or not errors:
            return ["response_action errors without an errors object"]
        problems = [
            f"error for {key!r} is not a non-empty string"
            for key, value in errors.items()
            if not isinstance(value, str) or not value
        ]
        if submitted_blocks:
            inputs = {
                b.get("block_id")
                for b in submitted_blocks
                if isinstance(b, Mapping) and b.get("type") == "input"
            }
            problems.extend(
                f"error names block {key!r}, which is not an input block of the view"
                for key in errors
                if key not in inputs
            )
        return problems
    if action in ("clear",):
        return []
    return [f"unknown response_action {action!r}"]
