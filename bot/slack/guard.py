"""The one place where errors become replies, and duplicate deliveries become no-ops."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.db import session_scope
from bot.domain.errors import Conflict, UserError
from bot.domain.idempotency import claim_request
from bot.services import Services
from bot.slack.blocks.common import Message
from bot.slack.blocks.errors import internal_error, user_error
from bot.slack.gate_delivery import queue_gate_messages
from bot.slack.notices import queue_notices

log = logging.getLogger(__name__)
T = TypeVar("T")


class Duplicate(Exception):
    """This delivery was already processed."""


@contextmanager
def unit_of_work(services: Services, *, request_key: str | None) -> Iterator[Session]:
    """A transaction that first claims the request key, so a retry changes nothing twice."""
    try:
        with session_scope(services.engine) as session:
            if request_key and not claim_request(session, key=request_key, at=services.clock.now()):
                raise Duplicate(request_key)
            yield session
            queue_notices(session, services)  # what the change told people, in its transaction
            queue_gate_messages(session, services)  # what a hold or the gate announced
    except IntegrityError as error:
        if "processed_request" in str(error.orig) or "processed_request" in str(error):
            raise Duplicate(request_key or "") from error
        raise


@dataclass(frozen=True)
class Failure:
    """What went wrong, ready to show: the user's mistake (with its field) or our bug."""

    message: Message
    error: UserError | None = None


def attempt(work: Callable[[], T]) -> T | Failure | None:
    """Run `work`; a user error or a bug becomes a `Failure`, a duplicate delivery None."""
    try:
        result = work()
        _check_renders(result)
        return result
    except Duplicate as duplicate:
        log.info("ignored a duplicate delivery %s", duplicate)
        return None
    except UserError as error:
        return Failure(message=user_error(error), error=error)
    except IntegrityError:
        # A unique rule caught two people (or two clicks) doing the same thing at once.
        log.info("a concurrent change won the race", exc_info=True)
        conflict = Conflict(
            "Someone else changed this at the same moment, so your request changed nothing.",
            hint="Run the command again to see the current state.",
        )
        return Failure(message=user_error(conflict), error=conflict)
    except Exception:
        reference = uuid.uuid4().hex[:8]
        log.exception("request failed (reference %s)", reference)
        return Failure(message=internal_error(reference))


def _check_renders(result: object) -> None:
    """Build the blocks now, inside the guard: a Block Kit limit slack_sdk refuses becomes a
    reply with a reference, not a silent empty answer after the ack."""
    message = getattr(result, "message", result)
    if isinstance(message, Message):
        message.block_dicts()
    view = getattr(result, "view", None)
    if view is not None and hasattr(view, "to_dict"):
        view.to_dict()


def guarded(work: Callable[[], T]) -> T | Message | None:
    """Like `attempt`, for callers that only need the message to show."""
    result = attempt(work)
    return result.message if isinstance(result, Failure) else result
