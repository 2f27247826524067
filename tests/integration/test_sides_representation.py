"""Sides on the real broker and database, three firms: A submits naming B for the respondent; B sees nothing of A's
party, A sees B's side only as awaiting; B accepts by Kafka (one case) and over HTTP (another); a stranger C that
accepts, declines or changes availability hears why on its own outbound topic, and nothing of a side reaches a
firm that is not its own."""

import asyncio
import json

from kafka_helpers import as_record, command, new_topic, produce, read, wait_for
from mednet_intake.domain import case_id_for
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from receivers import SmtpServer
from sample_cases import hours, submission, variant
from services_harness import client, services

CORRECTED = "respondent-direct-{unique}@example.org"


def case_for(reference: str, a: str, b: str, mediator: str) -> dict:
    document = submission(reference, parties=2, mediator_id=mediator)
    document = variant(document, "parties.0.attorney.firm_id", a)
    return variant(document, "parties.1.attorney.firm_id", b)


async def events(kafka: str, topic: str) -> list[CloudEvent]:
    return [CloudEvent.from_bytes(r.value) for r in await read(kafka, topic, 10**6, timeout=1.5)]


async def test_three_firms_each_see_and_change_only_their_own_side(infrastructure, kafka, unique):
    a, b, c, mediator = f"firm-a{unique}", f"firm-b{unique}", f"firm-c{unique}", f"med-{unique}"
    for firm in (a, b, c):
        await new_topic(kafka, Topics.firm_inbound(firm))
    with SmtpServer() as smtp:
        async with services(infrastructure, unique, "intake", "notify",
                            overrides={"notify": {"smtp_port": smtp.port}}) as apps:
            intake = apps["intake"][0]
            async with client(intake, Role.FIRM, firm_id=a) as as_a, client(intake, Role.FIRM, firm_id=b) as as_b, \
                    client(intake, Role.FIRM, firm_id=c) as as_c:
                by_kafka = (await as_a.post("/v1/cases", json=case_for(f"k-{unique}", a, b, mediator))).json()
                by_http = (await as_a.post("/v1/cases", json=case_for(f"h-{unique}", a, b, mediator))).json()
                first, second = by_kafka["case_id"], by_http["case_id"]

                seen_by_b = (await as_b.get(f"/v1/cases/{first}")).json()
                assert seen_by_b["parties"] == [] and seen_by_b["pending"][0]["party_id"] == "p2"
                assert "p1@parties.example.org" not in json.dumps(seen_by_b) and "title" not in seen_by_b
                seen_by_a = (await as_a.get(f"/v1/cases/{first}")).json()
                assert [p["party_id"] for p in seen_by_a["parties"]] == ["p1"]
                assert {s["party_id"]: s["status"] for s in seen_by_a["sides"]} == {
                    "p1": "confirmed", "p2": "awaiting_confirmation"}
                assert (await as_c.get(f"/v1/cases/{first}")).status_code == 404

                correction = {"contact": {"name": "Respondent", "email": CORRECTED.format(unique=unique)}}
                accept = command({"case_id": first, "party_id": "p2", **correction},
                                 "mednet.AcceptRepresentation.v1", "b-accept-1")
                await produce(kafka, Topics.firm_inbound(b), [as_record(accept)])
                accepted = await as_b.post(f"/v1/cases/{second}/sides/p2/accept", json=correction)
                assert accepted.status_code == 200, accepted.text

                async def confirmed() -> bool:
                    view = (await as_b.get(f"/v1/cases/{first}")).json()
                    return [p["party_id"] for p in view.get("parties", [])] == ["p2"]

                await wait_for(confirmed, timeout=30, interval=0.3)
                for case in (first, second):
                    mine = (await as_b.get(f"/v1/cases/{case}")).json()
                    assert [p["party_id"] for p in mine["parties"]] == ["p2"]
                    assert "p1@parties.example.org" not in json.dumps(mine)
                    theirs = json.dumps((await as_a.get(f"/v1/cases/{case}")).json())
                    assert CORRECTED.format(unique=unique) not in theirs and '"confirmed"' in theirs

                wrong = [
                    command({"case_id": first, "party_id": "p2"}, "mednet.AcceptRepresentation.v1", "c-accept"),
                    command({"case_id": first, "party_id": "p2"}, "mednet.DeclineRepresentation.v1", "c-decline"),
                    command({"case_id": first, "party_id": "p2", "availability": hours("10:00", "11:00")},
                            "mednet.UpdatePartyAvailability.v1", "c-availability"),
                    command({"case_id": first, "party_id": "p2", "typo": 1}, "mednet.AcceptRepresentation.v1",
                            "c-invalid"),
                ]
                await produce(kafka, Topics.firm_inbound(c), [as_record(e) for e in wrong])
                a_moves_b = command({"case_id": first, "party_id": "p2", "availability": hours("10:00", "11:00")},
                                    "mednet.UpdatePartyAvailability.v1", "a-availability")
                await produce(kafka, Topics.firm_inbound(a), [as_record(a_moves_b)])
                assert (await as_a.put(f"/v1/cases/{first}/parties/p2/availability",
                                       json={"availability": hours("10:00", "11:00")})).status_code == 409

            answered: dict[str, CloudEvent] = {}

            async def all_answered() -> bool:
                for event in await events(kafka, Topics.firm_outbound(c)) + await events(kafka,
                                                                                         Topics.firm_outbound(a)):
                    if event.type == "mednet.CommandRejected.v1":
                        answered[event.data["command_id"]] = event
                return len(answered) == 5

            await wait_for(all_answered, timeout=40, interval=0.5)
            assert {k: v.data["firm_id"] for k, v in answered.items()} == {
                "c-accept": c, "c-decline": c, "c-availability": c, "c-invalid": c, "a-availability": a}
            assert answered["c-invalid"].data["dead_letter_topic"] == Topics.dead_letter(Topics.firm_inbound(c))
            assert answered["c-invalid"].data["reasons"][0]["field"] == "typo"
            assert "not the confirmed firm of party p2" in answered["a-availability"].data["reasons"][0]["message"]
            assert all(v.data["dead_letter_topic"] is None for k, v in answered.items() if k != "c-invalid")
            dead = await read(kafka, Topics.dead_letter(Topics.firm_inbound(c)), 10, timeout=5)
            assert len(dead) == 1, "a rule refusal is answered, not dead-lettered"

            intake_events = await events(kafka, Topics.INTAKE)
            asked = [e for e in intake_events if e.type == "mednet.RepresentationRequested.v1"
                     and e.subject in (first, second)]
            assert sorted((e.data["firm_id"], e.data["party_id"]) for e in asked) == [(b, "p2"), (b, "p2")]
            await asyncio.sleep(2)   # let notify forward what it will
            outbound = {firm: json.dumps([e.model_dump(mode="json") for e in await events(
                kafka, Topics.firm_outbound(firm))]) for firm in (a, b, c)}
            assert "p1@parties.example.org" not in outbound[b] + outbound[c]
            assert "counsel-p1@" not in outbound[b] + outbound[c]
            assert CORRECTED.format(unique=unique) not in outbound[a] + outbound[c]
            assert "RepresentationRequested" in outbound[b] and "RepresentationRequested" not in outbound[a]
            assert case_id_for(a, f"k-{unique}") == first
