"""Per-side visibility in notify's pure rules: a case of 3 firms and 4 parties, every event type, every firm.

firm-s submits the case and represents p1; firm-a represents p2 (confirmed by the firm); firm-b represents p3
(confirmed) and is named for p4, which it has not confirmed yet. Each party has markers of its own (names, email
addresses, phone numbers, its call id, its call's time, its place, its objectives). For every event: the firms it
reaches are exactly those of the rules, and nothing any firm receives (projected record, webhook body) and no email
anyone receives carries a marker of a side that is not the reader's own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mednet_notify import domain, messages
from mednet_notify.domain import ROUTES, CaseState, Known, booked, firms_for, opened, webhook_jobs
from mednet_notify.projection import project
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import (
    BriefReady,
    CallCancelled,
    CallCompleted,
    CallMissed,
    CallRescheduled,
    CallScheduled,
    CallSlotsOffered,
    CallWaived,
    CaseOpened,
    CaseRejected,
    CaseUpdated,
    CaseWithdrawn,
    CommandRejected,
    ObjectivesRecorded,
    PreMediationCompleted,
    RepresentationRequested,
    SchedulingFailed,
    SideConfirmationOverdue,
)
from mednet_shared.contracts.values import Attendee, AttendeeKind, Place, PlaceKind, SideStatus

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
SESSION = NOW + timedelta(days=30)
FIRMS = ("firm-s", "firm-a", "firm-b")
SUBMITTER = "firm-s"
FIRM_OF = {"p1": "firm-s", "p2": "firm-a", "p3": "firm-b", "p4": "firm-b"}
CONFIRMED = {"p1": "firm-s", "p2": "firm-a", "p3": "firm-b"}  # p4 awaits firm-b's confirmation
ZONES = {"p1": "Europe/London", "p2": "America/New_York", "p3": "Asia/Tokyo", "p4": "Europe/Berlin"}
MINUTES = {"p1": 7, "p2": 13, "p3": 19, "p4": 29}
MEDIATOR_EMAIL = "ada.mediator@mediators.example.org"
MEDIATOR = Attendee(kind=AttendeeKind.MEDIATOR, name="Ada Mediator", email=MEDIATOR_EMAIL, time_zone="Europe/Paris")
HOURS = [{"day": day, "start": "08:00", "end": "18:00"} for day in ("mon", "tue", "wed", "thu", "fri")]


def n(party: str) -> str:
    return party[1:]


def start_of(party: str) -> datetime:
    return datetime(2026, 12, 14 + int(n(party)), 9 + int(n(party)), MINUTES[party], tzinfo=UTC)


def place_of(party: str) -> Place:
    return {"p1": Place(kind=PlaceKind.VIDEO, url="https://meet.example/room-p1-x9f2", text="Video room-p1-x9f2"),
            "p2": Place(kind=PlaceKind.PHONE, phone="+44 20 7946 0222", pin="222917",
                        text="Bridge +44 20 7946 0222 PIN 222917"),
            "p3": Place(kind=PlaceKind.CALLBACK, phone="+81 3 5555 0333",
                        text="The mediator will call you on +81 3 5555 0333"),
            "p4": Place(kind=PlaceKind.VIDEO, url="https://meet.example/room-p4-k3q8",
                        text="Video room-p4-k3q8")}[party]


def party(party_id: str) -> dict:
    i = n(party_id)
    return {"party_id": party_id, "role": {"1": "claimant", "2": "respondent"}.get(i, "other"),
            "contact": {"name": f"Partyname{i} Zed", "email": f"party{i}@people{i}.example.org",
                        "phone": f"+1 555 010{i}{i}"},
            "time_zone": ZONES[party_id], "availability": [{"day": "mon", "start": "07:30", "end": "19:00"}],
            "attorney": {"firm_id": FIRM_OF[party_id], "name": f"Counselname{i} Wye",
                         "email": f"counsel{i}@{FIRM_OF[party_id]}.example.org",
                         "time_zone": "America/Chicago" if i == "2" else ZONES[party_id]}}


def markers(party_id: str) -> list[str]:
    i = n(party_id)
    start = start_of(party_id)
    local = [pattern.format(f"{start.astimezone(ZoneInfo(z)):%H:%M}") for z in
             {*ZONES.values(), "America/Chicago", "Europe/Paris"} for pattern in (", {}–", ", {} (", "T{}")]
    return [f"Partyname{i}", f"party{i}@people{i}", f"+1 555 010{i}{i}", f"Counselname{i}", f"counsel{i}@",
            f"case-1:{party_id}", start.strftime("%Y-%m-%dT%H:%M"), *local, place_of(party_id).text,
            f"objective-of-{party_id}", f"offer-{party_id}", f"reason-of-{party_id}"]


def sides(confirmed_p2: bool = True) -> list[dict]:
    return [{"party_id": "p1", "role": "claimant", "firm_id": "firm-s", "status": "confirmed", "since": NOW,
             "confirmed_by": "submitter"},
            {"party_id": "p2", "role": "respondent", "firm_id": "firm-a",
             "status": "confirmed" if confirmed_p2 else "awaiting_confirmation", "since": NOW,
             "confirmed_by": "firm" if confirmed_p2 else None},
            {"party_id": "p3", "role": "other", "firm_id": "firm-b", "status": "confirmed", "since": NOW,
             "confirmed_by": "firm"},
            {"party_id": "p4", "role": "other", "firm_id": "firm-b", "status": "awaiting_confirmation", "since": NOW}]


CASE_OPENED = CaseOpened.model_validate({
    "case_id": "case-1", "firm_id": SUBMITTER, "external_ref": "ref-77", "title": "Secret-title Zed v Wye",
    "mediator": {"mediator_id": "med-ada", "name": "Ada Mediator", "email": MEDIATOR_EMAIL,
                 "time_zone": "Europe/Paris", "working_hours": HOURS},
    "session": {"start": SESSION, "end": SESSION + timedelta(hours=6), "time_zone": "Europe/Paris"},
    "parties": [party(p) for p in ("p1", "p2", "p3", "p4")], "policy": {},
    "participant_firms": list(FIRMS), "sides": sides()})
CASE = opened(CASE_OPENED)


def attendees(party_id: str) -> list[Attendee]:
    p = party(party_id)
    return [Attendee(kind=AttendeeKind.PARTY, name=p["contact"]["name"], email=p["contact"]["email"],
                     time_zone=p["time_zone"], firm_id=FIRM_OF[party_id]),
            Attendee(kind=AttendeeKind.ATTORNEY, name=p["attorney"]["name"], email=p["attorney"]["email"],
                     time_zone=p["attorney"]["time_zone"], firm_id=FIRM_OF[party_id]),
            MEDIATOR]


def call_fields(party_id: str, sequence: int = 0, side_firm: bool = True) -> dict:
    return {"call_id": f"case-1:{party_id}", "case_id": "case-1", "party_id": party_id, "mediator_id": "med-ada",
            "sequence": sequence, "participant_firms": list(FIRMS),
            **({"side_firm_id": FIRM_OF[party_id]} if side_firm else {})}


def scheduled(party_id: str, side_firm: bool = True) -> CallScheduled:
    start = start_of(party_id)
    return CallScheduled(**call_fields(party_id, 0, side_firm), start=start, end=start + timedelta(minutes=45),
                         attendees=attendees(party_id), place=place_of(party_id), booked_by="choice")


def per_side_events(party_id: str, side_firm: bool = True) -> list:
    start = start_of(party_id)
    later = start + timedelta(days=1)
    fields = call_fields(party_id, 0, side_firm)
    return [
        CallSlotsOffered(**fields, offer_id=f"offer-{party_id}", expires_at=NOW + timedelta(hours=48),
                         attendees=attendees(party_id),
                         slots=[{"slot_id": f"s{k}", "start": start + timedelta(days=k),
                                 "end": start + timedelta(days=k, minutes=45),
                                 "choose_url": f"https://links.example/choose/offer-{party_id}/s{k}"}
                                for k in range(3)],
                         decline_url=f"https://links.example/decline/offer-{party_id}"),
        scheduled(party_id, side_firm),
        CallRescheduled(**{**fields, "sequence": 1}, start=later, end=later + timedelta(minutes=45),
                        attendees=attendees(party_id), place=place_of(party_id), previous_start=start,
                        reason=f"reason-of-{party_id}"),
        CallCancelled(**{**fields, "sequence": 2}, reason=f"reason-of-{party_id}", attendees=attendees(party_id),
                      start=start, end=start + timedelta(minutes=45), place=place_of(party_id)),
        CallCompleted(**fields, completed_at=start + timedelta(minutes=45)),
        CallMissed(**fields, missed_count=1),
        CallWaived(**fields, reason=f"reason-of-{party_id}", waived_at=NOW),
        SchedulingFailed(case_id="case-1", firm_id=SUBMITTER, mediator_id="med-ada", party_id=party_id,
                         call_id=f"case-1:{party_id}", reason=f"reason-of-{party_id}",
                         participant_firms=list(FIRMS), **({"side_firm_id": FIRM_OF[party_id]} if side_firm else {})),
        ObjectivesRecorded(case_id="case-1", call_id=f"case-1:{party_id}", party_id=party_id,
                           party_firm_id=FIRM_OF[party_id], recorded_at=NOW,
                           objectives=[{"issue": "apology", "wants": f"objective-of-{party_id}", "priority": 1}]),
    ]


CASE_EVENTS = [
    CASE_OPENED,
    CaseUpdated(case_id="case-1", firm_id=SUBMITTER, revision=2, changes=["session_moved"],
                session=CASE_OPENED.session, parties=CASE_OPENED.parties, participant_firms=list(FIRMS),
                sides=sides()),
    CaseWithdrawn(case_id="case-1", firm_id=SUBMITTER, reason="reason-of-p1", participant_firms=list(FIRMS)),
    PreMediationCompleted(case_id="case-1", mediator_id="med-ada", call_ids=["case-1:p1", "case-1:p2", "case-1:p3"],
                          waived_call_ids=["case-1:p4"], completed_at=NOW, participant_firms=list(FIRMS)),
]


def received_by(message, case: CaseState = CASE) -> dict[str, str]:
    """What each firm receives of the message: its projected record and its webhook body, as text."""
    event = new_event(message, source="/tests")
    firms = sorted(firms_for(message, case))
    projected = {firm: project(event, message, firm, case) for firm in firms}
    known = Known(event, NOW, case)
    hooks = webhook_jobs(known, message, [(f"ep-{firm}", firm) for firm in firms], projected)
    return {firm: json.dumps(projected[firm].model_dump(mode="json")) + next(
        job.payload for job in hooks if job.firm_id == firm) for firm in firms}


def emails_of(message, case: CaseState = CASE) -> list:
    event = new_event(message, source="/tests")
    party_id = getattr(message, "party_id", None)
    call = booked(scheduled(party_id)) if party_id else None
    return [job.email for job in ROUTES[type(message)].alerts(message, Known(event, NOW, case, call), messages).jobs]


def email_text(email) -> str:
    return email.subject + email.text + (email.calendar.replace(b"\r\n ", b"").decode() if email.calendar else "")


def others_markers(own: set[str]) -> list[str]:
    return [m for p in ("p1", "p2", "p3", "p4") if p not in own for m in markers(p)]


def own_parties(firm: str) -> set[str]:
    return {p for p, f in CONFIRMED.items() if f == firm}


def assert_no_leak(firm: str, text: str) -> None:
    leaked = [m for m in others_markers(own_parties(firm)) if m in text]
    assert leaked == [], f"{firm} received another side's {leaked}"


def test_the_markers_are_in_what_the_side_itself_receives():
    """The scan can fail: each side's own records carry its markers."""
    for party_id, firm in CONFIRMED.items():
        text = "".join(received_by(message)[firm] for message in per_side_events(party_id))
        own = markers(party_id)
        assert all(m in text for m in [*own[:2], *own[3:7], place_of(party_id).text]), party_id


@pytest.mark.parametrize("party_id", ["p1", "p2", "p3"])
@pytest.mark.parametrize("side_firm", [True, False], ids=["side_firm_id", "before-sides"])
def test_a_sides_events_reach_its_own_firm_only_and_carry_nothing_of_another_side(party_id, side_firm):
    legacy = CaseState(firm_id=SUBMITTER, party_firms={p: [f] for p, f in FIRM_OF.items()}, mediator=MEDIATOR)
    case = CASE if side_firm else legacy
    for message in per_side_events(party_id, side_firm):
        received = received_by(message, case)
        assert set(received) == {CONFIRMED[party_id]}, (type(message).__name__, set(received))
        for firm, text in received.items():
            assert_no_leak(firm, text)


def test_the_submitting_firm_hears_nothing_of_another_sides_calls_even_before_sides_existed():
    legacy = CaseState(firm_id=SUBMITTER, party_firms={"p2": ["firm-a"]}, mediator=MEDIATOR)
    for message in per_side_events("p2", side_firm=False):
        assert SUBMITTER not in firms_for(message, legacy), type(message).__name__
        assert SUBMITTER not in firms_for(message, None), type(message).__name__


def test_an_unconfirmed_sides_events_reach_no_firm():
    """p4 awaits firm-b: even an event naming its attendees' firm reaches nobody while the case says unconfirmed."""
    for message in per_side_events("p4", side_firm=False):
        assert firms_for(message, CASE) == set(), type(message).__name__


@pytest.mark.parametrize("message", CASE_EVENTS, ids=lambda m: type(m).__name__)
def test_case_events_reach_every_participant_projected_for_it(message):
    received = received_by(message)
    assert set(received) == set(FIRMS)
    for firm, text in received.items():
        assert_no_leak(firm, text)
        assert MEDIATOR_EMAIL not in text, "the mediator's email stays private"
        assert "08:00" not in text, "the mediator's hours stay private"
        if isinstance(message, CaseOpened):
            assert ("Secret-title" in text) == (firm == SUBMITTER), "the title is the submitting firm's only"


def test_each_firm_sees_its_own_confirmed_parties_and_the_submitter_every_side_entry():
    event = new_event(CASE_OPENED, source="/tests")
    seen = {firm: project(event, CASE_OPENED, firm, CASE).data for firm in FIRMS}
    assert {firm: [p["party_id"] for p in data["parties"]] for firm, data in seen.items()} == {
        "firm-s": ["p1"], "firm-a": ["p2"], "firm-b": ["p3"]}, "p4 is firm-b's only once firm-b confirms it"
    assert [s["party_id"] for s in seen["firm-s"]["sides"]] == ["p1", "p2", "p3", "p4"]
    assert [s["party_id"] for s in seen["firm-a"]["sides"]] == ["p2"]
    assert [s["party_id"] for s in seen["firm-b"]["sides"]] == ["p3", "p4"]
    assert all(data["mediator"] == {"mediator_id": "med-ada", "name": "Ada Mediator", "time_zone": "Europe/Paris"}
               for data in seen.values())
    assert all(data["session"] and data["external_ref"] == "ref-77" and data["policy"] for data in seen.values())
    assert seen["firm-a"]["participant_firms"] == ["firm-s", "firm-a"]
    assert seen["firm-s"]["participant_firms"] == list(FIRMS)
    assert set(seen["firm-a"]) <= {"case_id", "firm_id", "external_ref", "session", "parties", "sides", "policy",
                                   "participant_firms", "mediator"}, "a whitelist"


def test_an_unconfirmed_side_is_nobodys_until_confirmed():
    pending = CASE_OPENED.model_copy(update={"sides": [
        s.model_copy(update={"status": SideStatus.AWAITING_CONFIRMATION}) if s.party_id == "p2" else s
        for s in CASE_OPENED.sides]})
    event = new_event(pending, source="/tests")
    assert project(event, pending, "firm-a").data["parties"] == []
    assert opened(pending).party_firms.get("p2") is None
    assert firms_for(scheduled("p2", side_firm=False), opened(pending)) == set()


def test_completion_counts_every_call_but_names_only_the_firms_own():
    event = new_event(CASE_EVENTS[3], source="/tests")
    data = project(event, CASE_EVENTS[3], "firm-a", CASE).data
    assert data["call_ids"] == ["case-1:p2"] and data["waived_call_ids"] == []
    assert (data["calls_done"], data["calls_waived"]) == (3, 1)


def test_firm_addressed_events_reach_that_firm_only():
    request = RepresentationRequested(case_id="case-1", firm_id="firm-b", party_id="p4", role="other",
                                      party_name="Partyname4 Zed", mediator_name="Ada Mediator",
                                      session=CASE_OPENED.session, requested_at=NOW)
    rejected = CommandRejected(firm_id="firm-a", command_id="cmd-1", command_type="mednet.RequestReschedule.v1",
                               case_id="case-1", reasons=[{"field": "party_id", "message": "not your side"}],
                               rejected_at=NOW)
    assert set(received_by(request)) == {"firm-b"} and emails_of(request) == []
    assert set(received_by(rejected)) == {"firm-a"} and emails_of(rejected) == []
    assert set(received_by(CaseRejected(firm_id="firm-a", external_ref="r",
                                        reasons=[{"field": "", "message": "x"}]))) == {"firm-a"}
    failed = SchedulingFailed(case_id="case-1", firm_id=SUBMITTER, mediator_id="med-ada", reason="no hours",
                              participant_firms=list(FIRMS))
    assert set(received_by(failed)) == {SUBMITTER}


def test_the_mediator_alone_hears_of_an_overdue_confirmation_and_of_the_brief():
    overdue = SideConfirmationOverdue(case_id="case-1", mediator_id="med-ada", party_id="p4", firm_id="firm-b",
                                      awaiting_since=NOW, session_start=SESSION)
    assert received_by(overdue) == {}
    [email] = emails_of(overdue)
    assert email.to == MEDIATOR_EMAIL and "p4" in email.text and "firm-b" in email.text
    assert received_by(BriefReady(case_id="case-1", mediator_id="med-ada", party_ids=["p1", "p2"],
                                  ready_at=NOW)) == {}


@pytest.mark.parametrize("party_id", ["p1", "p2", "p3"])
def test_every_email_goes_to_its_own_side_and_names_nothing_of_another(party_id):
    own = {a.email for a in attendees(party_id)}
    for message in per_side_events(party_id):
        for email in emails_of(message):
            assert email.to in own, (type(message).__name__, email.to)
            leaked = [m for m in others_markers({party_id}) if m in email_text(email)]
            assert leaked == [], (type(message).__name__, email.to, leaked)


def test_the_offer_goes_to_the_party_and_attorney_with_every_option_in_each_readers_zone():
    offer = per_side_events("p2")[0]
    emails = {email.to: email for email in emails_of(offer)}
    assert set(emails) == {"party2@people2.example.org", "counsel2@firm-a.example.org"}, "not the mediator"
    party_letter, counsel_letter = emails["party2@people2.example.org"], emails["counsel2@firm-a.example.org"]
    for slot in offer.slots:
        assert messages.local_span_text(slot.start, slot.end, "America/New_York") in party_letter.text
        assert messages.local_span_text(slot.start, slot.end, "America/Chicago") in counsel_letter.text
        assert slot.choose_url in party_letter.text and slot.choose_url in counsel_letter.text
    assert "America/Chicago" in counsel_letter.text and "America/New_York" not in counsel_letter.text
    assert offer.decline_url in party_letter.text
    assert messages.local_time_text(offer.expires_at, "America/Chicago") in counsel_letter.text


def test_a_waiver_tells_that_sides_party_and_attorney_and_cancels_its_booked_call():
    waived = per_side_events("p3")[6]
    emails = emails_of(waived)
    notices = [e for e in emails if e.calendar is None]
    assert {e.to for e in notices} == {"party3@people3.example.org", "counsel3@firm-b.example.org"}
    assert all("reason-of-p3" in e.text for e in notices)
    assert {e.to for e in emails if e.calendar_method == "CANCEL"} == {a.email for a in attendees("p3")}


def test_the_place_is_in_that_sides_invitation_text_and_calendar():
    email = emails_of(scheduled("p2"))[0]
    assert "Where: Bridge +44 20 7946 0222 PIN 222917" in email.text
    assert b"CONFERENCE;FEATURE=PHONE" in email.calendar.replace(b"\r\n ", b"") or \
        b"FEATURE=PHONE" in email.calendar.replace(b"\r\n ", b"")
    assert b"tel:+442079460222,,222917" in email.calendar.replace(b"\r\n ", b"")


def test_every_event_type_has_a_rule_for_firms():
    """No event type reaches a firm unprojected: each routed type has a whitelist."""
    from mednet_notify.projection import VIEWS

    reaching = [t for t, route in ROUTES.items() if route.firms is not domain.no_firms]
    assert set(reaching) <= set(VIEWS)


def test_a_change_about_one_side_reaches_the_submitter_and_that_side_only():
    """p3's availability changed: firm-a (p2) learns nothing of it; a session move reaches everyone, and a firm
    whose side it is not does not see the other side's change kinds."""
    p3_changed = CaseUpdated(case_id="case-1", firm_id=SUBMITTER, revision=3, changes=["availability_changed"],
                             session=CASE_OPENED.session, parties=CASE_OPENED.parties,
                             participant_firms=list(FIRMS), sides=sides(), party_ids=["p3"])
    assert firms_for(p3_changed, CASE) == {"firm-s", "firm-b"}
    mixed = p3_changed.model_copy(update={"changes": ["session_moved", "availability_changed"]})
    assert firms_for(mixed, CASE) == set(FIRMS)
    event = new_event(mixed, source="/tests")
    assert project(event, mixed, "firm-a", CASE).data["changes"] == ["session_moved"]
    assert project(event, mixed, "firm-b", CASE).data["changes"] == ["session_moved", "availability_changed"]
    newly = p3_changed.model_copy(update={"changes": ["side_confirmed"], "party_ids": ["p2"]})
    assert firms_for(newly, CASE) == {"firm-s", "firm-a"}, "the newly confirmed firm hears of its own side"
    for message in (p3_changed, mixed, newly):
        for firm, text in received_by(message).items():
            assert_no_leak(firm, text)
