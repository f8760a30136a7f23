"""The leadership review pack: the digest's content as a Markdown document (all disagreements,
not just the ones that fit in a Slack message)."""

from __future__ import annotations

import re

from bot.domain.digest import ChangeLine, Digest, DigestData, action_words
from bot.domain.validation import clean_text
from bot.slack.blocks.digest import author_line, count_lines, facts_line, written_by
from bot.summarize.fallback import summarise_brief

# Only what changes the rendering wherever it stands: code, emphasis, links and images
# (`[`), HTML and autolinks (`<`), strikethrough, a backslash, an entity (`&amp;`), an
# underscore at a word's edge and a table's column bar. Parentheses, `=`, `+`, `!`, `#` and
# `&` elsewhere read as themselves and are left alone.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>~|])|&(?=#?\w+;)|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# What only means something at the start of a line: a list item (`- `, `+ `, `1. `, `2) `), a
# heading (`#`), a setext underline or thematic break (`===`, `---`).
_MD_LEADING = re.compile(r"^(\d+)([.)])|^([-=+#])")
# A heading's closing sequence: `#`s at the end of the line after a space.
_MD_CLOSING = re.compile(r"(\s)(#+)$")


def md(text: str) -> str:
    """Escape Markdown (and HTML) so record or LLM text renders as the words it is, wherever
    it is placed: inline, in a heading, or as a paragraph of its own. Newlines collapse."""
    text = _MD_SPECIAL.sub(lambda m: "\\" + m[0], " ".join(clean_text(text).split()))
    text = _MD_CLOSING.sub(lambda m: f"{m[1]}\\{m[2]}", text)
    return _MD_LEADING.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", text)


def _side(position: str, impact_label: str, impact: str) -> str:
    said = md(position) if position.strip() else "(no position recorded)"
    return said + (f" {impact_label}: {md(impact)}" if impact.strip() else "")


def change_item(change: ChangeLine, data: DigestData) -> str:
    """`- 2026-12-01 INI-1 Roll out MFA — updated (status) by Ann Lee`"""
    title = f" {md(change.title)}" if change.title else ""
    fields = ", ".join(f.replace("_", " ") for f in change.fields)
    who = data.people.get(change.actor_id or "", change.actor_id or "")
    return (
        f"- {change.at:%Y-%m-%d} {md(change.record_ref)}{title} — {md(change.action_words)}"
        + (f" ×{change.count}" if change.count > 1 else "")
        + (f" ({md(fields)})" if fields else "")
        + (f" by {md(who)}" if who else "")
    )


def review_markdown(digest: Digest) -> str:
    data = digest.data
    today = data.window.today
    out: list[str] = [
        f"# Accord leadership review — {today.isoformat()}",
        "",
        f"_Changes since {data.window.since:%Y-%m-%d %H:%M} UTC. {md(author_line(digest))}_",
        "",
        "## Counts and trends",
        "",
    ]
    if data.previous_at:
        out += [f"Trends compare with the digest of {data.previous_at:%Y-%m-%d}.", ""]
    for title, lines in count_lines(data):
        out += [f"### {md(title)}", "", *(f"- {md(line)}" for line in lines), ""]
    if data.attention:
        out += ["## Needs attention", ""]
        out += [
            f"- {md(line.ref)} {md(line.title)} — {md(', '.join(line.reasons))}"
            for line in data.attention
        ]
        if data.attention_more > 0:
            out.append(f"- …and {data.attention_more} more")
        out.append("")
    out += ["## What changed", ""]
    if data.changes_total:
        out.append(
            f"{data.changes_total} change(s): "
            + ", ".join(f"{n} {md(action_words(a))}" for a, n in data.changes_by_action)
            + "."
        )
        out.append("")
        out += [change_item(change, data) for change in data.changes]
    else:
        out.append("Nothing changed since the last digest.")
    for part in data.sections:
        out += ["", f"## {md(part.title)}", ""]
        out += [f"- {md(line)}" for line in part.lines] or [md(part.empty)]
    out += ["", "## Open disagreements", "", md(digest.summary.overview), ""]
    for brief in digest.briefs:
        item = digest.summary.item(brief.ref) or summarise_brief(brief, today=today)
        out += [
            f"### {md(brief.ref)} — {md(brief.subject)}",
            "",
            f"_{md(facts_line(brief, today, author=written_by(digest, brief.ref)))}_",
            "",
            md(item.overview),
            "",
            f"Decision needed: {md(item.question)}",
            "",
            # each side in its own words, from the record (never the summariser's)
            "- **CIO side:** "
            + _side(brief.cio_position, "Business impact", brief.business_impact),
            "- **CISO side:** "
            + _side(brief.ciso_position, "Security impact", brief.security_impact),
        ]
        if brief.options:
            out.append("- **Options:** " + "; ".join(md(o) for o in brief.options))
        out.append("")
    return "\n".join(out).rstrip() + "\n"
