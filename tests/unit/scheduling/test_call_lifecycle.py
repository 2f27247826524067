"""The call lifecycle as pure functions: (calendar or case, now) in, (new state, messages) out; nothing mutated."""

from datetime import timedelta

import pytest

from mednet_scheduling.domain import calls
from mednet_scheduling.domain.calls import CallNotFound, CallStateError, Placement
from mednet_scheduling.domain.state import CalendarState, CallStatus, CaseFacts
from mednet_shared.contracts.events import (
    CallCancelled,
    CallMissed,
    CallRescheduled,
    CallScheduled,
    CaseUpdated,
    PreMediationCompleted,
    SchedulingFailed,
)
from mednet_shared.contracts.values import Contact, SchedulingPolicy, Session

from .factories import a_mediator, a_party, utc

NOW = utc(2026, 1, 12, 8)  # a Monday
LATER = utc(2026, 1, 29, 8)  # after every call placed from NOW, before the session
SESSION = Session(start=utc(2026, 1, 30, 14), end=utc(2026, 1, 30, 18), time_zone="UTC")


def facts(parties=2, session=SESSION) -> CaseFacts:
    people = [a_party().model_copy(update={"party_id": f"p{n}", "contact": Contact(name=f"P{n}", email=f"p{n}@x.org")})
              for n in range(1, parties + 1)]
    return CaseFacts(case_id="case-1", firm_id="firm-1", mediator=a_mediator(), session=session, parties=people,
                     policy=SchedulingPolicy(call_minutes=45, minimum_notice_hours=24, preparation_lead_hours=24),
                     participant_firms=["firm-1"])


def empty() -> CalendarState:
    return CalendarState(mediator_id="med-1")


def opened(case: CaseFacts):
    change = calls.place(empty(), case, case.parties, NOW, "cause-1")
    return change, calls.opened(case, change)


def test_placing_a_case_books_each_party_in_turn_and_leaves_the_input_alone():
    case, calendar = facts(), empty()
    change = calls.place(calendar, case, case.parties, NOW, "cause-1")
    assert calendar.calls == {}, "the calendar given is not changed"
    assert [type(m) for m in change.messages] == [CallScheduled, CallScheduled]
    one, two = (change.calendar.calls[f"case-1:p{n}"] for n in (1, 2))
    assert one.start == utc(2026, 1, 13, 9) and two.start == one.end + timedelta(minutes=15)
    assert {one.cause, two.cause} == {"cause-1"} and one.sequence == 0


def test_a_cause_seen_again_changes_nothing():
    case = facts()
    change = calls.place(empty(), case, case.parties, NOW, "cause-1")
    again = calls.place(change.calendar, case, case.parties, NOW, "cause-1")
    assert again.messages == () and again.calendar is change.calendar
    assert calls.cancel(change.calendar, case, case.parties[0], "cause-1", "x").messages == ()


def test_schedule_only_places_a_party_without_a_call_and_revalidate_keeps_a_call_that_fits():
    case = facts()
    change = calls.place(empty(), case, case.parties, NOW, "cause-1")
    assert calls.place(change.calendar, case, case.parties, NOW, "cause-2").messages == ()
    kept = calls.place(change.calendar, case, case.parties, NOW, "cause-2", Placement.REVALIDATE)
    assert kept.messages == ()
    assert calls.place(empty(), case, case.parties, NOW, "cause-2", Placement.RESCHEDULE).messages == ()


def test_reschedule_moves_the_call_not_before_and_bumps_its_sequence():
    case = facts()
    change = calls.place(empty(), case, case.parties, NOW, "cause-1")
    moved = calls.place(change.calendar, case, [case.parties[0]], NOW, "cause-2", Placement.RESCHEDULE,
                        not_before=utc(2026, 1, 20), reason="asked")
    (message,) = moved.messages
    assert isinstance(message, CallRescheduled) and message.start == utc(2026, 1, 20, 9) and message.sequence == 1
    assert message.previous_start == utc(2026, 1, 13, 9) and message.reason == "asked"


def test_no_room_fails_the_call_and_takes_it_off_the_calendar():
    case = facts(session=Session(start=NOW + timedelta(hours=30), end=NOW + timedelta(hours=32), time_zone="UTC"))
    change = calls.place(empty(), case, case.parties, NOW, "cause-1")
    assert [type(m) for m in change.messages] == [SchedulingFailed, SchedulingFailed]
    assert change.calendar.calls == {} and "too close" in change.messages[0].reason
    state = calls.opened(case, change)
    assert {c.status for c in state.calls.values()} == {CallStatus.FAILED}


def test_cancel_frees_the_slot_and_the_case_view_says_cancelled():
    case = facts()
    change, state = opened(case)
    cancelled = calls.cancel(change.calendar, case, case.parties[0], "cause-2", "settled")
    (message,) = cancelled.messages
    assert isinstance(message, CallCancelled) and message.sequence == 1 and message.start == utc(2026, 1, 13, 9)
    assert "case-1:p1" not in cancelled.calendar.calls
    assert calls.mirror(state.calls["p1"], case, "p1", cancelled).status is CallStatus.CANCELLED
    assert calls.cancel(cancelled.calendar, case, case.parties[0], "cause-3", "again").messages == ()


def test_missed_once_moves_the_call_after_it_missed_twice_fails_it():
    case = facts()
    change, _ = opened(case)
    with pytest.raises(CallStateError, match="before it starts"):
        calls.miss(change.calendar, case, case.parties[0], NOW, "miss-0")
    started = utc(2026, 1, 13, 9, 10)
    once = calls.miss(change.calendar, case, case.parties[0], started, "miss-1")
    missed, moved = once.messages
    assert isinstance(missed, CallMissed) and missed.missed_count == 1
    assert isinstance(moved, CallRescheduled) and moved.start >= utc(2026, 1, 13, 9, 45)
    assert once.calendar.calls["case-1:p1"].missed_count == 1
    twice = calls.miss(once.calendar, case, case.parties[0], moved.start, "miss-2")
    assert [type(m) for m in twice.messages] == [CallMissed, SchedulingFailed]
    assert "case-1:p1" not in twice.calendar.calls
    with pytest.raises(CallStateError, match="not scheduled"):
        calls.miss(twice.calendar, case, case.parties[0], LATER, "miss-3")


def test_completion_completes_the_pre_mediation_when_every_call_is_done():
    case = facts()
    _, state = opened(case)
    one, messages = calls.complete(state, "p1", LATER)
    assert state.calls["p1"].status is CallStatus.SCHEDULED, "the state given is not changed"
    assert one.calls["p1"].status is CallStatus.COMPLETED and not one.completed and len(messages) == 1
    assert calls.complete(one, "p1", LATER) == (one, [])
    both, messages = calls.complete(one, "p2", LATER)
    assert both.completed and isinstance(messages[-1], PreMediationCompleted)
    assert messages[-1].call_ids == ["case-1:p1", "case-1:p2"] and messages[-1].waived_call_ids == []
    with pytest.raises(CallNotFound):
        calls.complete(both, "p9", LATER)


def test_a_completed_call_stays_completed_when_a_placement_is_replayed():
    case = facts()
    change, state = opened(case)
    done, _ = calls.complete(state, "p1", LATER)
    assert calls.mirror(done.calls["p1"], case, "p1", change) is None


def test_a_cancelled_call_cannot_complete():
    case = facts()
    change, state = opened(case)
    cancelled = calls.cancel(change.calendar, case, case.parties[0], "cause-2", "x")
    state = calls.with_call(state, calls.mirror(state.calls["p1"], case, "p1", cancelled))
    with pytest.raises(CallStateError, match="cancelled"):
        calls.complete(state, "p1", LATER)


def test_a_newer_revision_changes_the_facts_and_says_what_to_place():
    case = facts(parties=3)
    two = case.model_copy(update={"parties": case.parties[:2]})
    _, state = opened(two)
    update = CaseUpdated(case_id="case-1", firm_id="firm-1", revision=2, changes=["party_added"], session=SESSION,
                         parties=case.parties, participant_firms=["firm-1"])
    revised = calls.revised(state, update)
    assert revised.revision == 2 and len(revised.facts.parties) == 3
    assert [(p.party_id, mode) for p, mode in calls.placements_after_change(revised)] == [
        ("p1", Placement.REVALIDATE), ("p2", Placement.REVALIDATE), ("p3", Placement.SCHEDULE)]
    assert calls.revised(revised, update) is None
    with pytest.raises(CallStateError, match="unknown"):
        calls.revised(None, update)


def test_withdrawing_twice_is_one_change():
    _, state = opened(facts())
    withdrawn = calls.withdrawn(state)
    assert withdrawn.status == "withdrawn" and calls.withdrawn(withdrawn) is None
