"""Use cases that change touchpoints: series, skips, topics, actions, decisions."""

from datetime import date, datetime
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.domain.audit import changed_fields, record_event
from bot.domain.errors import Conflict, InvalidInput, NotFound, person
from bot.domain.notices import quoted, tell
from bot.domain.permissions import Permission, ensure_allowed
from bot.domain.roles import Actor, Directory, Role
from bot.domain.touchpoints.models import (
    MAX_PARTICIPANTS,
    MAX_SCAN,
    MAX_THREAD_ENTRIES,
    NAME_MAX,
    RECURRENCE_HINT,
    TEXT_MAX,
    ActionStatus,
    Captured,
    ChannelMembership,
    OccurrenceStatus,
    RefusedLine,
    SeriesChanges,
    SeriesDraft,
    SeriesStatus,
    Skipped,
    ThreadEntry,
    TimeZoneLookup,
    TouchpointAction,
    TouchpointDecision,
    TouchpointOccurrence,
    TouchpointSeries,
    TouchpointTopic,
)
from bot.domain.touchpoints.policy import _require_live, ensure_member
from bot.domain.touchpoints.queries import _handled, get_series, latest_occurrence
from bot.domain.touchpoints.recurrence import (
    _known_zone,
    _next_meeting,
    describe_recurrence,
    next_occurrence,
    occurrences,
    parse_time,
    parse_timezone,
    recurrence_rule,
)
from bot.domain.validation import bounded_text, future_or_today


def _check_sides(session: Session, directory: Directory, participants: list[str]) -> None:
    sides: set[Role] = set()
    for user_id in participants:
        sides |= directory.actor(session, user_id).sides
    missing = [
        label for role, label in ((Role.CIO, "CIO"), (Role.CISO, "CISO")) if role not in sides
    ]
    if missing:
        raise InvalidInput(
            f"A touchpoint needs at least one participant from each side; "
            f"nobody from the {' or '.join(missing)} side is invited.",
            hint="e.g. `with:@cio-person,@ciso-person`; `/accord roles` lists each side.",
            field="participants",
        )


def create_series(
    session: Session,
    *,
    actor: Actor,
    draft: SeriesDraft,
    directory: Directory,
    profiles: TimeZoneLookup | None,
    default_timezone: str,
    now: datetime,
    channels: ChannelMembership | None = None,
) -> TouchpointSeries:
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    name = bounded_text(draft.name, field="name", max_length=NAME_MAX, required=True)
    local_time = parse_time(draft.at)
    if draft.timezone:
        zone_name = parse_timezone(draft.timezone)
    else:
        found = profiles.timezone(actor.user_id) if profiles else None
        zone_name = found if found and _known_zone(found) else default_timezone
    participants = _check_participants(session, directory, draft.participants)
    _check_lengths(draft.duration_minutes, draft.lead_minutes)
    today_local = now.astimezone(ZoneInfo(zone_name)).date()
    first = draft.first_date or today_local
    future_or_today(first, today=today_local, field="first meeting")
    series = TouchpointSeries(
        name=name,
        participants=participants,
        channel_id=draft.channel_id,
        rrule=recurrence_rule(draft.every, first),
        first_date=first,
        local_time=local_time,
        timezone=zone_name,
        duration_minutes=draft.duration_minutes,
        lead_minutes=draft.lead_minutes,
        organiser_id=actor.user_id,
        created_at=now,
        updated_by=actor.user_id,
        updated_at=now,
    )
    series.next_start = next_occurrence(series, after=now)
    if series.next_start is None:
        raise InvalidInput("That recurrence has no meeting in the future.", hint=RECURRENCE_HINT)
    ensure_member(channels, series.channel_id)
    session.add(series)
    session.flush()
    _audit(
        session, series, actor=actor, now=now, action="touchpoint.created", after=series.snapshot()
    )
    _tell_participants(
        session,
        series,
        actor=actor,
        text=f"{person(actor.user_id)} added you to the touchpoint {series.ref} "
        f"{quoted(series.name)}: {describe_recurrence(series)}, first on "
        f"{_local(series.next_start, series)}.",
        to=series.participants,
    )
    return series


def _local(moment: datetime | None, series: TouchpointSeries) -> str:
    if moment is None:
        return "no date planned"
    return f"{moment.astimezone(series.zone):%a %d %b %Y %H:%M} {series.timezone}"


def _tell_participants(
    session: Session, series: TouchpointSeries, *, actor: Actor, text: str, to: list[str]
) -> None:
    tell(
        session,
        to=to,
        actor_id=actor.user_id,
        record_ref=series.ref,
        text=text,
        detail=f"`/accord touchpoint show {series.ref}` shows the series; "
        f"`/accord touchpoint ics {series.ref}` adds it to your calendar.",
    )


def _check_participants(
    session: Session, directory: Directory, participants: list[str]
) -> list[str]:
    participants = list(dict.fromkeys(participants))
    if not participants:
        raise InvalidInput(
            "Who takes part? Add `with:@alice,@bob` (at least one from each side).",
            field="participants",
        )
    if len(participants) > MAX_PARTICIPANTS:
        raise InvalidInput(f"A touchpoint takes at most {MAX_PARTICIPANTS} participants.")
    _check_sides(session, directory, participants)
    return participants


def _check_lengths(duration_minutes: int, lead_minutes: int) -> None:
    if not 5 <= duration_minutes <= 8 * 60:
        raise InvalidInput("The duration is 5 minutes to 8 hours.", field="duration")
    if not 0 <= lead_minutes <= 14 * 24 * 60:
        raise InvalidInput("The agenda lead time is 0 to 14 days.", field="lead")


#: How a changed field of a series is named in the note to its participants.
_SERIES_FIELDS = {
    "name": "name",
    "channel": "channel",
    "rrule": "recurrence",
    "first_date": "first meeting",
    "time": "time",
    "timezone": "time zone",
    "duration_minutes": "duration (min)",
    "lead_minutes": "agenda lead (min)",
}


def update_series(
    session: Session,
    *,
    actor: Actor,
    number: int,
    changes: SeriesChanges,
    directory: Directory,
    now: datetime,
    channels: ChannelMembership | None = None,
) -> TouchpointSeries:
    """Change a live series in place: its name, time, zone, recurrence, first date,
    participants, channel, duration or agenda lead. Meetings from now on follow the new values
    (a skip made earlier stands when its meeting is still in the plan); people who join are told
    they were added, people who leave that they were removed, the others what changed."""
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    if changes.is_empty():
        raise InvalidInput(
            "Nothing to change.",
            hint="e.g. `/accord touchpoint update TP-1 at:10:00 with:@alice,@bob lead:48h`",
        )
    found = session.get(TouchpointSeries, number, with_for_update=True)
    series = found if found is not None else get_series(session, number=number, lock=True)
    _require_live(series)
    before = series.snapshot()
    if changes.name is not None:
        series.name = bounded_text(changes.name, field="name", max_length=NAME_MAX, required=True)
    if changes.at is not None:
        series.local_time = parse_time(changes.at)
    if changes.timezone is not None:
        series.timezone = parse_timezone(changes.timezone)
    if changes.first_date is not None:
        today_local = now.astimezone(series.zone).date()
        series.first_date = future_or_today(
            changes.first_date, today=today_local, field="first meeting"
        )
    if changes.every is not None or changes.first_date is not None:
        every = changes.every if changes.every is not None else _every_of(series)
        series.rrule = recurrence_rule(every, series.first_date)
    added: list[str] = []
    removed: list[str] = []
    if changes.participants is not None:
        wanted = _check_participants(session, directory, changes.participants)
        added = [u for u in wanted if u not in series.participants]
        removed = [u for u in series.participants if u not in wanted]
        series.participants = wanted
    if changes.channel_id is not None:
        ensure_member(channels, changes.channel_id)
        series.channel_id = changes.channel_id
    _check_lengths(
        changes.duration_minutes
        if changes.duration_minutes is not None
        else series.duration_minutes,
        changes.lead_minutes if changes.lead_minutes is not None else series.lead_minutes,
    )
    if changes.duration_minutes is not None:
        series.duration_minutes = changes.duration_minutes
    if changes.lead_minutes is not None:
        series.lead_minutes = changes.lead_minutes
    old, new = changed_fields(before, series.snapshot())
    if not new:
        raise Conflict(f"{series.ref} already has those values; nothing changed.")
    if series.status == SeriesStatus.ACTIVE:
        series.next_start = next_occurrence(series, after=now)
        if series.next_start is None:
            raise InvalidInput(
                "With that change the series has no meeting in the future.", hint=RECURRENCE_HINT
            )
        series.next_start = _next_meeting(series, _handled(session, series), now=now)
    series.updated_by, series.updated_at = actor.user_id, now
    _audit(
        session, series, actor=actor, now=now, action="touchpoint.updated", before=old, after=new
    )
    who, title = person(actor.user_id), quoted(series.name)
    when = f"{describe_recurrence(series)}; next on {_local(series.next_start, series)}"
    _tell_participants(
        session,
        series,
        actor=actor,
        text=f"{who} added you to the touchpoint {series.ref} {title}: {when}.",
        to=added,
    )
    tell(
        session,
        to=removed,
        actor_id=actor.user_id,
        record_ref=series.ref,
        text=f"{who} removed you from the touchpoint {series.ref} {title}.",
    )
    listed = [
        f"{_SERIES_FIELDS[key]} {old.get(key)} → {value}"
        for key, value in new.items()
        if key in _SERIES_FIELDS
    ]
    if listed:
        _tell_participants(
            session,
            series,
            actor=actor,
            text=f"{who} changed the touchpoint {series.ref} {title}: "
            + "; ".join(listed)
            + f". Now: {when}.",
            to=[u for u in series.participants if u not in added],
        )
    return series


def _every_of(series: TouchpointSeries) -> str:
    """The series' rule as `every:` takes it, to re-anchor it on a new first date: the simple
    forms follow the new date's weekday, a custom RRULE stays as it is."""
    rule = series.rrule
    parts = dict(part.split("=", 1) for part in rule.split(";") if "=" in part)
    simple = set(parts) == {"FREQ", "INTERVAL", "BYDAY"} and "," not in parts["BYDAY"]
    if simple and parts["FREQ"] == "WEEKLY" and len(parts["BYDAY"]) == 2:
        return f"{parts['INTERVAL']}w"
    if simple and parts["FREQ"] == "MONTHLY" and parts["INTERVAL"] == "1":
        return "monthly"
    return rule


def _audit(
    session: Session,
    series: TouchpointSeries,
    *,
    actor: Actor,
    now: datetime,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    record_event(
        session,
        at=now,
        actor_id=actor.user_id,
        record_ref=series.ref,
        action=action,
        before=before,
        after=after,
        note=note,
    )


def _set_status(
    session: Session,
    *,
    actor: Actor,
    number: int,
    status: SeriesStatus,
    now: datetime,
    channels: ChannelMembership | None = None,
) -> TouchpointSeries:
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    series = get_series(session, number=number, lock=True)
    if series.status == SeriesStatus.CANCELLED:
        raise Conflict(f"{series.ref} is cancelled; create a new series instead.")
    if series.status == status:
        raise Conflict(f"{series.ref} is already {status.value}.")
    if status == SeriesStatus.ACTIVE:
        ensure_member(channels, series.channel_id)
    before = series.snapshot()
    series.status = status
    if status == SeriesStatus.ACTIVE:
        # Meetings that fell in the pause are not posted late: start from the next one that
        # was not skipped (a skip made before the pause stands).
        series.next_start = next_occurrence(series, after=now)
        if series.next_start is not None:
            series.next_start = _next_meeting(series, _handled(session, series), now=now)
    elif status == SeriesStatus.CANCELLED:
        series.next_start = None
    series.updated_by, series.updated_at = actor.user_id, now
    old, new = changed_fields(before, series.snapshot())
    _audit(
        session,
        series,
        actor=actor,
        now=now,
        action=f"touchpoint.{status.value}",
        before=old,
        after=new,
    )
    if status == SeriesStatus.CANCELLED:
        _tell_participants(
            session,
            series,
            actor=actor,
            text=f"{person(actor.user_id)} cancelled the touchpoint {series.ref} "
            f"{quoted(series.name)}: no more meetings or agendas.",
            to=series.participants,
        )
    return series


def pause_series(session: Session, *, actor: Actor, number: int, now: datetime) -> TouchpointSeries:
    return _set_status(session, actor=actor, number=number, status=SeriesStatus.PAUSED, now=now)


def resume_series(
    session: Session,
    *,
    actor: Actor,
    number: int,
    now: datetime,
    channels: ChannelMembership | None = None,
) -> TouchpointSeries:
    return _set_status(
        session,
        actor=actor,
        number=number,
        status=SeriesStatus.ACTIVE,
        now=now,
        channels=channels,
    )


def cancel_series(
    session: Session, *, actor: Actor, number: int, now: datetime
) -> TouchpointSeries:
    return _set_status(session, actor=actor, number=number, status=SeriesStatus.CANCELLED, now=now)


def skip_next(session: Session, *, actor: Actor, number: int, now: datetime) -> Skipped:
    """Skip the earliest meeting that has not started: its agenda is never posted (or, if it
    already was, the meeting is marked skipped)."""
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    series = get_series(session, number=number, lock=True)
    if series.status != SeriesStatus.ACTIVE or series.next_start is None:
        raise Conflict(f"{series.ref} is {series.status.value}; there is no next meeting to skip.")
    rows = _handled(session, series, since=now)
    start = next(
        (
            s
            for s in islice(occurrences(series, after=now), MAX_SCAN)
            if s not in rows or rows[s].status != OccurrenceStatus.SKIPPED
        ),
        None,
    )
    if start is None:
        raise Conflict(f"{series.ref} has no next meeting to skip.")
    row = rows.get(start)
    posted = row is not None and row.message_ts is not None
    if row is None:
        row = TouchpointOccurrence(
            series_id=series.id,  # type: ignore[arg-type]
            starts_at=start,
            status=OccurrenceStatus.SKIPPED,
            claimed_at=now,
        )
        session.add(row)
    row.status = OccurrenceStatus.SKIPPED
    row.note = f"skipped by {actor.user_id}"
    session.flush()
    rows[start] = row
    series.next_start = _next_meeting(series, rows, now=now)
    _audit(
        session, series, actor=actor, now=now, action="touchpoint.skipped", note=start.isoformat()
    )
    _tell_participants(
        session,
        series,
        actor=actor,
        text=f"{person(actor.user_id)} skipped the {series.ref} {quoted(series.name)} meeting "
        f"of {_local(start, series)}; the next one is {_local(series.next_start, series)}.",
        to=series.participants,
    )
    return Skipped(starts_at=start, agenda_posted=posted)


def add_topic(
    session: Session, *, actor: Actor, number: int, text: str, now: datetime
) -> TouchpointTopic:
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    series = get_series(session, number=number)
    _require_live(series)
    topic = TouchpointTopic(
        series_id=series.id,  # type: ignore[arg-type]
        text=bounded_text(text, field="topic", max_length=TEXT_MAX, required=True),
        added_by=actor.user_id,
        added_at=now,
    )
    session.add(topic)
    session.flush()
    _audit(session, series, actor=actor, now=now, action="touchpoint.topic_added", note=topic.text)
    return topic


def add_action(
    session: Session,
    *,
    actor: Actor,
    number: int,
    text: str,
    owner_id: str | None,
    due: date | None,
    now: datetime,
    occurrence_id: int | None = None,
    today: date | None = None,
) -> TouchpointAction:
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    series = get_series(session, number=number)
    _require_live(series)
    if not owner_id:
        raise InvalidInput("An action item needs an owner: `owner:@alice`.", field="owner")
    if due is not None:
        future_or_today(due, today=today or now.date(), field="due")
    if occurrence_id is None:
        latest = latest_occurrence(session, series_id=series.id)  # type: ignore[arg-type]
        occurrence_id = latest.id if latest else None
    item = TouchpointAction(
        series_id=series.id,  # type: ignore[arg-type]
        occurrence_id=occurrence_id,
        text=bounded_text(text, field="action", max_length=TEXT_MAX, required=True),
        owner_id=owner_id,
        due_date=due,
        created_by=actor.user_id,
        created_at=now,
    )
    session.add(item)
    session.flush()
    _audit(
        session,
        series,
        actor=actor,
        now=now,
        action="touchpoint.action_added",
        after={"action": item.label, "owner": owner_id, "due": due.isoformat() if due else None},
        note=item.text,
    )
    tell(
        session,
        to=[owner_id],
        actor_id=actor.user_id,
        record_ref=item.label,
        text=f"{person(actor.user_id)} gave you the action item {item.label} from {series.ref} "
        f"{quoted(series.name)}: {item.text}" + (f" (due {due.isoformat()})." if due else "."),
        detail=f"`/accord touchpoint done {item.label}` closes it when it is done.",
    )
    return item


def update_action(
    session: Session,
    *,
    actor: Actor,
    number: int,
    now: datetime,
    owner_id: str | None = None,
    due: date | None = None,
    clear_due: bool = False,
    text: str | None = None,
    today: date | None = None,
) -> TouchpointAction:
    """Reassign an open action item, or change its due date or text; the new owner hears it is
    theirs, the previous one that it moved, and an owner who stays what changed."""
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    if owner_id is None and due is None and not clear_due and text is None:
        raise InvalidInput(
            "Nothing to change.",
            hint="e.g. `/accord touchpoint reassign A-3 owner:@bob due:2027-04-01`",
        )
    item = session.get(TouchpointAction, number, with_for_update=True)
    if item is None:
        raise NotFound(f"There is no action item A-{number}.", hint="Agendas list them as `A-n`.")
    if item.status == ActionStatus.DONE:
        raise Conflict(f"{item.label} is already done.")
    series = get_series(session, number=item.series_id)
    _require_live(series)
    before = {"owner": item.owner_id, "due": _iso(item.due_date), "text": item.text}
    if text is not None:
        item.text = bounded_text(text, field="action", max_length=TEXT_MAX, required=True)
    if due is not None:
        item.due_date = future_or_today(due, today=today or now.date(), field="due")
    elif clear_due:
        item.due_date = None
    previous_owner = item.owner_id
    if owner_id is not None:
        item.owner_id = owner_id
    old, new = changed_fields(
        before, {"owner": item.owner_id, "due": _iso(item.due_date), "text": item.text}
    )
    if not new:
        raise Conflict(f"{item.label} already has those values; nothing changed.")
    _audit(
        session,
        series,
        actor=actor,
        now=now,
        action="touchpoint.action_updated",
        before={"action": item.label, **old},
        after={"action": item.label, **new},
    )
    who = person(actor.user_id)
    what = f"{item.label} from {series.ref} {quoted(series.name)}: {item.text}" + (
        f" (due {item.due_date.isoformat()})." if item.due_date else "."
    )
    done = f"`/accord touchpoint done {item.label}` closes it when it is done."
    if "owner" in new:
        tell(
            session,
            to=[item.owner_id],
            actor_id=actor.user_id,
            record_ref=item.label,
            text=f"{who} gave you the action item {what}",
            detail=done,
        )
        tell(
            session,
            to=[previous_owner],
            actor_id=actor.user_id,
            record_ref=item.label,
            text=f"{who} gave your action item {item.label} to {person(item.owner_id)}.",
        )
    else:
        tell(
            session,
            to=[item.owner_id],
            actor_id=actor.user_id,
            record_ref=item.label,
            text=f"{who} changed your action item {what}",
            detail=done,
        )
    return item


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def complete_action(
    session: Session, *, actor: Actor, number: int, now: datetime
) -> TouchpointAction:
    """Close an action item: its owner may, whichever side they are on (or none, as someone
    asked to help); anyone else needs the right to manage touchpoints."""
    item = session.get(TouchpointAction, number, with_for_update=True)
    if item is None:
        raise NotFound(f"There is no action item A-{number}.", hint="Agendas list them as `A-n`.")
    if actor.user_id != item.owner_id:
        ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    if item.status == ActionStatus.DONE:
        raise Conflict(f"{item.label} is already done.")
    item.status, item.done_by, item.done_at = ActionStatus.DONE, actor.user_id, now
    series = get_series(session, number=item.series_id)
    _audit(
        session,
        series,
        actor=actor,
        now=now,
        action="touchpoint.action_done",
        before={"action": item.label, "status": "open"},
        after={"action": item.label, "status": "done"},
    )
    return item


def record_decision(
    session: Session,
    *,
    actor: Actor,
    number: int,
    text: str,
    now: datetime,
    occurrence_id: int | None = None,
) -> TouchpointDecision:
    ensure_allowed(actor, Permission.TOUCHPOINT_MANAGE)
    series = get_series(session, number=number)
    _require_live(series)
    if occurrence_id is None:
        latest = latest_occurrence(session, series_id=series.id)  # type: ignore[arg-type]
        occurrence_id = latest.id if latest else None
    decision = TouchpointDecision(
        series_id=series.id,  # type: ignore[arg-type]
        occurrence_id=occurrence_id,
        text=bounded_text(text, field="decision", max_length=TEXT_MAX, required=True),
        recorded_by=actor.user_id,
        recorded_at=now,
    )
    session.add(decision)
    session.flush()
    _audit(session, series, actor=actor, now=now, action="touchpoint.decision", note=decision.text)
    return decision


def capture_from_thread(
    session: Session,
    *,
    actor: Actor,
    occurrence_id: int,
    entries: list[ThreadEntry],
    now: datetime,
) -> Captured:
    """Record what someone wrote in an agenda's thread, against that occurrence, through the
    same services (permissions, validation, audit trail) as the buttons and commands.

    An item whose text is wrong (a past due date, too long) is refused on its own: the others
    are recorded, and the refusal names its line. Who may record, and a cancelled series, still
    refuse the whole reply."""
    occurrence = session.get(TouchpointOccurrence, occurrence_id)
    if occurrence is None:
        raise NotFound("That agenda is no longer known to Accord.")
    if len(entries) > MAX_THREAD_ENTRIES:
        raise InvalidInput(
            f"One reply can record at most {MAX_THREAD_ENTRIES} items; split it into several."
        )
    recorded: list[TouchpointAction | TouchpointDecision] = []
    refused: list[RefusedLine] = []
    for entry in entries:
        try:
            recorded.append(_capture_one(session, actor, occurrence, entry, now))
        except InvalidInput as error:
            reason = error.message + (f" {error.hint}" if error.hint else "")
            refused.append(RefusedLine(line=entry.line, reason=reason))
    return Captured(recorded=recorded, refused=refused)


def _capture_one(
    session: Session,
    actor: Actor,
    occurrence: TouchpointOccurrence,
    entry: ThreadEntry,
    now: datetime,
) -> TouchpointAction | TouchpointDecision:
    """One item; validation raises before anything is added, so a refusal leaves no trace."""
    if entry.kind == "decision":
        return record_decision(
            session,
            actor=actor,
            number=occurrence.series_id,
            text=entry.text,
            now=now,
            occurrence_id=occurrence.id,
        )
    return add_action(
        session,
        actor=actor,
        number=occurrence.series_id,
        text=entry.text,
        owner_id=entry.owner_id,
        due=entry.due,
        now=now,
        occurrence_id=occurrence.id,
    )
