"""A touchpoint series as an iCalendar file (RFC 5545): one recurring event with its zone."""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Calendar, Event, vRecur

from bot.domain.touchpoints import TouchpointSeries

PRODID = "-//Accord//Touchpoints//EN"


def series_ics(
    series: TouchpointSeries, *, skipped: list[datetime], now: datetime, domain: str = "accord"
) -> bytes:
    """The series with its RRULE and TZID (plus the VTIMEZONE), skipped meetings as EXDATEs."""
    zone = series.zone
    start = datetime.combine(series.first_date, series.local_time).replace(tzinfo=zone)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"touchpoint-{series.id}@{domain}")
    event.add("summary", f"{series.ref} {series.name}")
    event.add("dtstamp", now)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=series.duration_minutes))
    event.add("rrule", vRecur.from_ical(series.rrule))
    event.add("description", f"Accord touchpoint {series.ref}; the agenda is posted in Slack.")
    for moment in skipped:
        event.add("exdate", moment.astimezone(zone))
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
