"""Kafka with safe defaults: acks=all + idempotent producer, commit only after the handler succeeded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, TopicAuthorizationFailedError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from prometheus_client import REGISTRY

from ..contracts.envelope import KafkaRecord
from ..contracts.topics import Topics
from .kafka_security import PLAINTEXT, KafkaSecurity

log = logging.getLogger("mednet.kafka")

# linger 0: a relay queues all of its events at once and waits for their acks, so waiting to fill a batch only adds
# latency; what arrives while a request is in flight still goes in the next one.
PRODUCER_DEFAULTS = {"acks": "all", "enable_idempotence": True, "linger_ms": 0, "request_timeout_ms": 30000}
METADATA_MAX_AGE_MS = 10000  # how soon a pattern subscription (firm inbound topics) sees a new firm's topic
# NACK_ON_ERROR: a handler that raises has its message redelivered (the consumer seeks back); the
# offset is committed only after the handler returned. Never ACK_FIRST, which is at-most-once.
SAFE_ACK_POLICY = AckPolicy.NACK_ON_ERROR
CONSUMER_DEFAULTS = {
    "ack_policy": SAFE_ACK_POLICY,
    "auto_offset_reset": "earliest",
    "max_poll_records": 100,
    "session_timeout_ms": 10000,
    "heartbeat_interval_ms": 3000,
}

# Batches of up to max_records, committed once every record in them is done. An empty poll waits at most
# batch_timeout_ms (twice: faststream then sleeps as long), so a quiet topic adds at most that to latency.
BATCH_CONSUMER_DEFAULTS = {**CONSUMER_DEFAULTS, "batch": True, "max_records": 100, "batch_timeout_ms": 5}

_prometheus: KafkaPrometheusMiddleware | None = None


def _prometheus_middleware() -> KafkaPrometheusMiddleware:
    global _prometheus
    if _prometheus is None:
        _prometheus = KafkaPrometheusMiddleware(registry=REGISTRY, metrics_prefix="mednet_faststream")
    return _prometheus


def make_broker(bootstrap_servers: str, client_id: str, graceful_timeout: float = 8.0,
                security: KafkaSecurity = PLAINTEXT) -> KafkaBroker:
    return KafkaBroker(
        servers(bootstrap_servers),
        client_id=client_id,
        graceful_timeout=graceful_timeout,
        middlewares=[_prometheus_middleware()],
        logger=logging.getLogger(f"mednet.{client_id}.kafka"),
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
        id_generator=no_correlation_header,
        security=broker_security(security),
        **PRODUCER_DEFAULTS,
    )


def no_correlation_header() -> str:
    """FastStream adds a `correlation_id` header to every record unless its id generator gives "": the CloudEvent's
    `correlationid` attribute is the only correlation id (structured mode: every attribute is in the value)."""
    return ""


def servers(bootstrap_servers: str) -> list[str]:
    """KAFKA_BOOTSTRAP_SERVERS as a list: FastStream takes a single string as one host."""
    return [server.strip() for server in bootstrap_servers.split(",") if server.strip()]


def broker_security(security: KafkaSecurity) -> BaseSecurity | None:
    """FastStream's form of the same settings (SASL/SCRAM, with TLS under SASL_SSL)."""
    if not security.uses_sasl:
        return None
    scram = SASLScram512 if security.mechanism == "SCRAM-SHA-512" else SASLScram256
    options = security.client_options()
    return scram(security.username, security.password, ssl_context=options.get("ssl_context"),
                 use_ssl=security.protocol == "SASL_SSL")


class BrokerPublisher:
    """Publishes a KafkaRecord and returns once the broker acknowledged it (acks=all)."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    async def publish(self, record: KafkaRecord) -> None:
        await self.broker.publish(record.value, topic=record.topic, key=record.key, headers=record.headers)

    async def send(self, record: KafkaRecord) -> asyncio.Future:
        return await self.broker.publish(record.value, topic=record.topic, key=record.key, headers=record.headers,
                                         no_confirm=True)


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[str], partitions: int = 3, replication: int = 1, timeout: float = 15.0,
    security: KafkaSecurity = PLAINTEXT,
) -> None:
    """Create each topic and its dead-letter topic if missing (idempotent)."""
    names = sorted({name for topic in topics for name in (topic, Topics.dead_letter(topic))})
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000),
                                **security.client_options())
    await asyncio.wait_for(admin.start(), timeout)
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, partitions, replication) for name in names if name not in existing]
        if missing:
            try:
                await admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            except TopicAuthorizationFailedError:
                if not security.uses_sasl:
                    raise
                log.info("no right to create %s: on a secured cluster the operator provisions topics",
                         ", ".join(t.name for t in missing))
    finally:
        await admin.close()
