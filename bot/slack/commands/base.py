"""The shape of a subcommand: nouns with verbs, each with its usage and an example.

`/accord help` and every "correct form" hint are generated from these declarations, so the help
cannot drift from what the parser accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.models.views import View
from sqlmodel import Session

from bot.domain.errors import InvalidInput
from bot.domain.roles import Actor
from bot.services import Services
from bot.slack.blocks.common import Message
from bot.slack.notifier import SlackNotifier


@dataclass
class CommandContext:
    session: Session
    services: Services
    actor: Actor
    channel_id: str
    now: datetime

    @property
    def today(self) -> date:
        """Today where the person is: a date they type ("due:2026-12-01" at 22:12 in New York
        on 1 December) is checked against their calendar, not UTC's."""
        return local_today(self.services, self.actor.user_id, self.now)


def local_today(services: Services, user_id: str, now: datetime) -> date:
    workspace = services.workspace
    name = workspace.timezone(user_id) if workspace is not None and user_id else None
    if name:
        try:
            return now.astimezone(ZoneInfo(name)).date()
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return now.date()


@dataclass
class Reply:
    message: Message
    in_channel: bool = False


@dataclass
class Deferred(Reply):
    """Acknowledge with `message` now, then run `then` after the ack (slow work such as an LLM
    call); what `then` returns is shown to the person ephemerally. It runs outside the
    command's transaction and gets a notifier for posting."""

    then: Callable[[SlackNotifier], Message | None] | None = None
    #: `message` only announces what follows ("Building…"): send it and the result through
    #: response_url one after the other, so Slack cannot show them in the wrong order.
    #: Otherwise `message` is the answer itself and goes out at once with the ack.
    notice_first: bool = False


@dataclass
class OpenModal:
    view: View


Outcome = Reply | OpenModal
Handler = Callable[[CommandContext, list[str]], Outcome]


@dataclass(frozen=True)
class Verb:
    name: str
    usage: str
    example: str
    summary: str
    run: Handler
    aliases: tuple[str, ...] = ()
    #: The verb only reads (no change, no work after the answer): it needs no request key,
    #: so it takes no write lock and commits nothing (`commands.reads_only`).
    reads_only: bool = False


@dataclass(frozen=True)
class Noun:
    name: str
    summary: str
    verbs: tuple[Verb, ...] = ()
    #: What the noun alone does: open a modal, or run a default verb.
    bare: Handler | None = None
    aliases: tuple[str, ...] = field(default=())
    #: For a noun without verbs: what follows it, and an example (shown by `/accord help`).
    usage: str = ""
    example: str = ""
    #: When set, `/accord <noun> <words>` whose first word is no verb runs `bare` with the words.
    bare_takes_args: bool = False
    #: `bare` only reads (see `Verb.reads_only`).
    bare_reads_only: bool = False

    def has_verb(self, name: str) -> bool:
        return any(name == verb.name or name in verb.aliases for verb in self.verbs)

    def verb(self, name: str) -> Verb:
        for verb in self.verbs:
            if name == verb.name or name in verb.aliases:
                return verb
        raise InvalidInput(
            f"`{name[:30]}` is not something `/accord {self.name}` can do.",
            hint=self.usage_hint(),
        )

    def usage_hint(self) -> str:
        return "Try: " + " · ".join(f"`/accord {self.name} {verb.usage}`" for verb in self.verbs)

    def usage_of(self, verb_name: str, typed: str | None = None) -> str:
        """The verb's usage and example; the example names the id the person typed, if any,
        so a hint never suggests `INI-3` to someone working on `INI-1`."""
        verb = self.verb(verb_name)
        example = verb.example
        typed_ref = _REF.fullmatch(typed.strip()) if typed else None
        example_ref = _REF.search(example)
        if typed_ref and example_ref and typed_ref.group(1).upper() == example_ref.group(1):
            example = example.replace(example_ref.group(0), typed_ref.group(0).upper(), 1)
        return f"Usage: `/accord {self.name} {verb.usage}` — e.g. `{example}`"


_REF = re.compile(r"\b([A-Za-z]{1,3})-(\d+)\b")
