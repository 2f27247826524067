"""Scheduling's event use cases on the in-memory store: intake's events and the firms' reschedule command."""

from datetime import time, timedelta

import pytest
from scheduling_kit import choose_first, FIRM, MEDIATOR, a_case, delivered, types

from mednet_scheduling.domain.calls import CallStateError
from mednet_shared.contracts.events import CaseUpdated, CaseWithdrawn, RequestReschedule
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.cas import Conflict, ConflictsExhausted


def payloads(store, type_name):
    return [event.payload() for event in store.events(type_name)]


async def test_a_case_opened_gets_one_call_per_party_without_overlap_once(handlers, store):
    case = a_case(parties=3)
    event = delivered(case)
    await handlers.case_opened(event)
    await choose_first(handlers)
    scheduled = payloads(store, "CallScheduled")
    assert sorted(c.party_id for c in scheduled) == ["p1", "p2", "p3"]
    ordered = sorted(scheduled, key=lambda c: c.start)
    assert all(a.end + timedelta(minutes=15) <= b.start for a, b in zip(ordered, ordered[1:]))
    assert all(c.end <= case.session.start - timedelta(hours=24) for c in scheduled)
    state = await store.case(case.case_id)
    assert {p: c.status for p, c in state.calls.items()} == {"p1": "scheduled", "p2": "scheduled", "p3": "scheduled"}

    ids = [e.id for e in store.events()]
    await handlers.case_opened(event)
    await choose_first(handlers)
    assert [e.id for e in store.events()] == ids, "a redelivery publishes nothing new"
    assert len((await store.calendar(MEDIATOR)).calls) == 3


async def test_a_case_with_no_room_fails_each_call(handlers, store):
    case = a_case(days_ahead=1)
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    assert types(store) == ["SchedulingFailed", "SchedulingFailed"]
    state = await store.case(case.case_id)
    assert {c.status for c in state.calls.values()} == {"failed"}
    assert "leaves no room" in state.calls["p1"].reason, "the offer window is before the minimum notice"


async def test_a_changed_availability_moves_the_calls_that_no_longer_fit(handlers, store):
    case = a_case()
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    first = {c.party_id: c for c in payloads(store, "CallScheduled")}
    afternoons = [window.model_copy(update={"start": time(15)}) for window in case.parties[0].availability]
    parties = [case.parties[0].model_copy(update={"availability": afternoons}), case.parties[1]]
    update = CaseUpdated(case_id=case.case_id, firm_id=FIRM, revision=2, changes=["availability_changed"],
                         session=case.session, parties=parties, participant_firms=case.participant_firms)
    await handlers.case_updated(delivered(update))
    await choose_first(handlers)
    moved = payloads(store, "CallRescheduled")
    assert [c.party_id for c in moved] == ["p1"], "p2's call still fits: it stays"
    assert moved[0].reason == "the case changed" and moved[0].start.hour >= 15 and moved[0].sequence == 1
    assert moved[0].previous_start == first["p1"].start
    state = await store.case(case.case_id)
    assert state.revision == 2 and state.facts.parties[0].availability == afternoons
    assert state.calls["p1"].start == moved[0].start

    before = len(store.events())
    stale = update.model_copy(update={"revision": 1, "parties": case.parties})
    await handlers.case_updated(delivered(stale))
    await choose_first(handlers)
    assert len(store.events()) == before and (await store.case(case.case_id)).facts.parties == parties


async def test_a_party_added_gets_a_call_and_an_unknown_case_waits(handlers, store):
    case, bigger = a_case(), a_case(parties=3)
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    update = CaseUpdated(case_id=case.case_id, firm_id=FIRM, revision=2, changes=["party_added"],
                         session=case.session, parties=bigger.parties, participant_firms=bigger.participant_firms)
    await handlers.case_updated(delivered(update))
    await choose_first(handlers)
    assert sorted(c.party_id for c in payloads(store, "CallScheduled")) == ["p1", "p2", "p3"]
    with pytest.raises(CallStateError, match="unknown here"):
        await handlers.case_updated(delivered(update.model_copy(update={"case_id": "case-never-opened"})))
        await choose_first(handlers)


async def test_a_withdrawn_case_cancels_every_call_and_frees_the_calendar(handlers, store):
    case = a_case()
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    await handlers.case_withdrawn(delivered(CaseWithdrawn(case_id=case.case_id, firm_id=FIRM, reason="settled",
                                                          participant_firms=case.participant_firms)))
    cancelled = payloads(store, "CallCancelled")
    assert {c.party_id for c in cancelled} == {"p1", "p2"} and {c.reason for c in cancelled} == {"settled"}
    assert all(c.sequence == 1 for c in cancelled)
    state = await store.case(case.case_id)
    assert state.status == "withdrawn" and {c.status for c in state.calls.values()} == {"cancelled"}
    assert (await store.calendar(MEDIATOR)).calls == {}
    await handlers.case_withdrawn(delivered(CaseWithdrawn(case_id="case-unknown", firm_id=FIRM,
                                                          participant_firms=[FIRM])))


async def test_withdraw_does_not_give_up_silently_when_the_case_keeps_changing(handlers, store, monkeypatch):
    """Attack: every write of the case loses its race. The old loop returned after 100 tries as if it had withdrawn
    the case; now the event fails (and is retried by the consumer)."""
    case = a_case()
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)

    async def always_conflicting(state, events=()):
        raise Conflict(state.case_id)

    monkeypatch.setattr(store, "save_case", always_conflicting)
    with pytest.raises(ConflictsExhausted, match="case"):
        await handlers.case_withdrawn(delivered(CaseWithdrawn(case_id=case.case_id, firm_id=FIRM,
                                                              participant_firms=case.participant_firms)))


async def test_a_firm_reschedules_only_the_parties_it_represents(handlers, store):
    case = a_case()
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    first = {c.party_id: c for c in payloads(store, "CallScheduled")}
    attorney = case.parties[0].attorney.firm_id
    later = first["p1"].end + timedelta(days=3)
    command = RequestReschedule(case_id=case.case_id, party_id="p1", reason="travelling", not_before=later)
    await handlers.request_reschedule(delivered(command, Topics.firm_inbound(attorney), attorney))
    moved = payloads(store, "CallRescheduled")
    assert len(moved) == 1 and moved[0].start >= later and moved[0].reason == "travelling" and moved[0].sequence == 1
    assert (await store.case(case.case_id)).calls["p1"].start == moved[0].start

    stranger = "firm-stranger"
    await handlers.request_reschedule(delivered(command, Topics.firm_inbound(stranger), stranger))
    await handlers.request_reschedule(delivered(command.model_copy(update={"case_id": "case-none"}),
                                                Topics.firm_inbound(FIRM), FIRM))
    rejected = payloads(store, "CommandRejected")
    assert [(r.firm_id, r.reasons[0].field) for r in rejected] == [(stranger, "case_id"), (FIRM, "case_id")]
    assert len(payloads(store, "CallRescheduled")) == 1, "nothing moved"


async def test_two_schedulers_racing_on_one_calendar_never_double_book(handlers, store):
    """The calendar changes between this scheduler's read and its write (another instance booked a case): the
    write is refused, the attempt runs again on the fresh calendar, and the calls do not overlap."""
    one, other = a_case("one"), a_case("other")
    real_save, raced = store.save_calendar, []

    async def save_after_a_rival(calendar, events=()):
        if not raced:
            raced.append(True)
            rival = type(handlers)(type(handlers.scheduler)(store, handlers.scheduler.clock))
            await rival.case_opened(delivered(other))
            await choose_first(rival)
        await real_save(calendar, events)

    store.save_calendar = save_after_a_rival
    await handlers.case_opened(delivered(one))
    await choose_first(handlers)
    calls = sorted((await store.calendar(MEDIATOR)).calls.values(), key=lambda c: c.start)
    assert len(calls) == 4
    assert all(a.end + timedelta(minutes=15) <= b.start for a, b in zip(calls, calls[1:]))
