"""Modal submissions, the same way everywhere: claim the submission (Slack may resend it), run
the handler in one transaction, mark the wrong field, confirm to the person — and answer Slack
within its 3 seconds even when the work is slow."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from bot.domain.errors import InvalidInput
from bot.domain.validation import parse_date
from bot.services import Services
from bot.slack.blocks.errors import form_error_text
from bot.slack.commands.base import CommandContext, Outcome, Reply
from bot.slack.deadline import Pending, within_budget
from bot.slack.guard import Failure, attempt
from bot.slack.listeners.interaction import interaction_unit
from bot.slack.notifier import SlackNotifier

log = logging.getLogger(__name__)


class FormState:
    """Typed access to `view.state.values` (every input uses action id `value`)."""

    def __init__(self, view: dict[str, Any]) -> None:
        self.values: dict[str, dict[str, Any]] = view.get("state", {}).get("values", {})
        try:
            self.metadata: dict[str, Any] = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            self.metadata = {}

    def _element(self, block: str) -> dict[str, Any]:
        return dict(self.values.get(block, {}).get("value") or {})

    def text(self, block: str) -> str:
        return str(self._element(block).get("value") or "")

    def user(self, block: str) -> str | None:
        value = self._element(block).get("selected_user")
        return str(value) if value else None

    def day(self, block: str) -> date | None:
        """The picked date; one that does not exist (the shell can type 2026-02-30) is the
        person's mistake, marked on its field, not an internal error."""
        value = self._element(block).get("selected_date")
        return parse_date(str(value), field=block) if value else None

    def choice(self, block: str) -> str | None:
        option = self._element(block).get("selected_option") or {}
        return str(option["value"]) if option.get("value") else None

    def record_number(self) -> int:
        number = self.metadata.get("id")
        if not isinstance(number, int):
            raise InvalidInput("This form is out of date; open it again.")
        return number


FormHandler = Callable[[CommandContext, FormState], Outcome]
#: How a successful submission is confirmed (default: ephemeral in the channel, or a DM).
Confirm = Callable[[SlackNotifier, str, FormState, Reply], None]
#: How the unit of work runs; features may wrap it (e.g. to explain a lost race).
Runner = Callable[..., Callable[[], Outcome]]


def tell_submitter(notifier: SlackNotifier, user_id: str, form: FormState, reply: Reply) -> None:
    channel = str(form.metadata.get("channel") or "")
    notifier.tell(user_id, reply.message, channel=channel or None)


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
            work=lambda ctx: handler(ctx, form),
            form=form,
        )
        notifier = SlackNotifier(client)
        result = within_budget(
            lambda: attempt(run), seconds=services.settings.accord_ack_budget_seconds
        )
        late = isinstance(result, Pending)
        if isinstance(result, Pending):
            ack()  # close the form now; the outcome follows as a message
            result = result.result()
        if isinstance(result, Failure):
            if late:
                notifier.tell(user_id, result.message, channel=channel or None)
                return
            field = result.error.field if result.error else None
            block = field_blocks.get(field or "") or (
                field if field and field in form.values else first_block
            )
            ack(response_action="errors", errors={block: form_error_text(result)})
            return
        if not late:
            ack()
        if isinstance(result, Reply):
            try:
                confirm(notifier, user_id, form, result)
            except Exception:
                log.exception("could not confirm a form submission to %s", user_id)

    return listener
