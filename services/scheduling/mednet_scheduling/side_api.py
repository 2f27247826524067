"""A side's own view through its signed link (the console's side pages): its offer, its choice or decline, its call
and the call's calendar file. The link (header X-Side-Link) names one party of one case; nothing here reads or
changes another side."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, Security, status
from fastapi.security import APIKeyHeader
from icalendar import Calendar, Event
from pydantic import BaseModel, ConfigDict

from mednet_shared.contracts.values import Party, Place
from mednet_shared.platform.http import PUBLIC_API_PATHS, answers
from mednet_shared.platform.side_link import SideLinkRefused

from .api import CallView, Choice, Decline, _answered, scheduler_of
from .domain import offers
from .domain.calls import call_id_of
from .domain.state import CaseState
from .usecases import Cause

router = APIRouter(prefix="/v1/side", tags=["side"])
link = APIKeyHeader(name="X-Side-Link", auto_error=False, description="The side's signed link token")
PUBLIC_API_PATHS.update({"/v1/side", "/v1/side/choose", "/v1/side/decline", "/v1/side/call.ics"})


@dataclass(frozen=True)
class Side:
    state: CaseState
    party: Party

    @property
    def call_id(self) -> str:
        return call_id_of(self.state.case_id, self.party.party_id)


class SlotView(BaseModel):
    slot_id: str
    start: datetime
    end: datetime


class OfferView(BaseModel):
    offer_id: str
    expires_at: datetime
    slots: list[SlotView]


SLOT = {"slot_id": "case-b68b:p1:offer-1:slot-1", "start": "2027-01-11T09:00:00+00:00",
        "end": "2027-01-11T09:45:00+00:00"}
SIDE = {"case_id": "case-b68b", "party_id": "p1", "name": "Harbor Supplies Ltd", "time_zone": "Europe/London",
        "mediator_name": "Ada Mediator",
        "session": {"start": "2027-01-25T13:00:00+00:00", "end": "2027-01-25T19:00:00+00:00",
                    "time_zone": "Europe/Berlin"},
        "offer": {"offer_id": "case-b68b:p1:offer-1", "expires_at": "2027-01-08T09:00:00+00:00", "slots": [SLOT]},
        "call": {"call_id": "case-b68b:p1", "party_id": "p1", "status": "offered", "sequence": 0}}


class SideView(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SIDE]})
    case_id: str
    party_id: str
    name: str
    time_zone: str
    mediator_name: str
    session: dict
    offer: OfferView | None
    call: CallView | None


async def side(request: Request, token: str | None = Security(link)) -> Side:
    """The link's side, before any body is read: no link 401, a bad one 403, an expired one 410, a side that is
    not (or no longer) confirmed 404."""
    scheduler = scheduler_of(request)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "this page needs the link from your email")
    try:
        claims = scheduler.links.side(token, scheduler.clock())
    except SideLinkRefused as refused:
        raise HTTPException(status.HTTP_410_GONE if "expired" in str(refused) else status.HTTP_403_FORBIDDEN,
                            str(refused)) from None
    state = await scheduler.store.case(claims.case_id)
    party = state.facts.party(claims.party_id) if state else None
    if party is None or not state.facts.confirmed(party.party_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "nothing is known for this link")
    return Side(state, party)


async def own_offer(offer: str = Query(max_length=200), own: Side = Depends(side)) -> Side:
    """The offer must be of the link's own call: any other (another side's, another case's) is 404."""
    if offer.rpartition(":offer-")[0] != own.call_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no offer {offer} for this link")
    return own


async def open_offer(request: Request, own: Side) -> dict | None:
    calendar = await scheduler_of(request).store.calendar(own.state.facts.mediator.mediator_id)
    record = calendar.offers.of(own.call_id)
    current = record.current if record is not None else None
    if current is None or not current.is_open:
        return None
    return {"offer_id": current.offer_id, "expires_at": current.expires_at.isoformat(),
            "slots": [{"slot_id": s.slot_id, "start": s.start.isoformat(), "end": s.end.isoformat()}
                      for s in current.slots]}


@router.get("", **answers(SideView, 401, 403, 404, 410))
async def side_view(request: Request, own: Side = Depends(side)) -> dict:
    """The side's own case facts, its open offer (None: nothing left to choose) and its call (None: none yet)."""
    facts, call = own.state.facts, own.state.calls.get(own.party.party_id)
    return {"case_id": facts.case_id, "party_id": own.party.party_id, "name": own.party.contact.name,
            "time_zone": own.party.time_zone, "mediator_name": facts.mediator.name,
            "session": facts.session.model_dump(mode="json"), "offer": await open_offer(request, own),
            "call": call.view() if call is not None else None}


@router.post("/choose", **answers(CallView, 401, 403, 404, 409, 410, 422))
async def choose(body: Choice, request: Request, offer: str = Query(max_length=200),
                 own: Side = Depends(own_offer)) -> dict:
    """The side books one slot of its own current offer (booked_by "choice")."""
    return await _answered(request, scheduler_of(request).choose(
        own.state.case_id, own.party.party_id, offer, body.slot_id, Cause(), sender=offers.SIGNED_LINK),
        own.party.party_id)


@router.post("/decline", **answers(CallView, 401, 403, 404, 409, 410, 422))
async def decline(body: Decline, request: Request, offer: str = Query(max_length=200),
                  own: Side = Depends(own_offer)) -> dict:
    """None of the slots: a new offer, inside the side's proposed windows when it gives some."""
    return await _answered(request, scheduler_of(request).decline(
        own.state.case_id, own.party.party_id, offer, body.proposals, Cause(), sender=offers.SIGNED_LINK),
        own.party.party_id)


def ics(own: Side, call: dict) -> bytes:
    place = Place.model_validate(call["place"]) if call.get("place") else None
    event = Event()
    event.add("uid", own.call_id)
    event.add("sequence", call.get("sequence") or 0)
    event.add("dtstart", datetime.fromisoformat(call["start"]))
    event.add("dtend", datetime.fromisoformat(call["end"]))
    event.add("dtstamp", datetime.fromisoformat(call["start"]))
    event.add("summary", f"Pre-mediation call with {own.state.facts.mediator.name}")
    if place is not None:
        event.add("location", place.url or place.phone or place.text)
        event.add("description", place.text + (f" (PIN {place.pin})" if place.pin else ""))
    calendar = Calendar()
    calendar.add("prodid", "-//mednet//side//EN")
    calendar.add("version", "2.0")
    calendar.add_component(event)
    return calendar.to_ical()


@router.get("/call.ics", response_class=Response, **answers(None, 401, 403, 404, 409, 410, extra={
    200: {"description": "The booked call as an iCalendar file (an attachment)",
          "content": {"text/calendar": {"schema": {"type": "string"}}}}}))
async def call_file(own: Side = Depends(side)) -> Response:
    """The side's booked call as an iCalendar file (UID = call id, as in its invitation)."""
    call = own.state.calls.get(own.party.party_id)
    view = call.view() if call is not None else {}
    if view.get("status") != "scheduled" or not view.get("start"):
        raise HTTPException(status.HTTP_409_CONFLICT, "no call is booked yet")
    return Response(ics(own, view), media_type="text/calendar",
                    headers={"Content-Disposition": 'attachment; filename="pre-mediation-call.ics"',
                             "Cache-Control": "no-store"})
