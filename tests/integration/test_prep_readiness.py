"""On the real stack: readiness per side. Another side's firm is refused (404); each side's firm and the mediator
tick the required items; SideReadinessChanged names that side's firm only; CaseReadyForSession fires once, when every
side is ready."""

import asyncio
from datetime import UTC, datetime

from kafka_helpers import as_record, events_of, produce
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CaseOpened
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Side
from mednet_shared.platform.auth import Role
from sample_cases import submission
from services_harness import client, services


async def test_case_ready_for_session_fires_once_every_side_is_ready(infrastructure, kafka, unique):
    submitter, firm_a, firm_b = f"firm-s{unique}", f"firm-a{unique}", f"firm-b{unique}"
    mediator_id = f"med-{unique}"
    document = submission(f"ref-{unique}", mediator_id=mediator_id, days_ahead=14)
    document["parties"][0]["attorney"]["firm_id"] = firm_a
    document["parties"][1]["attorney"]["firm_id"] = firm_b
    now = datetime.now(UTC)
    case = CaseOpened(case_id=f"case-{unique}", firm_id=submitter, participant_firms=[submitter, firm_a, firm_b],
                      sides=[Side(party_id=p, role=r, firm_id=f, status="confirmed", since=now, confirmed_by="firm")
                             for p, r, f in (("p1", "claimant", firm_a), ("p2", "respondent", firm_b))],
                      **document)
    base = f"/v1/cases/{case.case_id}/sides"
    async with services(infrastructure, unique, "notes") as apps:
        notes = apps["notes"][0]
        await produce(kafka, Topics.INTAKE, [as_record(new_event(case, "/mednet/intake", firm_id=submitter))])
        async with client(notes, Role.FIRM, firm_id=firm_a) as a, client(notes, Role.FIRM, firm_id=firm_b) as b, \
                client(notes, Role.MEDIATOR, mediator_id=mediator_id) as mediator:
            for _ in range(100):
                if (await a.get(f"{base}/p1/readiness")).status_code == 200:
                    break
                await asyncio.sleep(0.3)
            assert await notes.state.notes.count_not_ready(30) == 1  # session in 14 days, not ready (real MongoDB)
            assert await notes.state.notes.count_not_ready(7) == 0
            assert (await b.put(f"{base}/p1/readiness/agreement_signed", json={"done": True})).status_code == 404
            for firm, party_id in ((a, "p1"), (b, "p2")):
                for item in ("agreement_signed", "attendees_named"):
                    assert (await firm.put(f"{base}/{party_id}/readiness/{item}", json={})).status_code == 200
            assert (await mediator.put(f"{base}/p1/readiness/authority_confirmed", json={})).status_code == 200
            last = await mediator.put(f"{base}/p2/readiness/authority_confirmed", json={})
            assert last.json()["case_ready_for_session"]
            assert await notes.state.notes.count_not_ready(30) == 0
        [ready] = await events_of(kafka, Topics.NOTES, case.case_id, "CaseReadyForSession", 1)
        assert ready.payload().party_ids == ["p1", "p2"]
        changes = await events_of(kafka, Topics.NOTES, case.case_id, "SideReadinessChanged", 6)
        assert {(e.payload().party_id, e.payload().side_firm_id) for e in changes} == {("p1", firm_a), ("p2", firm_b)}
        await asyncio.sleep(2)
        again = await events_of(kafka, Topics.NOTES, case.case_id, "CaseReadyForSession", 1)
        assert len({e.id for e in again}) == 1
