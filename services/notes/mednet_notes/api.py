"""Notes' HTTP API: the case's mediator, and only that mediator, records and reads notes and the brief;
an operator crypto-shreds one case's notes on request."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from mednet_shared.contracts.values import DocumentKind, Objective, ReadinessItem, ReceivedDocument, ShortText
from mednet_shared.platform.auth import Principal, Role, caller, require
from mednet_shared.platform.cas import ConflictsExhausted
from mednet_shared.platform.http import answers

from .crypto import SealError
from .domain import Brief, BriefNotReady, CallClosed, CallNotes, NotesPurged, Observations, UnknownCall
from .domain.outcome import CallOutcome
from .domain.readiness import ReadinessRefused
from .domain.statement import MAX_DOCUMENTS, StatementRefused, StatementText
from .usecases import Notes

router = APIRouter(prefix="/v1", tags=["notes"])
mediator = require(Role.MEDIATOR)
operator = require(Role.OPERATOR)


class NotesView(BaseModel):
    call_id: str
    case_id: str
    party_id: str
    observations: Observations
    objectives: list[Objective]


class Purged(BaseModel):
    case_id: str
    purged_at: str
    unreadable_notes: int
    deleted_legacy_notes: int
    deleted_statements: int
    deleted_documents: int


class Rewrapped(BaseModel):
    master_key_id: str
    rewrapped: int


class DocumentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: ShortText
    kind: DocumentKind = DocumentKind.OTHER
    content_base64: str = Field(description="The file, base64; at most MEDNET_NOTES_MAX_DOCUMENT_BYTES once decoded")


class StatementBody(StatementText):
    documents: list[DocumentBody] = Field(default_factory=list, max_length=MAX_DOCUMENTS)


class StatementReceipt(BaseModel):
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


async def mediator_of_case(case_id: str, request: Request, principal: Principal = Depends(caller)) -> Principal:
    state = await notes_of(request).store.case(case_id)
    if principal.role != Role.MEDIATOR or state is None or state.mediator_id != principal.mediator_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id} of yours")
    return principal


@router.put("/calls/{call_id}/notes", **answers(NotesView, 404, 409, 410, 500))
async def record_notes(call_id: str, body: CallNotes, request: Request, caller: Principal = Depends(mediator)) -> dict:
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


@router.get("/cases/{case_id}/brief", **answers(Brief, 404, 409, 410, 500))
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
                         principal: Principal = Depends(caller)) -> dict:
    """The side's latest statement: the case's mediator only; every other token gets 404."""
    mediator_id = principal.mediator_id if principal.role == Role.MEDIATOR else None
    with sealed_reads(f"no statement of {party_id} in a case of yours"):
        return await notes_of(request).statement_of(case_id, party_id, mediator_id)


@router.get("/cases/{case_id}/documents/{document_id}", response_class=Response, **answers(None, 404, 410, 500))
async def download_document(case_id: str, document_id: str, request: Request,
                            principal: Principal = Depends(caller)) -> Response:
    """A statement's document, opened: the case's mediator only; every other token gets 404."""
    mediator_id = principal.mediator_id if principal.role == Role.MEDIATOR else None
    with sealed_reads(f"no document {document_id} in a case of yours"):
        title, content = await notes_of(request).document_of(case_id, document_id, mediator_id)
    safe = "".join(ch if ch.isalnum() or ch in " ._-" else "_" for ch in title)[:100] or "document"
    return Response(content, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"', "Cache-Control": "no-store"})


class PreparationSheet(BaseModel):
    call_id: str
    case_id: str
    status: str
    party: dict
    statement: StatementView | None
    readiness: dict
    earlier_calls: list[dict]
    objectives: list[dict]
    other_sides: list[str]


@router.get("/calls/{call_id}/preparation", **answers(PreparationSheet, 404, 410, 500))
async def preparation(call_id: str, request: Request, principal: Principal = Depends(caller)) -> dict:
    """The mediator's preparation sheet for one call: the case's mediator only; every other token gets 404."""
    mediator_id = principal.mediator_id if principal.role == Role.MEDIATOR else None
    with sealed_reads(f"no call {call_id} of yours is known"):
        return await notes_of(request).preparation(call_id, mediator_id)


class ReadinessBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    done: bool = True


class RequiredItems(BaseModel):
    model_config = ConfigDict(extra="forbid")

    required_items: list[ReadinessItem] = Field(max_length=len(ReadinessItem))


def roles_of(principal: Principal) -> tuple[str | None, str | None]:
    """(firm_id, mediator_id) of the caller; an operator is neither."""
    return (principal.firm_id if principal.role == Role.FIRM else None,
            principal.mediator_id if principal.role == Role.MEDIATOR else None)


@router.put("/cases/{case_id}/sides/{party_id}/readiness/{item}", **answers(dict, 403, 404, 409, 422))
async def mark_readiness(case_id: str, party_id: str, item: ReadinessItem, body: ReadinessBody, request: Request,
                         principal: Principal = Depends(caller)) -> dict:
    """One item of a side's readiness checklist: the side's own confirmed firm (not authority_confirmed), or the
    case's mediator; closed once the session has started. An item not in the checklist is a 422."""
    firm_id, mediator_id = roles_of(principal)
    try:
        return await notes_of(request).mark_readiness(case_id, party_id, item, body.done, firm_id, mediator_id)
    except ReadinessRefused as refused:
        raise HTTPException(refused.status, str(refused)) from None
    except ConflictsExhausted as busy:
        raise HTTPException(status.HTTP_409_CONFLICT, str(busy)) from None


@router.get("/cases/{case_id}/sides/{party_id}/readiness", **answers(dict, 404))
async def read_readiness(case_id: str, party_id: str, request: Request,
                         principal: Principal = Depends(caller)) -> dict:
    firm_id, mediator_id = roles_of(principal)
    try:
        return await notes_of(request).readiness_of(case_id, party_id, firm_id, mediator_id)
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no side {party_id} of yours in case {case_id}") from None


@router.put("/cases/{case_id}/readiness/required", **answers(dict, 404, 422))
async def required_items(case_id: str, body: RequiredItems, request: Request,
                         principal: Principal = Depends(mediator_of_case)) -> dict:
    """The case's required readiness items (default: agreement signed, attendees named, authority confirmed)."""
    _, mediator_id = roles_of(principal)
    try:
        return await notes_of(request).set_required_items(case_id, body.required_items, mediator_id)
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id} of yours") from None


@router.put("/calls/{call_id}/outcome", **answers(dict, 404, 409, 422))
async def record_outcome(call_id: str, body: CallOutcome, request: Request,
                         caller_: Principal = Depends(mediator_of_call)) -> dict:
    """The call's outcome (held, partly held, not held), the checklist items confirmed and the next step agreed: the
    public part goes to that side only; `confidential` is sealed and never sent."""
    try:
        return await notes_of(request).record_outcome(call_id, caller_.mediator_id, body)
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id} of yours is known") from None
    except (NotesPurged, ConflictsExhausted) as refused:
        raise HTTPException(status.HTTP_409_CONFLICT, str(refused)) from None
