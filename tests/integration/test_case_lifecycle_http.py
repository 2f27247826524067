"""Cases and calls over HTTP on the real broker and database: firms submit and read their own cases; the
mediator completes, misses, reschedules and cancels calls; the scheduler follows the case as it changes."""

import asyncio
from datetime import UTC, datetime, timedelta

from kafka_helpers import events_of
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from sample_cases import submission as sample


def submission(reference: str, *, firm: str | None = None, **options) -> dict:
    """A sample case; with `firm`, every party represented by that (the submitting) firm: every side confirmed."""
    document = sample(reference, **options)
    if firm:
        for party in document["parties"]:
            party["attorney"]["firm_id"] = firm
    return document
from services_harness import client, services


async def choose_offered(scheduling, case_id: str, view: dict) -> None:
    """Each offered call's side chooses its first slot over HTTP with its firm's token (the consent flow)."""
    store = scheduling.state.scheduler.store
    state = await store.case(case_id)
    calendar = await store.calendar(state.facts.mediator.mediator_id)
    for call in view["calls"]:
        record = calendar.offers.of(call["call_id"]) if call["status"] == "offered" else None
        offer = record.current if record else None
        if offer is None or not offer.is_open:
            continue
        who = client(scheduling, Role.FIRM, firm_id=offer.side_firm_id) if offer.side_firm_id else \
            client(scheduling, Role.MEDIATOR, mediator_id=state.facts.mediator.mediator_id)
        async with who as http:
            await http.post(f"/v1/offers/{offer.offer_id}/choose", json={"slot_id": offer.slots[0].slot_id})


async def wait_calls(scheduling, case_id: str, predicate, timeout: float = 40.0) -> dict:
    """The case's calls once they match; an offered call is chosen by its side on the way."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with client(scheduling, Role.OPERATOR) as operator:
        while True:
            response = await operator.get(f"/v1/cases/{case_id}/calls")
            if response.status_code == 200 and predicate(response.json()):
                return response.json()
            if response.status_code == 200:
                await choose_offered(scheduling, case_id, response.json())
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"calls of {case_id} never matched: {response.status_code} {response.text}")
            await asyncio.sleep(0.3)


def at(scheduling, start: str) -> None:
    """The scheduler's clock just after a call started (a call is completed or missed only once it has)."""
    scheduling.state.scheduler.clock = lambda: datetime.fromisoformat(start) + timedelta(minutes=1)


def all_scheduled(count: int):
    return lambda view: len(view["calls"]) == count and all(c["status"] == "scheduled" for c in view["calls"])


async def test_http_submission_is_idempotent_and_visible_to_participant_firms_only(infrastructure, unique):
    firm = f"firm-{unique}"
    async with services(infrastructure, unique, "intake") as apps:
        intake = apps["intake"][0]
        document = submission(f"http-{unique}", parties=2, mediator_id=f"med-{unique}")
        async with client(intake, Role.FIRM, firm_id=firm) as submitter:
            created = await submitter.post("/v1/cases", json=document)
            assert created.status_code == 201, created.text
            again = await submitter.post("/v1/cases", json=document)
            assert again.status_code == 200 and again.json()["case_id"] == created.json()["case_id"]
            changed = await submitter.post("/v1/cases", json={**document, "title": "Another dispute"})
            assert changed.status_code == 422 and "different content" in changed.text
            invalid = await submitter.post("/v1/cases", json={**document, "parties": document["parties"][:1]})
            assert invalid.status_code == 422
            assert invalid.json()["errors"][0]["field"] == "parties"
            not_json = await submitter.post("/v1/cases", content=b"{nope", headers={"content-type": "application/json"})
            assert not_json.status_code == 422 and "not JSON" in not_json.text
            huge = await submitter.post("/v1/cases", content=b"x" * 300_000)
            assert huge.status_code == 413
        case_id = created.json()["case_id"]
        async with client(intake, Role.FIRM, firm_id="firm-a") as attorney_firm:   # named, not confirmed
            pending = (await attorney_firm.get(f"/v1/cases/{case_id}")).json()
            assert pending["parties"] == [] and [s["party_id"] for s in pending["pending"]] == ["p1"]
            assert (await attorney_firm.post(f"/v1/cases/{case_id}/withdraw", json={})).status_code == 404
        async with client(intake, Role.FIRM, firm_id="firm-stranger") as stranger:
            assert (await stranger.get(f"/v1/cases/{case_id}")).status_code == 404
            assert (await stranger.post(f"/v1/cases/{case_id}/withdraw", json={})).status_code == 404
        async with client(intake, Role.MEDIATOR, mediator_id="someone-else") as other_mediator:
            assert (await other_mediator.get(f"/v1/cases/{case_id}")).status_code == 404
        async with httpx_without_token(intake) as anonymous:
            assert (await anonymous.get(f"/v1/cases/{case_id}")).status_code == 401


async def test_mediator_runs_the_calls_to_premediation_completed(infrastructure, kafka, unique):
    firm, mediator = f"firm-{unique}", f"med-{unique}"
    async with services(infrastructure, unique, "intake", "scheduling") as apps:
        intake, scheduling = apps["intake"][0], apps["scheduling"][0]
        async with client(intake, Role.FIRM, firm_id=firm) as submitter:
            case_id = (await submitter.post("/v1/cases", json=submission(f"life-{unique}", parties=3, firm=firm,
                                                                            mediator_id=mediator))).json()["case_id"]
        view = await wait_calls(scheduling, case_id, all_scheduled(3))
        first, second, third = sorted(view["calls"], key=lambda c: c["party_id"])

        async with client(scheduling, Role.MEDIATOR, mediator_id="not-the-mediator") as stranger:
            assert (await stranger.post(f"/v1/calls/{first['call_id']}/complete")).status_code in (403, 404)
        async with client(scheduling, Role.FIRM, firm_id=firm) as firm_client:
            assert (await firm_client.post(f"/v1/calls/{first['call_id']}/complete")).status_code == 403
            assert (await firm_client.get(f"/v1/cases/{case_id}/calls")).status_code == 200

        async with client(scheduling, Role.MEDIATOR, mediator_id=mediator) as the_mediator:
            early = await the_mediator.post(f"/v1/calls/{second['call_id']}/missed")
            assert early.status_code == 409 and "before it starts" in early.text
            at(scheduling, second["start"])
            missed = await the_mediator.post(f"/v1/calls/{second['call_id']}/missed")
            assert missed.status_code == 200, missed.text
            assert missed.json()["status"] == "scheduled" and missed.json()["sequence"] == 1
            assert missed.json()["start"] != second["start"]
            at(scheduling, missed.json()["start"])
            failed = await the_mediator.post(f"/v1/calls/{second['call_id']}/missed")
            assert failed.json()["status"] == "failed" and "missed 2 times" in failed.json()["reason"]

            scheduling.state.scheduler.clock = lambda: datetime.now(UTC)
            moved = await the_mediator.post(f"/v1/calls/{third['call_id']}/reschedule",
                                            json={"reason": "party asked", "not_before": third["end"]})
            assert moved.status_code == 200 and moved.json()["sequence"] == 1
            assert moved.json()["start"] >= third["end"]

            for call in (first, moved.json()):
                at(scheduling, call["start"])
                done = await the_mediator.post(f"/v1/calls/{call['call_id']}/complete")
                assert done.status_code == 200 and done.json()["status"] == "completed", done.text
            assert (await the_mediator.post(f"/v1/calls/{second['call_id']}/complete")).status_code == 409

        await events_of(kafka, Topics.SCHEDULING, case_id, "CallRescheduled", 2)
        failures = await events_of(kafka, Topics.SCHEDULING, case_id, "SchedulingFailed", 1)
        assert failures[0].payload().party_id == "p2"
        await events_of(kafka, Topics.SCHEDULING, case_id, "CallMissed", 2)
        assert len(await events_of(kafka, Topics.SCHEDULING, case_id, "CallCompleted", 2)) == 2
        assert (await scheduling.state.scheduler.store.case(case_id)).completed is False


async def test_all_calls_completed_is_premediation_completed(infrastructure, kafka, unique):
    firm, mediator = f"firm-{unique}", f"med-{unique}"
    async with services(infrastructure, unique, "intake", "scheduling") as apps:
        intake, scheduling = apps["intake"][0], apps["scheduling"][0]
        async with client(intake, Role.FIRM, firm_id=firm) as submitter:
            case_id = (await submitter.post("/v1/cases", json=submission(f"done-{unique}", parties=2, firm=firm,
                                                                            mediator_id=mediator))).json()["case_id"]
        view = await wait_calls(scheduling, case_id, all_scheduled(2))
        at(scheduling, max(call["start"] for call in view["calls"]))
        async with client(scheduling, Role.MEDIATOR, mediator_id=mediator) as the_mediator:
            for call in view["calls"]:
                assert (await the_mediator.post(f"/v1/calls/{call['call_id']}/complete")).status_code == 200
            assert (await the_mediator.post(f"/v1/calls/{view['calls'][0]['call_id']}/complete")).status_code == 200
        completed = await events_of(kafka, Topics.SCHEDULING, case_id, "PreMediationCompleted", 1)
        assert len({e.id for e in completed}) == 1
        assert sorted(completed[0].payload().call_ids) == sorted(c["call_id"] for c in view["calls"])
        async with client(scheduling, Role.OPERATOR) as operator:
            metrics = (await operator.get("/metrics")).text
        for figure in ('mednet_calls_scheduled_total{kind="scheduled"}', "mednet_call_lead_time_hours_count",
                       'mednet_premediation_completed_total{before_session="true"}',
                       'mednet_mongodb_command_seconds_count{command="update",outcome="ok",service="scheduling"}',
                       'mednet_events_consumed_total{outcome="processed",service="scheduling"',
                       'mednet_events_published_total{outcome="published",service="scheduling",type="mednet.CallScheduled.v1"}'):
            line = next((l for l in metrics.splitlines() if l.startswith(figure)), None)
            assert line and float(line.rsplit(" ", 1)[1]) > 0, figure


async def test_moving_the_session_reschedules_calls_that_no_longer_fit_and_withdrawal_cancels(
    infrastructure, kafka, unique
):
    firm, mediator = f"firm-{unique}", f"med-{unique}"
    async with services(infrastructure, unique, "intake", "scheduling") as apps:
        intake, scheduling = apps["intake"][0], apps["scheduling"][0]
        document = submission(f"move-{unique}", parties=2, mediator_id=mediator, days_ahead=30, firm=firm)
        async with client(intake, Role.FIRM, firm_id=firm) as submitter:
            case_id = (await submitter.post("/v1/cases", json=document)).json()["case_id"]
            before = await wait_calls(scheduling, case_id, all_scheduled(2))
            early, late = sorted(before["calls"], key=lambda c: c["party_id"])
            now = datetime.now(UTC)
            async with client(scheduling, Role.MEDIATOR, mediator_id=mediator) as the_mediator:
                pushed = await the_mediator.post(f"/v1/calls/{late['call_id']}/reschedule",
                                                 json={"not_before": (now + timedelta(days=20)).isoformat()})
                assert pushed.status_code == 200 and pushed.json()["start"] >= (now + timedelta(days=20)).isoformat()

            new_start = now + timedelta(days=15)
            session = {"start": new_start.isoformat(), "end": (new_start + timedelta(hours=4)).isoformat(),
                       "time_zone": "Europe/Berlin"}
            patched = await submitter.patch(f"/v1/cases/{case_id}", json={"session": session})
            assert patched.status_code == 200 and patched.json()["revision"] == 2, patched.text

            def both_moved(view) -> bool:
                # both calls were chosen inside the offer window (14 to 2 days before the old session): a session
                # 15 days earlier leaves neither where it was
                calls = {c["party_id"]: c for c in view["calls"]}
                return calls[late["party_id"]]["sequence"] == 2 and calls[early["party_id"]]["sequence"] == 1 and all(
                    c["end"] <= (new_start - timedelta(hours=24)).isoformat() for c in calls.values())

            await wait_calls(scheduling, case_id, both_moved)
            moved = await events_of(kafka, Topics.SCHEDULING, case_id, "CallRescheduled", 3)
            assert {e.payload().reason for e in moved} == {"rescheduled by the mediator", "the case changed"}

            withdrawn = await submitter.post(f"/v1/cases/{case_id}/withdraw", json={"reason": "settled"})
            assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
            assert (await submitter.post(f"/v1/cases/{case_id}/withdraw", json={})).status_code == 409
        await wait_calls(scheduling, case_id, lambda v: all(c["status"] == "cancelled" for c in v["calls"]))
        cancelled = await events_of(kafka, Topics.SCHEDULING, case_id, "CallCancelled", 2)
        assert {e.payload().reason for e in cancelled} == {"settled"}
        calendar = await scheduling.state.scheduler.store.calendar(mediator)
        assert calendar.calls == {}


async def test_mediator_availability_is_managed_over_http(infrastructure, unique):
    mediator = f"med-{unique}"
    async with services(infrastructure, unique, "scheduling") as apps:
        scheduling = apps["scheduling"][0]
        async with client(scheduling, Role.MEDIATOR, mediator_id=mediator) as the_mediator:
            body = {"weekly": [{"day": "tue", "start": "10:00", "end": "12:00"}],
                    "date_overrides": {"2030-01-08": [{"start": "13:00", "end": "15:00"}]},
                    "blackout_days": ["2030-01-15"]}
            saved = await the_mediator.put(f"/v1/mediators/{mediator}/availability", json=body)
            assert saved.status_code == 200, saved.text
            assert saved.json()["blackout_days"] == ["2030-01-15"]
            assert saved.json()["date_overrides"] == {"2030-01-08": [["13:00:00", "15:00:00"]]}
            bad = await the_mediator.put(f"/v1/mediators/{mediator}/availability",
                                         json={"weekly": [{"day": "tue", "start": "12:00", "end": "10:00"}]})
            assert bad.status_code == 422
            assert (await the_mediator.put("/v1/mediators/someone-else/availability", json=body)).status_code == 403
        calendar = await scheduling.state.scheduler.store.calendar(mediator)
        assert [w.day for w in calendar.availability.weekly] == ["tue"]


def httpx_without_token(app):
    import httpx

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")
