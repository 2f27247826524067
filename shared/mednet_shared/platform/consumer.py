"""Event consumption every service shares: parse, skip duplicates, retry transient faults, dead-letter poison.

A record is committed only after its effect is durable (the handler returned and the guard marked
it done), after it was dead-lettered, or after it was recognised as a duplicate. Transient faults
(database or broker unreachable, a claim held elsewhere) are retried with backoff and never
dead-lettered; any other failure is retried a few times and then dead-lettered with the error, so
the partition keeps flowing.

Records arrive in batches: records of one key (one case) are handled in order, different keys at the same
time, and the batch is committed once every record in it is done. If one fails, the whole batch is delivered
again (the guard absorbs what was already done).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import traceback
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pymongo.errors import ConnectionFailure

from ..contracts.envelope import CloudEvent, EnvelopeError
from ..contracts.events import Message
from ..contracts.topics import Topics
from ..contracts.values import utc_now
from . import logs, metrics
from .idempotency import ClaimHeldElsewhere, IdempotencyGuard
from .kafka import BATCH_CONSUMER_DEFAULTS

log = logging.getLogger("mednet.consumer")
M = TypeVar("M", bound=Message)

@dataclass(frozen=True)
class Incoming(Generic[M]):
    """One delivered event: its envelope, its parsed payload, and where it came from."""

    event: CloudEvent
    message: M
    topic: str
    partition: int
    offset: int


Handler = Callable[[Incoming], Awaitable[None]]
InvalidHandler = Callable[[CloudEvent, EnvelopeError, str], Awaitable[None]]


class TransientError(RuntimeError):
    """A fault that goes away by itself (a dependency down): retry, never dead-letter."""


class PoisonMessage(ValueError):
    """A message that can never be processed: dead-letter it at once."""


TRANSIENT = (TransientError, ClaimHeldElsewhere, ConnectionFailure, KafkaConnectionError, KafkaTimeoutError,
             ConnectionError, TimeoutError)


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 0.2
    backoff_max_seconds: float = 10.0

    def delay(self, attempt: int) -> float:
        return min(self.backoff_max_seconds, self.backoff_seconds * 2 ** (attempt - 1))


@dataclass
class EventConsumer:
    service: str
    broker: KafkaBroker
    guard: IdempotencyGuard
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    _attempts: dict[tuple[str, int, int], int] = field(default_factory=dict)

    def subscribe(
        self,
        topics: Iterable[str] = (),
        handlers: dict[type[Message], Handler] | None = None,
        group_id: str = "",
        *,
        on_invalid: dict[type[Message], InvalidHandler] | None = None,
        strict: bool = False,
        passing: Iterable[type[Message]] = (),
        unparseable_left_to: str | None = None,
        **options,
    ) -> None:
        """One subscription of the service. Events of other known types are acknowledged and ignored; with
        strict (firm inbound topics), a type neither handled nor `passing` (handled by another service) is
        dead-lettered. on_invalid turns a schema-invalid payload of that type into a domain answer (e.g.
        CaseRejected) instead of a dead letter. unparseable_left_to names the service that dead-letters records
        that are not even an envelope (the topic's owner), so a topic read by two services gets one dead letter."""
        by_type = {model.type_name(): handler for model, handler in (handlers or {}).items()}
        invalid = {model.type_name(): handler for model, handler in (on_invalid or {}).items()}
        accepted = frozenset(model.type_name() for model in passing) | invalid.keys() if strict else None

        async def on_batch(message: KafkaMessage) -> None:
            await self.process_batch(message.raw_message, by_type, invalid, accepted, unparseable_left_to)

        on_batch.__name__ = f"{self.service}_{group_id}".replace(".", "_").replace("-", "_")
        described = {"description": "Handles " + ", ".join(sorted(by_type)) + "; commits after the effect",
                     "title": f"{self.service}:{'+'.join(topics) or options.get('pattern', '')}:subscribe"}
        self.broker.subscriber(*topics, group_id=group_id, **{**BATCH_CONSUMER_DEFAULTS, **described, **options})(on_batch)

    async def process_batch(self, records: Sequence[ConsumerRecord], handlers: dict[str, Handler],
                            invalid: dict[str, InvalidHandler] | None = None,
                            accepted: frozenset[str] | None = None, unparseable_left_to: str | None = None) -> None:
        """Each key's records in order, the keys concurrently; raises (so nothing is committed) if any failed. The
        batch's events are claimed in one write and marked done in one write, before the offsets are committed."""
        chains: dict[tuple, list[ConsumerRecord]] = defaultdict(list)
        for record in records:
            chains[(record.topic, record.partition, record.key)].append(record)
        batch = Batch({(record.topic, record.partition, record.offset): _parsed(record) for record in records})
        try:
            batch.claims = await self.guard.claim_all({event.id for event in batch.events.values()
                                                       if isinstance(event, CloudEvent) and event.type in handlers})
        except TRANSIENT:
            batch.claims = {}  # each record then claims its own, with the usual retries and backoff

        async def in_order(chain: list[ConsumerRecord]) -> None:
            for record in chain:
                try:
                    await self.process_once_free(record, handlers, invalid, accepted, unparseable_left_to, batch=batch)
                finally:
                    logs.current_event.set(None)

        outcomes = await asyncio.gather(*(in_order(chain) for chain in chains.values()), return_exceptions=True)
        await self.guard.complete_all(batch.completed)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failures:
            with contextlib.suppress(*TRANSIENT):  # else the unused claims wait out their lease
                await self.guard.release_all([event_id for event_id in batch.claims if event_id not in batch.started])
            raise failures[0]

    async def process_once_free(self, record: ConsumerRecord, *args, batch: Batch | None = None) -> None:
        """process(), waiting out another instance's claim on the event (a holder that was killed keeps it until
        its lease ends) in this record's place, while the batch's other keys go on."""
        for attempt in range(1, self.retry.max_attempts + 1):
            try:
                return await self.process(record, *args, batch=batch)
            except ClaimHeldElsewhere as held:
                if attempt == self.retry.max_attempts:
                    await self._before_redelivery((record.topic, record.partition, record.offset), "transient",
                                                  held, "unknown", counted=False)
                    raise
                metrics.RETRIES.labels(self.service, "claim-held").inc()
                await asyncio.sleep(min(held.retry_after, self.retry.backoff_max_seconds) + random.uniform(0.05, 0.3))

    async def process(
        self,
        record: ConsumerRecord,
        handlers: dict[str, Handler],
        invalid: dict[str, InvalidHandler] | None = None,
        accepted: frozenset[str] | None = None,
        unparseable_left_to: str | None = None,
        *,
        batch: Batch | None = None,
    ) -> None:
        position = (record.topic, record.partition, record.offset)
        event = batch.events.get(position) if batch else None
        try:
            event = event or _parsed(record)
            if isinstance(event, EnvelopeError):
                raise event
        except EnvelopeError as error:
            if unparseable_left_to:
                metrics.EVENTS_CONSUMED.labels(self.service, "unknown", f"left-to-{unparseable_left_to}").inc()
                return None
            return await self.dead_letter(record, "unparseable", error, attempts=1)
        logs.current_event.set({"event_id": event.id, "event_type": event.type,
                                 "correlation_id": event.correlationid or event.id,
                                 "causation_id": event.causationid or ""})
        handler = handlers.get(event.type)
        if handler is None:
            if accepted is not None and event.type not in accepted:
                error = EnvelopeError(f"{event.type} is not accepted on {record.topic}")
                return await self.dead_letter(record, "unknown-type", error, attempts=1, event_type=event.type)
            metrics.EVENTS_CONSUMED.labels(self.service, event.type, "ignored").inc()
            return None
        started = time.perf_counter()
        if batch is not None and event.id in batch.completed:
            metrics.DUPLICATES_ABSORBED.labels(self.service, event.type).inc()
            return None
        try:
            if batch is not None:
                batch.started.add(event.id)
            claimed = batch.claims.get(event.id) if batch else None
            async with self.guard.once(event.id, claimed, batch.completed if batch else None) as first:
                if not first:
                    metrics.DUPLICATES_ABSORBED.labels(self.service, event.type).inc()
                else:
                    await self._handle(event, handler, (invalid or {}).get(event.type), *position)
        except EnvelopeError as error:
            return await self.dead_letter(record, "schema-invalid", error, attempts=1, event_type=event.type)
        except PoisonMessage as error:
            return await self.dead_letter(record, "rejected", error, attempts=1, event_type=event.type)
        except ClaimHeldElsewhere:
            raise
        except TRANSIENT as error:
            await self._before_redelivery(position, "transient", error, event.type, counted=False)
            raise
        except Exception as error:
            attempts = self._attempts.get(position, 0) + 1
            if attempts >= self.retry.max_attempts:
                return await self.dead_letter(record, "handler-failed", error, attempts, event_type=event.type)
            await self._before_redelivery(position, "failed", error, event.type, counted=True)
            raise
        self._attempts.pop(position, None)
        metrics.HANDLER_SECONDS.labels(self.service, event.type).observe(time.perf_counter() - started)
        metrics.EVENTS_CONSUMED.labels(self.service, event.type, "processed").inc()
        return None

    @staticmethod
    async def _handle(event: CloudEvent, handler: Handler, on_invalid: InvalidHandler | None,
                      topic: str, partition: int, offset: int) -> None:
        try:
            payload = event.payload()
        except EnvelopeError as error:
            if on_invalid is None:
                raise
            return await on_invalid(event, error, topic)
        await handler(Incoming(event, payload, topic, partition, offset))

    async def _before_redelivery(self, position, kind: str, error: Exception, event_type: str, counted: bool) -> None:
        attempts = self._attempts.get(position, 0) + 1
        self._attempts[position] = attempts if counted else self._attempts.get(position, 0)
        metrics.RETRIES.labels(self.service, kind).inc()
        metrics.EVENTS_CONSUMED.labels(self.service, event_type, f"retry-{kind}").inc()
        log.warning("%s at %s:%s@%s failed (%s, attempt %s): %s; redelivering",
                    event_type, *position, kind, attempts, type(error).__name__)
        await asyncio.sleep(self.retry.delay(attempts))

    async def dead_letter(
        self, record: ConsumerRecord, reason: str, error: BaseException, attempts: int, event_type: str = "unknown"
    ) -> None:
        """Publish the original record to <topic>.dlq with the error; returning lets the offset be committed.
        Guarded by the record's position, so a redelivery after a lost commit (a rebalance, a crash) does not
        dead-letter the same record twice."""
        async with self.guard.once(f"dead-letter/{record.topic}/{record.partition}/{record.offset}") as first:
            if first:
                await self._publish_dead_letter(record, reason, error, attempts)
        self._attempts.pop((record.topic, record.partition, record.offset), None)
        metrics.EVENTS_CONSUMED.labels(self.service, event_type, "dead-lettered").inc()

    async def _publish_dead_letter(self, record: ConsumerRecord, reason: str, error: BaseException,
                                   attempts: int) -> None:
        headers = {key: _text(value) for key, value in (record.headers or [])}
        headers.update({
            "x-mednet-dlq-reason": reason,
            "x-mednet-dlq-error": f"{type(error).__name__}: {error}"[:2000],
            "x-mednet-dlq-stack": _stack_summary(error),
            "x-mednet-dlq-topic": record.topic,
            "x-mednet-dlq-partition": str(record.partition),
            "x-mednet-dlq-offset": str(record.offset),
            "x-mednet-dlq-service": self.service,
            "x-mednet-dlq-attempts": str(attempts),
            "x-mednet-dlq-failed-at": utc_now().isoformat(),
        })
        await self.broker.publish(record.value or b"", topic=Topics.dead_letter(record.topic), key=record.key,
                                  headers=headers)
        metrics.DEAD_LETTERS.labels(self.service, record.topic, reason).inc()
        log.error("dead-lettered %s:%s@%s (%s): %s", record.topic, record.partition, record.offset, reason,
                  type(error).__name__)


@dataclass
class Batch:
    """One delivered batch: its records' envelopes (or why they are none), the events claimed for it in one write,
    those whose handling started, and those done (marked in one write before the batch is committed)."""

    events: dict[tuple[str, int, int], CloudEvent | EnvelopeError]
    claims: dict[str, datetime] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    completed: list[str] = field(default_factory=list)


def _parsed(record: ConsumerRecord) -> CloudEvent | EnvelopeError:
    try:
        return CloudEvent.from_bytes(record.value or b"")
    except EnvelopeError as error:
        return error


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _stack_summary(error: BaseException, frames: int = 6) -> str:
    summary = traceback.extract_tb(error.__traceback__)[-frames:]
    return " | ".join(f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}" for frame in summary)
