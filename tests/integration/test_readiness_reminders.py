"""On the real stack (Kafka, MongoDB-wire, a real SMTP server and webhook receiver), notes and notify in-process:
readiness reminders 2 days before the session. Notes announces each side's outstanding items when it learns the
case and notify plans a reminder per side; side p1 does every item (its reminder is dropped), p2 one of three; notify
is stopped before the reminder is due, and a new instance on the same database sends it to p2's party (email) and
p2's firm (outbound topic, webhook), listing p2's two items left, and nothing to p1's side; no reminder carries the
other side's data."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

from kafka_helpers import as_record, events_of, produce, wait_for
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CaseOpened
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import Side
from mednet_shared.platform.auth import Role
from receivers import SmtpServer, WebhookReceiver
from sample_cases import submission
from services_harness import client, running, services, settings_for

LEAD = timedelta(seconds=45)  # from the case's opening to its 2-day reminder


def reminders_to(smtp, address: str) -> list:
    return [m for m in smtp.mailbox.to(address) if "still to do" in str(m["Subject"])]


def opened(unique: str, start: datetime) -> tuple[CaseOpened, dict]:
    submitter, firm_a, firm_b = f"firm-s{unique}", f"firm-a{unique}", f"firm-b{unique}"
    document = submission(f"ref-{unique}", mediator_id=f"med-{unique}", tag=unique)
    for party, firm in zip(document["parties"], (firm_a, firm_b)):
        party["attorney"]["firm_id"] = firm
    document["session"].update(start=start.isoformat(), end=(start + timedelta(hours=4)).isoformat())
    now = datetime.now(UTC)
    case = CaseOpened(case_id=f"case-{unique}", firm_id=submitter, participant_firms=[submitter, firm_a, firm_b],
                      sides=[Side(party_id=p, role=r, firm_id=f, status="confirmed", since=now, confirmed_by="firm")
                             for p, r, f in (("p1", "claimant", firm_a), ("p2", "respondent", firm_b))], **document)
    return case, document


async def test_readiness_reminders_survive_a_restart_reach_each_side_only_and_stop_when_done(infrastructure, kafka,
                                                                                           unique):
    firm_a, firm_b, mediator_id = f"firm-a{unique}", f"firm-b{unique}", f"med-{unique}"
    with SmtpServer() as smtp, WebhookReceiver() as hooks:
        settings = settings_for("notify", infrastructure, unique, smtp_port=smtp.port, readiness_sweep_seconds=0.5,
                                webhook_allow_loopback_http=True)
        assert settings.readiness_days == (7, 2)
        async with services(infrastructure, unique, "notes") as apps:
            notes = apps["notes"][0]
            async with running("notify", settings) as notify:
                for firm in (firm_a, firm_b):
                    async with client(notify, Role.FIRM, firm_id=firm) as firm_client:
                        registered = await firm_client.post("/v1/webhooks", json={"url": f"{hooks.url}/ok/{firm}"})
                        assert registered.status_code == 201, registered.text
                start = (datetime.now(UTC) + timedelta(days=2) + LEAD).replace(microsecond=0)
                case, document = opened(unique, start)
                p1_mail, p2_mail = (p["contact"]["email"] for p in document["parties"])
                await produce(kafka, Topics.INTAKE, [as_record(new_event(case, "/mednet/intake",
                                                                         firm_id=case.firm_id))])
                store = notify.state.reminders.readiness

                async def statuses() -> list[tuple[str, int, str]]:
                    return sorted((r.party_id, r.days_before, r.status) for r in await store.reminders_of(
                        case.case_id))

                async def planned() -> bool:
                    return await statuses() == [("p1", 2, "pending"), ("p2", 2, "pending")]
                await wait_for(planned, timeout=40, interval=0.3)  # 7 days before is already past: not planned

                base = f"/v1/cases/{case.case_id}/sides"
                async with client(notes, Role.FIRM, firm_id=firm_a) as a, \
                        client(notes, Role.FIRM, firm_id=firm_b) as b, \
                        client(notes, Role.MEDIATOR, mediator_id=mediator_id) as mediator:
                    for who, path in ((a, "p1/readiness/agreement_signed"), (a, "p1/readiness/attendees_named"),
                                      (mediator, "p1/readiness/authority_confirmed"),
                                      (b, "p2/readiness/agreement_signed")):
                        answer = await who.put(f"{base}/{path}", json={})
                        assert answer.status_code == 200, answer.text

                async def p1_dropped() -> bool:
                    return await statuses() == [("p1", 2, "dropped"), ("p2", 2, "pending")]
                await wait_for(p1_dropped, timeout=40, interval=0.3)
            assert datetime.now(UTC) < start - timedelta(days=2), "notify stopped before the reminder was due"

            async with running("notify", settings, from_now=False) as notify:
                await wait_for(lambda: reminders_to(smtp, p2_mail), timeout=120, interval=0.5)
                store = notify.state.reminders.readiness
                await wait_for(lambda: hooks.to(f"/ok/{firm_b}"), timeout=30, interval=0.3)
                await asyncio.sleep(2)
                final = {r.party_id: r.status for r in await store.reminders_of(case.case_id)}
                assert final == {"p1": "dropped", "p2": "sent"}

    [email] = reminders_to(smtp, p2_mail)
    text = email.get_payload(decode=True).decode()
    assert "who will attend" in text and "settlement authority" in text and "agreement to mediate" not in text
    assert not reminders_to(smtp, p1_mail), "p1 did every item: no reminder"
    [delivery] = [d for d in hooks.to(f"/ok/{firm_b}") if b"ReadinessReminder" in d.body]
    assert not [d for d in hooks.to(f"/ok/{firm_a}") if b"ReadinessReminder" in d.body]
    hooked = json.loads(delivery.body)
    assert hooked["data"]["party_id"] == "p2" and hooked["data"]["outstanding"] == ["attendees_named",
                                                                                    "authority_confirmed"]
    records = await events_of(kafka, Topics.firm_outbound(firm_b), case.case_id, "ReadinessReminder", 1)
    assert len({r.id for r in records}) == 1, "one reminder (a record published again keeps its id)"
    record = records[0]
    assert record.data == hooked["data"] and record.firmid == firm_b
    assert not [e for e in await events_of(kafka, Topics.firm_outbound(firm_a), case.case_id, "ReadinessReminder", 0,
                                           timeout=3) if e.type.endswith("ReadinessReminder.v1")]
    p1_side = ("p1", firm_a, p1_mail, document["parties"][0]["contact"]["name"])
    for seen in (text, delivery.body.decode(), json.dumps(record.model_dump(mode="json"))):
        assert not any(value in seen for value in p1_side if value != "p1") and '"p1"' not in seen, seen
