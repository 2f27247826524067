"""What notes knows of a case, and the rules that change it: pure functions from a state to (new state, events).

A case is learnt from two topics that arrive in any order (intake's CaseOpened/CaseUpdated, scheduling's calls).
The mediator's objectives for a party are recorded once per content (the same objectives again change nothing);
BriefReady is emitted once, when the last of the case's parties and every party's objectives has arrived.
Every event id is derived from what caused it, so a redelivery re-emits the same id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mednet_shared.contracts.envelope import derived_id
from mednet_shared.contracts.events import BriefReady, Message, ObjectivesRecorded
from mednet_shared.contracts.values import Objective, Party

from .brief import Brief, PartyObjectives, build_brief

SCHEMA = 2
CallStatus = Literal["scheduled", "cancelled"]


class UnknownCall(LookupError):
    """No such call or case, or not this mediator's."""


class CallClosed(Exception):
    pass


class BriefNotReady(Exception):
    pass


class NotesPurged(Exception):
    def __init__(self, case_id: str, purged_at: datetime) -> None:
        super().__init__(f"the notes of case {case_id} were purged at {purged_at.isoformat()} and cannot be read "
                         f"or added")
        self.case_id, self.purged_at = case_id, purged_at


class PartyEntry(BaseModel):
    party_id: str
    role: str
    firm_id: str | None = None


class CallEntry(BaseModel):
    call_id: str
    party_id: str
    status: CallStatus


class StatedObjectives(BaseModel):
    party_id: str
    objectives: list[Objective]


class CaseState(BaseModel):
    """Notes' own state of a case (the stored document, with `version` for compare-and-set)."""

    case_id: str
    version: int = 0
    mediator_id: str = ""
    revision: int = 0
    parties: list[PartyEntry] = Field(default_factory=list)
    calls: list[CallEntry] = Field(default_factory=list)
    objectives: list[StatedObjectives] = Field(default_factory=list)
    brief_ready: bool = False

    def call(self, call_id: str) -> CallEntry | None:
        return next((c for c in self.calls if c.call_id == call_id), None)

    def party(self, party_id: str) -> PartyEntry | None:
        return next((p for p in self.parties if p.party_id == party_id), None)

    def objectives_of(self, party_id: str) -> list[Objective]:
        return next((s.objectives for s in self.objectives if s.party_id == party_id), [])


@dataclass(frozen=True)
class Outgoing:
    message: Message
    event_id: str


Decision = tuple[CaseState, list[Outgoing]] | None  # None: nothing changes, nothing is written


def stored_case(document: dict[str, Any]) -> CaseState:
    """A stored case of either shape: schema 2, or the first one (no schema; a placeholder {_id, version} before
    anything was learnt, parties without firm_id), whose missing fields read as their defaults."""
    fields = {key: value for key, value in document.items() if key in CaseState.model_fields}
    return CaseState.model_validate({**fields, "case_id": document["_id"]})


def case_document(state: CaseState) -> dict[str, Any]:
    return {"_id": state.case_id, "schema": SCHEMA, **state.model_dump(mode="json", exclude={"case_id"})}


def case_of_call(call_id: str) -> str:
    return call_id.rpartition(":")[0]


def party_entry(party: Party) -> PartyEntry:
    return PartyEntry(party_id=party.party_id, role=str(party.role),
                      firm_id=party.attorney.firm_id if party.attorney else None)


def learn_case(state: CaseState, mediator_id: str, revision: int, parties: list[Party], now: datetime) -> Decision:
    """A case's revision from intake; an older or repeated revision changes nothing."""
    if revision <= state.revision:
        return None
    learnt = state.model_copy(update={"mediator_id": mediator_id or state.mediator_id, "revision": revision,
                                      "parties": [party_entry(p) for p in parties]})
    return _with_brief_if_ready(learnt, [], now)


def learn_call(state: CaseState, call_id: str, party_id: str, mediator_id: str, status: CallStatus) -> Decision:
    entry = CallEntry(call_id=call_id, party_id=party_id, status=status)
    if state.call(call_id) == entry:
        return None
    calls = [c for c in state.calls if c.call_id != call_id] + [entry]
    return state.model_copy(update={"mediator_id": state.mediator_id or mediator_id, "calls": calls}), []


def call_of(state: CaseState | None, call_id: str, mediator_id: str | None) -> CallEntry:
    """The call, if it exists and (when a mediator is given) belongs to that mediator's case."""
    call = state.call(call_id) if state else None
    if call is None or (mediator_id is not None and state.mediator_id != mediator_id):
        raise UnknownCall(call_id)
    return call


def ensure_open(call: CallEntry) -> None:
    if call.status == "cancelled":
        raise CallClosed(f"call {call.call_id} was cancelled")


def record_objectives(state: CaseState, call: CallEntry, objectives: list[Objective], now: datetime) -> Decision:
    """The party's objectives as the mediator recorded them after its call: ObjectivesRecorded (naming the party's
    own firm, so only that side hears of it), and BriefReady if they were the last missing."""
    if not objectives or state.objectives_of(call.party_id) == objectives:
        return None
    stated = [s for s in state.objectives if s.party_id != call.party_id]
    recorded = state.model_copy(update={"objectives": [
        *stated, StatedObjectives(party_id=call.party_id, objectives=list(objectives))]})
    party = state.party(call.party_id)
    event = ObjectivesRecorded(case_id=state.case_id, call_id=call.call_id, party_id=call.party_id,
                               party_firm_id=party.firm_id if party else None, objectives=objectives,
                               recorded_at=now)
    return _with_brief_if_ready(recorded, [Outgoing(event, derived_id(call.call_id, "objectives",
                                                                        fingerprint(objectives)))], now)


def brief_of(state: CaseState | None, case_id: str, mediator_id: str | None) -> Brief:
    if state is None or (mediator_id is not None and state.mediator_id != mediator_id):
        raise UnknownCall(case_id)
    missing = [p.party_id for p in state.parties if not state.objectives_of(p.party_id)]
    if missing or len(state.parties) < 2:
        raise BriefNotReady(f"objectives are not yet recorded for: {', '.join(missing) or 'the parties'}")
    return build_brief(case_id, [PartyObjectives(p.party_id, p.role, tuple(state.objectives_of(p.party_id)))
                                 for p in state.parties])


def fingerprint(objectives: list[Objective]) -> str:
    dumped = [o.model_dump(mode="json") for o in objectives]
    return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:16]


def _with_brief_if_ready(state: CaseState, events: list[Outgoing], now: datetime) -> Decision:
    if state.brief_ready or len(state.parties) < 2 or not all(state.objectives_of(p.party_id)
                                                              for p in state.parties):
        return state, events
    ready = BriefReady(case_id=state.case_id, mediator_id=state.mediator_id,
                       party_ids=[p.party_id for p in state.parties], ready_at=now)
    return state.model_copy(update={"brief_ready": True}), [*events, Outgoing(ready, derived_id(state.case_id,
                                                                                                "brief-ready"))]
