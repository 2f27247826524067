"""Intake's HTTP API: firms submit, read, change and withdraw their cases (bearer JWT, scoped to the caller)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mednet_shared.contracts.events import SubmitCase
from mednet_shared.contracts.envelope import MAX_EVENT_BYTES, reasons
from mednet_shared.contracts.values import LongText, Party, Reason, Session
from mednet_shared.platform.auth import Principal, Role, require
from mednet_shared.platform.cas import ConflictsExhausted
from mednet_shared.platform.http import Unprocessable, answers, json_body as documented_body, temporal_problems

from . import domain
from .domain import Case, Changed, NotAllowed, Rejected
from .usecases import Intake

router = APIRouter(prefix="/v1/cases", tags=["cases"])
firm = require(Role.FIRM)
anyone = require(Role.FIRM, Role.MEDIATOR, Role.OPERATOR)


class CaseChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session: Session | None = None
    add_parties: list[Party] = Field(default_factory=list, max_length=20)


class CaseView(SubmitCase):
    """A case: the submission, and what intake knows of it."""

    case_id: str
    firm_id: str
    status: str = Field(description="open or withdrawn")
    revision: int
    participant_firms: list[str]


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: LongText = ""


def intake_of(request: Request) -> Intake:
    return request.app.state.intake


def view(case: Case) -> dict[str, Any]:
    return {"case_id": case.case_id, "firm_id": case.firm_id, "status": case.status, "revision": case.revision,
            "participant_firms": case.participant_firms, **case.submitted("json")}


def unprocessable(problems: list[Reason]) -> HTTPException:
    return Unprocessable("the submission was rejected", [r.model_dump() for r in problems])


def dates_as_text(model, document: object) -> list[Reason]:
    """The contracts read dates leniently (0 is 1970-01-01); over HTTP they must be ISO 8601 text."""
    return [Reason(field=p.field, message=p.message) for p in temporal_problems(model, document)]


async def json_body(request: Request) -> object:
    body = await request.body()
    if len(body) > MAX_EVENT_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"a body is at most {MAX_EVENT_BYTES} bytes")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise unprocessable([Reason(field="", message=f"not JSON: {error}")]) from None


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=documented_body(SubmitCase),
             **answers(CaseView, status=201, description="The case opened",
                       extra={200: {"model": CaseView, "description": "The same submission again: its case"}}))
async def submit_case(request: Request, response: Response, caller: Principal = Depends(firm)) -> dict:
    document = await json_body(request)
    intake = intake_of(request)
    try:
        late = dates_as_text(domain.parse_submission(document), document)
    except Rejected:
        late = []
    if late:
        await intake.reject(caller.firm_id, document, late, None, f"http-{uuid.uuid4()}")
        raise unprocessable(late)
    try:
        submitted = await intake.submit(caller.firm_id, document, None, f"http-{uuid.uuid4()}")
    except Rejected as rejected:
        raise unprocessable(rejected.reasons) from None
    if not submitted.created:
        response.status_code = status.HTTP_200_OK
    return view(submitted.case)


@router.get("/{case_id}", **answers(CaseView, 404))
async def get_case(case_id: str, request: Request, caller: Principal = Depends(anyone)) -> dict:
    case = await intake_of(request).store.get(case_id)
    if case is None or not readable(case, caller):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    return view(case)


@router.patch("/{case_id}", openapi_extra=documented_body(CaseChange), **answers(CaseView, 404, 409))
async def change_case(case_id: str, request: Request, caller: Principal = Depends(firm)) -> dict:
    document = await json_body(request)
    try:
        change = CaseChange.model_validate(document)
    except ValidationError as error:
        raise unprocessable(reasons(error)) from None
    if late := dates_as_text(change, document):
        raise unprocessable(late)
    intake = intake_of(request)
    return await _changed(intake, case_id, caller, lambda case: domain.change_case(
        case, caller.firm_id, intake.clock(), session=change.session, add_parties=change.add_parties))


@router.post("/{case_id}/withdraw", **answers(CaseView, 404, 409))
async def withdraw_case(case_id: str, withdrawal: Withdrawal, request: Request,
                        caller: Principal = Depends(firm)) -> dict:
    return await _changed(intake_of(request), case_id, caller,
                          lambda case: domain.withdraw(case, caller.firm_id, withdrawal.reason))


async def _changed(intake: Intake, case_id: str, caller: Principal, apply: Callable[[Case], Changed]) -> dict:
    try:
        return view(await intake.change(case_id, caller.firm_id, None, f"http-{uuid.uuid4()}", apply))
    except ConflictsExhausted as busy:
        raise HTTPException(status.HTTP_409_CONFLICT, str(busy)) from None
    except LookupError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}") from None
    except NotAllowed as refused:
        raise HTTPException(status.HTTP_409_CONFLICT, str(refused)) from None
    except Rejected as rejected:
        raise unprocessable(rejected.reasons) from None


def readable(case: Case, caller: Principal) -> bool:
    if caller.role is Role.OPERATOR:
        return True
    if caller.role is Role.MEDIATOR:
        return case.mediated_by(caller.mediator_id)
    return case.visible_to(caller.firm_id)
