"""Renderers for threat briefs: card, list, and the form (pure: records in, blocks out)."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, InputBlock, Option, PlainTextObject, StaticSelectElement
from slack_sdk.models.views import View

from bot.domain.threats.models import BriefState, Severity
from bot.domain.threats.queries import BriefView
from bot.slack.blocks.attack import technique_picker
from bot.slack.blocks.common import (
    Message,
    clip,
    context,
    fields_section,
    header,
    safe,
    section,
    user,
)
from bot.slack.blocks.inputs import modal, text_input
from bot.slack.blocks.risks import technique_text
from bot.slack.ids import BlockId, CallbackId
from bot.slack.text import escape

SEVERITY_ICON = {
    Severity.LOW: ":large_green_circle:",
    Severity.MEDIUM: ":large_yellow_circle:",
    Severity.HIGH: ":large_orange_circle:",
    Severity.CRITICAL: ":red_circle:",
}
LIST_LIMIT = 20


def touched_text(view: BriefView) -> str:
    lines = [f"• {ref}" for ref in view.initiatives]
    for touch in view.risks:
        flag = " — :triangular_flag_on_post: *review the acceptance*" if touch.flagged else ""
        lines.append(f"• {touch.risk.ref} {safe(touch.risk.title, 120)} ({touch.why()}){flag}")
    return "\n".join(lines) or "—"


def card(view: BriefView, *, lead: str | None = None) -> Message:
    brief = view.brief
    blocks: list[Block] = []
    if lead:
        blocks.append(section(lead))
    blocks.append(header(f"{brief.ref} · {brief.title}"))
    techniques = "\n".join(technique_text(t) for t in brief.technique_details) or "—"
    source = f"<{escape(brief.source)}>" if brief.source else "—"
    blocks.append(
        fields_section(
            [
                f"*Severity*\n{SEVERITY_ICON[brief.severity]} {brief.severity.value}",
                f"*State*\n{brief.state.value}",
                f"*Recorded by*\n{user(brief.created_by)} on {brief.created_at:%Y-%m-%d}",
                f"*Source*\n{source}",
                f"*CVEs*\n{escape(', '.join(brief.cves)) or '—'}",
            ]
        )
    )
    blocks.append(section(clip(f"*ATT&amp;CK techniques*\n{techniques}", 2900)))
    blocks.append(section(clip(f"*Touches*\n{touched_text(view)}", 2900)))
    if brief.agenda_occurrence_id is None and brief.state == BriefState.OPEN:
        blocks.append(context("On the next touchpoint agenda, under “Threats and trends”."))
    text = f"{brief.ref}: {safe(brief.title, 200)} ({brief.severity.value})"
    return Message(text=(f"{lead} " if lead else "") + text, blocks=blocks)


def list_message(views: list[BriefView]) -> Message:
    blocks: list[Block] = [header(f"Open threat briefs ({len(views)})")]
    if not views:
        blocks.append(section("None. Record one with `/accord threat add <title> …`."))
        return Message(text="Open threat briefs: none", blocks=blocks)
    for view in views[:LIST_LIMIT]:
        icon = SEVERITY_ICON[view.brief.severity]
        flagged = len(view.flagged)
        flags = (
            f" · :triangular_flag_on_post: {flagged} accepted risk(s) to review" if flagged else ""
        )
        blocks.append(
            section(
                f"{icon} *{view.brief.ref}* {safe(view.brief.title, 200)} "
                f"({view.brief.severity.value}){flags}"
            )
        )
    if len(views) > LIST_LIMIT:
        blocks.append(context(f"…and {len(views) - LIST_LIMIT} more."))
    return Message(text=f"Open threat briefs: {len(views)}", blocks=blocks)


def create_modal(*, metadata: str) -> View:
    return modal(
        CallbackId.THREAT_CREATE,
        "Record a threat brief",
        "Record",
        metadata,
        [
            text_input(BlockId.TITLE, "Title", max_length=200),
            InputBlock(
                block_id=BlockId.SEVERITY,
                label=PlainTextObject(text="Severity"),
                element=StaticSelectElement(
                    action_id="value",
                    options=[
                        Option(value=s.value, text=PlainTextObject(text=s.value)) for s in Severity
                    ],
                ),
            ),
            technique_picker(BlockId.ATTACK, "ATT&CK techniques"),
            text_input(
                BlockId.RELEVANCE,
                "Initiatives and risks it concerns",
                max_length=200,
                optional=True,
                placeholder="INI-3, RSK-2",
            ),
            text_input(
                BlockId.SOURCE, "Source link", max_length=300, optional=True, placeholder="https://"
            ),
        ],
    )
