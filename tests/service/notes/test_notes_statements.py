"""A side's pre-call statement on in-memory adapters: only the side's own confirmed firm sends it, only the case's
mediator reads it (every other token 404), text and documents are sealed at rest, versions are kept, and the
receipt names what was received, never its content."""

from __future__ import annotations

import base64
import json

from notes_kit import NOW, delivered, opened
from mednet_shared.contracts.events import CaseUpdated, StatementReceived
from mednet_shared.contracts.values import SideStatus
from mednet_shared.platform.auth import Role
from services_harness import client

MEDIATOR = "med-ada"
SECRET = "we-would-settle-for-the-car-9731"
FILE_TEXT = b"position paper body 5522 confidential"


def confirmed(case, *party_ids: str) -> CaseUpdated:
    sides = [side.model_copy(update={"status": SideStatus.CONFIRMED, "confirmed_by": "firm"})
             if side.party_id in party_ids else side for side in case.sides]
    return CaseUpdated(case_id=case.case_id, firm_id=case.firm_id, revision=2, changes=["side_confirmed"],
                       session=case.session, parties=case.parties, participant_firms=case.participant_firms,
                       sides=sides, party_ids=list(party_ids))


def body(interests: str = SECRET, *files: tuple[str, bytes]) -> dict:
    return {"interests": interests, "questions": "what happens next?",
            "documents": [{"title": title, "kind": "position_paper", "content_base64": base64.b64encode(data).decode()}
                          for title, data in files]}


async def a_case(world):
    case = opened()
    await world.handlers.case_opened(delivered(case))
    await world.handlers.case_updated(delivered(confirmed(case, "p1")))
    return case


async def test_only_the_sides_own_confirmed_firm_sends_its_statement(world):
    case = await a_case(world)
    url = f"/v1/cases/{case.case_id}/sides/p1/statement"
    async with client(world.app, Role.FIRM, firm_id="firm-b") as other_side, \
            client(world.app, Role.FIRM, firm_id="firm-x") as submitter, \
            client(world.app, Role.FIRM, firm_id="firm-a") as own, \
            client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        assert (await other_side.post(url, json=body())).status_code == 404
        assert (await submitter.post(url, json=body())).status_code == 404
        assert (await mediator.post(url, json=body())).status_code == 403
        # firm-b's own side is not confirmed yet: it may not send either
        unconfirmed = await other_side.post(f"/v1/cases/{case.case_id}/sides/p2/statement", json=body())
        assert unconfirmed.status_code == 404 and "not confirmed" in unconfirmed.text
        assert (await own.post(f"/v1/cases/no-such-case/sides/p1/statement", json=body())).status_code == 404
        assert world.store.statements == {} and world.store.documents == {}
        assert world.store.outbox.messages(StatementReceived) == []
        sent = await own.post(url, json=body(SECRET, ("Our position", FILE_TEXT), ("Timeline", b"t" * 10)))
    assert sent.status_code == 201, sent.text
    receipt = sent.json()
    assert receipt["version"] == 1 and [d["title"] for d in receipt["documents"]] == ["Our position", "Timeline"]
    assert [d["size"] for d in receipt["documents"]] == [len(FILE_TEXT), 10]
    [event] = world.store.outbox.messages(StatementReceived)
    assert event.side_firm_id == "firm-a" and event.statement_version == 1 and event.parts == ["interests", "questions"]


async def test_only_the_cases_mediator_reads_the_statement_and_its_documents_every_other_token_gets_404(world):
    case = await a_case(world)
    async with client(world.app, Role.FIRM, firm_id="firm-a") as own:
        receipt = (await own.post(f"/v1/cases/{case.case_id}/sides/p1/statement",
                                  json=body(SECRET, ("Our position", FILE_TEXT)))).json()
        second = (await own.post(f"/v1/cases/{case.case_id}/sides/p1/statement", json=body("revised view"))).json()
    document = receipt["documents"][0]["document_id"]
    statement_url = f"/v1/cases/{case.case_id}/sides/p1/statement"
    document_url = f"/v1/cases/{case.case_id}/documents/{document}"
    tokens = [(Role.FIRM, {"firm_id": "firm-a"}), (Role.FIRM, {"firm_id": "firm-b"}),
              (Role.FIRM, {"firm_id": "firm-x"}), (Role.MEDIATOR, {"mediator_id": "med-bob"}), (Role.OPERATOR, {})]
    for role, claims in tokens:
        async with client(world.app, role, **claims) as reader:
            for url in (statement_url, document_url):
                answer = await reader.get(url)
                assert answer.status_code == 404, (role, claims, url)
                assert SECRET not in answer.text and "5522" not in answer.text
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        latest = (await mediator.get(statement_url)).json()
        kept = await mediator.get(document_url)  # version 1's document is kept
    assert second["version"] == 2 and latest["version"] == 2 and latest["versions"] == [1, 2]
    assert latest["interests"] == "revised view" and latest["documents"] == []
    assert kept.status_code == 200 and kept.content == FILE_TEXT


async def test_nothing_of_the_statement_is_stored_or_sent_in_plaintext_and_a_purge_makes_it_unreadable(world):
    case = await a_case(world)
    async with client(world.app, Role.FIRM, firm_id="firm-a") as own, \
            client(world.app, Role.OPERATOR) as operator, \
            client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        receipt = (await own.post(f"/v1/cases/{case.case_id}/sides/p1/statement",
                                  json=body(SECRET, ("Our position", FILE_TEXT)))).json()
        everything = json.dumps([world.store.cases.get(case.case_id), list(world.store.statements.values()),
                                 [e.data for e in world.store.outbox.events()]], default=repr)
        stored_files = b"".join(world.store.documents.values())
        assert SECRET not in everything and "what happens next" not in everything and "5522" not in everything
        assert FILE_TEXT not in stored_files and b"5522" not in stored_files
        assert (await operator.post(f"/v1/cases/{case.case_id}/notes/purge")).status_code == 200
        gone = await mediator.get(f"/v1/cases/{case.case_id}/sides/p1/statement")
        file_gone = await mediator.get(f"/v1/cases/{case.case_id}/documents/{receipt['documents'][0]['document_id']}")
    assert gone.status_code == 410 and file_gone.status_code == 410 and SECRET not in gone.text


async def test_an_oversized_or_malformed_document_is_refused_and_stores_nothing(world):
    world.notes.max_document_bytes = 100
    case = await a_case(world)
    url = f"/v1/cases/{case.case_id}/sides/p1/statement"
    async with client(world.app, Role.FIRM, firm_id="firm-a") as own:
        big = await own.post(url, json=body(SECRET, ("Big", b"x" * 101)))
        bad = {**body(), "documents": [{"title": "Bad", "kind": "evidence", "content_base64": "***not base64***"}]}
        malformed = await own.post(url, json=bad)
        unknown = await own.post(url, json={**body(), "salary": "x"})
        empty = await own.post(url, json={})
        fits = await own.post(url, json=body(SECRET, ("Small", b"x" * 100)))
    assert big.status_code == 413 and "over the limit of 100" in big.text
    assert malformed.status_code == 422 and "content_base64" in malformed.text
    assert unknown.status_code == 422 and empty.status_code == 422
    assert fits.status_code == 201 and fits.json()["version"] == 1
    assert len(world.store.statements) == 1 and len(world.store.documents) == 1


def command(case, party_id: str, firm: str, **fields):
    from mednet_shared.contracts.envelope import new_event
    from mednet_shared.contracts.events import SubmitStatement
    from mednet_shared.contracts.topics import Topics
    from mednet_shared.platform.consumer import Incoming
    message = SubmitStatement(case_id=case.case_id, party_id=party_id, **fields)
    topic = Topics.firm_inbound(firm)
    return Incoming(event=new_event(message, f"/firms/{firm}", event_id=f"cmd-{firm}-{party_id}"), message=message,
                    topic=topic, partition=0, offset=0)


async def test_a_statement_by_command_from_another_firm_is_rejected_to_it_and_a_redelivery_records_once(world):
    from mednet_shared.contracts.events import CommandRejected
    case = await a_case(world)
    await world.handlers.submit_statement(command(case, "p1", "firm-b", interests=SECRET))
    await world.handlers.submit_statement(command(case, "p1", "firm-b", interests=SECRET))
    [rejected] = world.store.outbox.messages(CommandRejected)
    assert rejected.firm_id == "firm-b" and rejected.command_id == "cmd-firm-b-p1"
    assert "no side p1 of firm firm-b" in rejected.reasons[0].message and SECRET not in rejected.model_dump_json()
    assert world.store.statements == {} and world.store.outbox.messages(StatementReceived) == []
    own = command(case, "p1", "firm-a", interests=SECRET, concerns="the delay")
    await world.handlers.submit_statement(own)
    await world.handlers.submit_statement(own)
    [receipt] = world.store.outbox.messages(StatementReceived)
    assert receipt.side_firm_id == "firm-a" and receipt.statement_version == 1
    assert receipt.parts == ["interests", "concerns"] and receipt.documents == []
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        read = (await mediator.get(f"/v1/cases/{case.case_id}/sides/p1/statement")).json()
    assert read["interests"] == SECRET and read["versions"] == [1]


async def test_the_preparation_sheet_is_for_the_cases_mediator_only_and_shows_what_the_call_needs(world):
    from notes_kit import scheduled
    case = await a_case(world)
    for party_id in ("p1", "p2"):
        await world.handlers.call_scheduled(delivered(scheduled(case, party_id)))
    async with client(world.app, Role.FIRM, firm_id="firm-a") as own:
        await own.post(f"/v1/cases/{case.case_id}/sides/p1/statement", json=body(SECRET, ("Our position", FILE_TEXT)))
    url = f"/v1/calls/{case.case_id}:p1/preparation"
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        notes = {"observations": {"concerns": "p2-private-worry"},
                 "objectives": [{"issue": "apology", "wants": "none", "priority": 3, "stance": "opposes"}]}
        assert (await mediator.put(f"/v1/calls/{case.case_id}:p2/notes", json=notes)).status_code == 200
        sheet = await mediator.get(url)
        assert (await mediator.get(f"/v1/calls/{case.case_id}:p9/preparation")).status_code == 404
    for role, claims in [(Role.FIRM, {"firm_id": "firm-a"}), (Role.FIRM, {"firm_id": "firm-x"}),
                         (Role.MEDIATOR, {"mediator_id": "med-bob"}), (Role.OPERATOR, {})]:
        async with client(world.app, role, **claims) as reader:
            answer = await reader.get(url)
            assert answer.status_code == 404 and SECRET not in answer.text, (role, claims)
    assert sheet.status_code == 200, sheet.text
    sheet = sheet.json()
    assert sheet["party"] == {"party_id": "p1", "role": "claimant", "firm_id": "firm-a", "side_status": "confirmed"}
    assert sheet["statement"]["interests"] == SECRET and sheet["statement"]["version"] == 1
    [document] = sheet["statement"]["documents"]
    assert document["title"] == "Our position" and document["download"].endswith(document["document_id"])
    assert [(c["party_id"], c["observations"]["concerns"]) for c in sheet["earlier_calls"]] == [
        ("p2", "p2-private-worry")]
    assert [o["party_id"] for o in sheet["objectives"]] == ["p2"]
    assert sheet["other_sides"] == [
        "p2 (respondent, firm-b): side awaiting_confirmation; call scheduled; objectives recorded; no statement"]


async def test_a_statement_after_the_session_started_is_refused_and_stores_nothing(world):
    case = await a_case(world)
    world.notes.clock = lambda: case.session.start
    async with client(world.app, Role.FIRM, firm_id="firm-a") as own:
        late = await own.post(f"/v1/cases/{case.case_id}/sides/p1/statement", json=body())
    assert late.status_code == 409 and "session started" in late.text
    assert world.store.statements == {} and world.store.outbox.messages(StatementReceived) == []
