"""The transactional outbox on the real broker and server: written with the state in one document,
relayed at once, republished after a crash, absorbed downstream by the idempotency guard."""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from kafka_helpers import new_topic, read, wait_for
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.platform import outbox
from mednet_shared.platform.consumer import EventConsumer
from mednet_shared.platform.idempotency import IdempotencyGuard
from mednet_shared.platform.kafka import BrokerPublisher, make_broker
from sample_events import call_completed, completed_event

CRASHING_RELAY = Path(__file__).with_name("crashing_relay.py")


async def test_state_and_its_events_are_one_write_and_relayed_at_once(kafka, db, unique):
    topic = await new_topic(kafka, f"test.outbox.{unique}")
    broker = make_broker(kafka, client_id=f"test-{unique}")
    await broker.start()
    relay = outbox.OutboxRelay("test", BrokerPublisher(broker), [db["cases"]], sweep_seconds=3600)
    await relay.start()
    try:
        event = completed_event("case-7")
        started = time.monotonic()
        await db["cases"].update_one(
            {"_id": "case-7"}, outbox.with_events({"$set": {"status": "open"}}, [(topic, event)]), upsert=True
        )
        relay.wake("cases", "case-7")
        records = await read(kafka, topic, 1, timeout=10)
        latency = time.monotonic() - started
        await wait_for(lambda: _pending(db, "case-7", 0))
    finally:
        await relay.stop()
        await broker.stop()
    assert [CloudEvent.from_bytes(r.value).id for r in records] == [event.id]
    assert records[0].key == b"case-7"
    assert dict(records[0].headers)["content-type"] == b"application/cloudevents+json"
    assert latency < 5, "relayed on the writer's wake-up, not on the (hour-long) sweep"
    assert (await db["cases"].find_one({"_id": "case-7"}))["status"] == "open"


async def test_a_relay_killed_between_publishing_and_marking_republishes_and_the_guard_absorbs_it(
    infrastructure, kafka, db, unique
):
    topic = await new_topic(kafka, f"test.outbox.crash.{unique}")
    crashed = subprocess.run(
        [sys.executable, str(CRASHING_RELAY), kafka, infrastructure.mongodb_url, db.name, topic],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(CRASHING_RELAY.parents[1])},
    )
    assert crashed.returncode == -9, crashed.stderr
    event_id = crashed.stdout.strip().splitlines()[-1]
    assert await _pending(db, "case-9", 1), "the crash left the event in the outbox"
    assert len(await read(kafka, topic, 1, timeout=10)) == 1, "it had been published before the crash"

    broker = make_broker(kafka, client_id=f"test-{unique}")
    effects = db["effects"]
    consumer = EventConsumer("test", broker, IdempotencyGuard(db["processed_events"], "test"))

    async def count_effect(incoming) -> None:
        await effects.update_one({"_id": incoming.event.id}, {"$inc": {"times": 1}}, upsert=True)

    consumer.subscribe([topic], {type(call_completed()): count_effect}, group_id=f"test-{unique}")
    await broker.start()
    relay = outbox.OutboxRelay("test", BrokerPublisher(broker), [db["cases"]], sweep_seconds=3600)
    await relay.start()
    try:
        records = await read(kafka, topic, 2, timeout=15)
        assert [CloudEvent.from_bytes(r.value).id for r in records] == [event_id, event_id], "published again"
        await wait_for(lambda: _pending(db, "case-9", 0))
        await wait_for(lambda: effects.find_one({"_id": event_id}))
        await asyncio.sleep(2)
    finally:
        await relay.stop()
        await broker.stop()
    assert (await effects.find_one({"_id": event_id}))["times"] == 1, "exactly once downstream"


async def test_backlog_counts_unpublished_events(kafka, db, unique):
    entries = [(f"test.backlog.{unique}", completed_event(f"case-{n}")) for n in range(3)]
    await db["cases"].insert_one({"_id": "c", outbox.FIELD: outbox.entries(entries)})
    relay = outbox.OutboxRelay("test", BrokerPublisher(make_broker(kafka, client_id="unused")), [db["cases"]])
    assert await relay.backlog() == 3


async def _pending(db, case_id: str, count: int) -> bool:
    document = await db["cases"].find_one({"_id": case_id})
    return len(document.get(outbox.FIELD, [])) == count
