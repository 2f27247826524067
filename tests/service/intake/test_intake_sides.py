"""Sides on in-memory adapters: who confirms which side, who sees what of it, who may change it, what a refusal
answers. Firm A submits, naming itself for the claimant p1 and firm B for the respondent p2; C is a stranger."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from intake_kit import NOW, command, incoming
from mednet_intake import domain
from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError
from mednet_shared.contracts.events import (
    AcceptRepresentation,
    CaseOpened,
    CaseUpdated,
    CommandRejected,
    DeclineRepresentation,
    MoveSession,
    RepresentationRequested,
    SideConfirmationOverdue,
    SubmitCase,
    UpdatePartyAvailability,
)
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from sample_cases import hours, submission, variant
from services_harness import client

A, B, C = "firm-a", "firm-b", "firm-c"
A_SECRETS = ("p1@parties.example.org", "Party p1", "counsel-p1", '"p1"', "Dispute ")


def case_id(reference: str = "ref-1") -> str:
    return domain.case_id_for(A, reference)


def document(reference: str = "ref-1", **paths) -> dict:
    sent = submission(reference, now=NOW)
    for path, value in paths.items():
        sent = variant(sent, path.replace("__", "."), value)
    return sent


async def submitted(world, reference: str = "ref-1", **paths) -> None:
    event, topic = command(A, SubmitCase, document(reference, **paths), f"submit-{reference}")
    await world.commands.submit_case(incoming(event, topic))


async def send(world, firm: str, type_, data: dict, event_id: str) -> None:
    event, topic = command(firm, type_, data, event_id)
    handler = {AcceptRepresentation: world.commands.accept_representation,
               DeclineRepresentation: world.commands.decline_representation,
               UpdatePartyAvailability: world.commands.update_party_availability,
               MoveSession: world.commands.move_session}[type_]
    await handler(incoming(event, topic))


def rejections(world) -> list[CommandRejected]:
    return world.store.outbox.messages(CommandRejected)


async def test_a_side_of_the_submitting_firm_is_confirmed_at_once_and_another_firms_awaits_it(world):
    await submitted(world)
    [opened] = world.store.outbox.messages(CaseOpened)
    assert [(s.party_id, s.status, s.confirmed_by) for s in opened.sides] == [
        ("p1", "confirmed", "submitter"), ("p2", "awaiting_confirmation", None)]
    assert opened.participant_firms == [A]
    [asked] = world.store.outbox.messages(RepresentationRequested)
    assert (asked.firm_id, asked.party_id, asked.role, asked.party_name) == (B, "p2", "respondent", "Party p2")
    assert not any(secret in asked.model_dump_json() for secret in A_SECRETS)
    ids = [event.id for event in world.store.outbox.events()]
    assert len(set(ids)) == 2


async def test_the_named_firm_sees_only_its_pending_side_then_its_own_party_and_never_the_others(world):
    async with client(world.app, Role.FIRM, firm_id=A) as a, client(world.app, Role.FIRM, firm_id=B) as b, \
            client(world.app, Role.FIRM, firm_id=C) as c:
        created = await a.post("/v1/cases", json=document("ref-h"))
        assert created.status_code == 201, created.text
        path = f"/v1/cases/{created.json()['case_id']}"
        before = (await b.get(path)).json()
        assert before["pending"] == [{"party_id": "p2", "role": "respondent", "name": "Party p2"}]
        assert before["parties"] == [] and "title" not in before and "policy" not in before
        assert not any(secret in json.dumps(before) for secret in A_SECRETS)
        assert (await c.get(path)).status_code == 404
        awaiting = (await a.get(path)).json()
        assert [p["party_id"] for p in awaiting["parties"]] == ["p1"] and awaiting["title"] == "Dispute ref-h"
        assert [(s["party_id"], s["status"], s["firm_id"]) for s in awaiting["sides"]] == [
            ("p1", "confirmed", A), ("p2", "awaiting_confirmation", B)]
        assert "p2@parties.example.org" not in json.dumps(awaiting)

        accepted = await b.post(f"{path}/sides/p2/accept", json={"time_zone": "Asia/Tokyo"})
        assert accepted.status_code == 200, accepted.text
        again = await b.post(f"{path}/sides/p2/accept", json={"time_zone": "Asia/Tokyo"})
        assert again.json() == accepted.json()
        after = (await b.get(path)).json()
        assert [p["party_id"] for p in after["parties"]] == ["p2"] and after["parties"][0]["time_zone"] == "Asia/Tokyo"
        assert [s["party_id"] for s in after["sides"]] == ["p2"] and after["pending"] == []
        assert not any(secret in json.dumps(after) for secret in A_SECRETS)
        seen_by_a = json.dumps((await a.get(path)).json())
        assert "p2@parties.example.org" not in seen_by_a and "Asia/Tokyo" not in seen_by_a
        assert (await c.get(path)).status_code == 404
    [update] = world.store.outbox.messages(CaseUpdated)   # the second acceptance changed nothing
    assert update.changes == ["side_confirmed", "side_corrected"] and update.party_ids == ["p2"]
    assert update.participant_firms == [A, B]


async def test_an_acceptance_naming_an_attorney_of_another_firm_is_refused_with_every_reason(world):
    await submitted(world)
    attorney = {"firm_id": C, "name": "Counsel", "email": "counsel@firm-c.example.org"}
    await send(world, B, AcceptRepresentation, {"case_id": case_id(), "party_id": "p2", "attorney": attorney,
                                                "availability": hours("12:00", "10:00", ["mon"])}, "acc-bad")
    [refused] = rejections(world)
    assert refused.firm_id == B and refused.command_id == "acc-bad" and refused.dead_letter_topic is None
    assert {r.field for r in refused.reasons} == {"attorney.firm_id", "availability.0.end"}
    assert (await world.store.get(case_id())).side("p2").status == "awaiting_confirmation"
    async with client(world.app, Role.FIRM, firm_id=B) as b:
        http = await b.post(f"/v1/cases/{case_id()}/sides/p2/accept", json={"attorney": attorney})
    assert http.status_code == 422 and "attorney.firm_id" in http.text


async def test_a_firm_that_was_not_named_can_neither_accept_nor_decline_and_hears_why(world):
    await submitted(world)
    await send(world, C, AcceptRepresentation, {"case_id": case_id(), "party_id": "p2"}, "c-acc")
    await send(world, C, DeclineRepresentation, {"case_id": case_id(), "party_id": "p2"}, "c-dec")
    await send(world, B, AcceptRepresentation, {"case_id": case_id(), "party_id": "p1"}, "b-acc-p1")
    assert [(r.firm_id, r.command_id) for r in rejections(world)] == [(C, "c-acc"), (C, "c-dec"), (B, "b-acc-p1")]
    assert "no case" in rejections(world)[0].reasons[0].message
    assert "not asked to represent party p1" in rejections(world)[2].reasons[0].message
    case = await world.store.get(case_id())
    assert case.side("p2").status == "awaiting_confirmation" and case.participant_firms == [A]
    async with client(world.app, Role.FIRM, firm_id=C) as c:
        assert (await c.post(f"/v1/cases/{case_id()}/sides/p2/accept", json={})).status_code == 404
        assert (await c.post(f"/v1/cases/{case_id()}/sides/p2/decline", json={})).status_code == 404


async def test_a_redelivered_refusal_answers_once(world):
    await submitted(world)
    for _ in range(2):
        await send(world, C, AcceptRepresentation, {"case_id": case_id(), "party_id": "p2"}, "c-acc")
    assert len(rejections(world)) == 1


async def test_a_declined_side_stays_out_and_the_mediator_may_confirm_it_unrepresented(world):
    await submitted(world)
    await send(world, B, DeclineRepresentation, {"case_id": case_id(), "party_id": "p2", "reason": "conflict"}, "d")
    declined = world.store.outbox.messages(CaseUpdated)[-1]
    assert declined.changes == ["side_declined"] and declined.participant_firms == [A]
    await send(world, B, AcceptRepresentation, {"case_id": case_id(), "party_id": "p2"}, "late")
    assert "no case" in rejections(world)[0].reasons[0].message   # a declined firm knows the case no more
    path = f"/v1/cases/{case_id()}/sides/p2/confirm"
    async with client(world.app, Role.MEDIATOR, mediator_id="med-bob") as other, \
            client(world.app, Role.FIRM, firm_id=A) as a, \
            client(world.app, Role.MEDIATOR, mediator_id="med-ada") as mediator:
        assert (await other.post(path, json={})).status_code == 404
        assert (await a.post(path, json={})).status_code == 403
        confirmed = await mediator.post(path, json={"contact": {"name": "P Two", "email": "two@example.org"}})
        assert confirmed.status_code == 200, confirmed.text
    case = await world.store.get(case_id())
    assert (case.side("p2").status, case.side("p2").confirmed_by, case.side("p2").firm_id) == (
        "confirmed", "mediator", None)
    assert case.party("p2").contact.email == "two@example.org" and case.party("p2").attorney is None
    assert case.participant_firms == [A]


async def test_the_mediator_confirms_an_unrepresented_party_and_not_one_awaiting_its_firm(world):
    await submitted(world, parties__1__attorney=None)
    assert not world.store.outbox.messages(RepresentationRequested)
    assert (await world.store.get(case_id())).side("p2").firm_id is None
    async with client(world.app, Role.MEDIATOR, mediator_id="med-ada") as mediator:
        ok = await mediator.post(f"/v1/cases/{case_id()}/sides/p2/confirm", json={})
        assert ok.status_code == 200 and ok.json()["sides"][1]["confirmed_by"] == "mediator"
    await submitted(world, "ref-2")
    async with client(world.app, Role.MEDIATOR, mediator_id="med-ada") as mediator:
        busy = await mediator.post(f"/v1/cases/{case_id('ref-2')}/sides/p2/confirm", json={})
    assert busy.status_code == 409 and "awaits firm firm-b" in busy.text


async def test_availability_over_http_only_from_the_sides_own_firm_or_the_mediator(world):
    await submitted(world)
    await send(world, B, AcceptRepresentation, {"case_id": case_id(), "party_id": "p2"}, "acc")
    path = f"/v1/cases/{case_id()}/parties/p2/availability"
    body = {"availability": hours("10:00", "11:00")}
    async with client(world.app, Role.FIRM, firm_id=A) as a, client(world.app, Role.FIRM, firm_id=B) as b, \
            client(world.app, Role.FIRM, firm_id=C) as c, \
            client(world.app, Role.MEDIATOR, mediator_id="med-ada") as mediator:
        refused = await a.put(path, json=body)
        assert refused.status_code == 409 and "not the confirmed firm of party p2" in refused.text
        assert (await c.put(path, json=body)).status_code == 404
        own = await b.put(path, json=body)
        assert own.status_code == 200 and own.json()["parties"][0]["availability"][0]["start"] == "10:00:00"
        assert (await mediator.put(path, json={"availability": hours("12:00", "13:00")})).status_code == 200
        bad = await b.put(path, json={"availability": hours("12:00", "11:00")})
        assert bad.status_code == 422
    assert (await world.store.get(case_id())).party("p2").availability[0].start.hour == 12


async def test_only_the_submitting_firm_moves_the_session_by_command(world):
    await submitted(world)
    await send(world, B, AcceptRepresentation, {"case_id": case_id(), "party_id": "p2"}, "acc")
    start = NOW + timedelta(days=30)
    session = {"start": start.isoformat(), "end": (start + timedelta(hours=3)).isoformat(), "time_zone": "UTC"}
    await send(world, B, MoveSession, {"case_id": case_id(), "session": session}, "move-b")
    past = {**session, "start": (NOW - timedelta(days=1)).isoformat(), "end": (NOW - timedelta(hours=1)).isoformat()}
    await send(world, A, MoveSession, {"case_id": case_id(), "session": past}, "move-past")
    await send(world, A, MoveSession, {"case_id": case_id(), "session": session}, "move-a")
    [by_b, in_past] = rejections(world)
    assert by_b.firm_id == B and "only the submitting firm" in by_b.reasons[0].message
    assert in_past.firm_id == A and {r.field for r in in_past.reasons} == {"session.start"}
    moved = world.store.outbox.messages(CaseUpdated)[-1]
    assert moved.changes == ["session_moved"] and moved.session.start == start


async def test_a_side_still_awaiting_confirmation_is_raised_once_when_due(world):
    await submitted(world)
    assert await world.intake.sweep_overdue() == 0
    case = await world.store.get(case_id())
    assert case.due == case.session.start - timedelta(days=7)
    world.intake.clock = lambda: case.due + timedelta(minutes=1)
    assert await world.intake.sweep_overdue() == 1
    assert await world.intake.sweep_overdue() == 0
    [overdue] = world.store.outbox.messages(SideConfirmationOverdue)
    assert (overdue.party_id, overdue.firm_id, overdue.mediator_id) == ("p2", B, "med-ada")
    assert (await world.store.get(case_id())).due is None


async def test_a_confirmed_side_is_never_raised(world):
    await submitted(world)
    await send(world, B, AcceptRepresentation, {"case_id": case_id(), "party_id": "p2"}, "acc")
    world.intake.clock = lambda: NOW + timedelta(days=20)
    assert await world.intake.sweep_overdue() == 0 and not world.store.outbox.messages(SideConfirmationOverdue)


async def test_a_dead_lettered_command_is_answered_with_its_dead_letter_and_one_without_an_id_by_its_record(world):
    invalid, topic = command(B, AcceptRepresentation, {"case_id": "case-1", "party_id": "p2", "extra": 1}, "inv-1")
    with pytest.raises(EnvelopeError) as error:
        invalid.payload()
    dead = Topics.dead_letter(topic)
    await world.commands.dead_lettered(invalid, b"", error.value, dead, topic, record="0@1")
    raw = json.dumps({"id": "raw-1", "type": 42, "source": "/x"}).encode()
    await world.commands.dead_lettered(None, raw, EnvelopeError("not an envelope"), dead, topic, record="0@2")
    await world.commands.dead_lettered(None, b"\xff{", EnvelopeError("unreadable"), dead, topic, record="0@3")
    await world.commands.dead_lettered(None, b'{"id": ""}', ValueError("a secret of firm-c"), dead, topic, record="1@4")
    first, second, third, fourth = rejections(world)
    assert (first.firm_id, first.command_id, first.case_id) == (B, "inv-1", "case-1")
    assert first.dead_letter_topic == dead and first.reasons[0].field == "extra" and first.record == "0@1"
    assert (second.command_id, second.command_type, second.reasons[0].message) == ("raw-1", "", "not an envelope")
    assert (third.command_id, third.record, third.reasons[0].message) == ("", "0@3", "unreadable")
    assert fourth.record == "1@4" and "firm-c" not in str(fourth.reasons), "a failure's own text is not the firm's"
    assert [r.subject() for r in (first, second, third)] == ["case-1", "raw-1", "record 0@3"]


def test_a_case_stored_before_sides_existed_reads_as_every_side_confirmed():
    case = domain.open_case(A, domain.parse_submission(document()), NOW)
    old = {key: value for key, value in domain.case_document(case).items() if key not in ("sides", "due")}
    migrated = domain.stored_case({**old, "schema": 2, "created_at": NOW - timedelta(days=3)})
    assert [(s.status, s.confirmed_by, s.since) for s in migrated.sides] == [
        ("confirmed", "submitter", NOW - timedelta(days=3))] * 2
    assert migrated.participant_firms == [A, B] and migrated.due is None


async def test_unknown_command_events_never_carry_a_command_from_another_firms_topic(world):
    event = CloudEvent(id="x", type=AcceptRepresentation.type_name(), source="/s", subject="x", time=NOW,
                       data={"case_id": "c", "party_id": "p"})
    await world.commands.dead_lettered(event, b"", EnvelopeError("no"), "mednet.intake.events.dlq",
                                       "mednet.intake.events")
    assert not rejections(world)
