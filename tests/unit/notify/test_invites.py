import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar, Event

from mednet_notify.invites import attendee_of_kind, cancellation, invite
from mednet_shared.contracts.events import CallCancelled, CallRescheduled, CallScheduled
from mednet_shared.contracts.values import Attendee, AttendeeKind, Place, PlaceKind

START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
END = START + timedelta(minutes=45)
SUMMARY = "Pre-mediation call"


def an_attendee(kind: AttendeeKind, name: str, zone: str = "Europe/London") -> Attendee:
    return Attendee(kind=kind, name=name, email=f"{name.split()[0].lower()}@example.org", time_zone=zone)


MEDIATOR = an_attendee(AttendeeKind.MEDIATOR, "Mia Mediator")
PARTY = an_attendee(AttendeeKind.PARTY, "Pat Party", "Asia/Kolkata")
ATTORNEY = an_attendee(AttendeeKind.ATTORNEY, "Alex Attorney", "America/St_Johns")


def call_fields(sequence: int = 0) -> dict:
    return dict(
        call_id="call-42",
        case_id="case-1",
        party_id="p1",
        mediator_id="med-1",
        sequence=sequence,
        attendees=[PARTY, ATTORNEY, MEDIATOR],
        participant_firms=["firm-a"],
    )


def a_call(start: datetime = START, end: datetime = END, sequence: int = 0) -> CallScheduled:
    return CallScheduled(**call_fields(sequence), start=start, end=end)


def a_reschedule(start: datetime, end: datetime, sequence: int) -> CallRescheduled:
    return CallRescheduled(**call_fields(sequence), start=start, end=end, previous_start=START, reason="Party asked")


def a_cancellation(sequence: int = 1) -> CallCancelled:
    return CallCancelled(**call_fields(sequence), reason="Case settled")


def parsed(ics: bytes) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(ics)
    [event] = calendar.events
    return calendar, event


def recipient_in(zone: str) -> Attendee:
    return an_attendee(AttendeeKind.PARTY, "Pat Party", zone)


@pytest.mark.parametrize(
    ("zone", "local_start"),
    [
        ("Asia/Kolkata", "20261203T143000"),
        ("America/St_Johns", "20261203T053000"),
        ("Australia/Lord_Howe", "20261203T200000"),
    ],
)
def test_an_invite_shows_the_call_in_the_recipients_zone(zone, local_start):
    ics = invite(a_call(), recipient_in(zone), MEDIATOR, summary=SUMMARY)
    calendar, event = parsed(ics)

    assert calendar["METHOD"] == "REQUEST"
    assert event.start.tzinfo == ZoneInfo(zone)
    assert event.end.tzinfo == ZoneInfo(zone)
    assert event.start.astimezone(UTC) == START
    assert event.end.astimezone(UTC) == END
    assert f"DTSTART;TZID={zone}:{local_start}\r\n".encode() in ics
    assert [timezone.tz_name for timezone in calendar.timezones] == [zone]


def test_an_invite_identifies_the_call_so_calendars_can_update_it():
    calendar, event = parsed(invite(a_call(sequence=3), PARTY, MEDIATOR, summary=SUMMARY))

    assert calendar["PRODID"] == "-//mednet//pre-mediation calls//EN"
    assert calendar["VERSION"] == "2.0"
    assert event["UID"] == "call-42"
    assert event["SEQUENCE"] == 3
    assert event["STATUS"] == "CONFIRMED"
    assert event["SUMMARY"] == SUMMARY


def test_a_reschedule_updates_the_same_event_with_a_higher_sequence():
    _, first = parsed(invite(a_call(sequence=0), PARTY, MEDIATOR, summary=SUMMARY))
    later = START + timedelta(days=2)
    moved = a_reschedule(later, later + timedelta(minutes=45), sequence=1)
    _, second = parsed(invite(moved, PARTY, MEDIATOR, summary=SUMMARY))

    assert second["UID"] == first["UID"]
    assert second["SEQUENCE"] > first["SEQUENCE"]
    assert second.start.astimezone(UTC) == later


def test_a_cancellation_cancels_the_same_event_in_the_recipients_zone():
    ics = cancellation(a_cancellation(sequence=2), ATTORNEY, MEDIATOR, summary=SUMMARY, start=START, end=END)
    calendar, event = parsed(ics)

    assert calendar["METHOD"] == "CANCEL"
    assert event["UID"] == "call-42"
    assert event["SEQUENCE"] == 2
    assert event["STATUS"] == "CANCELLED"
    assert event.start.tzinfo == ZoneInfo("America/St_Johns")
    assert event.start.astimezone(UTC) == START
    assert event.end.astimezone(UTC) == END


def test_the_invite_names_the_mediator_as_organizer_and_only_this_calls_attendees():
    _, event = parsed(invite(a_call(), PARTY, MEDIATOR, summary=SUMMARY))

    assert event["ORGANIZER"] == "mailto:mia@example.org"
    assert event["ORGANIZER"].params["CN"] == "Mia Mediator"
    assert [str(attendee) for attendee in event.attendees] == [
        "mailto:pat@example.org",
        "mailto:alex@example.org",
        "mailto:mia@example.org",
    ]
    for attendee, expected in zip(event.attendees, [PARTY, ATTORNEY], strict=False):
        assert dict(attendee.params) == {
            "CN": expected.name,
            "ROLE": "REQ-PARTICIPANT",
            "PARTSTAT": "NEEDS-ACTION",
            "RSVP": "TRUE",
        }
    assert dict(event.attendees[2].params) == {"CN": "Mia Mediator", "ROLE": "CHAIR", "PARTSTAT": "ACCEPTED",
                                               "RSVP": "FALSE"}, "the organizer is not asked to reply"


def test_the_mediators_own_copy_asks_the_mediator_nothing():
    ics = invite(a_call(), MEDIATOR, MEDIATOR, summary=SUMMARY)
    _, event = parsed(ics)
    [own] = [a for a in event.attendees if str(a) == "mailto:mia@example.org"]
    assert own.params["RSVP"] == "FALSE" and own.params["PARTSTAT"] == "ACCEPTED"
    unfolded = ics.replace(b"\r\n ", b"")
    assert not [line for line in unfolded.split(b"\r\n") if b"mia@example.org" in line and b"RSVP=TRUE" in line]


def conferences_of(event) -> list:
    found = event.get("CONFERENCE")
    return [] if found is None else found if isinstance(found, list) else [found]


def test_an_invite_says_where_the_call_takes_place():
    video = Place(kind=PlaceKind.VIDEO, url="https://meet.example/r/7f3a9c",
                  text="Video call: https://meet.example/r/7f3a9c")
    _, event = parsed(invite(a_call().model_copy(update={"place": video}), PARTY, MEDIATOR, summary=SUMMARY))
    assert event["LOCATION"] == video.text and event["URL"] == video.url
    [conference] = conferences_of(event)
    assert str(conference) == video.url and conference.params["FEATURE"] == "VIDEO"
    assert conference.params["VALUE"] == "URI"

    bridge = Place(kind=PlaceKind.PHONE, phone="+44 20 7946 0000", pin="482913",
                   text="Phone bridge +44 20 7946 0000, PIN 482913")
    ics = cancellation(a_cancellation().model_copy(update={"place": bridge}), PARTY, MEDIATOR, summary=SUMMARY,
                       start=START, end=END)
    _, event = parsed(ics)
    assert event["LOCATION"] == bridge.text and "URL" not in event
    assert [(str(c), c.params["FEATURE"]) for c in conferences_of(event)] == [("tel:+442079460000,,482913", "PHONE")]

    callback = Place(kind=PlaceKind.CALLBACK, phone="+1 312 555 0100",
                     text="The mediator will call you on +1 312 555 0100")
    _, event = parsed(invite(a_call().model_copy(update={"place": callback}), PARTY, MEDIATOR, summary=SUMMARY))
    assert event["LOCATION"] == callback.text and conferences_of(event) == []


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe",
                                  "Asia/Kolkata", "America/St_Johns", "Europe/Berlin", "America/Santiago"])
def test_every_invitation_reads_the_same_in_vobject_and_icalendar_across_dst_changes(zone):
    another_year = datetime(2031, 6, 2, 9, tzinfo=UTC)
    invitation_of_another_year = invite(a_call(another_year, another_year + timedelta(hours=1)), recipient_in(zone),
                                        MEDIATOR, summary=SUMMARY)
    import vobject

    vobject.readOne(invitation_of_another_year.decode())  # vobject keeps the first VTIMEZONE of a TZID it reads
    """Calls all through a year, on both sides of each DST change: both parsers give the same UTC instants; and
    vobject's reading of the VTIMEZONE gives the zone's offset over the whole span the invitation declares."""
    import vobject

    zone_info = ZoneInfo(zone)
    starts = [datetime(2027, 1, 1, 9, tzinfo=UTC) + timedelta(days=day, hours=hour)
              for day in range(0, 365, 23) for hour in (0, 7)]
    for start in starts:
        ics = invite(a_call(start, start + timedelta(minutes=45)), recipient_in(zone), MEDIATOR, summary=SUMMARY)
        _, event = parsed(ics)
        [vevent] = [c for c in vobject.readOne(ics.decode()).getChildren() if c.name == "VEVENT"]
        assert vevent.dtstart.value.astimezone(UTC) == event.start.astimezone(UTC) == start, (zone, start)
        assert vevent.dtend.value.astimezone(UTC) == event.end.astimezone(UTC) == start + timedelta(minutes=45)
    ics = invite(a_call(starts[0], starts[0] + timedelta(minutes=45)), recipient_in(zone), MEDIATOR, summary=SUMMARY)
    tz = vobject.readOne(ics.decode()).vtimezone.gettzinfo()
    span = re.search(rb"works from (\d{4})-01-01 to (\d{4})-12-31", ics.replace(b"\r\n ", b""))
    first, last = int(span[1]), int(span[2])
    assert first <= 2026 and last >= 2028, "at least the year before the call to the year after"
    moment = datetime(first, 1, 1, 12, tzinfo=UTC)  # every instant of the span the invitation declares
    while moment < datetime(last, 12, 31, tzinfo=UTC):
        expected = moment.astimezone(zone_info)
        local = expected.replace(tzinfo=None)
        assert expected.utcoffset() in (local.replace(tzinfo=tz).utcoffset(),
                                        local.replace(tzinfo=tz, fold=1).utcoffset()), (zone, moment)
        moment += timedelta(hours=97)


def test_the_description_speaks_of_one_side_only():
    _, event = parsed(invite(a_call(), PARTY, MEDIATOR, summary=SUMMARY))

    assert event["DESCRIPTION"] == "Private pre-mediation call between the mediator and Pat Party's side"


def test_the_stamp_is_the_current_time_in_utc():
    before = datetime.now(UTC).replace(microsecond=0)
    _, event = parsed(invite(a_call(), PARTY, MEDIATOR, summary=SUMMARY))

    assert event.DTSTAMP.tzinfo is not None
    assert event.DTSTAMP.utcoffset() == timedelta(0)
    assert before <= event.DTSTAMP <= datetime.now(UTC)


def test_the_invite_is_valid_folded_text_with_crlf_line_endings():
    summary = "Pre-mediation call: Zoë Ørsted-Łukasiewicz and Ångström Üçüncü's side — " * 3
    ics = invite(a_call(), PARTY, MEDIATOR, summary=summary)

    ics.decode("utf-8")
    assert ics.endswith(b"END:VCALENDAR\r\n")
    lines = ics.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    assert all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines)
    assert parsed(ics)[1]["SUMMARY"] == summary


def test_a_call_without_a_party_has_no_side_to_describe():
    with pytest.raises(ValueError, match="party"):
        attendee_of_kind([MEDIATOR, ATTORNEY], AttendeeKind.PARTY)


ZONES = sorted(available_timezones())


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2037, 1, 1), timezones=st.just(UTC)),
)
def test_any_zone_round_trips_the_instant(zone, start):
    start = start.replace(second=0, microsecond=0)
    ics = invite(a_call(start, start + timedelta(minutes=45)), recipient_in(zone), MEDIATOR, summary=SUMMARY)
    _, event = parsed(ics)

    assert event.start.astimezone(UTC) == start
    assert event.end.astimezone(UTC) == start + timedelta(minutes=45)
    import vobject

    [vevent] = [c for c in vobject.readOne(ics.decode()).getChildren() if c.name == "VEVENT"]
    assert vevent.dtstart.value.astimezone(UTC) == start, "vobject reads the same instant"
    cancelled = cancellation(a_cancellation(), recipient_in(zone), MEDIATOR, summary=SUMMARY, start=start,
                             end=start + timedelta(minutes=45))
    [vevent] = [c for c in vobject.readOne(cancelled.decode()).getChildren() if c.name == "VEVENT"]
    assert vevent.dtend.value.astimezone(UTC) == start + timedelta(minutes=45)


@pytest.mark.parametrize(("zone", "start"), [
    ("Australia/Sydney", datetime(2027, 4, 3, 16, 0, tzinfo=UTC)),   # 02:00 AEST, the second 02:00 of that night
    ("America/New_York", datetime(2026, 11, 1, 6, 15, tzinfo=UTC)),  # 01:15 EST, the second 01:15
    ("Europe/London", datetime(2026, 10, 25, 1, 30, tzinfo=UTC)),    # 01:30 GMT, the second 01:30
])
def test_a_call_in_the_repeated_hour_is_read_at_its_own_instant(zone, start):
    """Written with its TZID, a wall time shown twice is read as the first of the two: it is written in UTC."""
    import vobject

    ics = invite(a_call(start, start + timedelta(minutes=30)), recipient_in(zone), MEDIATOR, summary=SUMMARY)
    _, event = parsed(ics)
    [vevent] = [c for c in vobject.readOne(ics.decode()).getChildren() if c.name == "VEVENT"]
    assert event.start.astimezone(UTC) == vevent.dtstart.value.astimezone(UTC) == start
    assert event.end.astimezone(UTC) == start + timedelta(minutes=30)
