"""Scheduling's storage: the port the use cases need, and its MongoDB adapter (what runs).

calendars: one document per mediator, its bookings and availability. Every change of a booking is a
compare-and-set on this document together with the events it causes (outbox), so no two instances
can double-book a mediator. cases: scheduling's view of each case and the status of its calls
(completion is a compare-and-set there, with CallCompleted and PreMediationCompleted). rejections: one document
per refused firm command, with its CommandRejected (outbox), keyed by the rejection's event id.
A conditional write that lost the race raises the platform's `Conflict`.
"""

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
from mednet_shared.platform.mongo import GroupReader
from mednet_shared.platform.outbox import OutboxRelay

from .domain.state import CalendarState, CaseState

CALENDARS, CASES, REJECTIONS = "calendars", "cases", "rejections"
LEGACY_CASE_FIELDS = ("case",)
"""Schema 1's copy of the CaseOpened payload, replaced by "facts" on the case's next write."""


class SchedulingStore(Protocol):
    async def calendar(self, mediator_id: str) -> CalendarState:
        """The mediator's calendar (created empty, version 0, when it has none)."""

    async def save_calendar(self, calendar: CalendarState, events: Sequence[CloudEvent] = ()) -> None:
        """Written with its events only if still at calendar.version, else Conflict."""

    async def add_case(self, case: CaseState) -> bool:
        """The new case; False if it was there already."""

    async def case(self, case_id: str) -> CaseState | None: ...

    async def save_case(self, case: CaseState, events: Sequence[CloudEvent] = ()) -> None:
        """Written with its events only if still at case.version, else Conflict."""

    async def reject(self, rejection_id: str, event: CloudEvent) -> None:
        """A CommandRejected, written once (a second write of the same id changes nothing)."""

    async def due_calendars(self, now: datetime) -> list[str]:
        """The mediators whose calendar has an open offer past its deadline at now."""


class MongoSchedulingStore:
    def __init__(self, db: AsyncDatabase, relay: OutboxRelay) -> None:
        self.calendars = db[CALENDARS]
        self.cases = db[CASES]
        self.rejections = db[REJECTIONS]
        self.relay = relay
        # concurrent handlers (a batch's cases, side by side) share their reads
        self.calendar_reads = GroupReader(self.calendars, projection={outbox.FIELD: 0})
        self.case_reads = GroupReader(self.cases, projection={outbox.FIELD: 0})

    async def calendar(self, mediator_id: str) -> CalendarState:
        document = await self.calendar_reads.one(mediator_id)
        if document is not None:
            return CalendarState.model_validate(document)
        empty = CalendarState(mediator_id=mediator_id)
        try:
            await self.calendars.insert_one({"_id": mediator_id, "version": 0, **empty.document()})
            return empty
        except DuplicateKeyError:
            return await self.calendar(mediator_id)

    async def save_calendar(self, calendar: CalendarState, events: Sequence[CloudEvent] = ()) -> None:
        await self._save(self.calendars, CALENDARS, calendar.mediator_id, calendar.version, calendar.document(),
                         events)

    async def add_case(self, case: CaseState) -> bool:
        try:
            await self.cases.insert_one({"_id": case.case_id, "version": 0, **case.document()})
            return True
        except DuplicateKeyError:
            return False

    async def case(self, case_id: str) -> CaseState | None:
        document = await self.case_reads.one(case_id)
        return None if document is None else CaseState.model_validate(document)

    async def save_case(self, case: CaseState, events: Sequence[CloudEvent] = ()) -> None:
        await self._save(self.cases, CASES, case.case_id, case.version, case.document(), events,
                         unset=LEGACY_CASE_FIELDS)

    async def due_calendars(self, now: datetime) -> list[str]:
        cursor = self.calendars.find({"next_deadline": {"$lte": now}}, {"_id": 1})
        return [document["_id"] async for document in cursor]

    async def reject(self, rejection_id: str, event: CloudEvent) -> None:
        await outbox.insert_once(self.rejections, self.relay, rejection_id, [(Topics.SCHEDULING, event)])

    async def _save(self, collection, name: str, key: str, version: int, document: dict,
                    events: Sequence[CloudEvent], unset: Sequence[str] = ()) -> None:
        update = {"$set": {**document, "updated_at": utc_now()}, "$inc": {"version": 1}}
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        update = outbox.with_events(update, [(Topics.SCHEDULING, event) for event in events])
        pending = await outbox.update_collecting(collection, {"_id": key, "version": version}, update)
        if pending is None:
            raise Conflict(f"{name} {key} changed since version {version}")
        if events:
            self.relay.wake(name, key, pending)
