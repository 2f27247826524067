"""A firm submits on its inbound topic; every party gets its own call on mednet.scheduling.events."""

import asyncio
from datetime import timedelta

from kafka_helpers import as_record, command, events_of, new_topic, produce, read
from mednet_shared.contracts.topics import Topics
from sample_cases import submission
from services_harness import services


async def test_a_submission_on_the_inbound_topic_schedules_one_call_per_party_once(infrastructure, kafka, unique):
    firm = f"firm-{unique}"
    inbound = await new_topic(kafka, Topics.firm_inbound(firm), partitions=3)
    async with services(infrastructure, unique, "intake", "scheduling") as apps:
        document = submission(f"ref-{unique}", parties=3, mediator_id=f"med-{unique}")
        submit = command(document)
        await produce(kafka, inbound, [as_record(submit)])

        opened = await events_of(kafka, Topics.INTAKE, _case_id(firm, document), "CaseOpened", 1)
        case_id = opened[0].subject
        scheduled = await events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 3)
        calls = [e.payload() for e in {e.id: e for e in scheduled}.values()]
        assert sorted(c.party_id for c in calls) == ["p1", "p2", "p3"]
        assert len({c.call_id for c in calls}) == 3
        assert all({a.kind for a in c.attendees} == {"party", "attorney", "mediator"} for c in calls)
        assert all(c.end - c.start == timedelta(minutes=45) for c in calls)
        ordered = sorted(calls, key=lambda c: c.start)
        assert all(a.end + timedelta(minutes=15) <= b.start for a, b in zip(ordered, ordered[1:])), "buffers kept"
        assert all(c.end <= opened[0].payload().session.start - timedelta(hours=24) for c in calls)

        await produce(kafka, inbound, [as_record(submit), as_record(command(document))])
        await produce(kafka, Topics.INTAKE, [(r.key, r.value, list(r.headers)) for r in await _records(kafka, case_id)])
        await asyncio.sleep(6)

        assert {e.id for e in await events_of(kafka, Topics.INTAKE, case_id, "CaseOpened", 1)} == {opened[0].id}
        again = await events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 3)
        assert {e.id for e in again} == {e.id for e in scheduled}, "redelivery creates nothing new"
        calendar = await apps["scheduling"][0].state.scheduler.store.calendar(f"med-{unique}")
        assert len(calendar.calls) == 3
        cases = apps["intake"][0].state.intake.store.cases
        assert await cases.count_documents({"firm_id": firm}) == 1


async def test_two_scheduler_instances_never_double_book_a_mediator(infrastructure, kafka, unique):
    firm = f"firm-{unique}"
    inbound = await new_topic(kafka, Topics.firm_inbound(firm), partitions=3)
    mediator = f"med-{unique}"
    async with services(infrastructure, unique, "intake", "scheduling", instances={"scheduling": 2}) as apps:
        documents = [submission(f"ref-{unique}-{n}", parties=2, mediator_id=mediator, days_ahead=10) for n in range(8)]
        records = [as_record(command(d)) for d in documents]
        await asyncio.gather(*(produce(kafka, inbound, [record]) for record in records))
        case_ids = [_case_id(firm, d) for d in documents]
        scheduled = []
        for case_id in case_ids:
            scheduled += [e.payload() for e in await events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 2)]
        calls = {c.call_id: c for c in scheduled}
        assert len(calls) == 16
        ordered = sorted(calls.values(), key=lambda c: c.start)
        for earlier, later in zip(ordered, ordered[1:]):
            assert earlier.end + timedelta(minutes=15) <= later.start, f"{earlier.call_id} overlaps {later.call_id}"
        calendar = await apps["scheduling"][0].state.scheduler.store.calendar(mediator)
        assert len(calendar.calls) == 16
        handled = [app.state.runtime.consumer for app in apps["scheduling"]]
        assert len(handled) == 2


async def _records(kafka: str, case_id: str):
    return [r for r in await read(kafka, Topics.INTAKE, 10**6, timeout=1.5) if r.key == case_id.encode()]


def _case_id(firm: str, document: dict) -> str:
    from mednet_intake.domain import case_id_for

    return case_id_for(firm, document["external_ref"])
