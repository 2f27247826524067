"""Every use case of intake on in-memory adapters: the firm inbound commands and the HTTP routes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from intake_kit import NOW, command, incoming
from mednet_intake import domain
from mednet_shared.contracts.envelope import EnvelopeError
from mednet_shared.contracts.events import (
    AcceptRepresentation,
    CaseOpened,
    CaseRejected,
    CaseUpdated,
    CaseWithdrawn,
    CommandRejected,
    RepresentationRequested,
    SubmitCase,
    UpdatePartyAvailability,
    WithdrawCase,
)
from mednet_shared.platform.auth import Role
from services_harness import client
from mednet_shared.platform.cas import CasPolicy, Conflict
from mednet_shared.platform.consumer import PoisonMessage
from sample_cases import hours, submission, variant

FIRM = "firm-x"


def case_id(reference: str = "ref-1") -> str:
    return domain.case_id_for(FIRM, reference)


async def submitted(world, reference: str = "ref-1", event_id: str = "cmd-1", **overrides) -> None:
    event, topic = command(FIRM, SubmitCase, {**submission(reference, now=NOW), **overrides}, event_id)
    await world.commands.submit_case(incoming(event, topic))


async def accepted(world, firm: str, party_id: str, event_id: str = "acc-1") -> None:
    event, topic = command(firm, AcceptRepresentation, {"case_id": case_id(), "party_id": party_id}, event_id)
    await world.commands.accept_representation(incoming(event, topic))


async def test_a_submission_opens_its_case_once_and_a_redelivery_changes_nothing(world):
    await submitted(world)
    await submitted(world, event_id="cmd-2")
    [opened] = world.store.outbox.messages(CaseOpened)
    assert opened.case_id == case_id() and opened.participant_firms == [FIRM]
    assert [(s.party_id, s.firm_id, s.status) for s in opened.sides] == [
        ("p1", "firm-a", "awaiting_confirmation"), ("p2", "firm-b", "awaiting_confirmation")]
    asked = world.store.outbox.messages(RepresentationRequested)
    assert [(r.firm_id, r.party_id, r.party_name) for r in asked] == [("firm-a", "p1", "Party p1"),
                                                                      ("firm-b", "p2", "Party p2")]
    assert (await world.store.get(case_id())).status == "open"


async def test_the_same_reference_with_other_content_is_rejected_once_per_command(world):
    await submitted(world)
    await submitted(world, event_id="cmd-2", title="Something else")
    await submitted(world, event_id="cmd-2", title="Something else")
    [rejected] = world.store.outbox.messages(CaseRejected)
    assert rejected.external_ref == "ref-1" and "different content" in rejected.reasons[0].message
    assert (await world.store.get(case_id())).title != "Something else"


async def test_a_submission_breaking_a_rule_or_the_schema_is_rejected_with_its_reasons(world):
    past = variant(submission("ref-2", now=NOW), "session.start", (NOW - timedelta(days=1)).isoformat())
    event, topic = command(FIRM, SubmitCase, past, "cmd-past")
    await world.commands.submit_case(incoming(event, topic))
    invalid, topic = command(FIRM, SubmitCase, {"external_ref": "ref-3"}, "cmd-invalid")
    with pytest.raises(EnvelopeError) as error:
        invalid.payload()
    await world.commands.invalid_submission(invalid, error.value, topic)
    await world.commands.invalid_submission(invalid, error.value, topic)
    past_rejection, invalid_rejection = world.store.outbox.messages(CaseRejected)
    assert past_rejection.firm_id == FIRM and past_rejection.reasons[0].field == "session.start"
    assert invalid_rejection.external_ref == "ref-3" and {r.field for r in invalid_rejection.reasons} >= {"title"}
    assert await world.store.get(case_id("ref-2")) is None and not world.store.outbox.messages(CaseOpened)


async def test_a_firm_withdraws_its_case_and_only_its_own(world):
    await submitted(world)
    await accepted(world, "firm-a", "p1")
    other, topic = command("firm-a", WithdrawCase, {"case_id": case_id(), "reason": "no"}, "w-1")
    await world.commands.withdraw_case(incoming(other, topic))
    stranger, topic = command("firm-z", WithdrawCase, {"case_id": case_id()}, "w-2")
    await world.commands.withdraw_case(incoming(stranger, topic))
    own, topic = command(FIRM, WithdrawCase, {"case_id": case_id(), "reason": "settled"}, "w-3")
    await world.commands.withdraw_case(incoming(own, topic))
    [withdrawn] = world.store.outbox.messages(CaseWithdrawn)
    assert withdrawn.reason == "settled" and (await world.store.get(case_id())).status == "withdrawn"
    again, topic = command(FIRM, WithdrawCase, {"case_id": case_id()}, "w-4")
    await world.commands.withdraw_case(incoming(again, topic))
    refused = world.store.outbox.messages(CommandRejected)
    assert [(r.firm_id, r.command_id) for r in refused] == [("firm-a", "w-1"), ("firm-z", "w-2"), (FIRM, "w-4")]
    assert "only the submitting firm" in refused[0].reasons[0].message
    assert "no case" in refused[1].reasons[0].message and "is withdrawn" in refused[2].reasons[0].message
    assert all(r.command_type == WithdrawCase.type_name() and r.case_id == case_id() for r in refused)


async def test_a_partys_confirmed_firm_updates_its_availability_and_no_other_firm_may(world):
    await submitted(world)
    data = {"case_id": case_id(), "party_id": "p1", "availability": hours("10:00", "12:00")}
    early, topic = command("firm-a", UpdatePartyAvailability, data, "a-0")
    await world.commands.update_party_availability(incoming(early, topic))   # named, not yet confirmed
    await accepted(world, "firm-a", "p1")
    await accepted(world, "firm-b", "p2", "acc-2")
    mine, topic = command("firm-a", UpdatePartyAvailability, data, "a-1")
    await world.commands.update_party_availability(incoming(mine, topic))
    updated = world.store.outbox.messages(CaseUpdated)[-1]
    assert updated.changes == ["availability_changed"] and updated.revision == 4 and updated.party_ids == ["p1"]
    assert updated.parties[0].availability[0].start.hour == 10
    for firm, event_id in (("firm-b", "a-2"), (FIRM, "a-3")):   # the other side's firm, the submitting firm
        theirs, topic = command(firm, UpdatePartyAvailability, data, event_id)
        await world.commands.update_party_availability(incoming(theirs, topic))
    refused = world.store.outbox.messages(CommandRejected)
    assert [(r.firm_id, r.command_id) for r in refused] == [("firm-a", "a-0"), ("firm-b", "a-2"), (FIRM, "a-3")]
    assert all("not the confirmed firm of party p1" in r.reasons[0].message for r in refused[1:])
    assert "no case" in refused[0].reasons[0].message


async def test_a_change_that_meets_a_concurrent_write_is_decided_again_on_the_new_state(world):
    await submitted(world)
    replace, raced = world.store.replace, []

    async def racing(case, expected_revision, events):
        if not raced:
            raced.append(True)
            first = await world.store.get(case.case_id)
            moved, _ = domain.change_availability(first, None, "p1", first.parties[0].availability[:1], [],
                                                  by_mediator="med-ada")
            await replace(moved, first.revision, [])
        await replace(case, expected_revision, events)

    world.store.replace = racing
    event, topic = command(FIRM, WithdrawCase, {"case_id": case_id()}, "w-1")
    await world.commands.withdraw_case(incoming(event, topic))
    stored = await world.store.get(case_id())
    assert stored.status == "withdrawn" and stored.revision == 3 and len(stored.parties[0].availability) == 1


async def test_over_http_a_firm_submits_reads_changes_and_withdraws_its_case(world):
    document = submission("ref-h", now=NOW)
    async with client(world.app, Role.FIRM, firm_id=FIRM) as firm:
        created = await firm.post("/v1/cases", json=document)
        assert created.status_code == 201, created.text
        again = await firm.post("/v1/cases", json=document)
        assert again.status_code == 200 and again.json() == created.json()
        case = created.json()["case_id"]
        assert (await firm.get(f"/v1/cases/{case}")).json()["title"] == document["title"]
        start = NOW + timedelta(days=40)
        later = {"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(), "time_zone": "UTC"}
        moved = await firm.patch(f"/v1/cases/{case}", json={"session": later})
        assert moved.status_code == 200 and moved.json()["revision"] == 2
        nothing = await firm.patch(f"/v1/cases/{case}", json={})
        assert nothing.status_code == 422 and "nothing to change" in nothing.text
        withdrawn = await firm.post(f"/v1/cases/{case}/withdraw", json={"reason": "settled"})
        assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
        assert (await firm.post(f"/v1/cases/{case}/withdraw", json={})).status_code == 409
    assert [type(m) for m in world.store.outbox.messages()] == [CaseOpened, RepresentationRequested,
                                                                RepresentationRequested, CaseUpdated, CaseWithdrawn]


async def test_over_http_others_see_a_case_only_when_it_concerns_them(world):
    async with client(world.app, Role.FIRM, firm_id=FIRM) as firm:
        case = (await firm.post("/v1/cases", json=submission("ref-h", now=NOW, mediator_id="med-ada"))).json()
    path = f"/v1/cases/{case['case_id']}"
    async with client(world.app, Role.FIRM, firm_id="firm-a") as attorney, \
            client(world.app, Role.FIRM, firm_id="firm-z") as stranger, \
            client(world.app, Role.MEDIATOR, mediator_id="med-ada") as mediator, \
            client(world.app, Role.MEDIATOR, mediator_id="med-bob") as other_mediator, \
            client(world.app, Role.OPERATOR) as operator:
        pending = (await attorney.get(path)).json()   # named, not confirmed: its pending side only
        assert pending["parties"] == [] and [s["party_id"] for s in pending["sides"]] == ["p1"]
        assert pending["pending"] == [{"party_id": "p1", "role": "claimant", "name": "Party p1"}]
        assert (await mediator.get(path)).status_code == 200 and (await operator.get(path)).status_code == 200
        assert (await stranger.get(path)).status_code == 404 and (await other_mediator.get(path)).status_code == 404
        assert (await stranger.patch(path, json={"add_parties": []})).status_code == 404
        assert (await attorney.post(f"{path}/withdraw", json={})).status_code == 404   # not (yet) a participant
        assert (await mediator.post("/v1/cases", json=submission("ref-m", now=NOW))).status_code == 403


async def test_over_http_a_rejected_submission_is_a_422_and_a_case_rejected_event(world):
    late = variant(submission("ref-bad", now=NOW), "session.start", (NOW - timedelta(days=2)).isoformat())
    numeric = variant(submission("ref-num", now=NOW), "session.start", 0)
    async with client(world.app, Role.FIRM, firm_id=FIRM) as firm:
        refused = await firm.post("/v1/cases", json=late)
        assert refused.status_code == 422 and "session.start" in refused.text
        assert (await firm.post("/v1/cases", json=numeric)).status_code == 422
        assert (await firm.post("/v1/cases", content=b"{not json",
                                headers={"Content-Type": "application/json"})).status_code == 422
    assert [r.external_ref for r in world.store.outbox.messages(CaseRejected)] == ["ref-bad", "ref-num"]


async def test_over_http_a_change_that_keeps_losing_the_race_is_a_409_not_a_silent_give_up(world, monkeypatch):
    async with client(world.app, Role.FIRM, firm_id=FIRM) as firm:
        case = (await firm.post("/v1/cases", json=submission("ref-h", now=NOW))).json()["case_id"]

        async def always_stale(*_):
            raise Conflict(case)

        monkeypatch.setattr(world.store, "replace", always_stale)
        monkeypatch.setattr(world.intake, "cas_policy", CasPolicy(attempts=3, backoff_seconds=0))
        busy = await firm.post(f"/v1/cases/{case}/withdraw", json={})
    assert busy.status_code == 409 and "changed concurrently on each of 3 attempts" in busy.text
