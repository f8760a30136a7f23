"""Prompt templates, the review pack export, and the cron slot arithmetic."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.scheduler.digest_slots import latest_slot, slot_key
from bot.summarize.prompts import PromptError, load_prompt


def test_prompt_template_declares_and_requires_its_variables(tmp_path: Path) -> None:
    prompt = load_prompt("disagreement_summary", 2)
    assert prompt.key == "disagreement_summary.v2"
    assert prompt.variables == {"count", "records"}
    system, user = prompt.render(count="2", records='[{"ref": "DIS-1"}]')
    assert "DATA" in system and '<records>\n[{"ref": "DIS-1"}]\n</records>' in user
    with pytest.raises(PromptError):
        prompt.render(records="[]")
    (tmp_path / "bad.v1.md").write_text(
        "---\nname: bad\nversion: 1\nvariables: a\n---\n## system\n$a $b\n## user\n$a\n"
    )
    with pytest.raises(PromptError, match="undeclared"):
        load_prompt("bad", 1, directory=tmp_path)


def test_latest_slot_is_the_last_due_fire_time() -> None:
    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert latest_slot("0 8 * * MON", "UTC", wednesday) == datetime(2026, 11, 23, 8, tzinfo=UTC)
    berlin = latest_slot("0 8 * * MON", "Europe/Berlin", wednesday)
    assert berlin == datetime(2026, 11, 23, 7, tzinfo=UTC)
    assert slot_key(berlin) == "scheduled:2026-11-23T07:00Z"
    on_the_dot = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert latest_slot("0 8 * * MON", "UTC", on_the_dot) == on_the_dot


def test_export_review_writes_markdown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'accord.db'}")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    target = tmp_path / "review.md"
    # An export never creates the database it reads (it would report an empty one).
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    result = CliRunner().invoke(
        app, ["export", "review", "--format", "md", "--output", str(target)]
    )
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.startswith("# Accord leadership review")
    assert "## Counts and trends" in text and "## Open disagreements" in text
    assert "No open disagreements." in text
    # the same sections as the Slack digest, each with its counts (an empty database: zeros)
    for heading, line in (
        ("### Open initiatives by health", "- red: 0"),
        ("### Initiatives needing attention", "- on security hold: 0"),
        ("### Risk acceptances by band", "- critical: 0"),
        ("### Acceptance debt", "- expired, not renewed: 0"),
        ("### Waiting for a decision", "- pending approvals: 0"),
        ("### Escalations", "- awaiting decision: 0"),
    ):
        assert heading in text and line in text[text.index(heading) :], heading
    assert "## What changed" in text and "Nothing changed since the last digest." in text
    wrong = CliRunner().invoke(app, ["export", "review", "--format", "pdf"])
    assert wrong.exit_code == 2


def test_review_pack_lists_every_disagreement_with_both_sides_escaped() -> None:
    from datetime import date

    from bot.domain.digest import Digest, DigestData, DigestWindow
    from bot.export.review import review_markdown
    from bot.summarize import DisagreementBrief, FallbackSummarizer

    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    briefs = [
        DisagreementBrief(
            ref=f"DIS-{n}",
            subject=f"Topic {n} <b>bold</b> [link](http://x)",
            cio_position="Ship it *now*",
            ciso_position="Hold it",
            opened_on=date(2026, 11, 1),
        )
        for n in range(1, 31)
    ]
    data = DigestData(window=DigestWindow(now=now, since=now), briefs=briefs)
    digest = Digest(data=data, summary=FallbackSummarizer().summarize(briefs, today=now.date()))
    text = review_markdown(digest)
    assert text.count("### DIS-") == 30
    assert "**CIO side:** Ship it \\*now\\*" in text and "**CISO side:** Hold it" in text
    assert "<b>" not in text and "[link](http" not in text  # escaped: words, not a link
    assert "\\[link\\](http://x)" in text


HOSTILE = {
    "subject": "# Not a heading | col | col",
    "cio_position": "- not a list item & <b>not bold</b>",
    "ciso_position": "1. not a numbered list",
    "options": ("---", "=== not a heading", "| a | b |\n|---|---|\n| c | d |"),
}


def test_review_pack_text_cannot_change_the_markdown_structure() -> None:
    """Record (or LLM) text that looks like Markdown — a heading, a list, a table, a rule,
    HTML — renders as the words it is; the document keeps exactly its own structure."""
    from datetime import date

    from markdown_it import MarkdownIt

    from bot.domain.digest import Digest, DigestData, DigestWindow
    from bot.export.review import review_markdown
    from bot.summarize import DisagreementBrief, FallbackSummarizer, ItemSummary

    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    brief = DisagreementBrief(ref="DIS-1", opened_on=date(2026, 11, 1), **HOSTILE)  # type: ignore[arg-type]
    summary = FallbackSummarizer().summarize([brief], today=now.date())
    llm_like = [
        ItemSummary(ref="DIS-1", overview=text, question=f"{text} 2) # also not a heading?")
        for text in ("---", "- a list item?", "3. a numbered one", "=== | x | y |")
    ]
    for items in (summary.items, *((item,) for item in llm_like)):
        digest = Digest(
            data=DigestData(window=DigestWindow(now=now, since=now), briefs=[brief]),
            summary=replace(summary, items=items),
        )
        text = review_markdown(digest)
        tokens = MarkdownIt("commonmark").enable("table").parse(text)
        kinds = {token.type for token in tokens}
        assert [t.type for t in tokens].count("bullet_list_open") == 1  # the CIO/CISO list
        assert not kinds & {"hr", "table_open", "html_block", "ordered_list_open", "code_block"}
        inline = [child.type for t in tokens if t.children for child in t.children]
        assert "html_inline" not in inline and "link_open" not in inline
        assert inline.count("strong_open") == 3  # only the pack's CIO / CISO / Options labels
        headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
        assert headings[0].startswith("Accord leadership review")
        assert headings[-1] == r"DIS-1 — \# Not a heading \| col \| col"
        rendered = MarkdownIt("commonmark").enable("table").render(text)
        assert "<h3>DIS-1 — # Not a heading | col | col</h3>" in rendered
        assert "- not a list item &amp; &lt;b&gt;not bold&lt;/b&gt;" in rendered
