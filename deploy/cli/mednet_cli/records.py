"""Reading the network's topics for people: a case's timeline, and the dead letters with their replay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.kafka import PRODUCER_DEFAULTS
from mednet_shared.platform.kafka_security import PLAINTEXT, KafkaSecurity

DLQ_PREFIX = "x-mednet-dlq-"


@dataclass(frozen=True)
class TimelineEntry:
    time: datetime
    topic: str
    type: str
    id: str
    causation: str | None


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def original_topic(self) -> str:
        return self.headers.get(f"{DLQ_PREFIX}topic", self.topic.removesuffix(".dlq"))

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v.encode()) for k, v in self.headers.items() if not k.startswith(DLQ_PREFIX)]


async def read_all(bootstrap: str, topics: list[str], idle_ms: int = 1500,
                   security: KafkaSecurity = PLAINTEXT) -> list[ConsumerRecord]:
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None, **security.client_options())
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        while batch := await consumer.getmany(timeout_ms=idle_ms):
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()}
    finally:
        await admin.close()


async def timeline(bootstrap: str, case_id: str, security: KafkaSecurity = PLAINTEXT) -> list[TimelineEntry]:
    entries = []
    for record in await read_all(bootstrap, Topics.service_topics(), security=security):
        if record.key != case_id.encode():
            continue
        try:
            event = CloudEvent.from_bytes(record.value)
        except EnvelopeError:
            continue
        entries.append(TimelineEntry(event.time, record.topic, event.type, event.id, event.causationid))
    return sorted(entries, key=lambda entry: entry.time)


async def dead_letter_topics(bootstrap: str, security: KafkaSecurity = PLAINTEXT) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security.client_options())
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if name.endswith(".dlq")]
    finally:
        await admin.close()
    counts = dict.fromkeys(names, 0)
    for record in await read_all(bootstrap, names, idle_ms=1000, security=security) if names else []:
        counts[record.topic] += 1
    return counts


async def dead_letters(bootstrap: str, topic: str, security: KafkaSecurity = PLAINTEXT) -> list[DeadLetter]:
    return [DeadLetter(r.topic, r.offset, r.key, r.value,
                       {k: v.decode(errors="replace") for k, v in r.headers or []})
            for r in await read_all(bootstrap, [topic], idle_ms=1000, security=security)]


async def replay(bootstrap: str, letters: list[DeadLetter], security: KafkaSecurity = PLAINTEXT) -> int:
    """Publish each dead letter again, unchanged, to the topic it came from (acks=all, idempotent)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_DEFAULTS, **security.client_options())
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(letter.original_topic, letter.value, key=letter.key,
                                         headers=letter.original_headers())
    finally:
        await producer.stop()
    return len(letters)
