"""Real messages through the real broker with the platform's safe defaults (acks=all, idempotence,
commit only after the handler returned, redelivery when it raises)."""

import asyncio

from faststream.kafka.annotations import KafkaMessage

from kafka_helpers import committed, new_topic, produce, wait_for
from mednet_shared.platform.kafka import CONSUMER_DEFAULTS, PRODUCER_DEFAULTS, make_broker


def test_safe_producer_and_consumer_defaults():
    assert PRODUCER_DEFAULTS["acks"] == "all"
    assert PRODUCER_DEFAULTS["enable_idempotence"] is True
    assert CONSUMER_DEFAULTS["ack_policy"].value == "nack_on_error"


async def test_the_broker_producer_is_idempotent_with_acks_all(kafka, unique):
    broker = make_broker(kafka, client_id=f"test-{unique}")
    await broker.start()
    try:
        producer = broker.config.producer._producer.producer
        assert producer._txn_manager is not None, "idempotence on (aiokafka keeps a producer id manager)"
        assert producer._sender._acks == -1, "acks=all"
    finally:
        await broker.stop()


async def test_messages_flow_through_the_broker_and_the_group_commits_after_processing(kafka, unique):
    topic = await new_topic(kafka, f"test.delivery.{unique}")
    group = f"test-group-{unique}"
    broker = make_broker(kafka, client_id=f"test-{unique}")
    received: list[bytes] = []
    release_first = asyncio.Event()
    first_in_handler = asyncio.Event()

    @broker.subscriber(topic, group_id=group, **CONSUMER_DEFAULTS)
    async def handle(message: KafkaMessage) -> None:
        if message.body == b"message-0":
            first_in_handler.set()
            await release_first.wait()
        received.append(message.body)

    await broker.start()
    try:
        for number in range(50):
            await broker.publish(f"message-{number}".encode(), topic=topic, key=b"case-1")
        await asyncio.wait_for(first_in_handler.wait(), 30)
        offsets_while_processing = await committed(kafka, group)
        assert offsets_while_processing.get((topic, 0), -1) <= 0, "nothing is committed before the handler returns"

        release_first.set()
        await wait_for(lambda: len(received) == 50, timeout=30)
        await wait_for(lambda: _committed_at(kafka, group, topic, 50), timeout=15)
    finally:
        await broker.stop()
    assert received == [f"message-{number}".encode() for number in range(50)], "per-key order is kept"


async def test_a_handler_that_raises_does_not_lose_its_message(kafka, unique):
    topic = await new_topic(kafka, f"test.redelivery.{unique}")
    group = f"test-group-{unique}"
    broker = make_broker(kafka, client_id=f"test-{unique}")
    attempts: dict[bytes, int] = {}
    processed: list[bytes] = []

    @broker.subscriber(topic, group_id=group, **CONSUMER_DEFAULTS)
    async def handle(message: KafkaMessage) -> None:
        attempts[message.body] = attempts.get(message.body, 0) + 1
        if message.body == b"flaky" and attempts[message.body] < 3:
            raise RuntimeError("simulated handler failure")
        processed.append(message.body)

    await broker.start()
    try:
        await produce(kafka, topic, [(b"k", b"before", []), (b"k", b"flaky", []), (b"k", b"after", [])])
        await wait_for(lambda: len(processed) == 3, timeout=30)
        await wait_for(lambda: _committed_at(kafka, group, topic, 3), timeout=15)
    finally:
        await broker.stop()
    assert attempts[b"flaky"] == 3, "the failing message was redelivered until it succeeded"
    assert processed == [b"before", b"flaky", b"after"], "and the partition's order was kept"


async def test_an_uncommitted_message_is_redelivered_to_the_next_consumer_of_the_group(kafka, unique):
    topic = await new_topic(kafka, f"test.crash.{unique}")
    group = f"test-group-{unique}"
    crashing = make_broker(kafka, client_id=f"test-a-{unique}")
    entered = asyncio.Event()

    @crashing.subscriber(topic, group_id=group, **CONSUMER_DEFAULTS)
    async def stuck(message: KafkaMessage) -> None:
        entered.set()
        await asyncio.sleep(3600)

    await crashing.start()
    await produce(kafka, topic, [(b"k", b"the-message", [])])
    await asyncio.wait_for(entered.wait(), 30)
    await crashing.stop()

    survivor = make_broker(kafka, client_id=f"test-b-{unique}")
    delivered: list[bytes] = []

    @survivor.subscriber(topic, group_id=group, **CONSUMER_DEFAULTS)
    async def handle(message: KafkaMessage) -> None:
        delivered.append(message.body)

    await survivor.start()
    try:
        await wait_for(lambda: delivered == [b"the-message"], timeout=30)
    finally:
        await survivor.stop()


async def _committed_at(kafka: str, group: str, topic: str, offset: int) -> bool:
    return (await committed(kafka, group)).get((topic, 0)) == offset
