"""The domain knows nothing of Slack, the scheduler or the LLM (STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = ("slack_bolt", "slack_sdk", "openai", "apscheduler", "bot.slack", "bot.shell")


DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"


def test_domain_imports_no_transport() -> None:
    offenders = []
    files = list(DOMAIN.rglob("*.py"))
    assert len(files) > 5, "the domain package was not found"
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n.startswith(FORBIDDEN)]
    assert offenders == []
