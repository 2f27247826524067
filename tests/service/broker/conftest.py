"""Each service's own app.py wiring on FastStream's in-memory TestKafkaBroker, with its in-memory store: a record
published to a subscribed topic reaches the handler app.py routes it to. No Kafka, no MongoDB.

Two things of the runtime are swapped, by name, for the test only: the app's MongoDB store class (app.py builds its
store from runtime.db) becomes the service's in-memory store, and the runtime's idempotency guard becomes
`MemoryGuard`. Everything else (subscriptions, consumer, batch parsing, dead letters) is the production code."""

from __future__ import annotations

import importlib
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.platform import service
from services_harness import TEST_LINK_KEYS, TEST_NOTES_KEY, TEST_SECRET_KEYS, jwt_settings, link_settings

MONGO_STORE = {"intake": "MongoCaseStore", "scheduling": "MongoSchedulingStore", "notes": "MongoNotesStore",
               "notify": "MongoStore"}
OWN = {"intake": {}, "scheduling": link_settings(), "notes": {"encryption_key": TEST_NOTES_KEY, "link_keys": TEST_LINK_KEYS, "link_active_kid": "l1"},
       "notify": {"secret_keys": TEST_SECRET_KEYS, "poll_seconds": 3600}}


class MemoryGuard:
    """The idempotency guard's promises in a dict: an event id is done once its effect succeeded; a failed effect
    leaves it free for the redelivery."""

    def __init__(self) -> None:
        self.done: set[str] = set()

    async def ensure_indexes(self) -> None:
        return None

    async def adopt_old_keys(self, event_keys) -> None:
        return None

    async def claim_all(self, event_ids) -> dict[str, Any]:
        return dict.fromkeys(set(event_ids) - self.done)

    async def complete_all(self, event_ids) -> None:
        self.done.update(event_ids)

    async def release_all(self, event_ids) -> None:
        return None

    @asynccontextmanager
    async def once(self, event_id: str, lease_until=None, completed: list[str] | None = None):
        if event_id in self.done:
            yield False
            return
        yield True
        (completed.append if completed is not None else self.done.add)(event_id)


@dataclass
class Wired:
    broker: Any
    store: Any
    app: Any
    dead_letters: list[tuple[str, bytes]] = field(default_factory=list)

    async def publish(self, event: CloudEvent, topic: str) -> None:
        record = event.to_record(topic)
        await self.broker.publish(record.value, topic, key=record.key, headers=record.headers)

    async def publish_raw(self, value: bytes, topic: str, key: bytes = b"x") -> None:
        await self.broker.publish(value, topic, key=key)


@pytest.fixture
def wire(monkeypatch):
    """`async with wire("scheduling", store, dead_letter_topics=[...]) as wired:` the service's app.py on the test
    broker, its store replaced by `store`."""

    @asynccontextmanager
    async def wired(name: str, store, dead_letter_topics: tuple[str, ...] = (), **settings):
        app_module = importlib.import_module(f"mednet_{name}.app")
        config = importlib.import_module(f"mednet_{name}.config")
        monkeypatch.setattr(app_module, MONGO_STORE[name], lambda *args, **kwargs: store)
        monkeypatch.setattr(service, "IdempotencyGuard", lambda *args, **kwargs: MemoryGuard())
        app = app_module.build(config.Settings(**jwt_settings(), **OWN[name], retry_backoff_seconds=0,
                                               retry_backoff_max_seconds=0, **settings))
        broker = app.state.runtime.broker
        result = Wired(broker, store, app)
        for topic in dead_letter_topics:
            broker.subscriber(topic)(_collector(result.dead_letters, topic))
        async with TestKafkaBroker(broker) as test_broker:
            result.broker = test_broker
            yield result
        await app.state.runtime.mongo.close()

    return wired


def _collector(into: list, topic: str):
    async def collect(body: bytes) -> None:
        into.append((topic, body))

    collect.__name__ = "dead_letters_" + topic.replace(".", "_").replace("-", "_")
    return collect
