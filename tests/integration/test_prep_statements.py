"""On the real stack (Kafka, the MongoDB-wire server, GridFS): a side's statement with two documents from its own
confirmed firm, readable by the case's mediator only (every other token 404); another firm's attempts refused (HTTP
404, CommandRejected on mednet.notes.events); a scan of the notes topic, the logs and the raw notes database finds no
byte of statement or document text and no objective amount; after a purge none of it can be read."""

import asyncio
import base64
import logging
from datetime import UTC, datetime, timedelta

import bson
from kafka_helpers import as_record, command, events_of, new_topic, produce, read
from mednet_shared.contracts.envelope import CloudEvent, new_event
from mednet_shared.contracts.events import CallScheduled, CaseOpened
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Attendee, Side
from mednet_shared.platform.auth import Role
from mednet_shared.platform.mongo import make_client
from sample_cases import submission
from services_harness import client, services

STATEMENT = "statement-secret-the-warehouse-lease-8841"
SECOND = "other-side-secret-the-boat-3317"
DOC_ONE = b"document-one-body-the-ledger-page-6620" * 50
DOC_TWO = b"document-two-body-photos-of-the-gate-4471"
AMOUNT = 73519.25


def encoded(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def raw_database(infrastructure, name: str) -> bytes:
    """Every document of every collection of the notes database (GridFS chunks included), as raw BSON."""
    mongo = make_client(infrastructure.mongodb_url, app_name="mednet-tests")
    try:
        db = mongo[name]
        dumped = []
        for collection in await db.list_collection_names():
            dumped += [bson.encode(document) for document in await db[collection].find({}).to_list()]
        return b"".join(dumped)
    finally:
        await mongo.close()


async def test_a_statement_with_two_documents_is_for_the_mediator_only_and_leaves_no_plaintext(
        infrastructure, kafka, unique, caplog):
    caplog.set_level(logging.DEBUG)
    submitter, firm_a, firm_b = f"firm-s{unique}", f"firm-a{unique}", f"firm-b{unique}"
    mediator_id = f"med-{unique}"
    inbound = {firm: await new_topic(kafka, Topics.firm_inbound(firm)) for firm in (firm_a, firm_b)}
    document = submission(f"ref-{unique}", mediator_id=mediator_id, days_ahead=14)
    document["parties"][0]["attorney"]["firm_id"] = firm_a
    document["parties"][1]["attorney"]["firm_id"] = firm_b
    now = datetime.now(UTC)
    case = CaseOpened(case_id=f"case-{unique}", firm_id=submitter, participant_firms=[submitter, firm_a, firm_b],
                      sides=[Side(party_id="p1", role="claimant", firm_id=firm_a, status="confirmed", since=now,
                                  confirmed_by="firm"),
                             Side(party_id="p2", role="respondent", firm_id=firm_b, status="confirmed", since=now,
                                  confirmed_by="firm")],
                      **document)
    start = case.session.start - timedelta(days=3)
    call = CallScheduled(call_id=f"{case.case_id}:p1", case_id=case.case_id, party_id="p1", mediator_id=mediator_id,
                         sequence=0, start=start, end=start + timedelta(minutes=45), side_firm_id=firm_a,
                         participant_firms=case.participant_firms,
                         attendees=[Attendee(kind="mediator", name="M", email=case.mediator.email, time_zone="UTC"),
                                    Attendee(kind="party", name="P", email="p1@parties.example.org",
                                             time_zone="UTC")])
    statement_url = f"/v1/cases/{case.case_id}/sides/p1/statement"
    body = {"interests": STATEMENT, "concerns": "the delay", "desired_outcomes": "an end to it",
            "questions": "who else attends?",
            "documents": [{"title": "Ledger", "kind": "evidence", "content_base64": encoded(DOC_ONE)},
                          {"title": "Gate photos", "kind": "evidence", "content_base64": encoded(DOC_TWO)}]}
    async with services(infrastructure, unique, "notes") as apps:
        notes = apps["notes"][0]
        await produce(kafka, Topics.INTAKE, [as_record(new_event(case, "/mednet/intake", firm_id=submitter))])
        await produce(kafka, Topics.SCHEDULING, [as_record(new_event(call, "/mednet/scheduling"))])
        async with client(notes, Role.FIRM, firm_id=firm_a) as own, \
                client(notes, Role.FIRM, firm_id=firm_b) as other:
            for _ in range(100):
                state = await notes.state.notes.store.case(case.case_id)
                if state and state.parties and state.call(call.call_id):
                    break
                await asyncio.sleep(0.3)
            assert (await other.post(statement_url, json=body)).status_code == 404
            sent = await own.post(statement_url, json=body)
            assert sent.status_code == 201, sent.text
        receipt = sent.json()
        documents = [d["document_id"] for d in receipt["documents"]]
        assert [d["size"] for d in receipt["documents"]] == [len(DOC_ONE), len(DOC_TWO)]

        # by command: another firm for p1 is refused back to it; firm_b for its own side p2 is received
        wrong = command({"case_id": case.case_id, "party_id": "p1", "interests": SECOND}, "mednet.SubmitStatement.v1")
        right = command({"case_id": case.case_id, "party_id": "p2", "interests": SECOND}, "mednet.SubmitStatement.v1")
        await produce(kafka, inbound[firm_b], [as_record(wrong), as_record(right)])
        [rejected] = await events_of(kafka, Topics.NOTES, case.case_id, "CommandRejected", 1)
        assert rejected.payload().firm_id == firm_b and rejected.payload().command_id == wrong.id
        receipts = {e.payload().party_id: e.payload()
                    for e in await events_of(kafka, Topics.NOTES, case.case_id, "StatementReceived", 2)}
        assert receipts["p1"].side_firm_id == firm_a and receipts["p2"].side_firm_id == firm_b
        assert [d.title for d in receipts["p1"].documents] == ["Ledger", "Gate photos"]

        others = [(Role.FIRM, {"firm_id": firm_a}), (Role.FIRM, {"firm_id": firm_b}),
                  (Role.FIRM, {"firm_id": submitter}), (Role.MEDIATOR, {"mediator_id": f"med-x{unique}"}),
                  (Role.OPERATOR, {})]
        urls = [statement_url, f"/v1/cases/{case.case_id}/sides/p2/statement",
                *(f"/v1/cases/{case.case_id}/documents/{d}" for d in documents)]
        for role, claims in others:
            async with client(notes, role, **claims) as reader:
                for url in urls:
                    assert (await reader.get(url)).status_code == 404, (role, claims, url)
        async with client(notes, Role.MEDIATOR, mediator_id=mediator_id) as mediator, \
                client(notes, Role.OPERATOR) as operator:
            read_back = (await mediator.get(statement_url)).json()
            assert read_back["interests"] == STATEMENT and read_back["version"] == 1
            assert (await mediator.get(f"/v1/cases/{case.case_id}/sides/p2/statement")).json()["interests"] == SECOND
            assert (await mediator.get(f"/v1/cases/{case.case_id}/documents/{documents[0]}")).content == DOC_ONE
            assert (await mediator.get(f"/v1/cases/{case.case_id}/documents/{documents[1]}")).content == DOC_TWO
            objectives = [{"issue": "payment_amount", "wants": "a fair sum", "priority": 1,
                           "amount": {"minimum": AMOUNT, "currency": "EUR"}}]
            saved = await mediator.put(f"/v1/calls/{call.call_id}/notes", json={"objectives": objectives})
            assert saved.status_code == 200 and saved.json()["objectives"][0]["amount"]["minimum"] == AMOUNT
            await events_of(kafka, Topics.NOTES, case.case_id, "ObjectivesRecorded", 1)

            secrets = [STATEMENT.encode(), SECOND.encode(), DOC_ONE[:38], DOC_TWO, b"who else attends",
                       b"73519.25"]
            topic = b"".join(r.value for r in await read(kafka, Topics.NOTES, 10**6, timeout=2)
                             if CloudEvent.from_bytes(r.value).subject == case.case_id)
            raw = await raw_database(infrastructure, notes.state.runtime.settings.mongodb_database)
            # every log line at DEBUG, but the test's own producer sending the firm's commands (the firm's own text)
            logs = "\n".join(r.getMessage() for r in caplog.records
                              if not any(topic in r.getMessage() for topic in inbound.values())).encode()
            for secret in secrets:
                assert secret not in topic, secret
                assert secret not in raw, secret
                assert secret not in logs, secret
            chunks = await notes.state.runtime.db["documents.chunks"].count_documents({})
            assert chunks >= 2 and len(raw) > len(DOC_ONE)  # the sealed files are in GridFS, and were scanned

            assert (await operator.post(f"/v1/cases/{case.case_id}/notes/purge")).status_code == 200
            for url in urls:
                assert (await mediator.get(url)).status_code == 410, url
            gone = await mediator.get(f"/v1/calls/{call.call_id}/notes")
            assert gone.status_code == 410 and "73519.25" not in gone.text
        key = await notes.state.notes.store.case_key(case.case_id)
        assert "purged_at" in key and not {"wrapped_key", "nonce", "master_key_id"} & set(key), \
            "the data key is gone: nothing sealed under it can be opened"
