"""Adding an instance of a service and then taking one away (SIGTERM) while cases stream in and the firms choose
each offered slot at once: the partitions move between instances, and every side is offered once, every choice is
booked once as chosen, and every invitation sent once."""

import asyncio
import json
import os
import random

import pytest
from pymongo import AsyncMongoClient

from kafka_helpers import wait_for
from mednet_cli.chaos import workload
from mednet_cli.chaos.chooser import Chooser
from mednet_cli.chaos.instances import Instance
from mednet_cli.chaos.ledger import Ledger, follow
from mednet_cli.chaos.verdict import consent
from mednet_cli.smtp_sink import Mailbox, SmtpSink
from mednet_cli.processes import free_port
from mednet_cli.records import end_offsets
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.kafka import PRODUCER_DEFAULTS, ensure_topics
from services_harness import TEST_JWT_ENVIRONMENT, TEST_LINK_KEYS, TEST_NOTES_KEY, skip_history

CASES = 40


def environment(infrastructure, unique: str, firms: list[str], smtp_port: int) -> dict[str, str]:
    env = {**TEST_JWT_ENVIRONMENT, "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
           "MONGODB_URL": infrastructure.mongodb_url, "MEDNET_NOTES_ENCRYPTION_KEY": TEST_NOTES_KEY,
           "MEDNET_NOTIFY_SMTP_PORT": str(smtp_port), "MEDNET_NOTIFY_POLL_SECONDS": "0.3", "MEDNET_LOG_LEVEL": "INFO",
           "MEDNET_SCHEDULING_LINK_KEYS": TEST_LINK_KEYS, "MEDNET_SCHEDULING_LINK_ACTIVE_KID": "l1",
           "MEDNET_NOTES_LINK_KEYS": TEST_LINK_KEYS, "MEDNET_NOTES_LINK_ACTIVE_KID": "l1",
           "MEDNET_SCHEDULING_PUBLIC_URL": "http://scheduling.test",
           "MEDNET_INTAKE_INBOUND_TOPIC_PATTERN": rf"mednet\.firm\.chaos-{unique}-f[0-9]+\.inbound$",
           "MEDNET_SCHEDULING_INBOUND_TOPIC_PATTERN": rf"mednet\.firm\.chaos-{unique}-f[0-9]+\.inbound$"}
    for service in ("intake", "scheduling", "notify"):
        env[f"MEDNET_{service.upper()}_MONGODB_DATABASE"] = f"t_{unique}_{service}"
        env[f"MEDNET_{service.upper()}_CONSUMER_GROUP_ID"] = f"t-{unique}-{service}"
    return env


async def submit(bootstrap: str, submissions: list[workload.Submission], seconds: float) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_DEFAULTS)
    await producer.start()
    try:
        for submission in submissions:
            record = submission.record
            await producer.send_and_wait(record.topic, record.value, key=record.key,
                                         headers=[(k, v.encode()) for k, v in record.headers.items()])
            await asyncio.sleep(seconds / len(submissions))
    finally:
        await producer.stop()


async def unbooked(mongodb_url: str, unique: str, ledger: Ledger, case_ids: set[str]) -> list[str]:
    """What scheduling holds of each chosen offer that was never booked: the choice's guard entry, and the offer as
    its mediator's calendar has it (for a failure seen only in CI)."""
    client = AsyncMongoClient(mongodb_url)
    db, report = client[f"t_{unique}_scheduling"], []
    try:
        calendars = [json.dumps(doc, default=str) async for doc in db["calendars"].find({})]
        for case_id in case_ids:
            for offer in ledger.offers_of(case_id):
                if offer.call_id in ledger.calls:
                    continue
                choice = ledger.choices.get(offer.offer_id)
                guard = choice and await db["processed_events"].find({"_id": {"$regex": choice.command_id}}).to_list()
                held = [text[max(0, text.find(offer.offer_id) - 300):text.find(offer.offer_id) + 600]
                        for text in calendars if offer.offer_id in text]
                report.append(f"offer {offer.offer_id} call {offer.call_id} choice {choice} "
                              f"refused {ledger.refused.get(choice.command_id) if choice else None} guard {guard} "
                              f"calendar {held}")
    finally:
        await client.close()
    return report


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_adding_and_removing_instances_loses_and_duplicates_nothing(infrastructure, unique, tmp_path):
    kafka = infrastructure.kafka_bootstrap_servers
    firms = workload.firm_ids(unique, 3)
    submissions = workload.submissions(unique, CASES, firms, workload.mediator_ids(unique, 6), seed=7)
    expected = sum(s.parties for s in submissions)
    await ensure_topics(kafka, [*Topics.service_topics(), *(Topics.firm_inbound(f) for f in firms)])
    for service, topics in (("scheduling", [Topics.INTAKE]), ("notify", [Topics.INTAKE, Topics.SCHEDULING,
                                                                        Topics.NOTES])):
        await skip_history(kafka, f"t-{unique}-{service}", topics)
    ledger = Ledger(firms=frozenset(firms))
    chooser = Chooser(kafka, ledger, random.Random(7))
    ledger.on_offered = chooser.offered
    stopped = asyncio.Event()
    first = {name: Instance(name, 0, free_port(), tmp_path) for name in ("intake", "scheduling", "notify")}
    second = {name: Instance(name, 1, free_port(), tmp_path) for name in ("scheduling", "notify")}
    start = await end_offsets(kafka, [Topics.INTAKE, Topics.SCHEDULING, Topics.NOTES])
    background = [asyncio.create_task(follow(kafka, ledger, stopped, start)), asyncio.create_task(chooser.work())]
    with SmtpSink(free_port(), Mailbox(keep=False)) as sink:
        env = {**os.environ, **environment(infrastructure, unique, firms, sink.port)}
        for instance in first.values():
            instance.start(env)
        try:
            await wait_for(lambda: all(i.ready() for i in first.values()), timeout=90, interval=0.5)
            streaming = asyncio.create_task(submit(kafka, submissions, seconds=24))
            await asyncio.sleep(8)
            for instance in second.values():
                instance.start(env)
            await wait_for(lambda: all(i.ready() for i in second.values()), timeout=90, interval=0.5)
            await asyncio.sleep(6)
            for name in second:
                await asyncio.to_thread(first[name].stop)
            await streaming

            case_ids = {ledger.opened[s.event_id] for s in submissions if s.event_id in ledger.opened}
            progress = {}

            def all_booked() -> bool:
                case_ids.update(ledger.opened[s.event_id] for s in submissions if s.event_id in ledger.opened)
                progress.update(cases=len(case_ids), offers=sum(len(ledger.offers_of(c)) for c in case_ids),
                                choices=len(ledger.choices), booked=sum(len(ledger.calls_of(c)) for c in case_ids))
                return progress == {"cases": CASES, "offers": expected, "choices": expected, "booked": expected}
            try:
                await wait_for(all_booked, timeout=180, interval=1)
            except AssertionError:
                report = await unbooked(infrastructure.mongodb_url, unique, ledger, case_ids)
                raise AssertionError(f"{progress} of {CASES} cases and {expected} calls; chooser: sent {chooser.sent}, "
                                     f"{chooser.send_failures} failed sends, {chooser.queue.qsize()} queued; "
                                     f"{report}") from None
            calls = {c for case_id in case_ids for c in ledger.calls_by_case[case_id]}
            await wait_for(lambda: sink.mailbox.invitations(calls) >= expected * 3, timeout=120, interval=1)
            await asyncio.sleep(3)
        finally:
            for instance in [*first.values(), *second.values()]:
                await asyncio.to_thread(instance.stop)
            stopped.set()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)

    booking = consent(ledger, case_ids)
    assert (booking.offers_made, booking.choices_sent) == (expected, expected), booking
    assert chooser.resent > 0, "some choices were sent twice (a firm's retry)"
    assert booking.choices_refused == booking.choices_lost == 0, booking.examples
    assert booking.calls_offered_twice == booking.calls_booked_twice == booking.bookings_without_choice == 0, \
        booking.examples
    assert sink.mailbox.invitations(calls) == expected * 3, "each call invites the party, its counsel and the mediator"
    assert sink.mailbox.redeliveries() == 0 and sink.mailbox.duplicate_alerts() == []
