"""Notes learns a case from two topics that arrive in any order: the brief is ready once both have arrived."""

from datetime import timedelta

from kafka_helpers import as_record, events_of, produce, read, wait_for
from mednet_intake.domain import open_case, parse_submission
from mednet_shared.contracts.envelope import CloudEvent, new_event
from mednet_shared.contracts.events import CallScheduled
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Attendee, utc_now
from mednet_shared.platform.auth import Role
from sample_cases import submission
from services_harness import client, running, settings_for

OBJECTIVES = [{"issue": "confidentiality", "wants": "keep it quiet", "priority": 1}]


def calls_of(opened) -> list[CallScheduled]:
    start = opened.session.start - timedelta(days=3)
    mediator = Attendee(kind="mediator", name="Mediator", email=opened.mediator.email, time_zone="UTC")
    return [CallScheduled(call_id=f"{opened.case_id}:{p.party_id}", case_id=opened.case_id, party_id=p.party_id,
                          mediator_id=opened.mediator.mediator_id, sequence=0, start=start,
                          end=start + timedelta(minutes=45), participant_firms=opened.participant_firms,
                          attendees=[mediator, Attendee(kind="party", name="Party", email=p.contact.email,
                                                        time_zone="UTC")])
            for p in opened.parties]


async def test_brief_is_ready_when_the_case_arrives_after_every_partys_objectives(infrastructure, kafka, unique):
    mediator_id, firm = f"med-{unique}", f"firm-{unique}"
    opened = open_case(firm, parse_submission(submission(f"late-{unique}", mediator_id=mediator_id)), utc_now()).opened()
    async with running("notes", settings_for("notes", infrastructure, unique)) as notes:
        await produce(kafka, Topics.SCHEDULING, [as_record(new_event(call, "/tests")) for call in calls_of(opened)])
        async with client(notes, Role.MEDIATOR, mediator_id=mediator_id) as mediator:
            for call in calls_of(opened):
                async def recorded(call_id=call.call_id) -> bool:
                    body = {"observations": {}, "objectives": OBJECTIVES}
                    return (await mediator.put(f"/v1/calls/{call_id}/notes", json=body)).status_code == 200
                await wait_for(recorded, timeout=30, interval=0.3)
            assert (await mediator.get(f"/v1/cases/{opened.case_id}/brief")).status_code == 409

        await produce(kafka, Topics.INTAKE, [as_record(new_event(opened, "/tests", firm_id=firm))])
        [ready] = await events_of(kafka, Topics.NOTES, opened.case_id, "BriefReady", 1)
        assert ready.payload().party_ids == ["p1", "p2"]
        notes_events = [CloudEvent.from_bytes(r.value) for r in await read(kafka, Topics.NOTES, 10**6, timeout=2)]
        assert [e.type for e in notes_events if e.subject == opened.case_id].count("mednet.BriefReady.v1") == 1
