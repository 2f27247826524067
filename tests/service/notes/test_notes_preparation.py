"""Issue 18 in notes on in-memory adapters: a waived call lets the case complete and the brief is built from the
sides heard; objective amounts are sealed (never in an event or the stored case) and a purge makes them unreadable;
an issue raised by one side only is one-sided."""

from __future__ import annotations

import json
from datetime import timedelta

from notes_kit import NOW, delivered, opened, scheduled
from mednet_shared.contracts.events import BriefReady, CallCompleted, CallWaived, ObjectivesRecorded, PreMediationCompleted
from mednet_shared.platform.auth import Role
from services_harness import client

MEDIATOR = "med-ada"
PAYMENT = {"issue": "payment_amount", "wants": "a fair sum", "priority": 1,
           "amount": {"minimum": 48123.0, "maximum": 61777.0, "currency": "EUR"}}
QUIET = {"issue": "confidentiality", "wants": "keep it quiet", "priority": 2}


def waived(case, party_id: str) -> CallWaived:
    return CallWaived(call_id=f"{case.case_id}:{party_id}", case_id=case.case_id, party_id=party_id,
                      mediator_id=MEDIATOR, sequence=1, reason="the party will not take part", waived_at=NOW,
                      participant_firms=case.participant_firms)


def completed(case, party_id: str) -> CallCompleted:
    return CallCompleted(call_id=f"{case.case_id}:{party_id}", case_id=case.case_id, party_id=party_id,
                         mediator_id=MEDIATOR, sequence=1, completed_at=NOW + timedelta(days=1),
                         participant_firms=case.participant_firms)


def finished(case, done: list[str], skipped: list[str]) -> PreMediationCompleted:
    return PreMediationCompleted(case_id=case.case_id, mediator_id=MEDIATOR,
                                 call_ids=[f"{case.case_id}:{p}" for p in done],
                                 waived_call_ids=[f"{case.case_id}:{p}" for p in skipped],
                                 completed_at=NOW, participant_firms=case.participant_firms)


async def test_a_waived_side_is_not_waited_for_and_the_brief_is_built_from_the_sides_heard(world):
    case = opened(parties=3)
    await world.handlers.case_opened(delivered(case))
    for party_id in ("p1", "p2", "p3"):
        await world.handlers.call_scheduled(delivered(scheduled(case, party_id)))
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        for party_id in ("p1", "p2"):
            body = {"objectives": [{**QUIET, "wants": f"quiet for {party_id}"}]}
            assert (await mediator.put(f"/v1/calls/{case.case_id}:{party_id}/notes", json=body)).status_code == 200
            await world.handlers.call_completed(delivered(completed(case, party_id)))
        assert world.store.outbox.messages(BriefReady) == []
        await world.handlers.call_waived(delivered(waived(case, "p3")))
        await world.handlers.call_waived(delivered(waived(case, "p3")))
        await world.handlers.pre_mediation_completed(delivered(finished(case, ["p1", "p2"], ["p3"])))
        refused = await mediator.put(f"/v1/calls/{case.case_id}:p3/notes", json={"objectives": [QUIET]})
        brief = (await mediator.get(f"/v1/cases/{case.case_id}/brief")).json()
    [ready] = world.store.outbox.messages(BriefReady)
    assert ready.party_ids == ["p1", "p2"]
    assert refused.status_code == 409 and "waived" in refused.text
    assert brief["parties"] == ["p1", "p2"] and brief["shared_interests"] == ["confidentiality"]
    assert brief["not_heard"] == [{"party_id": "p3", "reason": "its call was waived"}]
    state = await world.store.case(case.case_id)
    assert state.completed and state.call(f"{case.case_id}:p3").status == "waived"


async def test_a_case_with_one_side_heard_completes_and_its_brief_lists_that_sides_issues_as_one_sided(world):
    case = opened()
    await world.handlers.case_opened(delivered(case))
    for party_id in ("p1", "p2"):
        await world.handlers.call_scheduled(delivered(scheduled(case, party_id)))
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        await mediator.put(f"/v1/calls/{case.case_id}:p1/notes", json={"objectives": [QUIET]})
        await world.handlers.call_completed(delivered(completed(case, "p1")))
        await world.handlers.call_waived(delivered(waived(case, "p2")))
        waiting = await mediator.get(f"/v1/cases/{case.case_id}/brief")
        await world.handlers.pre_mediation_completed(delivered(finished(case, ["p1"], ["p2"])))
        brief = await mediator.get(f"/v1/cases/{case.case_id}/brief")
    assert waiting.status_code == 409
    assert brief.status_code == 200, brief.text
    assert brief.json()["one_sided"] == ["confidentiality"] and brief.json()["trade_offs"] == []
    assert world.store.outbox.messages(BriefReady) == []  # BriefReady names two parties at least


async def test_objective_amounts_are_sealed_out_of_events_and_the_stored_case_and_a_purge_shreds_them(world):
    case = opened()
    await world.handlers.case_opened(delivered(case))
    for party_id in ("p1", "p2"):
        await world.handlers.call_scheduled(delivered(scheduled(case, party_id)))
    other = {**PAYMENT, "amount": {"minimum": 20000.0, "maximum": 50555.0, "currency": "EUR"}, "stance": "willing"}
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator, \
            client(world.app, Role.OPERATOR) as operator:
        await mediator.put(f"/v1/calls/{case.case_id}:p1/notes", json={"objectives": [PAYMENT, QUIET]})
        again = await mediator.put(f"/v1/calls/{case.case_id}:p1/notes", json={"objectives": [PAYMENT, QUIET]})
        await mediator.put(f"/v1/calls/{case.case_id}:p2/notes", json={"objectives": [other]})
        read = (await mediator.get(f"/v1/calls/{case.case_id}:p1/notes")).json()
        brief = (await mediator.get(f"/v1/cases/{case.case_id}/brief")).json()
        assert (await operator.post(f"/v1/cases/{case.case_id}/notes/purge")).status_code == 200
        gone = await mediator.get(f"/v1/cases/{case.case_id}/brief")
    assert again.status_code == 200 and len(world.store.outbox.messages(ObjectivesRecorded)) == 2
    # the mediator reads them, and the brief compares the ranges (they overlap)
    assert read["objectives"][0]["amount"]["minimum"] == 48123.0
    assert brief["shared_interests"] == ["payment_amount"]
    payment_row = next(row for row in brief["issues"] if row["issue"] == "payment_amount")
    assert payment_row["positions"][0]["amount"]["maximum"] == 61777.0
    # ...but no event and no stored case holds them
    events = json.dumps([e.data for e in world.store.outbox.events()])
    stored = json.dumps(world.store.cases.get(case.case_id), default=str)
    for figure in ("48123", "61777", "20000", "50555"):
        assert figure not in events and figure not in stored
    recorded = world.store.outbox.messages(ObjectivesRecorded)[0]
    assert [(o.issue, o.priority, o.amount) for o in recorded.objectives] == [
        ("payment_amount", 1, None), ("confidentiality", 2, None)]
    assert gone.status_code == 410 and "48123" not in gone.text


async def test_changed_amounts_alone_are_recorded_again_under_a_new_event_id(world):
    case = opened()
    await world.handlers.case_opened(delivered(case))
    await world.handlers.call_scheduled(delivered(scheduled(case, "p1")))
    changed = {**PAYMENT, "amount": {"minimum": 1.0, "currency": "EUR"}}
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        await mediator.put(f"/v1/calls/{case.case_id}:p1/notes", json={"objectives": [PAYMENT]})
        await mediator.put(f"/v1/calls/{case.case_id}:p1/notes", json={"objectives": [changed]})
        read = (await mediator.get(f"/v1/calls/{case.case_id}:p1/notes")).json()
    ids = [e.id for e in world.store.outbox.events() if e.type == ObjectivesRecorded.type_name()]
    assert len(ids) == 2 and len(set(ids)) == 2 and read["objectives"][0]["amount"]["minimum"] == 1.0
