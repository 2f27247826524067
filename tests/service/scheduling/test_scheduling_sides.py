"""Issue 17 on the in-memory store: calls only for confirmed sides, each side's data to its own firm only, powers,
refusals as CommandRejected, places, and the lifecycle holes (withdraw, early completion, waive, place again)."""

from dataclasses import replace
from datetime import datetime, timedelta

from scheduling_kit import choose_first, FIRM, MEDIATOR, a_case, delivered, sides, types, with_sides

from mednet_shared.contracts.envelope import CloudEvent, derived_id
from mednet_shared.contracts.events import (
    CaseUpdated,
    CaseWithdrawn,
    ChooseCallSlot,
    RequestReschedule,
)
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from mednet_shared.platform.consumer import EventConsumer

FIRM_A, FIRM_B = "firm-a", "firm-b"  # p1's and p2's attorneys' firms in the sample case


def payloads(store, type_name):
    return [event.payload() for event in store.events(type_name)]


def update(case, revision, changes, party_ids, **statuses):
    chosen = sides(case, **statuses)
    firms = [FIRM] + [s.firm_id for s in chosen if s.status == "confirmed" and s.firm_id]
    return CaseUpdated(case_id=case.case_id, firm_id=FIRM, revision=revision, changes=changes, session=case.session,
                       parties=case.parties, participant_firms=firms, sides=chosen, party_ids=party_ids)


def from_firm(message, firm):
    return delivered(message, Topics.firm_inbound(firm), firm)


async def test_an_unconfirmed_side_gets_no_call_until_confirmed_and_a_declined_side_loses_its_call(handlers, store):
    """Attack: CaseOpened with p2 awaiting confirmation. Before, p2's call was booked and its CallScheduled (its
    contacts, its times) went out as for a confirmed side."""
    case = with_sides(a_case(), p2="awaiting_confirmation")
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    scheduled = payloads(store, "CallScheduled")
    assert [(c.party_id, c.side_firm_id, c.booked_by) for c in scheduled] == [("p1", FIRM_A, "choice")]
    assert set((await store.case(case.case_id)).calls) == {"p1"}
    assert len((await store.calendar(MEDIATOR)).calls) == 1

    await handlers.case_updated(delivered(update(case, 2, ["side_confirmed"], ["p2"])))
    await choose_first(handlers)
    scheduled = payloads(store, "CallScheduled")
    assert [(c.party_id, c.side_firm_id) for c in scheduled] == [("p1", FIRM_A), ("p2", FIRM_B)]
    assert types(store).count("CallRescheduled") == 0, "p1's call still fits: untouched"

    await handlers.case_updated(delivered(update(case, 3, ["side_declined"], ["p2"], p2="declined")))
    await choose_first(handlers)
    (cancelled,) = payloads(store, "CallCancelled")
    assert cancelled.party_id == "p2" and cancelled.side_firm_id == FIRM_B and cancelled.reason == "the side declined"
    state = await store.case(case.case_id)
    assert state.calls["p2"].status == "cancelled" and state.calls["p2"].sequence == cancelled.sequence
    assert set((await store.calendar(MEDIATOR)).calls) == {f"{case.case_id}:p1"}


async def test_a_reschedule_command_moves_only_the_side_firm_s_own_call(handlers, store):
    """Attack: the submitting firm reschedules p1's call (p1 is firm-a's side): before, it was moved. And a firm
    whose side is unconfirmed was dead-lettered, hearing nothing. Now each is a CommandRejected to the sender."""
    case = with_sides(a_case(), p2="awaiting_confirmation")
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    first = payloads(store, "CallScheduled")[0]
    later = first.end + timedelta(days=2)
    command = RequestReschedule(case_id=case.case_id, party_id="p1", reason="mine now", not_before=later)
    by_submitter = from_firm(command, FIRM)
    await handlers.request_reschedule(by_submitter)
    await handlers.request_reschedule(from_firm(command.model_copy(update={"party_id": "p2"}), FIRM_B))
    assert types(store).count("CallRescheduled") == 0
    rejected = store.events("CommandRejected")
    assert [(e.payload().firm_id, e.firmid, [r.field for r in e.payload().reasons]) for e in rejected] == [
        (FIRM, FIRM, ["party_id"]), (FIRM_B, FIRM_B, ["case_id"])], "unconfirmed: no side of its own in the case"
    first_rejection = rejected[0]
    assert first_rejection.payload().command_id == by_submitter.event.id
    assert first_rejection.payload().command_type == "mednet.RequestReschedule.v1"
    assert first_rejection.id == derived_id(by_submitter.event.sender_key(by_submitter.topic), "rejected")
    assert first_rejection.payload().dead_letter_topic is None
    await handlers.request_reschedule(by_submitter)
    assert len(store.events("CommandRejected")) == 2, "a redelivery is answered once"

    claiming = from_firm(command, FIRM_A)
    claiming = replace(claiming, event=claiming.event.model_copy(update={"firmid": FIRM}))
    await handlers.request_reschedule(claiming)
    (moved,) = payloads(store, "CallRescheduled")
    assert moved.party_id == "p1" and moved.start >= later and moved.side_firm_id == FIRM_A
    assert store.events("CallRescheduled")[0].firmid == FIRM_A, "the inbound topic's firm, not the claimed firmid"


async def test_an_invalid_scheduling_command_is_answered_with_every_reason(handlers, store):
    """Through the consumer's own handling: a valid envelope whose data breaks two rules. Before: dead-lettered,
    the firm heard nothing."""
    topic = Topics.firm_inbound(FIRM_A)
    event = CloudEvent(id="cmd-1", type=RequestReschedule.type_name(), source="/firm-a", subject="case-x",
                       time=a_case().session.start, data={"case_id": "case-x", "party_id": "", "not_before": "soon"})
    await EventConsumer._handle(event, handlers.request_reschedule, handlers.invalid_command, topic, 0, 0)
    (rejected,) = payloads(store, "CommandRejected")
    assert rejected.firm_id == FIRM_A and rejected.case_id == "case-x" and rejected.command_id == "cmd-1"
    assert sorted(r.field for r in rejected.reasons) == ["not_before", "party_id"]


async def test_a_slot_choice_is_refused_to_another_side_and_answered_while_no_offer_is_open(handlers, store):
    case = with_sides(a_case())
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    choice = ChooseCallSlot(case_id=case.case_id, party_id="p1", offer_id="o1", slot_id="s1")
    await handlers.choose_or_decline_slots(from_firm(choice, FIRM_B))
    await handlers.choose_or_decline_slots(from_firm(choice, FIRM_A))
    reasons = [(r.firm_id, r.reasons[0].field) for r in payloads(store, "CommandRejected")]
    assert reasons == [(FIRM_B, "party_id"), (FIRM_A, "offer_id")]


async def test_each_firm_reads_only_its_own_sides_calls(handlers, store, as_mediator):
    """Attack: the submitting firm (and any participant) listed every party's call, times and all."""
    case = with_sides(a_case(), p2="awaiting_confirmation")
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    async with as_mediator(role=Role.FIRM, firm_id=FIRM_A) as firm_a:
        listed = (await firm_a.get(f"/v1/cases/{case.case_id}/calls")).json()
        assert [c["party_id"] for c in listed["calls"]] == ["p1"]
    async with as_mediator(role=Role.FIRM, firm_id=FIRM) as submitter:
        listed = await submitter.get(f"/v1/cases/{case.case_id}/calls")
        assert listed.status_code == 200 and listed.json()["calls"] == []
        refused = await submitter.post(f"/v1/calls/{case.case_id}:p1/reschedule", json={})
        assert refused.status_code == 404, "the submitter cannot move (or see) another side's call"
    async with as_mediator(role=Role.FIRM, firm_id=FIRM_B) as unconfirmed:
        assert (await unconfirmed.get(f"/v1/cases/{case.case_id}/calls")).status_code == 404
    async with as_mediator() as mediator:
        assert len((await mediator.get(f"/v1/cases/{case.case_id}/calls")).json()["calls"]) == 1


async def test_the_side_firm_or_the_mediator_reschedules_over_http(handlers, store, as_mediator):
    case = with_sides(a_case())
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    calls = {c.party_id: c for c in payloads(store, "CallScheduled")}
    later = calls["p1"].end + timedelta(days=2)
    async with as_mediator(role=Role.FIRM, firm_id=FIRM_A) as firm_a:
        moved = await firm_a.post(f"/v1/calls/{calls['p1'].call_id}/reschedule", json={"not_before": later.isoformat()})
        assert moved.status_code == 200 and moved.json()["sequence"] == 1
        assert (await firm_a.post(f"/v1/calls/{calls['p2'].call_id}/reschedule", json={})).status_code == 404
        assert (await firm_a.post(f"/v1/calls/{calls['p1'].call_id}/complete")).status_code == 403
    async with as_mediator() as mediator:
        assert (await mediator.post(f"/v1/calls/{calls['p2'].call_id}/reschedule", json={})).status_code == 200
    assert [(c.party_id, c.reason) for c in payloads(store, "CallRescheduled")] == [
        ("p1", "rescheduled by the firm"), ("p2", "rescheduled by the mediator")]


async def test_a_mediator_s_profile_gives_each_call_its_own_place_kept_across_moves(handlers, store, as_mediator):
    async with as_mediator() as mediator:
        refused = await mediator.put(f"/v1/mediators/{MEDIATOR}/conferencing",
                                     json={"kind": "video", "url_template": "http://meet.example.org/{room}"})
        assert refused.status_code == 422
        put = await mediator.put(f"/v1/mediators/{MEDIATOR}/conferencing",
                                 json={"kind": "video", "url_template": "https://meet.example.org/m/{room}"})
        assert put.status_code == 200 and put.json()["conferencing"]["kind"] == "video"
        got = await mediator.get(f"/v1/mediators/{MEDIATOR}/conferencing")
        assert got.json()["conferencing"]["url_template"] == "https://meet.example.org/m/{room}"
    async with as_mediator("med-other") as stranger:
        assert (await stranger.put(f"/v1/mediators/{MEDIATOR}/conferencing",
                                   json={"kind": "callback", "phone": "+1 555 0100"})).status_code == 403
        assert (await stranger.get(f"/v1/mediators/{MEDIATOR}/conferencing")).status_code == 403

    case = with_sides(a_case(parties=3))
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    scheduled = {c.party_id: c for c in payloads(store, "CallScheduled")}
    urls = [c.place.url for c in scheduled.values()]
    assert len(set(urls)) == 3 and all(u.startswith("https://meet.example.org/m/") for u in urls)
    assert all(len(u.rsplit("/", 1)[1]) >= 21 for u in urls), "token_urlsafe(16): 22 characters"
    async with as_mediator() as mediator:
        moved = await mediator.post(f"/v1/calls/{scheduled['p1'].call_id}/reschedule",
                                    json={"not_before": (scheduled["p1"].end + timedelta(days=1)).isoformat()})
        assert moved.json()["place"]["url"] == scheduled["p1"].place.url
        cancelled = await mediator.post(f"/v1/calls/{scheduled['p2'].call_id}/cancel", json={})
        assert cancelled.json()["place"] == scheduled["p2"].place.model_dump(mode="json", exclude_none=True)
    (rescheduled,) = payloads(store, "CallRescheduled")
    (cancel,) = payloads(store, "CallCancelled")
    assert rescheduled.place == scheduled["p1"].place and cancel.place == scheduled["p2"].place


async def test_no_profile_no_place_and_a_phone_bridge_gives_each_call_a_pin(handlers, store, as_mediator):
    case = with_sides(a_case("plain"))
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    assert {c.place for c in payloads(store, "CallScheduled")} == {None}
    async with as_mediator() as mediator:
        await mediator.put(f"/v1/mediators/{MEDIATOR}/conferencing", json={"kind": "phone", "phone": "+44 20 7946 0001"})
    await handlers.case_opened(delivered(with_sides(a_case("bridged"))))
    await choose_first(handlers)
    pins = [c.place.pin for c in payloads(store, "CallScheduled")[2:]]
    assert len(set(pins)) == 2 and all(p.isdigit() and len(p) == 8 for p in pins)


async def test_a_withdrawal_cancels_only_open_calls(handlers, store, as_mediator, clock):
    """Attack: p1's call completed, then the case is withdrawn. Before, a CallCancelled went out for the completed
    call (and its invitation was cancelled after it took place)."""
    case = with_sides(a_case())
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    calls = {c.party_id: c for c in payloads(store, "CallScheduled")}
    clock.now = calls["p1"].end
    async with as_mediator() as mediator:
        assert (await mediator.post(f"/v1/calls/{calls['p1'].call_id}/complete")).status_code == 200
        assert (await mediator.post(f"/v1/calls/{calls['p1'].call_id}/cancel", json={})).status_code == 409
    await handlers.case_withdrawn(delivered(CaseWithdrawn(case_id=case.case_id, firm_id=FIRM, reason="settled",
                                                          participant_firms=case.participant_firms)))
    assert [c.party_id for c in payloads(store, "CallCancelled")] == ["p2"]
    state = await store.case(case.case_id)
    assert {p: c.status for p, c in state.calls.items()} == {"p1": "completed", "p2": "cancelled"}


async def test_a_call_is_not_completed_or_missed_before_it_starts(handlers, store, as_mediator):
    """Attack: the mediator completes (or marks missed) a call booked for next week; before, it was accepted."""
    case = with_sides(a_case())
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    call = payloads(store, "CallScheduled")[0]
    async with as_mediator() as mediator:
        for action in ("complete", "missed"):
            refused = await mediator.post(f"/v1/calls/{call.call_id}/{action}")
            assert refused.status_code == 409 and "before it starts" in refused.json()["detail"]
    assert types(store) == ["CallSlotsOffered", "CallSlotsOffered", "CallScheduled", "CallScheduled"]


async def test_waiving_and_placing_again_and_the_api_agrees_with_the_events(handlers, store, as_mediator, clock):
    case = with_sides(a_case(parties=3))
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    calls = {c.party_id: c for c in payloads(store, "CallScheduled")}
    async with as_mediator() as mediator:
        assert (await mediator.post(f"/v1/calls/{calls['p1'].call_id}/waive", json={})).status_code == 422
        waived = await mediator.post(f"/v1/calls/{calls['p1'].call_id}/waive", json={"reason": "unreachable"})
        assert waived.status_code == 200 and waived.json()["status"] == "waived"
        assert (await mediator.post(f"/v1/calls/{calls['p1'].call_id}/place")).status_code == 409
        cancelled = await mediator.post(f"/v1/calls/{calls['p2'].call_id}/cancel", json={"reason": "ill"})
        assert cancelled.json()["status"] == "cancelled"
        again = await mediator.post(f"/v1/calls/{calls['p2'].call_id}/place")
        assert again.status_code == 200 and again.json()["status"] == "offered" and again.json()["sequence"] == 1
        assert await choose_first(handlers) == 1
        again = (await mediator.get(f"/v1/cases/{case.case_id}/calls")).json()["calls"]
        again = next(c for c in again if c["party_id"] == "p2")
        assert again["status"] == "scheduled" and again["sequence"] == 2
        clock.now = max(datetime_of(again["end"]), calls["p3"].end)
        for party in ("p2", "p3"):
            assert (await mediator.post(f"/v1/calls/{calls[party].call_id}/complete")).status_code == 200
        listed = (await mediator.get(f"/v1/cases/{case.case_id}/calls")).json()
    assert types(store)[5:] == ["CallScheduled", "CallCancelled", "CallWaived", "CallCancelled", "CallSlotsOffered",
                                "CallScheduled", "CallCompleted", "CallCompleted", "PreMediationCompleted"]
    (done,) = payloads(store, "PreMediationCompleted")
    assert done.call_ids == [calls["p2"].call_id, calls["p3"].call_id]
    assert done.waived_call_ids == [calls["p1"].call_id]
    assert listed["completed"] is True
    last = {}
    for event in store.events():
        message = event.payload()
        if hasattr(message, "call_id") and hasattr(message, "sequence"):
            status = {"CallSlotsOffered": "offered", "CallScheduled": "scheduled", "CallRescheduled": "scheduled", "CallCancelled": "cancelled",
                      "CallCompleted": "completed", "CallWaived": "waived"}[type(message).__name__]
            last[message.party_id] = (status, message.sequence)
    assert {c["party_id"]: (c["status"], c["sequence"]) for c in listed["calls"]} == last


def datetime_of(text):
    return datetime.fromisoformat(text)


async def test_a_side_never_confirmed_can_be_waived(handlers, store, as_mediator, clock):
    case = with_sides(a_case(), p2="awaiting_confirmation")
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    async with as_mediator() as mediator:
        assert (await mediator.post(f"/v1/calls/{case.case_id}:p2/waive", json={"reason": "no answer"})).status_code \
            == 200
        clock.now = payloads(store, "CallScheduled")[0].end
        assert (await mediator.post(f"/v1/calls/{case.case_id}:p1/complete")).status_code == 200
    assert types(store)[-1] == "PreMediationCompleted"
    await handlers.case_updated(delivered(update(case, 2, ["side_confirmed"], ["p2"])))
    await choose_first(handlers)
    assert types(store).count("CallScheduled") == 1, "a waived call is not placed when its side confirms later"



async def test_a_completed_call_is_not_marked_missed(handlers, store, as_mediator, clock):
    """Attack (found by the lifecycle property test): a completed call keeps its booking on the calendar, and
    marking it missed moved it (CallMissed, CallRescheduled) while the calls API still said completed."""
    case = with_sides(a_case())
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    call = payloads(store, "CallScheduled")[0]
    clock.now = call.end
    async with as_mediator() as mediator:
        assert (await mediator.post(f"/v1/calls/{call.call_id}/complete")).status_code == 200
        refused = await mediator.post(f"/v1/calls/{call.call_id}/missed")
        assert refused.status_code == 409 and "completed" in refused.json()["detail"]
    assert "CallMissed" not in types(store) and "CallRescheduled" not in types(store)
