"""The leadership digest as a Block Kit message (pure: digest in, Message out)."""

from __future__ import annotations

from datetime import date

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.domain.digest import ChangeLine, Digest, DigestData, DigestSection, action_words
from bot.domain.summaries import DisagreementBrief, ItemSummary
from bot.slack.blocks.common import (
    MESSAGE_BLOCK_LIMIT,
    SECTION_TEXT_LIMIT,
    Message,
    clip,
    context,
    divider,
    fields_section,
    header,
    safe,
    section,
    user,
)
from bot.summarize.fallback import FALLBACK_LABEL, summarise_brief

DISAGREEMENTS_SHOWN = 20
FIELD_TEXT_LIMIT = 2000
#: Characters of a position (as typed) and of an impact shown in a side's field; longer text
#: is clipped with "…" (`accord export review` has it in full).
POSITION_SHOWN = 1400
IMPACT_SHOWN = 300


def trend_text(delta: int | None) -> str:
    if delta is None:
        return ""
    if delta == 0:
        return " (=)"
    return f" (▲{delta})" if delta > 0 else f" (▼{-delta})"


def count_lines(data: DigestData) -> list[tuple[str, list[str]]]:
    """Each group's title and its "label: n (trend)" lines; shared with the Markdown pack."""
    groups = []
    for group in data.counts:
        lines = [
            f"{label}: {number}{trend_text(data.trend(group.key, label, number))}"
            for label, number in group.counts
        ]
        groups.append((group.title, lines))
    return groups


OWN_WORDS = "each side's position is quoted from the record, in its own words"
SECTION_LINES_SHOWN = 15
#: Room for the title and the "more" line within a section's 3,000 characters.
SECTION_BODY_BUDGET = 2700


def section_text(part: DigestSection) -> str:
    """One digest section as mrkdwn: its title and whole lines while they fit in a section
    (at most 15); the review pack has them all."""
    shown: list[str] = []
    used = 0
    for line in part.lines[:SECTION_LINES_SHOWN]:
        text = f"• {safe(line, 400)}"
        if used + len(text) + 1 > SECTION_BODY_BUDGET:
            break
        shown.append(text)
        used += len(text) + 1
    more = len(part.lines) - len(shown)
    if more > 0:
        shown.append(f"_…and {more} more in the review pack._")
    body = "\n".join(shown) if shown else safe(part.empty, 200)
    return f"*{safe(part.title, 100)}*\n{body}"


def author_line(digest: Digest) -> str:
    summary = digest.summary
    cached = f", {summary.cached_items} from cache" if summary.cached_items else ""
    if summary.author == "llm":
        return f"Overviews and questions written by {summary.author_label}{cached}; {OWN_WORDS}."
    if summary.author == "mixed":
        by_us = len(summary.fallback_refs)
        return (
            f"Overviews and questions written by {summary.author_label}{cached}, except "
            f"{by_us} written by {FALLBACK_LABEL} because the LLM failed or ran out of time "
            f"for them (each is marked; see the logs); {OWN_WORDS}."
        )
    why = " (the LLM answer was not used; see the logs)" if summary.fallback_reason else ""
    return f"Disagreement summary written by {FALLBACK_LABEL}{why}; {OWN_WORDS}."


def written_by(digest: Digest, ref: str) -> str | None:
    """In a mixed digest, who wrote this item; None when one summariser wrote them all."""
    if digest.summary.author != "mixed":
        return None
    return "summary by the LLM" if digest.summary.by_llm(ref) else "summary by Accord (no LLM)"


def facts_line(brief: DisagreementBrief, today: date, *, author: str | None = None) -> str:
    """Age, deadline and escalation, computed by Accord, never by the LLM (and, in a mixed
    digest, who wrote the item)."""
    parts = [f"open {brief.age_days(today)}d"]
    if brief.deadline:
        days = (brief.deadline - today).days
        parts.append(
            f"deadline {brief.deadline.isoformat()}"
            + (f" — {-days}d overdue" if days < 0 else f" (in {days}d)")
        )
    if brief.escalation_ref:
        parts.append(f"escalated {brief.escalation_ref}")
    if brief.linked_ref:
        parts.append(f"about {brief.linked_ref}")
    if author:
        parts.append(author)
    return " · ".join(parts)


def own_words(label: str, position: str, impact_label: str, impact: str) -> str:
    """One side's position exactly as the record has it (escaped once, clipped only to Slack's
    limits), and its impact; never text by the LLM."""
    said = f"“{safe(position, POSITION_SHOWN)}”" if position.strip() else "_(no position recorded)_"
    text = f"• *{label}:* {said}"
    if impact.strip():
        text += f" — {impact_label}: {safe(impact, IMPACT_SHOWN)}"
    return text


def item_block(
    brief: DisagreementBrief, item: ItemSummary | None, today: date, *, author: str | None = None
) -> SectionBlock:
    """One disagreement: the overview and the question (by the summariser), the facts (by
    Accord), then each side in its own words from the record, side by side."""
    item = item or summarise_brief(brief, today=today)
    text = (
        f"*{safe(brief.ref, 20)}* — {safe(item.overview, 900)}\n"
        f"_{safe(facts_line(brief, today, author=author), 300)}_\n"
        f"*Decision needed:* {safe(item.question, 400)}"
    )
    sides = [
        own_words("CIO side", brief.cio_position, "Business impact", brief.business_impact),
        own_words("CISO side", brief.ciso_position, "Security impact", brief.security_impact),
    ]
    return SectionBlock(
        text=MarkdownTextObject(text=clip(text, SECTION_TEXT_LIMIT)),
        fields=[MarkdownTextObject(text=clip(side, FIELD_TEXT_LIMIT)) for side in sides],
    )


def person(user_id: str | None, data: DigestData) -> str:
    """A person by display name when the workspace gave one (no ping), else a mention."""
    if user_id and user_id in data.people:
        return safe(data.people[user_id], 80)
    return user(user_id)


def change_line(change: ChangeLine, data: DigestData) -> str:
    """`• *INI-1* Roll out MFA — updated (status) by Ann · 2026-12-01`"""
    title = f" {safe(change.title, 80)}" if change.title else ""
    fields = ", ".join(f.replace("_", " ") for f in change.fields)
    times = f" ×{change.count}" if change.count > 1 else ""
    return (
        f"• *{safe(change.record_ref, 32)}*{title} — {safe(change.action_words, 64)}{times}"
        + (f" ({safe(fields, 120)})" if fields else "")
        + (f" by {person(change.actor_id, data)}" if change.actor_id else "")
        + f" · {change.at:%Y-%m-%d}"
    )


def attention_text(data: DigestData) -> str:
    lines = [
        f"• *{safe(line.ref, 32)}* {safe(line.title, 80)} — {safe(', '.join(line.reasons), 120)}"
        for line in data.attention
    ]
    more = (
        f"\n_…and {data.attention_more} more; `/accord initiative list` and "
        "`/accord risk list` have them._"
        if data.attention_more > 0
        else ""
    )
    return clip("*Needs attention*\n" + "\n".join(lines) + more, SECTION_TEXT_LIMIT)


def digest_message(digest: Digest, *, preview: bool = False) -> Message:
    data = digest.data
    today = data.window.today
    title = "Accord digest" + (" — preview" if preview else "")
    blocks: list[Block] = [
        header(f"{title} · {today.isoformat()}"),
        context(
            f"Changes since {data.window.since:%Y-%m-%d %H:%M} UTC"
            + (
                f" · trends compare with the digest of {data.previous_at:%Y-%m-%d}"
                if data.previous_at
                else " · first digest, no trends yet"
            ),
            safe(author_line(digest), 500),
            *(
                [f"Audit chain head: {data.audit_head.short()}"]
                if data.audit_head and data.audit_head.seq
                else []
            ),
        ),
    ]
    groups = count_lines(data)
    if groups:
        blocks.append(
            fields_section(
                [
                    f"*{safe(t, 100)}*\n" + "\n".join(safe(x, 100) for x in lines)
                    for t, lines in groups
                ]
            )
        )
    blocks.append(divider())
    if data.attention:
        blocks.append(section(attention_text(data)))
    if data.changes_total:
        totals = ", ".join(
            f"{n} {safe(action_words(a), 64)}" for a, n in data.changes_by_action[:8]
        )
        lines = [change_line(c, data) for c in data.changes]
        more = data.changes_total - sum(c.count for c in data.changes)
        blocks.append(
            section(
                clip(
                    f"*What changed* — {data.changes_total} change(s): {totals}\n"
                    + "\n".join(lines)
                    + (f"\n_…and {more} more; `/accord audit` has them all._" if more > 0 else ""),
                    SECTION_TEXT_LIMIT,
                )
            )
        )
    else:
        blocks.append(section("*What changed* — nothing since the last digest."))
    for part in data.sections:
        blocks.append(section(section_text(part)))
    blocks.append(divider())
    summary = digest.summary
    blocks.append(section(f"*Open disagreements* — {safe(summary.overview, 500)}"))
    shown = digest.briefs[:DISAGREEMENTS_SHOWN]
    for brief in shown:
        item = summary.item(brief.ref)
        blocks.append(item_block(brief, item, today, author=written_by(digest, brief.ref)))
    hidden = len(digest.briefs) - len(shown)
    if hidden > 0:
        blocks.append(
            context(
                f"…and {hidden} more open disagreement(s); "
                "`accord export review --format md` writes the full review pack."
            )
        )
    blocks = blocks[: MESSAGE_BLOCK_LIMIT - 1] if len(blocks) > MESSAGE_BLOCK_LIMIT else blocks
    open_initiatives = sum(
        number
        for group in data.counts
        if group.key == "initiatives_health"
        for _, number in group.counts
    )
    text = clip(
        f"{title}: {open_initiatives} open initiative(s), {len(digest.briefs)} open "
        f"disagreement(s), {data.changes_total} change(s) since the last digest.",
        300,
    )
    return Message(text=safe(text), blocks=blocks)
