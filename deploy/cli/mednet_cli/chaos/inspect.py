"""Read-only looks at the infrastructure after a run: dead letters, unpublished outbox entries, consumer lag."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from .. import records

SERVICES = ("intake", "scheduling", "notes", "notify")


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    reason: str
    service: str


async def dead_letters(bootstrap: str) -> list[DeadLetter]:
    names = list(await records.dead_letter_topics(bootstrap))
    letters = []
    for record in await records.read_all(bootstrap, names, idle_ms=1500) if names else []:
        headers = {key: value.decode(errors="replace") for key, value in record.headers}
        letters.append(DeadLetter(headers.get("x-mednet-dlq-topic", ""), int(headers.get("x-mednet-dlq-partition", -1)),
                                  int(headers.get("x-mednet-dlq-offset", -1)), headers.get("x-mednet-dlq-reason", ""),
                                  headers.get("x-mednet-dlq-service", "")))
    return letters


async def outbox_backlog(mongodb_url: str) -> dict[str, int]:
    """Unpublished outbox entries per service, over every collection of its database."""
    client = AsyncMongoClient(mongodb_url, serverSelectionTimeoutMS=10000)
    try:
        backlog = {}
        for service in SERVICES:
            db = client[f"mednet_{service}"]
            pending = 0
            for name in await db.list_collection_names():
                async for document in db[name].find({"_outbox.0": {"$exists": True}}, {"_outbox": 1}):
                    pending += len(document["_outbox"])
            backlog[service] = pending
        return backlog
    finally:
        await client.close()


async def alerts_due(mongodb_url: str) -> int:
    """notify's alerts due by now and not yet sent or given up: work still in flight (later reminders are not)."""
    from datetime import UTC, datetime

    client = AsyncMongoClient(mongodb_url, serverSelectionTimeoutMS=10000)
    try:
        return await client["mednet_notify"]["jobs"].count_documents(
            {"status": {"$in": ["pending", "sending"]}, "due_at": {"$lte": datetime.now(UTC)}})
    finally:
        await client.close()


async def consumer_lag(bootstrap: str) -> dict[str, int]:
    """Records not yet committed by each service's consumer group, over all the partitions it committed on."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        lag = {}
        for service in SERVICES:
            committed = await admin.list_consumer_group_offsets(f"mednet-{service}")
            ends = await consumer.end_offsets(list(committed)) if committed else {}
            lag[service] = sum(max(0, ends[tp] - meta.offset) for tp, meta in committed.items())
        return lag
    finally:
        await consumer.stop()
        await admin.close()
