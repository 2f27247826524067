"""Intake's HTTP API: firms submit, read, change and withdraw their cases (bearer JWT, scoped to the caller)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mednet_shared.contracts.events import AcceptRepresentation, SubmitCase
from mednet_shared.contracts.envelope import MAX_EVENT_BYTES, reasons
from mednet_shared.contracts.values import (
    Attorney,
    Contact,
    DateWindow,
    LongText,
    Party,
    Reason,
    Session,
    Side,
    TimeZoneName,
    WeeklyWindow,
)
from mednet_shared.platform.auth import Principal, Role, require
from mednet_shared.platform.cas import ConflictsExhausted
from mednet_shared.platform.http import Unprocessable, answers, documented_body, temporal_problems

from . import domain
from . import examples as example
from .domain import Case, Changed, NotAllowed, Rejected
from .usecases import Intake

router = APIRouter(prefix="/v1/cases", tags=["cases"])
firm = require(Role.FIRM)
mediator = require(Role.MEDIATOR)
firm_or_mediator = require(Role.FIRM, Role.MEDIATOR)
anyone = require(Role.FIRM, Role.MEDIATOR, Role.OPERATOR)


class CaseChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session: Session | None = None
    add_parties: list[Party] = Field(default_factory=list, max_length=20)


class CaseView(SubmitCase):
    """A case as its mediator or an operator sees it: the submission, and what intake knows of it."""

    case_id: str
    firm_id: str
    status: str = Field(description="open or withdrawn")
    revision: int
    participant_firms: list[str]
    sides: list[Side]


class MediatorSummary(BaseModel):
    mediator_id: str
    name: str
    time_zone: str


class PendingSide(BaseModel):
    party_id: str
    role: str
    name: str


class FirmCaseView(BaseModel):
    """A case as a firm sees it: the case-level facts, its own confirmed sides' parties; the submitting firm also
    the title, the policy and every side's Side entry (no other side's data); a firm asked to confirm a side only
    that side's entry and its party's name and role (pending)."""

    case_id: str
    external_ref: str
    status: str
    revision: int
    session: Session
    mediator: MediatorSummary
    parties: list[Party]
    sides: list[Side]
    pending: list[PendingSide]
    title: str | None = Field(default=None, description="The submitting firm only")
    firm_id: str | None = Field(default=None, description="The submitting firm only")
    participant_firms: list[str] | None = Field(default=None, description="The submitting firm only")


class CaseLeft(BaseModel):
    """What a firm is told once it sees nothing more of the case (it declined the only side it was asked for)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"case_id": example.CASE.case_id, "status": "open"}]})
    case_id: str
    status: str


class Acceptance(BaseModel):
    """AcceptRepresentation's fields but the case and the party (in the path)."""

    model_config = ConfigDict(extra="forbid")
    contact: Contact | None = None
    attorney: Attorney | None = None
    time_zone: TimeZoneName | None = None
    availability: list[WeeklyWindow] | None = Field(default=None, min_length=1, max_length=50)
    unavailable: list[DateWindow] | None = Field(default=None, max_length=100)


class Declination(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: LongText = ""


class MediatorConfirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact: Contact | None = None
    time_zone: TimeZoneName | None = None
    availability: list[WeeklyWindow] | None = Field(default=None, min_length=1, max_length=50)
    unavailable: list[DateWindow] | None = Field(default=None, max_length=100)


class AvailabilityChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    availability: list[WeeklyWindow] = Field(min_length=1, max_length=50)
    unavailable: list[DateWindow] = Field(default_factory=list, max_length=100)


class Withdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [example.WITHDRAWAL]})
    reason: LongText = ""


def intake_of(request: Request) -> Intake:
    return request.app.state.intake


def view(case: Case, caller: Principal) -> dict[str, Any] | None:
    """What this caller may see of the case (None: nothing, a 404)."""
    if caller.role is Role.OPERATOR:
        return domain.full_view(case)
    if caller.role is Role.MEDIATOR:
        return domain.full_view(case) if case.mediated_by(caller.mediator_id) else None
    return domain.firm_view(case, caller.firm_id)


async def parsed(request: Request, model: type[BaseModel]) -> BaseModel:
    document = await json_body(request)
    try:
        body = model.model_validate(document)
    except ValidationError as error:
        raise unprocessable(reasons(error)) from None
    if late := dates_as_text(body, document):
        raise unprocessable(late)
    return body


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


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=documented_body(SubmitCase, example.SUBMISSION),
             **answers(FirmCaseView, status=201, description="The case opened", example=example.FIRM_VIEW,
                       extra={200: {"model": FirmCaseView, "description": "The same submission again: its case",
                                    "content": {"application/json": {"example": example.FIRM_VIEW}}}}))
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
    return view(submitted.case, caller)


@router.get("/{case_id}", **answers(FirmCaseView | CaseView, 404, example=example.FIRM_VIEW,
                                   description="A firm's view; the case's mediator and an operator see the whole "
                                               "CaseView"))
async def get_case(case_id: str, request: Request, caller: Principal = Depends(anyone)) -> dict:
    case = await intake_of(request).store.get(case_id)
    seen = view(case, caller) if case is not None else None
    if seen is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    return seen


@router.patch("/{case_id}", openapi_extra=documented_body(CaseChange, example.CHANGE),
              **answers(FirmCaseView, 404, 409, example=example.FIRM_VIEW))
async def change_case(case_id: str, request: Request, caller: Principal = Depends(firm)) -> dict:
    change = await parsed(request, CaseChange)
    intake = intake_of(request)
    return await _changed(intake, case_id, caller, lambda case: domain.change_case(
        case, caller.firm_id, intake.clock(), session=change.session, add_parties=change.add_parties))


@router.post("/{case_id}/withdraw", **answers(FirmCaseView, 404, 409, example=example.FIRM_VIEW))
async def withdraw_case(case_id: str, withdrawal: Withdrawal, request: Request,
                        caller: Principal = Depends(firm)) -> dict:
    return await _changed(intake_of(request), case_id, caller,
                          lambda case: domain.withdraw(case, caller.firm_id, withdrawal.reason))


@router.post("/{case_id}/sides/{party_id}/accept", openapi_extra=documented_body(Acceptance, example.ACCEPTANCE),
             **answers(FirmCaseView, 404, 409, example=example.FIRM_VIEW))
async def accept_side(case_id: str, party_id: str, request: Request, caller: Principal = Depends(firm)) -> dict:
    """The firm named for the party accepts, with its corrections (its attorney must be of this firm)."""
    body = await parsed(request, Acceptance)
    try:
        command = AcceptRepresentation(case_id=case_id, party_id=party_id, **body.model_dump(exclude_none=True))
    except ValidationError as error:
        raise unprocessable(reasons(error)) from None
    intake = intake_of(request)
    return await _changed(intake, case_id, caller, lambda case: domain.accept_representation(
        case, caller.firm_id, command, intake.clock()), readable=lambda case: case.known_to(caller.firm_id))


@router.post("/{case_id}/sides/{party_id}/decline", openapi_extra=documented_body(Declination, example.DECLINATION),
             **answers(FirmCaseView | CaseLeft, 404, 409, example=example.FIRM_VIEW))
async def decline_side(case_id: str, party_id: str, request: Request, caller: Principal = Depends(firm)) -> dict:
    await parsed(request, Declination)
    intake = intake_of(request)
    return await _changed(intake, case_id, caller, lambda case: domain.decline_representation(
        case, caller.firm_id, party_id, intake.clock()), readable=lambda case: case.known_to(caller.firm_id))


@router.post("/{case_id}/sides/{party_id}/confirm",
             openapi_extra=documented_body(MediatorConfirmation, example.CONFIRMATION),
             **answers(CaseView, 404, 409, example=example.CASE_VIEW))
async def confirm_side(case_id: str, party_id: str, request: Request, caller: Principal = Depends(mediator)) -> dict:
    """The case's mediator confirms an unrepresented (or declined) side's contact, optionally corrected."""
    body = await parsed(request, MediatorConfirmation)
    intake = intake_of(request)
    return await _changed(intake, case_id, caller, lambda case: domain.confirm_by_mediator(
        case, caller.mediator_id, party_id, intake.clock(), contact=body.contact, time_zone=body.time_zone,
        availability=body.availability, unavailable=body.unavailable),
        readable=lambda case: case.mediated_by(caller.mediator_id))


@router.put("/{case_id}/parties/{party_id}/availability",
            openapi_extra=documented_body(AvailabilityChange, example.AVAILABILITY),
            **answers(FirmCaseView | CaseView, 404, 409, example=example.FIRM_VIEW))
async def change_availability(case_id: str, party_id: str, request: Request,
                              caller: Principal = Depends(firm_or_mediator)) -> dict:
    """The side's own confirmed firm, or the case's mediator."""
    by_mediator = caller.mediator_id if caller.role is Role.MEDIATOR else None
    by_firm = None if by_mediator else caller.firm_id
    readable = ((lambda case: case.mediated_by(by_mediator)) if by_mediator
                else (lambda case: case.visible_to(by_firm)))
    case = await intake_of(request).store.get(case_id)
    if case is None or not readable(case):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    body = await parsed(request, AvailabilityChange)
    return await _changed(intake_of(request), case_id, caller, lambda case: domain.change_availability(
        case, by_firm, party_id, body.availability, body.unavailable, by_mediator=by_mediator), readable=readable)


async def _changed(intake: Intake, case_id: str, caller: Principal, apply: Callable[[Case], Changed],
                   readable: Callable[[Case], bool] | None = None) -> dict:
    firm_id = caller.firm_id if caller.role is Role.FIRM else None
    try:
        changed = await intake.change(case_id, firm_id, None, f"http-{uuid.uuid4()}", apply, readable)
    except ConflictsExhausted as busy:
        raise HTTPException(status.HTTP_409_CONFLICT, str(busy)) from None
    except LookupError:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}") from None
    except NotAllowed as refused:
        raise HTTPException(status.HTTP_409_CONFLICT, "; ".join(r.message for r in refused.reasons)) from None
    except Rejected as rejected:
        raise unprocessable(rejected.reasons) from None
    return view(changed, caller) or {"case_id": changed.case_id, "status": changed.status}
