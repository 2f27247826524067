"""Notes' HTTP API: the case's mediator, and only that mediator, records and reads notes and the brief;
an operator crypto-shreds one case's notes on request."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from mednet_shared.contracts.values import (DocumentKind, Objective, ReadinessItem, ReadinessMark, ReceivedDocument,
                                           ShortText)
from mednet_shared.platform.auth import Principal, Role, require
from mednet_shared.platform.cas import ConflictsExhausted
from mednet_shared.platform.http import answers

from . import examples as ex
from .crypto import SealError
from .examples import example
from .domain import Brief, BriefNotReady, CallClosed, CallNotes, NotesPurged, Observations, UnknownCall
from .domain.outcome import CallOutcome
from .domain.readiness import ReadinessRefused
from .domain.statement import MAX_DOCUMENTS, StatementRefused, StatementText
from .usecases import Notes

router = APIRouter(prefix="/v1", tags=["notes"])
mediator = require(Role.MEDIATOR)
operator = require(Role.OPERATOR)
the_mediator = require(Role.MEDIATOR, hidden=True)
side_or_mediator = require(Role.FIRM, Role.MEDIATOR, hidden=True)


class NotesView(BaseModel):
    model_config = ConfigDict(**example(ex.NOTES_VIEW))
    call_id: str
    case_id: str
    party_id: str
    observations: Observations
    objectives: list[Objective]


class Purged(BaseModel):
    model_config = ConfigDict(**example(ex.PURGED))
    case_id: str
    purged_at: str
    unreadable_notes: int
    deleted_legacy_notes: int
    deleted_statements: int
    deleted_documents: int


class Rewrapped(BaseModel):
    model_config = ConfigDict(**example(ex.REWRAPPED))
    master_key_id: str
    rewrapped: int


class DocumentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: ShortText
    kind: DocumentKind = DocumentKind.OTHER
    content_base64: str = Field(description="The file, base64; at most MEDNET_NOTES_MAX_DOCUMENT_BYTES once decoded")


class StatementBody(StatementText):
    model_config = ConfigDict(extra="forbid", **example(ex.STATEMENT))
    documents: list[DocumentBody] = Field(default_factory=list, max_length=MAX_DOCUMENTS)


class StatementReceipt(BaseModel):
    model_config = ConfigDict(**example(ex.RECEIPT))
    case_id: str
    party_id: str
    version: int
    parts: list[str]
    documents: list[ReceivedDocument]


class DocumentView(BaseModel):
    document_id: str
    title: str
    kind: str
    size: int
    download: str


class StatementView(StatementText):
    model_config = ConfigDict(extra="forbid", **example(ex.STATEMENT_VIEW))
    case_id: str
    party_id: str
    version: int
    versions: list[int]
    received_at: str
    documents: list[DocumentView]


@contextmanager
def sealed_reads(not_found: str) -> Iterator[None]:
    """A read of sealed data: unknown to this caller 404, purged 410, failing its integrity check 500."""
    try:
        yield
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, not_found) from None
    except NotesPurged as purged:
        raise HTTPException(status.HTTP_410_GONE, str(purged)) from None
    except SealError as broken:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, f"integrity check failed: {broken}") from None


def notes_of(request: Request) -> Notes:
    return request.app.state.notes


async def mediator_of_call(call_id: str, request: Request, principal: Principal = Depends(mediator)) -> Principal:
    """The case's mediator, checked before the body is judged (another mediator gets 404, never a 422)."""
    case_id = call_id.rpartition(":")[0]
    state = await notes_of(request).store.case(case_id) if case_id else None
    if state is None or state.call(call_id) is None or state.mediator_id != principal.mediator_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id} of yours is known")
    return principal


async def mediator_of_case(case_id: str, request: Request, principal: Principal = Depends(the_mediator)) -> Principal:
    state = await notes_of(request).store.case(case_id)
    if state is None or state.mediator_id != principal.mediator_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id} of yours")
    return principal


@router.put("/calls/{call_id}/notes", **answers(NotesView, 404, 409, 410, 500))
async def record_notes(call_id: str, request: Request, body: CallNotes = Body(examples=[ex.NOTES]),
                       caller: Principal = Depends(mediator)) -> dict:
    try:
        await notes_of(request).record(call_id, caller.mediator_id, body)
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id} of yours is known") from None
    except (CallClosed, NotesPurged, ConflictsExhausted) as refused:
        raise HTTPException(status.HTTP_409_CONFLICT, str(refused)) from None
    return await read_notes(call_id, request, caller)


@router.get("/calls/{call_id}/notes", **answers(NotesView, 404, 410, 500))
async def read_notes(call_id: str, request: Request, caller: Principal = Depends(mediator)) -> dict:
    with sealed_reads(f"no call {call_id} of yours is known"):
        return await notes_of(request).read(call_id, caller.mediator_id)


@router.get("/cases/{case_id}/brief", **answers(Brief, 404, 409, 410, 500, example=ex.BRIEF))
async def brief(case_id: str, request: Request, caller: Principal = Depends(mediator)) -> dict:
    try:
        return (await notes_of(request).brief(case_id, caller.mediator_id)).model_dump(mode="json")
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id} of yours is known") from None
    except BriefNotReady as waiting:
        raise HTTPException(status.HTTP_409_CONFLICT, str(waiting)) from None
    except NotesPurged as purged:
        raise HTTPException(status.HTTP_410_GONE, str(purged)) from None
    except SealError as broken:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, f"integrity check failed: {broken}") from None


@router.post("/cases/{case_id}/notes/purge", **answers(Purged))
async def purge_notes(case_id: str, request: Request, caller: Principal = Depends(operator)) -> dict:
    """Delete the case's data key, then its sealed statements and documents: nothing of the case can be read again,
    other cases stay readable."""
    return await notes_of(request).purge(case_id)


@router.post("/notes/keys/rewrap", **answers(Rewrapped))
async def rewrap_keys(request: Request, caller: Principal = Depends(operator)) -> dict:
    """Wrap every case's data key with the active master key (after adding a new one); notes stay as they are."""
    return await notes_of(request).rewrap_all()


def decoded_documents(body: StatementBody, max_bytes: int) -> list[tuple[str, DocumentKind, bytes]]:
    decoded, reasons = [], []
    for n, document in enumerate(body.documents):
        text = "".join(document.content_base64.split())
        if len(text) * 3 // 4 > max_bytes + 3:
            raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                                f"documents[{n}]: over the limit of {max_bytes} bytes")
        try:
            decoded.append((document.title, document.kind, base64.b64decode(text, validate=True)))
        except (binascii.Error, ValueError):
            reasons.append(f"documents[{n}].content_base64: not valid base64")
    if reasons:
        raise HTTPException(422, "; ".join(reasons))
    return decoded


@router.post("/cases/{case_id}/sides/{party_id}/statement", status_code=201,
             **answers(StatementReceipt, 404, 409, 410, 413, 422, status=201))
async def submit_statement(case_id: str, party_id: str, body: StatementBody, request: Request,
                           principal: Principal = Depends(require(Role.FIRM))) -> dict:
    """A side's pre-call statement and documents, from the side's own confirmed firm only (404 for any other side);
    for the mediator's eyes only. Each submission is a new version; the receipt names what was received."""
    notes = notes_of(request)
    documents = decoded_documents(body, notes.max_document_bytes)
    text = StatementText.model_validate(body.model_dump(include=set(StatementText.model_fields)))
    try:
        return await notes.submit_statement(case_id, party_id, principal.firm_id, text, documents,
                                            f"http-{uuid.uuid4()}")
    except StatementRefused as refused:
        raise HTTPException(refused.status, str(refused)) from None
    except (NotesPurged, ConflictsExhausted) as refused:
        raise HTTPException(status.HTTP_409_CONFLICT, str(refused)) from None


@router.get("/cases/{case_id}/sides/{party_id}/statement", **answers(StatementView, 404, 410, 500))
async def read_statement(case_id: str, party_id: str, request: Request,
                         principal: Principal = Depends(the_mediator)) -> dict:
    """The side's latest statement: the case's mediator only; every other token gets 404."""
    with sealed_reads(f"no statement of {party_id} in a case of yours"):
        return await notes_of(request).statement_of(case_id, party_id, principal.mediator_id)


@router.get("/cases/{case_id}/documents/{document_id}", response_class=Response, **answers(None, 404, 410, 500, extra={
    200: {"description": "The document's bytes, as an attachment",
          "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}))
async def download_document(case_id: str, document_id: str, request: Request,
                            principal: Principal = Depends(the_mediator)) -> Response:
    """A statement's document, opened: the case's mediator only; every other token gets 404."""
    with sealed_reads(f"no document {document_id} in a case of yours"):
        title, content = await notes_of(request).document_of(case_id, document_id, principal.mediator_id)
    safe = "".join(ch if ch.isalnum() or ch in " ._-" else "_" for ch in title)[:100] or "document"
    return Response(content, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"', "Cache-Control": "no-store"})


class ReadinessView(BaseModel):
    model_config = ConfigDict(**example(ex.READINESS))
    case_id: str
    party_id: str
    required_items: list[ReadinessItem]
    marks: list[ReadinessMark]
    outstanding: list[ReadinessItem] = Field(description="The required items not done yet")
    ready: bool
    case_ready_for_session: bool


class RequiredItemsView(BaseModel):
    model_config = ConfigDict(**example(ex.REQUIRED_VIEW))
    case_id: str
    required_items: list[ReadinessItem]
    ready_for_session: bool


class OutcomeRecorded(BaseModel):
    """The public part of a call's outcome (the confidential remarks are only said to be sealed)."""

    model_config = ConfigDict(**example(ex.OUTCOME_RECORDED))

    call_id: str
    case_id: str
    party_id: str
    outcome: str = Field(description="held, partly_held or not_held")
    items_confirmed: list[ReadinessItem]
    next_step: str
    next_step_due: str | None
    items_marked: list[ReadinessItem] = Field(description="The checklist items this outcome ticked")
    confidential_sealed: bool


class OutcomeView(BaseModel):
    call_id: str
    party_id: str
    outcome: str
    items_confirmed: list[str]
    next_step: str
    next_step_due: str | None
    recorded_at: str
    confidential: str = Field(description="The mediator's confidential remarks, opened")


class SheetParty(BaseModel):
    party_id: str
    role: str
    firm_id: str | None
    side_status: str


class EarlierCall(BaseModel):
    call_id: str
    party_id: str
    status: str
    observations: Observations
    outcome: OutcomeView | None


class SideObjectives(BaseModel):
    party_id: str
    objectives: list[Objective]


class PreparationSheet(BaseModel):
    model_config = ConfigDict(**example(ex.PREPARATION))
    call_id: str
    case_id: str
    status: str
    party: SheetParty
    statement: StatementView | None
    readiness: ReadinessView
    earlier_calls: list[EarlierCall]
    objectives: list[SideObjectives]
    other_sides: list[str] = Field(description="One line on each other side's status")


@router.get("/calls/{call_id}/preparation", **answers(PreparationSheet, 404, 410, 500))
async def preparation(call_id: str, request: Request, principal: Principal = Depends(the_mediator)) -> dict:
    """The mediator's preparation sheet for one call: the case's mediator only; every other token gets 404."""
    with sealed_reads(f"no call {call_id} of yours is known"):
        return await notes_of(request).preparation(call_id, principal.mediator_id)


class ReadinessBody(BaseModel):
    model_config = ConfigDict(extra="forbid", **example({"done": True}))

    done: bool = True


class RequiredItems(BaseModel):
    model_config = ConfigDict(extra="forbid", **example(ex.REQUIRED))

    required_items: list[ReadinessItem] = Field(max_length=len(ReadinessItem))


def roles_of(principal: Principal) -> tuple[str | None, str | None]:
    """(firm_id, mediator_id) of the caller."""
    return (principal.firm_id if principal.role == Role.FIRM else None,
            principal.mediator_id if principal.role == Role.MEDIATOR else None)


@router.put("/cases/{case_id}/sides/{party_id}/readiness/{item}", **answers(ReadinessView, 403, 404, 409, 422))
async def mark_readiness(case_id: str, party_id: str, item: ReadinessItem, body: ReadinessBody, request: Request,
                         principal: Principal = Depends(side_or_mediator)) -> dict:
    """One item of a side's readiness checklist: the side's own confirmed firm (not authority_confirmed), or the
    case's mediator; closed once the session has started. An item not in the checklist is a 422."""
    firm_id, mediator_id = roles_of(principal)
    try:
        return await notes_of(request).mark_readiness(case_id, party_id, item, body.done, firm_id, mediator_id)
    except ReadinessRefused as refused:
        raise HTTPException(refused.status, str(refused)) from None
    except ConflictsExhausted as busy:
        raise HTTPException(status.HTTP_409_CONFLICT, str(busy)) from None


@router.get("/cases/{case_id}/sides/{party_id}/readiness", **answers(ReadinessView, 404))
async def read_readiness(case_id: str, party_id: str, request: Request,
                         principal: Principal = Depends(side_or_mediator)) -> dict:
    firm_id, mediator_id = roles_of(principal)
    try:
        return await notes_of(request).readiness_of(case_id, party_id, firm_id, mediator_id)
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no side {party_id} of yours in case {case_id}") from None


@router.put("/cases/{case_id}/readiness/required", **answers(RequiredItemsView, 404, 422))
async def required_items(case_id: str, body: RequiredItems, request: Request,
                         principal: Principal = Depends(mediator_of_case)) -> dict:
    """The case's required readiness items (default: agreement signed, attendees named, authority confirmed)."""
    _, mediator_id = roles_of(principal)
    try:
        return await notes_of(request).set_required_items(case_id, body.required_items, mediator_id)
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id} of yours") from None


@router.put("/calls/{call_id}/outcome", **answers(OutcomeRecorded, 404, 409, 422))
async def record_outcome(call_id: str, request: Request, body: CallOutcome = Body(examples=[ex.OUTCOME]),
                         caller_: Principal = Depends(mediator_of_call)) -> dict:
    """The call's outcome (held, partly held, not held), the checklist items confirmed and the next step agreed: the
    public part goes to that side only; `confidential` is sealed and never sent."""
    try:
        return await notes_of(request).record_outcome(call_id, caller_.mediator_id, body)
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id} of yours is known") from None
    except (NotesPurged, ConflictsExhausted) as refused:
        raise HTTPException(status.HTTP_409_CONFLICT, str(refused)) from None
