"""Sides, per-side visibility and powers, places and the lifecycle holes, as pure rules (issue 17)."""

from datetime import timedelta
from itertools import count

import pytest
from pydantic import ValidationError

from mednet_scheduling.domain import access, calls, places
from mednet_scheduling.domain.calls import CallStateError, NEXT
from mednet_scheduling.domain.places import Conferencing, Secrets
from mednet_scheduling.domain.state import CalendarState, CallStatus, CaseFacts
from mednet_shared.contracts.events import CallCancelled, CallScheduled, CallWaived, PreMediationCompleted
from mednet_shared.contracts.values import (
    Attorney,
    Contact,
    PlaceKind,
    SchedulingPolicy,
    Session,
    Side,
    SideStatus,
)

from .factories import a_mediator, a_party, utc

NOW = utc(2026, 1, 12, 8)
LATER = utc(2026, 1, 29, 8)
SESSION = Session(start=utc(2026, 1, 30, 14), end=utc(2026, 1, 30, 18), time_zone="UTC")
SUBMITTER = "firm-sub"


def side(party_id: str, firm: str | None, status=SideStatus.CONFIRMED) -> Side:
    return Side(party_id=party_id, role="claimant", firm_id=firm, status=status, since=NOW)


def facts(*sides: Side, legacy: bool = False) -> CaseFacts:
    """p1 by firm-a, p2 by firm-b, p3 unrepresented."""
    parties = []
    for n, firm in ((1, "firm-a"), (2, "firm-b"), (3, None)):
        attorney = Attorney(firm_id=firm, name=f"A{n}", email=f"a{n}@x.org") if firm else None
        parties.append(a_party().model_copy(update={"party_id": f"p{n}", "attorney": attorney,
                                                    "contact": Contact(name=f"P{n}", email=f"p{n}@x.org")}))
    chosen = [] if legacy else list(sides) or [side("p1", "firm-a"), side("p2", "firm-b"), side("p3", None)]
    return CaseFacts(case_id="case-1", firm_id=SUBMITTER, mediator=a_mediator(), session=SESSION, parties=parties,
                     policy=SchedulingPolicy(call_minutes=45, minimum_notice_hours=24, preparation_lead_hours=24),
                     participant_firms=[SUBMITTER, "firm-a"], sides=chosen)


def draws():
    numbers = count(1)
    return lambda: Secrets(room=f"room{next(numbers)}", pin=f"{next(numbers):06d}")


def profile(kind="video") -> Conferencing:
    if kind == "video":
        return Conferencing(kind=PlaceKind.VIDEO, url_template="https://meet.example.org/mednet/{room}")
    return Conferencing(kind=PlaceKind(kind), phone="+44 20 7946 0000")


def test_only_confirmed_sides_are_placed_and_every_event_names_the_side_firm():
    case = facts(side("p1", "firm-a"), side("p2", "firm-b", SideStatus.AWAITING_CONFIRMATION),
                 side("p3", None, SideStatus.AWAITING_CONFIRMATION))
    change = calls.place(CalendarState(mediator_id="med-1"), case, case.parties, NOW, "c1")
    assert [(m.party_id, m.side_firm_id) for m in change.messages] == [("p1", "firm-a")]
    assert set(change.booked) == {"p1"}
    legacy = facts(legacy=True)
    placed = calls.place(CalendarState(mediator_id="med-1"), legacy, legacy.parties, NOW, "c1")
    assert [(m.party_id, m.side_firm_id) for m in placed.messages] == [("p1", "firm-a"), ("p2", "firm-b"),
                                                                       ("p3", None)], "no sides: all confirmed"


def test_a_party_without_a_side_entry_is_not_confirmed():
    case = facts(side("p1", "firm-a"))
    assert case.confirmed("p1") and not case.confirmed("p2") and not case.confirmed("p9")
    assert case.side_firm("p2") is None


def test_a_firm_sees_only_its_confirmed_sides_and_the_submitter_none_of_another_sides():
    case = facts(side("p1", "firm-a"), side("p2", "firm-b", SideStatus.AWAITING_CONFIRMATION), side("p3", None))
    assert access.visible_parties(case, "firm", firm_id="firm-a") == {"p1"}
    assert access.visible_parties(case, "firm", firm_id=SUBMITTER) == set(), "the submitter: the case, no call"
    assert access.visible_parties(case, "firm", firm_id="firm-b") is None, "unconfirmed: nothing"
    assert access.visible_parties(case, "firm", firm_id="firm-x") is None
    assert access.visible_parties(case, "mediator", mediator_id="med-1") == {"p1", "p2", "p3"}
    assert access.visible_parties(case, "mediator", mediator_id="med-2") is None
    assert access.visible_parties(case, "operator") == {"p1", "p2", "p3"}
    own = facts(side("p1", SUBMITTER), side("p2", "firm-b"), side("p3", None))
    assert access.visible_parties(own, "firm", firm_id=SUBMITTER) == {"p1"}, "the submitter is one side as any"


def test_only_the_side_firm_or_the_mediator_moves_a_call():
    case = facts(side("p1", "firm-a"), side("p2", "firm-b", SideStatus.AWAITING_CONFIRMATION), side("p3", None))
    assert access.may_move(case, "p1", "firm", firm_id="firm-a")
    assert not access.may_move(case, "p1", "firm", firm_id=SUBMITTER), "the submitting firm is not p1's side"
    assert not access.may_move(case, "p2", "firm", firm_id="firm-b"), "not confirmed yet"
    assert not access.may_move(case, "p3", "firm", firm_id=SUBMITTER)
    assert access.may_move(case, "p3", "mediator", mediator_id="med-1")
    assert not access.may_move(case, "p1", "mediator", mediator_id="med-2")


def test_a_refused_reschedule_lists_every_reason_and_a_stranger_learns_nothing():
    case = facts(side("p1", "firm-a"), side("p2", "firm-b"), side("p3", None))
    state = calls.opened(case, calls.place(CalendarState(mediator_id="med-1"), case, [], NOW, "c1"))
    late = SESSION.start + timedelta(hours=1)
    reasons = access.reschedule_refusals(state, "firm-a", "case-1", "p1", late)
    assert [r.field for r in reasons] == ["party_id", "not_before"], "no call to move, and a not_before too late"
    assert [r.field for r in access.reschedule_refusals(state, SUBMITTER, "case-1", "p1", None)] == ["party_id"]
    stranger = access.reschedule_refusals(state, "firm-x", "case-1", "p1", None)
    assert stranger == access.reschedule_refusals(None, "firm-x", "case-1", "p1", None)


def test_a_place_is_made_once_kept_by_moves_and_never_shared():
    case = facts()
    calendar = CalendarState(mediator_id="med-1", conferencing=profile())
    change = calls.place(calendar, case, case.parties, NOW, "c1", draw=draws())
    rooms = [m.place.url for m in change.messages]
    assert rooms == [f"https://meet.example.org/mednet/room{n}" for n in (1, 3, 5)]
    moved = calls.place(change.calendar, case, [case.parties[0]], NOW, "c2", calls.Placement.RESCHEDULE,
                        not_before=utc(2026, 1, 20), draw=draws())
    assert moved.messages[0].place == change.messages[0].place
    stuck = lambda: Secrets(room="same", pin="1234")  # noqa: E731
    one = calls.place(calendar, case, [case.parties[0]], NOW, "c1", draw=stuck)
    with pytest.raises(places.PlaceUnavailable):
        calls.place(one.calendar, case, [case.parties[1]], NOW, "c3", draw=stuck)
    with pytest.raises(ValueError, match="draw"):
        calls.place(calendar, case, case.parties, NOW, "c1")


def test_phone_and_callback_places():
    phone = places.place_for(profile("phone"), Secrets(room="r", pin="123456"))
    assert phone.pin == "123456" and phone.phone == "+44 20 7946 0000" and "123456" in phone.text
    callback = places.place_for(profile("callback"), Secrets(room="r", pin="1"))
    assert callback.text == "The mediator will call you on +44 20 7946 0000" and callback.pin is None
    assert places.place_for(None, Secrets(room="r", pin="1")) is None


@pytest.mark.parametrize("bad", [
    {"kind": "video", "url_template": "http://meet.example.org/{room}"},
    {"kind": "video", "url_template": "https://meet.example.org/fixed"},
    {"kind": "video", "url_template": "https://{room}.example.org/x"},
    {"kind": "video", "url_template": "javascript://x/{room}"},
    {"kind": "phone"},
    {"kind": "callback", "phone": "call me"},
    {"kind": "video", "url_template": "https://m.example.org/{room}", "phone": "+441234"},
])
def test_a_profile_that_cannot_make_a_place_is_refused(bad):
    with pytest.raises(ValidationError):
        Conferencing.model_validate(bad)


def test_a_declined_side_call_is_cancelled_and_completion_counts_completed_and_waived():
    case = facts()
    change = calls.place(CalendarState(mediator_id="med-1"), case, case.parties, NOW, "c1")
    state = calls.opened(case, change)
    declined = state.model_copy(update={"facts": case.model_copy(update={"sides": [
        side("p1", "firm-a"), side("p2", "firm-b", SideStatus.DECLINED), side("p3", None)]})})
    assert [p.party_id for p in calls.cancellations_after_change(declined)] == ["p2"]
    assert [p.party_id for p, _ in calls.placements_after_change(declined)] == ["p1", "p3"]
    cancelled = calls.cancel(change.calendar, case, case.parties[1], "c2", "the side declined")
    declined = calls.with_call(declined, calls.mirror(declined.calls["p2"], case, "p2", cancelled))
    one, _ = calls.complete(declined, "p1", LATER)
    with pytest.raises(CallStateError, match="release its booking first"):
        calls.waive(one, "p3", "unreachable", LATER)
    p3_gone = calls.cancel(cancelled.calendar, case, case.parties[2], "c3", "x")
    one = calls.with_call(one, calls.mirror(one.calls["p3"], case, "p3", p3_gone))
    assert calls.waive(calls.withdrawn(one), "p3", "unreachable", LATER)[1][-1].__class__ is CallWaived, \
        "a withdrawn case completes nothing"
    done, messages = calls.waive(one, "p3", "unreachable", LATER)
    waived, completed = messages
    assert isinstance(waived, CallWaived) and waived.sequence == one.calls["p3"].sequence and waived.side_firm_id is None
    assert isinstance(completed, PreMediationCompleted)
    assert completed.call_ids == ["case-1:p1"] and completed.waived_call_ids == ["case-1:p3"], "declined p2 aside"
    assert calls.waive(done, "p3", "again", LATER) == (done, [])


def test_no_completion_or_miss_before_the_call_starts_and_a_completed_call_is_not_withdrawn():
    case = facts()
    change = calls.place(CalendarState(mediator_id="med-1"), case, case.parties, NOW, "c1")
    state = calls.opened(case, change)
    with pytest.raises(CallStateError, match="before it starts"):
        calls.complete(state, "p1", NOW)
    with pytest.raises(CallStateError, match="before it starts"):
        calls.miss(change.calendar, case, case.parties[0], NOW, "m1")
    done, _ = calls.complete(state, "p1", LATER)
    assert [p.party_id for p in calls.open_calls(done)] == ["p2", "p3"]


def test_the_view_and_the_events_agree_on_status_and_sequence_and_a_call_placed_again_goes_on():
    case = facts()
    change = calls.place(CalendarState(mediator_id="med-1"), case, case.parties, NOW, "c1")
    state = calls.opened(case, change)
    cancelled = calls.cancel(change.calendar, case, case.parties[0], "c2", "conflict")
    (event,) = cancelled.messages
    view = calls.mirror(state.calls["p1"], case, "p1", cancelled)
    assert isinstance(event, CallCancelled) and view.status == "cancelled" and view.sequence == event.sequence == 1
    state = calls.with_call(state, view)
    after = calls.ensure_placeable_again(state, "p1")
    again = calls.place(cancelled.calendar, case, [case.parties[0]], NOW, "c3", after={"p1": after})
    (scheduled,) = again.messages
    assert isinstance(scheduled, CallScheduled) and scheduled.sequence == 2
    assert calls.mirror(view, case, "p1", again).sequence == 2
    with pytest.raises(CallStateError, match="only a cancelled or failed"):
        calls.ensure_placeable_again(state, "p2")


def test_next_has_an_entry_per_status_and_waived_is_final():
    assert set(NEXT) == {None, *CallStatus}
    assert NEXT[CallStatus.WAIVED] == frozenset() and CallStatus.WAIVED not in NEXT[CallStatus.SCHEDULED]
