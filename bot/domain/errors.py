"""Errors a user can cause. Each message is written for that user and is safe to show them."""

from __future__ import annotations

import secrets


class UserError(Exception):
    """Base class: the Slack layer turns these into an ephemeral reply in one place."""

    def __init__(self, message: str, *, hint: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.field = field  # which input was wrong, so a modal can mark that field


class InvalidInput(UserError):
    """Malformed or out-of-range input; the hint shows the correct form."""


class NotFound(UserError):
    """An id that names no record."""


class Forbidden(UserError):
    """The user's side or role does not allow this."""


class Conflict(UserError):
    """The record's state does not allow this now (e.g. releasing a hold that is not on)."""


#: Marks a person reference in a message. The random part makes it unguessable, so text a user
#: typed can never be turned into a mention by the adapter.
PERSON_MARK = f"\ue000{secrets.token_hex(8)}"


def person(user_id: str) -> str:
    """Names a person inside a user-facing message; each adapter renders it its own way
    (Slack as a mention), so the domain writes no Slack markup."""
    return f"{PERSON_MARK}@{user_id}\ue001"
