"""Modal submissions: validate through the services, mark the wrong field, confirm in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.domain import initiatives as service
from bot.domain.gate.coverage import parse_coverage_list
from bot.domain.initiatives import Health, InitiativeChanges, InitiativeDraft, InitiativeStatus
from bot.domain.validation import normalise_tags
from bot.services import Services
from bot.slack.blocks import initiatives as render
from bot.slack.commands.base import CommandContext, Outcome, Reply
from bot.slack.commands.initiative import money_options, saved_reply
from bot.slack.ids import BlockId, CallbackId
from bot.slack.listeners.forms import FormState, form_listener
from bot.slack.text import tokenize

FIELD_BLOCKS = {
    "title": BlockId.TITLE,
    "description": BlockId.DESCRIPTION,
    "due": BlockId.DUE,
    "tags": BlockId.TAGS,
    "covers": BlockId.COVERS,
    "reason": BlockId.REASON,
    "cio_owner": BlockId.CIO_OWNER,
    "ciso_owner": BlockId.CISO_OWNER,
    "budget": BlockId.BUDGET,
    "funding": BlockId.FUNDING,
    "money": BlockId.MONEY,
}


def money_fields(form: FormState) -> dict[str, Any]:
    """Budget, funding and state from the form, through the command's parsers."""
    options = {
        key: value
        for key, value in (
            ("budget", form.text(BlockId.BUDGET).strip()),
            ("funding", form.text(BlockId.FUNDING).strip()),
            ("money", form.choice(BlockId.MONEY) or ""),
        )
        if value
    }
    return money_options(options)


def _form_tags(form: FormState) -> list[str]:
    """`#iam, zero-trust ot` → the words, split on spaces and commas (checked by the service)."""
    return [t.lstrip("#") for t in tokenize(form.text(BlockId.TAGS).replace(",", " "))]


def create(ctx: CommandContext, form: FormState) -> Outcome:
    draft = InitiativeDraft(
        title=form.text(BlockId.TITLE),
        description=form.text(BlockId.DESCRIPTION),
        cio_owner_id=form.user(BlockId.CIO_OWNER),
        ciso_owner_id=form.user(BlockId.CISO_OWNER),
        due_date=form.day(BlockId.DUE),
        tags=normalise_tags(_form_tags(form)),
        covers=parse_coverage_list(form.text(BlockId.COVERS)),
        **money_fields(form),
    )
    initiative = service.create_initiative(
        ctx.session,
        actor=ctx.actor,
        draft=draft,
        now=ctx.now,
        today=ctx.today,
        directory=ctx.services.directory,
    )
    return saved_reply(ctx, initiative, "Created", due_given=draft.due_date is not None)


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
        covers=parse_coverage_list(form.text(BlockId.COVERS)),
        description=form.text(BlockId.DESCRIPTION) if form.has(BlockId.DESCRIPTION) else None,
        tags=_form_tags(form) if form.has(BlockId.TAGS) else None,
        **money_fields(form),
    )
    initiative = service.update_initiative(
        ctx.session,
        actor=ctx.actor,
        number=form.record_number(),
        changes=changes,
        now=ctx.now,
        today=ctx.today,
        directory=ctx.services.directory,
    )
    return saved_reply(ctx, initiative, "Updated", due_given=changes.due_date is not None)


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
            initiative,
            ctx.today,
            viewer=ctx.actor,
            lead=f":lock: *{initiative.ref}* is now on security hold.",
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
            viewer=ctx.actor,
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
        app.view(callback_id.value)(
            form_listener(services, handler, first_block=first_block, field_blocks=FIELD_BLOCKS)
        )
