"""Layers (STYLE.md): the domain knows nothing of Slack, the scheduler, the LLM or the wiring;
the Slack package does not reach into the wiring or the scheduler."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Package (directory under the repository) -> the modules it must not import. A name bans the
#: module and everything under it; a name ending in "_" bans every module with that prefix.
RULES: dict[str, tuple[str, ...]] = {
    "bot/domain": (
        "slack_",
        "openai",
        "apscheduler",
        "bot.slack",
        "bot.shell",
        "bot.summarize",
        "bot.scheduler",
        "bot.bootstrap",
    ),
    "bot/slack": ("bot.bootstrap", "bot.scheduler"),
}

#: Known offenders, named one by one, that other work removes (issue 9). The lead is rewriting
#: bot/slack/disputes.py and digest_delivery.py for the outbox. Delete an entry when its import
#: goes: the last test fails until you do.
_PENDING = {
    ("bot/slack/digest_delivery.py", "bot.scheduler.digest_slots"),
}


def imported_modules(source: str, *, module: str, is_package: bool = False) -> set[str]:
    """Every module `source` imports, anywhere in the file (functions and TYPE_CHECKING blocks
    too): `import a.b`, `from a.b import c` (as a.b and a.b.c) and relative imports resolved
    against `module`, the dotted name of the file."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}
    return found


def banned(name: str, rules: tuple[str, ...]) -> bool:
    return any(
        name.startswith(rule) if rule.endswith("_") else name == rule or name.startswith(f"{rule}.")
        for rule in rules
    )


def offenders() -> set[tuple[str, str]]:
    """(file, module) for every banned import; `from bot import slack` counts as bot.slack."""
    found: set[tuple[str, str]] = set()
    for package, rules in RULES.items():
        files = sorted((ROOT / package).rglob("*.py"))
        assert len(files) > 5, f"{package} was not found"
        for path in files:
            relative = path.relative_to(ROOT)
            dotted = ".".join(relative.with_suffix("").parts)
            is_package = path.name == "__init__.py"
            if is_package:
                dotted = dotted.removesuffix(".__init__")
            names = imported_modules(path.read_text(), module=dotted, is_package=is_package)
            hits = {name for name in names if banned(name, rules)}
            # `from bot.scheduler.x import y` is reported once, as bot.scheduler.x.
            found |= {(relative.as_posix(), n) for n in hits if n.rpartition(".")[0] not in hits}
    return found


def test_layers_import_nothing_they_must_not() -> None:
    assert sorted(offenders() - _PENDING) == []


def test_the_check_sees_every_form_of_import() -> None:
    domain = RULES["bot/domain"]
    sources = {
        "import openai": "openai",
        "import slack_sdk.web": "slack_sdk.web",
        "from bot.summarize.fallback import summarise_brief": "bot.summarize.fallback",
        "from bot import scheduler": "bot.scheduler",
        "from ... import bootstrap": "bot.bootstrap",
        "from ...slack.text import escape": "bot.slack.text",
        "def f():\n    from bot.shell import console\n": "bot.shell",
        "if TYPE_CHECKING:\n    import apscheduler\n": "apscheduler",
    }
    for source, expected in sources.items():
        names = imported_modules(source, module="bot.domain.risks.service")
        assert expected in names, source
        assert any(banned(name, domain) for name in names), source
    allowed = imported_modules(
        "from bot.domain.audit import record_event\nimport bot.slackish\nfrom . import models",
        module="bot.domain.risks.service",
    )
    assert not any(banned(name, domain) for name in allowed)


def test_pending_exceptions_are_still_needed() -> None:
    assert sorted(_PENDING - offenders()) == [], "remove the fixed entries from _PENDING"
