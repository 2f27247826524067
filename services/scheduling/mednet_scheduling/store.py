"""Scheduling's collections.

calendars: one document per mediator — its bookings and availability. Every change of a booking is a
compare-and-set on this document together with the event it causes (outbox), so no two instances
can double-book a mediator. cases: scheduling's view of each case and the status of its calls
(completion is a compare-and-set there, with CallCompleted and PreMediationCompleted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.events import CaseOpened
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import WeeklyWindow, utc_now
from mednet_shared.platform import outbox
from mednet_shared.platform.outbox import OutboxRelay

from .domain import Booking, Calendar, MediatorAvailability

CALENDARS, CASES = "calendars", "cases"


class Conflict(Exception):
    """The document changed between read and write: read again and retry."""


@dataclass
class CallRecord:
    """A call as the mediator's calendar holds it: the source of truth for when it is."""

    call_id: str
    case_id: str
    party_id: str
    start: datetime
    end: datetime
    sequence: int = 0
    missed_count: int = 0
    cause: str = ""

    def booking(self) -> Booking:
        return Booking(self.call_id, self.start, self.end)

    def document(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class CalendarState:
    mediator_id: str
    version: int
    calls: dict[str, CallRecord] = field(default_factory=dict)
    availability: MediatorAvailability = field(default_factory=MediatorAvailability)

    def calendar(self) -> Calendar:
        return Calendar(record.booking() for record in self.calls.values())


@dataclass
class CaseState:
    case: CaseOpened
    version: int
    revision: int
    status: str
    calls: dict[str, dict[str, Any]]
    completed: bool = False


class SchedulingStore:
    def __init__(self, db: AsyncDatabase, relay: OutboxRelay) -> None:
        self.calendars = db[CALENDARS]
        self.cases = db[CASES]
        self.relay = relay

    # -- calendars ---------------------------------------------------------------------------------

    async def calendar(self, mediator_id: str) -> CalendarState:
        document = await self.calendars.find_one({"_id": mediator_id}, {outbox.FIELD: 0})
        if document is None:
            try:
                await self.calendars.insert_one({"_id": mediator_id, "version": 0, "calls": [], "availability": {}})
            except DuplicateKeyError:
                pass
            return await self.calendar(mediator_id)
        return CalendarState(
            mediator_id=mediator_id,
            version=document["version"],
            calls={record["call_id"]: CallRecord(**record) for record in document["calls"]},
            availability=availability_from(document.get("availability") or {}),
        )

    async def save_calendar(self, state: CalendarState, events: Sequence[CloudEvent], topic: str = Topics.SCHEDULING,
                            ) -> None:
        update = outbox.with_events(
            {"$set": {"calls": [record.document() for record in state.calls.values()],
                      "availability": availability_document(state.availability), "updated_at": utc_now()},
             "$inc": {"version": 1}},
            [(topic, event) for event in events],
        )
        pending = await outbox.update_collecting(self.calendars, {"_id": state.mediator_id, "version": state.version},
                                                 update)
        if pending is None:
            raise Conflict(state.mediator_id)
        if events:
            self.relay.wake(CALENDARS, state.mediator_id, pending)

    # -- cases -------------------------------------------------------------------------------------

    async def add_case(self, case: CaseOpened, calls: Sequence[dict[str, Any]] = ()) -> bool:
        """The case with its calls' projections; False if it was there already."""
        try:
            await self.cases.insert_one({"_id": case.case_id, "version": 0, "revision": 1, "status": "open",
                                         "case": case.model_dump(mode="json"), "calls": list(calls),
                                         "completed": False})
            return True
        except DuplicateKeyError:
            return False

    async def case(self, case_id: str) -> CaseState | None:
        document = await self.cases.find_one({"_id": case_id}, {outbox.FIELD: 0})
        if document is None:
            return None
        return CaseState(CaseOpened.model_validate(document["case"]), document["version"], document["revision"],
                         document["status"], {call["party_id"]: call for call in document["calls"]},
                         document.get("completed", False))

    async def case_of_call(self, call_id: str) -> CaseState | None:
        case_id, _, _ = call_id.rpartition(":")
        return await self.case(case_id) if case_id else None

    async def save_case(self, state: CaseState, events: Sequence[CloudEvent] = ()) -> None:
        update = outbox.with_events(
            {"$set": {"case": state.case.model_dump(mode="json"), "revision": state.revision, "status": state.status,
                      "calls": list(state.calls.values()), "completed": state.completed, "updated_at": utc_now()},
             "$inc": {"version": 1}},
            [(Topics.SCHEDULING, event) for event in events],
        )
        pending = await outbox.update_collecting(self.cases, {"_id": state.case.case_id, "version": state.version},
                                                 update)
        if pending is None:
            raise Conflict(state.case.case_id)
        if events:
            self.relay.wake(CASES, state.case.case_id, pending)

    async def project_call(self, case_id: str, projection: dict[str, Any]) -> None:
        """Mirror a call's state into its case (idempotent; the calendar stays the source of truth). A completed
        call stays completed: a placement replayed after a crash mirrors "scheduled" again and must not undo it."""
        for _ in range(50):
            state = await self.case(case_id)
            current = state.calls.get(projection["party_id"]) if state else None
            if state is None or current == projection or (current or {}).get("status") == "completed":
                return
            state.calls[projection["party_id"]] = projection
            try:
                return await self.save_case(state)
            except Conflict:
                continue
        raise Conflict(case_id)

    async def save_availability(self, mediator_id: str, availability: MediatorAvailability) -> None:
        for _ in range(20):
            state = await self.calendar(mediator_id)
            state.availability = availability
            try:
                return await self.save_calendar(state, [])
            except Conflict:
                continue
        raise Conflict(mediator_id)


def availability_document(availability: MediatorAvailability) -> dict[str, Any]:
    return {
        "weekly": [w.model_dump(mode="json") for w in availability.weekly] if availability.weekly is not None else None,
        "date_overrides": {day.isoformat(): [[s.isoformat(), e.isoformat()] for s, e in hours]
                           for day, hours in availability.date_overrides.items()},
        "blackout_days": sorted(day.isoformat() for day in availability.blackout_days),
    }


def availability_from(document: dict[str, Any]) -> MediatorAvailability:
    weekly = document.get("weekly")
    return MediatorAvailability(
        weekly=tuple(WeeklyWindow.model_validate(w) for w in weekly) if weekly is not None else None,
        date_overrides={date.fromisoformat(day): tuple((time.fromisoformat(s), time.fromisoformat(e)) for s, e in hours)
                        for day, hours in (document.get("date_overrides") or {}).items()},
        blackout_days=frozenset(date.fromisoformat(day) for day in document.get("blackout_days") or ()),
    )
