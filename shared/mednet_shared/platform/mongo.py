"""MongoDB through PyMongo's async API (AsyncMongoClient): the official successor of motor."""

from __future__ import annotations

from pymongo import AsyncMongoClient
from pymongo.errors import ConnectionFailure, PyMongoError


def make_client(url: str, app_name: str, timeout_ms: int = 5000) -> AsyncMongoClient:
    return AsyncMongoClient(
        url,
        appname=app_name,
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
