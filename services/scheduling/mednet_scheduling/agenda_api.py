"""The mediator's agenda across cases: the calls booked on their own calendar, for the console's agenda page."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict

from mednet_shared.contracts.values import Place, utc_now
from mednet_shared.platform.auth import Principal
from mednet_shared.platform.http import IsoDateTime, answers

from .api import calendar_owner, scheduler_of

router = APIRouter(prefix="/v1", tags=["calls"])


class AgendaCall(BaseModel):
    call_id: str
    case_id: str
    party_id: str
    party_name: str | None = None
    party_role: str | None = None
    start: datetime
    end: datetime
    place: Place | None = None


class Agenda(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "mediator_id": "med-ada", "time_zone": "Europe/Berlin",
        "calls": [{"call_id": "case-1f2e3d4c5b6a79880011:p1", "case_id": "case-1f2e3d4c5b6a79880011",
                   "party_id": "p1", "party_name": "Alex Claimant", "party_role": "claimant",
                   "start": "2026-03-24T09:00:00+00:00", "end": "2026-03-24T09:45:00+00:00",
                   "place": {"kind": "video", "url": "https://meet.example.org/r-7Qx2", "text": "Video call: "
                             "https://meet.example.org/r-7Qx2"}}]}]})
    mediator_id: str
    time_zone: str | None = None
    calls: list[AgendaCall]


@router.get("/mediators/{mediator_id}/agenda", **answers(Agenda, 403))
async def agenda(mediator_id: str, request: Request, since: IsoDateTime | None = Query(default=None),
                 caller: Principal = Depends(calendar_owner)) -> dict:
    """The mediator's own booked calls ending after `since` (default: twelve hours ago), by start, across cases;
    the mediator's time zone as their latest case names it."""
    store = scheduler_of(request).store
    since = since or utc_now() - timedelta(hours=12)
    booked = sorted((r for r in (await store.calendar(mediator_id)).calls.values() if r.end > since),
                    key=lambda r: r.start)
    cases = {case_id: await store.case(case_id) for case_id in {r.case_id for r in booked}}
    zone = next((c.facts.mediator.time_zone for c in cases.values() if c is not None), None)
    calls = []
    for record in booked:
        party = cases[record.case_id].facts.party(record.party_id) if cases[record.case_id] else None
        calls.append({"call_id": record.call_id, "case_id": record.case_id, "party_id": record.party_id,
                      "party_name": party.contact.name if party else None,
                      "party_role": str(party.role) if party else None,
                      "start": record.start.isoformat(), "end": record.end.isoformat(),
                      "place": record.place.model_dump(mode="json", exclude_none=True) if record.place else None})
    return {"mediator_id": mediator_id, "time_zone": zone, "calls": calls}
