"""Issue 18 on in-memory adapters: what a party wants, in the mediator's words, is sealed like the notes (never in
ObjectivesRecorded, nor the stored case); its side's event keeps the issues, stances and priorities; the mediator's
own reads show everything; a purge deletes that case's sealed statements and documents, and no other case's."""

from __future__ import annotations

import base64
import json

from notes_kit import delivered, opened, scheduled
from mednet_shared.contracts.events import CaseUpdated, ObjectivesRecorded
from mednet_shared.contracts.values import SideStatus
from mednet_shared.platform.auth import Role
from services_harness import client

MEDIATOR = "med-ada"
WORDS = "settle below 30k if the leak stays quiet 5511"
KEYS = "keys back by friday or no deal 7720"
THEIRS = "pay the invoices within 9 days 3386"
SECRETS = (WORDS, KEYS, THEIRS, "48123", "61777")
OBJECTIVES = [{"issue": "payment_amount", "wants": WORDS, "priority": 1, "stance": "willing", "shareable": True,
               "amount": {"minimum": 48123.0, "maximum": 61777.0, "currency": "EUR"}},
              {"issue": "other", "free_issue": "Office keys", "wants": KEYS, "priority": 3}]


async def a_case(world):
    case = opened()
    await world.handlers.case_opened(delivered(case))
    for party_id in ("p1", "p2"):
        await world.handlers.call_scheduled(delivered(scheduled(case, party_id)))
    return case


async def test_what_the_party_wants_is_sealed_out_of_events_and_the_stored_case_but_read_by_its_mediator(world):
    case = await a_case(world)
    call = f"{case.case_id}:p1"
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        saved = await mediator.put(f"/v1/calls/{call}/notes", json={"objectives": OBJECTIVES})
        await mediator.put(f"/v1/calls/{case.case_id}:p2/notes",
                           json={"objectives": [{"issue": "payment_timing", "wants": THEIRS, "priority": 2}]})
        read = (await mediator.get(f"/v1/calls/{call}/notes")).json()
        brief = (await mediator.get(f"/v1/cases/{case.case_id}/brief")).json()
        sheet = (await mediator.get(f"/v1/calls/{case.case_id}:p2/preparation")).json()
    assert saved.status_code == 200, saved.text
    events = json.dumps([e.data for e in world.store.outbox.events()])
    stored = json.dumps(world.store.cases.get(case.case_id), default=str)
    for secret in SECRETS:
        assert secret not in events, secret
        assert secret not in stored, secret
    recorded = next(m for m in world.store.outbox.messages(ObjectivesRecorded) if m.party_id == "p1")
    assert [(str(o.issue), o.free_issue, str(o.stance), o.priority, o.shareable) for o in recorded.objectives] == [
        ("payment_amount", None, "willing", 1, True), ("other", "Office keys", "wants", 3, False)]
    assert all(o.wants == "" and o.amount is None for o in recorded.objectives)
    assert [o["wants"] for o in read["objectives"]] == [WORDS, KEYS]
    assert read["objectives"][0]["amount"]["maximum"] == 61777.0
    positions = {p["wants"] for row in brief["issues"] for p in row["positions"]}
    assert positions == {WORDS, KEYS, THEIRS}
    assert {o["wants"] for s in sheet["objectives"] for o in s["objectives"]} == {WORDS, KEYS, THEIRS}


async def test_the_same_wording_again_changes_nothing_and_a_changed_wording_alone_is_recorded_again(world):
    case = await a_case(world)
    url = f"/v1/calls/{case.case_id}:p1/notes"
    changed = [{**OBJECTIVES[0], "wants": "settle below 25k"}, OBJECTIVES[1]]
    async with client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        await mediator.put(url, json={"objectives": OBJECTIVES})
        await mediator.put(url, json={"objectives": OBJECTIVES})
        assert len(world.store.outbox.messages(ObjectivesRecorded)) == 1
        await mediator.put(url, json={"objectives": changed})
        read = (await mediator.get(url)).json()
    ids = [e.id for e in world.store.outbox.events() if e.type == ObjectivesRecorded.type_name()]
    assert len(set(ids)) == 2 and read["objectives"][0]["wants"] == "settle below 25k"


def statement(text: str, content: bytes) -> dict:
    return {"interests": text, "documents": [{"title": "Paper", "kind": "evidence",
                                              "content_base64": base64.b64encode(content).decode()}]}


async def test_a_purge_deletes_that_cases_sealed_statements_and_documents_and_keeps_every_other_cases(world):
    cases = [opened(f"ref-{n}") for n in range(2)]
    receipts = []
    for n, case in enumerate(cases):
        await world.handlers.case_opened(delivered(case))
        sides = [s.model_copy(update={"status": SideStatus.CONFIRMED, "confirmed_by": "firm"}) for s in case.sides]
        await world.handlers.case_updated(delivered(CaseUpdated(
            case_id=case.case_id, firm_id=case.firm_id, revision=2, changes=["side_confirmed"], session=case.session,
            parties=case.parties, participant_firms=case.participant_firms, sides=sides, party_ids=["p1", "p2"])))
        async with client(world.app, Role.FIRM, firm_id="firm-a") as own:
            sent = await own.post(f"/v1/cases/{case.case_id}/sides/p1/statement",
                                  json=statement(f"case {n} text", f"file of case {n}".encode()))
            assert sent.status_code == 201, sent.text
            receipts.append(sent.json())
    doomed, kept = (r["documents"][0]["document_id"] for r in receipts)
    async with client(world.app, Role.OPERATOR) as operator, \
            client(world.app, Role.MEDIATOR, mediator_id=MEDIATOR) as mediator:
        assert (await operator.post(f"/v1/cases/{cases[0].case_id}/notes/purge")).status_code == 200
        gone = await mediator.get(f"/v1/cases/{cases[0].case_id}/sides/p1/statement")
        file_gone = await mediator.get(f"/v1/cases/{cases[0].case_id}/documents/{doomed}")
        other = await mediator.get(f"/v1/cases/{cases[1].case_id}/documents/{kept}")
    assert gone.status_code == 410 and file_gone.status_code == 410
    assert [s["case_id"] for s in world.store.statements.values()] == [cases[1].case_id]
    assert list(world.store.documents) == [kept]
    assert other.status_code == 200 and other.content == b"file of case 1"
