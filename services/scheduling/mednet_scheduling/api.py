"""Scheduling's HTTP API: the case's mediator runs the calls' lifecycle and manages availability and
conferencing; a firm reads (and may move) only the calls of its own confirmed sides."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from html import escape

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Security, status
from fastapi.responses import HTMLResponse
from fastapi.security import APIKeyQuery
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mednet_shared.contracts.values import DateWindow, Identifier, LongText, Place, Weekday, WeeklyWindow
from mednet_shared.platform.auth import Principal, Role, require
from mednet_shared.platform.cas import ConflictsExhausted
from mednet_shared.platform.http import (PUBLIC_API_PATHS, FieldProblem, IsoDate, IsoDateTime, IsoTime, Unprocessable,
                                         answers)

from .domain import MediatorAvailability, access, offers
from .domain.calls import OPEN, CallNotFound, CallStateError, Placement, ensure_scheduled, ids_of_call
from .domain.offers import OfferRefused
from .links import DECLINE, LinkRefused
from .domain.places import Conferencing, PlaceUnavailable
from .domain.state import CaseState, availability_document
from .usecases import Cause, Scheduler

router = APIRouter(prefix="/v1", tags=["calls"])


def example(value: Any) -> dict[str, Any]:
    return {"json_schema_extra": {"examples": [value]}}


HOURS = [{"day": day, "start": "09:00:00", "end": "17:00:00"} for day in ("mon", "tue", "wed", "thu", "fri")]
CALL = {"call_id": "case-b68b:p1", "party_id": "p1", "status": "scheduled", "start": "2027-03-08T10:00:00Z",
        "end": "2027-03-08T10:45:00Z", "sequence": 1, "missed_count": 0,
        "place": {"kind": "video", "url": "https://meet.example.org/mednet-7Qm2xK", "text": "Video call"}}
CONFERENCING = {"kind": "video", "url_template": "https://meet.example.org/mednet-{room}"}
mediator = require(Role.MEDIATOR, Role.OPERATOR)
anyone = require(Role.FIRM, Role.MEDIATOR, Role.OPERATOR)


class Reschedule(BaseModel):
    model_config = ConfigDict(extra="forbid", **example({"not_before": "2027-03-09T08:00:00+01:00",
                                                         "reason": "the party is travelling"}))
    not_before: IsoDateTime | None = None
    reason: LongText = ""


class Cancellation(BaseModel):
    model_config = ConfigDict(extra="forbid", **example({"reason": "the party withdrew"}))
    reason: LongText = ""


class Waiver(BaseModel):
    model_config = ConfigDict(extra="forbid", **example({"reason": "the party's position is in its statement"}))
    reason: LongText = Field(default="", description="Why the call will not take place (required; checked once "
                                                    "the caller is known to run the call)")


class Hours(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: IsoTime
    end: IsoTime

    @model_validator(mode="after")
    def ends_after_start(self) -> Hours:
        if self.end <= self.start:
            raise ValueError("hours must end after they start")
        return self


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")
    day: Weekday
    start: IsoTime
    end: IsoTime = Field(description="Exclusive; later than start on the same day")


class Availability(BaseModel):
    model_config = ConfigDict(extra="forbid", **example({
        "weekly": [{"day": "mon", "start": "09:00", "end": "17:00"}, {"day": "wed", "start": "09:00", "end": "13:00"}],
        "date_overrides": {"2027-03-10": [{"start": "14:00", "end": "18:00"}]}, "blackout_days": ["2027-03-12"]}))
    weekly: list[Window] | None = Field(default=None, max_length=50)
    date_overrides: dict[IsoDate, list[Hours]] = Field(default_factory=dict, max_length=400)
    blackout_days: list[IsoDate] = Field(default_factory=list, max_length=400)

    @model_validator(mode="after")
    def windows_end_after_start(self) -> Availability:
        if any(window.end <= window.start for window in self.weekly or ()):
            raise ValueError("every weekly window must end after it starts")
        return self

    def domain(self) -> MediatorAvailability:
        return MediatorAvailability(
            weekly=tuple(WeeklyWindow(day=w.day, start=w.start, end=w.end) for w in self.weekly)
            if self.weekly is not None else None,
            date_overrides={day: tuple((h.start, h.end) for h in hours) for day, hours in self.date_overrides.items()},
            blackout_days=frozenset(self.blackout_days),
        )


class CallView(BaseModel):
    """One party's call; start, end and sequence while it has a slot, reason when it failed."""

    model_config = ConfigDict(extra="allow", **example(CALL))
    call_id: str
    party_id: str
    status: str = Field(description="scheduled, completed, cancelled, failed or waived")
    start: datetime | None = None
    end: datetime | None = None
    sequence: int | None = None
    missed_count: int | None = None
    reason: str | None = None
    place: Place | None = None


class CallsView(BaseModel):
    model_config = ConfigDict(**example({"case_id": "case-b68b", "status": "open", "completed": False,
                                         "calls": [CALL]}))
    case_id: str
    status: str
    completed: bool
    calls: list[CallView]


class Booking(BaseModel):
    call_id: str
    start: datetime
    end: datetime


class ConferencingView(BaseModel):
    model_config = ConfigDict(**example({"mediator_id": "med-ana", "conferencing": CONFERENCING}))
    mediator_id: str
    conferencing: Conferencing | None = Field(description="None: calls get no place")


class AvailabilityView(BaseModel):
    model_config = ConfigDict(**example({
        "mediator_id": "med-ana", "weekly": HOURS, "date_overrides": {"2027-03-10": [["14:00:00", "18:00:00"]]},
        "blackout_days": ["2027-03-12"], "bookings": [{"call_id": "case-b68b:p1", "start": "2027-03-08T10:00:00+00:00",
                                                       "end": "2027-03-08T10:45:00+00:00"}]}))
    mediator_id: str
    weekly: list[WeeklyWindow] | None
    date_overrides: dict[str, list[tuple[str, str]]] = Field(description="day -> [[start, end], ...]")
    blackout_days: list[str]
    bookings: list[Booking]


def scheduler_of(request: Request) -> Scheduler:
    return request.app.state.scheduler


def visible(state: CaseState, caller: Principal) -> set[str] | None:
    return access.visible_parties(state.facts, caller.role, firm_id=caller.firm_id, mediator_id=caller.mediator_id)


def calls_view(state: CaseState, parties: set[str]) -> list[dict[str, Any]]:
    return [call.view() for party_id, call in state.calls.items() if party_id in parties]


@router.get("/cases/{case_id}/calls", **answers(CallsView, 404))
async def list_calls(case_id: str, request: Request, caller: Principal = Depends(anyone)) -> dict:
    """A firm gets the calls of its own confirmed sides only (the submitting firm with no side of its own: none);
    the case's mediator and an operator every call; anyone else 404."""
    state = await scheduler_of(request).store.case(case_id)
    parties = visible(state, caller) if state is not None else None
    if parties is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    return {"case_id": case_id, "status": state.status, "completed": state.completed,
            "calls": calls_view(state, parties)}


async def _visible_call(request: Request, call_id: str, caller: Principal):
    found = await scheduler_of(request).case_of_call(call_id)
    if found is None or found[1].party_id not in (visible(found[0], caller) or ()):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id}")
    return found


async def _case_and_party(request: Request, call_id: str, caller: Principal):
    state, party = await _visible_call(request, call_id, caller)
    if not access.may_run(state.facts, caller.role, mediator_id=caller.mediator_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the case's mediator runs its calls")
    return state, party


async def _run(request: Request, call_id: str, use_case) -> dict:
    try:
        await use_case
    except CallNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id}") from None
    except (CallStateError, ConflictsExhausted, PlaceUnavailable) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    state, party = await scheduler_of(request).case_of_call(call_id)
    return state.calls[party.party_id].view()


def _scheduled(state: CaseState, party_id: str) -> None:
    try:
        ensure_scheduled(state, party_id)
    except CallStateError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


@router.post("/calls/{call_id}/reschedule", **answers(CallView, 403, 404, 409))
async def reschedule(call_id: str, body: Reschedule, request: Request, caller: Principal = Depends(anyone)) -> dict:
    """The case's mediator, an operator, or the firm of the call's own confirmed side."""
    state, party = await _visible_call(request, call_id, caller)
    if not access.may_move(state.facts, party.party_id, caller.role, firm_id=caller.firm_id,
                           mediator_id=caller.mediator_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the side's own firm or the case's mediator moves a call")
    _scheduled(state, party.party_id)
    by = "the mediator" if caller.role != Role.FIRM else "the firm"
    use = scheduler_of(request).place(state.facts, party, Cause(), mode=Placement.RESCHEDULE,
                                      not_before=body.not_before, reason=body.reason or f"rescheduled by {by}")
    return await _run(request, call_id, use)


@router.post("/calls/{call_id}/cancel", **answers(CallView, 404, 409))
async def cancel(call_id: str, body: Cancellation, request: Request, caller: Principal = Depends(mediator)) -> dict:
    """Only a booked call is cancelled (a completed call stays completed)."""
    state, party = await _case_and_party(request, call_id, caller)
    call = state.calls.get(party.party_id)
    if call is None or call.status not in OPEN:
        _scheduled(state, party.party_id)
    return await _run(request, call_id, scheduler_of(request).cancel(state.facts, party, Cause(),
                                                                      body.reason or "cancelled by the mediator"))


@router.post("/calls/{call_id}/waive", **answers(CallView, 404, 409))
async def waive(call_id: str, body: Waiver, request: Request, caller: Principal = Depends(mediator)) -> dict:
    """The call will not take place (CallWaived); a booked one is released first (CallCancelled). From no call yet,
    scheduled, cancelled or failed."""
    state, party = await _case_and_party(request, call_id, caller)
    if not body.reason:
        raise Unprocessable("a waiver needs a reason", [{"field": "reason", "message": "give the reason"}])
    return await _run(request, call_id, scheduler_of(request).waive(state.case_id, party.party_id, body.reason,
                                                                     Cause()))


@router.post("/calls/{call_id}/place", **answers(CallView, 404, 409))
async def place_again(call_id: str, request: Request, caller: Principal = Depends(mediator)) -> dict:
    """A cancelled or failed call of a confirmed side is placed again (a new booking, its sequence going on)."""
    state, party = await _case_and_party(request, call_id, caller)
    return await _run(request, call_id, scheduler_of(request).place_again(state.case_id, party.party_id, Cause()))


@router.post("/calls/{call_id}/complete", **answers(CallView, 404, 409))
async def complete(call_id: str, request: Request, caller: Principal = Depends(mediator)) -> dict:
    state, party = await _case_and_party(request, call_id, caller)
    return await _run(request, call_id, scheduler_of(request).complete(state.case_id, party.party_id, Cause()))


@router.post("/calls/{call_id}/missed", **answers(CallView, 404, 409))
async def missed(call_id: str, request: Request, caller: Principal = Depends(mediator)) -> dict:
    state, party = await _case_and_party(request, call_id, caller)
    return await _run(request, call_id, scheduler_of(request).missed(state.facts, party, Cause()))


def _own_calendar(mediator_id: str, caller: Principal) -> None:
    if not access.may_manage_calendar(mediator_id, caller.role, caller.mediator_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "a mediator manages only their own availability")


def calendar_owner(mediator_id: str, caller: Principal = Depends(mediator)) -> Principal:
    """As a dependency, so another mediator is refused before the body is read or judged."""
    _own_calendar(mediator_id, caller)
    return caller


@router.get("/mediators/{mediator_id}/conferencing", **answers(ConferencingView))
async def get_conferencing(mediator_id: str, request: Request, caller: Principal = Depends(mediator)) -> dict:
    _own_calendar(mediator_id, caller)
    calendar = await scheduler_of(request).store.calendar(mediator_id)
    profile = calendar.conferencing.model_dump(mode="json", exclude_none=True) if calendar.conferencing else None
    return {"mediator_id": mediator_id, "conferencing": profile}


@router.put("/mediators/{mediator_id}/conferencing", **answers(ConferencingView))
async def put_conferencing(mediator_id: str, request: Request, body: Conferencing = Body(examples=[CONFERENCING]),
                           caller: Principal = Depends(calendar_owner)) -> dict:
    """video: an https url_template with {room} (each call its own unguessable room); phone: the bridge's number
    (each call its own PIN); callback: the mediator's number. Calls booked from now on get their place from it."""
    _own_calendar(mediator_id, caller)
    await scheduler_of(request).set_conferencing(mediator_id, body)
    return await get_conferencing(mediator_id, request, caller)


@router.get("/mediators/{mediator_id}/availability", **answers(AvailabilityView))
async def get_availability(mediator_id: str, request: Request, caller: Principal = Depends(mediator)) -> dict:
    _own_calendar(mediator_id, caller)
    calendar = await scheduler_of(request).store.calendar(mediator_id)
    return {"mediator_id": mediator_id, **availability_document(calendar.availability),
            "bookings": [{"call_id": r.call_id, "start": r.start.isoformat(), "end": r.end.isoformat()}
                         for r in sorted(calendar.calls.values(), key=lambda r: r.start)]}


@router.put("/mediators/{mediator_id}/availability", **answers(AvailabilityView))
async def put_availability(mediator_id: str, body: Availability, request: Request,
                           caller: Principal = Depends(calendar_owner)) -> dict:
    _own_calendar(mediator_id, caller)
    await scheduler_of(request).set_availability(mediator_id, body.domain())
    return await get_availability(mediator_id, request, caller)


# -- offers: the side's consent to a booking ----------------------------------------------------------------


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid", **example({"slot_id": "s2"}))
    slot_id: Identifier


class Decline(BaseModel):
    model_config = ConfigDict(extra="forbid", **example({
        "reason": "none of these suits", "proposals": [{"start": "2027-03-09T13:00:00+01:00",
                                                        "end": "2027-03-09T17:00:00+01:00"}]}))
    reason: LongText = ""
    proposals: list[DateWindow] = Field(default_factory=list, max_length=10)


PUBLIC_API_PATHS.update({"/v1/offers/choose", "/v1/offers/decline"})   # the signed links: the token is the key


def _refused(error: OfferRefused) -> HTTPException:
    """The refusal's status, every reason in `errors` (field, message)."""
    refused = HTTPException(error.status, str(error)[:2000] or "refused")
    refused.errors = [FieldProblem(field=reason.field, message=reason.message) for reason in error.reasons]
    return refused


OfferSide = tuple[CaseState, str, str | None]


async def offer_side(offer_id: str, request: Request, caller: Principal = Depends(anyone)) -> OfferSide:
    """The case and party an offer id names, and who answers it: the side's own firm (its id) or the case's
    mediator (offers.MEDIATOR). Another firm, or an offer nobody can name: 404 (nothing about it is told), and as a
    dependency before the body is read, so not even what a valid answer's body would be."""
    call_id = offer_id.rpartition(":offer-")[0]
    case_id, party_id = ids_of_call(call_id)
    found = await scheduler_of(request).case_of_call(call_id) if case_id and party_id else None
    if found is None or found[1].party_id not in (visible(found[0], caller) or ()):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no offer {offer_id}")
    state, party = found
    if caller.role == Role.FIRM:
        return state, party.party_id, caller.firm_id
    if not access.may_run(state.facts, caller.role, mediator_id=caller.mediator_id):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the side's own firm or the case's mediator answers an "
                                                       "offer")
    return state, party.party_id, offers.MEDIATOR


async def _answered(request: Request, use_case, party_id: str) -> dict:
    try:
        state = await use_case
    except OfferRefused as error:
        raise _refused(error) from None
    except (ConflictsExhausted, PlaceUnavailable) as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return state.calls[party_id].view()


@router.post("/offers/{offer_id}/choose", **answers(CallView, 403, 404, 409, 410, 422))
async def choose_slot(offer_id: str, body: Choice, request: Request,
                      side: OfferSide = Depends(offer_side)) -> dict:
    """The side's own confirmed firm (or the case's mediator) chooses one slot of its current offer: it is
    booked (CallScheduled, booked_by "choice" or "mediator")."""
    state, party_id, sender = side
    return await _answered(request, scheduler_of(request).choose(
        state.case_id, party_id, offer_id, body.slot_id, Cause(), sender=sender), party_id)


@router.post("/offers/{offer_id}/decline", **answers(CallView, 403, 404, 409, 410, 422))
async def decline_slots(offer_id: str, body: Decline, request: Request,
                        side: OfferSide = Depends(offer_side)) -> dict:
    """None of the slots: a new offer, inside the proposals when there are any (each inside the offer window)."""
    state, party_id, sender = side
    return await _answered(request, scheduler_of(request).decline(
        state.case_id, party_id, offer_id, body.proposals, Cause(), sender=sender), party_id)


HTML = {"text/html": {"schema": {"type": "string"}}}
LINK_PAGE = {"response_class": HTMLResponse, "responses": {
    200: {"description": "A page for the side: the question to confirm, or what was done", "content": HTML},
    **{code: {"description": "Refused (the page, or a Problem before the link is read)", "content": HTML}
       for code in (403, 404, 409, 410, 422)}}}


signed_link = APIKeyQuery(name="token", scheme_name="signedLink", auto_error=False,
                          description="The signed token of an offer email's link (at most 4000 characters): it names "
                                      "the offer and the slot, and is the only key")


def link_token(token: str | None = Security(signed_link)) -> str:
    if not token or len(token) > 4000:
        raise Unprocessable("the link has no valid token", [{"field": "token", "message": "the signed token of the "
                                                                  "offer email's link, at most 4000 characters"}])
    return token


def _page(title: str, text: str, status_code: int = 200, form: str = "") -> HTMLResponse:
    body = (f"<!doctype html><html><head><meta charset='utf-8'><meta name='robots' content='noindex'>"
            f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1><p>{escape(text)}</p>{form}"
            "</body></html>")
    return HTMLResponse(body, status_code, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


def _claims(request: Request, token: str, purpose: str):
    scheduler = scheduler_of(request)
    if scheduler.links is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "links are not enabled")
    try:
        claims = scheduler.links.verify(token, scheduler.clock())
    except LinkRefused as error:
        raise HTTPException(status.HTTP_403_FORBIDDEN if "expired" not in str(error) else status.HTTP_410_GONE,
                            str(error)) from None
    if (claims.slot_id == DECLINE) != (purpose == DECLINE):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the link is not valid")
    return claims


def _confirmation(action: str, token: str, question: str) -> HTMLResponse:
    form = (f"<form method='post' action='/v1/offers/{action}?token={escape(token, quote=True)}'>"
            f"<button type='submit'>Confirm</button></form>")
    return _page("Please confirm", question, form=form)


@router.get("/offers/choose", **LINK_PAGE)
async def choose_link(request: Request, token: str = Depends(link_token)) -> HTMLResponse:
    """The one-click link of an offer email: a small confirmation page (a mail scanner that follows links books
    nothing); its button books on POST."""
    _claims(request, token, "choose")
    return _confirmation("choose", token, "Book this time for your pre-mediation call?")


@router.post("/offers/choose", **LINK_PAGE)
async def choose_by_link(request: Request, token: str = Depends(link_token)) -> HTMLResponse:
    claims = _claims(request, token, "choose")
    try:
        await scheduler_of(request).choose(claims.case_id, claims.party_id, claims.offer_id, claims.slot_id, Cause(),
                                           sender=offers.SIGNED_LINK)
    except OfferRefused as error:
        return _page("This time could not be booked", "; ".join(r.message for r in error.reasons), error.status)
    return _page("Booked", "Your call is booked; an invitation is on its way.")


@router.get("/offers/decline", **LINK_PAGE)
async def decline_link(request: Request, token: str = Depends(link_token)) -> HTMLResponse:
    _claims(request, token, DECLINE)
    return _confirmation("decline", token, "None of these times suits you? You will get new options.")


@router.post("/offers/decline", **LINK_PAGE)
async def decline_by_link(request: Request, token: str = Depends(link_token)) -> HTMLResponse:
    claims = _claims(request, token, DECLINE)
    try:
        await scheduler_of(request).decline(claims.case_id, claims.party_id, claims.offer_id, [], Cause(),
                                            sender=offers.SIGNED_LINK)
    except OfferRefused as error:
        return _page("The times could not be declined", "; ".join(r.message for r in error.reasons), error.status)
    return _page("Declined", "You will receive new options.")
