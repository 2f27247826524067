"""What notes knows of a case, and the rules that change it: pure functions from a state to (new state, events).

A case is learnt from two topics that arrive in any order (intake's CaseOpened/CaseUpdated, scheduling's calls).
The mediator's objectives for a party are recorded once per content (the same objectives again change nothing);
what the party wants, in the mediator's words, and its amounts are its terms, kept only sealed (`sealed_terms`,
opaque here; the use cases seal and open them) and compared by a keyed digest, so neither the stored case nor
ObjectivesRecorded (issues, stances, priorities) holds them. BriefReady is emitted once,
when every side still to be heard has its objectives: a side whose call was waived or whose representation was
declined is not waited for, and once scheduling says the pre-mediation is complete only the sides whose call was
completed (or whose objectives were recorded) are.
Every event id is derived from what caused it, so a redelivery re-emits the same id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from mednet_shared.contracts.envelope import derived_id
from mednet_shared.contracts.events import BriefReady, Message, ObjectivesRecorded
from mednet_shared.contracts.values import (Amount, DocumentKind, Objective, ObjectiveSummary, Party, ReadinessMark,
                                            Session, Side)

from .brief import Brief, NotHeard, NotReady, PartyObjectives, build_brief

SCHEMA = 2
CallStatus = Literal["scheduled", "cancelled", "completed", "waived"]
FINAL_CALL_STATUSES = ("completed", "waived")


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
    status: str = Field(default="confirmed", description="The side's status; before sides existed: confirmed")

    @property
    def confirmed(self) -> bool:
        return self.status == "confirmed"


class CallEntry(BaseModel):
    call_id: str
    party_id: str
    status: CallStatus


class ObjectiveTerms(BaseModel):
    """What of an objective only the case's mediator reads: the party's wants in the mediator's words, any amount."""

    wants: str = ""
    amount: Amount | None = None


class StatedObjectives(BaseModel):
    party_id: str
    objectives: list[Objective] = Field(description="Without their terms (unless stored before terms were sealed)")
    sealed_terms: str = Field(default="", description="Each objective's terms, sealed under the case's data key")
    terms_digest: str = Field(default="", description="A keyed digest of the terms: same terms, same digest")


class DocumentEntry(BaseModel):
    document_id: str
    kind: DocumentKind
    size: int


class StatementEntry(BaseModel):
    """One version of a side's statement, as the case state keeps it (no text, no title)."""

    statement_id: str
    party_id: str
    version: int
    cause: str
    parts: list[str]
    documents: list[DocumentEntry]
    received_at: datetime


class SideReadiness(BaseModel):
    party_id: str
    marks: list[ReadinessMark] = Field(default_factory=list)


class RecordedOutcome(BaseModel):
    call_id: str
    party_id: str
    outcome: str
    items_confirmed: list[str] = Field(default_factory=list)
    next_step: str = ""
    next_step_due: datetime | None = None
    fingerprint: str = ""
    sealed_confidential: str = Field(default="", description="The mediator's confidential remarks, sealed")
    recorded_at: datetime


DEFAULT_REQUIRED = ["agreement_signed", "attendees_named", "authority_confirmed"]


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
    completed: bool = Field(default=False, description="Scheduling's PreMediationCompleted has arrived")
    session_start: datetime | None = None
    readiness: list[SideReadiness] = Field(default_factory=list)
    required_items: list[str] = Field(default_factory=lambda: list(DEFAULT_REQUIRED))
    ready_for_session: bool = False
    outcomes: list[RecordedOutcome] = Field(default_factory=list)
    statements: list[StatementEntry] = Field(default_factory=list, description="Each side's statement versions (statement.py)")

    def call(self, call_id: str) -> CallEntry | None:
        return next((c for c in self.calls if c.call_id == call_id), None)

    def party(self, party_id: str) -> PartyEntry | None:
        return next((p for p in self.parties if p.party_id == party_id), None)

    def objectives_of(self, party_id: str) -> list[Objective]:
        return next((s.objectives for s in self.objectives if s.party_id == party_id), [])

    def stated(self, party_id: str) -> StatedObjectives | None:
        return next((s for s in self.objectives if s.party_id == party_id), None)

    def calls_of(self, party_id: str) -> list[CallEntry]:
        return [c for c in self.calls if c.party_id == party_id]

    def not_heard(self) -> list[NotHeard]:
        """The sides the brief does not wait for, and why."""
        absent = []
        for party in self.parties:
            statuses = {c.status for c in self.calls_of(party.party_id)}
            if self.objectives_of(party.party_id) or "completed" in statuses:
                continue
            if "waived" in statuses:
                absent.append(NotHeard(party_id=party.party_id, reason="its call was waived"))
            elif party.status == "declined":
                absent.append(NotHeard(party_id=party.party_id, reason="its representation was declined"))
            elif self.completed:
                absent.append(NotHeard(party_id=party.party_id, reason="the case completed without its call"))
        return absent

    def to_be_heard(self) -> list[PartyEntry]:
        absent = {n.party_id for n in self.not_heard()}
        return [p for p in self.parties if p.party_id not in absent]


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


def party_entry(party: Party, side: Side | None = None) -> PartyEntry:
    """The party and its side: the side's firm and status when intake sent sides (else: confirmed, the attorney's
    firm, as before sides existed)."""
    if side is not None:
        return PartyEntry(party_id=party.party_id, role=str(party.role), firm_id=side.firm_id, status=str(side.status))
    return PartyEntry(party_id=party.party_id, role=str(party.role),
                      firm_id=party.attorney.firm_id if party.attorney else None)


def learn_case(state: CaseState, mediator_id: str, revision: int, parties: list[Party], now: datetime,
               sides: list[Side] | None = None, session: Session | None = None) -> Decision:
    """A case's revision from intake; an older or repeated revision changes nothing."""
    if revision <= state.revision:
        return None
    side_of = {side.party_id: side for side in sides or []}
    learnt = state.model_copy(update={"mediator_id": mediator_id or state.mediator_id, "revision": revision,
                                      "parties": [party_entry(p, side_of.get(p.party_id)) for p in parties],
                                      "session_start": session.start.astimezone(UTC) if session
                                      else state.session_start})
    return _with_brief_if_ready(learnt, [], now)


def learn_call(state: CaseState, call_id: str, party_id: str, mediator_id: str, status: CallStatus,
               now: datetime | None = None) -> Decision:
    """A call's status from scheduling; a completed or waived call stays so (a late event does not reopen it)."""
    entry = CallEntry(call_id=call_id, party_id=party_id, status=status)
    known = state.call(call_id)
    if known == entry or (known is not None and known.status in FINAL_CALL_STATUSES):
        return None
    calls = [c for c in state.calls if c.call_id != call_id] + [entry]
    learnt = state.model_copy(update={"mediator_id": state.mediator_id or mediator_id, "calls": calls})
    if now is None:
        return learnt, []
    return _with_brief_if_ready(learnt, [], now)


def learn_completion(state: CaseState, mediator_id: str, call_ids: list[str], waived_call_ids: list[str],
                     now: datetime) -> Decision:
    """Scheduling's PreMediationCompleted: every call completed or waived; the brief is built from the sides heard."""
    final = {**{c: "completed" for c in call_ids}, **{c: "waived" for c in waived_call_ids}}
    calls = [c.model_copy(update={"status": final[c.call_id]}) if c.call_id in final else c for c in state.calls]
    known = {c.call_id for c in state.calls}
    calls += [CallEntry(call_id=c, party_id=c.rpartition(":")[2], status=s) for c, s in final.items()
              if c not in known]
    if state.completed and calls == state.calls:
        return None
    learnt = state.model_copy(update={"mediator_id": state.mediator_id or mediator_id, "calls": calls,
                                      "completed": True})
    return _with_brief_if_ready(learnt, [], now)


def call_of(state: CaseState | None, call_id: str, mediator_id: str | None) -> CallEntry:
    """The call, if it exists and (when a mediator is given) belongs to that mediator's case."""
    call = state.call(call_id) if state else None
    if call is None or (mediator_id is not None and state.mediator_id != mediator_id):
        raise UnknownCall(call_id)
    return call


def ensure_open(call: CallEntry) -> None:
    if call.status in ("cancelled", "waived"):
        raise CallClosed(f"call {call.call_id} was {call.status}")


def terms_of(objectives: list[Objective]) -> list[ObjectiveTerms]:
    return [ObjectiveTerms(wants=o.wants, amount=o.amount) for o in objectives]


def without_terms(objectives: list[Objective]) -> list[Objective]:
    return [o.model_copy(update={"wants": "", "amount": None}) for o in objectives]


def with_terms(objectives: list[Objective], terms: list[ObjectiveTerms] | None) -> list[Objective]:
    """The objectives with their opened terms (None: stored before terms were sealed, as they are)."""
    if terms is None:
        return list(objectives)
    if len(terms) != len(objectives):
        raise ValueError("the sealed terms do not match the objectives")
    return [o.model_copy(update={"wants": t.wants, "amount": t.amount})
            for o, t in zip(objectives, terms, strict=True)]


def summaries(objectives: list[Objective]) -> list[ObjectiveSummary]:
    return [ObjectiveSummary(issue=o.issue, free_issue=o.free_issue, stance=o.stance, priority=o.priority,
                             shareable=o.shareable) for o in objectives]


def record_objectives(state: CaseState, call: CallEntry, objectives: list[Objective], now: datetime,
                      sealed_terms: str = "", terms_digest: str = "") -> Decision:
    """The party's objectives as the mediator recorded them after its call: ObjectivesRecorded (naming the party's
    own firm, so only that side hears of it; issues, stances and priorities, never its words or an amount), and
    BriefReady if they were the last missing. The terms (wants, amounts) are dropped here, and kept only as
    `sealed_terms` (sealed by the caller) with their keyed `terms_digest`."""
    stripped = without_terms(objectives)
    known = state.stated(call.party_id)
    if not objectives or (known and known.objectives == stripped and known.terms_digest == terms_digest):
        return None
    stated = [s for s in state.objectives if s.party_id != call.party_id]
    recorded = state.model_copy(update={"objectives": [
        *stated, StatedObjectives(party_id=call.party_id, objectives=stripped, sealed_terms=sealed_terms,
                                  terms_digest=terms_digest)]})
    party = state.party(call.party_id)
    event = ObjectivesRecorded(case_id=state.case_id, call_id=call.call_id, party_id=call.party_id,
                               party_firm_id=party.firm_id if party else None, objectives=summaries(objectives),
                               recorded_at=now)
    cause = fingerprint(stripped) + terms_digest[:16]
    return _with_brief_if_ready(recorded, [Outgoing(event, derived_id(call.call_id, "objectives", cause))], now)


def brief_of(state: CaseState | None, case_id: str, mediator_id: str | None,
             opened: dict[str, list[Objective]] | None = None) -> Brief:
    """The brief from the sides heard (opened: each party's objectives with their terms opened, by party id)."""
    if state is None or (mediator_id is not None and state.mediator_id != mediator_id):
        raise UnknownCall(case_id)
    heard = state.to_be_heard()
    missing = [p.party_id for p in heard if not state.objectives_of(p.party_id)]
    if missing or len(heard) < (1 if state.completed else 2):
        raise BriefNotReady(f"objectives are not yet recorded for: {', '.join(missing) or 'the parties'}")
    opened = opened or {}
    brief = build_brief(case_id, [PartyObjectives(p.party_id, p.role, tuple(
        opened.get(p.party_id, state.objectives_of(p.party_id)))) for p in heard], not_heard=state.not_heard())
    return brief.model_copy(update={"not_ready": not_ready(state)})


def not_ready(state: CaseState) -> list[NotReady]:
    done = {r.party_id: {str(m.item) for m in r.marks if m.done} for r in state.readiness}
    rows = [NotReady(party_id=p.party_id, outstanding=[i for i in state.required_items
                                                       if i not in done.get(p.party_id, set())])
            for p in state.to_be_heard() if p.status != "declined"]
    return [row for row in rows if row.outstanding]


def fingerprint(objectives: list[Objective]) -> str:
    dumped = [o.model_dump(mode="json") for o in objectives]
    return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()[:16]


def _with_brief_if_ready(state: CaseState, events: list[Outgoing], now: datetime) -> Decision:
    heard = state.to_be_heard()
    if state.brief_ready or len(heard) < 2 or not all(state.objectives_of(p.party_id) for p in heard):
        return state, events
    ready = BriefReady(case_id=state.case_id, mediator_id=state.mediator_id,
                       party_ids=[p.party_id for p in heard], ready_at=now)
    return state.model_copy(update={"brief_ready": True}), [*events, Outgoing(ready, derived_id(state.case_id,
                                                                                                "brief-ready"))]
