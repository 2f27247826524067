"""The mediator's agenda across cases (GET /v1/mediators/{id}/agenda, for the console): only their own calendar's
booked calls, by start, with each side's name and role and the mediator's zone."""

import pytest
from fastapi import FastAPI
from scheduling_kit import MEDIATOR, a_case, choose_first, delivered

from mednet_scheduling import agenda_api
from mednet_shared.platform.auth import Role


@pytest.fixture
def app(app: FastAPI) -> FastAPI:
    app.include_router(agenda_api.router)
    return app


async def test_the_agenda_lists_the_mediator_s_booked_calls_across_cases_and_no_one_else_s(handlers, store,
                                                                                          as_mediator):
    for ref in ("ref-a", "ref-b"):
        await handlers.case_opened(delivered(a_case(ref)))
        await choose_first(handlers)
    booked = {c.payload().call_id: c.payload() for c in store.events("CallScheduled")}
    since = min(call.start for call in booked.values()).isoformat()
    async with as_mediator() as mediator:
        agenda = (await mediator.get(f"/v1/mediators/{MEDIATOR}/agenda", params={"since": since})).json()
    assert [c["call_id"] for c in agenda["calls"]] == sorted(booked, key=lambda call_id: booked[call_id].start)
    assert {c["case_id"] for c in agenda["calls"]} == {"case-ref-a", "case-ref-b"}
    assert agenda["time_zone"] == a_case().mediator.time_zone
    first = agenda["calls"][0]
    assert first["party_name"] and first["party_role"] in ("claimant", "respondent") and first["end"] > first["start"]
    async with as_mediator() as mediator:
        later = (await mediator.get(f"/v1/mediators/{MEDIATOR}/agenda",
                                    params={"since": max(c.end for c in booked.values()).isoformat()})).json()
        assert later["calls"] == []
        assert (await mediator.get(f"/v1/mediators/{MEDIATOR}/agenda", params={"since": "tomorrow"})).status_code == 422
    async with as_mediator("med-other") as stranger:
        assert (await stranger.get(f"/v1/mediators/{MEDIATOR}/agenda")).status_code == 403
    async with as_mediator(role=Role.FIRM, firm_id=a_case().firm_id) as firm:
        assert (await firm.get(f"/v1/mediators/{MEDIATOR}/agenda")).status_code == 403
