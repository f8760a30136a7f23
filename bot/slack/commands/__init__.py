"""The `/accord` command tree: every noun registers here, and help is generated from it."""

from __future__ import annotations

from bot.domain.errors import InvalidInput
from bot.slack.blocks.general import HelpEntry, help_index, help_message
from bot.slack.commands import (
    digest,
    disagreement,
    gate,
    general,
    initiative,
    risk,
    threat,
    touchpoint,
)
from bot.slack.commands.base import CommandContext, Noun, Outcome, Reply
from bot.slack.text import tokenize


def _help(_ctx: CommandContext, args: list[str]) -> Outcome:
    """A short index; `/accord help risk` shows that noun's commands with examples."""
    if not args:
        return Reply(help_index([(noun.name, noun.summary) for noun in NOUNS if noun is not HELP]))
    wanted = find_noun(args[0])
    return Reply(help_message([s for s in help_sections() if s[0] == wanted.name]))


HELP = Noun(
    name="help",
    summary="The commands; `/accord help risk` shows one noun's with examples.",
    bare=_help,
    usage="[command]",
    example="/accord help risk",
    bare_reads_only=True,
)

NOUNS: tuple[Noun, ...] = (
    HELP,
    initiative.NOUN,
    touchpoint.NOUN,
    risk.NOUN,
    threat.NOUN,
    disagreement.NOUN,
    disagreement.ESCALATE,
    digest.NOUN,
    gate.NOUN,
    general.AUDIT,
    general.WHOAMI,
    general.ROLES,
)


def help_sections() -> list[tuple[str, str, list[HelpEntry]]]:
    sections = []
    for noun in NOUNS:
        entries = [
            HelpEntry(f"/accord {noun.name} {verb.usage}", verb.summary, verb.example)
            for verb in noun.verbs
        ]
        if not entries or (noun.bare_takes_args and noun.usage):
            usage = f"/accord {noun.name} {noun.usage}".strip()
            bare = HelpEntry(usage, noun.summary, noun.example or f"/accord {noun.name}")
            entries = [bare, *entries]
        sections.append((noun.name, noun.summary, entries))
    return sections


def find_noun(name: str) -> Noun:
    key = name.lower()
    for noun in NOUNS:
        if key == noun.name or key in noun.aliases:
            return noun
    raise InvalidInput(
        f"`{name[:30]}` is not an Accord command.",
        hint="Commands: " + ", ".join(f"`{noun.name}`" for noun in NOUNS) + ". `/accord help`.",
    )


def reads_only(text: str) -> bool:
    """Whether the command `text` is one that only reads (help, `initiative list`, …): such
    a command needs no request key, so it runs without a write (SQLite's one write lock) or
    a commit. Anything that fails to parse counts as not read-only."""
    try:
        tokens = tokenize(text)
        if not tokens:
            return True  # help
        noun = find_noun(tokens[0])
        if len(tokens) == 1 or not noun.verbs:
            return noun.bare_reads_only
        if noun.bare_takes_args and not noun.has_verb(tokens[1].lower()):
            return noun.bare_reads_only
        return noun.verb(tokens[1].lower()).reads_only
    except InvalidInput:
        return False


def route(ctx: CommandContext, text: str) -> Outcome:
    """Pick the noun and verb, run it, and attach the verb's usage to input errors."""
    tokens = tokenize(text)
    if not tokens:
        return _help(ctx, [])
    noun = find_noun(tokens[0])
    bare_with_words = (
        len(tokens) > 1 and noun.bare_takes_args and not noun.has_verb(tokens[1].lower())
    )
    if len(tokens) == 1 or not noun.verbs or bare_with_words:
        if noun.bare is None:
            raise InvalidInput(f"`/accord {noun.name}` needs more.", hint=noun.usage_hint())
        return noun.bare(ctx, tokens[1:])
    verb = noun.verb(tokens[1].lower())
    try:
        return verb.run(ctx, tokens[2:])
    except InvalidInput as error:
        if error.hint is None:
            error.hint = noun.usage_of(verb.name, tokens[2] if len(tokens) > 2 else None)
        raise
