"""notify on the real broker and database, a real SMTP server and a real webhook receiver: invitations follow
the call through reschedule and cancel, reminders move with it, preferences are honoured, and a failing webhook
endpoint is retried with backoff, every attempt recorded, then disabled."""

from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from kafka_helpers import as_record, events_of, produce, wait_for
from mednet_shared.contracts.envelope import new_event
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
