"""Block Kit to terminal text: what a person would see in Slack, readably."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.shell.demo import DEMO_CHANNELS, by_id
from bot.slack.text import unescape


@dataclass(frozen=True)
class Clickable:
    """A button the person can press with `:click N`."""

    action_id: str
    value: str
    block_id: str
    label: str
    source: dict[str, Any]


INPUT_HINTS = {
    "plain_text_input": "text",
    "users_select": "@person",
    "multi_users_select": "@a,@b",
    "datepicker": "YYYY-MM-DD",
    "timepicker": "HH:MM",
    "static_select": "choice",
    "multi_external_select": "T1078,T1566",
    "checkboxes": "yes|no",
    "conversations_select": "#channel",
    "channels_select": "#channel",
    "number_input": "number",
}


def mrkdwn(text: str) -> str:
    def mention(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            user = by_id(target[1:])
            return "@" + (user.name if user else target[1:])
        if target.startswith("#"):
            return "#" + DEMO_CHANNELS.get(target[1:], label or target[1:])
        if target.startswith("!"):
            # `<!date^…|fallback>` and `<!subteam^…|@team>` read as their label; `<!here>` as @here.
            return label or "@" + target[1:].split("^", 1)[0]
        return label or target

    return unescape(re.sub(r"<([^>]*)>", mention, text))


def _text(obj: dict[str, Any] | None) -> str:
    if not obj:
        return ""
    return mrkdwn(str(obj.get("text", ""))) if obj.get("type") == "mrkdwn" else str(obj["text"])


def render_blocks(
    blocks: list[dict[str, Any]], *, clickables: list[Clickable], source: dict[str, Any]
) -> list[str]:
    lines: list[str] = []

    def add_button(element: dict[str, Any], block_id: str) -> str:
        clickables.append(
            Clickable(
                action_id=element["action_id"],
                value=str(element.get("value", "")),
                block_id=block_id,
                label=_text(element.get("text")),
                source=source,
            )
        )
        return f"[{len(clickables)}: {_text(element.get('text'))}]"

    for block in blocks:
        kind = block.get("type")
        block_id = str(block.get("block_id", ""))
        if kind == "header":
            lines.append(f"━━ {_text(block.get('text'))} ━━")
        elif kind == "section":
            body = _text(block.get("text"))
            fields = [_text(field).replace("\n", ": ", 1) for field in block.get("fields", [])]
            if fields:
                body = (body + "\n" if body else "") + "\n".join(f"  {f}" for f in fields)
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                body += "  " + add_button(accessory, block_id)
            lines.append(body)
        elif kind == "context":
            lines.append("   · " + " · ".join(_text(e) for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("─" * 40)
        elif kind == "actions":
            buttons = [
                add_button(e, block_id) for e in block.get("elements", []) if e["type"] == "button"
            ]
            lines.append("   " + " ".join(buttons))
        elif kind == "input":
            optional = " (optional)" if block.get("optional") else ""
            element = block.get("element", {})
            kind_hint = INPUT_HINTS.get(str(element.get("type")), "text")
            choices = [str(o.get("value")) for o in element.get("options", [])]
            if element.get("type") == "checkboxes" and len(choices) == 1:
                kind_hint = "yes|no"  # one box: ticked or not (`yes` is also its value)
            elif choices:
                kind_hint = "one of " + "|".join(choices)
            lines.append(f"   ▢ {_text(block.get('label'))}{optional} — {block_id}=<{kind_hint}>")
    return lines
