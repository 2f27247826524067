"""Scheduling's HTTP use cases on the in-memory store: the mediator runs the calls, manages availability."""

from datetime import datetime, timedelta

from scheduling_kit import choose_first, MEDIATOR, a_case, delivered, types

from mednet_shared.platform.auth import Role


async def opened(handlers, store, **kwargs):
    case = a_case(**kwargs)
    await handlers.case_opened(delivered(case))
    await choose_first(handlers)
    return case, {c.payload().party_id: c.payload() for c in store.events("CallScheduled")}


async def test_the_calls_are_listed_for_the_mediator_and_the_case_firms_only(handlers, store, as_mediator):
    case, _ = await opened(handlers, store)
    async with as_mediator() as mediator:
        listed = (await mediator.get(f"/v1/cases/{case.case_id}/calls")).json()
    assert listed["status"] == "open" and listed["completed"] is False
    assert {c["party_id"]: c["status"] for c in listed["calls"]} == {"p1": "scheduled", "p2": "scheduled"}
    assert listed["calls"][0]["start"].endswith("+00:00")
    async with as_mediator("med-other") as stranger:
        assert (await stranger.get(f"/v1/cases/{case.case_id}/calls")).status_code == 404
        assert (await stranger.post(f"/v1/calls/{case.case_id}:p1/complete")).status_code == 404
    async with as_mediator(role=Role.FIRM, firm_id=case.parties[0].attorney.firm_id) as firm:
        assert (await firm.get(f"/v1/cases/{case.case_id}/calls")).status_code == 200
        assert (await firm.post(f"/v1/calls/{case.case_id}:p1/complete")).status_code == 403
    async with as_mediator(role=Role.FIRM, firm_id="firm-stranger") as firm:
        assert (await firm.get(f"/v1/cases/{case.case_id}/calls")).status_code == 404
    async with as_mediator() as mediator:
        assert (await mediator.post("/v1/calls/nothing/complete")).status_code == 404
        assert (await mediator.post(f"/v1/calls/{case.case_id}:p9/complete")).status_code == 404


async def test_completing_every_call_completes_the_pre_mediation_once(handlers, store, as_mediator, clock):
    case, calls = await opened(handlers, store)
    clock.now = max(c.end for c in calls.values())
    async with as_mediator() as mediator:
        first = await mediator.post(f"/v1/calls/{calls['p1'].call_id}/complete")
        assert first.status_code == 200 and first.json()["status"] == "completed"
        assert (await mediator.post(f"/v1/calls/{calls['p1'].call_id}/complete")).status_code == 200
        assert types(store).count("CallCompleted") == 1
        assert (await mediator.post(f"/v1/calls/{calls['p2'].call_id}/complete")).status_code == 200
    assert types(store)[-2:] == ["CallCompleted", "PreMediationCompleted"]
    done = store.events("PreMediationCompleted")[0].payload()
    assert done.call_ids == [calls["p1"].call_id, calls["p2"].call_id]
    assert (await store.case(case.case_id)).completed is True


async def test_the_mediator_reschedules_and_cancels_and_a_cancelled_call_cannot_complete(handlers, store,
                                                                                           as_mediator):
    case, calls = await opened(handlers, store)
    later = calls["p1"].end + timedelta(days=2)
    async with as_mediator() as mediator:
        moved = await mediator.post(f"/v1/calls/{calls['p1'].call_id}/reschedule",
                                    json={"not_before": later.isoformat(), "reason": "a conflict"})
        assert moved.status_code == 200 and moved.json()["sequence"] == 1
        assert moved.json()["start"] >= later.isoformat()
        cancelled = await mediator.post(f"/v1/calls/{calls['p1'].call_id}/cancel", json={"reason": "no longer"})
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        refused = await mediator.post(f"/v1/calls/{calls['p1'].call_id}/complete")
        assert refused.status_code == 409 and "cancelled" in refused.json()["detail"]
        again = await mediator.post(f"/v1/calls/{calls['p1'].call_id}/reschedule", json={})
        assert again.status_code == 409
    assert types(store)[-2:] == ["CallRescheduled", "CallCancelled"]
    assert calls["p1"].call_id not in (await store.calendar(MEDIATOR)).calls


async def test_a_missed_call_is_moved_once_then_fails(handlers, store, as_mediator, clock):
    case, calls = await opened(handlers, store)
    call_id = calls["p1"].call_id
    clock.now = calls["p1"].start + timedelta(minutes=10)
    async with as_mediator() as mediator:
        once = (await mediator.post(f"/v1/calls/{call_id}/missed")).json()
        assert once["status"] == "scheduled" and once["missed_count"] == 1 and once["start"] >= calls["p1"].end.isoformat()
        clock.now = datetime.fromisoformat(once["start"]) + timedelta(minutes=10)
        twice = (await mediator.post(f"/v1/calls/{call_id}/missed")).json()
        assert twice["status"] == "failed" and "missed 2 times" in twice["reason"]
        assert (await mediator.post(f"/v1/calls/{call_id}/missed")).status_code == 409
    assert types(store)[-4:] == ["CallMissed", "CallRescheduled", "CallMissed", "SchedulingFailed"]


async def test_a_mediator_sets_their_own_availability_and_new_calls_follow_it(handlers, store, as_mediator):
    weekly = [{"day": "tue", "start": "10:00", "end": "16:00"}]
    async with as_mediator() as mediator:
        put = await mediator.put(f"/v1/mediators/{MEDIATOR}/availability",
                                 json={"weekly": weekly, "blackout_days": ["2026-03-03"]})
        assert put.status_code == 200
        assert put.json()["weekly"] == [{"day": "tue", "start": "10:00:00", "end": "16:00:00"}]
        assert put.json()["blackout_days"] == ["2026-03-03"] and put.json()["bookings"] == []
    async with as_mediator("med-other") as stranger:
        assert (await stranger.get(f"/v1/mediators/{MEDIATOR}/availability")).status_code == 403
    _, calls = await opened(handlers, store)
    assert {c.start.strftime("%a %d") for c in calls.values()} == {"Tue 10"}, "not the blacked-out Tuesday 3rd"
    async with as_mediator() as mediator:
        bookings = (await mediator.get(f"/v1/mediators/{MEDIATOR}/availability")).json()["bookings"]
    assert [b["call_id"] for b in bookings] == sorted((c.call_id for c in calls.values()),
                                                      key=lambda i: calls[i.rpartition(":")[2]].start)
