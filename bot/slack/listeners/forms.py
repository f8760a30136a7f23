"""Modal submissions, the same way everywhere: claim the submission (Slack may resend it), run
the handler in one transaction, mark the wrong field, confirm to the person — and answer Slack
within its 3 seconds even when the work is slow."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.db import session_scope
from bot.domain.errors import InvalidInput
from bot.domain.validation import parse_date, parse_record_number
from bot.services import Services
from bot.slack import send
from bot.slack.blocks.errors import form_error_text
from bot.slack.commands.base import CommandContext, Outcome, Reply
from bot.slack.deadline import Pending, within_budget
from bot.slack.guard import Failure, attempt
from bot.slack.inbound import json_object
from bot.slack.listeners.interaction import interaction_unit

log = logging.getLogger(__name__)
STALE_FORM = "This form is out of date; open it again."


class FormState:
    """Typed access to `view.state.values` (every input uses action id `value`)."""

    def __init__(self, view: dict[str, Any]) -> None:
        self.values: dict[str, dict[str, Any]] = view.get("state", {}).get("values", {})
        try:
            self.metadata = json_object(view.get("private_metadata") or "{}", stale="")
        except InvalidInput:
            self.metadata = {}

    def _element(self, block: str) -> dict[str, Any]:
        return dict(self.values.get(block, {}).get("value") or {})

    def text(self, block: str) -> str:
        return str(self._element(block).get("value") or "")

    def has(self, block: str) -> bool:
        """Whether the form shows `block` (a form opened before an upgrade may not)."""
        return block in self.values

    def user(self, block: str) -> str | None:
        value = self._element(block).get("selected_user")
        return str(value) if value else None

    def day(self, block: str, *, field: str | None = None) -> date | None:
        """A date picker's day; an impossible one is an input error on that field."""
        value = self._element(block).get("selected_date")
        return parse_date(str(value), field=field or block) if value else None

    def choice(self, block: str) -> str | None:
        option = self._element(block).get("selected_option") or {}
        return str(option["value"]) if option.get("value") else None

    def choices(self, block: str) -> list[str]:
        """The values picked in a multi-select (static or external)."""
        picked = self._element(block).get("selected_options") or []
        return [str(o["value"]) for o in picked if isinstance(o, dict) and o.get("value")]

    def record_number(self, key: str = "id") -> int:
        return parse_record_number(self.metadata.get(key), stale=STALE_FORM)

    def optional_number(self, key: str) -> int | None:
        """A record number the form may carry (e.g. a touchpoint's occurrence)."""
        return None if self.metadata.get(key) is None else self.record_number(key)


FormHandler = Callable[[CommandContext, FormState], Outcome]
#: How a successful submission is confirmed (default: ephemeral in the channel, or a DM).
Confirm = Callable[[CommandContext, FormState, Reply], None]
#: How the unit of work runs; features may wrap it (e.g. to explain a lost race).
Runner = Callable[..., Callable[[], Outcome]]


def tell_submitter(ctx: CommandContext, form: FormState, reply: Reply) -> None:
    """The confirmation, queued in the submission's transaction (a form has no response_url):
    ephemeral where the form was opened, or a DM."""
    channel = str(form.metadata.get("channel") or "")
    send.ephemeral(
        ctx.session,
        ctx.services,
        user_id=ctx.actor.user_id,
        channel=channel or None,
        message=reply.message,
    )


def _confirmed(ctx: CommandContext, form: FormState, outcome: Outcome, confirm: Confirm) -> Outcome:
    if isinstance(outcome, Reply):
        confirm(ctx, form, outcome)
    return outcome


def form_listener(
    services: Services,
    handler: FormHandler,
    *,
    first_block: str,
    field_blocks: Mapping[str, str],
    confirm: Confirm = tell_submitter,
    runner: Runner | None = None,
) -> Callable[..., None]:
    def listener(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        form = FormState(view)
        user_id = body["user"]["id"]
        channel = str(form.metadata.get("channel") or "")
        run = (runner or interaction_unit)(
            services,
            user_id=user_id,
            channel_id=channel,
            request_key=f"view:{view.get('id')}:{view.get('hash', '')}",
            work=lambda ctx: _confirmed(ctx, form, handler(ctx, form), confirm),
            form=form,
        )
        result = within_budget(
            lambda: attempt(run), seconds=services.settings.accord_ack_budget_seconds
        )
        late = isinstance(result, Pending)
        if isinstance(result, Pending):
            ack()  # close the form now; the outcome follows as a message
            result = result.result()
        if isinstance(result, Failure):
            if late:  # the form is closed: the refusal goes out through the outbox
                with session_scope(services.engine) as session:
                    send.ephemeral(
                        session,
                        services,
                        user_id=user_id,
                        channel=channel or None,
                        message=result.message,
                    )
                return
            field = (result.error.field if result.error else None) or ""
            block = field_blocks.get(field) or (field if field in form.values else first_block)
            ack(response_action="errors", errors={block: form_error_text(result)})
            return
        if not late:
            ack()

    return listener
