"""The leadership review pack: the digest's content as a Markdown document (all disagreements,
not just the ones that fit in a Slack message)."""

from __future__ import annotations

import re

from bot.domain.digest import Digest
from bot.domain.validation import clean_text
from bot.slack.blocks.digest import author_line, count_lines, facts_line, written_by
from bot.summarize.fallback import summarise_brief

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")
# What only means something at the start of a line: a list item (`- `, `1. `, `2) `), a
# setext underline or thematic break (`===`, `---`).
_MD_LEADING = re.compile(r"^(\d+)([.)])|^([-=])")


def md(text: str) -> str:
    """Escape Markdown (and HTML) so record or LLM text renders as the words it is, wherever
    it is placed: inline, in a heading, or as a paragraph of its own. Newlines collapse."""
    text = _MD_SPECIAL.sub(r"\\\1", " ".join(clean_text(text).split()))
    return _MD_LEADING.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", text)


def _side(position: str, impact_label: str, impact: str) -> str:
    said = md(position) if position.strip() else "(no position recorded)"
    return said + (f" {impact_label}: {md(impact)}" if impact.strip() else "")


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
    out += ["## What changed", ""]
    if data.changes_total:
        out.append(
            f"{data.changes_total} change(s): "
            + ", ".join(f"{n} {md(a)}" for a, n in data.changes_by_action)
            + "."
        )
        out.append("")
        for change in data.changes:
            fields = f" ({md(', '.join(change.fields))})" if change.fields else ""
            out.append(
                f"- {change.at:%Y-%m-%d} {md(change.record_ref)} {md(change.action)}{fields}"
            )
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
