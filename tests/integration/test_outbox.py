"""The transactional outbox on the real broker and server: written with the state in one document,
relayed at once, republished after a crash, absorbed downstream by the idempotency guard."""

import asyncio
import os
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

from kafka_helpers import new_topic, read, wait_for
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.platform import outbox
from mednet_shared.platform.consumer import EventConsumer
from mednet_shared.platform.idempotency import IdempotencyGuard
from mednet_shared.platform.kafka import BrokerPublisher, make_broker
from sample_events import call_completed, completed_event

CRASHING_RELAY = Path(__file__).with_name("crashing_relay.py")


@asynccontextmanager
async def _relay_of_cases(kafka, db, unique):
    """A relay of db.cases on its own broker connection, swept only once an hour (so only wake-ups relay)."""
    broker = make_broker(kafka, client_id=f"test-{unique}")
    await broker.start()
    relay = outbox.OutboxRelay("test", BrokerPublisher(broker), [db["cases"]], sweep_seconds=3600)
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()
        await broker.stop()


async def test_state_and_its_events_are_one_write_and_relayed_at_once(kafka, db, unique):
    topic = await new_topic(kafka, f"test.outbox.{unique}")
    async with _relay_of_cases(kafka, db, unique) as relay:
        event = completed_event("case-7")
        started = time.monotonic()
        await db["cases"].update_one(
            {"_id": "case-7"}, outbox.with_events({"$set": {"status": "open"}}, [(topic, event)]), upsert=True
        )
        relay.wake("cases", "case-7")
        records = await read(kafka, topic, 1, timeout=10)
        latency = time.monotonic() - started
        await wait_for(lambda: _pending(db, "case-7", 0))
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


async def test_events_the_writer_got_back_from_its_write_are_relayed_in_order_each_once(kafka, db, unique):
    topic = await new_topic(kafka, f"test.outbox.known.{unique}")
    async with _relay_of_cases(kafka, db, unique) as relay:
        await db["cases"].insert_one({"_id": "case-8", "version": 0})
        events = [completed_event("case-8") for _ in range(3)]
        finds_before = _finds("test")
        for version, event in enumerate(events):
            pending = await outbox.update_collecting(
                db["cases"], {"_id": "case-8", "version": version},
                outbox.with_events({"$inc": {"version": 1}}, [(topic, event)]))
            relay.wake("cases", "case-8", pending)
        stale = await outbox.update_collecting(db["cases"], {"_id": "case-8", "version": 0}, {"$inc": {"version": 1}})
        records = await read(kafka, topic, 3, timeout=10)
        await wait_for(lambda: _pending(db, "case-8", 0))
        await asyncio.sleep(0.5)
        extra = await read(kafka, topic, 4, timeout=2)
    assert stale is None, "a compare-and-set that matched nothing returns no events"
    assert [CloudEvent.from_bytes(r.value).id for r in records] == [event.id for event in events]
    assert len(extra) == 3, "woken three times with overlapping snapshots, each event went out once"
    assert _finds("test") == finds_before, "the relay did not read the document back"


def _finds(service: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("mednet_mongodb_command_seconds_count",
                                     {"service": service, "command": "find", "outcome": "ok"}) or 0.0
