"""A firm submits on its inbound topic; every confirmed side's party gets its own call on mednet.scheduling.events
(a side the submitting firm represents itself is confirmed at once; another firm's once it accepts)."""

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

from kafka_helpers import as_record, command, events_of, new_topic, produce, read
from mednet_shared.contracts.topics import Topics
from offers_helpers import choose_first
from sample_cases import submission
from services_harness import services


async def test_a_submission_on_the_inbound_topic_schedules_one_call_per_party_once(infrastructure, kafka, unique):
    firm = f"firm-{unique}"
    inbound = await new_topic(kafka, Topics.firm_inbound(firm), partitions=3)
    async with services(infrastructure, unique, "intake", "scheduling") as apps:
        document = represented_by(submission(f"ref-{unique}", parties=3, mediator_id=f"med-{unique}"), firm)
        submit = command(document)
        await produce(kafka, inbound, [as_record(submit)])

        opened = await events_of(kafka, Topics.INTAKE, _case_id(firm, document), "CaseOpened", 1)
        case_id = opened[0].subject
        for party_id in ("p1", "p2", "p3"):   # each side chooses the first slot of its offer
            await choose_first(kafka, firm, case_id, party_id)
        scheduled = [e for e in await events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 3)
                     if e.payload().booked_by == "choice"]
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
        again = [e for e in await events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 3)
                 if e.payload().booked_by == "choice"]
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
        documents = [represented_by(submission(f"ref-{unique}-{n}", parties=2, mediator_id=mediator, days_ahead=21),
                                    firm) for n in range(8)]
        records = [as_record(command(d)) for d in documents]
        await asyncio.gather(*(produce(kafka, inbound, [record]) for record in records))
        case_ids = [_case_id(firm, d) for d in documents]
        scheduled = []
        for case_id in case_ids:
            for party_id in ("p1", "p2"):
                await choose_first(kafka, firm, case_id, party_id)
        for case_id in case_ids:
            scheduled += [e.payload() for e in await events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 2)]
        # The calendar both instances share is the truth. The shared topic may also hold CallScheduled of the same
        # ids from the scheduling instances of tests running at the same time (they read every CaseOpened and book
        # on their own calendars), so each booking is looked for among the events rather than the events judged.
        calendar = await apps["scheduling"][0].state.scheduler.store.calendar(mediator)
        assert len(calendar.calls) == 16
        ordered = sorted(calendar.calls.values(), key=lambda c: c.start)
        for earlier, later in zip(ordered, ordered[1:]):
            assert earlier.end + timedelta(minutes=15) <= later.start, f"{earlier.call_id} overlaps {later.call_id}"
        published = {(c.call_id, c.start, c.end) for c in scheduled}
        assert all((b.call_id, b.start, b.end) in published for b in ordered), "every booking was published"
        for app in apps["scheduling"]:
            assigned = {tp.topic for s in app.state.runtime.broker.subscribers if s.consumer
                        for tp in s.consumer.assignment()}
            assert Topics.INTAKE in assigned, "both instances consumed part of the intake topic"


async def _records(kafka: str, case_id: str):
    return [r for r in await read(kafka, Topics.INTAKE, 10**6, timeout=1.5) if r.key == case_id.encode()]


def represented_by(document: dict, firm: str) -> dict:
    """Every party's attorney of the submitting firm: each side confirmed at once."""
    for party in document["parties"]:
        party["attorney"]["firm_id"] = firm
    return document


def _case_id(firm: str, document: dict) -> str:
    from mednet_intake.domain import case_id_for

    return case_id_for(firm, document["external_ref"])


async def test_firm_commands_reschedule_change_availability_and_withdraw(infrastructure, kafka, unique):
    firm, attorney_firm = f"firm-{unique}", f"firm-a{unique}"
    inbound = await new_topic(kafka, Topics.firm_inbound(firm), partitions=1)
    attorney_inbound = await new_topic(kafka, Topics.firm_inbound(attorney_firm), partitions=1)
    async with services(infrastructure, unique, "intake", "scheduling"):
        document = submission(f"cmd-{unique}", parties=2, mediator_id=f"med-{unique}")
        document["parties"][0]["attorney"]["firm_id"] = attorney_firm
        document["parties"][1]["attorney"]["firm_id"] = firm
        await produce(kafka, inbound, [as_record(command(document))])
        case_id = _case_id(firm, document)
        await choose_first(kafka, firm, case_id, "p2")
        first = {e.payload().party_id: e.payload()
                 for e in await events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 1)
                 if e.payload().booked_by != "system"}
        assert set(first) == {"p2"}, "p1's side awaits its firm: no call for it yet"
        assert first["p2"].side_firm_id == firm

        accept = {"case_id": case_id, "party_id": "p1"}
        await produce(kafka, attorney_inbound, [as_record(command(accept, "mednet.AcceptRepresentation.v1"))])
        await choose_first(kafka, attorney_firm, case_id, "p1")
        first = {e.payload().party_id: e.payload()
                 for e in await events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 2)
                 if e.payload().booked_by != "system"}
        assert first["p1"].side_firm_id == attorney_firm

        later = (first["p1"].end + timedelta(days=3)).isoformat()
        reschedule = {"case_id": case_id, "party_id": "p1", "reason": "client travelling", "not_before": later}
        not_its_side = command(reschedule, "mednet.RequestReschedule.v1")
        await produce(kafka, inbound, [as_record(not_its_side)])
        (refused,) = await events_of(kafka, Topics.SCHEDULING, case_id, "CommandRejected", 1)
        assert refused.payload().firm_id == firm and refused.payload().command_id == not_its_side.id
        await produce(kafka, attorney_inbound, [as_record(command(reschedule, "mednet.RequestReschedule.v1"))])
        moved = (await events_of(kafka, Topics.SCHEDULING, case_id, "CallRescheduled", 1))[0].payload()
        assert moved.party_id == "p1" and moved.start.isoformat() >= later and moved.sequence == 1
        assert moved.reason == "client travelling"

        weekday = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        busy_day = weekday[first["p2"].start.astimezone(ZoneInfo("America/New_York")).weekday()]
        other_days = [{"day": d, "start": "08:00", "end": "20:00"} for d in weekday if d != busy_day]
        update = {"case_id": case_id, "party_id": "p2", "availability": other_days}
        await produce(kafka, inbound, [as_record(command(update, "mednet.UpdatePartyAvailability.v1"))])
        updated = await events_of(kafka, Topics.INTAKE, case_id, "CaseUpdated", 2)
        assert ["availability_changed"] in [e.payload().changes for e in updated]
        rescheduled = await events_of(kafka, Topics.SCHEDULING, case_id, "CallRescheduled", 2)
        p2 = next(e.payload() for e in rescheduled if e.payload().party_id == "p2")
        assert weekday[p2.start.astimezone(ZoneInfo("America/New_York")).weekday()] != busy_day

        await produce(kafka, attorney_inbound, [(b"x", b"\x00 not an envelope", [])])
        dead = await read(kafka, Topics.dead_letter(attorney_inbound), 1, timeout=20)
        await asyncio.sleep(3)
        dead = await read(kafka, Topics.dead_letter(attorney_inbound), 10, timeout=3)
        assert [dict(d.headers)["x-mednet-dlq-service"] for d in dead] == [b"intake"], \
            "both intake and scheduling read the firm's topic; only intake, its owner, dead-letters what is no envelope"

        await produce(kafka, inbound, [as_record(command({"case_id": case_id, "reason": "settled"},
                                                         "mednet.WithdrawCase.v1"))])
        await events_of(kafka, Topics.INTAKE, case_id, "CaseWithdrawn", 1)
        cancelled = await events_of(kafka, Topics.SCHEDULING, case_id, "CallCancelled", 2)
        assert {e.payload().party_id for e in cancelled} == {"p1", "p2"}
        assert {e.payload().side_firm_id for e in cancelled} == {firm, attorney_firm}
