"""aiokafka clients authenticating as one principal of the secured stack."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from mednet_shared.platform.kafka_security import KafkaSecurity

TIMEOUTS = {"request_timeout_ms": 15000}


async def produce_one(bootstrap: str, security: KafkaSecurity, topic: str, value: bytes = b"{}") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                **TIMEOUTS, **security.client_options())
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, value, partition=0), 30)
    finally:
        await producer.stop()


async def read_assigned(bootstrap: str, security: KafkaSecurity, topic: str, group: str | None = None) -> list:
    """Fetch from partition 0 of the topic (assigned, committing to the group if one is given)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                auto_offset_reset="earliest", **TIMEOUTS, **security.client_options())
    await consumer.start()
    try:
        await consumer._client._wait_on_metadata(topic)  # as aiokafka's producer does: raises if not authorized
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        batch = await asyncio.wait_for(consumer.getmany(partition, timeout_ms=2000), 30)
        if group:
            await asyncio.wait_for(consumer.commit(), 30)
        return batch.get(partition, [])
    finally:
        await consumer.stop()


async def join_group(bootstrap: str, security: KafkaSecurity, topic: str, group: str) -> list:
    """Subscribe as a member of the group (coordinator lookup, join, sync) and poll once."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
                                **TIMEOUTS, **security.client_options())
    await consumer.start()
    try:
        batch = await asyncio.wait_for(consumer.getmany(timeout_ms=3000), 45)
        return [record for records in batch.values() for record in records]
    finally:
        await consumer.stop()


async def read_all(bootstrap: str, security: KafkaSecurity, topic: str, seconds: float = 2.0) -> list:
    """Every record of the topic so far (all partitions, no group)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", **TIMEOUTS, **security.client_options())
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=int(seconds * 1000))
        return [record for records in batch.values() for record in records]
    finally:
        await consumer.stop()
