"""Notes' collections.

cases: notes' CaseState of each case (its mediator, parties and calls, from intake's and scheduling's
events, and the objectives recorded per party; schema 2, older documents read as it), with the outbox of
ObjectivesRecorded and BriefReady.
notes: the mediator's private observations per call, sealed with AES-GCM under the case's data key.
case_keys: one document per case: its data key wrapped by a master key, or, once purged, only purged_at.
statements: one document per version of a side's statement: its text and documents' titles, sealed (the case
state keeps the versions' metadata).
rejections: one document per refused firm command, holding only its CommandRejected (outbox).
documents (GridFS bucket: documents.files / documents.chunks): each statement document's content, sealed under the
case's data key; named by its document id, never its title.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from gridfs import AsyncGridFSBucket
from gridfs.errors import FileExists, NoFile
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform import outbox
from mednet_shared.platform.cas import Conflict
from mednet_shared.platform.mongo import GroupReader
from mednet_shared.platform.outbox import OutboxRelay

from .domain.case import CaseState, case_document, stored_case

CASES, NOTES, CASE_KEYS, STATEMENTS, DOCUMENTS = "cases", "notes", "case_keys", "statements", "documents"
REJECTIONS = "rejections"
WRAPPING_FIELDS = ("master_key_id", "nonce", "wrapped_key")


class NotesStore(Protocol):
    """What notes' use cases need of its collections; MongoNotesStore runs, MemoryNotesStore (memory.py) has the
    same semantics for the service tests."""

    async def case(self, case_id: str) -> CaseState | None: ...

    async def save_case(self, state: CaseState, expected_version: int | None, events: Sequence[CloudEvent]) -> None:
        """Write the case and its events in one write: a new case when expected_version is None, else only if the
        stored version is still expected_version; Conflict otherwise."""

    async def save_note(self, call_id: str, case_id: str, party_id: str, sealed: dict[str, Any]) -> None: ...
    async def note(self, call_id: str) -> dict[str, Any] | None: ...
    async def reseal_note(self, call_id: str, old: dict[str, Any], new: dict[str, Any]) -> bool: ...
    async def delete_notes_not_sealed_with(self, case_id: str, key_id: str) -> int: ...
    async def notes_of_case(self, case_id: str) -> int: ...
    async def case_key(self, case_id: str) -> dict[str, Any] | None: ...
    async def add_case_key(self, case_id: str, wrapping: dict[str, Any]) -> dict[str, Any]: ...
    async def cases_wrapped_by_other_keys(self, active_id: str) -> list[str]: ...
    async def replace_case_key(self, case_id: str, old: dict[str, Any], new: dict[str, Any]) -> bool: ...
    async def purge_case_key(self, case_id: str) -> dict[str, Any]: ...
    async def save_statement(self, statement_id: str, case_id: str, party_id: str, sealed: dict[str, Any]) -> None:
        """Keep the sealed statement unless one of that id is stored (a redelivery writes nothing new)."""
    async def statement(self, statement_id: str) -> dict[str, Any] | None: ...
    async def put_document(self, document_id: str, case_id: str, sealed: bytes) -> None:
        """Store a sealed document's bytes under its id, once."""
    async def document(self, document_id: str) -> bytes | None: ...
    async def delete_statements_of_case(self, case_id: str) -> int: ...
    async def delete_documents_of_case(self, case_id: str) -> int:
        """Every sealed document file of the case, with all its chunks."""
    async def reject(self, rejection_id: str, event: CloudEvent) -> None:
        """A CommandRejected, written once (a second write of the same id changes nothing)."""
    async def sessions(self) -> list[tuple[Any, bool]]:
        """(session_start, ready_for_session) of every case not yet ready whose session is known."""


class MongoNotesStore:
    def __init__(self, db: AsyncDatabase, relay: OutboxRelay) -> None:
        self.cases = db[CASES]
        self.notes = db[NOTES]
        self.case_keys = db[CASE_KEYS]
        self.statements = db[STATEMENTS]
        self.rejections = db[REJECTIONS]
        self.documents = AsyncGridFSBucket(db, bucket_name=DOCUMENTS)
        self.relay = relay
        # concurrent handlers (a batch's cases, side by side) share their reads
        self.case_reads = GroupReader(self.cases, projection={outbox.FIELD: 0})
        self.case_key_reads = GroupReader(self.case_keys)

    async def case(self, case_id: str) -> CaseState | None:
        document = await self.case_reads.one(case_id)
        return stored_case(document) if document else None

    async def save_case(self, state: CaseState, expected_version: int | None, events: Sequence[CloudEvent]) -> None:
        document, now = case_document(state), utc_now()
        if expected_version is None:
            pending = outbox.entries([(Topics.NOTES, e) for e in events])
            try:
                await self.cases.insert_one({**document, outbox.FIELD: pending, "created_at": now, "updated_at": now})
            except DuplicateKeyError:
                raise Conflict(state.case_id) from None
        else:
            update = outbox.with_events({"$set": {**document, "updated_at": now}}, [(Topics.NOTES, e) for e in events])
            pending = await outbox.update_collecting(self.cases, {"_id": state.case_id, "version": expected_version},
                                                     update)
            if pending is None:
                raise Conflict(state.case_id)
        if events:
            self.relay.wake(CASES, state.case_id, pending)

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
        return await self.case_key_reads.one(case_id)

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

    async def save_statement(self, statement_id: str, case_id: str, party_id: str, sealed: dict[str, Any]) -> None:
        try:
            await self.statements.insert_one({"_id": statement_id, "case_id": case_id, "party_id": party_id,
                                              "sealed": sealed, "created_at": utc_now()})
        except DuplicateKeyError:
            pass

    async def statement(self, statement_id: str) -> dict[str, Any] | None:
        return await self.statements.find_one({"_id": statement_id})

    async def put_document(self, document_id: str, case_id: str, sealed: bytes) -> None:
        try:
            await self.documents.upload_from_stream_with_id(document_id, document_id, sealed,
                                                            metadata={"case_id": case_id})
        except FileExists:
            pass

    async def document(self, document_id: str) -> bytes | None:
        try:
            stream = await self.documents.open_download_stream(document_id)
        except NoFile:
            return None
        return await stream.read()

    async def delete_statements_of_case(self, case_id: str) -> int:
        return (await self.statements.delete_many({"case_id": case_id})).deleted_count

    async def delete_documents_of_case(self, case_id: str) -> int:
        files = await self.documents.find({"metadata.case_id": case_id}).to_list()
        for file in files:
            await self.documents.delete(file._id)
        return len(files)

    async def reject(self, rejection_id: str, event: CloudEvent) -> None:
        await outbox.insert_once(self.rejections, self.relay, rejection_id, [(Topics.NOTES, event)])

    async def sessions(self) -> list[tuple[Any, bool]]:
        query = {"ready_for_session": {"$ne": True}, "session_start": {"$ne": None}}
        found = await self.cases.find(query, {"session_start": 1, "ready_for_session": 1}).to_list()
        return [(d["session_start"], bool(d.get("ready_for_session"))) for d in found if d.get("session_start")]
