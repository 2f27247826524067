"""Intake's collections: cases (with their outbox) and rejections (CaseRejected, written once per cause)."""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.events import SubmitCase
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform import outbox
from mednet_shared.platform.outbox import OutboxRelay

from .domain import Case

CASES, REJECTIONS = "cases", "rejections"


class StaleCase(Exception):
    """The case changed between read and write; read again and retry."""


class CaseStore:
    def __init__(self, db: AsyncDatabase, relay: OutboxRelay) -> None:
        self.cases = db[CASES]
        self.rejections = db[REJECTIONS]
        self.relay = relay

    async def get(self, case_id: str) -> Case | None:
        document = await self.cases.find_one({"_id": case_id}, {outbox.FIELD: 0})
        return _case(document) if document else None

    async def add(self, case: Case, event: CloudEvent) -> bool:
        """Insert a new case with its CaseOpened; False if this submission is already a case."""
        document = {**_document(case), outbox.FIELD: outbox.entries([(Topics.INTAKE, event)]),
                    "created_at": utc_now()}
        try:
            await self.cases.insert_one(document)
        except DuplicateKeyError:
            return False
        self.relay.wake(CASES, case.case_id, document[outbox.FIELD])
        return True

    async def replace(self, case: Case, expected_revision: int, events: Sequence[CloudEvent]) -> None:
        """Compare-and-set on the revision: the new state and its events in one write."""
        update = outbox.with_events({"$set": {**_document(case), "updated_at": utc_now()}},
                                    [(Topics.INTAKE, event) for event in events])
        pending = await outbox.update_collecting(self.cases, {"_id": case.case_id, "revision": expected_revision},
                                                 update)
        if pending is None:
            raise StaleCase(case.case_id)
        self.relay.wake(CASES, case.case_id, pending)

    async def reject(self, rejection_id: str, event: CloudEvent) -> None:
        """Record a rejection once (keyed by what caused it) with its CaseRejected."""
        pending = outbox.entries([(Topics.INTAKE, event)])
        try:
            await self.rejections.insert_one({"_id": rejection_id, "at": utc_now(), outbox.FIELD: pending})
        except DuplicateKeyError:
            return
        self.relay.wake(REJECTIONS, rejection_id, pending)


def _document(case: Case) -> dict:
    return {"_id": case.case_id, "firm_id": case.firm_id, "revision": case.revision, "status": case.status,
            "changes": list(case.changes), "submission": case.submission.model_dump(mode="json")}


def _case(document: dict) -> Case:
    return Case(case_id=document["_id"], firm_id=document["firm_id"],
                submission=SubmitCase.model_validate(document["submission"]), revision=document["revision"],
                status=document["status"], changes=tuple(document.get("changes", ())))
