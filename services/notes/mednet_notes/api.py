"""Notes' HTTP API: the case's mediator, and only that mediator, records and reads notes and the brief."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, status

from mednet_shared.platform.auth import Principal, Role, require

from .domain import CallNotes
from .handlers import BriefNotReady, CallClosed, Notes, UnknownCall

router = APIRouter(prefix="/v1", tags=["notes"])
mediator = require(Role.MEDIATOR)


def notes_of(request: Request) -> Notes:
    return request.app.state.notes


@router.put("/calls/{call_id}/notes")
async def record_notes(call_id: str, body: CallNotes, request: Request, caller: Principal = Depends(mediator)) -> dict:
    try:
        await notes_of(request).record(call_id, caller.mediator_id, body)
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id} of yours is known") from None
    except CallClosed as closed:
        raise HTTPException(status.HTTP_409_CONFLICT, str(closed)) from None
    return await notes_of(request).read(call_id, caller.mediator_id)


@router.get("/calls/{call_id}/notes")
async def read_notes(call_id: str, request: Request, caller: Principal = Depends(mediator)) -> dict:
    try:
        return await notes_of(request).read(call_id, caller.mediator_id)
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id} of yours is known") from None


@router.get("/cases/{case_id}/brief")
async def brief(case_id: str, request: Request, caller: Principal = Depends(mediator)) -> dict:
    try:
        return (await notes_of(request).brief(case_id, caller.mediator_id)).model_dump(mode="json")
    except UnknownCall:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id} of yours is known") from None
    except BriefNotReady as waiting:
        raise HTTPException(status.HTTP_409_CONFLICT, str(waiting)) from None
