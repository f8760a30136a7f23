"""Initiatives: shared security/infrastructure work with an owner on each side.

A security hold can be placed by the CISO side only and lifted only by the CISO side or by an
executive decision; while it is on, the work cannot be marked active or done.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import BigInteger, ColumnElement, ForeignKey, Integer, func, or_
from sqlalchemy import select as core_select
from sqlmodel import Column, Field, Relationship, Session, SQLModel, col, select

from bot.db import lock_row
from bot.domain.audit import changed_fields, record_event
from bot.domain.budget import Budget, BudgetPeriod, BudgetState, Funding, FundingSide
from bot.domain.columns import enum_column
from bot.domain.errors import Conflict, InvalidInput, NotFound, person
from bot.domain.gate.announcements import (
    HoldCoversChanged,
    HoldPlaced,
    HoldReleased,
    announce,
)
from bot.domain.gate.coverage import ENVIRONMENT_MAX, SERVICE_MAX, Coverage
from bot.domain.notices import quoted, tell
from bot.domain.paging import Page, clamp_page
from bot.domain.permissions import Permission, authority, ensure_allowed
from bot.domain.refs import Kind, format_ref
from bot.domain.roles import ROLE_LABELS, Actor, Directory, Role
from bot.domain.validation import bounded_text, normalise_tags

TITLE_MAX = 150
T = TypeVar("T")
DESCRIPTION_MAX = 2000
REASON_MAX = 500
HOLD_LINK_MAX = 500


class InitiativeStatus(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    BLOCKED = "blocked"
    DONE = "done"
    CANCELLED = "cancelled"


CLOSED_STATUSES = (InitiativeStatus.DONE, InitiativeStatus.CANCELLED)


class Health(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class InitiativeFilter(StrEnum):
    OPEN = "open"
    ALL = "all"
    MINE = "mine"
    BLOCKED = "blocked"
    OVERDUE = "overdue"
    HOLD = "hold"
    RED = "red"


class InitiativeTag(SQLModel, table=True):
    __tablename__ = "initiative_tag"

    initiative_id: int = Field(
        sa_column=Column(Integer, ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True)
    )
    tag: str = Field(primary_key=True, max_length=30, index=True)


class InitiativeCoverage(SQLModel, table=True):
    """One system an initiative governs: a hold on the initiative holds its deployments."""

    __tablename__ = "initiative_coverage"

    initiative_id: int = Field(
        sa_column=Column(Integer, ForeignKey("initiative.id", ondelete="CASCADE"), primary_key=True)
    )
    service: str = Field(primary_key=True, max_length=SERVICE_MAX, index=True)
    environment: str = Field(primary_key=True, max_length=ENVIRONMENT_MAX)


class Initiative(SQLModel, table=True):
    __tablename__ = "initiative"
    # Public ids (INI-7, RSK-3, …) are never reused on SQLite, even after a rollback.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    cio_owner_id: str | None = Field(default=None, max_length=32, index=True)
    ciso_owner_id: str | None = Field(default=None, max_length=32, index=True)
    status: InitiativeStatus = Field(
        default=InitiativeStatus.PROPOSED, sa_column=enum_column(InitiativeStatus, index=True)
    )
    health: Health = Field(default=Health.GREEN, sa_column=enum_column(Health))
    due_date: date | None = Field(default=None, index=True)
    on_hold: bool = Field(default=False, index=True)
    hold_reason: str | None = Field(default=None, max_length=REASON_MAX)
    hold_by: str | None = Field(default=None, max_length=32)
    hold_at: datetime | None = None
    #: The hold's announcement: its outbox row (replies thread on it), and once Slack has it,
    #: where it is and its permalink (the gate API's link).
    hold_message_id: int | None = None
    hold_channel: str | None = Field(default=None, max_length=64)
    hold_ts: str | None = Field(default=None, max_length=32)
    hold_link: str | None = Field(default=None, max_length=HOLD_LINK_MAX)
    created_by: str = Field(max_length=32)
    created_at: datetime
    updated_by: str = Field(max_length=32)
    updated_at: datetime
    # Security investment (see bot.domain.budget): all empty until a budget is given.
    budget_amount: int | None = Field(default=None, sa_type=BigInteger)
    budget_currency: str | None = Field(default=None, max_length=3)
    budget_period: str | None = Field(default=None, max_length=10)
    funded_by: str | None = Field(default=None, max_length=10)
    cio_share: int | None = None
    budget_state: str | None = Field(default=None, max_length=10, index=True)

    tag_rows: list[InitiativeTag] = Relationship(
        sa_relationship_kwargs={"cascade": "all, delete-orphan", "lazy": "selectin"}
    )
    coverage_rows: list[InitiativeCoverage] = Relationship(
        sa_relationship_kwargs={"cascade": "all, delete-orphan", "lazy": "selectin"}
    )

    @property
    def ref(self) -> str:
        assert self.id is not None, "an initiative gets its id when it is flushed"
        return format_ref(Kind.INITIATIVE, self.id)

    @property
    def steward_ids(self) -> frozenset[str]:
        """Who answers for it; unowned work can be edited by anyone on a side."""
        owners = {self.cio_owner_id, self.ciso_owner_id} - {None}
        return (
            frozenset(str(person) for person in {*owners, self.created_by})
            if owners
            else (frozenset())
        )

    @property
    def tags(self) -> list[str]:
        return sorted(row.tag for row in self.tag_rows)

    @property
    def covers(self) -> list[Coverage]:
        """The systems it governs (`service@environment`, `*` for every environment)."""
        return sorted(Coverage(row.service, row.environment) for row in self.coverage_rows)

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    def is_overdue(self, today: date) -> bool:
        return self.due_date is not None and self.due_date < today and not self.is_closed

    @property
    def budget(self) -> Budget | None:
        if self.budget_amount is None or not self.budget_currency:
            return None
        return Budget(
            self.budget_amount, self.budget_currency, BudgetPeriod(self.budget_period or "one-off")
        )

    @property
    def funding(self) -> Funding | None:
        if self.funded_by is None:
            return None
        return Funding(FundingSide(self.funded_by), self.cio_share or 0)

    @property
    def money_state(self) -> BudgetState | None:
        return BudgetState(self.budget_state) if self.budget_state else None

    def snapshot(self) -> dict[str, Any]:
        """The fields the audit trail records, as JSON-friendly values."""
        return {
            "budget": str(self.budget) if self.budget else None,
            "funding": str(self.funding) if self.funding else None,
            "budget_state": self.budget_state,
            "title": self.title,
            "description": self.description,
            "cio_owner": self.cio_owner_id,
            "ciso_owner": self.ciso_owner_id,
            "status": self.status.value,
            "health": self.health.value,
            "due": self.due_date.isoformat() if self.due_date else None,
            "tags": self.tags,
            "covers": [str(cover) for cover in self.covers],
            "on_hold": self.on_hold,
            "hold_reason": self.hold_reason,
        }


@dataclass(frozen=True)
class InitiativeDraft:
    """What a person gives to create an initiative (from the command line or the modal)."""

    title: str
    description: str = ""
    cio_owner_id: str | None = None
    ciso_owner_id: str | None = None
    due_date: date | None = None
    tags: list[str] = field(default_factory=list)
    covers: list[Coverage] = field(default_factory=list)
    budget: Budget | None = None
    funding: Funding | None = None
    budget_state: BudgetState | None = None


@dataclass(frozen=True)
class InitiativeChanges:
    """A partial update; `None` leaves a field as it is (`covers=[]` clears what it covers)."""

    status: InitiativeStatus | None = None
    health: Health | None = None
    due_date: date | None = None
    cio_owner_id: str | None = None
    ciso_owner_id: str | None = None
    title: str | None = None
    covers: list[Coverage] | None = None
    #: `""` clears the description; `tags=[]` removes every tag.
    description: str | None = None
    tags: list[str] | None = None
    budget: Budget | None = None
    funding: Funding | None = None
    budget_state: BudgetState | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in vars(self).values())


def get_initiative(session: Session, *, number: int, lock: bool = False) -> Initiative:
    """The record; with `lock`, row-locked until the transaction ends (see `get_risk`)."""
    initiative = lock_row(session, Initiative, number) if lock else session.get(Initiative, number)
    if initiative is None:
        raise NotFound(
            f"There is no {format_ref(Kind.INITIATIVE, number)}.",
            hint="`/accord initiative list all` shows every initiative.",
        )
    return initiative


def check_owner_sides(
    session: Session, *, directory: Directory, cio_owner_id: str | None, ciso_owner_id: str | None
) -> None:
    """Each owner must belong to the side they own for (when that side has members at all)."""
    for owner_id, side, key in (
        (cio_owner_id, Role.CIO, "cio"),
        (ciso_owner_id, Role.CISO, "ciso"),
    ):
        if owner_id is None or not directory.members(session, side):
            continue
        if not directory.actor(session, owner_id).on_side(side):
            raise InvalidInput(
                f"The {ROLE_LABELS[side]} owner must be on the {ROLE_LABELS[side]}, "
                f"and the person named for `{key}:` is not.",
                hint="`/accord whoami` shows a person's side; an admin can add them.",
                field=f"{key}_owner",
            )


def create_initiative(
    session: Session,
    *,
    actor: Actor,
    draft: InitiativeDraft,
    now: datetime,
    directory: Directory | None = None,
    today: date | None = None,
) -> Initiative:
    """Create an initiative; with a `directory`, owners are checked against their sides."""
    ensure_allowed(actor, Permission.INITIATIVE_CREATE)
    if directory is not None:
        check_owner_sides(
            session,
            directory=directory,
            cio_owner_id=draft.cio_owner_id,
            ciso_owner_id=draft.ciso_owner_id,
        )
    title = bounded_text(draft.title, field="title", max_length=TITLE_MAX, required=True)
    description = bounded_text(draft.description, field="description", max_length=DESCRIPTION_MAX)
    # A past due date is kept: work brought in from elsewhere is often already late (the
    # answer warns; the record shows as overdue).
    due = draft.due_date
    initiative = Initiative(
        title=title,
        description=description,
        cio_owner_id=draft.cio_owner_id,
        ciso_owner_id=draft.ciso_owner_id,
        due_date=due,
        created_by=actor.user_id,
        created_at=now,
        updated_by=actor.user_id,
        updated_at=now,
        tag_rows=[InitiativeTag(tag=tag) for tag in normalise_tags(draft.tags)],  # type: ignore[call-arg]
        coverage_rows=_coverage_rows(draft.covers),
    )
    _set_budget(initiative, draft.budget, draft.funding, draft.budget_state)
    session.add(initiative)
    session.flush()
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=initiative.ref,
        action="initiative.created",
        after=initiative.snapshot(),
    )
    return initiative


def update_initiative(
    session: Session,
    *,
    actor: Actor,
    number: int,
    changes: InitiativeChanges,
    now: datetime,
    directory: Directory | None = None,
    today: date | None = None,
) -> Initiative:
    """Apply the fields that differ from the record; unchanged ones are not re-checked."""
    ensure_allowed(actor, Permission.INITIATIVE_EDIT)
    if changes.is_empty():
        raise InvalidInput(
            "Nothing to change.",
            hint=f"e.g. `/accord initiative update INI-{number} status:active health:amber`",
        )
    initiative = get_initiative(session, number=number, lock=True)
    ensure_allowed(actor, Permission.INITIATIVE_EDIT, record=initiative)
    before = initiative.snapshot()
    new_cio = _changed(changes.cio_owner_id, initiative.cio_owner_id)
    new_ciso = _changed(changes.ciso_owner_id, initiative.ciso_owner_id)
    if directory is not None:
        check_owner_sides(
            session, directory=directory, cio_owner_id=new_cio, ciso_owner_id=new_ciso
        )
    new_status = _changed(changes.status, initiative.status)
    if new_status in (InitiativeStatus.ACTIVE, InitiativeStatus.DONE) and initiative.on_hold:
        raise Conflict(
            f"{initiative.ref} is on security hold, so it cannot become {new_status.value}.",
            hint=f"The CISO side can `/accord initiative release {initiative.ref} <reason>`.",
        )
    if changes.title is not None:
        initiative.title = bounded_text(
            changes.title, field="title", max_length=TITLE_MAX, required=True
        )
    if changes.description is not None:
        initiative.description = bounded_text(
            changes.description, field="description", max_length=DESCRIPTION_MAX
        )
    if changes.tags is not None:
        _sync_tags(initiative, normalise_tags(changes.tags))
    if new_status is not None:
        initiative.status = new_status
    if changes.health is not None:
        initiative.health = changes.health
    new_due = _changed(changes.due_date, initiative.due_date)
    if new_due is not None:
        initiative.due_date = new_due  # past dates kept, as on creation
    if new_cio is not None:
        initiative.cio_owner_id = new_cio
    if new_ciso is not None:
        initiative.ciso_owner_id = new_ciso
    if changes.covers is not None:
        if initiative.on_hold and set(initiative.covers) - set(changes.covers):
            # narrowing what a hold blocks would release part of it
            ensure_allowed(actor, Permission.HOLD_NARROW)
        _sync_coverage(initiative, changes.covers)
    _set_budget(initiative, changes.budget, changes.funding, changes.budget_state)
    old, new = changed_fields(before, initiative.snapshot())
    if not new:
        raise Conflict(f"{initiative.ref} already has those values; nothing changed.")
    _touch(initiative, actor=actor, now=now)
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=initiative.ref,
        action="initiative.updated",
        before=old,
        after=new,
    )
    _tell_owners_of_update(session, initiative, actor=actor, before=before, old=old, new=new)
    if initiative.on_hold and "covers" in new:
        announce(session, HoldCoversChanged(number=number, actor_id=actor.user_id))
    return initiative


#: How a changed field is named in a note to the owners.
_FIELD_NAMES = {
    "title": "title",
    "description": "description",
    "status": "status",
    "health": "health",
    "due": "due date",
    "tags": "tags",
    "covers": "covered systems",
    "budget": "budget",
    "funding": "funding",
    "budget_state": "budget state",
}


def _set_budget(
    initiative: Initiative,
    budget: Budget | None,
    funding: Funding | None,
    state: BudgetState | None,
) -> None:
    """A budget starts `requested` and funded by the CISO side unless told otherwise."""
    if budget is not None:
        initiative.budget_amount = budget.amount
        initiative.budget_currency = budget.currency
        initiative.budget_period = budget.period.value
        if initiative.budget_state is None and state is None:
            state = BudgetState.REQUESTED
        if initiative.funded_by is None and funding is None:
            funding = Funding(FundingSide.CISO, 0)
    if (funding is not None or state is not None) and initiative.budget_amount is None:
        raise InvalidInput(
            f"{initiative.ref if initiative.id else 'The initiative'} has no budget yet; give "
            "one with it, e.g. `budget:120000EUR/year`.",
            field="budget",
        )
    if funding is not None:
        initiative.funded_by = funding.side.value
        initiative.cio_share = funding.cio_share
    if state is not None:
        initiative.budget_state = state.value


def _value(value: Any) -> str:
    if value is None or value == []:
        return "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _tell_owners_of_update(
    session: Session,
    initiative: Initiative,
    *,
    actor: Actor,
    before: dict[str, Any],
    old: dict[str, Any],
    new: dict[str, Any],
) -> None:
    """Owners hear of a change someone else made: a new owner that it is theirs, the one it was
    taken from that it moved, and the owners who stay what changed (or that it was cancelled)."""
    ref, title, who = initiative.ref, quoted(initiative.title), person(actor.user_id)
    show = f"`/accord initiative show {ref}` shows it."
    for key, side in (("cio_owner", "CIO"), ("ciso_owner", "CISO")):
        if key not in new:
            continue
        tell(
            session,
            to=[new[key]],
            actor_id=actor.user_id,
            record_ref=ref,
            text=f"{who} made you the {side}-side owner of {ref} {title}.",
            detail=show,
        )
        if old.get(key):
            tell(
                session,
                to=[old[key]],
                actor_id=actor.user_id,
                record_ref=ref,
                text=f"{who} made {person(new[key])} the {side}-side owner of {ref} {title} "
                "in your place.",
                detail=show,
            )
    staying = [
        before[key] for key in ("cio_owner", "ciso_owner") if key not in new and before.get(key)
    ]
    if new.get("status") == InitiativeStatus.CANCELLED.value:
        text = f"{who} cancelled {ref} {title}, which you own."
    else:
        changes = [
            f"{_FIELD_NAMES[key]} {_value(old.get(key))} → {_value(value)}"
            for key, value in new.items()
            if key in _FIELD_NAMES and key != "description"
        ]
        if "description" in new:
            changes.append("the description")
        if not changes:
            return
        text = f"{who} changed {ref} {title}, which you own: " + "; ".join(changes) + "."
    tell(session, to=staying, actor_id=actor.user_id, record_ref=ref, text=text, detail=show)


def _coverage_rows(covers: list[Coverage]) -> list[InitiativeCoverage]:
    return [
        InitiativeCoverage(service=cover.service, environment=cover.environment)  # type: ignore[call-arg]
        for cover in sorted(set(covers))
    ]


def _sync_coverage(initiative: Initiative, covers: list[Coverage]) -> None:
    """Keep the rows that stay (re-inserting one would collide with its own delete)."""
    wanted = set(covers)
    initiative.coverage_rows = [
        row for row in initiative.coverage_rows if Coverage(row.service, row.environment) in wanted
    ] + _coverage_rows(list(wanted - set(initiative.covers)))


def _sync_tags(initiative: Initiative, tags: list[str]) -> None:
    """Keep the rows that stay, as for coverage."""
    wanted = set(tags)
    initiative.tag_rows = [row for row in initiative.tag_rows if row.tag in wanted] + [
        InitiativeTag(tag=tag)  # type: ignore[call-arg]
        for tag in sorted(wanted - set(initiative.tags))
    ]


def _changed(wanted: T | None, current: T | None) -> T | None:
    """The wanted value when it differs from the current one, else None (no change)."""
    return wanted if wanted is not None and wanted != current else None


def place_hold(
    session: Session, *, actor: Actor, number: int, reason: str, now: datetime
) -> Initiative:
    ensure_allowed(actor, Permission.HOLD_PLACE)
    reason = bounded_text(reason, field="reason", max_length=REASON_MAX, required=True)
    initiative = get_initiative(session, number=number, lock=True)
    if initiative.on_hold:
        raise Conflict(
            f"{initiative.ref} is already on security hold.",
            hint="`/accord initiative show` gives the reason and who placed it.",
        )
    before = initiative.snapshot()
    initiative.on_hold = True
    initiative.hold_reason = reason
    initiative.hold_by = actor.user_id
    initiative.hold_at = now
    _clear_announcement(initiative)
    _touch(initiative, actor=actor, now=now)
    old, new = changed_fields(before, initiative.snapshot())
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=initiative.ref,
        action="initiative.hold_placed",
        before=old,
        after={**new, **authority(actor, Role.CISO)},
        note=reason,
    )
    tell(
        session,
        to=[initiative.cio_owner_id, initiative.ciso_owner_id],
        actor_id=actor.user_id,
        record_ref=initiative.ref,
        text=f"{person(actor.user_id)} placed a security hold on {initiative.ref} "
        f"{quoted(initiative.title)}, which you own: {reason}",
        detail="While it is on, the work cannot become active or done. "
        f"`/accord initiative show {initiative.ref}` shows it.",
    )
    announce(session, HoldPlaced(number=number))
    return initiative


def release_hold(
    session: Session,
    *,
    actor: Actor,
    number: int,
    reason: str,
    now: datetime,
    via: str | None = None,
) -> Initiative:
    """Lift the hold; `via` names the agreed path (e.g. an escalation decision) for the trail."""
    ensure_allowed(actor, Permission.HOLD_RELEASE)
    reason = bounded_text(reason, field="reason", max_length=REASON_MAX, required=True)
    initiative = get_initiative(session, number=number, lock=True)
    if not initiative.on_hold:
        raise Conflict(f"{initiative.ref} is not on security hold.")
    before = initiative.snapshot()
    announce(
        session,
        HoldReleased(
            number=number,
            actor_id=actor.user_id,
            reason=reason,
            via=via,
            message_id=initiative.hold_message_id,
            channel=initiative.hold_channel,
            ts=initiative.hold_ts,
        ),
    )
    initiative.on_hold = False
    initiative.hold_reason = None
    initiative.hold_by = None
    initiative.hold_at = None
    _clear_announcement(initiative)
    _touch(initiative, actor=actor, now=now)
    old, new = changed_fields(before, initiative.snapshot())
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=initiative.ref,
        action="initiative.hold_released",
        before=old,
        after={**new, **authority(actor, Role.CISO, Role.EXECUTIVE)},
        note=f"{reason} (via {via})" if via else reason,
    )
    tell(
        session,
        to=[initiative.cio_owner_id, initiative.ciso_owner_id],
        actor_id=actor.user_id,
        record_ref=initiative.ref,
        text=f"{person(actor.user_id)} released the security hold on {initiative.ref} "
        f"{quoted(initiative.title)}, which you own"
        + (f" (by the decision of {via})" if via else "")
        + f": {reason}",
        detail=f"`/accord initiative show {initiative.ref}` shows it.",
    )
    return initiative


def _clear_announcement(initiative: Initiative) -> None:
    initiative.hold_message_id = None
    initiative.hold_channel = None
    initiative.hold_ts = None
    initiative.hold_link = None


def set_hold_announcement(session: Session, *, number: int, message_id: int) -> None:
    """The outbox row announcing the current hold (the adapter queued it in this transaction)."""
    initiative = get_initiative(session, number=number)
    initiative.hold_message_id = message_id


def hold_announcement_posted(
    session: Session, *, number: int, message_id: int, channel: str, ts: str
) -> None:
    """Slack has the announcement; a late one for an earlier hold changes nothing."""
    initiative = lock_row(session, Initiative, number)  # a new hold may be committing
    if initiative is not None and initiative.hold_message_id == message_id:
        initiative.hold_channel = channel
        initiative.hold_ts = ts


def hold_announcement_lost(session: Session, *, number: int, message_id: int) -> None:
    """Slack refused the announcement for good: later messages go to the channel itself."""
    initiative = lock_row(session, Initiative, number)  # a new hold may be committing
    if initiative is not None and initiative.hold_message_id == message_id:
        _clear_announcement(initiative)


def hold_permalink_known(session: Session, *, number: int, message_id: int, link: str) -> None:
    initiative = lock_row(session, Initiative, number)  # a new hold may be committing
    if initiative is not None and initiative.hold_message_id == message_id:
        initiative.hold_link = link[:HOLD_LINK_MAX]


def _touch(initiative: Initiative, *, actor: Actor, now: datetime) -> None:
    initiative.updated_by = actor.user_id
    initiative.updated_at = now


def _filter_clause(
    which: InitiativeFilter, *, viewer_id: str, today: date
) -> ColumnElement[bool] | None:
    """The WHERE clause of a list filter (only the one asked for is built: building them
    all took a quarter of a list page's time)."""
    if which is InitiativeFilter.ALL:
        return None
    if which is InitiativeFilter.BLOCKED:
        return col(Initiative.status) == InitiativeStatus.BLOCKED
    is_open = col(Initiative.status).not_in(list(CLOSED_STATUSES))
    if which is InitiativeFilter.OPEN:
        return is_open
    if which is InitiativeFilter.MINE:
        owned_cio = col(Initiative.cio_owner_id) == viewer_id
        owned_ciso = col(Initiative.ciso_owner_id) == viewer_id
        return is_open & or_(owned_cio, owned_ciso)
    if which is InitiativeFilter.OVERDUE:
        return is_open & (col(Initiative.due_date) < today)
    if which is InitiativeFilter.HOLD:
        return is_open & col(Initiative.on_hold).is_(True)
    assert which is InitiativeFilter.RED, which
    return is_open & (col(Initiative.health) == Health.RED)


@dataclass(frozen=True)
class InitiativeLine:
    """What a list line shows of an initiative, read without the ORM's identity map (a list
    page is read on every `/accord initiative list` and Home view, within the 3 s ack)."""

    id: int
    title: str
    status: InitiativeStatus
    health: Health
    due_date: date | None
    on_hold: bool
    cio_owner_id: str | None
    ciso_owner_id: str | None
    covers: list[Coverage]

    @property
    def ref(self) -> str:
        return format_ref(Kind.INITIATIVE, self.id)

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    def is_overdue(self, today: date) -> bool:
        return self.due_date is not None and self.due_date < today and not self.is_closed


_LINE_COLUMNS = (
    col(Initiative.id),
    col(Initiative.title),
    col(Initiative.status),
    col(Initiative.health),
    col(Initiative.due_date),
    col(Initiative.on_hold),
    col(Initiative.cio_owner_id),
    col(Initiative.ciso_owner_id),
)


def list_initiatives(
    session: Session,
    *,
    which: InitiativeFilter = InitiativeFilter.OPEN,
    tag: str | None = None,
    viewer_id: str,
    today: date,
    page: int = 1,
    page_size: int = 20,
) -> Page[InitiativeLine]:
    """One page of initiatives, oldest first, with the total for "showing x–y of n".

    Two statements for a page (its rows with the total as a window count, then what they
    cover); a page past the end (records closed meanwhile) costs a count and shows the last."""
    clause = _filter_clause(which, viewer_id=viewer_id, today=today)
    if tag is not None:
        tagged = select(InitiativeTag.initiative_id).where(InitiativeTag.tag == tag)
        tag_clause = col(Initiative.id).in_(tagged)
        clause = tag_clause if clause is None else clause & tag_clause

    def fetch(number: int) -> list[Any]:
        query = core_select(*_LINE_COLUMNS, func.count().over().label("total"))
        if clause is not None:
            query = query.where(clause)
        query = query.order_by(col(Initiative.id)).offset((number - 1) * page_size)
        return list(session.execute(query.limit(page_size)).all())

    page = max(1, page)
    rows = fetch(page)
    if rows:
        total = int(rows[0].total)
    else:
        count_query = select(func.count()).select_from(Initiative)
        if clause is not None:
            count_query = count_query.where(clause)
        total = session.exec(count_query).one()
        last = clamp_page(page, total=total, page_size=page_size)
        if last != page and total:
            page, rows = last, fetch(last)
        else:
            page = clamp_page(page, total=total, page_size=page_size)
    covers: dict[int, list[Coverage]] = {}
    ids = [row.id for row in rows]
    if ids:
        found = session.execute(
            core_select(
                col(InitiativeCoverage.initiative_id),
                col(InitiativeCoverage.service),
                col(InitiativeCoverage.environment),
            ).where(col(InitiativeCoverage.initiative_id).in_(ids))
        ).all()
        for initiative_id, service, environment in found:
            covers.setdefault(initiative_id, []).append(Coverage(service, environment))
    items = [
        InitiativeLine(
            id=row.id,
            title=row.title,
            status=row.status,
            health=row.health,
            due_date=row.due_date,
            on_hold=bool(row.on_hold),
            cio_owner_id=row.cio_owner_id,
            ciso_owner_id=row.ciso_owner_id,
            covers=sorted(covers.get(row.id, [])),
        )
        for row in rows
    ]
    return Page(items=items, total=total, page=page, page_size=page_size)


@dataclass(frozen=True)
class HomeSummary:
    """What the App Home shows a viewer: their initiatives, the overdue ones, those on hold."""

    mine: Page[InitiativeLine]
    overdue: Page[InitiativeLine]
    on_hold: Page[InitiativeLine]


def home_summary(session: Session, *, viewer_id: str, today: date, limit: int) -> HomeSummary:
    def first(which: InitiativeFilter) -> Page[InitiativeLine]:
        return list_initiatives(
            session, which=which, viewer_id=viewer_id, today=today, page=1, page_size=limit
        )

    return HomeSummary(
        mine=first(InitiativeFilter.MINE),
        overdue=first(InitiativeFilter.OVERDUE),
        on_hold=first(InitiativeFilter.HOLD),
    )
