"""The consumer's batch claims, with a guard that keeps its state in memory (the real one is tested on MongoDB)."""

from aiokafka import ConsumerRecord
from pymongo.errors import AutoReconnect

from mednet_shared.contracts.events import CallCompleted
from mednet_shared.platform.consumer import EventConsumer
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
