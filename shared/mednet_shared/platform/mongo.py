"""MongoDB through PyMongo's async API (AsyncMongoClient): the official successor of motor."""

from __future__ import annotations

import asyncio
from datetime import datetime

from pymongo import AsyncMongoClient, UpdateOne, monitoring
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, ConnectionFailure, PyMongoError

from . import metrics


WRITE_COMMANDS = frozenset({"insert", "update", "delete", "findAndModify"})


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


class GroupWriter:
    """Writes to one collection from concurrent callers, sent together: while one bulk write is on its way, the
    writes that arrive wait and go in the next one. Each caller returns once its own write is durable, or raises
    its own error."""

    def __init__(self, collection: AsyncCollection) -> None:
        self.collection = collection
        self._waiting: list[tuple[UpdateOne, asyncio.Future]] = []
        self._flushing: asyncio.Task | None = None

    async def update(self, operation: UpdateOne) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((operation, done))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self.collection.bulk_write([operation for operation, _ in batch], ordered=False)
            except BulkWriteError as error:
                failed = {failure["index"]: failure for failure in error.details.get("writeErrors", [])}
                for index, (_, done) in enumerate(batch):
                    _settle(done, BulkWriteError({"writeErrors": [failed[index]]}) if index in failed else None)
            except Exception as error:
                for _, done in batch:
                    _settle(done, error)
            else:
                for _, done in batch:
                    _settle(done, None)


def _settle(done: asyncio.Future, error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
