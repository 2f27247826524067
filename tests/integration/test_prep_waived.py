"""On the real stack: a waived call lets the case complete in notes. Three sides; the third's call is waived; once
the two heard sides' objectives are in, BriefReady names those two, and the brief (built from them) lists the issue
only one of them raised as one-sided, and the waived side as not heard."""

import asyncio
from datetime import timedelta

from kafka_helpers import as_record, events_of, produce
from mednet_intake.domain import open_case, parse_submission
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CallCompleted, CallScheduled, CallWaived, PreMediationCompleted
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Attendee, utc_now
from mednet_shared.platform.auth import Role
from sample_cases import submission
from services_harness import client, running, settings_for


async def test_a_waived_call_lets_the_case_complete_and_the_brief_is_built_from_the_sides_heard(
        infrastructure, kafka, unique):
    mediator_id, firm = f"med-{unique}", f"firm-{unique}"
    opened = open_case(firm, parse_submission(submission(f"w-{unique}", mediator_id=mediator_id, parties=3)),
                       utc_now()).opened()
    start, now = opened.session.start - timedelta(days=3), utc_now()
    mediator = Attendee(kind="mediator", name="M", email=opened.mediator.email, time_zone="UTC")

    def call_of(party_id: str) -> dict:
        return {"call_id": f"{opened.case_id}:{party_id}", "case_id": opened.case_id, "party_id": party_id,
                "mediator_id": mediator_id, "participant_firms": opened.participant_firms}

    scheduled = [CallScheduled(**call_of(p), sequence=0, start=start, end=start + timedelta(minutes=45),
                               attendees=[mediator, Attendee(kind="party", name="P", email=f"{p}@x.example.org",
                                                             time_zone="UTC")]) for p in ("p1", "p2", "p3")]
    async with running("notes", settings_for("notes", infrastructure, unique)) as notes:
        await produce(kafka, Topics.INTAKE, [as_record(new_event(opened, "/tests", firm_id=firm))])
        await produce(kafka, Topics.SCHEDULING, [as_record(new_event(e, "/tests")) for e in scheduled])
        async with client(notes, Role.MEDIATOR, mediator_id=mediator_id) as the_mediator:
            for party_id, objectives in (("p1", [{"issue": "confidentiality", "wants": "quiet", "priority": 2},
                                                 {"issue": "reference", "wants": "a good one", "priority": 1}]),
                                         ("p2", [{"issue": "confidentiality", "wants": "quiet", "priority": 3}])):
                for _ in range(100):
                    put = await the_mediator.put(f"/v1/calls/{opened.case_id}:{party_id}/notes",
                                                 json={"objectives": objectives})
                    if put.status_code == 200:
                        break
                    await asyncio.sleep(0.3)
                assert put.status_code == 200, put.text
            finishing = [CallCompleted(**call_of("p1"), sequence=1, completed_at=now),
                         CallCompleted(**call_of("p2"), sequence=1, completed_at=now),
                         CallWaived(**call_of("p3"), sequence=1, reason="the insurer will not attend", waived_at=now),
                         PreMediationCompleted(case_id=opened.case_id, mediator_id=mediator_id,
                                               call_ids=[f"{opened.case_id}:p1", f"{opened.case_id}:p2"],
                                               waived_call_ids=[f"{opened.case_id}:p3"], completed_at=now,
                                               participant_firms=opened.participant_firms)]
            await produce(kafka, Topics.SCHEDULING, [as_record(new_event(e, "/tests")) for e in finishing])
            [ready] = await events_of(kafka, Topics.NOTES, opened.case_id, "BriefReady", 1)
            assert ready.payload().party_ids == ["p1", "p2"]
            brief = (await the_mediator.get(f"/v1/cases/{opened.case_id}/brief")).json()
    assert brief["parties"] == ["p1", "p2"] and brief["one_sided"] == ["reference"]
    assert brief["shared_interests"] == ["confidentiality"] and brief["trade_offs"] == []
    assert brief["not_heard"] == [{"party_id": "p3", "reason": "its call was waived"}]
