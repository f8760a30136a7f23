"""The threat brief form's submission: the same service call as `/accord threat add`."""

from __future__ import annotations

from slack_bolt import App

from bot.domain.errors import InvalidInput
from bot.domain.risks import parse_techniques
from bot.domain.threats import service
from bot.domain.threats.models import Severity
from bot.domain.threats.policy import parse_links
from bot.domain.threats.queries import views
from bot.services import Services
from bot.slack.blocks import threats as render
from bot.slack.commands.base import CommandContext, Outcome, Reply
from bot.slack.commands.threat import recorded_lead
from bot.slack.ids import BlockId, CallbackId
from bot.slack.listeners.forms import FormState, form_listener

FIELD_BLOCKS = {
    "title": BlockId.TITLE,
    "severity": BlockId.SEVERITY,
    "attack": BlockId.ATTACK,
    "relevance": BlockId.RELEVANCE,
    "source": BlockId.SOURCE,
}


def create(ctx: CommandContext, form: FormState) -> Outcome:
    severity = form.choice(BlockId.SEVERITY)
    if severity is None:
        raise InvalidInput("Choose a severity.", field="severity")
    brief = service.add_brief(
        ctx.session,
        actor=ctx.actor,
        title=form.text(BlockId.TITLE),
        severity=Severity(severity) if severity in set(Severity) else Severity.MEDIUM,
        techniques=parse_techniques(form.choices(BlockId.ATTACK)),
        links=parse_links(form.text(BlockId.RELEVANCE)),
        source=form.text(BlockId.SOURCE).strip(),
        now=ctx.now,
    )
    [view] = views(ctx.session, [brief], today=ctx.today)
    return Reply(render.card(view, lead=recorded_lead(len(view.flagged), brief.ref)))


def register(app: App, services: Services) -> None:
    app.view(CallbackId.THREAT_CREATE.value)(
        form_listener(services, create, first_block=BlockId.TITLE, field_blocks=FIELD_BLOCKS)
    )
