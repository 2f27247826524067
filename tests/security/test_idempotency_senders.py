"""Idempotency knows who sent an event: two firms' commands with the same CloudEvent id both take effect, and a
firm that puts in a command of its own the id the network will derive for another firm's case pre-empts nothing."""

from kafka_helpers import command, as_record, events_of, new_topic, produce, read, wait_for
from offers_helpers import choose_first
from mednet_intake.domain import case_id_for
from mednet_shared.contracts.envelope import CloudEvent, derived_id
from mednet_shared.contracts.topics import Topics
from sample_cases import submission, variant
from services_harness import services


async def test_commands_of_two_firms_with_the_same_id_both_take_effect(infrastructure, kafka, unique):
    firms = [f"a-{unique}", f"b-{unique}"]
    topics = [await new_topic(kafka, Topics.firm_inbound(firm)) for firm in firms]
    async with services(infrastructure, unique, "intake", "scheduling"):
        for n, (firm, topic) in enumerate(zip(firms, topics, strict=True)):
            valid = submission(f"same-{unique}-{n}", mediator_id=f"med-{unique}-{n}", represented_by=firm)
            invalid = variant(valid, "parties", valid["parties"][:1])
            await produce(kafka, topic, [as_record(command(valid, event_id=f"shared-{unique}")),
                                         as_record(command(invalid, event_id=f"shared-invalid-{unique}"))])
        for n, firm in enumerate(firms):
            case_id = case_id_for(firm, f"same-{unique}-{n}")
            await events_of(kafka, Topics.INTAKE, case_id, "CaseOpened", 1, timeout=20)
            await events_of(kafka, Topics.SCHEDULING, case_id, "CallSlotsOffered", 2, timeout=20)

        async def rejected_firms() -> set[str]:
            events = [CloudEvent.from_bytes(r.value) for r in await read(kafka, Topics.INTAKE, 10**6, timeout=1)]
            return {e.firmid for e in events
                    if e.type == "mednet.CaseRejected.v1" and e.causationid == f"shared-invalid-{unique}"}

        await wait_for(lambda: _equal(rejected_firms(), set(firms)), timeout=20, interval=0.5)


async def test_a_command_with_the_id_of_another_firms_future_case_pre_empts_nothing(infrastructure, kafka, unique):
    attacker, victim = f"a-{unique}", f"v-{unique}"
    attacker_topic = await new_topic(kafka, Topics.firm_inbound(attacker))
    victim_topic = await new_topic(kafka, Topics.firm_inbound(victim))
    async with services(infrastructure, unique, "intake", "scheduling"):
        own = submission(f"own-{unique}", mediator_id=f"med-a-{unique}", represented_by=attacker)
        await produce(kafka, attacker_topic, [as_record(command(own))])
        own_case = case_id_for(attacker, own["external_ref"])
        await choose_first(kafka, attacker, own_case, "p1")   # a booked call to move
        await events_of(kafka, Topics.SCHEDULING, own_case, "CallScheduled", 1, timeout=20)

        victim_case = case_id_for(victim, f"victim-{unique}")
        planted = derived_id(victim_case, "opened")
        reschedule = command({"case_id": own_case, "party_id": "p1", "reason": "planted"},
                             "mednet.RequestReschedule.v1", event_id=planted)
        await produce(kafka, attacker_topic, [as_record(reschedule)])
        await events_of(kafka, Topics.SCHEDULING, own_case, "CallRescheduled", 1, timeout=20)

        await produce(kafka, victim_topic, [as_record(command(submission(
            f"victim-{unique}", mediator_id=f"med-v-{unique}", represented_by=victim)))])
        opened = await events_of(kafka, Topics.INTAKE, victim_case, "CaseOpened", 1, timeout=20)
        assert opened[0].id == planted, "the attacker guessed the very id the network derived"
        await events_of(kafka, Topics.SCHEDULING, victim_case, "CallSlotsOffered", 2, timeout=20)


async def _equal(found, expected) -> bool:
    return await found == expected
