"""iTIP replies: what is read from a reply, and when it is refused (unknown UID or attendee, the organizer, a
forged sender, a call no longer booked, anything that is not a REPLY)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar, Event, vCalAddress

from mednet_notify.domain import CallState, ParsedReply, RefusedReply, reply_to_call
from mednet_notify.replies import read_reply
from mednet_shared.contracts.values import Attendee, AttendeeKind

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
START = NOW + timedelta(days=5)
PAT, ANN, ADA = "pat@parties.example.org", "ann@firm-a.example.org", "med-ada@mediators.example.org"
CALL = CallState(call_id="case-1:p1", case_id="case-1", party_id="p1", sequence=2, start=START,
                 end=START + timedelta(minutes=45),
                 attendees=[Attendee(kind=AttendeeKind.PARTY, name="Pat", email=PAT, time_zone="Asia/Kolkata"),
                            Attendee(kind=AttendeeKind.ATTORNEY, name="Ann", email=ANN, time_zone="Europe/London"),
                            Attendee(kind=AttendeeKind.MEDIATOR, name="Ada", email=ADA, time_zone="Europe/Berlin")])


def reply_ics(uid: str = "case-1:p1", attendee: str = PAT, partstat: str = "DECLINED", method: str = "REPLY",
              sequence: int = 2, proposed: tuple[datetime, datetime] | None = None, attendees: int = 1) -> bytes:
    """A reply as a calendar client writes it."""
    calendar = Calendar()
    calendar.add("prodid", "-//Some Client//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", NOW)
    event.add("organizer", vCalAddress(f"mailto:{ADA}"))
    for n in range(attendees):
        address = vCalAddress(f"mailto:{attendee if n == 0 else 'x' + str(n) + '@example.org'}")
        address.params["PARTSTAT"] = partstat
        event.add("attendee", address)
    if proposed:
        event.add("dtstart", proposed[0])
        event.add("dtend", proposed[1])
    event.add("comment", "I cannot make it")
    calendar.add_component(event)
    return calendar.to_ical()


def test_a_decline_is_read_and_becomes_the_calls_reply():
    parsed = read_reply(reply_ics())
    assert parsed == ParsedReply(uid="case-1:p1", sequence=2, attendee_email=PAT, partstat="DECLINED",
                                 comment="I cannot make it", stamp=NOW.isoformat())
    reply = reply_to_call(parsed, CALL, NOW, sender=PAT)
    assert (reply.case_id, reply.call_id, reply.party_id, reply.partstat, reply.attendee_email) == (
        "case-1", "case-1:p1", "p1", "DECLINED", PAT)


def test_a_counter_carries_the_proposed_time():
    later = START + timedelta(days=1)
    parsed = read_reply(reply_ics(method="COUNTER", partstat="NEEDS-ACTION",
                                  proposed=(later, later + timedelta(hours=1))))
    reply = reply_to_call(parsed, CALL, NOW)
    assert reply.partstat == "COUNTER" and [(w.start, w.end) for w in reply.proposed] == [
        (later, later + timedelta(hours=1))]


@pytest.mark.parametrize("ics,sender,reason", [
    (reply_ics(uid="case-9:p9"), None, "no call has UID case-9:p9"),
    (reply_ics(attendee="eve@elsewhere.example"), None, "eve@elsewhere.example is not an attendee of call case-1:p1"),
    (reply_ics(attendee=ADA), None, f"{ADA} is not an attendee"),
    (reply_ics(), "eve@elsewhere.example", "was sent by eve@elsewhere.example"),
    (reply_ics(partstat="DELEGATED"), None, "PARTSTAT DELEGATED is not one of"),
])
def test_a_reply_that_is_not_an_attendees_reply_to_a_known_call_is_refused(ics, sender, reason):
    with pytest.raises(RefusedReply, match=reason):
        reply_to_call(read_reply(ics), CALL if "case-9" not in ics.decode() else None, NOW, sender=sender)


def test_a_reply_to_a_call_no_longer_booked_is_refused():
    with pytest.raises(RefusedReply, match="is cancelled"):
        reply_to_call(read_reply(reply_ics()), CALL.model_copy(update={"status": "cancelled"}), NOW)


@pytest.mark.parametrize("ics,reason", [
    (b"not a calendar", "not an iCalendar object"),
    (reply_ics(method="REQUEST"), "METHOD is REQUEST"),
    (reply_ics(attendees=2), "exactly one ATTENDEE"),
    (reply_ics(method="COUNTER"), "proposes a DTSTART and a DTEND"),
])
def test_what_is_not_an_itip_reply_is_refused_with_its_reason(ics, reason):
    with pytest.raises(RefusedReply, match=reason):
        read_reply(ics)
