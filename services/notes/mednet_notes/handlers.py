"""Notes' use cases: learn cases and calls from events; record the mediator's notes; build the brief.

The private observations are sealed before they reach the store and are never put in an event, a log
line or an error. ObjectivesRecorded carries only what the party stated, and names the party's own firm
so that notify delivers it to that side only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime

from mednet_shared.contracts.envelope import CloudEvent, derived_id, new_event
from mednet_shared.contracts.events import (
    BriefReady,
    CallCancelled,
    CallRescheduled,
    CallScheduled,
    CaseOpened,
    CaseUpdated,
    Message,
    ObjectivesRecorded,
)
from mednet_shared.contracts.values import Party, utc_now
from mednet_shared.platform.consumer import Incoming

from .crypto import NoteSealer
from .envelope import MasterKeys
from .domain import Brief, CallNotes, Observations, PartyObjectives, build_brief
from .store import CaseRecord, NotesStore

SOURCE = "/mednet/notes"


class UnknownCall(LookupError):
    pass


class CallClosed(Exception):
    pass


class BriefNotReady(Exception):
    pass


class NotesPurged(Exception):
    def __init__(self, case_id: str, purged_at: datetime) -> None:
        super().__init__(f"the notes of case {case_id} were purged at {purged_at.isoformat()} and cannot be read "
                         f"or added")
        self.case_id, self.purged_at = case_id, purged_at


DATA_KEY_ID = "case-data-key"


def party_entry(party: Party) -> dict:
    return {"party_id": party.party_id, "role": str(party.role),
            "firm_id": party.attorney.firm_id if party.attorney else None}


class Notes:
    def __init__(self, store: NotesStore, master_keys: MasterKeys, clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self.master_keys = master_keys
        self.clock = clock

    async def sealer_of(self, case_id: str, create: bool = False) -> NoteSealer:
        """The case's data key, unwrapped; made and stored on the first note of the case when create is set."""
        wrapping = await self.store.case_key(case_id)
        if wrapping is None and create:
            _, fresh = self.master_keys.new_data_key(case_id)
            wrapping = await self.store.add_case_key(case_id, fresh)
        if wrapping is None:
            raise NotesPurged(case_id, self.clock())
        if "purged_at" in wrapping:
            raise NotesPurged(case_id, wrapping["purged_at"])
        return NoteSealer(self.master_keys.unwrap(wrapping, case_id), DATA_KEY_ID)

    async def purge(self, case_id: str) -> dict:
        """Crypto-shred one case's notes: its wrapped data key is deleted; other cases are untouched."""
        purged = await self.store.purge_case_key(case_id)
        deleted = await self.store.delete_notes_not_sealed_with(case_id, DATA_KEY_ID)
        return {"case_id": case_id, "purged_at": purged["purged_at"].isoformat(),
                "unreadable_notes": await self.store.notes_of_case(case_id), "deleted_legacy_notes": deleted}

    async def rewrap_all(self) -> dict:
        """Every case's data key wrapped by the active master key, so older master keys can be dropped."""
        cases = await self.store.cases_wrapped_by_other_keys(self.master_keys.active_id)
        rewrapped = [case_id for case_id in cases if await self.rewrap(case_id)]
        return {"master_key_id": self.master_keys.active_id, "rewrapped": len(rewrapped)}

    async def rewrap(self, case_id: str) -> bool:
        """Wrap the case's data key with the active master key (master key rotation); False if nothing to do."""
        wrapping = await self.store.case_key(case_id)
        if not wrapping or "purged_at" in wrapping or wrapping["master_key_id"] == self.master_keys.active_id:
            return False
        return await self.store.replace_case_key(case_id, wrapping, self.master_keys.rewrap(wrapping, case_id))

    async def learn_case(self, case_id: str, mediator_id: str, revision: int, parties: list[Party]) -> None:
        def change(record: CaseRecord):
            if revision <= record.revision:
                return None
            record.mediator_id, record.revision = mediator_id or record.mediator_id, revision
            record.parties = [party_entry(p) for p in parties]
            return self._brief_if_ready(record)

        await self.store.change_case(case_id, change)

    async def learn_call(self, case_id: str, call_id: str, party_id: str, mediator_id: str, status: str) -> None:
        def change(record: CaseRecord):
            record.mediator_id = record.mediator_id or mediator_id
            current = record.call(call_id)
            if current == {"call_id": call_id, "party_id": party_id, "status": status}:
                return None
            record.calls = [c for c in record.calls if c["call_id"] != call_id] + [
                {"call_id": call_id, "party_id": party_id, "status": status}]
            return []

        await self.store.change_case(case_id, change)

    async def call_of(self, call_id: str, mediator_id: str | None) -> tuple[CaseRecord, dict]:
        """The case and call, if the call exists and (when given) belongs to this mediator."""
        case_id = call_id.rpartition(":")[0]
        record = await self.store.case(case_id) if case_id else None
        call = record.call(call_id) if record else None
        if call is None or (mediator_id is not None and record.mediator_id != mediator_id):
            raise UnknownCall(call_id)
        return record, call

    async def record(self, call_id: str, mediator_id: str | None, notes: CallNotes) -> CaseRecord:
        record, call = await self.call_of(call_id, mediator_id)
        if call["status"] == "cancelled":
            raise CallClosed(f"call {call_id} was cancelled")
        sealer = await self.sealer_of(record.case_id, create=True)
        sealed = sealer.seal(notes.observations.model_dump_json().encode(), case_id=record.case_id,
                                  call_id=call_id)
        await self.store.save_note(call_id, record.case_id, call["party_id"], sealed)
        if not notes.objectives:
            return record
        return await self.store.change_case(record.case_id, self._objectives_change(call, notes))

    def _objectives_change(self, call: dict, notes: CallNotes):
        party_id = call["party_id"]

        def change(record: CaseRecord) -> list[CloudEvent] | None:
            if record.objectives.get(party_id) == notes.objectives:
                return None
            record.objectives[party_id] = list(notes.objectives)
            party = record.party(party_id) or {}
            version = _fingerprint(notes)
            events = [self._event(ObjectivesRecorded(
                case_id=record.case_id, call_id=call["call_id"], party_id=party_id,
                party_firm_id=party.get("firm_id"), objectives=notes.objectives, recorded_at=self.clock(),
            ), derived_id(call["call_id"], "objectives", version))]
            return events + self._brief_if_ready(record)

        return change

    def _brief_if_ready(self, record: CaseRecord) -> list[CloudEvent]:
        """BriefReady once, when the last of objectives and the case's parties arrives, in whichever order."""
        if record.brief_ready or not self._all_parties_recorded(record):
            return []
        record.brief_ready = True
        return [self._event(BriefReady(case_id=record.case_id, mediator_id=record.mediator_id,
                                       party_ids=[p["party_id"] for p in record.parties], ready_at=self.clock()),
                            derived_id(record.case_id, "brief-ready"))]

    @staticmethod
    def _all_parties_recorded(record: CaseRecord) -> bool:
        return len(record.parties) >= 2 and all(record.objectives.get(p["party_id"]) for p in record.parties)

    async def read(self, call_id: str, mediator_id: str | None) -> dict:
        record, call = await self.call_of(call_id, mediator_id)
        note = await self.store.note(call_id)
        observations = Observations()
        if note:
            observations = Observations.model_validate_json(await self._opened(record.case_id, call_id, note))
        return {"call_id": call_id, "case_id": record.case_id, "party_id": call["party_id"],
                "observations": observations.model_dump(),
                "objectives": [o.model_dump(mode="json") for o in record.objectives.get(call["party_id"], [])]}

    async def _opened(self, case_id: str, call_id: str, note: dict) -> bytes:
        legacy = self.master_keys.legacy_sealer(note["sealed"].get("key_id", ""))
        if legacy is None:
            return (await self.sealer_of(case_id)).open(note["sealed"], case_id=case_id, call_id=call_id)
        opened = legacy.open(note["sealed"], case_id=case_id, call_id=call_id)
        sealer = await self.sealer_of(case_id, create=True)
        await self.store.reseal_note(call_id, note["sealed"], sealer.seal(opened, case_id=case_id, call_id=call_id))
        return opened

    async def brief(self, case_id: str, mediator_id: str | None) -> Brief:
        record = await self.store.case(case_id)
        if record is None or (mediator_id is not None and record.mediator_id != mediator_id):
            raise UnknownCall(case_id)
        missing = [p["party_id"] for p in record.parties if not record.objectives.get(p["party_id"])]
        if missing or len(record.parties) < 2:
            raise BriefNotReady(f"objectives are not yet recorded for: {', '.join(missing) or 'the parties'}")
        return build_brief(case_id, [PartyObjectives(p["party_id"], p["role"], tuple(record.objectives[p["party_id"]]))
                                     for p in record.parties])

    def _event(self, message: Message, event_id: str) -> CloudEvent:
        return new_event(message, SOURCE, event_id=event_id)


def _fingerprint(notes: CallNotes) -> str:
    objectives = [o.model_dump(mode="json") for o in notes.objectives]
    return hashlib.sha256(json.dumps(objectives, sort_keys=True).encode()).hexdigest()[:16]


class NotesHandlers:
    def __init__(self, notes: Notes) -> None:
        self.notes = notes

    async def case_opened(self, incoming: Incoming[CaseOpened]) -> None:
        case = incoming.message
        await self.notes.learn_case(case.case_id, case.mediator.mediator_id, 1, case.parties)

    async def case_updated(self, incoming: Incoming[CaseUpdated]) -> None:
        update = incoming.message
        record = await self.notes.store.case(update.case_id)
        await self.notes.learn_case(update.case_id, record.mediator_id if record else "", update.revision,
                                    update.parties)

    async def call_scheduled(self, incoming: Incoming[CallScheduled | CallRescheduled]) -> None:
        call = incoming.message
        await self.notes.learn_call(call.case_id, call.call_id, call.party_id, call.mediator_id, "scheduled")

    async def call_cancelled(self, incoming: Incoming[CallCancelled]) -> None:
        call = incoming.message
        await self.notes.learn_call(call.case_id, call.call_id, call.party_id, call.mediator_id, "cancelled")
