"""Event consumption every service shares: parse, skip duplicates, retry transient faults, dead-letter poison.

A record is committed only after its effect is durable (the handler returned and the guard marked
it done), after it was dead-lettered, or after it was recognised as a duplicate. Transient faults
(database or broker unreachable, a claim held elsewhere) are retried with backoff and never
dead-lettered; any other failure is retried a few times and then dead-lettered with the error, so
the partition keeps flowing.

Records arrive in batches: records of one key (one case) are handled in order, different keys at the same
time, and the batch is committed once every record in it is done. If one fails, the whole batch is delivered
again (the guard absorbs what was already done), as often as the retry policy allows that record.

Hostile records: reading a record never raises. One over the size limit (value, key and headers), or one that is
not an envelope for any reason (not UTF-8 JSON, a number past the int conversion limit, nesting past the
recursion limit, ...), is dead-lettered at once with that reason. A dead letter the broker refuses (its original
headers or value too big) is sent again without them; one that cannot be sent at all is logged and skipped. Log
lines and dead-letter headers carry bounded excerpts, never the record.

The guard's key says who sent the event (topic, source, id: `CloudEvent.sender_key`), so an event of one firm
never absorbs another firm's. Metric labels take only the catalog's types (`metrics.type_label`). A command of a
firm's inbound topic starts its own correlation (`CloudEvent.as_firm_command`: correlationid = its id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
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
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from ..contracts.envelope import MAX_EVENT_BYTES, CloudEvent, EnvelopeError, describe
from ..contracts.events import Message
from ..contracts.topics import Topics
from ..contracts.values import utc_now
from . import logs, metrics
from .idempotency import ClaimHeldElsewhere, IdempotencyGuard
from .kafka import BATCH_CONSUMER_DEFAULTS

log = logging.getLogger("mednet.consumer")
M = TypeVar("M", bound=Message)

MAX_RECORD_BYTES_VARIABLE = "MEDNET_MAX_RECORD_BYTES"
COPIED_HEADERS_BYTES = 16 * 1024  # original headers larger than this together are left out of a dead letter
EXCERPT_BYTES = 64 * 1024  # of the value, in a dead letter the broker refused whole
ERROR_CHARS = 2000  # of an error's text, in a dead letter's header
LOGGED_CHARS = 200  # of any text taken from a record, in a log line

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
# after a record was dead-lettered: (its envelope or None, its value, the error, the dead letter topic, its topic;
# record=its place, "<partition>@<offset>")
DeadLetterHook = Callable[..., Awaitable[None]]


class TransientError(RuntimeError):
    """A fault that goes away by itself (a dependency down): retry, never dead-letter."""


class PoisonMessage(ValueError):
    """A message that can never be processed: dead-letter it at once."""


class RecordTooLarge(EnvelopeError):
    """A record over the consumer's size limit: its value, key and headers together."""


def configured_max_record_bytes() -> int:
    """MEDNET_MAX_RECORD_BYTES: the largest record a consumer reads (value, key and headers); default 256 KiB."""
    value = os.environ.get(MAX_RECORD_BYTES_VARIABLE, str(MAX_EVENT_BYTES))
    try:
        limit = int(value)
    except ValueError:
        raise ValueError(f"{MAX_RECORD_BYTES_VARIABLE} must be a number of bytes, got {value[:40]!r}") from None
    if limit < 1024:
        raise ValueError(f"{MAX_RECORD_BYTES_VARIABLE} must be at least 1024 bytes, got {limit}")
    return limit


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
    max_record_bytes: int = field(default_factory=configured_max_record_bytes)
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))  # records older may hold old-form keys
    after_dead_letter: DeadLetterHook | None = None  # e.g. answer the sender; called again on a redelivery
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
        self.broker.subscriber(*topics, group_id=group_id, decoder=_undecoded,
                               **{**BATCH_CONSUMER_DEFAULTS, **described, **options})(on_batch)

    async def process_batch(self, records: Sequence[ConsumerRecord], handlers: dict[str, Handler],
                            invalid: dict[str, InvalidHandler] | None = None,
                            accepted: frozenset[str] | None = None, unparseable_left_to: str | None = None) -> None:
        """Each key's records in order, the keys concurrently; raises (so nothing is committed) if any failed. The
        batch's events are claimed in one write and marked done in one write, before the offsets are committed."""
        chains: dict[tuple, list[ConsumerRecord]] = defaultdict(list)
        for record in records:
            chains[(record.topic, record.partition, record.key)].append(record)
        batch = Batch({_position(record): self.parsed(record) for record in records})
        handled = {_position(record): event.sender_key(record.topic) for record in records
                   if isinstance(event := batch.events[_position(record)], CloudEvent) and event.type in handlers}
        await self._adopt_old_keys([key for record in records if record.timestamp < self.started_ms
                                    and (key := handled.get(_position(record)))])
        try:
            batch.claims = await self.guard.claim_all(set(handled.values()))
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
                await self.guard.release_all([key for key in batch.claims if key not in batch.started])
            raise failures[0]

    async def _adopt_old_keys(self, keys: list[str]) -> None:
        """Records from before this process started may have been handled under the guard's old key form."""
        if not keys:
            return
        try:
            await self.guard.adopt_old_keys(keys)
        except TRANSIENT as error:
            log.warning("old idempotency keys not read (%s); redelivering the batch", type(error).__name__)
            await asyncio.sleep(self.retry.delay(self.retry.max_attempts))
            raise

    def parsed(self, record: ConsumerRecord) -> CloudEvent | EnvelopeError:
        """The record's envelope, or why it is none; never raises, whatever the record holds."""
        size = _size(record)
        if size > self.max_record_bytes:
            return RecordTooLarge(f"record of {size} bytes (value, key and headers) exceeds the limit of "
                                  f"{self.max_record_bytes} bytes")
        try:
            event = CloudEvent.from_bytes(record.value or b"", self.max_record_bytes)
            return event.as_firm_command() if Topics.firm_of_inbound(record.topic) else event
        except EnvelopeError as error:
            return error
        except Exception as error:  # from_bytes names what it knows; anything else makes the record as unreadable
            return EnvelopeError(f"unreadable record: {type(error).__name__}: {_excerpt(error)}")

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
        position = _position(record)
        event = (batch.events.get(position) if batch else None) or self.parsed(record)
        if isinstance(event, EnvelopeError):
            if unparseable_left_to:
                metrics.EVENTS_CONSUMED.labels(self.service, "unknown", f"left-to-{unparseable_left_to}").inc()
                return None
            reason = "too-large" if isinstance(event, RecordTooLarge) else "unparseable"
            return await self.dead_letter(record, reason, event, attempts=1)
        key, kind = event.sender_key(record.topic), metrics.type_label(event.type)
        logs.current_event.set({"event_id": event.id, "event_type": event.type[:LOGGED_CHARS],
                                 "correlation_id": (event.correlationid or event.id)[:LOGGED_CHARS],
                                 "causation_id": (event.causationid or "")[:LOGGED_CHARS]})
        handler = handlers.get(event.type)
        if handler is None:
            if accepted is not None and event.type not in accepted:
                error = EnvelopeError(f"{event.type[:LOGGED_CHARS]} is not accepted on {record.topic}")
                return await self.dead_letter(record, "unknown-type", error, attempts=1, event_type=event.type)
            metrics.EVENTS_CONSUMED.labels(self.service, kind, "ignored").inc()
            return None
        started = time.perf_counter()
        if batch is not None and key in batch.completed:
            metrics.DUPLICATES_ABSORBED.labels(self.service, kind).inc()
            return None
        try:
            if batch is not None:
                batch.started.add(key)
            claimed = batch.claims.get(key) if batch else None
            async with self.guard.once(key, claimed, batch.completed if batch else None) as first:
                if not first:
                    metrics.DUPLICATES_ABSORBED.labels(self.service, kind).inc()
                else:
                    await self._handle(event, handler, (invalid or {}).get(event.type), *position)
        except EnvelopeError as error:
            return await self.dead_letter(record, "schema-invalid", error, attempts=1, event_type=event.type)
        except (PoisonMessage, ValidationError) as error:  # invalid data stays invalid: retrying cannot help
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
        metrics.HANDLER_SECONDS.labels(self.service, kind).observe(time.perf_counter() - started)
        metrics.EVENTS_CONSUMED.labels(self.service, kind, "processed").inc()
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
        metrics.EVENTS_CONSUMED.labels(self.service, metrics.type_label(event_type), f"retry-{kind}").inc()
        log.warning("%s at %s:%s@%s failed (%s, attempt %s): %s; redelivering",
                    event_type[:LOGGED_CHARS], *position, kind, attempts, type(error).__name__)
        await asyncio.sleep(self.retry.delay(max(attempts, 1)))

    async def dead_letter(
        self, record: ConsumerRecord, reason: str, error: BaseException, attempts: int, event_type: str = "unknown"
    ) -> None:
        """Publish the original record to <topic>.dlq with the error; returning lets the offset be committed.
        Guarded by the record's position, so a redelivery after a lost commit (a rebalance, a crash) does not
        dead-letter the same record twice. Only a transient fault (broker or database away) makes it raise: the
        record is then delivered again after the backoff."""
        position = _position(record)
        try:
            async with self.guard.once(f"dead-letter/{record.topic}/{record.partition}/{record.offset}") as first:
                if first:
                    await self._publish_dead_letter(record, reason, error, attempts)
        except TRANSIENT as fault:
            await self._before_redelivery(position, "transient", fault, event_type, counted=False)
            raise
        self._attempts.pop(position, None)
        metrics.EVENTS_CONSUMED.labels(self.service, metrics.type_label(event_type), "dead-lettered").inc()
        if self.after_dead_letter is not None:
            parsed = self.parsed(record)
            try:
                await self.after_dead_letter(parsed if isinstance(parsed, CloudEvent) else None, record.value or b"",
                                             error, Topics.dead_letter(record.topic), record.topic,
                                             record=f"{record.partition}@{record.offset}")
            except TRANSIENT as fault:  # the dead letter is guarded: a redelivery only answers again
                await self._before_redelivery(position, "transient", fault, event_type, counted=False)
                raise
            except Exception as failed:
                log.error("after dead-lettering %s:%s@%s: %s", record.topic, record.partition, record.offset,
                          type(failed).__name__)

    async def _publish_dead_letter(self, record: ConsumerRecord, reason: str, error: BaseException,
                                   attempts: int) -> None:
        where, topic = f"{record.topic}:{record.partition}@{record.offset}", Topics.dead_letter(record.topic)
        why = {
            "x-mednet-dlq-reason": reason,
            "x-mednet-dlq-error": _clean(f"{type(error).__name__}: {_excerpt(error, ERROR_CHARS)}", ERROR_CHARS),
            "x-mednet-dlq-stack": _clean(_stack_summary(error), ERROR_CHARS),
            "x-mednet-dlq-topic": record.topic,
            "x-mednet-dlq-partition": str(record.partition),
            "x-mednet-dlq-offset": str(record.offset),
            "x-mednet-dlq-service": self.service,
            "x-mednet-dlq-attempts": str(attempts),
            "x-mednet-dlq-failed-at": utc_now().isoformat(),
        }
        value, originals = record.value or b"", list(record.headers or ())
        copied = _copied(originals)
        dropped = {} if copied is not None else {"x-mednet-dlq-headers-dropped": str(len(originals))}
        try:
            await self.broker.publish(value, topic=topic, key=record.key, headers={**(copied or {}), **why, **dropped})
        except TRANSIENT:
            raise
        except Exception as refused:
            log.warning("dead letter of %s refused (%s); sending it without the original headers and with at most "
                        "%s bytes of the value", where, type(refused).__name__, EXCERPT_BYTES)
            excerpt = {"x-mednet-dlq-headers-dropped": str(len(originals)), "x-mednet-dlq-value-bytes": str(len(value))}
            try:
                await self.broker.publish(value[:EXCERPT_BYTES], topic=topic, key=(record.key or b"")[:1024] or None,
                                          headers={**why, **excerpt})
            except TRANSIENT:
                raise
            except Exception as failed:
                metrics.DEAD_LETTERS.labels(self.service, record.topic, "dead-letter-failed").inc()
                log.error("%s (%s) could not be dead-lettered (%s); skipped", where, reason, type(failed).__name__)
                return
        metrics.DEAD_LETTERS.labels(self.service, record.topic, reason).inc()
        log.error("dead-lettered %s (%s): %s", where, reason, type(error).__name__)


@dataclass
class Batch:
    """One delivered batch: its records' envelopes (or why they are none), by position; by guard key, the events
    claimed for it in one write, those whose handling started, and those done (marked in one write before the batch
    is committed)."""

    events: dict[tuple[str, int, int], CloudEvent | EnvelopeError]
    claims: dict[str, datetime] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    completed: list[str] = field(default_factory=list)


def _position(record: ConsumerRecord) -> tuple[str, int, int]:
    return record.topic, record.partition, record.offset


def _size(record: ConsumerRecord) -> int:
    headers = sum(len(key) + len(value or b"") for key, value in record.headers or ())
    return len(record.value or b"") + len(record.key or b"") + headers


def _copied(headers: list[tuple[str, bytes | None]]) -> dict[str, str] | None:
    """The original headers, as text, for a dead letter; None if they are too big to copy."""
    if sum(len(key) + len(value or b"") for key, value in headers) > COPIED_HEADERS_BYTES:
        return None
    return {_clean(key, 256): _clean(_text(value), COPIED_HEADERS_BYTES) for key, value in headers}


def _undecoded(message: KafkaMessage) -> None:
    """FastStream would parse every record's JSON itself (and fail on a hostile one); process_batch reads the raw
    records."""
    return None


def _excerpt(error: BaseException, limit: int = LOGGED_CHARS) -> str:
    """The error's text, cut; a validation error's without the input it quotes (it may be confidential)."""
    try:
        return (describe(error) if isinstance(error, ValidationError) else str(error))[:limit]
    except Exception:
        return "(no text)"


def _clean(text: str, limit: int) -> str:
    """At most limit characters, encodable as UTF-8 (a lone surrogate from a JSON escape becomes '?')."""
    return text[:limit].encode("utf-8", "replace").decode("utf-8")


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _stack_summary(error: BaseException, frames: int = 6) -> str:
    summary = traceback.extract_tb(error.__traceback__)[-frames:]
    return " | ".join(f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}" for frame in summary)
