"""iCalendar invitations and cancellations for one pre-mediation call, in the recipient's own time zone."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress

from icalendar import vUri

from mednet_shared.contracts.events import CallCancelled, CallRescheduled, CallScheduled
from mednet_shared.contracts.values import Attendee, AttendeeKind, Place, PlaceKind

PRODID = "-//mednet//pre-mediation calls//EN"
TIME_ZONE_MARGIN = timedelta(days=366)
# Every invitation of a zone carries the same VTIMEZONE, over these years at least: readers that keep the first
# definition of a TZID they meet (vobject, and so the CalDAV servers built on it, register it process-wide) would
# otherwise read a later invitation with an earlier one's years, in the wrong offset.
TIME_ZONE_YEARS = (2020, 2045)


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
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if ambiguous(local_start) or ambiguous(local_end):
        local_start, local_end = start.astimezone(UTC), end.astimezone(UTC)
    event = Event.new(
        uid=call.call_id,
        sequence=call.sequence,
        start=local_start,
        end=local_end,
        summary=summary,
        description=private_call_description(call.attendees),
        organizer=vCalAddress.new(organizer.email, cn=organizer.name),
        attendees=[invited(attendee, organizer) for attendee in call.attendees],
        status=status,
    )
    if call.place is not None:
        add_place(event, call.place)
    return event


def ambiguous(local: datetime) -> bool:
    """A wall time the zone shows twice (the hour repeated when clocks go back): written with its TZID a reader
    takes the first of the two (RFC 5545 3.3.5), so such a moment is written in UTC instead."""
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def invited(attendee: Attendee, organizer: Attendee) -> vCalAddress:
    """Each attendee is asked to reply, except the organizer (the mediator), who holds the call."""
    if attendee.email.lower() == organizer.email.lower():
        return vCalAddress.new(attendee.email, cn=attendee.name, role="CHAIR", partstat="ACCEPTED", rsvp=False)
    return vCalAddress.new(
        attendee.email, cn=attendee.name, role="REQ-PARTICIPANT", partstat="NEEDS-ACTION", rsvp=True
    )


def add_place(event: Event, place: Place) -> None:
    """LOCATION (how it reads), URL (the video room) and RFC 7986 CONFERENCE for each way to join."""
    event.add("location", place.text)
    if place.url:
        event.add("url", vUri(place.url))
        event.add("conference", vUri(place.url), parameters={"VALUE": "URI", "FEATURE": "VIDEO",
                                                             "LABEL": "Video call"})
    if place.kind == PlaceKind.PHONE and place.phone:
        number = "".join(c for c in place.phone if c.isdigit() or c == "+")
        uri = f"tel:{number}" + (f",,{place.pin}" if place.pin else "")
        event.add("conference", vUri(uri), parameters={"VALUE": "URI", "FEATURE": "PHONE", "LABEL": "Phone bridge"})


def calendar_of(method: str, event: Event) -> bytes:
    """The calendar, each VTIMEZONE it needs spliced in before the event as bytes made once per zone and span
    (the same lines icalendar writes for it: serialising a zone's onsets was most of an invitation's cost)."""
    calendar = Calendar()
    calendar.prodid = PRODID
    calendar.version = "2.0"
    calendar.method = method
    calendar.add_component(event)
    first_year = min(TIME_ZONE_YEARS[0], (event.start.date() - TIME_ZONE_MARGIN).year)
    last_year = max(TIME_ZONE_YEARS[1], (event.end.date() + TIME_ZONE_MARGIN).year)
    zones = b"".join(time_zone(tzid, first_year, last_year) for tzid in sorted(calendar.get_missing_tzids()))
    if not zones:
        return calendar.to_ical()
    head, event_begins, rest = calendar.to_ical().partition(b"BEGIN:VEVENT\r\n")
    return head + zones + event_begins + rest


@lru_cache(maxsize=512)
def time_zone(tzid: str, first_year: int, last_year: int) -> bytes:
    """The VTIMEZONE of a zone over whole years, as written in a calendar (b"" for a zone without one)."""
    try:
        timezone = Timezone.from_tzid(tzid, first_date=date(first_year, 1, 1), last_date=date(last_year, 12, 31))
    except ValueError:
        return b""
    return one_rdate_a_line(timezone).to_ical()


def one_rdate_a_line(timezone: Timezone) -> Timezone:
    """Each onset of a STANDARD/DAYLIGHT as an RDATE of its own: RFC 5545 allows a list, but vobject (and the
    calendars built on dateutil) read only the first value of an RDATE list, so every later year of the span
    would be read in the wrong offset."""
    for observance in timezone.subcomponents:
        rdates = observance.get("RDATE")
        if rdates is None:
            continue
        moments = [value.dt for rdate in (rdates if isinstance(rdates, list) else [rdates]) for value in rdate.dts]
        del observance["RDATE"]
        for moment in moments:
            observance.add("RDATE", moment)
    return timezone
