"""`mednet demo`'s story on a local stack of the test's own (Kafka and the MongoDB-wire server on free ports: on the
shared broker every other test's scheduler and notify would answer the demo's cases too), with the four services as
processes on ports of their own, the local SMTP sink and the stack's token issuer: every step of the consent flow and
of the preparation happens and is told, and a step that does not happen stops the demo naming it."""

from __future__ import annotations

import pytest
from rich.console import Console

from mednet_cli import fleet
from mednet_cli.demo import Demo, StepFailed
from mednet_cli.processes import free_port
from mednet_cli.stack import Stack

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def own_stack(tmp_path):
    stack = Stack(tmp_path / "stack", kafka_port=free_port(), kafka_controller_port=free_port(),
                  mongo_port=free_port())
    try:
        stack.up(on_step=lambda step: print(f"[demo stack] {step}", flush=True))
        yield stack
    finally:
        stack.down()


def start(stack: Stack, services: dict[str, fleet.ServiceProcess]) -> None:
    sink = free_port()
    fleet.start_smtp_sink(stack.data_dir, sink)
    environment = fleet.service_environment(stack.data_dir, stack.environment) | {
        "MEDNET_NOTIFY_SMTP_PORT": str(sink), "MEDNET_SCHEDULING_PUBLIC_URL": services["scheduling"].url}
    for service in services.values():
        service.start(environment)
    for service in services.values():
        service.wait_ready(90)


@pytest.mark.slow
async def test_the_demo_tells_the_consent_and_preparation_story(own_stack):
    console = Console(record=True, width=220, color_system=None)
    services = {name: fleet.ServiceProcess(name, free_port(), own_stack.data_dir) for name in fleet.SERVICES}
    try:
        start(own_stack, services)
        demo = Demo(own_stack.data_dir, console, urls={name: service.url for name, service in services.items()})
        cast = demo.cast
        seen = await demo.run()
    finally:
        (own_stack.data_dir / "demo.txt").write_text(console.export_text(clear=False))
        for service in services.values():
            service.process.stop(timeout=15)
        fleet.smtp_sink(own_stack.data_dir).stop()
    told = " ".join(console.export_text().split())

    for line in (f"{cast.meridian} accepts representing respondent (AcceptRepresentation",
                 f"{cast.harbor} accepts representing retailer (AcceptRepresentation",
                 f"case A claimant: {cast.harbor} sends ChooseCallSlot on its Kafka inbound topic",
                 f"case A respondent: {cast.meridian} posts /v1/offers/…/choose with its token",
                 "case B supplier: the party opens the link of option 2 in its email and confirms",
                 "CallWaived: Northwind takes part through the supplier's counsel",
                 f"case A respondent: {cast.meridian} posts its statement and a document over HTTP; receipt v1",
                 f"StatementReceived (to {cast.meridian} only)", "and opens 'Position paper'",
                 f"{cast.harbor} asks for it: 404 (no firm sees another side's)",
                 f"case B retailer: {cast.harbor} sends SubmitStatement on its Kafka inbound topic",
                 "case A: CaseReadyForSession (claimant, respondent)",
                 "case B retailer: not ready (outstanding: authority_confirmed)",
                 "case B: not ready for the session (no CaseReadyForSession)",
                 "outcome partly_held", "next step: the board confirms Tasman's settlement authority",
                 "confirmed authority_confirmed", "not heard: insurer (its call was waived)",
                 f"sign in as {cast.mediator} with this one-time link", "/login/link?token="):
        assert line in told, line

    zones = {"claimant": "Europe/London", "respondent": "Asia/Kolkata", "supplier": "America/St_Johns",
             "retailer": "Australia/Lord_Howe", "insurer": "America/New_York"}
    assert set(seen["offer_mails"]) == set(seen["offers"]) and len(seen["offers"]) == 5
    for (key, party_id), mails in seen["offer_mails"].items():
        assert len(mails) == 2, f"case {key} {party_id}: the party and its attorney each get the offer"
        assert all(f"({zones[party_id]}, UTC" in first for _, first in mails), mails

    calls = [call for booked in seen["calls"].values() for call in booked]
    assert sorted(c.party_id for c in calls) == ["claimant", "respondent", "retailer", "supplier"]
    assert {c.booked_by for c in calls} == {"choice"}
    assert len({c.place.url for c in calls}) == 4
    assert all(c.place.url.startswith("https://meet.example.org/ada-okafor/") for c in calls)
    supplier = next(c for c in calls if c.party_id == "supplier")
    assert supplier.start == seen["offers"]["B", "supplier"].slots[1].start, "the link of option 2 booked option 2"

    assert seen["ready"] == {"A": True, "B": False}
    a, b = seen["briefs"]["A"], seen["briefs"]["B"]
    assert "apology" in a["one_sided"] and "apology" not in a["shared_interests"] + a["trade_offs"]
    assert "costs" in b["one_sided"] and b["parties"] == ["supplier", "retailer"]
    assert b["not_heard"] == [{"party_id": "insurer", "reason": "its call was waived"}]
    assert b["not_ready"] == [{"party_id": "retailer", "outstanding": ["authority_confirmed"]}] and not a["not_ready"]
    for event in ("CaseOpened", "RepresentationRequested", "CallSlotsOffered", "CallScheduled", "CallWaived",
                  "StatementReceived", "SideReadinessChanged", "CallCompleted", "CallOutcomeRecorded",
                  "ObjectivesRecorded", "CaseReadyForSession", "BriefReady"):
        assert event in told, f"the timeline shows {event}"


async def test_a_step_that_does_not_happen_stops_the_demo_naming_it():
    with pytest.raises(StepFailed, match="no CallScheduled for case A claimant within 1s"):
        await Demo.until("CallScheduled for case A claimant", lambda: [], timeout=1)
