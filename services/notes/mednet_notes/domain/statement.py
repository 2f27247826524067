"""A side's pre-call statement: who may send one, and what recording a version of it changes (pure).

Only the side itself sends its statement: its own confirmed firm (HTTP with its firm token, or SubmitStatement on its
inbound topic) or its signed link (acting.py; an unrepresented party's only way); only the case's mediator reads it.
The text and the documents are sealed by the use cases under the case's data key; the case state keeps only what the
receipt names (a version per submission, each document's id, kind and size), and the receipt StatementReceived goes
to that side's firm only (to none for an unrepresented party). A submission is known by its cause (the command's
sender key, or a fresh id per HTTP request), so a redelivered command records no second version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from mednet_shared.contracts.envelope import derived_id
from mednet_shared.contracts.events import StatementReceived
from mednet_shared.contracts.values import ReceivedDocument, Reason

from .acting import Actor, SignedLink, acts_for
from .case import CaseState, Decision, DocumentEntry, Outgoing, StatementEntry

StatementPart = Annotated[str, StringConstraints(max_length=5000)]
PARTS = ("interests", "concerns", "desired_outcomes", "questions")
MAX_DOCUMENTS = 10


class StatementText(BaseModel):
    """What a side states before its call; sealed at rest, shown to the case's mediator only."""

    model_config = ConfigDict(extra="forbid")

    interests: StatementPart = ""
    concerns: StatementPart = ""
    desired_outcomes: StatementPart = ""
    questions: StatementPart = ""

    def parts(self) -> list[str]:
        return [part for part in PARTS if getattr(self, part).strip()]


class StatementRefused(Exception):
    """The statement is not accepted: every reason (a specific 4xx over HTTP, CommandRejected on Kafka)."""

    def __init__(self, reasons: list[Reason], status: int = 404) -> None:
        super().__init__("; ".join(f"{r.field}: {r.message}" for r in reasons))
        self.reasons, self.status = reasons, status


def document_refusals(documents: list[tuple[str, str, int]], max_bytes: int) -> list[Reason]:
    """Every document over the size limit, and too many documents (documents: title, kind, size)."""
    reasons = [Reason(field=f"documents[{n}]", message=f"{size} bytes is over the limit of {max_bytes}")
               for n, (_, _, size) in enumerate(documents) if size > max_bytes]
    if len(documents) > MAX_DOCUMENTS:
        reasons.append(Reason(field="documents", message=f"at most {MAX_DOCUMENTS} documents, got {len(documents)}"))
    return reasons


def submission_refusals(state: CaseState | None, side: Actor, case_id: str, party_id: str) -> list[Reason]:
    """Why this firm (or signed link) may not send this side's statement (empty: it may). The same answer for an
    unknown case, an unknown party and another firm's side, so a refusal tells nothing of other sides."""
    if isinstance(side, SignedLink):
        return [] if acts_for(state, party_id, side) else [
            Reason(field="party_id", message=f"no side {party_id} of this link in case {case_id}")]
    party = state.party(party_id) if state else None
    if party is None or side is None or party.firm_id != side:
        return [Reason(field="party_id", message=f"no side {party_id} of firm {side} in case {case_id}")]
    if not party.confirmed:
        return [Reason(field="party_id", message=f"firm {side} has not confirmed it represents {party_id}")]
    return []


def statement_id_of(case_id: str, party_id: str, cause: str) -> str:
    return derived_id(case_id, party_id, cause, "statement")


def record_statement(state: CaseState, party_id: str, cause: str, parts: list[str],
                     documents: list[ReceivedDocument], now: datetime) -> Decision:
    """A new version of the side's statement, and its receipt for the side's firm; the same cause again changes
    nothing."""
    if any(entry.cause == cause for entry in state.statements):
        return None
    version = 1 + max((e.version for e in state.statements if e.party_id == party_id), default=0)
    entry = StatementEntry(statement_id=statement_id_of(state.case_id, party_id, cause), party_id=party_id,
                           version=version, cause=cause, parts=parts, received_at=now,
                           documents=[DocumentEntry(document_id=d.document_id, kind=d.kind, size=d.size)
                                      for d in documents])
    party = state.party(party_id)
    receipt = StatementReceived(case_id=state.case_id, party_id=party_id, side_firm_id=party.firm_id if party else None,
                                statement_version=version, parts=parts, documents=documents, received_at=now)
    changed = state.model_copy(update={"statements": [*state.statements, entry]})
    return changed, [Outgoing(receipt, derived_id(cause, "statement-received"))]


def receipts_of(state: CaseState, party_id: str) -> list[dict]:
    """The side's own receipts, for its page: version, when, which parts, each document's kind and size."""
    return [{"version": e.version, "received_at": e.received_at.isoformat(), "parts": e.parts,
             "documents": [{"kind": str(d.kind), "size": d.size} for d in e.documents]}
            for e in sorted(state.statements, key=lambda e: e.version) if e.party_id == party_id]


def latest_statement(state: CaseState, party_id: str) -> StatementEntry | None:
    versions = [e for e in state.statements if e.party_id == party_id]
    return max(versions, key=lambda e: e.version) if versions else None


def document_entry(state: CaseState, document_id: str) -> tuple[StatementEntry, DocumentEntry] | None:
    return next(((s, d) for s in state.statements for d in s.documents if d.document_id == document_id), None)
