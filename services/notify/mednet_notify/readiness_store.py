"""Where readiness reminders live: `readiness` (one document per case: readiness.Readiness, written by
compare-and-set on its version) and `readiness_reminders` (one per side, offset and session start: planned, sent
or dropped, so they survive restarts). The MongoDB adapter and the in-memory one for the service tests."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Protocol

from pymongo import ASCENDING, InsertOne, UpdateMany, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from mednet_shared.contracts.values import utc_now
from mednet_shared.platform.mongo import DUPLICATE_KEY

from .readiness import Readiness, Reminder
from .store import as_document

READINESS, REMINDERS = "readiness", "readiness_reminders"


class ReadinessStore(Protocol):
    async def ensure_indexes(self) -> None: ...
    async def readiness(self, case_id: str) -> Readiness | None: ...
    async def save_readiness(self, state: Readiness, expected_version: int | None) -> bool: ...
    async def plan(self, case_id: str, wanted: list[Reminder], fresh: list[Reminder]) -> None: ...
    async def due_reminders(self, now: datetime, limit: int = 100) -> list[Reminder]: ...
    async def reminder_done(self, reminder_id: str, status: str) -> None: ...
    async def reminders_of(self, case_id: str) -> list[Reminder]: ...


def changes(existing: dict[str, str], wanted: list[Reminder], fresh: list[Reminder]):
    """(pending ids no longer wanted, dropped ones wanted again, new ones)."""
    wanted_ids = {r.id for r in wanted}
    drop = [i for i, status in existing.items() if status == "pending" and i not in wanted_ids]
    return drop, [r for r in fresh if existing.get(r.id) == "dropped"], [r for r in fresh if r.id not in existing]


class MongoReadinessStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.cases, self.reminders = db[READINESS], db[REMINDERS]

    async def ensure_indexes(self) -> None:
        await self.reminders.create_index([("status", ASCENDING), ("due_at", ASCENDING)])
        await self.reminders.create_index("case_id")

    async def readiness(self, case_id: str) -> Readiness | None:
        found = await self.cases.find_one({"_id": case_id})
        return None if found is None else Readiness.model_validate(found)

    async def save_readiness(self, state: Readiness, expected_version: int | None) -> bool:
        document = as_document(state.model_copy(update={"version": (expected_version or 0) + 1}))
        if expected_version is None:
            try:
                await self.cases.insert_one(document)
                return True
            except DuplicateKeyError:
                return False
        document.pop("_id")
        result = await self.cases.update_one({"_id": state.id, "version": expected_version}, {"$set": document})
        return result.matched_count == 1

    async def plan(self, case_id: str, wanted: list[Reminder], fresh: list[Reminder]) -> None:
        existing = {d["_id"]: d["status"] for d in await self.reminders.find({"case_id": case_id},
                                                                              {"status": 1}).to_list()}
        drop, revive, new = changes(existing, wanted, fresh)
        operations: list[Any] = [InsertOne(as_document(r)) for r in new]
        operations += [UpdateOne({"_id": r.id, "status": "dropped"}, {"$set": {"status": "pending"}}) for r in revive]
        if drop:
            operations.append(UpdateMany({"_id": {"$in": drop}, "status": "pending"},
                                         {"$set": {"status": "dropped", "dropped_at": utc_now()}}))
        if not operations:
            return
        try:
            await self.reminders.bulk_write(operations, ordered=False)
        except BulkWriteError as error:
            if any(failure["code"] != DUPLICATE_KEY for failure in error.details["writeErrors"]):
                raise

    async def due_reminders(self, now: datetime, limit: int = 100) -> list[Reminder]:
        cursor = self.reminders.find({"status": "pending", "due_at": {"$lte": now}}).sort("due_at", ASCENDING)
        return [Reminder.model_validate(found) for found in await cursor.limit(limit).to_list()]

    async def reminder_done(self, reminder_id: str, status: str) -> None:
        await self.reminders.update_one({"_id": reminder_id, "status": "pending"},
                                        {"$set": {"status": status, "finished_at": utc_now()}})

    async def reminders_of(self, case_id: str) -> list[Reminder]:
        return [Reminder.model_validate(found) for found in await self.reminders.find({"case_id": case_id}).to_list()]


class MemoryReadinessStore:
    def __init__(self) -> None:
        self.cases: dict[str, dict[str, Any]] = {}
        self.reminders: dict[str, dict[str, Any]] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def readiness(self, case_id: str) -> Readiness | None:
        found = self.cases.get(case_id)
        return None if found is None else Readiness.model_validate(copy.deepcopy(found))

    async def save_readiness(self, state: Readiness, expected_version: int | None) -> bool:
        stored = self.cases.get(state.id)
        if (stored["version"] if stored else None) != expected_version:
            return False
        self.cases[state.id] = as_document(state.model_copy(update={"version": (expected_version or 0) + 1}))
        return True

    async def plan(self, case_id: str, wanted: list[Reminder], fresh: list[Reminder]) -> None:
        existing = {i: r["status"] for i, r in self.reminders.items() if r["case_id"] == case_id}
        drop, revive, new = changes(existing, wanted, fresh)
        self.reminders.update({r.id: as_document(r) for r in new})
        for r in revive:
            self.reminders[r.id]["status"] = "pending"
        for i in drop:
            self.reminders[i].update(status="dropped", dropped_at=utc_now())

    async def due_reminders(self, now: datetime, limit: int = 100) -> list[Reminder]:
        due = sorted((r for r in self.reminders.values() if r["status"] == "pending" and r["due_at"] <= now),
                     key=lambda r: r["due_at"])
        return [Reminder.model_validate(copy.deepcopy(r)) for r in due[:limit]]

    async def reminder_done(self, reminder_id: str, status: str) -> None:
        if self.reminders.get(reminder_id, {}).get("status") == "pending":
            self.reminders[reminder_id].update(status=status, finished_at=utc_now())

    async def reminders_of(self, case_id: str) -> list[Reminder]:
        return [Reminder.model_validate(copy.deepcopy(r)) for r in self.reminders.values() if r["case_id"] == case_id]
