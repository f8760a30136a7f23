"""Text in and out of Slack: the one escape function, and parsing of command text.

Commands arrive with `should_escape: true`: mentions come as `<@U123|name>`, channels as
`<#C123|name>`, special mentions as `<!channel>`, and `&`, `<`, `>` typed by people as entities.
We parse the mentions, unescape the rest once, store plain text, and escape again on output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.errors import InvalidInput

_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_TOKEN = re.compile(r'(?:<[^>]*>|"[^"]*"|\u201c[^\u201d]*\u201d|[^\s<"\u201c])+')
_ANGLE = re.compile(r"<([^>]*)>")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def escape(text: str) -> str:
    """Escape user or LLM text for mrkdwn so it can neither ping nor spoof a mention or link."""
    return "".join(_ESCAPES.get(char, char) for char in text)


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def neutralise(raw: str) -> str:
    """Turn Slack's angle-bracket markup in free text into plain words.

    `<@U1|alice>` → `@alice`, `<#C1|ops>` → `#ops`, `<!channel>` → `@channel` (plain text, which
    pings nobody once escaped), `<https://x|label>` → `label (https://x)`.
    """

    def plain(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            name = target[1:].split("^")[0]
            return "@" + (label.lstrip("@") if label else name)
        return f"{label} ({target})" if label and label != target else target

    return unescape(_ANGLE.sub(plain, raw))


def parse_user(token: str) -> str | None:
    """A user id from `<@U123|name>`, `<@U123>` or a bare `U123…`; None for anything else."""
    token = token.strip()
    match = re.fullmatch(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>", token)
    if match:
        return match.group(1)
    return token if _USER_ID.match(token) else None


def parse_channel(token: str) -> str | None:
    match = re.fullmatch(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>", token.strip())
    if match:
        return match.group(1)
    return token if re.fullmatch(r"[CG][A-Z0-9]{2,}", token.strip()) else None


def tag_name(token: str) -> str | None:
    """`#zero-trust`, or `<#C123|zero-trust>` when Slack turned the tag into a channel link."""
    match = re.fullmatch(r"<#[CG][A-Z0-9]+\|([^>]*)>", token)
    if match:
        return match.group(1)
    if token.startswith("#") and len(token) > 1:
        return unescape(token[1:])
    return None


def tokenize(text: str) -> list[str]:
    """Split on spaces, keeping `<…>` markup and "quoted phrases" whole."""
    return _TOKEN.findall(text or "")


def strip_quotes(token: str) -> str:
    for left, right in (('"', '"'), ("\u201c", "\u201d")):
        if len(token) >= 2 and token.startswith(left) and token.endswith(right):
            return token[1:-1]
    return token


@dataclass
class ParsedArgs:
    """Command words after the verb: free words, `key:value` options, `#tags`."""

    words: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)

    def free_text(self) -> str:
        """The words as typed; quotes around the whole text only group it, and are dropped
        (`"Roll out MFA"`), but quotes inside it are part of it (`Rotate the "edge" keys`)."""
        if len(self.words) == 1:
            return neutralise(strip_quotes(self.words[0])).strip()
        return neutralise(" ".join(self.words)).strip()


def parse_args(tokens: list[str], *, options: frozenset[str], tags: bool = False) -> ParsedArgs:
    """Options are recognised only for the keys a verb accepts, so "Fix: VPN" stays a title."""
    parsed = ParsedArgs()
    for token in tokens:
        key, sep, value = token.partition(":")
        if sep and key.lower() in options:
            parsed.options[key.lower()] = value
            continue
        tag = tag_name(token) if tags else None
        if tag is not None:
            parsed.tags.append(tag)
            continue
        parsed.words.append(token)
    return parsed


def parse_fields(
    tokens: list[str], *, options: frozenset[str], hint: str | None = None
) -> dict[str, str]:
    """Only `key:value` fields (e.g. after `update INI-3`); any other word is a mistake."""
    parsed = parse_args(tokens, options=options)
    if parsed.words:
        raise InvalidInput(
            f"I did not understand `{neutralise(' '.join(parsed.words))[:60]}`.",
            hint=hint
            or "Fields are written `key:value`: "
            + ", ".join(f"`{key}:`" for key in sorted(options)),
        )
    return parsed.options
