"""A placement replayed long after it happened (its guard's lease expired after a crash) must not undo what the
mediator did since: a completed call stays completed and the case still completes."""

from kafka_helpers import as_record, command, events_of, new_topic, produce, read
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from offers_helpers import choose_first
from sample_cases import submission
from services_harness import client, services


async def test_a_replayed_placement_does_not_reopen_a_completed_call(infrastructure, kafka, unique):
    firm, mediator_id = f"firm-{unique}", f"med-{unique}"
    inbound = await new_topic(kafka, Topics.firm_inbound(firm))
    async with services(infrastructure, unique, "intake", "scheduling") as apps:
        scheduling = apps["scheduling"][0]
        document = submission(f"ref-{unique}", mediator_id=mediator_id)
        for party in document["parties"]:
            party["attorney"]["firm_id"] = firm  # every side the submitter's own: confirmed at once
        await produce(kafka, inbound, [as_record(command(document))])
        opened = await _opened(kafka, firm)
        for party_id in ("p1", "p2"):
            await choose_first(kafka, firm, opened.subject, party_id)
        calls = {e.payload().party_id: e.payload()
                 for e in await events_of(kafka, Topics.SCHEDULING, opened.subject, "CallScheduled", 2)
                 if e.payload().booked_by == "choice"}
        scheduling.state.scheduler.clock = lambda: max(c.end for c in calls.values())  # the calls took place
        async with client(scheduling, Role.MEDIATOR, mediator_id=mediator_id) as mediator:
            assert (await mediator.post(f"/v1/calls/{calls['p1'].call_id}/complete")).status_code == 200

            guard = scheduling.state.runtime.db["processed_events"]
            await guard.delete_many({"_id": {"$regex": opened.id}})
            replayed = [r for r in await read(kafka, Topics.INTAKE, 10**6, timeout=2) if r.key == opened.subject.encode()]
            await produce(kafka, Topics.INTAKE, [(r.key, r.value, list(r.headers)) for r in replayed])
            await _until_processed_again(guard, opened.id)

            listed = (await mediator.get(f"/v1/cases/{opened.subject}/calls")).json()
            assert {c["party_id"]: c["status"] for c in listed["calls"]} == {"p1": "completed", "p2": "scheduled"}
            assert (await mediator.post(f"/v1/calls/{calls['p2'].call_id}/complete")).status_code == 200
        await events_of(kafka, Topics.SCHEDULING, opened.subject, "PreMediationCompleted", 1)


async def _opened(kafka: str, firm: str):
    from kafka_helpers import wait_for
    from mednet_shared.contracts.envelope import CloudEvent

    async def found():
        events = [CloudEvent.from_bytes(r.value) for r in await read(kafka, Topics.INTAKE, 10**6, timeout=1.5)]
        return next((e for e in events if e.type == "mednet.CaseOpened.v1" and e.firmid == firm), None)
    return await wait_for(found, timeout=30, interval=0.5)


async def _until_processed_again(guard, event_id: str) -> None:
    from kafka_helpers import wait_for

    await wait_for(lambda: guard.find_one({"_id": {"$regex": event_id}, "status": "done"}), timeout=30, interval=0.3)
