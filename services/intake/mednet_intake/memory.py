"""The in-memory CaseStore, for the service tests: the same semantics as MongoCaseStore (unique case ids, a
compare-and-set on the revision, each rejection once, the events recorded with the write that caused them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.cas import Conflict
from mednet_shared.platform.memory import Documents, MemoryOutbox

from .domain import Case, case_document, stored_case


class MemoryCaseStore:
    def __init__(self) -> None:
        self.cases, self.rejections = Documents(), Documents()
        self.outbox = MemoryOutbox()

    async def get(self, case_id: str) -> Case | None:
        document = self.cases.get(case_id)
        return stored_case(document) if document else None

    async def add(self, case: Case, events: Sequence[CloudEvent]) -> bool:
        if not self.cases.insert(case.case_id, case_document(case)):
            return False
        self.outbox.add(Topics.INTAKE, events)
        return True

    async def replace(self, case: Case, expected_revision: int, events: Sequence[CloudEvent]) -> None:
        stored = self.cases.get(case.case_id)
        if stored is None or stored["revision"] != expected_revision:
            raise Conflict(case.case_id)
        self.cases.put(case.case_id, case_document(case))
        self.outbox.add(Topics.INTAKE, events)

    async def reject(self, rejection_id: str, event: CloudEvent) -> None:
        if self.rejections.insert(rejection_id, {"event_id": event.id}):
            self.outbox.add(Topics.INTAKE, [event])

    async def due(self, now: datetime, limit: int) -> list[str]:
        return [case_id for case_id, document in self.cases if document.get("due") and document["due"] <= now][:limit]
