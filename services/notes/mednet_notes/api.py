"""Notes' HTTP API: the case's mediator, and only that mediator, records and reads notes and the brief;
an operator crypto-shreds one case's notes on request."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel

from mednet_shared.contracts.values import Objective
from mednet_shared.platform.auth import Principal, Role, require
from mednet_shared.platform.cas import ConflictsExhausted
from mednet_shared.platform.http import answers

from .crypto import SealError
from .domain import Brief, BriefNotReady, CallClosed, CallNotes, NotesPurged, Observations, UnknownCall
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


class Rewrapped(BaseModel):
    master_key_id: str
    rewrapped: int


def notes_of(request: Request) -> Notes:
    return request.app.state.notes


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
    try:
        return await notes_of(request).read(call_id, caller.mediator_id)
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id} of yours is known") from None
    except NotesPurged as purged:
        raise HTTPException(status.HTTP_410_GONE, str(purged)) from None
    except SealError as broken:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, f"integrity check failed: {broken}") from None


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
    """Delete the case's data key: its notes can never be read again, other cases' notes stay readable."""
    return await notes_of(request).purge(case_id)


@router.post("/notes/keys/rewrap", **answers(Rewrapped))
async def rewrap_keys(request: Request, caller: Principal = Depends(operator)) -> dict:
    """Wrap every case's data key with the active master key (after adding a new one); notes stay as they are."""
    return await notes_of(request).rewrap_all()
