"""Readiness per side on in-memory adapters: who may set which item, who hears of it, CaseReadyForSession once every
side is ready, and what is refused (another side, an item not in the checklist, an update after the session)."""

from __future__ import annotations

from notes_kit import NOW, delivered, opened
from mednet_shared.contracts.events import CaseReadyForSession, CaseUpdated, SideReadinessChanged
from mednet_shared.contracts.values import SideStatus
from mednet_shared.platform.auth import Role
from services_harness import client

MEDIATOR = "med-ada"


async def a_case(world, *confirmed: str):
    case = opened()
    sides = [s.model_copy(update={"status": SideStatus.CONFIRMED}) if s.party_id in confirmed else s
             for s in case.sides]
    await world.handlers.case_opened(delivered(case))
    await world.handlers.case_updated(delivered(CaseUpdated(
        case_id=case.case_id, firm_id=case.firm_id, revision=2, changes=["side_confirmed"], session=case.session,
        parties=case.parties, participant_firms=case.participant_firms, sides=sides, party_ids=list(confirmed))))
    return case


async def test_readiness_items_by_the_right_hands_and_case_ready_once_every_side_is(world):
    case = await a_case(world, "p1", "p2")
    base = f"/v1/cases/{case.case_id}/sides"
    async with client(world.app, Role.FIRM, firm_id="firm-a") as firm_a, \
            client(world.app, Role.FIRM, firm_id="firm-b") as firm_b, \
            client(world.app, Role.FIRM, firm_id="firm-x") as submitter, \
            client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        # attacks: another side's firm, the submitting firm, another mediator's token
        assert (await firm_b.put(f"{base}/p1/readiness/agreement_signed", json={})).status_code == 404
        assert (await submitter.put(f"{base}/p1/readiness/agreement_signed", json={})).status_code == 404
        assert (await firm_b.get(f"{base}/p1/readiness")).status_code == 404
        assert (await firm_a.put(f"{base}/p1/readiness/authority_confirmed", json={})).status_code == 403
        assert (await firm_a.put(f"{base}/p1/readiness/not_an_item", json={})).status_code == 422
        assert world.store.outbox.messages(SideReadinessChanged) == []
        for item in ("agreement_signed", "attendees_named"):
            assert (await firm_a.put(f"{base}/p1/readiness/{item}", json={"done": True})).status_code == 200
            assert (await firm_b.put(f"{base}/p2/readiness/{item}", json={"done": True})).status_code == 200
        again = await firm_a.put(f"{base}/p1/readiness/attendees_named", json={"done": True})
        assert again.json()["outstanding"] == ["authority_confirmed"] and not again.json()["ready"]
        await mediator.put(f"{base}/p1/readiness/authority_confirmed", json={"done": True})
        assert world.store.outbox.messages(CaseReadyForSession) == []
        last = (await mediator.put(f"{base}/p2/readiness/authority_confirmed", json={"done": True})).json()
        own_view = (await firm_a.get(f"{base}/p1/readiness")).json()
    changes = world.store.outbox.messages(SideReadinessChanged)
    assert len(changes) == 6, "the same value again changes nothing"
    assert {(c.party_id, c.side_firm_id) for c in changes} == {("p1", "firm-a"), ("p2", "firm-b")}
    assert [(m["item"], m["set_by"]) for m in own_view["marks"]] == [
        ("agreement_signed", "firm"), ("attendees_named", "firm"), ("authority_confirmed", "mediator")]
    assert [(m.item, m.set_by) for m in changes[-1].marks] == [
        ("agreement_signed", "firm"), ("attendees_named", "firm"), ("authority_confirmed", "mediator")]
    assert last["ready"] and last["case_ready_for_session"] and own_view["ready"]
    [ready] = world.store.outbox.messages(CaseReadyForSession)
    assert ready.party_ids == ["p1", "p2"] and ready.mediator_id == MEDIATOR


async def test_required_items_are_set_per_case_and_an_update_after_the_session_is_refused(world):
    case = await a_case(world, "p1", "p2")
    base = f"/v1/cases/{case.case_id}/sides"
    async with client(world.app, Role.FIRM, firm_id="firm-a") as firm_a, \
            client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        assert (await firm_a.put(f"/v1/cases/{case.case_id}/readiness/required",
                                 json={"required_items": ["technology_checked"]})).status_code == 404
        required = await mediator.put(f"/v1/cases/{case.case_id}/readiness/required",
                                      json={"required_items": ["technology_checked"]})
        assert required.json()["required_items"] == ["technology_checked"]
        await firm_a.put(f"{base}/p1/readiness/technology_checked", json={"done": True})
        await mediator.put(f"{base}/p2/readiness/technology_checked", json={"done": True})
        assert len(world.store.outbox.messages(CaseReadyForSession)) == 1
        world.notes.clock = lambda: case.session.start
        late = await firm_a.put(f"{base}/p1/readiness/documents_exchanged", json={"done": True})
    assert late.status_code == 409 and "session started" in late.text
    state = await world.store.case(case.case_id)
    assert [m.item for r in state.readiness if r.party_id == "p1" for m in r.marks] == ["technology_checked"]


async def test_the_brief_says_who_is_not_ready_and_why_and_gives_each_sides_stated_interests(world):
    from notes_kit import scheduled
    case = await a_case(world, "p1", "p2")
    for party_id in ("p1", "p2"):
        await world.handlers.call_scheduled(delivered(scheduled(case, party_id)))
    base = f"/v1/cases/{case.case_id}/sides"
    async with client(world.app, Role.FIRM, firm_id="firm-a") as firm_a, \
            client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        await firm_a.post(f"{base}/p1/statement", json={"interests": "keep the business going",
                                                         "desired_outcomes": "a supply deal"})
        for item in ("agreement_signed", "attendees_named", "authority_confirmed"):
            await mediator.put(f"{base}/p1/readiness/{item}", json={"done": True})
        await mediator.put(f"{base}/p2/readiness/agreement_signed", json={"done": True})
        for party_id in ("p1", "p2"):
            await mediator.put(f"/v1/calls/{case.case_id}:{party_id}/notes", json={"objectives": [
                {"issue": "confidentiality", "wants": "quiet", "priority": 2}]})
        brief = (await mediator.get(f"/v1/cases/{case.case_id}/brief")).json()
    assert brief["not_ready"] == [{"party_id": "p2", "outstanding": ["attendees_named", "authority_confirmed"]}]
    assert brief["stated_interests"] == [{"party_id": "p1", "interests": "keep the business going",
                                          "desired_outcomes": "a supply deal"}]


async def test_a_calls_outcome_goes_to_its_side_only_its_confidential_part_sealed_and_items_ticked(world):
    from mednet_shared.contracts.events import CallOutcomeRecorded
    from notes_kit import scheduled
    import json
    case = await a_case(world, "p1", "p2")
    await world.handlers.call_scheduled(delivered(scheduled(case, "p1")))
    url = f"/v1/calls/{case.case_id}:p1/outcome"
    body = {"outcome": "partly_held", "items_confirmed": ["authority_confirmed", "attendees_named"],
            "next_step": "send the ledger by Friday", "confidential": "ceo-is-wavering-4410"}
    async with client(world.app, Role.FIRM, firm_id="firm-a") as firm_a, \
            client(world.app, Role.MEDIATOR, mediator_id="med-bob") as other, \
            client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        assert (await firm_a.put(url, json=body)).status_code == 403
        assert (await other.put(url, json=body)).status_code == 404
        assert (await mediator.put(url, json={**body, "outcome": "maybe"})).status_code == 422
        saved = await mediator.put(url, json=body)
        again = await mediator.put(url, json={**body, "confidential": ""})
        readiness = (await firm_a.get(f"/v1/cases/{case.case_id}/sides/p1/readiness")).json()
    assert saved.status_code == 200 and saved.json()["items_marked"] == ["authority_confirmed", "attendees_named"]
    assert again.status_code == 200
    [event] = world.store.outbox.messages(CallOutcomeRecorded)
    assert event.side_firm_id == "firm-a" and event.outcome == "partly_held"
    assert event.next_step == "send the ledger by Friday"
    everything = json.dumps([world.store.cases.get(case.case_id), [e.data for e in world.store.outbox.events()]],
                            default=repr)
    assert "ceo-is-wavering" not in everything
    assert readiness["outstanding"] == ["agreement_signed"]


async def test_the_next_calls_sheet_shows_the_earlier_calls_outcome_with_its_confidential_part(world):
    from notes_kit import scheduled
    case = await a_case(world, "p1", "p2")
    for party_id in ("p1", "p2"):
        await world.handlers.call_scheduled(delivered(scheduled(case, party_id)))
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        await mediator.put(f"/v1/calls/{case.case_id}:p1/outcome",
                           json={"outcome": "held", "confidential": "ceo-is-wavering-4410"})
        sheet = (await mediator.get(f"/v1/calls/{case.case_id}:p2/preparation")).json()
    [earlier] = sheet["earlier_calls"]
    assert earlier["outcome"]["outcome"] == "held" and earlier["outcome"]["confidential"] == "ceo-is-wavering-4410"


async def test_cases_not_ready_within_n_days_of_their_session_are_counted(world):
    from datetime import timedelta
    case = await a_case(world, "p1", "p2")
    days_ahead = (case.session.start - NOW).days
    assert await world.notes.count_not_ready(days_ahead + 1) == 1
    assert await world.notes.count_not_ready(max(days_ahead - 1, 0) or 1) == (1 if days_ahead <= 1 else 0)
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        await mediator.put(f"/v1/cases/{case.case_id}/readiness/required", json={"required_items": []})
    assert (await world.store.case(case.case_id)).ready_for_session
    assert await world.notes.count_not_ready(days_ahead + 1) == 0
    world.notes.clock = lambda: case.session.start + timedelta(minutes=1)
    assert await world.notes.count_not_ready(365) == 0


async def test_another_mediator_gets_404_before_a_body_is_judged(world):
    from notes_kit import scheduled
    case = await a_case(world, "p1")
    await world.handlers.call_scheduled(delivered(scheduled(case, "p1")))
    async with client(world.app, Role.MEDIATOR, mediator_id="med-bob") as other, \
            client(world.app, Role.FIRM, firm_id="firm-a") as firm:
        assert (await other.put(f"/v1/calls/{case.case_id}:p1/outcome", json={})).status_code == 404
        assert (await other.put(f"/v1/cases/{case.case_id}/readiness/required", json={})).status_code == 404
        assert (await firm.put(f"/v1/cases/{case.case_id}/readiness/required", json={})).status_code == 404
        assert (await firm.put(f"/v1/calls/{case.case_id}:p1/outcome", json={})).status_code == 403
