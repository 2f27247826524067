"""Adding an instance of a service and then taking one away (SIGTERM) while cases stream in: the partitions move
between instances, and every call is scheduled once and every invitation sent once."""

import asyncio
import os

import pytest

from kafka_helpers import wait_for
from mednet_cli.chaos import workload
from mednet_cli.chaos.instances import Instance
from mednet_cli.smtp_sink import SmtpSink
from mednet_cli.processes import free_port
from mednet_cli.records import read_all
from mednet_shared.contracts.envelope import CloudEvent
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.kafka import PRODUCER_DEFAULTS, ensure_topics
from services_harness import TEST_JWT_ENVIRONMENT, TEST_NOTES_KEY, skip_history

CASES = 40


def environment(infrastructure, unique: str, firms: list[str], smtp_port: int) -> dict[str, str]:
    env = {**TEST_JWT_ENVIRONMENT, "KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
           "MONGODB_URL": infrastructure.mongodb_url, "MEDNET_NOTES_ENCRYPTION_KEY": TEST_NOTES_KEY,
           "MEDNET_NOTIFY_SMTP_PORT": str(smtp_port), "MEDNET_NOTIFY_POLL_SECONDS": "0.3", "MEDNET_LOG_LEVEL": "INFO",
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


async def scheduled_calls(bootstrap: str, case_ids: set[str]) -> dict[str, set[str]]:
    """call_id -> the distinct ids of the CallScheduled events published for it."""
    calls: dict[str, set[str]] = {}
    for record in await read_all(bootstrap, [Topics.SCHEDULING], idle_ms=1000):
        event = CloudEvent.from_bytes(record.value)
        if event.type == "mednet.CallScheduled.v1" and event.subject in case_ids:
            calls.setdefault(event.data["call_id"], set()).add(event.id)
    return calls


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_adding_and_removing_instances_loses_and_duplicates_nothing(infrastructure, unique, tmp_path):
    kafka = infrastructure.kafka_bootstrap_servers
    firms = workload.firm_ids(unique, 3)
    submissions = workload.submissions(unique, CASES, firms, workload.mediator_ids(unique, 6), seed=7)
    await ensure_topics(kafka, [Topics.firm_inbound(f) for f in firms])
    for service, topics in (("scheduling", [Topics.INTAKE]), ("notify", [Topics.INTAKE, Topics.SCHEDULING,
                                                                        Topics.NOTES])):
        await skip_history(kafka, f"t-{unique}-{service}", topics)
    first = {name: Instance(name, 0, free_port(), tmp_path) for name in ("intake", "scheduling", "notify")}
    second = {name: Instance(name, 1, free_port(), tmp_path) for name in ("scheduling", "notify")}
    with SmtpSink(free_port()) as sink:
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

            expected = sum(s.parties for s in submissions)
            case_ids: set[str] = set()

            progress = {}

            async def all_scheduled() -> bool:
                case_ids.update(await opened_case_ids(kafka, {s.event_id for s in submissions}, firms))
                progress.update(cases=len(case_ids), calls=len(await scheduled_calls(kafka, case_ids)))
                return progress == {"cases": CASES, "calls": expected}
            try:
                await wait_for(all_scheduled, timeout=180, interval=2)
            except AssertionError:
                raise AssertionError(f"{progress} of {CASES} cases and {expected} calls") from None
            calls = await scheduled_calls(kafka, case_ids)
            await wait_for(lambda: sink.mailbox.invitations(set(calls)) >= expected * 3, timeout=120, interval=1)
            await asyncio.sleep(3)
        finally:
            for instance in [*first.values(), *second.values()]:
                await asyncio.to_thread(instance.stop)

    assert all(len(ids) == 1 for ids in calls.values()), "every call was scheduled by exactly one effect"
    assert sink.mailbox.invitations(set(calls)) == expected * 3, "each call invites the party, its counsel and the mediator"
    assert sink.mailbox.redeliveries() == 0 and sink.mailbox.duplicate_alerts() == []


async def opened_case_ids(bootstrap: str, causes: set[str], firms: list[str]) -> set[str]:
    """The cases these submissions opened: the seeded event ids repeat from run to run, the run's firms do not."""
    events = [CloudEvent.from_bytes(r.value) for r in await read_all(bootstrap, [Topics.INTAKE], 1000)]
    return {e.data["case_id"] for e in events
            if e.type == "mednet.CaseOpened.v1" and e.causationid in causes and e.data["firm_id"] in firms}
