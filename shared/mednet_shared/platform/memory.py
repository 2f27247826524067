"""In-memory stand-ins for what a store adapter writes, for the service test tier: no broker, no database.

`MemoryOutbox` records the events an in-memory store wrote with its state change, in write order, as the MongoDB
outbox would hand them to the relay; `Documents` keeps copies of documents by id with a unique key, so a caller
never shares a mutable object with the "database".
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from types import SimpleNamespace
from typing import Any

from fastapi import APIRouter, FastAPI

from ..contracts.envelope import CloudEvent
from ..contracts.events import Message
from . import http
from .auth import runtime_policy
from .settings import ServiceSettings


class MemoryOutbox:
    def __init__(self) -> None:
        self.records: list[tuple[str, CloudEvent]] = []

    def add(self, topic: str, events: Iterable[CloudEvent]) -> None:
        self.records += [(topic, event) for event in events]

    def events(self, type_: type[Message] | None = None) -> list[CloudEvent]:
        return [event for _, event in self.records if type_ is None or event.type == type_.type_name()]

    def messages(self, type_: type[Message] | None = None) -> list[Message]:
        return [event.payload() for event in self.events(type_)]


class Documents:
    """Documents by id; insert refuses an id already present (a unique key), every read and write copies."""

    def __init__(self) -> None:
        self._by_id: dict[str, dict[str, Any]] = {}

    def get(self, document_id: str) -> dict[str, Any] | None:
        found = self._by_id.get(document_id)
        return copy.deepcopy(found) if found is not None else None

    def insert(self, document_id: str, document: dict[str, Any]) -> bool:
        if document_id in self._by_id:
            return False
        self._by_id[document_id] = copy.deepcopy(document)
        return True

    def put(self, document_id: str, document: dict[str, Any]) -> None:
        self._by_id[document_id] = copy.deepcopy(document)

    def delete(self, document_id: str) -> bool:
        return self._by_id.pop(document_id, None) is not None

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        return iter([(key, copy.deepcopy(value)) for key, value in self._by_id.items()])

    def __len__(self) -> int:
        return len(self._by_id)


def api_app(settings: ServiceSettings, routers: Sequence[APIRouter]) -> FastAPI:
    """A service's HTTP API alone, as its runtime serves it (error shapes, body limit, token check) but without
    probes, audit log, broker or database: for the service tests, with in-memory stores in app.state."""
    app = FastAPI(title=f"mednet {settings.service_name} (in memory)")
    app.state.runtime = SimpleNamespace(settings=settings, token_policy=None)
    for router in routers:
        app.include_router(router)
    http.install(app, settings.service_name, runtime_policy, settings.http_max_body_bytes)
    return app
