"""Each side its own, on the real stack: three firms and four parties (firm A submits; A, B and C each represent
one party; the fourth is unrepresented). Every record of every firm's outbound topic, every webhook body, every
email and every HTTP read a firm can make is scanned for any other side's identifiers (names, emails, phones, call
ids, call times): 0 hits. Each firm and each person also receives its own side, so the scan cannot pass empty."""

import asyncio
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from zoneinfo import ZoneInfo

from standardwebhooks import Webhook

from kafka_helpers import as_record, command, events_of, new_topic, produce, read, wait_for
from offers_helpers import choose_first, offer_for
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from receivers import SmtpServer, WebhookReceiver
from sample_cases import submission
from services_harness import client, running, settings_for

ZONES = {"p1": "Europe/London", "p2": "America/Chicago", "p3": "Asia/Tokyo", "p4": "Australia/Sydney"}
ROLES = {"p1": "claimant", "p2": "respondent", "p3": "other", "p4": "other"}


def the_case(unique: str, firms: dict[str, str | None], mediator_id: str) -> dict:
    document = submission(f"neutral-{unique}", parties=2, mediator_id=mediator_id, days_ahead=30)
    document["mediator"]["working_hours"] = [{"day": d, "start": "00:00", "end": "23:59"}
                                             for d in ("mon", "tue", "wed", "thu", "fri")]
    parties = []
    for n, (party_id, firm) in enumerate(firms.items(), start=1):
        party = {"party_id": party_id, "role": ROLES[party_id], "time_zone": ZONES[party_id],
                 "contact": {"name": f"Person{party_id.upper()} Zq{unique}", "email": f"{party_id}-{unique}@side.example",
                             "phone": f"+1555{unique[:3]}{n}{n}{n}{n}"},
                 "availability": [{"day": d, "start": "00:00", "end": "23:59"}
                                  for d in ("mon", "tue", "wed", "thu", "fri")]}
        if firm:
            party["attorney"] = {"firm_id": firm, "name": f"Counsel{party_id.upper()} Zq{unique}",
                                 "email": f"counsel-{party_id}-{unique}@{firm}.example", "time_zone": ZONES[party_id]}
        parties.append(party)
    document["parties"] = parties
    return document


def instants(start: datetime) -> set[str]:
    utc = start.astimezone(UTC)
    return {utc.isoformat(), utc.isoformat().replace("+00:00", "Z"), utc.strftime("%Y%m%dT%H%M%SZ")}


def local_forms(start: datetime, zones: set[str]) -> set[str]:
    return {start.astimezone(ZoneInfo(zone)).strftime("%Y%m%dT%H%M%S") for zone in zones}


def side_identifiers(party: dict, call) -> set[str]:
    found = {party["contact"]["name"], party["contact"]["email"], party["contact"]["phone"]}
    if party.get("attorney"):
        found |= {party["attorney"]["name"], party["attorney"]["email"]}
    if call is not None:
        found |= {call.call_id} | instants(call.start) | instants(call.end)
    return found


def hits(blob: bytes, forbidden: set[str]) -> list[str]:
    text = blob.decode(errors="replace")
    return sorted(item for item in forbidden if item in text)


async def test_no_side_sees_another_sides_data(infrastructure, kafka, unique):
    firm_a, firm_b, firm_c, mediator_id = f"firm-a{unique}", f"firm-b{unique}", f"firm-c{unique}", f"med-{unique}"
    owner = {"p1": firm_a, "p2": firm_b, "p3": firm_c, "p4": None}
    document = the_case(unique, owner, mediator_id)
    parties = {p["party_id"]: p for p in document["parties"]}
    for firm in (firm_a, firm_b, firm_c):
        await new_topic(kafka, Topics.firm_inbound(firm))

    with SmtpServer() as smtp, WebhookReceiver() as hooks:
        settings = {name: settings_for(name, infrastructure, unique) for name in ("intake", "scheduling", "notes")}
        settings["notify"] = settings_for("notify", infrastructure, unique, smtp_port=smtp.port,
                                          webhook_allow_loopback_http=True)
        async with running("intake", settings["intake"]) as intake, \
                running("scheduling", settings["scheduling"]) as scheduling, \
                running("notes", settings["notes"]) as notes, \
                running("notify", settings["notify"]) as notify:
            secrets, reads = {}, {firm: [] for firm in (firm_a, firm_b, firm_c)}
            for firm in reads:
                async with client(notify, Role.FIRM, firm_id=firm) as firm_client:
                    registered = await firm_client.post("/v1/webhooks", json={"url": f"{hooks.url}/ok/{firm}"})
                    assert registered.status_code == 201, registered.text
                    secrets[firm] = registered.json()["secret"]

            async with client(intake, Role.FIRM, firm_id=firm_a) as a:
                created = await a.post("/v1/cases", json=document)
                assert created.status_code == 201, created.text
                case_id = created.json()["case_id"]
                reads[firm_a].append(created.content)

            async with client(intake, Role.FIRM, firm_id=firm_b) as b:
                before = await b.get(f"/v1/cases/{case_id}")
                reads[firm_b].append(before.content)
            accept = command({"case_id": case_id, "party_id": "p2"}, "mednet.AcceptRepresentation.v1")
            await produce(kafka, Topics.firm_inbound(firm_b), [as_record(accept)])
            async with client(intake, Role.FIRM, firm_id=firm_c) as c:
                accepted = await c.post(f"/v1/cases/{case_id}/sides/p3/accept", json={})
                assert accepted.status_code == 200, accepted.text
                reads[firm_c].append(accepted.content)
            async with client(intake, Role.MEDIATOR, mediator_id=mediator_id) as the_mediator:
                confirmed = await the_mediator.post(f"/v1/cases/{case_id}/sides/p4/confirm", json={})
                assert confirmed.status_code == 200, confirmed.text

            # each side chooses its offered slot: its firm on Kafka; the unrepresented p4's the mediator over HTTP
            for party_id, firm in (("p1", firm_a), ("p2", firm_b), ("p3", firm_c)):
                await choose_first(kafka, firm, case_id, party_id)
            offer = await offer_for(kafka, case_id, "p4")
            async with client(scheduling, Role.MEDIATOR, mediator_id=mediator_id) as the_mediator:
                chosen = await the_mediator.post(f"/v1/offers/{offer.offer_id}/choose",
                                                 json={"slot_id": offer.slots[0].slot_id})
                assert chosen.status_code == 200, chosen.text
            scheduled = {e.payload().party_id: e.payload()
                         for e in await events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 4, timeout=60)
                         if e.payload().booked_by != "system"}
            assert set(scheduled) == {"p1", "p2", "p3", "p4"}

            await _quiet(kafka, Topics.SCHEDULING, case_id)
            scheduler = scheduling.state.scheduler
            async with client(scheduling, Role.MEDIATOR, mediator_id=mediator_id) as the_mediator:
                for call in scheduled.values():
                    scheduler.clock = lambda end=call.end: end + timedelta(minutes=1)
                    done = await the_mediator.post(f"/v1/calls/{call.call_id}/complete")
                    assert done.status_code == 200, done.text
            async with client(notes, Role.MEDIATOR, mediator_id=mediator_id) as the_mediator:
                for party_id, call in scheduled.items():
                    objectives = [{"issue": "apology", "wants": f"wants-{party_id}-{unique}", "priority": 1}]
                    await wait_for(lambda: _saved(the_mediator, call.call_id, objectives), timeout=30)
            await events_of(kafka, Topics.NOTES, case_id, "ObjectivesRecorded", 4)
            await events_of(kafka, Topics.SCHEDULING, case_id, "PreMediationCompleted", 1)

            for firm in reads:
                async with client(intake, Role.FIRM, firm_id=firm) as f:
                    reads[firm].append((await f.get(f"/v1/cases/{case_id}")).content)
                async with client(scheduling, Role.FIRM, firm_id=firm) as f:
                    reads[firm].append((await f.get(f"/v1/cases/{case_id}/calls")).content)
                async with client(notify, Role.FIRM, firm_id=firm) as f:
                    reads[firm].append((await f.get("/v1/notifications", params={"case_id": case_id})).content)
                async with client(notes, Role.FIRM, firm_id=firm) as f:
                    for call in scheduled.values():
                        answer = await f.get(f"/v1/calls/{call.call_id}/notes")
                        assert answer.status_code in (403, 404), answer.text
                        reads[firm].append(answer.content)
                    reads[firm].append((await f.get(f"/v1/cases/{case_id}/brief")).content)

            own_outbound = {firm: [] for firm in reads}

            async def settled() -> bool:
                for firm in reads:
                    own_outbound[firm] = await read(kafka, Topics.firm_outbound(firm), 10**6, timeout=1.5)
                return all(scheduled[p].call_id.encode() in b"".join(r.value for r in own_outbound[firm])
                           for p, firm in owner.items() if firm)

            await wait_for(settled, timeout=60, interval=1)
            await asyncio.sleep(3)
            await settled()

    expected_mail = {parties[p]["contact"]["email"] for p in parties}
    received = {m.recipient for m in _mails(smtp)}
    assert expected_mail <= received, f"no mail for {expected_mail - received}"

    identifiers = {p: side_identifiers(parties[p], scheduled[p]) for p in parties}
    zones = set(ZONES.values()) | {document["mediator"]["time_zone"], "UTC"}
    for p in parties:
        identifiers[p] |= local_forms(scheduled[p].start, zones)

    def forbidden_for(own: set[str]) -> set[str]:
        allowed = set().union(*(identifiers[p] for p in own))
        return set().union(*(identifiers[p] for p in parties if p not in own)) - allowed

    leaks = {}
    for firm in reads:
        own = {p for p, f in owner.items() if f == firm}
        forbidden = forbidden_for(own)
        channels = {
            "outbound topic": b"\n".join(r.value + b"".join(v for _, v in r.headers) for r in own_outbound[firm]),
            "webhooks": b"\n".join(_verified(d, secrets[firm]) for d in hooks.to(f"/ok/{firm}")),
            "HTTP reads": b"\n".join(reads[firm]),
        }
        assert scheduled[next(iter(own))].call_id.encode() in channels["webhooks"], f"{firm} got no own call"
        for channel, blob in channels.items():
            if found := hits(blob, forbidden):
                leaks[f"{firm} {channel}"] = found
        types = {CloudEvent.from_bytes(r.value).type for r in own_outbound[firm]}
        assert "mednet.CallScheduled.v1" in types and types & {"mednet.CaseOpened.v1", "mednet.CaseUpdated.v1"}, types

    people = {email: p for p in parties for email in (parties[p]["contact"]["email"],
                                                      parties[p].get("attorney", {}).get("email"))}
    for mail in _mails(smtp):
        p = people.get(mail.recipient)
        if p is None:
            continue
        if found := hits(mail.raw, forbidden_for({p})):
            leaks[f"email to {mail.recipient} ({mail.subject})"] = found
    assert leaks == {}, leaks


async def _quiet(kafka: str, topic: str, case_id: str) -> None:
    """Until the case's records on the topic stop growing (2 s without a new one)."""
    seen = -1
    while True:
        count = sum(r.key == case_id.encode() for r in await read(kafka, topic, 10**6, timeout=1))
        if count == seen:
            return
        seen = count
        await asyncio.sleep(2)


def _verified(delivery, secret: str) -> bytes:
    Webhook(secret).verify(delivery.body, delivery.headers)
    return delivery.body


async def _saved(the_mediator, call_id: str, objectives: list[dict]) -> bool:
    saved = await the_mediator.put(f"/v1/calls/{call_id}/notes", json={"objectives": objectives})
    return saved.status_code == 200


class _Mail:
    def __init__(self, recipient: str, raw: bytes) -> None:
        self.recipient, self.raw = recipient, raw
        self.subject = str(BytesParser(policy=policy.default).parsebytes(raw)["Subject"])


def _mails(smtp: SmtpServer) -> list[_Mail]:
    found = []
    for raw in smtp.mailbox.raw:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        found += [_Mail(str(address.addr_spec).lower(), raw) for address in message["To"].addresses]
    return found
