"""The in-memory adapter of SchedulingStore, with the MongoDB adapter's semantics: documents stored as their
documents (nothing shared with the caller), compare-and-set on versions, unique ids, and the outbox: every event
written with a document is recorded, in order, in `published`."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.cas import Conflict

from .domain.state import CalendarState, CaseState
from .store import CALENDARS, CASES, LEGACY_CASE_FIELDS, REJECTIONS


class MemorySchedulingStore:
    def __init__(self) -> None:
        self.documents: dict[str, dict[str, dict[str, Any]]] = {CALENDARS: {}, CASES: {}, REJECTIONS: {}}
        self.published: list[tuple[str, CloudEvent]] = []

    async def calendar(self, mediator_id: str) -> CalendarState:
        calendars = self.documents[CALENDARS]
        if mediator_id not in calendars:
            calendars[mediator_id] = {"_id": mediator_id, "version": 0, **CalendarState(mediator_id=mediator_id).document()}
        return CalendarState.model_validate(copy.deepcopy(calendars[mediator_id]))

    async def save_calendar(self, calendar: CalendarState, events: Sequence[CloudEvent] = ()) -> None:
        self._save(CALENDARS, calendar.mediator_id, calendar.version, calendar.document(), events)

    async def add_case(self, case: CaseState) -> bool:
        if case.case_id in self.documents[CASES]:
            return False
        self.documents[CASES][case.case_id] = {"_id": case.case_id, "version": 0, **copy.deepcopy(case.document())}
        return True

    async def case(self, case_id: str) -> CaseState | None:
        document = self.documents[CASES].get(case_id)
        return None if document is None else CaseState.model_validate(copy.deepcopy(document))

    async def save_case(self, case: CaseState, events: Sequence[CloudEvent] = ()) -> None:
        self._save(CASES, case.case_id, case.version, case.document(), events)
        for legacy in LEGACY_CASE_FIELDS:
            self.documents[CASES][case.case_id].pop(legacy, None)

    async def due_calendars(self, now) -> list[str]:
        return [key for key, document in self.documents[CALENDARS].items()
                if document.get("next_deadline") is not None and document["next_deadline"] <= now]

    async def reject(self, rejection_id: str, event: CloudEvent) -> None:
        if rejection_id in self.documents[REJECTIONS]:
            return
        self.documents[REJECTIONS][rejection_id] = {"_id": rejection_id, "event": event.id}
        self.published.append((Topics.SCHEDULING, event))

    def _save(self, name: str, key: str, version: int, document: dict[str, Any], events: Sequence[CloudEvent]) -> None:
        stored = self.documents[name].get(key)
        if stored is None or stored["version"] != version:
            raise Conflict(f"{name} {key} changed since version {version}")
        stored.update(copy.deepcopy(document), version=version + 1)
        self.published += [(Topics.SCHEDULING, event) for event in events]

    def events(self, type_name: str | None = None) -> list[CloudEvent]:
        """What the outbox holds, in order; of one type (e.g. "CallScheduled") if given."""
        return [event for _, event in self.published
                if type_name is None or event.type == f"mednet.{type_name}.v1"]
