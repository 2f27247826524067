"""Issue 18 with all four services on the real stack, a real SMTP sink and a webhook receiver: two sides each send a
statement (one over HTTP with two documents, one on its firm's inbound topic), choose their calls, and the mediator
records notes and objectives with words and amounts. The mediator reads everything; nothing else does: no byte of
statement or document text, no objective's words and no amount is on any service or firm outbound topic, in any
webhook body or email, in any log line, or in the raw notes and notify databases. After a purge none of it can be
read, and the sealed statements and document files are gone from the database."""

import asyncio
import base64
import logging
import struct
import uuid

import bson
from kafka_helpers import as_record, command, events_of, new_topic, produce, read, wait_for
from mednet_notes.domain.case import NotesPurged
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from mednet_shared.platform.mongo import make_client
from offers_helpers import choose_first
from receivers import SmtpServer, WebhookReceiver
from sample_cases import accept_representation, submission
from services_harness import all_four, client, register_webhooks

RUN = uuid.uuid4().hex[:10]  # the markers are this run's own: earlier runs' records stay on the shared topics
STATEMENT = {"interests": f"stmt-interest-the-harbour-berth-{RUN}", "concerns": f"stmt-concern-night-shift-{RUN}",
             "desired_outcomes": f"stmt-outcome-a-second-crane-{RUN}", "questions": f"stmt-question-who-signs-{RUN}"}
BY_COMMAND = f"stmt-by-command-the-silo-lease-{RUN}"
DOC_ONE = f"doc-one-body-the-tally-sheets-{RUN} ".encode() * 40
DOC_TWO = f"doc-two-body-the-crane-photos-{RUN}".encode()
WORDS = {"p1": f"wants-words-settle-for-the-berth-{RUN}", "p2": f"wants-words-no-second-crane-{RUN}"}
AMOUNTS = (70000 + int(RUN[:4], 16) % 9999 + 0.25, 80000 + int(RUN[4:8], 16) % 9999 + 0.5)
OBSERVATION = f"observation-the-foreman-is-afraid-{RUN}"


def objectives(party_id: str, amount: float) -> list[dict]:
    return [{"issue": "payment_amount", "wants": WORDS[party_id], "priority": 1, "stance": "wants",
             "amount": {"minimum": amount, "currency": "EUR"}},
            {"issue": "confidentiality", "wants": f"{WORDS[party_id]}-quiet", "priority": 2, "shareable": True}]


def secrets() -> list[bytes]:
    texts = [*STATEMENT.values(), BY_COMMAND, *WORDS.values(), OBSERVATION, *(f"{a:.2f}".rstrip("0") for a in AMOUNTS)]
    return [t.encode() for t in texts] + [DOC_ONE[:41], DOC_TWO, base64.b64encode(DOC_ONE)[:56],
                                          base64.b64encode(DOC_TWO)[:56]]


def packed(amount: float) -> bytes:
    """An amount as BSON stores a double."""
    return struct.pack("<d", amount)


async def raw_database(infrastructure, name: str) -> tuple[bytes, dict[str, int]]:
    """Every document of every collection of the database (GridFS files and chunks included) as raw BSON, and how
    many documents each collection holds."""
    mongo = make_client(infrastructure.mongodb_url, app_name="mednet-tests")
    try:
        db, dumped, counts = mongo[name], [], {}
        for collection in await db.list_collection_names():
            documents = await db[collection].find({}).to_list()
            counts[collection] = len(documents)
            dumped += [bson.encode(document) for document in documents]
        return b"".join(dumped), counts
    finally:
        await mongo.close()


async def accept_sides(kafka: str, intake, case_id: str, submitter: str) -> None:
    async with client(intake, Role.FIRM, firm_id=submitter) as firm_client:
        sides = (await firm_client.get(f"/v1/cases/{case_id}")).json()["sides"]
    for side in sides:
        if side["status"] == "awaiting_confirmation":
            accepted = accept_representation(side["firm_id"], case_id, side["party_id"])
            await produce(kafka, Topics.firm_inbound(side["firm_id"]), [as_record(accepted)])


RECEIPTS = {"mednet.ObjectivesRecorded.v1", "mednet.StatementReceived.v1"}


def delivered_types(hooks, firm: str) -> set[str]:
    return {t for d in hooks.to(f"/ok/{firm}") for t in RECEIPTS if t.encode() in d.body}


async def test_nothing_of_a_statement_a_document_or_an_objective_leaves_notes_readable_and_a_purge_ends_it(
        infrastructure, kafka, unique, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="aiokafka")  # its DEBUG is the wire protocol: every topic's metadata
    submitter, mediator_id = f"firm-s{unique}", f"med-{unique}"
    firms = {"p1": f"firm-a{unique}", "p2": f"firm-b{unique}"}
    document = submission(f"seal-{unique}", mediator_id=mediator_id, tag=unique)
    for party in document["parties"]:
        party["attorney"]["firm_id"] = firms[party["party_id"]]
    for firm in (submitter, *firms.values()):
        await new_topic(kafka, Topics.firm_inbound(firm))
    with SmtpServer() as smtp, WebhookReceiver() as hooks:
        async with all_four(infrastructure, unique, smtp.port) as apps:
            intake, notes, notify = apps["intake"], apps["notes"], apps["notify"]
            await register_webhooks(notify, hooks.url, (submitter, *firms.values()))
            async with client(intake, Role.FIRM, firm_id=submitter) as firm_client:
                created = await firm_client.post("/v1/cases", json=document)
                assert created.status_code == 201, created.text
                case_id = created.json()["case_id"]
            await accept_sides(kafka, intake, case_id, submitter)
            for party_id, firm in firms.items():
                await choose_first(kafka, firm, case_id, party_id)
            calls = {e.payload().party_id: e.payload()
                     for e in await events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 2, timeout=90)}

            async def notes_knows() -> bool:
                state = await notes.state.notes.store.case(case_id)
                return bool(state and len(state.calls) == 2 and all(p.confirmed for p in state.parties))

            await wait_for(notes_knows, timeout=90, interval=0.3)
            statement = {**STATEMENT, "documents": [
                {"title": "Tally sheets", "kind": "evidence", "content_base64": base64.b64encode(DOC_ONE).decode()},
                {"title": "Crane photos", "kind": "evidence", "content_base64": base64.b64encode(DOC_TWO).decode()}]}
            async with client(notes, Role.FIRM, firm_id=firms["p1"]) as own:
                sent = await own.post(f"/v1/cases/{case_id}/sides/p1/statement", json=statement)
                assert sent.status_code == 201, sent.text
            documents = [d["document_id"] for d in sent.json()["documents"]]
            by_command = command({"case_id": case_id, "party_id": "p2", "interests": BY_COMMAND},
                                 "mednet.SubmitStatement.v1")
            await produce(kafka, Topics.firm_inbound(firms["p2"]), [as_record(by_command)])
            await events_of(kafka, Topics.NOTES, case_id, "StatementReceived", 2, timeout=90)

            async with client(notes, Role.MEDIATOR, mediator_id=mediator_id) as mediator:
                for (party_id, call), amount in zip(sorted(calls.items()), AMOUNTS, strict=True):
                    body = {"observations": {"concerns": OBSERVATION}, "objectives": objectives(party_id, amount)}
                    saved = await mediator.put(f"/v1/calls/{call.call_id}/notes", json=body)
                    assert saved.status_code == 200, saved.text
                brief = (await mediator.get(f"/v1/cases/{case_id}/brief")).json()
                read_back = (await mediator.get(f"/v1/cases/{case_id}/sides/p1/statement")).json()
                by_kafka = (await mediator.get(f"/v1/cases/{case_id}/sides/p2/statement")).json()
                file_one = (await mediator.get(f"/v1/cases/{case_id}/documents/{documents[0]}")).content
            # the mediator, and only the mediator, reads it all
            assert {p["wants"] for row in brief["issues"] for p in row["positions"]} >= set(WORDS.values())
            assert {p["amount"]["minimum"] for row in brief["issues"] for p in row["positions"] if p["amount"]} == \
                set(AMOUNTS)
            assert read_back["interests"] == STATEMENT["interests"] and by_kafka["interests"] == BY_COMMAND
            assert file_one == DOC_ONE

            await events_of(kafka, Topics.NOTES, case_id, "ObjectivesRecorded", 2, timeout=90)
            await events_of(kafka, Topics.NOTES, case_id, "BriefReady", 1, timeout=90)
            for party_id, firm in firms.items():
                await wait_for(lambda: delivered_types(hooks, firm) == RECEIPTS, timeout=90, interval=0.5)
                for attendee in (a for a in calls[party_id].attendees if a.kind in ("party", "attorney")):
                    await wait_for(lambda: any("objectives" in m["Subject"].lower()
                                               for m in smtp.mailbox.to(attendee.email)), timeout=90, interval=0.5)
            confirmation = next(m for m in smtp.mailbox.messages if "objectives" in m["Subject"].lower())
            text = "".join(p.get_payload(decode=True).decode() for p in confirmation.walk()
                           if p.get_content_maintype() == "text")
            assert "Payment amount (priority 1)" in text and "Confidentiality (priority 2)" in text
            await asyncio.sleep(2)   # anything still on its way is in the scan

            seen = b"".join(smtp.mailbox.raw) + b"".join(d.body for d in hooks.deliveries)
            outbound = (Topics.INTAKE, Topics.SCHEDULING, Topics.NOTES, Topics.NOTIFY,
                        *(Topics.firm_outbound(f) for f in (submitter, *firms.values())))
            for topic in outbound:
                seen += b"".join(r.value + b"".join(v for _, v in r.headers)
                                 for r in await read(kafka, topic, 10**6, timeout=2))
            databases = {name: apps[name].state.runtime.settings.mongodb_database for name in ("notes", "notify")}
            raw = {name: (await raw_database(infrastructure, db))[0] for name, db in databases.items()}
            logs = "\n".join(r.getMessage() for r in caplog.records).encode()
            logs += "".join(capfd.readouterr()).encode()
            for secret in secrets():
                assert secret not in seen, secret
                assert secret not in logs, secret
                for name, dumped in raw.items():
                    assert secret not in dumped, (name, secret)
            for amount in AMOUNTS:
                assert all(packed(amount) not in dumped for dumped in raw.values()), amount
            _, before = await raw_database(infrastructure, databases["notes"])
            assert before["statements"] == 2 and before["documents.files"] == 2 and before["documents.chunks"] >= 2

            async with client(notes, Role.OPERATOR) as operator, \
                    client(notes, Role.MEDIATOR, mediator_id=mediator_id) as mediator:
                purged = await operator.post(f"/v1/cases/{case_id}/notes/purge")
                assert purged.status_code == 200, purged.text
                assert purged.json()["deleted_statements"] == 2 and purged.json()["deleted_documents"] == 2
                urls = [f"/v1/cases/{case_id}/brief", f"/v1/cases/{case_id}/sides/p1/statement",
                        f"/v1/cases/{case_id}/sides/p2/statement",
                        *(f"/v1/cases/{case_id}/documents/{d}" for d in documents),
                        *(f"/v1/calls/{c.call_id}/notes" for c in calls.values()),
                        *(f"/v1/calls/{c.call_id}/preparation" for c in calls.values())]
                for url in urls:
                    answer = await mediator.get(url)
                    assert answer.status_code == 410, (url, answer.status_code)
                    assert not any(s in answer.content for s in secrets()), url
            state = await notes.state.notes.store.case(case_id)
            for party_id in firms:
                try:
                    await notes.state.notes.opened_objectives(state, party_id)
                    raise AssertionError(f"{party_id}'s sealed terms still open")
                except NotesPurged:
                    pass
            dumped, after = await raw_database(infrastructure, databases["notes"])
            assert after.get("statements", 0) == 0 and after.get("documents.files", 0) == 0 \
                and after.get("documents.chunks", 0) == 0, after
            key = await notes.state.notes.store.case_key(case_id)
            assert "purged_at" in key and not {"wrapped_key", "nonce", "master_key_id"} & set(key)
            assert not any(s in dumped for s in secrets())
