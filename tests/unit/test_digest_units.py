"""Prompt templates, the review pack export, and the cron slot arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.scheduler.digest_slots import latest_slot, slot_key
from bot.summarize.prompts import PromptError, load_prompt


def test_prompt_template_declares_and_requires_its_variables(tmp_path: Path) -> None:
    prompt = load_prompt("disagreement_summary", 1)
    assert prompt.key == "disagreement_summary.v1"
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
    result = CliRunner().invoke(
        app, ["export", "review", "--format", "md", "--output", str(target)]
    )
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert text.startswith("# Accord leadership review")
    assert "## Counts and trends" in text and "## Open disagreements" in text
    assert "No open disagreements." in text
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
    assert "<b>" not in text and "](http" not in text
