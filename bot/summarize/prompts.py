"""Versioned prompt templates: `prompts/<name>.v<version>.md` with a front matter that lists
the variables, a `## system` part and a `## user` part. Variables are written `$name`
(string.Template), so JSON braces in the data need no escaping."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import Template


def _default_prompts_dir() -> Path:
    """The checkout's `prompts/`, or the copy a regular (non-editable) install puts under
    `<prefix>/share/accord/prompts` (pyproject's data-files)."""
    checkout = Path(__file__).resolve().parents[2] / "prompts"
    installed = Path(sys.prefix) / "share" / "accord" / "prompts"
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


DEFAULT_PROMPTS_DIR = _default_prompts_dir()


class PromptError(Exception):
    """A template is missing, malformed, or rendered with the wrong variables."""


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    variables: frozenset[str]
    system: str
    user: str
    digest: str  # sha256 of the file, so an edited template never reuses old cached answers

    @property
    def key(self) -> str:
        return f"{self.name}.v{self.version}"

    def render(self, **values: str) -> tuple[str, str]:
        given = frozenset(values)
        if given != self.variables:
            raise PromptError(f"{self.key} takes {sorted(self.variables)}, got {sorted(given)}")
        return (
            Template(self.system).substitute(values),
            Template(self.user).substitute(values),
        )


def load_prompt(name: str, version: int, *, directory: str | Path | None = None) -> Prompt:
    return _load(name, version, str(directory or DEFAULT_PROMPTS_DIR))


@lru_cache(maxsize=32)
def _load(name: str, version: int, directory: str) -> Prompt:
    path = Path(directory) / f"{name}.v{version}.md"
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PromptError(f"cannot read prompt {path}: {error}") from error
    if not raw.startswith("---\n"):
        raise PromptError(f"{path} has no front matter")
    head, _, body = raw[4:].partition("\n---\n")
    meta = {}
    for line in head.splitlines():
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    if meta.get("name") != name or meta.get("version") != str(version):
        raise PromptError(f"{path}: front matter names {meta.get('name')} v{meta.get('version')}")
    variables = frozenset(v.strip() for v in meta.get("variables", "").split(",") if v.strip())
    system, sep, user = body.partition("\n## user\n")
    if not sep or "## system\n" not in system:
        raise PromptError(f"{path} needs a `## system` and a `## user` part")
    system = system.split("## system\n", 1)[1].strip()
    for part in (system, user):
        used = {m.group("named") or m.group("braced") for m in Template.pattern.finditer(part)}
        unknown = {u for u in used if u} - variables
        if unknown:
            raise PromptError(f"{path} uses undeclared variables {sorted(unknown)}")
    return Prompt(
        name=name,
        version=version,
        variables=variables,
        system=system,
        user=user.strip() + "\n",
        digest=hashlib.sha256(raw.encode()).hexdigest(),
    )
