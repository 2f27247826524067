"""Every use case of notes on in-memory adapters: learning cases and calls from events, the mediator's notes and
objectives, the brief, purge and rewrap of the case keys."""

from __future__ import annotations

import asyncio
import json

import pytest

from notes_kit import delivered, opened, scheduled
from mednet_notes.crypto import NoteSealer, decoded_key, generate_key
from mednet_notes.envelope import MasterKeys
from mednet_shared.contracts.events import BriefReady, CallCancelled, CallRescheduled, CaseUpdated, ObjectivesRecorded
from mednet_shared.platform.auth import Role
from mednet_shared.platform.cas import CasPolicy, Conflict
from services_harness import TEST_NOTES_KEY, client

MEDIATOR = "med-ada"
WANTS = [{"issue": "confidentiality", "wants": "keep it quiet", "priority": 1}]


async def known(world, case, *party_ids: str) -> None:
    await world.handlers.case_opened(delivered(case))
    for party_id in party_ids:
        await world.handlers.call_scheduled(delivered(scheduled(case, party_id)))


async def test_notes_learn_a_case_and_its_calls_and_ignore_an_older_revision(world):
    case = opened(parties=3)
    await known(world, case, "p1")
    moved = scheduled(case, "p1", CallRescheduled, previous_start=case.session.start, reason="travel")
    await world.handlers.call_scheduled(delivered(moved))
    newer = CaseUpdated(case_id=case.case_id, firm_id="firm-x", revision=3, changes=["party_added"],
                        session=case.session, parties=case.parties[:2], participant_firms=case.participant_firms)
    await world.handlers.case_updated(delivered(newer))
    await world.handlers.case_updated(delivered(newer.model_copy(update={"revision": 2, "parties": case.parties})))
    state = await world.store.case(case.case_id)
    assert state.mediator_id == MEDIATOR and state.revision == 3 and [p.party_id for p in state.parties] == ["p1", "p2"]
    assert [(c.call_id, c.status) for c in state.calls] == [(f"{case.case_id}:p1", "scheduled")]
    assert state.parties[0].firm_id == "firm-a"
    announced = world.store.outbox.messages()
    assert [type(m).__name__ for m in announced] == ["ReadinessRequired", "ReadinessRequired"], \
        "learning the case, then losing a party, announce each side's outstanding readiness items, nothing else"
    assert [[s.party_id for s in m.sides] for m in announced] == [["p1", "p2", "p3"], ["p1", "p2"]]


async def test_the_mediator_records_sealed_notes_and_the_partys_objectives_once(world):
    case = opened()
    await known(world, case, "p1")
    call = f"{case.case_id}:p1"
    body = {"observations": {"concerns": "the secret worry"}, "objectives": WANTS}
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        saved = await mediator.put(f"/v1/calls/{call}/notes", json=body)
        assert saved.status_code == 200 and saved.json()["observations"]["concerns"] == "the secret worry"
        assert (await mediator.put(f"/v1/calls/{call}/notes", json=body)).status_code == 200
        read = (await mediator.get(f"/v1/calls/{call}/notes")).json()
    assert read["party_id"] == "p1" and read["objectives"][0]["wants"] == "keep it quiet"
    stored = await world.store.note(call)
    assert b"secret" not in stored["sealed"]["ciphertext"] and stored["sealed"]["key_id"] == "case-data-key"
    [recorded] = world.store.outbox.messages(ObjectivesRecorded)
    assert recorded.party_id == "p1" and recorded.party_firm_id == "firm-a"
    assert "secret" not in json.dumps([e.data for e in world.store.outbox.events()])


async def test_only_the_cases_mediator_reaches_its_notes_and_brief(world):
    case = opened()
    await known(world, case, "p1")
    call = f"{case.case_id}:p1"
    async with client(world.app, Role.MEDIATOR, mediator_id="med-bob") as other, \
            client(world.app, Role.FIRM, firm_id="firm-a") as firm, \
            client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        assert (await other.put(f"/v1/calls/{call}/notes", json={})).status_code == 404
        assert (await other.get(f"/v1/calls/{call}/notes")).status_code == 404
        assert (await other.get(f"/v1/cases/{case.case_id}/brief")).status_code == 404
        assert (await firm.get(f"/v1/calls/{call}/notes")).status_code == 403
        assert (await mediator.get(f"/v1/calls/{case.case_id}:p9/notes")).status_code == 404
        assert (await mediator.get("/v1/calls/no-case-here/notes")).status_code == 404
        assert (await mediator.get(f"/v1/calls/{call}/notes")).json()["observations"]["concerns"] == ""


async def test_a_cancelled_call_takes_no_more_notes(world):
    case = opened()
    await known(world, case, "p1")
    cancelled = scheduled(case, "p1")
    await world.handlers.call_cancelled(delivered(CallCancelled(**cancelled.model_dump(
        include={"call_id", "case_id", "party_id", "mediator_id", "sequence", "attendees", "participant_firms"}))))
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        refused = await mediator.put(f"/v1/calls/{case.case_id}:p1/notes", json={})
    assert refused.status_code == 409 and "cancelled" in refused.text


@pytest.mark.parametrize("case_first", [True, False], ids=["case-first", "objectives-first"])
async def test_the_brief_is_ready_once_when_the_last_of_the_case_and_the_objectives_arrives(world, case_first):
    case = opened()
    if case_first:
        await world.handlers.case_opened(delivered(case))
    for party_id in ("p1", "p2"):
        await world.handlers.call_scheduled(delivered(scheduled(case, party_id)))
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        for party_id in ("p1", "p2"):
            body = {"objectives": [{**WANTS[0], "wants": f"quiet for {party_id}"}]}
            assert (await mediator.put(f"/v1/calls/{case.case_id}:{party_id}/notes", json=body)).status_code == 200
        if not case_first:
            waiting = await mediator.get(f"/v1/cases/{case.case_id}/brief")
            assert waiting.status_code == 409 and "not yet recorded" in waiting.text
            await world.handlers.case_opened(delivered(case))
        await world.handlers.case_opened(delivered(case))
        brief = await mediator.get(f"/v1/cases/{case.case_id}/brief")
    assert brief.status_code == 200 and brief.json()["shared_interests"] == ["confidentiality"]
    [ready] = world.store.outbox.messages(BriefReady)
    assert ready.party_ids == ["p1", "p2"] and ready.mediator_id == MEDIATOR
    assert len(world.store.outbox.messages(ObjectivesRecorded)) == 2


async def test_concurrent_events_of_one_case_all_land(world):
    case = opened(parties=4)
    await asyncio.gather(world.handlers.case_opened(delivered(case)),
                         *(world.handlers.call_scheduled(delivered(scheduled(case, f"p{n}"))) for n in range(1, 5)))
    state = await world.store.case(case.case_id)
    assert len(state.parties) == 4 and sorted(c.party_id for c in state.calls) == ["p1", "p2", "p3", "p4"]


async def test_notes_that_keep_losing_the_race_are_a_409_not_a_silent_give_up(world, monkeypatch):
    case = opened()
    await known(world, case, "p1")

    async def always_stale(state, *_):
        raise Conflict(state.case_id)

    monkeypatch.setattr(world.store, "save_case", always_stale)
    monkeypatch.setattr(world.notes, "cas_policy", CasPolicy(attempts=3, backoff_seconds=0))
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        busy = await mediator.put(f"/v1/calls/{case.case_id}:p1/notes", json={"objectives": WANTS})
    assert busy.status_code == 409 and "changed concurrently on each of 3 attempts" in busy.text


async def test_a_purge_shreds_one_case_and_tampering_fails_the_integrity_check(world):
    cases = [opened(f"ref-{n}") for n in range(3)]
    calls = [f"{case.case_id}:p1" for case in cases]
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator, \
            client(world.app, Role.OPERATOR) as operator, client(world.app, Role.FIRM, firm_id="firm-x") as firm:
        for n, case in enumerate(cases):
            await known(world, case, "p1")
            await mediator.put(f"/v1/calls/{calls[n]}/notes", json={"observations": {"concerns": f"secret-{n}"}})
        note = await world.store.note(calls[2])
        await world.store.save_note(calls[2], cases[2].case_id, "p1", (await world.store.note(calls[1]))["sealed"])
        moved = await mediator.get(f"/v1/calls/{calls[2]}/notes")
        assert moved.status_code == 500 and "integrity check failed" in moved.text
        altered = {**note["sealed"], "ciphertext": bytes([note["sealed"]["ciphertext"][0] ^ 1]) +
                   note["sealed"]["ciphertext"][1:]}
        await world.store.save_note(calls[2], cases[2].case_id, "p1", altered)
        assert (await mediator.get(f"/v1/calls/{calls[2]}/notes")).status_code == 500

        assert (await firm.post(f"/v1/cases/{cases[0].case_id}/notes/purge")).status_code == 403
        purged = (await operator.post(f"/v1/cases/{cases[0].case_id}/notes/purge")).json()
        assert purged["unreadable_notes"] == 1 and purged["deleted_legacy_notes"] == 0
        gone = await mediator.get(f"/v1/calls/{calls[0]}/notes")
        assert gone.status_code == 410 and "purged" in gone.text and "secret-0" not in gone.text
        assert (await mediator.put(f"/v1/calls/{calls[0]}/notes", json={})).status_code == 409
        assert (await mediator.get(f"/v1/calls/{calls[1]}/notes")).json()["observations"]["concerns"] == "secret-1"
    assert set(await world.store.case_key(cases[0].case_id)) == {"_id", "purged_at"}


async def test_a_new_master_key_rewraps_every_case_key(world):
    old, new = generate_key(), generate_key()
    world.notes.master_keys = MasterKeys.parse(json.dumps({"m1": old}), "m1")
    case = opened()
    await known(world, case, "p1")
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator, \
            client(world.app, Role.OPERATOR) as operator:
        await mediator.put(f"/v1/calls/{case.case_id}:p1/notes", json={"observations": {"concerns": "kept"}})
        world.notes.master_keys = MasterKeys.parse(json.dumps({"m1": old, "m2": new}), "m2")
        assert (await operator.post("/v1/notes/keys/rewrap")).json() == {"master_key_id": "m2", "rewrapped": 1}
        assert (await operator.post("/v1/notes/keys/rewrap")).json()["rewrapped"] == 0
        assert (await mediator.post("/v1/notes/keys/rewrap")).status_code == 403
        world.notes.master_keys = MasterKeys.parse(json.dumps({"m2": new}), "m2")
        read = await mediator.get(f"/v1/calls/{case.case_id}:p1/notes")
    assert read.status_code == 200 and read.json()["observations"]["concerns"] == "kept"


async def test_a_note_sealed_before_envelope_encryption_is_read_resealed_or_deleted_by_a_purge(world):
    legacy = NoteSealer(decoded_key(TEST_NOTES_KEY), "k1")
    cases = [opened("ref-a"), opened("ref-b")]
    for case in cases:
        await known(world, case, "p1")
        call = f"{case.case_id}:p1"
        await world.store.save_note(call, case.case_id, "p1",
                                    legacy.seal(b'{"concerns": "from before"}', case_id=case.case_id, call_id=call))
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator, \
            client(world.app, Role.OPERATOR) as operator:
        read = await mediator.get(f"/v1/calls/{cases[0].case_id}:p1/notes")
        assert read.json()["observations"]["concerns"] == "from before"
        assert (await world.store.note(f"{cases[0].case_id}:p1"))["sealed"]["key_id"] == "case-data-key"
        purged = (await operator.post(f"/v1/cases/{cases[1].case_id}/notes/purge")).json()
    assert purged["deleted_legacy_notes"] == 1 and purged["unreadable_notes"] == 0
    assert await world.store.note(f"{cases[1].case_id}:p1") is None
