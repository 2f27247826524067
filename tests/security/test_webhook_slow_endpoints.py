"""Hostile webhook endpoints cannot hold notify: endpoints that drip one byte a second delay no other firm's
invitation email (measured on a real SMTP listener) and hold at most two workers each firm; a delivery has one
deadline end to end; an endpoint that answers 200 MB is cut at the read bound and notify's memory stays put;
a firm registers at most its cap of endpoints. All endpoints are real HTTP servers on loopback, with the local
http setting on."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import psutil
import pytest

from kafka_helpers import as_record, produce, wait_for
from mednet_notify.dispatch import DeliveryError
from mednet_notify.domain import Job
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CallScheduled, CaseRejected
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from receivers import SlowHttpServer, SmtpServer, WebhookReceiver
from services_harness import client, running, settings_for

pytestmark = pytest.mark.timeout(120)
DRIPPING_FIRMS, ENDPOINTS_EACH = 4, 5


def local(infrastructure, unique, **overrides):
    return settings_for("notify", infrastructure, unique, webhook_allow_loopback_http=True, **overrides)


async def test_dripping_endpoints_delay_no_other_firms_invitation(infrastructure, kafka, unique):
    drippers = [f"drip{n}-{unique}" for n in range(DRIPPING_FIRMS)]
    with SmtpServer() as smtp:
        settings = local(infrastructure, unique, smtp_port=smtp.port, delivery_max_attempts=1)
        async with SlowHttpServer("drip") as drip, running("notify", settings) as notify:
            for firm_id in drippers:
                async with client(notify, Role.FIRM, firm_id=firm_id) as firm:
                    for n in range(ENDPOINTS_EACH):
                        registered = await firm.post("/v1/webhooks", json={"url": f"{drip.url}/{firm_id}/{n}"})
                        assert registered.status_code == 201, registered.text
            baseline = await invitation_seconds(kafka, smtp, f"{unique}-before")
            await produce(kafka, Topics.INTAKE, [as_record(new_event(case_rejected(unique, firm_id), source="/t"))
                                                 for firm_id in drippers])
            await wait_for(lambda: drip.open_total >= DRIPPING_FIRMS * 2, timeout=20)
            during = await invitation_seconds(kafka, smtp, f"{unique}-during")
            still_dripping = drip.open_total
            most_open = dict(drip.most_open)
    assert during - baseline < 2.0, f"invitation took {during:.2f} s while endpoints dripped ({baseline:.2f} s before)"
    assert still_dripping >= DRIPPING_FIRMS * 2, "the drippers were still holding their connections"
    assert max(most_open.values()) <= 2, f"at most 2 deliveries at once per firm: {most_open}"


async def test_a_backlog_of_one_firms_due_webhooks_delays_no_reminder_and_no_other_firm(infrastructure, unique):
    """Retries and reminders come from the poll: 150 due retries of a dripping firm, older than everything else,
    must not keep the poll from a due reminder email or another firm's due webhook."""
    reminded = f"pat-{unique}@example.org"
    with SmtpServer() as smtp, WebhookReceiver() as hooks:
        settings = local(infrastructure, unique, smtp_port=smtp.port, delivery_max_attempts=1)
        async with SlowHttpServer("drip") as drip, running("notify", settings) as notify:
            store = notify.state.notifier.store
            slow = [await store.register_endpoint(f"slow-{unique}", f"{drip.url}/slow/{n}") for n in range(5)]
            calm = await store.register_endpoint(f"calm-{unique}", f"{hooks.url}/ok/calm")
            oldest = datetime.now(UTC) - timedelta(minutes=10)
            await store.add_jobs([webhook_job(f"{unique}-{n}", slow[n % 5], oldest + timedelta(seconds=n))
                                  for n in range(150)])
            await store.add_jobs([webhook_job(f"{unique}-calm", calm, oldest + timedelta(minutes=5)),
                                  reminder_job(unique, reminded, oldest + timedelta(minutes=5))])
            began = time.monotonic()
            notify.state.notifier.dispatcher.wake()
            await wait_for(lambda: smtp.mailbox.to(reminded) and hooks.to("/ok/calm"), timeout=15, interval=0.01)
            took = time.monotonic() - began
            most_open = max(drip.most_open.values())
    assert took < 2.0, f"the reminder and the other firm's webhook waited {took:.1f} s behind the backlog"
    assert most_open <= 2


def webhook_job(key: str, endpoint: dict, due_at: datetime) -> Job:
    return Job.model_validate({
        "_id": f"job-{key}", "channel": "webhook", "purpose": "webhook", "recipient": endpoint["_id"],
        "firm_id": endpoint["firm_id"], "endpoint_id": endpoint["_id"], "message_id": f"msg-{key}",
        "payload": "{}", "case_id": f"case-{key}", "due_at": due_at, "source_event_id": f"ev-{key}",
        "source_event_type": "mednet.CaseRejected.v1"})


def reminder_job(key: str, to: str, due_at: datetime) -> Job:
    return Job.model_validate({
        "_id": f"job-{key}-reminder", "channel": "email", "purpose": "reminder", "recipient": to,
        "case_id": f"case-{key}", "due_at": due_at, "source_event_id": f"ev-{key}-reminder",
        "source_event_type": "mednet.CallScheduled.v1",
        "email": {"to": to, "subject": "Reminder", "text": "soon", "calendar": None, "calendar_method": None}})


async def test_a_delivery_has_one_deadline_end_to_end(infrastructure, unique):
    settings = local(infrastructure, unique, webhook_timeout_seconds=1.5)
    async with SlowHttpServer("drip") as drip, running("notify", settings) as notify:
        store, sender = notify.state.notifier.store, notify.state.notifier.dispatcher.webhooks
        endpoint = await store.endpoint((await store.register_endpoint(f"firm-{unique}", f"{drip.url}/x"))["_id"])
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=r"^timed out after 1.5 s$"):
            async with asyncio.timeout(15):
                await sender.send(endpoint, store.signing_secret(endpoint), "msg-1", "{}")
        took = time.monotonic() - started
    assert took < 2.5, f"the delivery took {took:.1f} s against a deadline of 1.5 s"


async def test_a_huge_answer_is_cut_at_the_read_bound_and_memory_stays_bounded(infrastructure, unique):
    process = psutil.Process()
    async with SlowHttpServer("huge") as huge, running("notify", local(infrastructure, unique)) as notify:
        store, sender = notify.state.notifier.store, notify.state.notifier.dispatcher.webhooks
        endpoint = await store.endpoint((await store.register_endpoint(f"firm-{unique}", f"{huge.url}/x"))["_id"])
        before = process.memory_info().rss
        peak = before

        async def watch() -> None:
            nonlocal peak
            while True:
                peak = max(peak, process.memory_info().rss)
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        try:
            async with asyncio.timeout(60):
                status = await sender.send(endpoint, store.signing_secret(endpoint), "msg-1", "{}")
        finally:
            watcher.cancel()
        await asyncio.sleep(0.2)
    assert status == 200
    assert huge.written < 32 * 1024 * 1024, f"notify took {huge.written / 2**20:.0f} MiB of a 200 MiB answer"
    assert peak - before < 30 * 1024 * 1024, f"RSS grew by {(peak - before) / 2**20:.0f} MiB"


async def test_a_firm_registers_at_most_its_cap_of_endpoints(infrastructure, unique):
    async with running("notify", local(infrastructure, unique, webhook_max_endpoints_per_firm=3)) as notify:
        async with client(notify, Role.FIRM, firm_id=f"firm-{unique}") as firm:
            answers = [await firm.post("/v1/webhooks", json={"url": f"http://127.0.0.1:9/{n}"}) for n in range(5)]
            listed = (await firm.get("/v1/webhooks")).json()
        async with client(notify, Role.FIRM, firm_id=f"other-{unique}") as other:
            others = await other.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/other"})
    assert [a.status_code for a in answers] == [201, 201, 201, 409, 409]
    assert "already has 3 webhook endpoints, the most allowed" in answers[3].json()["detail"]
    assert len(listed) == 3 and others.status_code == 201


async def invitation_seconds(kafka: str, smtp: SmtpServer, tag: str) -> float:
    """From producing another firm's CallScheduled to its invitations on the SMTP listener."""
    mediator = f"max-{tag}@example.org"
    start = datetime.now(UTC) + timedelta(days=3)
    attendees = [{"kind": "party", "name": "Pat", "email": f"pat-{tag}@example.org", "time_zone": "Europe/London",
                  "firm_id": f"calm-{tag}"},
                 {"kind": "mediator", "name": "Max", "email": mediator, "time_zone": "Europe/London"}]
    scheduled = CallScheduled(call_id=f"case-{tag}:p1", case_id=f"case-{tag}", party_id="p1", mediator_id="m",
                              attendees=attendees, participant_firms=[f"calm-{tag}"], sequence=0, start=start,
                              end=start + timedelta(minutes=45))
    began = time.monotonic()
    await produce(kafka, Topics.SCHEDULING, [as_record(new_event(scheduled, source="/tests"))])
    await wait_for(lambda: smtp.mailbox.to(mediator), timeout=15, interval=0.01)
    return time.monotonic() - began


def case_rejected(unique: str, firm_id: str) -> CaseRejected:
    """A firm's event the scheduling service ignores (other tests' services share the broker)."""
    return CaseRejected(case_id=f"case-{firm_id}", firm_id=firm_id, external_ref=f"drip-{unique}",
                        reasons=[{"field": "", "message": "test"}])
