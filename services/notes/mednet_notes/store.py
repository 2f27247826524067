"""Notes' collections.

cases: what notes knows of each case (its mediator, parties and calls, from intake's and scheduling's
events) and the objectives recorded per party, with the outbox of ObjectivesRecorded and BriefReady.
notes: the mediator's private observations per call, sealed with AES-GCM under the case's data key.
case_keys: one document per case: its data key wrapped by a master key, or, once purged, only purged_at.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Objective, utc_now
from mednet_shared.platform import outbox
from mednet_shared.platform.outbox import OutboxRelay

CASES, NOTES, CASE_KEYS = "cases", "notes", "case_keys"
WRAPPING_FIELDS = ("master_key_id", "nonce", "wrapped_key")
CAS_ATTEMPTS = 100


class Conflict(Exception):
    pass


@dataclass
class CaseRecord:
    case_id: str
    version: int = 0
    mediator_id: str = ""
    revision: int = 0
    parties: list[dict[str, Any]] = field(default_factory=list)      # party_id, role, firm_id
    calls: list[dict[str, Any]] = field(default_factory=list)        # call_id, party_id, status
    objectives: dict[str, list[Objective]] = field(default_factory=dict)
    brief_ready: bool = False

    def call(self, call_id: str) -> dict[str, Any] | None:
        return next((c for c in self.calls if c["call_id"] == call_id), None)

    def party(self, party_id: str) -> dict[str, Any] | None:
        return next((p for p in self.parties if p["party_id"] == party_id), None)

    def document(self) -> dict[str, Any]:
        return {"mediator_id": self.mediator_id, "revision": self.revision, "parties": self.parties,
                "calls": self.calls, "brief_ready": self.brief_ready,
                "objectives": [{"party_id": party, "objectives": [o.model_dump(mode="json") for o in items]}
                               for party, items in self.objectives.items()]}


def _record(document: dict[str, Any]) -> CaseRecord:
    return CaseRecord(
        case_id=document["_id"], version=document["version"], mediator_id=document.get("mediator_id", ""),
        revision=document.get("revision", 0), parties=document.get("parties", []), calls=document.get("calls", []),
        objectives={entry["party_id"]: [Objective.model_validate(o) for o in entry["objectives"]]
                    for entry in document.get("objectives", [])},
        brief_ready=document.get("brief_ready", False),
    )


class NotesStore:
    def __init__(self, db: AsyncDatabase, relay: OutboxRelay) -> None:
        self.cases = db[CASES]
        self.notes = db[NOTES]
        self.case_keys = db[CASE_KEYS]
        self.relay = relay

    async def case(self, case_id: str) -> CaseRecord | None:
        document = await self.cases.find_one({"_id": case_id}, {outbox.FIELD: 0})
        return _record(document) if document else None

    async def change_case(self, case_id: str,
                          change: Callable[[CaseRecord], Sequence[CloudEvent] | None]) -> CaseRecord:
        """Read, change, compare-and-set (creating the record if needed); the events go in the same write."""
        for _ in range(CAS_ATTEMPTS):
            record = await self.case(case_id)
            if record is None:
                try:
                    await self.cases.insert_one({"_id": case_id, "version": 0})
                except DuplicateKeyError:
                    pass
                continue
            events = change(record)
            if events is None:
                return record
            update = outbox.with_events({"$set": {**record.document(), "updated_at": utc_now()},
                                         "$inc": {"version": 1}}, [(Topics.NOTES, e) for e in events])
            pending = await outbox.update_collecting(self.cases, {"_id": case_id, "version": record.version}, update)
            if pending is not None:
                if events:
                    self.relay.wake(CASES, case_id, pending)
                return record
        raise Conflict(case_id)

    async def save_note(self, call_id: str, case_id: str, party_id: str, sealed: dict[str, Any]) -> None:
        await self.notes.update_one(
            {"_id": call_id},
            {"$set": {"case_id": case_id, "party_id": party_id, "sealed": sealed, "updated_at": utc_now()},
             "$inc": {"revision": 1}},
            upsert=True,
        )

    async def note(self, call_id: str) -> dict[str, Any] | None:
        return await self.notes.find_one({"_id": call_id})

    async def reseal_note(self, call_id: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
        """Replace the sealed note only if it is still the one that was read (a newer note wins)."""
        result = await self.notes.update_one({"_id": call_id, "sealed.ciphertext": old["ciphertext"]},
                                             {"$set": {"sealed": new, "resealed_at": utc_now()}})
        return result.modified_count == 1

    async def delete_notes_not_sealed_with(self, case_id: str, key_id: str) -> int:
        """Notes sealed before envelope encryption cannot be shredded by a key; a purge deletes them."""
        result = await self.notes.delete_many({"case_id": case_id, "sealed.key_id": {"$ne": key_id}})
        return result.deleted_count

    async def notes_of_case(self, case_id: str) -> int:
        return await self.notes.count_documents({"case_id": case_id})

    async def case_key(self, case_id: str) -> dict[str, Any] | None:
        return await self.case_keys.find_one({"_id": case_id})

    async def add_case_key(self, case_id: str, wrapping: dict[str, Any]) -> dict[str, Any]:
        """Keep this wrapped key unless the case already has one (or was purged): the stored document wins."""
        try:
            await self.case_keys.insert_one({"_id": case_id, **wrapping, "created_at": utc_now()})
        except DuplicateKeyError:
            pass
        return await self.case_key(case_id)

    async def cases_wrapped_by_other_keys(self, active_id: str) -> list[str]:
        query = {"purged_at": {"$exists": False}, "master_key_id": {"$ne": active_id}}
        return [document["_id"] for document in await self.case_keys.find(query, {"_id": 1}).to_list()]

    async def replace_case_key(self, case_id: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
        result = await self.case_keys.update_one(
            {"_id": case_id, "wrapped_key": old["wrapped_key"]}, {"$set": {**new, "rewrapped_at": utc_now()}})
        return result.modified_count == 1

    async def purge_case_key(self, case_id: str) -> dict[str, Any]:
        """Delete the wrapped data key for good; the case stays marked purged so no new key is made for it."""
        try:
            await self.case_keys.update_one(
                {"_id": case_id, "purged_at": {"$exists": False}},
                {"$unset": {name: "" for name in WRAPPING_FIELDS}, "$set": {"purged_at": utc_now()}},
                upsert=True,
            )
        except DuplicateKeyError:
            pass
        return await self.case_key(case_id)
