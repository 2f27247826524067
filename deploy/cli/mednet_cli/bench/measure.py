"""What the benchmark reads off the running system: records per topic, their sizes, CPU per process, writes per
service."""

from __future__ import annotations

import json
import urllib.request
from collections import defaultdict
from collections.abc import AsyncIterator

import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

WRITE_COMMANDS = {"insert", "update", "delete", "findAndModify"}
DOCUMENTS_WRITTEN = "documents written"
Offsets = dict[TopicPartition, int]


async def end_offsets(bootstrap: str, prefix: str = "mednet.") -> Offsets:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        topics = [t for t in await consumer.topics() if t.startswith(prefix)]
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        return await consumer.end_offsets(partitions) if partitions else {}
    finally:
        await consumer.stop()


def records_per_topic(before: Offsets, after: Offsets) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for partition, end in after.items():
        counts[partition.topic] += end - before.get(partition, 0)
    return {topic: count for topic, count in counts.items() if count}


async def average_sizes(bootstrap: str, before: Offsets, after: Offsets, sample: int = 60) -> dict[str, float]:
    """Mean value size of up to `sample` records per topic written between the two offset snapshots."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    sizes: dict[str, list[int]] = defaultdict(list)
    try:
        ranges = {tp: (before.get(tp, 0), end) for tp, end in after.items() if end > before.get(tp, 0)}
        if not ranges:
            return {}
        async for tp, records in batches_between(consumer, ranges, 500, lambda tp: len(sizes[tp.topic]) >= sample):
            for record in records:
                if len(sizes[tp.topic]) < sample:
                    sizes[tp.topic].append(len(record.value or b""))
        return {topic: sum(values) / len(values) for topic, values in sizes.items()}
    finally:
        await consumer.stop()


async def events_between(bootstrap: str, topics: list[str], before: Offsets, after: Offsets) -> list[dict]:
    """Every CloudEvent written to these topics between the two offset snapshots, as JSON."""
    ranges = {tp: (before.get(tp, 0), end) for tp, end in after.items()
              if tp.topic in topics and end > before.get(tp, 0)}
    if not ranges:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    events: list[dict] = []
    try:
        async for _, records in batches_between(consumer, ranges, 1000):
            events += [json.loads(record.value) for record in records]
        return events
    finally:
        await consumer.stop()


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    seconds = {}
    for name, pid in pids.items():
        try:
            times = psutil.Process(pid).cpu_times()
            seconds[name] = times.user + times.system
        except psutil.Error:
            seconds[name] = 0.0
    return seconds


def mongo_commands(metrics_url: str) -> dict[str, int]:
    """MongoDB commands a service sent so far by name, and under "documents written" the documents its write commands
    wrote (a bulk command counts each of its documents), from its Prometheus metrics."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    counts: dict[str, int] = defaultdict(int)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if family.name == "mednet_mongodb_command_seconds" and sample.name.endswith("_count"):
                counts[sample.labels["command"]] += int(sample.value)
            elif family.name == "mednet_mongodb_documents_written" and sample.name.endswith("_total"):
                counts[DOCUMENTS_WRITTEN] += int(sample.value)
    return dict(counts)


def writes_of(commands: dict[str, int]) -> tuple[int, int]:
    """(write commands, documents written) out of mongo_commands()."""
    return sum(commands.get(name, 0) for name in WRITE_COMMANDS), commands.get(DOCUMENTS_WRITTEN, 0)


async def batches_between(consumer: AIOKafkaConsumer, ranges: dict, max_records: int,
                          enough=lambda tp: False) -> AsyncIterator[tuple]:
    """(partition, records) for each partition's records in [start, end), until every partition reached its end
    (or has `enough`) or the topic stays silent for 2 s."""
    consumer.assign(list(ranges))
    for tp, (start, _) in ranges.items():
        consumer.seek(tp, start)
    pending = set(ranges)
    while pending:
        batches = await consumer.getmany(*pending, timeout_ms=2000, max_records=max_records)
        if not batches:
            return
        for tp, records in batches.items():
            yield tp, [record for record in records if record.offset < ranges[tp][1]]
            if records[-1].offset + 1 >= ranges[tp][1] or enough(tp):
                pending.discard(tp)
