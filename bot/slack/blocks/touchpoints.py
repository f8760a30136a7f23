"""Renderers for touchpoints: the series card and list, the agenda, and the capture modals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime

from slack_sdk.models.blocks import (
    Block,
    ChannelSelectElement,
    InputBlock,
    Option,
    PlainTextObject,
    StaticSelectElement,
    TimePickerElement,
    UserMultiSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.agenda import Agenda, AgendaItem, AgendaSection
from bot.domain.paging import Page
from bot.domain.touchpoints import (
    DEFAULT_DURATION_MINUTES,
    DEFAULT_LEAD_MINUTES,
    RefusedLine,
    TouchpointAction,
    TouchpointDecision,
    TouchpointSeries,
    describe_recurrence,
)
from bot.slack.blocks.common import (
    MESSAGE_BLOCK_LIMIT,
    Message,
    actions,
    button,
    context,
    divider,
    fields_section,
    fit,
    header,
    page_footer,
    safe,
    section,
    user,
)
from bot.slack.blocks.inputs import date_input, modal, text_input
from bot.slack.ids import ActionId, BlockId, CallbackId

FLAG_ICON = {
    "red": ":red_circle: red",
    "blocked": ":no_entry: blocked",
    "on hold": ":lock: on hold",
    "overdue": ":warning: *overdue*",
    "pending": ":hourglass: pending",
    "expiring": ":alarm_clock: expiring",
    "awaiting decision": ":scales: awaiting decision",
    "more information asked": ":grey_question: more information asked",
    "deferred": ":hourglass_flowing_sand: deferred",
    "open": ":speech_balloon: open",
    "escalated": ":arrow_up: escalated",
    "escalation proposed": ":arrow_up: escalation proposed",
}


def when(moment: datetime, series: TouchpointSeries) -> str:
    """Slack shows the date in each reader's zone; the fallback is the organiser's wall clock."""
    local = moment.astimezone(series.zone)
    fallback = f"{local:%a %Y-%m-%d %H:%M} {series.timezone}"
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def local_when(moment: datetime, series: TouchpointSeries) -> str:
    """The organiser's wall clock, spelled out: `Mon 22 Mar 09:00 Europe/Berlin`."""
    return f"{moment.astimezone(series.zone):%a %d %b %H:%M} {series.timezone}"


def meeting_line(series: TouchpointSeries) -> str:
    """One line of the App Home: a series and its next meeting in the organiser's zone."""
    nxt = local_when(series.next_start, series) if series.next_start else "no meeting planned"
    return f"• *{series.ref}* {safe(series.name, 100)} — {nxt} in <#{series.channel_id}>"


def action_line(action: TouchpointAction, today: date) -> str:
    """One line of the App Home: an open action item, overdue ones flagged."""
    flag = f"{FLAG_ICON['overdue']} · " if action.is_overdue(today) else ""
    due = f"due {action.due_date.isoformat()}" if action.due_date else "no due date"
    return f"• *{action.label}* {safe(action.text, 150)} ({action.series_ref}) — {flag}{due}"


def _participants(series: TouchpointSeries) -> str:
    return ", ".join(user(uid) for uid in series.participants[:30])


def series_line(series: TouchpointSeries) -> str:
    status = "" if series.status.value == "active" else f" · _{series.status.value}_"
    nxt = f" · next {when(series.next_start, series)}" if series.next_start else ""
    return (
        f"*{series.ref}* {safe(series.name, 100)}{status}\n"
        f"{describe_recurrence(series)} in <#{series.channel_id}>{nxt}"
    )


#: Series per list page: one block each, within a message's 50 blocks.
LIST_PAGE_SIZE = 20


def page_value(include_cancelled: bool, page: int) -> str:
    return json.dumps({"a": include_cancelled, "p": page}, separators=(",", ":"))


def list_message(page: Page[TouchpointSeries], *, include_cancelled: bool = False) -> Message:
    """One page of series; Previous/Next buttons reach the rest."""
    title = "All touchpoints" if include_cancelled else "Touchpoints"
    blocks: list[Block] = [header(f"{title} ({page.total})")]
    if not page.items:
        blocks.append(
            section(
                "No touchpoints yet. `/accord touchpoint new <name> every:weekly at:09:00 "
                "with:@cio,@ciso` creates one."
            )
        )
        return Message(text=f"{title}: none", blocks=blocks)
    blocks.extend(section(series_line(s)) for s in page.items)
    blocks.extend(
        page_footer(
            page,
            action_id=ActionId.TOUCHPOINT_PAGE,
            value_for=lambda n: page_value(include_cancelled, n),
        )
    )
    assert len(blocks) <= MESSAGE_BLOCK_LIMIT
    return Message(text=f"{title}: {len(page.items)} of {page.total}", blocks=blocks)


#: Open action items the card lists; the rest are counted ("…and n more").
CARD_ACTIONS = 15


def card(
    series: TouchpointSeries,
    *,
    upcoming: list[datetime],
    actions_open: list[TouchpointAction],
    decisions: list[TouchpointDecision],
    today: date,
    lead: str | None = None,
) -> Message:
    blocks: list[Block] = []
    if lead:
        blocks.append(section(lead))
    blocks.append(header(f"{series.ref} · {series.name}"))
    blocks.append(
        fields_section(
            [
                f"*When*\n{describe_recurrence(series)}",
                f"*Status*\n{series.status.value}",
                f"*Channel*\n<#{series.channel_id}>",
                f"*Duration*\n{series.duration_minutes} min · agenda "
                f"{series.lead_minutes // 60} h before",
                f"*Participants*\n{_participants(series)}",
                f"*Organiser*\n{user(series.organiser_id)}",
            ]
        )
    )
    if upcoming:
        blocks.append(
            section("*Next meetings*\n" + "\n".join(f"• {when(s, series)}" for s in upcoming))
        )
    if actions_open:
        shown = actions_open[:CARD_ACTIONS]
        listed = AgendaSection(
            key="actions",
            title=f"Open action items ({len(actions_open)})",
            items=[_action_item(a, today) for a in shown],
            more=len(actions_open) - len(shown),
        )
        block = _section_block(listed)
        blocks.append(block)
        if "…and" in str(block.to_dict()):  # some were left out, by count or by length
            blocks.append(
                context(
                    "Every open item is on the next agenda; yours are on Accord's Home tab. "
                    "Close a finished one with `/accord touchpoint done A-n`."
                )
            )
    if decisions:
        blocks.append(
            section(
                "*Recent decisions*\n"
                + "\n".join(
                    f"• {safe(d.text, 200)} — {user(d.recorded_by)}, {d.recorded_at:%Y-%m-%d}"
                    for d in decisions
                )
            )
        )
    blocks.append(context(f"`/accord touchpoint ics {series.ref}` adds it to your calendar."))
    return Message(
        text=(f"{lead} " if lead else "") + f"{series.ref}: {safe(series.name, 100)}",
        blocks=blocks,
    )


def _action_item(action: TouchpointAction, today: date) -> AgendaItem:
    return AgendaItem(
        ref=action.label,
        text=action.text,
        flags=("overdue",) if action.is_overdue(today) else (),
        owner_ids=(action.owner_id,),
        due=action.due_date,
    )


def _item_line(item: AgendaItem) -> str:
    ref = f"*{item.ref}* " if item.ref else ""
    flags = " · ".join(FLAG_ICON.get(flag, safe(flag, 30)) for flag in item.flags)
    owners = " ".join(user(uid) for uid in item.owner_ids)
    due = f"{safe(item.due_label, 20)} {item.due.isoformat()}" if item.due else ""
    tail = " · ".join(part for part in (flags, due, owners) if part)
    return f"• {ref}{safe(item.text, 150)}" + (f" — {tail}" if tail else "")


#: Room for the title and the "and n more" line within a section's 3000 characters.
SECTION_BODY_BUDGET = 2800


def _section_block(agenda_section: AgendaSection) -> Block:
    """Whole lines only: what does not fit is counted in "and n more", never cut mid-line."""
    lines: list[str] = []
    used = 0
    for item in agenda_section.items:
        line = _item_line(item)
        if used + len(line) + 1 > SECTION_BODY_BUDGET:
            break
        lines.append(line)
        used += len(line) + 1
    more = agenda_section.more + len(agenda_section.items) - len(lines)
    if more:
        lines.append(f"_…and {more} more_")
    body = "\n".join(lines) if lines else "_Nothing._"
    return section(f"*{safe(agenda_section.title, 100)}*\n{body}")


def agenda_message(
    series: TouchpointSeries,
    agenda: Agenda,
    *,
    starts_at: datetime,
    occurrence_id: int,
    late: bool,
) -> Message:
    """The agenda posted before a meeting; buttons capture actions and decisions."""
    blocks: list[Block] = [header(f"Agenda · {series.ref} {series.name}")]
    lead = f"Meeting {when(starts_at, series)} · {_participants(series)}"
    blocks.append(section(lead))
    if late:
        blocks.append(
            context(
                ":hourglass: Posted late: Accord's clock was not running when this agenda was due."
            )
        )
    for agenda_section in agenda.sections:
        blocks.append(_section_block(agenda_section))
    blocks.append(divider())
    value = json.dumps({"o": occurrence_id, "s": series.id}, separators=(",", ":"))
    blocks.append(
        actions(
            button(
                "Add action item",
                action_id=ActionId.TOUCHPOINT_ACTION,
                value=value,
                style="primary",
            ),
            button("Record decision", action_id=ActionId.TOUCHPOINT_DECISION, value=value),
        )
    )
    blocks.append(
        context(
            "Reply in this thread with `decision: &lt;text&gt;` or "
            "`action: &lt;text&gt; @owner due:YYYY-MM-DD` (one per line), or use "
            f"`/accord touchpoint action {series.ref} &lt;text&gt; owner:@u` · "
            f"`/accord touchpoint decision {series.ref} &lt;text&gt;`"
        )
    )
    count = sum(len(s.items) for s in agenda.sections)
    text = f"Agenda for {series.ref} {safe(series.name, 100)}: {count} items"
    return Message(
        text=text,
        blocks=fit(blocks, limit=MESSAGE_BLOCK_LIMIT, overflow_note="Agenda shortened."),
    )


EVERY_CHOICES = (
    ("weekly", "Weekly"),
    ("2w", "Every 2 weeks"),
    ("monthly", "Monthly (Nth weekday)"),
)


def create_modal(*, metadata: str) -> View:
    options = [Option(value=value, text=label) for value, label in EVERY_CHOICES]
    return modal(
        CallbackId.TOUCHPOINT_CREATE,
        "New touchpoint",
        "Create",
        metadata,
        [
            text_input(BlockId.TP_NAME, "Name", max_length=100, placeholder="CIO–CISO weekly"),
            InputBlock(
                block_id=BlockId.TP_PARTICIPANTS,
                label=PlainTextObject(text="Participants (both sides)"),
                element=UserMultiSelectElement(action_id="value", max_selected_items=30),
            ),
            InputBlock(
                block_id=BlockId.TP_CHANNEL,
                label=PlainTextObject(text="Channel"),
                element=ChannelSelectElement(action_id="value"),
            ),
            InputBlock(
                block_id=BlockId.TP_EVERY,
                label=PlainTextObject(text="Repeats"),
                element=StaticSelectElement(
                    action_id="value", options=options, initial_option=options[0]
                ),
            ),
            InputBlock(
                block_id=BlockId.TP_TIME,
                label=PlainTextObject(text="Time"),
                element=TimePickerElement(action_id="value", initial_time="09:00"),
            ),
            text_input(
                BlockId.TP_TZ,
                "Time zone (default: yours)",
                max_length=64,
                optional=True,
                placeholder="Europe/Berlin",
            ),
            date_input(BlockId.TP_FIRST, "First meeting"),
            text_input(
                BlockId.TP_DURATION,
                "Duration (minutes)",
                max_length=3,
                initial=str(DEFAULT_DURATION_MINUTES),
                optional=True,
            ),
            text_input(
                BlockId.TP_LEAD,
                "Post the agenda this many hours before",
                max_length=3,
                initial=str(DEFAULT_LEAD_MINUTES // 60),
                optional=True,
            ),
        ],
    )


def action_modal(*, metadata: str, ref: str) -> View:
    return modal(
        CallbackId.TOUCHPOINT_ACTION,
        "Action item",
        "Add",
        metadata,
        [
            section(f"Action item for *{ref}*"),
            text_input(BlockId.TP_TEXT, "What", max_length=500, multiline=True),
            InputBlock(
                block_id=BlockId.TP_OWNER,
                label=PlainTextObject(text="Owner"),
                element=UserSelectElement(action_id="value"),
            ),
            date_input(BlockId.TP_DUE, "Due date"),
        ],
    )


def decision_modal(*, metadata: str, ref: str) -> View:
    return modal(
        CallbackId.TOUCHPOINT_DECISION,
        "Decision",
        "Record",
        metadata,
        [
            section(f"Decision taken in *{ref}*"),
            text_input(BlockId.TP_TEXT, "Decision", max_length=500, multiline=True),
        ],
    )


def action_recorded(series: TouchpointSeries, action: TouchpointAction) -> Message:
    due = f", due {action.due_date.isoformat()}" if action.due_date else ""
    text = (
        f":pushpin: *{action.label}* for {series.ref}: {safe(action.text, 300)} — "
        f"{user(action.owner_id)}{due}. It stays on the agenda until "
        f"`/accord touchpoint done {action.label}`."
    )
    return Message(text=text, blocks=[section(text)])


def action_due_reminder(
    series: TouchpointSeries, action: TouchpointAction, *, today: date
) -> Message:
    """The owner's DM on the day an action item falls due (or the first run after it)."""
    assert action.due_date is not None
    days = (today - action.due_date).days
    when_due = "today" if days == 0 else "yesterday" if days == 1 else f"on {action.due_date}"
    text = (
        f":alarm_clock: Your action item *{action.label}* from {series.ref} "
        f"{safe(series.name, 100)} is due {when_due}: {safe(action.text, 300)}"
    )
    detail = (
        f"Done? `/accord touchpoint done {action.label}`. It stays on every agenda of "
        f"{series.ref} until then."
    )
    return Message(text=text, blocks=[section(text), context(detail)])


def decision_recorded(series: TouchpointSeries, decision: TouchpointDecision) -> Message:
    text = f":white_check_mark: Decision recorded for {series.ref}: {safe(decision.text, 400)}"
    return Message(text=text, blocks=[section(text)])


def thread_captured(
    series: TouchpointSeries,
    recorded: list[TouchpointAction | TouchpointDecision],
    *,
    refused: Sequence[RefusedLine] = (),
) -> Message:
    """The short reply in an agenda's thread to what someone recorded there, naming the lines
    it could not record and why (the author can write them again, corrected)."""
    parts = [
        action_recorded(series, item)
        if isinstance(item, TouchpointAction)
        else decision_recorded(series, item)
        for item in recorded
    ]
    blocks = [block for part in parts for block in part.blocks]
    text = " ".join(part.text for part in parts)
    if refused:
        listed = "\n".join(f"• Line {r.line}: {safe(r.reason, 300)}" for r in refused[:10])
        note = f":warning: Not recorded ({len(refused)}):\n{listed}"
        blocks = [*blocks[: MESSAGE_BLOCK_LIMIT - 1], section(note[:3000])]
        text += f" Not recorded: line {', '.join(str(r.line) for r in refused[:10])}."
    return Message(text=text[:3000], blocks=blocks[:MESSAGE_BLOCK_LIMIT])


_NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found")


def agenda_failed(series: TouchpointSeries, *, starts_at: datetime, reason: str) -> Message:
    """The organiser's DM when Accord gave up posting an agenda: what failed and the fix."""
    where = f"<#{series.channel_id}>"
    if reason in _NOT_IN_CHANNEL:
        cause = "Accord is not a member of that channel."
        fix = f"Open {where} and type `/invite @Accord`."
    elif reason == "is_archived":
        cause = "that channel is archived."
        fix = "Unarchive it, or cancel the series and create it again in another channel."
    else:
        cause = f"Slack answered `{safe(reason, 80)}` every time."
        fix = "Check the channel and Accord's installation, or ask an admin."
    text = (
        f":warning: I could not post the agenda of *{series.ref}* {safe(series.name, 100)} "
        f"for the meeting {when(starts_at, series)} in {where}: {cause}"
    )
    detail = (
        f"{fix} Later agendas are posted as usual; topics added for this one stay on the next. "
        f"`/accord touchpoint show {series.ref}` shows the series."
    )
    return Message(text=text, blocks=[section(text), context(detail)])
