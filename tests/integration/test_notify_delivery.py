"""notify on the real broker and database, a real SMTP server and a real webhook receiver: invitations follow
the call through reschedule and cancel, reminders move with it, preferences are honoured, and a failing webhook
endpoint is retried with backoff, every attempt recorded, then disabled."""

import asyncio
from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from kafka_helpers import as_record, events_of, produce, read, wait_for
from mednet_shared.contracts.envelope import CloudEvent, new_event
from mednet_shared.contracts.events import CallCancelled, CallRescheduled, CallScheduled, CaseRejected
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from receivers import SmtpServer, WebhookReceiver
from services_harness import client, running, settings_for


def people(unique: str) -> list[dict]:
    return [{"kind": "party", "name": "Pat", "email": f"pat-{unique}@example.org", "time_zone": "Asia/Kolkata",
             "firm_id": f"firm-a{unique}"},
            {"kind": "attorney", "name": "Ann", "email": f"ann-{unique}@example.org", "time_zone": "Europe/London",
             "firm_id": f"firm-a{unique}"},
            {"kind": "mediator", "name": "Max", "email": f"max-{unique}@example.org", "time_zone": "America/New_York"}]


def invites(smtp, address: str) -> list[tuple[str, int]]:
    found = []
    for message in smtp.mailbox.to(address):
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                calendar = Calendar.from_ical(part.get_payload(decode=True))
                event = calendar.walk("VEVENT")[0]
                found.append((str(calendar["METHOD"]), int(event["SEQUENCE"])))
    return found


async def test_invites_and_reminders_follow_the_call_and_preferences_are_honoured(infrastructure, kafka, unique):
    with SmtpServer() as smtp:
        settings = settings_for("notify", infrastructure, unique, smtp_port=smtp.port)
        async with running("notify", settings) as notify:
            jobs = notify.state.notifier.store.jobs
            async with client(notify, Role.OPERATOR) as operator:
                saved = await operator.put(f"/v1/preferences/ann-{unique}@example.org", json={"reminders": False})
                assert saved.status_code == 200 and saved.json()["reminders"] is False
            start = datetime.now(UTC) + timedelta(days=3)
            base = dict(call_id=f"case-{unique}:p1", case_id=f"case-{unique}", party_id="p1", mediator_id="m",
                        attendees=people(unique), participant_firms=[f"firm-a{unique}"])
            scheduled = CallScheduled(sequence=0, start=start, end=start + timedelta(minutes=45), **base)
            later = start + timedelta(days=1)
            moved = CallRescheduled(sequence=1, start=later, end=later + timedelta(minutes=45), previous_start=start,
                                    reason="asked", **base)
            await produce(kafka, Topics.SCHEDULING, [as_record(new_event(scheduled, source="/tests"))])
            await wait_for(lambda: len(invites(smtp, f"max-{unique}@example.org")) == 1, timeout=30)
            reminders = await jobs.find({"call_id": base["call_id"], "purpose": "reminder"}).to_list()
            assert sorted(r["recipient"] for r in reminders) == sorted(
                [f"pat-{unique}@example.org", f"max-{unique}@example.org"] * 2), "Ann opted out of reminders"

            await produce(kafka, Topics.SCHEDULING, [as_record(new_event(moved, source="/tests"))])
            await wait_for(lambda: len(invites(smtp, f"max-{unique}@example.org")) == 2, timeout=30)
            assert await jobs.count_documents({"call_id": base["call_id"], "sequence": 0, "status": "dropped"}) == 4
            assert await jobs.count_documents({"call_id": base["call_id"], "sequence": 1, "status": "pending"}) == 4

            cancelled = CallCancelled(sequence=2, reason="settled", **base)
            await produce(kafka, Topics.SCHEDULING, [as_record(new_event(cancelled, source="/tests"))])
            await wait_for(lambda: len(invites(smtp, f"pat-{unique}@example.org")) == 3, timeout=30)
            assert await jobs.count_documents({"call_id": base["call_id"], "status": "pending"}) == 0
        for address in (f"pat-{unique}@example.org", f"ann-{unique}@example.org", f"max-{unique}@example.org"):
            assert invites(smtp, address) == [("REQUEST", 0), ("REQUEST", 1), ("CANCEL", 2)], address


async def test_a_failing_webhook_is_retried_with_backoff_recorded_and_disabled(infrastructure, kafka, unique):
    firm = f"firm-{unique}"
    with SmtpServer() as smtp, WebhookReceiver() as hooks:
        settings = settings_for("notify", infrastructure, unique, smtp_port=smtp.port, delivery_max_attempts=3,
                                delivery_backoff_seconds=0.2, webhook_disable_after=3,
                                webhook_allow_loopback_http=True)
        async with running("notify", settings) as notify:
            async with client(notify, Role.FIRM, firm_id=firm) as firm_client:
                endpoint = (await firm_client.post("/v1/webhooks", json={"url": f"{hooks.url}/fail/{firm}"})).json()
                bad = await firm_client.post("/v1/webhooks", json={"url": "not a url"})
                assert bad.status_code == 422
            opened = CaseRejected(case_id=f"case-{unique}", firm_id=firm, external_ref=f"hook-{unique}",
                                  reasons=[{"field": "", "message": "an event the scheduling service ignores"}])
            await produce(kafka, Topics.INTAKE, [as_record(new_event(opened, source="/tests"))])
            failed = await events_of(kafka, Topics.NOTIFY, f"case-{unique}", "NotificationFailed", 1)
            assert failed[0].payload().attempts == 3 and "HTTP 500" in failed[0].payload().error
            job = await notify.state.notifier.store.jobs.find_one({"endpoint_id": endpoint["endpoint_id"]})
            times = [attempt["at"] for attempt in job["attempts"]]
            assert len(times) == 3 and all(not a["ok"] for a in job["attempts"])
            assert all((b - a).total_seconds() >= 0.09 for a, b in zip(times, times[1:])), "retried after a backoff"
            async with client(notify, Role.FIRM, firm_id=firm) as firm_client:
                listed = (await firm_client.get("/v1/webhooks")).json()
            assert listed[0]["enabled"] is False and listed[0]["consecutive_failures"] >= 3
        assert len(hooks.to("/fail/")) == 3
        assert all(d.headers.get("webhook-signature", "").startswith("v1,") for d in hooks.to("/fail/"))


async def test_three_firms_four_parties_each_firm_and_person_gets_its_own_side_only(infrastructure, kafka, unique):
    """The real broker, database, SMTP server and webhook receiver: every record on each firm's outbound topic,
    every webhook body and every email carries nothing of another side (names, emails, phones, call ids, times,
    places, objectives); each side's own records do carry its own."""
    from unit.notify import test_visibility as case

    case_id = f"case-{unique}"

    def here(message):  # the unit test's case, under this run's case id
        return type(message).model_validate_json(message.model_dump_json().replace("case-1", case_id))

    def markers(party_id: str) -> list[str]:
        return [m.replace("case-1", case_id) for m in case.markers(party_id)]

    rejected = case.CommandRejected(firm_id="firm-a", command_id=f"cmd-{unique}", case_id=case_id,
                                    command_type="mednet.RequestReschedule.v1", rejected_at=case.NOW,
                                    reasons=[{"field": "party_id", "message": "not your side"}])
    request = case.RepresentationRequested(case_id=case_id, firm_id="firm-b", party_id="p4", role="other",
                                           party_name="Partyname4 Zed", mediator_name="Ada Mediator",
                                           session=case.CASE_OPENED.session, requested_at=case.NOW)
    scheduling = [here(case.scheduled(p)) for p in ("p1", "p2", "p3")]
    offer, cancelled = here(case.per_side_events("p2")[0]), here(case.per_side_events("p2")[3])
    completed = here(case.per_side_events("p1")[4])
    objectives = here(case.per_side_events("p3")[8])
    expected_hooks = {"firm-s": 3, "firm-a": 5, "firm-b": 4}
    with SmtpServer() as smtp, WebhookReceiver() as hooks:
        settings = settings_for("notify", infrastructure, unique, smtp_port=smtp.port,
                                webhook_allow_loopback_http=True)
        async with running("notify", settings) as notify:
            for firm in case.FIRMS:
                async with client(notify, Role.FIRM, firm_id=firm) as firm_client:
                    registered = await firm_client.post("/v1/webhooks", json={"url": f"{hooks.url}/ok/{firm}"})
                    assert registered.status_code == 201
            produced: set[str] = set()

            def records(*messages):
                events = [new_event(m, source="/tests") for m in messages]
                produced.update(e.id for e in events)
                return [as_record(e) for e in events]

            await produce(kafka, Topics.INTAKE, records(here(case.CASE_OPENED)))
            await wait_for(lambda: len(hooks.to("/ok/")) >= 3, timeout=30)
            await produce(kafka, Topics.SCHEDULING, records(offer, *scheduling, completed, cancelled))
            await produce(kafka, Topics.NOTES, records(objectives))
            await produce(kafka, Topics.INTAKE, records(rejected, request))
            await wait_for(lambda: all(len(hooks.to(f"/ok/{f}")) >= count
                                       for f, count in expected_hooks.items()), timeout=40)
            await wait_for(lambda: len(smtp.mailbox.to("ada.mediator@mediators.example.org")) >= 5, timeout=30)
            await asyncio.sleep(2)
        outbound = {}  # this test's events' records, once each (other services on the shared stack may add theirs)
        for firm in case.FIRMS:
            records = {(event := CloudEvent.from_bytes(r.value)).id: r.value.decode()
                       for r in await read(kafka, Topics.firm_outbound(firm), 10**6, timeout=3)
                       if CloudEvent.from_bytes(r.value).causationid in produced}
            outbound[firm] = list(records.values())
    assert {firm: len(records) for firm, records in outbound.items()} == expected_hooks
    for firm, own_parties in {"firm-s": {"p1"}, "firm-a": {"p2"}, "firm-b": {"p3"}}.items():
        every_body = [d.body.decode() for d in hooks.to(f"/ok/{firm}")]
        bodies = [b for b in every_body if CloudEvent.model_validate_json(b).causationid in produced]
        assert len(bodies) == expected_hooks[firm]
        everything = "".join(every_body + outbound[firm])
        others = [m for p in ("p1", "p2", "p3", "p4") if p not in own_parties for m in markers(p)]
        if firm == "firm-b":  # asked to represent p4, it is told p4's name and role (RepresentationRequested) only
            others.remove(markers("p4")[0])
        assert [m for m in others if m in everything] == [], f"{firm} received another side's data"
        [own] = own_parties
        assert markers(own)[0] in everything and f"{case_id}:{own}" in everything
    for party_id in ("p1", "p2", "p3"):
        for person in case.attendees(party_id)[:2]:
            mails = smtp.mailbox.to(person.email)
            assert mails, person.email
            text = "".join(m.as_string() for m in mails).replace("=\n", "")
            others = [m for p in ("p1", "p2", "p3", "p4") if p != party_id for m in markers(p)]
            assert [m for m in others if m in text] == [], f"{person.email} was told of another side"
    for mail in smtp.mailbox.to(case.attendees("p2")[0].email):
        if mail.get_content_type() == "multipart/alternative":
            parts = [p.get_content_type() for p in mail.get_payload()]
            assert parts == ["text/plain", "text/calendar"]


async def test_events_of_many_firms_handled_together_each_reach_only_their_firms_endpoints(infrastructure, kafka,
                                                                                           unique):
    """Events of eight firms' cases in one batch, handled side by side (their reads of endpoints sent together):
    each firm's endpoint receives its own case's event and nothing of any other firm's."""
    firms = [f"firm-{n}{unique}" for n in range(8)]
    with SmtpServer() as smtp, WebhookReceiver() as hooks:
        settings = settings_for("notify", infrastructure, unique, smtp_port=smtp.port,
                                webhook_allow_loopback_http=True)
        async with running("notify", settings) as notify:
            for firm in firms:
                async with client(notify, Role.FIRM, firm_id=firm) as firm_client:
                    registered = await firm_client.post("/v1/webhooks", json={"url": f"{hooks.url}/ok/{firm}"})
                    assert registered.status_code == 201
            rejected = [CaseRejected(case_id=f"case-{firm}", firm_id=firm, external_ref=f"ref-{firm}",
                                     reasons=[{"field": "", "message": f"refused for {firm}"}]) for firm in firms]
            await produce(kafka, Topics.INTAKE, [as_record(new_event(m, source="/tests")) for m in rejected])
            await wait_for(lambda: all(hooks.to(f"/ok/{firm}") for firm in firms), timeout=30)
            await asyncio.sleep(1)
    for firm in firms:
        bodies = [delivery.body.decode() for delivery in hooks.to(f"/ok/{firm}")]
        assert len(bodies) == 1 and f"case-{firm}" in bodies[0], firm
        assert [other for other in firms if other != firm and f"case-{other}\"" in bodies[0]] == []
