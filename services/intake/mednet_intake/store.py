"""Intake's collections: cases (intake's own Case state, with their outbox; `due` indexed for the overdue sweeper)
and rejections (CaseRejected or CommandRejected, written once per cause). `CaseStore` is what the use cases need;
`MongoCaseStore` runs, `MemoryCaseStore` (memory.py) has the same semantics for the service tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform import outbox
from mednet_shared.platform.cas import Conflict
from mednet_shared.platform.outbox import OutboxRelay

from .domain import Case, case_document, stored_case

CASES, REJECTIONS = "cases", "rejections"


class CaseStore(Protocol):
    async def get(self, case_id: str) -> Case | None: ...

    async def add(self, case: Case, events: Sequence[CloudEvent]) -> bool:
        """Insert a new case with its CaseOpened (and RepresentationRequested); False if this case id is already
        stored."""

    async def replace(self, case: Case, expected_revision: int, events: Sequence[CloudEvent]) -> None:
        """The new state and its events in one write, only if the stored revision is still the expected one (else
        Conflict)."""

    async def reject(self, rejection_id: str, event: CloudEvent) -> None:
        """Record a rejection once (keyed by what caused it) with its CaseRejected or CommandRejected."""

    async def due(self, now: datetime, limit: int) -> list[str]:
        """The ids of cases whose earliest pending confirmation deadline (`due`) is at or before now."""


class MongoCaseStore:
    def __init__(self, db: AsyncDatabase, relay: OutboxRelay) -> None:
        self.cases = db[CASES]
        self.rejections = db[REJECTIONS]
        self.relay = relay

    async def get(self, case_id: str) -> Case | None:
        document = await self.cases.find_one({"_id": case_id}, {outbox.FIELD: 0})
        return stored_case(document) if document else None

    async def ensure_indexes(self) -> None:
        await self.cases.create_index("due", sparse=True)

    async def add(self, case: Case, events: Sequence[CloudEvent]) -> bool:
        document = {**case_document(case), outbox.FIELD: outbox.entries([(Topics.INTAKE, e) for e in events]),
                    "created_at": utc_now()}
        try:
            await self.cases.insert_one(document)
        except DuplicateKeyError:
            return False
        self.relay.wake(CASES, case.case_id, document[outbox.FIELD])
        return True

    async def replace(self, case: Case, expected_revision: int, events: Sequence[CloudEvent]) -> None:
        update = outbox.with_events({"$set": {**case_document(case), "updated_at": utc_now()},
                                     "$unset": {"submission": ""}}, [(Topics.INTAKE, event) for event in events])
        pending = await outbox.update_collecting(self.cases, {"_id": case.case_id, "revision": expected_revision},
                                                 update)
        if pending is None:
            raise Conflict(case.case_id)
        self.relay.wake(CASES, case.case_id, pending)

    async def reject(self, rejection_id: str, event: CloudEvent) -> None:
        await outbox.insert_once(self.rejections, self.relay, rejection_id, [(Topics.INTAKE, event)])

    async def due(self, now: datetime, limit: int) -> list[str]:
        cursor = self.cases.find({"due": {"$lte": now}}, {"_id": 1}).limit(limit)
        return [document["_id"] async for document in cursor]
