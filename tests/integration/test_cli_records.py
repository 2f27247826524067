"""`mednet timeline` and `mednet dlq list|show|replay` against the real broker."""

import os
import subprocess
import sys

from kafka_helpers import as_record, new_topic, produce, read
from mednet_shared.contracts.envelope import CloudEvent, new_event
from mednet_shared.contracts.topics import Topics
from sample_events import call_completed


def mednet(kafka: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "mednet_cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


async def test_timeline_lists_a_cases_events_in_order(kafka, unique):
    case_id = f"case-{unique}"
    first = new_event(call_completed(case_id, "p1"), source="/tests")
    second = new_event(call_completed(case_id, "p2"), source="/tests", caused_by=first)
    await produce(kafka, Topics.SCHEDULING, [as_record(first), as_record(second)])
    shown = mednet(kafka, "timeline", case_id)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.index(first.id) < shown.stdout.index(second.id)
    assert "mednet.CallCompleted.v1" in shown.stdout
    assert mednet(kafka, "timeline", f"case-none-{unique}").returncode == 1


async def test_dead_letters_are_listed_shown_and_replayed_to_their_topic(kafka, unique):
    topic = await new_topic(kafka, f"test.replay.{unique}")
    event = new_event(call_completed(f"case-{unique}"), source="/tests")
    record = event.to_record(Topics.dead_letter(topic))
    headers = [("x-firm-trace", b"t-1"), ("x-mednet-dlq-reason", b"handler-failed"),
               ("x-mednet-dlq-topic", topic.encode()), ("x-mednet-dlq-error", b"ValueError: boom"),
               ("x-mednet-dlq-offset", b"7"), ("x-mednet-dlq-partition", b"0")]
    await produce(kafka, Topics.dead_letter(topic), [(record.key, record.value, headers)])

    listed = mednet(kafka, "dlq", "list")
    assert f"{topic}.dlq" in listed.stdout
    shown = mednet(kafka, "dlq", "show", f"{topic}.dlq")
    assert "handler-failed" in shown.stdout and "ValueError: boom" in shown.stdout and f"{topic}:0@7" in shown.stdout
    assert mednet(kafka, "dlq", "replay", f"{topic}.dlq", "--offset", "99").returncode == 1
    replayed = mednet(kafka, "dlq", "replay", f"{topic}.dlq")
    assert replayed.returncode == 0 and "replayed 1" in replayed.stdout

    back = await read(kafka, topic, 1, timeout=10)
    assert CloudEvent.from_bytes(back[0].value).id == event.id
    assert dict(back[0].headers) == {"x-firm-trace": b"t-1"}, "the original headers, without the dead-letter ones"
