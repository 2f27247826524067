"""MongoDB through PyMongo's async API (AsyncMongoClient): the official successor of motor."""

from __future__ import annotations

from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import ConnectionFailure, PyMongoError

from . import metrics


WRITE_COMMANDS = frozenset({"insert", "update", "delete", "findAndModify"})


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
