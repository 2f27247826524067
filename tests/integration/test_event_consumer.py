"""The consumer every service shares, on the real broker: dead letters keep the partition flowing,
transient faults are retried (never dead-lettered), and the guard makes a redelivered event a no-op."""

import asyncio

from prometheus_client import REGISTRY

from kafka_helpers import committed, new_topic, produce, read, wait_for
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.values import utc_now
from mednet_shared.contracts.events import CallCompleted
from mednet_shared.platform.consumer import EventConsumer, RetryPolicy, TransientError
from mednet_shared.platform.idempotency import IdempotencyGuard
from mednet_shared.platform.kafka import make_broker
from sample_events import completed_event


def retries(kind: str) -> float:
    return REGISTRY.get_sample_value("mednet_handler_retries_total", {"service": "test", "kind": kind}) or 0.0


def _record(event: CloudEvent) -> tuple[bytes, bytes, list]:
    record = event.to_record("unused")
    return record.key, record.value, [(k, v.encode()) for k, v in record.headers.items()]


async def _running_consumer(kafka, db, unique, topic, handler, max_attempts=3, topics=()):
    broker = make_broker(kafka, client_id=f"test-{unique}")
    guard = IdempotencyGuard(db["processed_events"], "test")
    await guard.ensure_indexes()
    consumer = EventConsumer("test", broker, guard, RetryPolicy(max_attempts=max_attempts, backoff_seconds=0.01))
    consumer.subscribe(topics or [topic], {CallCompleted: handler}, group_id=f"test-{unique}")
    await broker.start()
    return broker


async def test_poison_goes_to_the_dead_letter_topic_and_the_next_message_is_processed(kafka, db, unique):
    topic = await new_topic(kafka, f"test.poison.{unique}")
    processed: list[str] = []

    async def handle(incoming) -> None:
        processed.append(incoming.message.case_id)

    broker = await _running_consumer(kafka, db, unique, topic, handle)
    try:
        valid = completed_event("case-after-poison")
        await produce(kafka, topic, [
            (b"case-x", b"{not json", [("x-firm-trace", b"trace-42")]),
            (b"case-x", b'{"specversion": "1.0", "id": "e1", "type": "mednet.CallCompleted.v1", "source": "/t",'
                        b' "subject": "case-x", "time": "2026-11-25T10:00:00Z", "data": {"case_id": {"$gt": ""}}}', []),
            _record(valid),
        ])
        await wait_for(lambda: processed == ["case-after-poison"], timeout=30)
        dead = await read(kafka, f"{topic}.dlq", 2, timeout=15)
    finally:
        await broker.stop()

    assert [r.value[:9] for r in dead] == [b"{not json", b'{"specver']
    first, second = (dict(r.headers) for r in dead)
    assert first["x-mednet-dlq-reason"] == b"unparseable"
    assert b"not JSON" in first["x-mednet-dlq-error"]
    assert first["x-firm-trace"] == b"trace-42", "the original headers are kept"
    assert first["x-mednet-dlq-topic"] == topic.encode()
    assert first["x-mednet-dlq-partition"] == b"0" and first["x-mednet-dlq-offset"] == b"0"
    assert second["x-mednet-dlq-reason"] == b"schema-invalid"
    assert b"data.case_id" in second["x-mednet-dlq-error"] or b"case_id" in second["x-mednet-dlq-error"]
    assert dead[0].key == b"case-x"


async def test_a_handler_failing_every_time_is_dead_lettered_after_its_attempts(kafka, db, unique):
    topic = await new_topic(kafka, f"test.failing.{unique}")
    attempts: dict[str, int] = {}
    processed: list[str] = []

    async def handle(incoming) -> None:
        message = incoming.message
        attempts[message.case_id] = attempts.get(message.case_id, 0) + 1
        if message.case_id == "case-bad":
            raise ValueError("deterministic failure")
        processed.append(message.case_id)

    broker = await _running_consumer(kafka, db, unique, topic, handle, max_attempts=3)
    try:
        await produce(kafka, topic, [_record(completed_event("case-bad")), _record(completed_event("case-good"))])
        await wait_for(lambda: processed == ["case-good"], timeout=30)
        dead = await read(kafka, f"{topic}.dlq", 1, timeout=15)
    finally:
        await broker.stop()
    assert attempts["case-bad"] == 3
    headers = dict(dead[0].headers)
    assert headers["x-mednet-dlq-reason"] == b"handler-failed"
    assert headers["x-mednet-dlq-attempts"] == b"3"
    assert b"deterministic failure" in headers["x-mednet-dlq-error"]
    assert b"test_event_consumer.py" in headers["x-mednet-dlq-stack"]


async def test_transient_faults_are_retried_and_never_dead_lettered(kafka, db, unique):
    topic = await new_topic(kafka, f"test.transient.{unique}")
    attempts = 0
    processed: list[str] = []

    async def handle(incoming) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 5:
            raise TransientError("database unreachable")
        processed.append(incoming.message.case_id)

    broker = await _running_consumer(kafka, db, unique, topic, handle, max_attempts=2)
    try:
        await produce(kafka, topic, [_record(completed_event("case-t"))])
        await wait_for(lambda: processed == ["case-t"], timeout=30)
    finally:
        await broker.stop()
    assert attempts == 6, "more attempts than max_attempts: transient faults do not count"
    assert await read(kafka, f"{topic}.dlq", 1, timeout=2) == []


async def test_the_same_event_delivered_three_times_has_one_effect(kafka, db, unique):
    topic = await new_topic(kafka, f"test.redelivered.{unique}")
    effects: list[str] = []

    async def handle(incoming) -> None:
        effects.append(incoming.event.id)

    broker = await _running_consumer(kafka, db, unique, topic, handle)
    try:
        event, other = completed_event("case-d"), completed_event("case-e")
        await produce(kafka, topic, [_record(event)] * 3 + [_record(other)])
        await wait_for(lambda: other.id in effects, timeout=30)
        await asyncio.sleep(0.5)
    finally:
        await broker.stop()
    assert effects == [event.id, other.id]


async def test_the_guard_admits_one_of_many_concurrent_claims(db):
    guard = IdempotencyGuard(db["processed_events"], "test")
    effects = 0

    async def attempt() -> None:
        nonlocal effects
        try:
            async with guard.once("event-1") as first:
                if first:
                    await asyncio.sleep(0.05)
                    effects += 1
        except Exception:
            pass

    await asyncio.gather(*(attempt() for _ in range(20)))
    await asyncio.gather(*(attempt() for _ in range(5)))
    assert effects == 1
    assert await guard.is_done("event-1")


async def test_a_claim_whose_holder_died_is_taken_over_after_its_lease(db):
    dead_holder = IdempotencyGuard(db["processed_events"], "test", lease_seconds=0.2)
    assert await dead_holder.claim("event-2")
    await asyncio.sleep(0.3)
    assert await IdempotencyGuard(db["processed_events"], "test").claim("event-2")


async def test_a_poison_record_redelivered_after_a_lost_commit_is_dead_lettered_once(kafka, db, unique):
    topic = await new_topic(kafka, f"test.poison-again.{unique}")
    await produce(kafka, topic, [(b"k", b"{not json", [])])

    async def handle(incoming) -> None:
        pass

    for attempt in ("first", "redelivered"):
        broker = await _running_consumer(kafka, db, f"{unique}-{attempt}", topic, handle)
        try:
            async def past_the_record(group=f"test-{unique}-{attempt}") -> bool:
                return (await committed(kafka, group)).get((topic, 0)) == 1
            await wait_for(past_the_record, timeout=30, interval=0.3)
        finally:
            await broker.stop()
    dead = await read(kafka, f"{topic}.dlq", 10, timeout=3)
    assert len(dead) == 1, "the second group read the same record at the same position: no second dead letter"


async def test_a_claim_left_by_a_killed_instance_holds_only_its_own_case_until_its_lease_ends(kafka, db, unique):
    topic = await new_topic(kafka, f"test.held.{unique}")
    held, others = completed_event("case-held"), [completed_event(f"case-free-{n}") for n in range(3)]
    await produce(kafka, topic, [_record(held), *(_record(event) for event in others)])
    loop = asyncio.get_running_loop()
    effects: dict[str, list[float]] = {}

    async def handle(incoming) -> None:
        effects.setdefault(incoming.message.case_id, []).append(loop.time())

    redelivered = retries("transient")
    killed_at = loop.time()
    assert await IdempotencyGuard(db["processed_events"], "test", lease_seconds=4).claim(held.sender_key(topic))
    broker = await _running_consumer(kafka, db, unique, topic, handle)
    try:
        await wait_for(lambda: "case-held" in effects, timeout=30)
        await asyncio.sleep(1)
    finally:
        await broker.stop()

    assert {case: len(times) for case, times in effects.items()} == {
        "case-held": 1, "case-free-0": 1, "case-free-1": 1, "case-free-2": 1}, "each event has its effect once"
    assert max(effects[f"case-free-{n}"][0] for n in range(3)) - killed_at < 3.5, "other cases do not wait"
    assert effects["case-held"][0] - killed_at >= 4, "the held event waits for the killed instance's lease"
    assert retries("transient") == redelivered, "in its place: the batch is not delivered again and again"
    assert retries("claim-held") >= 1
    assert await IdempotencyGuard(db["processed_events"], "test").is_done(held.sender_key(topic))


async def test_a_batch_claims_its_events_in_one_write_and_leaves_the_others_to_claim_one_by_one(db):
    guard = IdempotencyGuard(db["processed_events"], "test", lease_seconds=0.4)
    assert await guard.claim("held-elsewhere")
    async with guard.once("done-before"):
        pass

    claims = await guard.claim_all(["fresh-1", "fresh-2", "held-elsewhere", "done-before"])
    assert set(claims) == {"fresh-1", "fresh-2"}
    assert await guard.hold("fresh-1", claims["fresh-1"]), "a fresh batch claim is used as it is"
    await asyncio.sleep(0.25)
    assert await guard.hold("fresh-2", claims["fresh-2"]), "a batch claim past half its lease is renewed"
    assert await guard.collection.count_documents({"_id": "test:fresh-2", "lease_until": claims["fresh-2"]}) == 0
    await guard.complete_all(["fresh-1", "fresh-2"])
    assert await guard.is_done("fresh-1") and await guard.is_done("fresh-2")
    assert await guard.claim_all(["fresh-1", "done-before"]) == {}

    unused = await guard.claim_all(["never-started"])
    await guard.release_all(list(unused))
    assert await guard.claim("never-started"), "a released claim is free at once"


async def test_a_failure_in_a_batch_releases_the_claims_it_did_not_use_so_the_redelivery_does_not_wait(
        kafka, db, unique):
    topic = await new_topic(kafka, f"test.batch-failure.{unique}")
    first, then = completed_event("case-f"), completed_event("case-f")
    others = [completed_event(f"case-g{n}") for n in range(3)]
    await produce(kafka, topic, [_record(first), _record(then), *(_record(event) for event in others)])
    loop = asyncio.get_running_loop()
    effects: dict[str, float] = {}
    failed: list[str] = []

    async def handle(incoming) -> None:
        if incoming.event.id == first.id and not failed:
            failed.append(incoming.event.id)
            raise ValueError("fails once")
        assert incoming.event.id not in effects, "one effect per event"
        effects[incoming.event.id] = loop.time()

    started = loop.time()
    broker = await _running_consumer(kafka, db, unique, topic, handle)
    try:
        await wait_for(lambda: len(effects) == 5, timeout=30)
        await asyncio.sleep(0.5)
    finally:
        await broker.stop()
    assert set(effects) == {first.id, then.id, *(event.id for event in others)}
    assert effects[then.id] - started < 10, "the record after the failure was not held for its batch claim's lease"
    guard = IdempotencyGuard(db["processed_events"], "test")
    keys = {event.id: event.sender_key(topic) for event in [first, then, *others]}
    assert all([await guard.is_done(keys[event_id]) for event_id in effects])


async def test_the_same_event_id_on_two_topics_is_two_events(kafka, db, unique):
    topics = [await new_topic(kafka, f"test.sender-{n}.{unique}") for n in range(2)]
    effects: list[str] = []

    async def handle(incoming) -> None:
        effects.append(incoming.topic)

    event = completed_event("case-same-id")
    broker = await _running_consumer(kafka, db, unique, None, handle, topics=topics)
    try:
        for topic in topics:
            await produce(kafka, topic, [_record(event)])
        await wait_for(lambda: sorted(effects) == sorted(topics), timeout=30)
    finally:
        await broker.stop()


async def test_an_event_done_under_the_old_key_form_before_the_upgrade_is_not_handled_again(kafka, db, unique):
    topic = await new_topic(kafka, f"test.old-keys.{unique}")
    done_before, pending, later = (completed_event(f"case-{name}") for name in ("done", "pending", "later"))
    for event in (done_before, later):
        await db["processed_events"].insert_one({"_id": f"test:{event.id}", "status": "done", "done_at": utc_now()})
    await produce(kafka, topic, [_record(done_before), _record(pending)])  # delivered again after an upgrade
    effects: list[str] = []

    async def handle(incoming) -> None:
        effects.append(incoming.message.case_id)

    broker = await _running_consumer(kafka, db, unique, topic, handle)
    try:
        await wait_for(lambda: effects == ["case-pending"], timeout=30)
        await produce(kafka, topic, [_record(later)])
        await wait_for(lambda: effects == ["case-pending", "case-later"], timeout=30)
    finally:
        await broker.stop()
    assert await db["processed_events"].count_documents({"_id": f"test:{done_before.sender_key(topic)}",
                                                         "status": "done"}) == 1
