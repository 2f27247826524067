"""A side's own preparation through its signed link (the console's side pages): its statement receipts, a new
statement with documents, its readiness checklist. The link (header X-Side-Link, signed with scheduling's link keys)
names one party of one case; the link is that side itself (domain/acting.py), whether or not a firm acts for it (an
unrepresented party has only this), and sees only its own receipts (the statement's text is the mediator's)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field

from mednet_shared.contracts.values import ReadinessItem
from mednet_shared.platform.cas import ConflictsExhausted
from mednet_shared.platform.http import PUBLIC_API_PATHS, answers
from mednet_shared.platform.side_link import SideLinkRefused, verify

from .api import StatementBody, StatementReceipt, decoded_documents, notes_of
from .domain import NotesPurged, UnknownCall
from .domain.acting import SignedLink, acts_for
from .domain.readiness import ReadinessRefused
from .domain.statement import StatementRefused, StatementText

router = APIRouter(prefix="/v1/side", tags=["side"])
link = APIKeyHeader(name="X-Side-Link", auto_error=False, description="The side's signed link token")
PUBLIC_API_PATHS.update({"/v1/side/preparation", "/v1/side/statement", "/v1/side/readiness"})
NOTHING = "nothing is known for this link"


class Mark(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"item": "agreement_signed",
                                                                             "done": True}]})
    item: ReadinessItem
    done: bool = True


READINESS = {"case_id": "case-b68b", "party_id": "p1",
             "required_items": ["agreement_signed", "attendees_named", "authority_confirmed"],
             "marks": [{"item": "agreement_signed", "done": True, "set_by": "firm",
                        "set_at": "2027-01-05T10:00:00+00:00"}],
             "outstanding": ["attendees_named", "authority_confirmed"], "ready": False, "case_ready_for_session": False}


class Readiness(BaseModel):
    """The side's checklist: what the case requires, what is marked, what is left."""

    model_config = ConfigDict(json_schema_extra={"examples": [READINESS]})
    case_id: str
    party_id: str
    required_items: list[str]
    marks: list[dict]
    outstanding: list[str]
    ready: bool
    case_ready_for_session: bool


class Receipt(BaseModel):
    version: int
    received_at: str
    parts: list[str]
    documents: list[dict] = Field(description="kind and size of each document (no title, no content)")


class Preparation(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "case_id": "case-b68b", "party_id": "p1", "session_start": "2027-01-25T13:00:00+00:00",
        "statements": [{"version": 1, "received_at": "2027-01-05T10:00:00+00:00", "parts": ["interests"],
                        "documents": [{"kind": "evidence", "size": 2048}]}],
        "readiness": READINESS}]})
    case_id: str
    party_id: str
    session_start: str | None
    statements: list[Receipt]
    readiness: Readiness


async def side(request: Request, token: str | None = Security(link)) -> SignedLink:
    """The link's side, before any body is read: no link 401, a bad one 403, an expired one 410; a side notes
    does not know as confirmed 404."""
    notes = notes_of(request)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "this page needs the link from your email")
    try:
        claims = verify(request.app.state.link_keys, token, notes.clock())
    except SideLinkRefused as refused:
        raise HTTPException(status.HTTP_410_GONE if "expired" in str(refused) else status.HTTP_403_FORBIDDEN,
                            str(refused)) from None
    own = SignedLink(claims.case_id, claims.party_id)
    if not acts_for(await notes.store.case(own.case_id), own.party_id, own):
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOTHING)
    return own


@router.get("/preparation", **answers(Preparation, 401, 403, 404, 410))
async def preparation(request: Request, own: SignedLink = Depends(side)) -> dict:
    """The side's statement receipts (version, when, which parts, which documents) and its readiness checklist."""
    try:
        return await notes_of(request).side_preparation(own)
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOTHING) from None


@router.post("/statement", status_code=201, **answers(StatementReceipt, 401, 403, 404, 409, 410, 413, 422,
                                                      status=201))
async def statement(body: StatementBody, request: Request, own: SignedLink = Depends(side)) -> dict:
    """A new version of the side's statement and documents (sealed, for the mediator only)."""
    notes = notes_of(request)
    documents = decoded_documents(body, notes.max_document_bytes)
    text = StatementText.model_validate(body.model_dump(include=set(StatementText.model_fields)))
    try:
        return await notes.submit_statement(own.case_id, own.party_id, own, text, documents, f"side-{uuid.uuid4()}")
    except StatementRefused as refused:
        raise HTTPException(refused.status, str(refused)) from None
    except (NotesPurged, ConflictsExhausted) as refused:
        raise HTTPException(status.HTTP_409_CONFLICT, str(refused)) from None


@router.post("/readiness", **answers(Readiness, 401, 403, 404, 409, 410, 422))
async def readiness(body: Mark, request: Request, own: SignedLink = Depends(side)) -> dict:
    """One item of the side's own checklist (not what only the mediator confirms)."""
    try:
        return await notes_of(request).mark_readiness(own.case_id, own.party_id, body.item, body.done, own, None)
    except ReadinessRefused as refused:
        raise HTTPException(refused.status, str(refused)) from None
    except ConflictsExhausted as busy:
        raise HTTPException(status.HTTP_409_CONFLICT, str(busy)) from None
