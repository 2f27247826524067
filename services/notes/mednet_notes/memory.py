"""The in-memory NotesStore, for the service tests: the same semantics as MongoNotesStore (compare-and-set on the
case's version, one case key per case that the first writer wins, a purge that keeps only purged_at, conditional
reseal and rewrap, the events recorded with the write that caused them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform.cas import Conflict
from mednet_shared.platform.memory import Documents, MemoryOutbox

from .domain.case import CaseState, case_document, stored_case


class MemoryNotesStore:
    def __init__(self) -> None:
        self.cases, self.notes, self.case_keys = Documents(), Documents(), Documents()
        self.statements: dict[str, dict[str, Any]] = {}
        self.documents: dict[str, bytes] = {}
        self.document_cases: dict[str, str] = {}
        self.rejections: set[str] = set()
        self.outbox = MemoryOutbox()

    async def case(self, case_id: str) -> CaseState | None:
        document = self.cases.get(case_id)
        return stored_case(document) if document else None

    async def save_case(self, state: CaseState, expected_version: int | None, events: Sequence[CloudEvent]) -> None:
        stored = self.cases.get(state.case_id)
        if (stored is None) != (expected_version is None) or (stored and stored["version"] != expected_version):
            raise Conflict(state.case_id)
        self.cases.put(state.case_id, case_document(state))
        self.outbox.add(Topics.NOTES, events)

    async def save_note(self, call_id: str, case_id: str, party_id: str, sealed: dict[str, Any]) -> None:
        revision = (self.notes.get(call_id) or {}).get("revision", 0) + 1
        self.notes.put(call_id, {"_id": call_id, "case_id": case_id, "party_id": party_id, "sealed": sealed,
                                 "revision": revision})

    async def note(self, call_id: str) -> dict[str, Any] | None:
        return self.notes.get(call_id)

    async def reseal_note(self, call_id: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
        note = self.notes.get(call_id)
        if note is None or note["sealed"]["ciphertext"] != old["ciphertext"]:
            return False
        self.notes.put(call_id, {**note, "sealed": new})
        return True

    async def delete_notes_not_sealed_with(self, case_id: str, key_id: str) -> int:
        doomed = [call_id for call_id, note in self.notes
                  if note["case_id"] == case_id and note["sealed"].get("key_id") != key_id]
        return sum(self.notes.delete(call_id) for call_id in doomed)

    async def notes_of_case(self, case_id: str) -> int:
        return sum(1 for _, note in self.notes if note["case_id"] == case_id)

    async def case_key(self, case_id: str) -> dict[str, Any] | None:
        return self.case_keys.get(case_id)

    async def add_case_key(self, case_id: str, wrapping: dict[str, Any]) -> dict[str, Any]:
        self.case_keys.insert(case_id, {"_id": case_id, **wrapping})
        return self.case_keys.get(case_id)

    async def cases_wrapped_by_other_keys(self, active_id: str) -> list[str]:
        return [case_id for case_id, key in self.case_keys
                if "purged_at" not in key and key.get("master_key_id") != active_id]

    async def replace_case_key(self, case_id: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
        key = self.case_keys.get(case_id)
        if key is None or key.get("wrapped_key") != old["wrapped_key"]:
            return False
        self.case_keys.put(case_id, {**key, **new})
        return True

    async def purge_case_key(self, case_id: str) -> dict[str, Any]:
        key = self.case_keys.get(case_id)
        if key is None or "purged_at" not in key:
            self.case_keys.put(case_id, {"_id": case_id, "purged_at": utc_now()})
        return self.case_keys.get(case_id)

    async def save_statement(self, statement_id: str, case_id: str, party_id: str, sealed: dict[str, Any]) -> None:
        self.statements.setdefault(statement_id, {"_id": statement_id, "case_id": case_id, "party_id": party_id,
                                                  "sealed": sealed})

    async def statement(self, statement_id: str) -> dict[str, Any] | None:
        return self.statements.get(statement_id)

    async def put_document(self, document_id: str, case_id: str, sealed: bytes) -> None:
        if document_id not in self.documents:
            self.documents[document_id], self.document_cases[document_id] = bytes(sealed), case_id

    async def document(self, document_id: str) -> bytes | None:
        return self.documents.get(document_id)

    async def delete_statements_of_case(self, case_id: str) -> int:
        doomed = [key for key, statement in self.statements.items() if statement["case_id"] == case_id]
        return len([self.statements.pop(key) for key in doomed])

    async def delete_documents_of_case(self, case_id: str) -> int:
        doomed = [key for key, owner in self.document_cases.items() if owner == case_id]
        for key in doomed:
            del self.documents[key], self.document_cases[key]
        return len(doomed)

    async def reject(self, rejection_id: str, event: CloudEvent) -> None:
        if rejection_id not in self.rejections:
            self.rejections.add(rejection_id)
            self.outbox.add(Topics.NOTES, [event])

    async def sessions(self) -> list[tuple[Any, bool]]:
        return [(d["session_start"], bool(d.get("ready_for_session"))) for _, d in self.cases
                if d.get("session_start") and not d.get("ready_for_session")]
