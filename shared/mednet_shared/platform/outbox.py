"""Transactional outbox without multi-document transactions.

The events a state change causes are written into the very document that holds the state, in the
same single-document write (field `_outbox`). The relay publishes them (acks=all, idempotent
producer) and only then pulls them from the document, so a crash anywhere leaves them to be
published again: consumers absorb the duplicate with their idempotency guard. The writer wakes the
relay at once; a periodic sweep covers crashes, other instances and publish failures. A sweep reads
the documents that hold events, through a sparse index; it waits SWEEP_SHARE times as long as the last one took
(within 30 s), since a server without that index reads whole collections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, Protocol

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError
from pymongo.asynchronous.collection import AsyncCollection

from ..contracts.envelope import CloudEvent, KafkaRecord
from ..contracts.values import utc_now
from . import metrics

FIELD = "_outbox"
PENDING = f"{FIELD}.id"  # indexed sparse: a document is in the index while it holds events to publish
SWEEP_SHARE = 20
RELAYED_REMEMBERED = 10_000
LONGEST_SWEEP_WAIT = 30.0
log = logging.getLogger("mednet.outbox")


class Publisher(Protocol):
    async def publish(self, record: KafkaRecord) -> None: ...

    async def send(self, record: KafkaRecord) -> Awaitable[Any]:
        """Queue the record (in call order) and return what completes once the broker acknowledged it."""


def entries(events: Iterable[tuple[str, CloudEvent]]) -> list[dict[str, Any]]:
    """Outbox entries for (topic, event) pairs, in the order they must be published."""
    now = utc_now()
    return [
        {"id": event.id, "topic": topic, "type": event.type, "event": event.model_dump(mode="json", exclude_none=True),
         "created_at": now}
        for topic, event in events
    ]


def with_events(update: dict[str, Any], events: Sequence[tuple[str, CloudEvent]]) -> dict[str, Any]:
    """Add the events to a MongoDB update document so they are written atomically with it."""
    return with_entries(update, entries(events)) if events else update


def with_entries(update: dict[str, Any], pushed: list[dict[str, Any]]) -> dict[str, Any]:
    if not pushed:
        return update
    return {**update, "$push": {**update.get("$push", {}), FIELD: {"$each": pushed}}}


async def update_collecting(collection: AsyncCollection, query: dict[str, Any],
                            update: dict[str, Any]) -> list[dict[str, Any]] | None:
    """update_one that also returns, in the same round trip, the events the document now holds (in order), for
    the relay to publish without reading them back; None if nothing matched."""
    document = await collection.find_one_and_update(query, update, projection={FIELD: 1},
                                                    return_document=ReturnDocument.AFTER)
    return None if document is None else document.get(FIELD, [])


async def insert_once(collection: AsyncCollection, relay: OutboxRelay, document_id: str,
                      events: Sequence[tuple[str, CloudEvent]]) -> bool:
    """A document that holds nothing but events to publish (e.g. an answer to a refused command), written once
    under its id: the same id again (a redelivered cause) writes and publishes nothing."""
    pending = entries(events)
    try:
        await collection.insert_one({"_id": document_id, "at": utc_now(), FIELD: pending})
    except DuplicateKeyError:
        return False
    relay.wake(collection.name, document_id, pending)
    return True


def record_of(entry: dict[str, Any]) -> KafkaRecord:
    return CloudEvent.model_validate(entry["event"]).to_record(entry["topic"])


def _merged(earlier: list[dict[str, Any]], later: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two snapshots of one document's pending events, as one list in order, each event once."""
    seen = {entry["id"] for entry in earlier}
    return earlier + [entry for entry in later if entry["id"] not in seen]


class OutboxRelay:
    def __init__(
        self,
        service: str,
        publisher: Publisher,
        collections: Sequence[AsyncCollection],
        sweep_seconds: float = 2.0,
    ) -> None:
        self.service = service
        self.publisher = publisher
        self.collections = {collection.name: collection for collection in collections}
        self.sweep_seconds = sweep_seconds
        self._wakeups: asyncio.Queue[tuple[str, Any, list[dict[str, Any]] | None]] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._relayed: OrderedDict[str, None] = OrderedDict()

    def wake(self, collection: str, document_id: Any, pending: list[dict[str, Any]] | None = None) -> None:
        """Called by the store right after a write that carried events; `pending`, when the writer knows them, are
        the events the document holds after its write (published without reading the document back)."""
        self._wakeups.put_nowait((collection, document_id, pending))

    async def start(self) -> None:
        for store in self.collections.values():
            await store.create_index(PENDING, sparse=True)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"{self.service}-outbox-relay")

    async def stop(self) -> None:
        if self._task is None:
            return
        task, self._task = self._task, None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._drain(), timeout=5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _drain(self) -> None:
        while not self._wakeups.empty():
            await self._relay_woken([self._wakeups.get_nowait()])

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while True:
            if loop.time() >= next_sweep:
                started = loop.time()
                await self.sweep()
                took = loop.time() - started
                next_sweep = loop.time() + max(self.sweep_seconds, min(SWEEP_SHARE * took, LONGEST_SWEEP_WAIT))
                continue
            try:
                first = await asyncio.wait_for(self._wakeups.get(), timeout=next_sweep - loop.time())
            except TimeoutError:
                continue
            woken = [first]
            while not self._wakeups.empty():
                woken.append(self._wakeups.get_nowait())
            await self._relay_woken(woken)

    async def _relay_woken(self, woken: list[tuple[str, Any, list[dict[str, Any]] | None]]) -> None:
        by_collection: dict[str, dict[Any, list[dict[str, Any]] | None]] = {}
        for collection, document_id, pending in woken:
            documents = by_collection.setdefault(collection, {})
            earlier = documents.get(document_id, [])
            documents[document_id] = None if pending is None or earlier is None else _merged(earlier, pending)
        for collection, documents in by_collection.items():
            await self.relay_documents(collection, list(documents),
                                       {key: pending for key, pending in documents.items() if pending is not None})

    async def relay_document(self, collection: str, document_id: Any) -> int:
        return await self.relay_documents(collection, [document_id]) or 0

    async def relay_documents(self, collection: str, document_ids: list[Any],
                              known: dict[Any, list[dict[str, Any]]] | None = None) -> int | None:
        """Publish the documents' pending events (each document's in order, all of them queued at once), wait for
        every acknowledgement, then remove exactly those events from each document. None if that failed. The
        events of the documents in `known` are taken from there instead of read."""
        known = known or {}
        async with self._lock:
            store = self.collections[collection]
            try:
                unknown = [document_id for document_id in document_ids if document_id not in known]
                documents = [{"_id": document_id, FIELD: fresh} for document_id, pending in known.items()
                             if (fresh := [entry for entry in pending if entry["id"] not in self._relayed])]
                if unknown:
                    documents += await store.find({"_id": {"$in": unknown}, f"{FIELD}.0": {"$exists": True}},
                                                  {FIELD: 1}).to_list()
                entries = [entry for document in documents for entry in document[FIELD]]
                acknowledgements = [await self.publisher.send(record_of(entry)) for entry in entries]
                outcomes = await asyncio.gather(*acknowledgements, return_exceptions=True)
                for entry, outcome in zip(entries, outcomes):
                    failed = isinstance(outcome, BaseException)
                    metrics.EVENTS_PUBLISHED.labels(self.service, entry["type"], "failed" if failed else "published").inc()
                if failure := next((o for o in outcomes if isinstance(o, BaseException)), None):
                    raise failure
                await self.mark_all_published(store, {document["_id"]: [entry["id"] for entry in document[FIELD]]
                                                      for document in documents})
                self._remember_relayed(entry["id"] for entry in entries)
                return len(acknowledgements)
            except Exception:
                log.exception("outbox relay of %s/%s failed; the sweep will retry", collection, document_ids)
                return None

    def _remember_relayed(self, event_ids: Iterable[str]) -> None:
        """Events published and pulled from their documents: a writer's snapshot taken before the pull may still
        name them, and they are not published again for it."""
        for event_id in event_ids:
            self._relayed[event_id] = None
        while len(self._relayed) > RELAYED_REMEMBERED:
            self._relayed.popitem(last=False)

    async def mark_all_published(self, store: AsyncCollection, published: dict[Any, list[str]]) -> None:
        """One write for all the documents (one document: mark_published)."""
        if len(published) == 1:
            [(document_id, event_ids)] = published.items()
            return await self.mark_published(store, document_id, event_ids)
        if published:
            await store.bulk_write([UpdateOne({"_id": document_id}, {"$pull": {FIELD: {"id": {"$in": event_ids}}}})
                                    for document_id, event_ids in published.items()], ordered=False)

    async def mark_published(self, store: AsyncCollection, document_id: Any, event_ids: list[str]) -> None:
        await store.update_one({"_id": document_id}, {"$pull": {FIELD: {"id": {"$in": event_ids}}}})

    async def sweep(self) -> int:
        """Relay every document that still holds events (one scan per collection); the backlog metrics count
        what could not be relayed."""
        relayed = 0
        backlog, oldest = 0, None
        for name, store in self.collections.items():
            try:
                waiting = [document async for document in store.find({PENDING: {"$exists": True}}, {FIELD: 1})]
                for start in range(0, len(waiting), 100):
                    chunk = waiting[start:start + 100]
                    done = await self.relay_documents(name, [document["_id"] for document in chunk])
                    relayed += done or 0
                    if done is None:
                        backlog += sum(len(document[FIELD]) for document in chunk)
                        created = min(document[FIELD][0]["created_at"] for document in chunk)
                        oldest = created if oldest is None or created < oldest else oldest
            except Exception:
                log.exception("outbox sweep of %s failed", name)
        metrics.OUTBOX_BACKLOG.labels(self.service).set(backlog)
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set((utc_now() - oldest).total_seconds() if oldest else 0)
        return relayed

    async def backlog(self) -> int:
        total = 0
        for store in self.collections.values():
            async for document in store.find({PENDING: {"$exists": True}}, {FIELD: 1}):
                total += len(document[FIELD])
        return total
