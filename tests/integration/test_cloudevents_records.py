"""The CloudEvents Kafka protocol binding on the real stack, read by the CNCF SDK (kafka_helpers.event_of): what a
firm gets back on its outbound topic is a structured CloudEvent (one content-type header, no ce_/ce- or
correlation_id header), keyed by the case id (a rejected submission by the firm's reference), and its correlationid
is the command's id whatever correlationid the firm sent. A record of a firm's inbound topic that is dead-lettered,
even garbage with no id, is answered to that firm, by its place on the topic; another firm hears nothing."""

import json

from kafka_helpers import as_record, command, event_of, events_of, new_topic, produce, read
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.kafka import BrokerPublisher, make_broker
from sample_events import completed_event
from sample_cases import DELETE, submission, variant
from services_harness import services


async def test_answers_are_structured_cloudevents_and_a_dead_letter_is_answered_to_its_firm(
        infrastructure, kafka, unique):
    a, b = f"firm-a{unique}", f"firm-b{unique}"
    for firm in (a, b):
        await new_topic(kafka, Topics.firm_inbound(firm))
        await new_topic(kafka, Topics.firm_outbound(firm))
    reference = f"ref-{unique}"
    untitled = command(variant(submission(reference), "title", DELETE))
    untitled = untitled.model_copy(update={"correlationid": f"firm-b-chain-{unique}"})   # the firm's own claim
    async with services(infrastructure, unique, "intake", "notify"):
        await produce(kafka, Topics.firm_inbound(a), [(None, b"\x00 not json, no id", []), as_record(untitled)])
        inbound = await read(kafka, Topics.firm_inbound(a), 2)
        garbage_at = next(f"{r.partition}@{r.offset}" for r in inbound if r.value.startswith(b"\x00"))

        [dead] = await events_of(kafka, Topics.firm_outbound(a), f"record {garbage_at}", "CommandRejected", 1)
        answer = dead.payload()
        assert (answer.firm_id, answer.command_id, answer.record) == (a, "", garbage_at)
        assert answer.dead_letter_topic == Topics.dead_letter(Topics.firm_inbound(a))
        assert answer.reasons[0].message.startswith("not JSON"), answer.reasons

        [rejected] = await events_of(kafka, Topics.firm_outbound(a), reference, "CaseRejected", 1)
        assert rejected.data["case_id"] is None and rejected.data["external_ref"] == reference
        assert rejected.correlationid == untitled.id, "the command's id, never the correlationid the firm claimed"
        [original] = await events_of(kafka, Topics.INTAKE, reference, "CaseRejected", 1)
        assert (original.correlationid, original.causationid) == (untitled.id, untitled.id)
        assert {r.field for r in rejected.payload().reasons} == {"title"}

        assert await read(kafka, Topics.firm_outbound(b), 1, timeout=3) == [], "another firm hears nothing"
        everything = b"".join(r.value for r in await read(kafka, Topics.firm_outbound(a), 10**6, timeout=2))
        assert b.encode() not in everything and json.loads(rejected.model_dump_json())["firmid"] == a
        assert all(event_of(r) for r in await read(kafka, Topics.firm_outbound(a), 10**6, timeout=2))


async def test_the_services_broker_adds_no_header_of_its_own(kafka, unique):
    """FastStream adds a `correlation_id` header (a fresh uuid, never the event's correlationid) unless told not to."""
    topic = await new_topic(kafka, f"test.cloudevents.{unique}")
    broker = make_broker(kafka, client_id=f"test-{unique}")
    await broker.start()
    try:
        event = completed_event(f"case-{unique}")
        await BrokerPublisher(broker).publish(event.to_record(topic))
        await (await BrokerPublisher(broker).send(event.to_record(topic)))
    finally:
        await broker.stop()
    records = await read(kafka, topic, 2, timeout=20)
    assert [r.headers for r in records] == [(("content-type", b"application/cloudevents+json"),)] * 2
    assert [event_of(r).id for r in records] == [event.id] * 2
