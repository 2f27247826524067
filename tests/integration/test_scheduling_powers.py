"""On the real stack: scheduling books only a confirmed side, gives the call its place, and answers a firm's
RequestReschedule by its power: the side's own firm moves the call; the submitting firm (another side's call), and
an invalid command, get a CommandRejected on mednet.scheduling.events, none of them dead-lettered."""

import asyncio
from datetime import UTC, datetime

from kafka_helpers import as_record, command, events_of, new_topic, produce, read
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CaseOpened
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Side
from mednet_shared.platform.auth import Role
from offers_helpers import choose_first
from sample_cases import submission
from services_harness import client, services


async def test_the_side_firm_moves_its_call_and_a_wrong_firm_gets_command_rejected(infrastructure, kafka, unique):
    submitter, firm_a, firm_b = f"firm-s{unique}", f"firm-a{unique}", f"firm-b{unique}"
    mediator_id = f"med-{unique}"
    inbound = {firm: await new_topic(kafka, Topics.firm_inbound(firm)) for firm in (submitter, firm_a)}
    document = submission(f"ref-{unique}", mediator_id=mediator_id, days_ahead=14)
    document["parties"][0]["attorney"]["firm_id"] = firm_a
    document["parties"][1]["attorney"]["firm_id"] = firm_b
    now = datetime.now(UTC)
    case = CaseOpened(case_id=f"case-{unique}", firm_id=submitter, participant_firms=[submitter, firm_a],
                      sides=[Side(party_id="p1", role="claimant", firm_id=firm_a, status="confirmed", since=now,
                                  confirmed_by="firm"),
                             Side(party_id="p2", role="respondent", firm_id=firm_b,
                                  status="awaiting_confirmation", since=now)],
                      **document)
    async with services(infrastructure, unique, "scheduling") as apps:
        async with client(apps["scheduling"][0], Role.MEDIATOR, mediator_id=mediator_id) as mediator:
            put = await mediator.put(f"/v1/mediators/{mediator_id}/conferencing",
                                     json={"kind": "video", "url_template": "https://meet.example.org/{room}"})
            assert put.status_code == 200
        opened = new_event(case, "/mednet/intake", firm_id=submitter)
        record = opened.to_record(Topics.INTAKE)
        headers = [(key, value.encode()) for key, value in record.headers.items()]
        await produce(kafka, Topics.INTAKE, [(record.key, record.value, headers)])
        await new_topic(kafka, Topics.firm_inbound(firm_a))
        await choose_first(kafka, firm_a, case.case_id, "p1")   # p1's side chooses its first offered slot
        await events_of(kafka, Topics.SCHEDULING, case.case_id, "CallScheduled", 1)
        calendar = await apps["scheduling"][0].state.scheduler.store.calendar(mediator_id)
        assert list(calendar.calls) == [f"{case.case_id}:p1"], "p2's side is not confirmed: no call for it"
        # ours: the place on our calendar (tests running at the same time may publish the same ids, placeless)
        (scheduled,) = {e.id: e.payload() for e in await events_of(kafka, Topics.SCHEDULING, case.case_id,
                                                                   "CallScheduled", 1) if e.payload().place}.values()
        assert scheduled.party_id == "p1" and scheduled.side_firm_id == firm_a
        assert scheduled.place == calendar.calls[f"{case.case_id}:p1"].place
        assert scheduled.place.url.startswith("https://meet.example.org/") and len(scheduled.place.url) > 40

        move = {"case_id": case.case_id, "party_id": "p1", "reason": "not yours"}
        wrong = command(move, "mednet.RequestReschedule.v1")
        invalid = command({"case_id": case.case_id, "party_id": "", "not_before": "later"},
                          "mednet.RequestReschedule.v1")
        await produce(kafka, inbound[submitter], [as_record(wrong)])
        await produce(kafka, inbound[firm_a], [as_record(invalid)])
        rejected = {e.payload().command_id: e for e in
                    await events_of(kafka, Topics.SCHEDULING, case.case_id, "CommandRejected", 2)}
        refusal, answer = rejected[wrong.id].payload(), rejected[invalid.id].payload()
        assert refusal.firm_id == submitter and [r.field for r in refusal.reasons] == ["party_id"]
        assert refusal.command_type == "mednet.RequestReschedule.v1" and refusal.dead_letter_topic is None
        assert answer.firm_id == firm_a and sorted(r.field for r in answer.reasons) == ["not_before", "party_id"]

        await produce(kafka, inbound[firm_a], [as_record(command(move | {"reason": "travelling"},
                                                                 "mednet.RequestReschedule.v1"))])
        (moved,) = {e.id: e.payload() for e in await events_of(kafka, Topics.SCHEDULING, case.case_id,
                                                               "CallRescheduled", 1) if e.payload().place}.values()
        assert moved.party_id == "p1" and moved.side_firm_id == firm_a and moved.place == scheduled.place

        await asyncio.sleep(2)
        for firm in (submitter, firm_a):
            assert await read(kafka, Topics.dead_letter(inbound[firm]), 1, timeout=1) == [], "nothing dead-lettered"
        again = await events_of(kafka, Topics.SCHEDULING, case.case_id, "CommandRejected", 2)
        assert len({e.id for e in again}) == 2
