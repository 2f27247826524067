"""The whole story on the real broker and database, a real SMTP server and a real webhook receiver: a three-party
case is submitted, each party's firm accepts its side on its Kafka inbound topic (AcceptRepresentation), every call
scheduled and completed, objectives recorded; every email, webhook, firm stream
event and the brief are checked, no private observation leaks anywhere, and every metric the operations issue names
is on each service's /metrics, grown by what the flow did."""

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from standardwebhooks import Webhook

from kafka_helpers import as_record, event_of, events_of, new_topic, produce, read, wait_for
from offers_helpers import choose_first
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import ObjectiveIssue, issue_label
from mednet_shared.platform.auth import Role
from receivers import SmtpServer, WebhookReceiver
from sample_cases import accept_representation, submission
from metrics_text import increase, matching, parse
from services_harness import all_four, client, register_webhooks

MARKERS = {field: f"PRIVATE-{field.upper()}-7f3a" for field in (
    "concerns", "interests", "underlying_issues", "dynamics", "rapport", "settlement_authority",
    "settlement_range", "free_text")}

OBJECTIVES = {
    "p1": [{"issue": "confidentiality", "wants": "keep it out of the press", "priority": 2, "shareable": True},
           {"issue": "apology", "wants": "a written apology", "priority": 1},
           {"issue": "payment_amount", "wants": "compensation", "amount": {"minimum": 40000}, "priority": 1}],
    "p2": [{"issue": "confidentiality", "wants": "no publicity", "priority": 3, "shareable": True},
           {"issue": "apology", "wants": "no admission", "stance": "opposes", "priority": 2},
           {"issue": "payment_amount", "wants": "pay at most 30k", "stance": "willing",
            "amount": {"maximum": 30000}, "priority": 2}],
    "p3": [{"issue": "confidentiality", "wants": "quiet settlement", "priority": 4},
           {"issue": "future_relationship", "wants": "keep supplying", "priority": 1}],
}


def calendar_of(message) -> Calendar | None:
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            return Calendar.from_ical(part.get_payload(decode=True))
    return None


def body_text(message) -> str:
    return "".join(part.get_payload(decode=True).decode(errors="replace") for part in message.walk()
                   if part.get_content_maintype() == "text")


async def test_three_party_case_end_to_end(infrastructure, kafka, unique, caplog, capfd, tmp_path):
    caplog.set_level("DEBUG")
    submitter, mediator_id = f"firm-s{unique}", f"med-{unique}"
    firms = {"p1": f"firm-a{unique}", "p2": f"firm-b{unique}", "p3": f"firm-c{unique}"}
    document = submission(f"e2e-{unique}", parties=3, mediator_id=mediator_id)
    for party in document["parties"]:
        party["attorney"]["firm_id"] = firms[party["party_id"]]
        party["attorney"]["time_zone"] = "Australia/Lord_Howe" if party["party_id"] == "p3" else None

    inbound = await new_topic(kafka, Topics.firm_inbound(submitter))
    for firm in firms.values():
        await new_topic(kafka, Topics.firm_inbound(firm))
    with SmtpServer() as smtp, WebhookReceiver() as hooks:
        async with all_four(infrastructure, unique, smtp.port) as apps:
            intake, scheduling, notes, notify = (apps[name] for name in ("intake", "scheduling", "notes", "notify"))
            before = await metrics_of(notify)
            secrets = await register_webhooks(notify, hooks.url, (submitter, *firms.values()))

            async with client(intake, Role.FIRM, firm_id=submitter) as firm_client:
                created = await firm_client.post("/v1/cases", json=document)
                assert created.status_code == 201, created.text
                case_id = created.json()["case_id"]
            accepted = await accept_awaiting_sides(kafka, intake, case_id, submitter)
            assert accepted in ([], sorted(firms.items())), "every party's firm is asked, and only the sides of others"

            for party_id, firm in firms.items():   # each side chooses the first slot it is offered
                await choose_first(kafka, firm, case_id, party_id)
            scheduled = {e.payload().party_id: e.payload()
                         for e in await events_of(kafka, Topics.SCHEDULING, case_id, "CallScheduled", 3)
                         if e.payload().booked_by == "choice"}
            await wait_for(lambda: len(smtp.mailbox.messages) >= 9, timeout=30)
            for party_id, call in scheduled.items():
                for attendee in call.attendees:
                    invitations = [m for m in smtp.mailbox.to(attendee.email)
                                   if calendar_of(m) and calendar_of(m).get("METHOD") == "REQUEST"]
                    mine = [m for m in invitations if str(calendar_of(m).walk("VEVENT")[0]["UID"]) == call.call_id]
                    assert len(mine) == 1, f"{attendee.email} got {len(mine)} invitations for {call.call_id}"
                    event = calendar_of(mine[0]).walk("VEVENT")[0]
                    assert int(event["SEQUENCE"]) == 0
                    start = event.decoded("DTSTART")
                    assert str(start.tzinfo) == attendee.time_zone, (start.tzinfo, attendee.time_zone)
                    assert start.astimezone(UTC) == call.start
                    local = call.start.astimezone(ZoneInfo(attendee.time_zone))
                    assert local.strftime("%H:%M") in body_text(mine[0])

            held = max(call.end for call in scheduled.values())  # a call is completed once it has taken place
            scheduling.state.scheduler.clock = lambda: held + timedelta(minutes=5)
            async with client(scheduling, Role.MEDIATOR, mediator_id=mediator_id) as the_mediator:
                for call in scheduled.values():
                    done = await the_mediator.post(f"/v1/calls/{call.call_id}/complete")
                    assert done.status_code == 200, done.text
            async with client(notes, Role.MEDIATOR, mediator_id=mediator_id) as the_mediator:
                assert (await the_mediator.put(f"/v1/calls/{case_id}:nobody/notes", json={})).status_code == 404
                async with client(notes, Role.MEDIATOR, mediator_id="another-mediator") as other:
                    call_id = scheduled["p1"].call_id
                    assert (await other.put(f"/v1/calls/{call_id}/notes", json={})).status_code == 404
                    assert (await other.get(f"/v1/cases/{case_id}/brief")).status_code == 404
                for party_id, call in scheduled.items():
                    await wait_for(lambda: _known(notes, call.call_id), timeout=20)
                    body = {"observations": MARKERS, "objectives": OBJECTIVES[party_id]}
                    saved = await the_mediator.put(f"/v1/calls/{call.call_id}/notes", json=body)
                    assert saved.status_code == 200, saved.text
                    assert saved.json()["observations"]["dynamics"] == MARKERS["dynamics"]
                    again = await the_mediator.put(f"/v1/calls/{call.call_id}/notes", json=body)
                    assert again.status_code == 200
                invalid = await the_mediator.put(f"/v1/calls/{scheduled['p1'].call_id}/notes",
                                                 json={"observations": {**MARKERS, "mood": MARKERS["rapport"]}})
                assert invalid.status_code == 422 and MARKERS["rapport"] not in invalid.text
                brief = await the_mediator.get(f"/v1/cases/{case_id}/brief")
                assert brief.status_code == 200, brief.text
                brief = brief.json()
            async with client(notes, Role.FIRM, firm_id=submitter) as firm_client:
                assert (await firm_client.get(f"/v1/cases/{case_id}/brief")).status_code == 403

            assert brief["shared_interests"] == ["confidentiality"]
            assert brief["hard_conflicts"] == ["apology", "payment_amount"]
            assert "future_relationship" in brief["one_sided"] and "future_relationship" not in brief["trade_offs"]
            assert [item["issue"] for item in brief["agenda"]][0] == "confidentiality"
            assert [item["issue"] for item in brief["agenda"]][-2:] == ["apology", "payment_amount"]

            await events_of(kafka, Topics.SCHEDULING, case_id, "PreMediationCompleted", 1)
            recorded = await events_of(kafka, Topics.NOTES, case_id, "ObjectivesRecorded", 3)
            assert {e.payload().party_firm_id for e in recorded} == set(firms.values())
            await events_of(kafka, Topics.NOTES, case_id, "BriefReady", 1)

            mediator_email = document["mediator"]["email"]
            await wait_for(lambda: any("brief" in m["Subject"].lower() for m in smtp.mailbox.to(mediator_email)),
                           timeout=30)
            for party_id, call in scheduled.items():
                side = [a for a in call.attendees if a.kind in ("party", "attorney")]
                for attendee in side:
                    await wait_for(lambda: _objectives_mail(smtp, attendee.email), timeout=30)
                    confirmation = body_text(_objectives_mail(smtp, attendee.email)[0])
                    for own in OBJECTIVES[party_id]:   # the side's issues and priorities; words and amounts sealed
                        label = issue_label(ObjectiveIssue(own["issue"]))
                        assert f"- {label} (priority {own['priority']})" in confirmation, confirmation
                    for items in OBJECTIVES.values():
                        assert all(i["wants"] not in confirmation for i in items), confirmation
                        assert all(str(v) not in confirmation for i in items for v in i.get("amount", {}).values())
                assert not _objectives_mail(smtp, mediator_email) or all(
                    OBJECTIVES[party_id][0]["wants"] not in body_text(m) for m in _objectives_mail(smtp, mediator_email))
                for attendee in call.attendees:
                    completions = [m for m in smtp.mailbox.to(attendee.email) if "complete" in m["Subject"].lower()]
                    assert len({m["Subject"] for m in completions}) >= 1

            await wait_for(lambda: len(hooks.to(f"/ok/{firms['p2']}")) >= 4, timeout=30)
            await asyncio.sleep(2)
            for firm, secret in secrets.items():
                for delivery in hooks.to(f"/ok/{firm}"):
                    payload = Webhook(secret).verify(delivery.body, delivery.headers)
                    assert payload["firmid"] == firm
                    if payload["type"] == "mednet.ObjectivesRecorded.v1":
                        party = payload["data"]["party_id"]
                        assert firms[party] == firm, f"{firm} received {party}'s objectives"
            own = [d for d in hooks.to(f"/ok/{firms['p1']}")
                   if b"mednet.ObjectivesRecorded.v1" in d.body]
            assert len(own) == 1

            outbound = await read(kafka, Topics.firm_outbound(firms["p2"]), 10**6, timeout=3)
            types = [CloudEvent.from_bytes(r.value).type for r in outbound]
            assert {"mednet.CaseOpened.v1", "mednet.CaseUpdated.v1"} & set(types) and "mednet.CallScheduled.v1" in types
            objectives = {e.id: e.data for e in map(CloudEvent.from_bytes, (r.value for r in outbound))
                          if e.type == "mednet.ObjectivesRecorded.v1"}  # at least once: a firm dedupes by event id
            assert [o["party_id"] for o in objectives.values()] == ["p2"]
            calls_of = {CloudEvent.from_bytes(r.value).data["party_id"] for r in outbound
                        if CloudEvent.from_bytes(r.value).type.startswith("mednet.Call")}
            assert calls_of == {"p2"}, f"{firms['p2']} received the calls of {calls_of}: only its own side's"
            submitters = [CloudEvent.from_bytes(r.value) for r in
                          await read(kafka, Topics.firm_outbound(submitter), 10**6, timeout=3)]
            assert [e.type for e in submitters if e.type.startswith("mednet.Call")] == [], \
                "the submitting firm represents no party here: no side's call reaches it"
            assert "mednet.BriefReady.v1" not in types

            redelivered = [r for r in await read(kafka, Topics.SCHEDULING, 10**6, timeout=2)
                           if r.key == case_id.encode() and event_of(r).type == "mednet.CallScheduled.v1"]
            first = redelivered[0]
            call = event_of(first).payload()
            await produce(kafka, Topics.SCHEDULING, [(first.key, first.value, list(first.headers))] * 2)
            await asyncio.sleep(4)
            for attendee in call.attendees:
                invitations = [m for m in smtp.mailbox.to(attendee.email) if calendar_of(m)
                               and str(calendar_of(m).walk("VEVENT")[0]["UID"]) == call.call_id
                               and calendar_of(m).get("METHOD") == "REQUEST"]
                assert len(invitations) == 1, "the same CallScheduled three times: one email per recipient"

            await produce(kafka, inbound, [(b"poison", b"{'not': json", [])])
            await assert_every_metric_the_issue_names(apps, before, inbound)

        everything = b"".join(smtp.mailbox.raw) + b"".join(d.body for d in hooks.deliveries)
        for topic in (Topics.INTAKE, Topics.SCHEDULING, Topics.NOTES, Topics.NOTIFY,
                      *(Topics.firm_outbound(f) for f in (submitter, *firms.values()))):
            everything += b"".join(r.value + b"".join(v for _, v in r.headers)
                                   for r in await read(kafka, topic, 10**6, timeout=2))
        captured = capfd.readouterr()
        everything += (captured.out + captured.err + caplog.text).encode()
        for marker in MARKERS.values():
            assert marker.encode() not in everything, f"{marker} leaked"
        if infrastructure.data_dir:
            for path in infrastructure.data_dir.rglob("*"):
                if path.is_file():
                    content = path.read_bytes()
                    assert all(m.encode() not in content for m in MARKERS.values()), f"a marker is in {path}"


async def accept_awaiting_sides(kafka: str, intake, case_id: str, submitter: str) -> list[tuple[str, str]]:
    """Each side awaiting its firm is accepted by that firm on its own inbound topic; returns (party, firm) sorted.
    None awaits where intake confirms every side at once (before issue 17)."""
    async with client(intake, Role.FIRM, firm_id=submitter) as firm_client:
        sides = (await firm_client.get(f"/v1/cases/{case_id}")).json().get("sides", [])
    awaiting = sorted((side["party_id"], side["firm_id"]) for side in sides
                      if side["status"] == "awaiting_confirmation" and side.get("firm_id"))
    for party_id, firm in awaiting:
        await produce(kafka, Topics.firm_inbound(firm), [as_record(accept_representation(firm, case_id, party_id))])
    if awaiting:
        async def confirmed() -> bool:
            async with client(intake, Role.FIRM, firm_id=submitter) as firm_client:
                view = (await firm_client.get(f"/v1/cases/{case_id}")).json()
            return all(side["status"] == "confirmed" for side in view.get("sides", []))

        await wait_for(confirmed, timeout=30)
    return awaiting


async def metrics_of(app) -> dict:
    async with client(app, Role.OPERATOR) as operator:
        page = await operator.get("/metrics")
    assert page.status_code == 200
    return parse(page.text)


async def assert_every_metric_the_issue_names(apps: dict, before: dict, inbound: str) -> None:
    """Present on every service's /metrics (one registry in this process, so each page is checked), and grown by
    this flow where it exercised the metric."""
    services = list(apps)

    async def settled() -> bool:
        after = await metrics_of(apps["intake"])
        return (increase(before, after, "mednet_dead_letters_total", service="intake", topic=inbound) >= 1
                and increase(before, after, "mednet_events_consumed_total", service="scheduling",
                             outcome="left-to-intake") >= 1
                and all(matching(after, "mednet_consumer_lag", service=s) for s in services))

    await wait_for(settled, timeout=30, interval=0.5)
    for name, app in apps.items():
        after = await metrics_of(app)
        for service in services:
            for present in ("mednet_events_consumed_total", "mednet_consumer_lag",
                            "mednet_outbox_backlog", "mednet_outbox_oldest_age_seconds",
                            "mednet_mongodb_command_seconds_count"):
                assert matching(after, present, service=service), f"{present} for {service} on {name}'s /metrics"
            assert increase(before, after, "mednet_mongodb_command_seconds_count", service=service) > 0, service
            assert increase(before, after, "mednet_events_published_total", service=service, outcome="published") > 0
        for service in ("scheduling", "notes", "notify"):
            assert increase(before, after, "mednet_events_consumed_total", service=service, outcome="processed") > 0
            assert increase(before, after, "mednet_handler_seconds_count", service=service) > 0
        assert increase(before, after, "mednet_events_consumed_total", service="intake", outcome="dead-lettered") == 1
        assert increase(before, after, "mednet_dead_letters_total", service="intake", topic=inbound,
                        reason="unparseable") == 1
        assert increase(before, after, "mednet_events_consumed_total", service="scheduling",
                        outcome="left-to-intake") == 1, "scheduling reads the firm's topic too, but its owner dead-letters"
        assert increase(before, after, "mednet_dead_letters_total", service="scheduling", topic=inbound) == 0
        assert increase(before, after, "mednet_calls_scheduled_total", kind="scheduled") >= 3
        assert increase(before, after, "mednet_call_lead_time_hours_count") >= 3
        assert increase(before, after, "mednet_premediation_completed_total", before_session="true") >= 1
        assert matching(after, "mednet_premediation_completed_total") and matching(after,
                                                                                    "mednet_scheduling_failures_total")
        for channel in ("email", "webhook"):
            assert increase(before, after, "mednet_notifications_total", channel=channel, outcome="sent") > 0, channel


async def _known(notes_app, call_id: str) -> bool:
    record = await notes_app.state.notes.store.case(call_id.rpartition(":")[0])
    return bool(record and record.call(call_id) and len(record.parties) == 3)


def _objectives_mail(smtp, address: str):
    return [m for m in smtp.mailbox.to(address) if "objectives" in m["Subject"].lower()]


async def test_reminders_survive_a_notify_crash_and_are_sent_once(infrastructure, kafka, unique):
    """notify runs as a process, is SIGKILLed with a reminder pending, and restarts: the reminder goes out once."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from kafka_helpers import as_record, produce
    from mednet_cli.fleet import probe
    from mednet_cli.processes import free_port
    from mednet_shared.contracts.envelope import new_event
    from mednet_shared.contracts.events import CallScheduled

    with SmtpServer() as smtp:
        port = free_port()
        from services_harness import TEST_JWT_ENVIRONMENT

        env = {**os.environ, **TEST_JWT_ENVIRONMENT, "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
               "MONGODB_URL": infrastructure.mongodb_url, "MEDNET_NOTIFY_HTTP_PORT": str(port),
               "MEDNET_NOTIFY_SMTP_PORT": str(smtp.port), "MEDNET_NOTIFY_POLL_SECONDS": "0.5",
               "MEDNET_NOTIFY_MONGODB_DATABASE": f"t_{unique}_notify", "MEDNET_NOTIFY_CONSUMER_GROUP_ID": f"t-{unique}"}

        def start() -> subprocess.Popen:
            process = subprocess.Popen([sys.executable, "-m", "mednet_notify"], env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = asyncio.get_event_loop().time() + 60
            while probe(f"http://127.0.0.1:{port}/readyz")[0] != 200:
                assert asyncio.get_event_loop().time() < deadline, "notify never became ready"
                time.sleep(0.2)
            return process

        from mednet_notify.app import CONSUMES
        from services_harness import skip_history

        await skip_history(infrastructure.kafka_bootstrap_servers, f"t-{unique}", CONSUMES)
        notify = start()
        try:
            start_at = datetime.now(UTC) + timedelta(hours=1, seconds=12)
            people = [{"kind": k, "name": k.title(), "email": f"{k}-{unique}@example.org", "time_zone": "Asia/Kolkata"}
                      for k in ("party", "attorney", "mediator")]
            call = CallScheduled(call_id=f"case-{unique}:p1", case_id=f"case-{unique}", party_id="p1",
                                 mediator_id="med", sequence=0, start=start_at, end=start_at + timedelta(minutes=45),
                                 attendees=people, participant_firms=["firm-a"])
            await produce(kafka, Topics.SCHEDULING, [as_record(new_event(call, source="/tests"))])
            await wait_for(lambda: len(smtp.mailbox.raw) >= 3, timeout=40)
            notify.send_signal(signal.SIGKILL)
            notify.wait(timeout=10)
            await asyncio.sleep(max(0.0, (start_at - timedelta(hours=1) - datetime.now(UTC)).total_seconds()) + 3)
            assert len(smtp.mailbox.raw) == 3, "nothing is sent while notify is down"
            restarted_at = datetime.now(UTC)
            notify = start()
            await wait_for(lambda: len(smtp.mailbox.raw) >= 6, timeout=30)
            late = (datetime.now(UTC) - restarted_at).total_seconds()
            await asyncio.sleep(3)
        finally:
            notify.send_signal(signal.SIGTERM)
            notify.wait(timeout=15)
        reminders = [m for m in smtp.mailbox.messages if m["Subject"].strip().lower().startswith("reminder")]
        assert sorted(m["To"] for m in reminders) == sorted(p["email"] for p in people), "each reminder exactly once"
        assert late < 20, f"the reminder came {late:.1f}s after the restart"
