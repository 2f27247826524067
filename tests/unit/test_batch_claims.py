"""The consumer's batch claims and hostile records, with a guard that keeps its state in memory and a broker that
publishes into a list (the real ones are tested on MongoDB and Kafka)."""

import dataclasses

import pytest
from aiokafka import ConsumerRecord
from hypothesis import given
from hypothesis import strategies as st
from pymongo.errors import AutoReconnect

from mednet_shared.contracts.events import CallCompleted
from mednet_shared.platform.consumer import EventConsumer, RetryPolicy
from sample_events import completed_event


class MemoryGuard:
    def __init__(self, claims_fail: bool = False) -> None:
        self.claims_fail = claims_fail
        self.done: set[str] = set()
        self.batch_writes: list[str] = []

    async def claim_all(self, event_ids):
        self.batch_writes.append("claim_all")
        if self.claims_fail:
            raise AutoReconnect("the database went away")
        return {event_id: None for event_id in event_ids if event_id not in self.done}

    async def complete_all(self, event_ids):
        self.batch_writes.append("complete_all")
        self.done |= set(event_ids)

    async def release_all(self, event_ids):
        pass

    async def adopt_old_keys(self, event_keys):
        pass

    def once(self, event_id, lease_until=None, completed=None):
        guard = self

        class Once:
            async def __aenter__(self):
                return event_id not in guard.done

            async def __aexit__(self, kind, error, trace):
                if kind is not None:
                    return
                if completed is not None:
                    completed.append(event_id)
                else:
                    guard.done.add(event_id)

        return Once()


def _record(event, offset: int) -> ConsumerRecord:
    record = event.to_record("t")
    return ConsumerRecord("t", 0, offset, 0, 0, record.key, record.value, None, 0, 0,
                          [(k, v.encode()) for k, v in record.headers.items()])


async def test_a_batch_is_claimed_and_completed_in_one_write_each_and_a_duplicate_in_it_has_no_second_effect():
    guard, effects = MemoryGuard(), []
    consumer = EventConsumer("test", broker=None, guard=guard)
    event, other = completed_event("case-a"), completed_event("case-b")

    async def handle(incoming) -> None:
        effects.append(incoming.event.id)

    records = [_record(event, 0), _record(event, 1), _record(other, 2)]
    await consumer.process_batch(records, {CallCompleted.type_name(): handle})
    assert sorted(effects) == sorted([event.id, other.id])
    assert guard.batch_writes == ["claim_all", "complete_all"]
    assert guard.done == {event.sender_key("t"), other.sender_key("t")}


async def test_when_the_batch_claim_cannot_be_written_each_record_is_still_handled_once():
    guard, effects = MemoryGuard(claims_fail=True), []
    consumer = EventConsumer("test", broker=None, guard=guard)
    events = [completed_event(f"case-{n}") for n in range(3)]

    async def handle(incoming) -> None:
        effects.append(incoming.event.id)

    await consumer.process_batch([_record(e, n) for n, e in enumerate(events)], {CallCompleted.type_name(): handle})
    assert sorted(effects) == sorted(e.id for e in events)
    assert guard.done == {e.sender_key("t") for e in events}


class Broker:
    """Publishes into a list; refuses the first `refusals` records with `error`, and any header not UTF-8."""

    def __init__(self, refusals: int = 0, error: Exception | None = None) -> None:
        self.refusals, self.error, self.published = refusals, error, []

    async def publish(self, value, topic, key, headers):
        for name, text in headers.items():
            name.encode(), text.encode()
        if self.refusals:
            self.refusals -= 1
            raise self.error
        self.published.append((topic, value, key, headers))


def _raw(value: bytes, offset: int, headers=(), key: bytes | None = b"k") -> ConsumerRecord:
    return ConsumerRecord("t", 0, offset, 0, 0, key, value, None, len(value), 0, list(headers))


HOSTILE = [b"", b"\xff\xfe", b"null", b"[" * 50_000 + b"]" * 50_000, b'{"a": ' + b"9" * 5000 + b"}",
           b'{"specversion": "1.0", "id": "\\ud800"}', b"x" * (300 * 1024)]


@given(st.one_of(st.binary(max_size=300), st.sampled_from(HOSTILE)))
def test_reading_a_record_never_raises(value):
    from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError

    assert isinstance(EventConsumer("test", None, MemoryGuard()).parsed(_raw(value, 0)), CloudEvent | EnvelopeError)


async def test_hostile_records_in_a_batch_are_dead_lettered_with_their_reason_and_the_rest_is_handled():
    broker, effects = Broker(), []
    consumer = EventConsumer("test", broker=broker, guard=MemoryGuard(), max_record_bytes=128 * 1024)

    async def handle(incoming) -> None:
        effects.append(incoming.event.id)

    valid = completed_event("case-ok")
    poison = [b'{"a": ' + b"9" * 5000 + b"}", b"[" * 50_000 + b"]" * 50_000, b"x" * (129 * 1024)]
    records = [*(_raw(value, n) for n, value in enumerate(poison)), _record(valid, len(poison))]
    await consumer.process_batch(records, {CallCompleted.type_name(): handle})
    assert effects == [valid.id]
    reasons = [(headers["x-mednet-dlq-reason"], headers["x-mednet-dlq-error"]) for _, _, _, headers in broker.published]
    assert [reason for reason, _ in reasons] == ["unparseable", "unparseable", "too-large"]
    assert "ValueError" in reasons[0][1] and "RecursionError" in reasons[1][1] and "RecordTooLarge" in reasons[2][1]
    assert [value for _, value, _, _ in broker.published] == poison, "a dead letter carries the record"


async def test_a_dead_letter_the_broker_refuses_goes_without_the_original_headers_and_with_an_excerpt():
    from aiokafka.errors import MessageSizeTooLargeError

    broker = Broker(refusals=1, error=MessageSizeTooLargeError())
    consumer = EventConsumer("test", broker=broker, guard=MemoryGuard())
    value = b"{" + b"x" * 200_000
    await consumer.process_batch([_raw(value, 7, headers=[("trace", b"t"), ("none", None)])], {})
    [(topic, sent, key, headers)] = broker.published
    assert topic == "t.dlq" and sent == value[:64 * 1024] and key == b"k"
    assert headers["x-mednet-dlq-value-bytes"] == str(len(value)) and headers["x-mednet-dlq-headers-dropped"] == "2"
    assert "trace" not in headers and headers["x-mednet-dlq-offset"] == "7"


async def test_a_dead_letter_that_cannot_be_sent_at_all_is_skipped_and_a_transient_fault_is_retried():
    from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

    skipped = EventConsumer("test", broker=Broker(refusals=2, error=MessageSizeTooLargeError()), guard=MemoryGuard())
    await skipped.process_batch([_raw(b"{", 0)], {})
    assert skipped.broker.published == []
    retried = EventConsumer("test", broker=Broker(refusals=1, error=KafkaTimeoutError()), guard=MemoryGuard(),
                            retry=RetryPolicy(backoff_seconds=0.01))
    with pytest.raises(KafkaTimeoutError):
        await retried.process_batch([_raw(b"{", 0)], {})
    await retried.process_batch([_raw(b"{", 0)], {})
    assert len(retried.broker.published) == 1


async def test_big_original_headers_are_left_out_and_error_texts_are_bounded_and_encodable():
    broker = Broker()
    consumer = EventConsumer("test", broker=broker, guard=MemoryGuard(), retry=RetryPolicy(max_attempts=1))

    async def fail(incoming) -> None:
        raise ValueError("\ud800" + "e" * 100_000)

    record = _record(completed_event("case-h"), 0)
    big = dataclasses.replace(record, headers=[*record.headers, ("big", b"b" * 20_000)])
    await consumer.process_batch([big], {CallCompleted.type_name(): fail})
    [(_, _, _, headers)] = broker.published
    assert headers["x-mednet-dlq-reason"] == "handler-failed" and headers["x-mednet-dlq-headers-dropped"] == "2"
    assert len(headers["x-mednet-dlq-error"]) <= 2000 and headers["x-mednet-dlq-error"].startswith("ValueError: ?e")


def test_only_the_catalogs_types_become_labels():
    from mednet_shared.platform.metrics import type_label

    assert type_label("mednet.CaseOpened.v1") == "mednet.CaseOpened.v1"
    assert type_label("mednet.SubmitCase.v1") == "mednet.SubmitCase.v1"
    assert {type_label(f"mednet.Random{n}.v1") for n in range(100)} == {"other"}


async def test_a_handler_that_meets_invalid_data_dead_letters_the_record_at_once_instead_of_retrying_it():
    from pydantic import BaseModel

    class Strict(BaseModel):
        number: int

    broker = Broker()
    consumer = EventConsumer("test", broker=broker, guard=MemoryGuard(), retry=RetryPolicy(max_attempts=5))

    async def handle(incoming) -> None:
        Strict.model_validate({"number": "secret-settlement-figure"})

    await consumer.process_batch([_record(completed_event("case-v"), 0)], {CallCompleted.type_name(): handle})
    [(_, _, _, headers)] = broker.published
    assert headers["x-mednet-dlq-reason"] == "rejected" and headers["x-mednet-dlq-attempts"] == "1"
    assert "number" in headers["x-mednet-dlq-error"] and "secret" not in headers["x-mednet-dlq-error"]
