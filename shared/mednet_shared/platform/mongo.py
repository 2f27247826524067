"""MongoDB through PyMongo's async API (AsyncMongoClient): the official successor of motor."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Collection, Hashable, Mapping
from datetime import datetime
from typing import Any

from pymongo import AsyncMongoClient, UpdateMany, UpdateOne, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, ConnectionFailure, PyMongoError

from . import metrics


WRITE_COMMANDS = frozenset({"insert", "update", "delete", "findAndModify"})
DUPLICATE_KEY = 11000


def as_stored(moment: datetime) -> datetime:
    """The moment to the millisecond, as MongoDB stores it, so that a stored value can be matched exactly."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class CommandTimer(monitoring.CommandListener):
    """MongoDB operation latency by command, as mednet_mongodb_command_seconds, and the documents each write
    command touched (like MongoDB's opcounters, a bulk write counts each document), as
    mednet_mongodb_documents_written_total."""

    def __init__(self, service: str) -> None:
        self.service = service

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        metrics.MONGODB_COMMAND_SECONDS.labels(self.service, event.command_name, "ok").observe(
            event.duration_micros / 1e6)
        if event.command_name in WRITE_COMMANDS:
            written = 1 if event.command_name == "findAndModify" else int(event.reply.get("n", 0))
            metrics.MONGODB_DOCUMENTS_WRITTEN.labels(self.service, event.command_name).inc(written)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        metrics.MONGODB_COMMAND_SECONDS.labels(self.service, event.command_name, "error").observe(
            event.duration_micros / 1e6)


def make_client(url: str, app_name: str, timeout_ms: int = 5000) -> AsyncMongoClient:
    return AsyncMongoClient(
        url,
        appname=app_name,
        event_listeners=[CommandTimer(app_name.removeprefix("mednet-"))],
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        retryWrites=True,
        w="majority" if "replicaSet=" in url else 1,
    )


async def answers(client: AsyncMongoClient, timeout_ms: int = 2000) -> bool:
    try:
        await client.admin.command("ping", maxTimeMS=timeout_ms)
        return True
    except (ConnectionFailure, PyMongoError):
        return False


class _Grouped:
    """What the grouped operations share: each caller's item waits while one command is on its way and goes in the
    next one with every other item that arrived meanwhile; the caller awaits its own outcome. A failure of the
    command as a whole is every caller's."""

    def __init__(self, collection: AsyncCollection, most: int = 1000) -> None:
        self.collection, self.most = collection, most
        self._waiting: list[tuple[Any, asyncio.Future]] = []
        self._flushing: asyncio.Task | None = None

    async def _submit(self, item: Any) -> Any:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        return await done

    def _take(self) -> list[tuple[Any, asyncio.Future]]:
        batch, self._waiting = self._waiting[:self.most], self._waiting[self.most:]
        return batch

    async def _flush(self) -> None:
        while self._waiting:
            batch = self._take()
            try:
                await self._send(batch)
            except Exception as error:
                for _, done in batch:
                    _settle(done, error)

    async def _send(self, batch: list[tuple[Any, asyncio.Future]]) -> None:
        raise NotImplementedError


class GroupWriter(_Grouped):
    """Writes to one collection from concurrent callers, sent together: while one bulk write is on its way, the
    writes that arrive wait and go in the next one. Each caller returns once its own write is durable, or raises
    its own error."""

    async def update(self, operation: UpdateOne | UpdateMany) -> None:
        await self._submit(operation)

    async def _send(self, batch: list[tuple[UpdateOne | UpdateMany, asyncio.Future]]) -> None:
        try:
            await self.collection.bulk_write([operation for operation, _ in batch], ordered=False)
        except BulkWriteError as error:
            failed = {failure["index"]: failure for failure in error.details.get("writeErrors", [])}
            for index, (_, done) in enumerate(batch):
                _settle(done, BulkWriteError({"writeErrors": [failed[index]]}) if index in failed else None)
            return
        for _, done in batch:
            _settle(done, None)


class GroupReader(_Grouped):
    """Reads of one collection by one field (`_id` by default) from concurrent callers, sent together: the values
    asked for while one find is on its way go in the next one, as one `$in`. Each caller gets the documents that
    matched its own values (and `query`) at a moment after it asked, copies of its own, or the error of the read."""

    def __init__(self, collection: AsyncCollection, field: str = "_id", query: Mapping[str, Any] | None = None,
                 projection: Mapping[str, Any] | None = None, most: int = 1000) -> None:
        super().__init__(collection, most)
        self.field, self.query, self.projection = field, dict(query or {}), projection

    async def one(self, value: Hashable) -> dict[str, Any] | None:
        """The document whose field is value (by `_id`: the one), or None."""
        found = await self.all([value])
        return found[0] if found else None

    async def all(self, values: Collection[Hashable]) -> list[dict[str, Any]]:
        return await self._submit(frozenset(values)) if values else []

    async def _send(self, batch: list[tuple[frozenset, asyncio.Future]]) -> None:
        values = list({value for wanted, _ in batch for value in wanted})
        found = await self.collection.find({**self.query, self.field: {"$in": values}}, self.projection,
                                           batch_size=len(values)).to_list()
        handed: set[int] = set()  # the first caller of a document takes it, the others copies
        for wanted, done in batch:
            mine = [document for document in found if document.get(self.field) in wanted]
            _settle(done, None, [copy.deepcopy(document) if id(document) in handed else document
                                 for document in mine])
            handed.update(id(document) for document in mine)


class GroupInserter(_Grouped):
    """Inserts into one collection from concurrent callers, sent together as one unordered insert_many (of at most
    `most` documents, unless one caller's are more). Each caller learns which of its documents were written (a
    duplicate `_id` is not, and is no error), or gets its own error."""

    async def insert(self, documents: list[dict[str, Any]]) -> list[bool]:
        return await self._submit(documents) if documents else []

    def _take(self) -> list[tuple[list[dict[str, Any]], asyncio.Future]]:
        taken, size = 0, 0
        while taken < len(self._waiting) and (not taken or size + len(self._waiting[taken][0]) <= self.most):
            size += len(self._waiting[taken][0])
            taken += 1
        batch, self._waiting = self._waiting[:taken], self._waiting[taken:]
        return batch

    async def _send(self, batch: list[tuple[list[dict[str, Any]], asyncio.Future]]) -> None:
        failures: dict[int, dict[str, Any]] = {}
        try:
            await self.collection.insert_many([document for documents, _ in batch for document in documents],
                                              ordered=False)
        except BulkWriteError as error:
            failures = {failure["index"]: failure for failure in error.details.get("writeErrors", [])}
        start = 0
        for documents, done in batch:
            mine = {index - start: failures[index] for index in range(start, start + len(documents))
                    if index in failures}
            start += len(documents)
            others = [failure for failure in mine.values() if failure.get("code") != DUPLICATE_KEY]
            _settle(done, BulkWriteError({"writeErrors": others}) if others else None,
                    [index not in mine for index in range(len(documents))])


def _settle(done: asyncio.Future, error: BaseException | None, result: Any = None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(result)
    else:
        done.set_exception(error)
