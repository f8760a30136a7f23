"""Modal submissions: validate through the services, mark the wrong field, confirm in place."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.domain import initiatives as service
from bot.domain.errors import InvalidInput
from bot.domain.initiatives import Health, InitiativeChanges, InitiativeDraft, InitiativeStatus
from bot.domain.validation import normalise_tags
from bot.services import Services
from bot.slack.blocks import initiatives as render
from bot.slack.blocks.common import Message
from bot.slack.commands.base import CommandContext, Outcome, Reply
from bot.slack.guard import Failure, attempt, unit_of_work
from bot.slack.ids import BlockId, CallbackId
from bot.slack.notifier import SlackNotifier
from bot.slack.text import tokenize


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
        value = self._element(block).get("selected_date")
        return date.fromisoformat(value) if value else None

    def choice(self, block: str) -> str | None:
        option = self._element(block).get("selected_option") or {}
        return str(option["value"]) if option.get("value") else None

    def record_number(self) -> int:
        number = self.metadata.get("id")
        if not isinstance(number, int):
            raise InvalidInput("This form is out of date; open it again.")
        return number


FIELD_BLOCKS = {
    "title": BlockId.TITLE,
    "description": BlockId.DESCRIPTION,
    "due": BlockId.DUE,
    "tags": BlockId.TAGS,
    "reason": BlockId.REASON,
    "cio_owner": BlockId.CIO_OWNER,
    "ciso_owner": BlockId.CISO_OWNER,
}


def create(ctx: CommandContext, form: FormState) -> Outcome:
    draft = InitiativeDraft(
        title=form.text(BlockId.TITLE),
        description=form.text(BlockId.DESCRIPTION),
        cio_owner_id=form.user(BlockId.CIO_OWNER),
        ciso_owner_id=form.user(BlockId.CISO_OWNER),
        due_date=form.day(BlockId.DUE),
        tags=normalise_tags([t.lstrip("#") for t in tokenize(form.text(BlockId.TAGS))]),
    )
    initiative = service.create_initiative(
        ctx.session, actor=ctx.actor, draft=draft, now=ctx.now, directory=ctx.services.directory
    )
    return Reply(
        render.card(initiative, ctx.today, lead=f":white_check_mark: Created *{initiative.ref}*.")
    )


def edit(ctx: CommandContext, form: FormState) -> Outcome:
    status, health = form.choice(BlockId.STATUS), form.choice(BlockId.HEALTH)
    current = service.get_initiative(ctx.session, number=form.record_number())
    due = form.day(BlockId.DUE)
    changes = InitiativeChanges(
        title=form.text(BlockId.TITLE),
        status=InitiativeStatus(status) if status else None,
        health=Health(health) if health else None,
        due_date=due if due != current.due_date else None,
        cio_owner_id=form.user(BlockId.CIO_OWNER),
        ciso_owner_id=form.user(BlockId.CISO_OWNER),
    )
    initiative = service.update_initiative(
        ctx.session,
        actor=ctx.actor,
        number=form.record_number(),
        changes=changes,
        now=ctx.now,
        directory=ctx.services.directory,
    )
    return Reply(render.card(initiative, ctx.today, lead=f":pencil2: Updated *{initiative.ref}*."))


def hold(ctx: CommandContext, form: FormState) -> Outcome:
    initiative = service.place_hold(
        ctx.session,
        actor=ctx.actor,
        number=form.record_number(),
        reason=form.text(BlockId.REASON),
        now=ctx.now,
    )
    return Reply(
        render.card(
            initiative, ctx.today, lead=f":lock: *{initiative.ref}* is now on security hold."
        )
    )


def release(ctx: CommandContext, form: FormState) -> Outcome:
    initiative = service.release_hold(
        ctx.session,
        actor=ctx.actor,
        number=form.record_number(),
        reason=form.text(BlockId.REASON),
        now=ctx.now,
    )
    return Reply(
        render.card(
            initiative,
            ctx.today,
            lead=f":unlock: The security hold on *{initiative.ref}* is released.",
        )
    )


SUBMISSIONS: dict[CallbackId, tuple[Callable[[CommandContext, FormState], Outcome], BlockId]] = {
    CallbackId.INITIATIVE_CREATE: (create, BlockId.TITLE),
    CallbackId.INITIATIVE_EDIT: (edit, BlockId.TITLE),
    CallbackId.INITIATIVE_HOLD: (hold, BlockId.REASON),
    CallbackId.INITIATIVE_RELEASE: (release, BlockId.REASON),
}


def register(app: App, services: Services) -> None:
    for callback_id, (handler, first_block) in SUBMISSIONS.items():
        app.view(callback_id.value)(_listener(services, handler, first_block))


def _listener(
    services: Services,
    handler: Callable[[CommandContext, FormState], Outcome],
    first_block: BlockId,
) -> Callable[..., None]:
    def listener(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        form = FormState(view)
        user_id = body["user"]["id"]
        channel = str(form.metadata.get("channel") or "")

        def work() -> Outcome:
            key = f"view:{view.get('id')}:{view.get('hash', '')}"
            with unit_of_work(services, request_key=key) as session:
                ctx = CommandContext(
                    session=session,
                    services=services,
                    actor=services.directory.actor(session, user_id),
                    channel_id=channel,
                    now=services.clock.now(),
                )
                return handler(ctx, form)

        result = attempt(work)
        if isinstance(result, Failure):
            field = result.error.field if result.error else None
            block = FIELD_BLOCKS.get(field or "", first_block)
            ack(response_action="errors", errors={block: result.message.text[:300]})
            return
        ack()
        if isinstance(result, Reply):
            _confirm(client, user_id, channel, result.message)

    return listener


def _confirm(client: WebClient, user_id: str, channel: str, message: Message) -> None:
    SlackNotifier(client).tell(user_id, message, channel=channel or None)
