"""`GET /api/v1/gate` and `POST /api/v1/gate/checks`: token first, then validate, then answer."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from bot.api.http import ApiRequest, ApiResponse, HttpError
from bot.api.openapi import openapi_document
from bot.api.schemas import DeploymentCheck, GateAnswerOut, GateQuery, HoldOut
from bot.config import Settings
from bot.db import session_scope
from bot.domain.errors import UserError
from bot.domain.gate import service as gate
from bot.domain.gate.models import CheckSource, GateToken
from bot.services import Services
from bot.slack.gate_delivery import queue_gate_messages

_UNAUTHORIZED = HttpError(
    401, "A valid gate token is required.", headers={"WWW-Authenticate": 'Bearer realm="accord"'}
)


def hold_link(settings: Settings, initiative_ref: str, known: str | None = None) -> str | None:
    """Where people discuss the hold: the Slack permalink of its announcement once Slack has
    it, else the coordination channel."""
    if known:
        return known
    channel = settings.accord_coordination_channel
    if not channel:
        return None
    return f"https://slack.com/app_redirect?channel={quote(channel)}"


def answer_payload(settings: Settings, answer: gate.GateAnswer) -> dict[str, object]:
    out = GateAnswerOut(
        allowed=answer.allowed,
        holds=[
            HoldOut(
                initiative=hold.initiative,
                title=hold.title,
                reason=hold.reason,
                placed_by=hold.placed_by,
                placed_at=_utc(hold.placed_at),
                link=hold_link(settings, hold.initiative, hold.link),
            )
            for hold in answer.holds
        ],
        check_id=answer.check_id,
    )
    return out.model_dump(mode="json", exclude_none=answer.check_id is None)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _bearer(request: ApiRequest) -> str | None:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if not hmac.compare_digest(scheme.lower().encode(), b"bearer") or not secret.strip():
        return None
    return secret.strip()


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in issue['loc']) or 'body'}: {issue['msg']}"
            for issue in error.errors(include_url=False, include_input=False)
        )
        raise HttpError(400, f"Invalid request: {problems}") from None


def _clean(text: str | None) -> str | None:
    """PostgreSQL text cannot hold NUL; nothing a pipeline sends needs it."""
    return None if text is None else text.replace("\x00", "\ufffd")


class GateApi:
    def __init__(self, services: Services) -> None:
        self.services = services

    def openapi(self, _request: ApiRequest) -> ApiResponse:
        return ApiResponse(200, openapi_document())

    def gate(self, request: ApiRequest) -> ApiResponse:
        with session_scope(self.services.engine) as session:
            self._authenticate(session, request)
            query = _validated(GateQuery, request.query())
            holds = gate.holds_for(
                session,
                service=query.service,
                environment=query.environment,
                now=self.services.clock.now(),
            )
        answer = gate.GateAnswer(allowed=not holds, holds=holds)
        return ApiResponse(200, answer_payload(self.services.settings, answer))

    def checks(self, request: ApiRequest) -> ApiResponse:
        with session_scope(self.services.engine) as session:
            token = self._authenticate(session, request)
            body = _validated(DeploymentCheck, request.json())
            try:
                answer = gate.record_check(
                    session,
                    attempt=gate.DeploymentAttempt(
                        service=body.service,
                        environment=body.environment,
                        version=_clean(body.version),
                        pipeline_url=_clean(body.pipeline_url),
                    ),
                    caller=token.name,
                    source=CheckSource.API,
                    now=self.services.clock.now(),
                )
                queue_gate_messages(session, self.services)  # a blocked one, in its thread
            except UserError as error:
                raise HttpError(400, error.message) from None
        return ApiResponse(200, answer_payload(self.services.settings, answer))

    def _authenticate(self, session: Session, request: ApiRequest) -> GateToken:
        secret = _bearer(request)
        token = (
            gate.authenticate(session, presented=secret, now=self.services.clock.now())
            if secret
            else None
        )
        if token is None:
            raise _UNAUTHORIZED
        return token
