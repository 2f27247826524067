"""Reading and writing real Kafka topics from tests."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient

from cloudevents.core.bindings import kafka as cloudevents_kafka
from cloudevents.core.formats.json import JSONFormat

from mednet_shared.contracts.envelope import CONTENT_TYPE, CloudEvent
from mednet_shared.platform.kafka import PRODUCER_DEFAULTS, ensure_topics

ATTRIBUTES = ("specversion", "id", "type", "source", "subject", "datacontenttype", "firmid", "correlationid",
              "causationid")


def event_of(record: ConsumerRecord) -> CloudEvent:
    """A record as the network publishes it, read exactly per the CloudEvents Kafka protocol binding in structured
    mode: the CNCF SDK parses it (its one `content-type: application/cloudevents+json` header, no `ce_`/`ce-`
    attribute header, no second correlation id), it is keyed by its subject, and the envelope reads the same."""
    headers = {key: value or b"" for key, value in record.headers}
    assert headers.get("content-type") == CONTENT_TYPE.encode(), f"not structured mode: {headers}"
    extra = [key for key in headers if key.lower().startswith(("ce_", "ce-")) or key == "correlation_id"]
    assert not extra, f"attribute headers beside a structured CloudEvent: {extra}"
    parsed = cloudevents_kafka.from_structured(cloudevents_kafka.KafkaMessage(headers, record.key, record.value),
                                               JSONFormat())
    event = CloudEvent.from_bytes(record.value)
    sdk = parsed.get_attributes()
    assert {name: sdk.get(name) for name in ATTRIBUTES} == {name: getattr(event, name) for name in ATTRIBUTES}
    assert parsed.get_time() == event.time and parsed.get_data() == event.data
    assert record.key == event.subject.encode() == sdk["partitionkey"].encode(), "keyed by its subject"
    return event


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes, list]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_DEFAULTS)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value, key=key, headers=headers, partition=0)
    finally:
        await producer.stop()


async def read(bootstrap: str, topic: str, count: int, timeout: float = 20.0) -> list[ConsumerRecord]:
    """The first `count` records of a topic (all partitions), or fewer if the timeout passes. Every record the
    topic held when the read began is read, however long the topic (up to CATCH_UP_SECONDS): on a long-lived
    broker a short timeout would otherwise return only the oldest part of a shared topic."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list[ConsumerRecord] = []
    started = time.monotonic()
    ends: dict | None = None
    try:
        while len(records) < count:
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
            if ends is None and consumer.assignment():
                ends = await consumer.end_offsets(list(consumer.assignment()))
            elapsed = time.monotonic() - started
            if elapsed >= max(timeout, CATCH_UP_SECONDS):
                break
            if elapsed >= timeout and (ends is None or await _caught_up(consumer, ends)):
                break
    finally:
        await consumer.stop()
    return records


CATCH_UP_SECONDS = 60.0


async def _caught_up(consumer: AIOKafkaConsumer, ends: dict) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True


async def committed(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
    finally:
        await admin.close()


async def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


async def new_topic(bootstrap: str, name: str, partitions: int = 1) -> str:
    await ensure_topics(bootstrap, [name], partitions=partitions)
    return name


def command(document: dict, command_type: str = "mednet.SubmitCase.v1", event_id: str | None = None) -> CloudEvent:
    return CloudEvent(id=event_id or str(uuid.uuid4()), type=command_type, source="/tests/firm",
                      subject=str(document.get("external_ref") or document.get("case_id") or "x")[:200],
                      time=datetime.now(UTC), data=document)


def as_record(event: CloudEvent) -> tuple[bytes, bytes, list]:
    record = event.to_record("unused")
    return record.key, record.value, [(k, v.encode()) for k, v in record.headers.items()]


async def events_of(kafka: str, topic: str, case_id: str, kind: str, expected: int, timeout: float = 40) -> list:
    found: list[CloudEvent] = []
    key = case_id.encode()

    async def enough() -> bool:
        records = await read(kafka, topic, 10**6, timeout=1.5)
        own = [r for r in records if r.key == key]   # keyed by subject: parse only the case's own records
        distinct: dict[str, CloudEvent] = {}
        for event in map(event_of, own):
            if event.subject == case_id and event.type == f"mednet.{kind}.v1":
                distinct.setdefault(event.id, event)   # each event once: the relay publishes at least once
        found[:] = distinct.values()
        return len(found) >= expected

    await wait_for(enough, timeout=timeout, interval=0.5)
    return found
