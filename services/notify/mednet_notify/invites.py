"""iCalendar invitations and cancellations for one pre-mediation call, in the recipient's own time zone."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress

from mednet_shared.contracts.events import CallCancelled, CallRescheduled, CallScheduled
from mednet_shared.contracts.values import Attendee, AttendeeKind

PRODID = "-//mednet//pre-mediation calls//EN"
TIME_ZONE_MARGIN = timedelta(days=366)


def invite(call: CallScheduled | CallRescheduled, recipient: Attendee, organizer: Attendee, *, summary: str) -> bytes:
    event = call_event(call, recipient, organizer, summary=summary, start=call.start, end=call.end, status="CONFIRMED")
    return calendar_of("REQUEST", event)


def cancellation(
    call: CallCancelled, recipient: Attendee, organizer: Attendee, *, summary: str, start: datetime, end: datetime
) -> bytes:
    event = call_event(call, recipient, organizer, summary=summary, start=start, end=end, status="CANCELLED")
    return calendar_of("CANCEL", event)


def attendee_of_kind(attendees: Iterable[Attendee], kind: AttendeeKind) -> Attendee:
    for attendee in attendees:
        if attendee.kind == kind:
            return attendee
    raise ValueError(f"the call has no {kind} attendee")


def private_call_description(attendees: Iterable[Attendee]) -> str:
    party = attendee_of_kind(attendees, AttendeeKind.PARTY)
    return f"Private pre-mediation call between the mediator and {party.name}'s side"


def call_event(
    call: CallScheduled | CallCancelled,
    recipient: Attendee,
    organizer: Attendee,
    *,
    summary: str,
    start: datetime,
    end: datetime,
    status: str,
) -> Event:
    zone = ZoneInfo(recipient.time_zone)
    return Event.new(
        uid=call.call_id,
        sequence=call.sequence,
        start=start.astimezone(zone),
        end=end.astimezone(zone),
        summary=summary,
        description=private_call_description(call.attendees),
        organizer=vCalAddress.new(organizer.email, cn=organizer.name),
        attendees=[invited(attendee) for attendee in call.attendees],
        status=status,
    )


def invited(attendee: Attendee) -> vCalAddress:
    return vCalAddress.new(
        attendee.email, cn=attendee.name, role="REQ-PARTICIPANT", partstat="NEEDS-ACTION", rsvp=True
    )


def calendar_of(method: str, event: Event) -> bytes:
    calendar = Calendar()
    calendar.prodid = PRODID
    calendar.version = "2.0"
    calendar.method = method
    calendar.add_component(event)
    first_year = (event.start.date() - TIME_ZONE_MARGIN).year
    last_year = (event.end.date() + TIME_ZONE_MARGIN).year
    for tzid in sorted(calendar.get_missing_tzids()):
        if (timezone := time_zone(tzid, first_year, last_year)) is not None:
            calendar.subcomponents.insert(len(calendar.timezones), timezone)
    return calendar.to_ical()


@lru_cache(maxsize=512)
def time_zone(tzid: str, first_year: int, last_year: int) -> Timezone | None:
    """The VTIMEZONE of a zone over whole years (built once: it is the costly part of an invitation)."""
    try:
        return Timezone.from_tzid(tzid, first_date=date(first_year, 1, 1), last_date=date(last_year, 12, 31))
    except ValueError:
        return None
