"""The fuzz run: hostile records interleaved with valid submissions on firms' inbound topics, read by intake
instances running as processes. Every hostile record must be rejected with a reason or dead-lettered, every
valid one opened as a case of the topic's firm, and no instance may crash."""

from __future__ import annotations

import asyncio
import copy
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import Progress

from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.kafka import PRODUCER_DEFAULTS, ensure_topics

from .. import records
from ..fleet import NO_INHERITED_KEY_SET, local_secrets
from .hostile import Hostile, generate
from .inspect import dead_letters
from .instances import Instance, instances
from .workload import case_document, firm_ids, mediator_ids


@dataclass
class FuzzFigures:
    hostile_sent: int
    hostile_rejected_with_reason: int
    hostile_dead_lettered: int
    hostile_unaccounted: int
    valid_sent: int
    valid_processed: int
    valid_lost: int
    cases_opened_for_another_firm: int
    instance_crashes: int
    seconds: float
    hostile_kinds: dict[str, int] = field(default_factory=dict)
    unaccounted_examples: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (self.hostile_unaccounted == 0 and self.valid_lost == 0 and self.instance_crashes == 0
                and self.cases_opened_for_another_firm == 0
                and self.hostile_rejected_with_reason + self.hostile_dead_lettered == self.hostile_sent)

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


@dataclass(frozen=True)
class Sent:
    firm: str
    partition: int
    offset: int
    event_id: str | None
    hostile: Hostile | None


class FuzzRun:
    def __init__(self, bootstrap: str, mongodb_url: str, run_dir: Path, console: Console, *, hostile: int = 10_000,
                 valid: int = 1_000, instances_of_intake: int = 2, seed: int = 0, environment: dict | None = None):
        self.bootstrap, self.mongodb_url, self.console = bootstrap, mongodb_url, console
        self.run_id = uuid.uuid4().hex[:6]
        self.rng = random.Random(seed or None)
        self.seed = self.rng.getrandbits(32)
        self.firms = firm_ids(f"fz{self.run_id}", 4)
        self.hostile_count, self.valid_count = hostile, valid
        self.instances: list[Instance] = instances({"intake": instances_of_intake}, run_dir)
        self.environment = {
            **NO_INHERITED_KEY_SET, **local_secrets(run_dir), **(environment or {}),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "MONGODB_URL": mongodb_url,
            "MEDNET_INTAKE_CONSUMER_GROUP_ID": f"fuzz-{self.run_id}-intake",
            "MEDNET_INTAKE_MONGODB_DATABASE": f"fuzz_{self.run_id}_intake",
            "MEDNET_INTAKE_INBOUND_TOPIC_PATTERN": rf"mednet\.firm\.chaos-fz{self.run_id}-f[0-9]+\.inbound$",
            "MEDNET_LOG_LEVEL": "WARNING"}

    async def run(self) -> FuzzFigures:
        started = time.monotonic()
        inbound = [Topics.firm_inbound(firm) for firm in self.firms]
        await ensure_topics(self.bootstrap, [Topics.INTAKE, *inbound], timeout=60)
        with self.console.status("generating hostile records with hypothesis"):
            messages = await asyncio.to_thread(self._messages)
        for instance in self.instances:
            instance.start(self.environment)
        try:
            await self._until_ready()
            pids = {instance.name: instance.process.pid() for instance in self.instances}
            sent = await self._send(messages)
            await self._until_consumed(inbound, len(sent))
            crashes = sum(1 for i in self.instances if i.process.pid() != pids[i.name] or not i.ready())
            return await self._judge(sent, crashes, time.monotonic() - started)
        finally:
            for instance in self.instances:
                await asyncio.to_thread(instance.stop)

    def _messages(self) -> list[tuple[str, bytes, str | None, Hostile | None]]:
        base = case_document("fuzz", mediator_ids(self.run_id, 1)[0], 2, self.firms,
                             _in_days(30), self.rng)
        hostile = [(self.rng.choice(self.firms), h.value, h.event_id, h)
                   for h in generate(base, self.hostile_count, self.seed)]
        valid = []
        for n in range(self.valid_count):
            document = copy.deepcopy(base) | {"external_ref": f"fuzz-{self.run_id}-{n}"}
            event_id = str(uuid.uuid4())
            event = CloudEvent(id=event_id, type="mednet.SubmitCase.v1", source="/firms/fuzz",
                               subject=document["external_ref"], time=_in_days(0), data=document)
            valid.append((self.rng.choice(self.firms), event.model_dump_json(exclude_none=True).encode(), event_id, None))
        mixed = hostile + valid
        self.rng.shuffle(mixed)
        return mixed

    async def _until_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not all(instance.ready() for instance in self.instances):
            if time.monotonic() > deadline:
                raise RuntimeError("intake instances not ready: " + "; ".join(i.process.tail(5) for i in self.instances))
            await asyncio.sleep(0.3)

    async def _send(self, messages) -> list[Sent]:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, max_request_size=2_000_000, **PRODUCER_DEFAULTS)
        await producer.start()
        sent: list[Sent] = []
        try:
            with Progress(console=self.console, transient=True) as progress:
                task = progress.add_task("sending hostile and valid records", total=len(messages))
                for start in range(0, len(messages), 500):
                    batch = messages[start:start + 500]
                    futures = [await producer.send(Topics.firm_inbound(firm), value, key=str(n).encode())
                               for n, (firm, value, _, _) in enumerate(batch)]
                    for (firm, _, event_id, hostile), metadata in zip(batch, await asyncio.gather(*futures)):
                        sent.append(Sent(firm, metadata.partition, metadata.offset, event_id, hostile))
                    progress.advance(task, len(batch))
        finally:
            await producer.stop()
        return sent

    async def _until_consumed(self, topics: list[str], total: int, timeout: float = 900) -> None:
        group = self.environment["MEDNET_INTAKE_CONSUMER_GROUP_ID"]
        ends = await records.end_offsets(self.bootstrap, topics)
        deadline = time.monotonic() + timeout
        with Progress(console=self.console, transient=True) as progress:
            task = progress.add_task("intake working through them", total=sum(ends.values()))
            while time.monotonic() < deadline:
                done = await records.committed_offsets(self.bootstrap, group)
                behind = sum(end - done.get(tp, 0) for tp, end in ends.items())
                progress.update(task, completed=sum(ends.values()) - behind)
                if behind == 0:
                    return
                await asyncio.sleep(1)
        raise RuntimeError(f"intake did not work through {total} records within {timeout:.0f}s")

    async def _judge(self, sent: list[Sent], crashes: int, seconds: float) -> FuzzFigures:
        opened, rejected = {}, set()
        for record in await records.read_all(self.bootstrap, [Topics.INTAKE]):
            try:
                event = CloudEvent.from_bytes(record.value)
            except EnvelopeError:
                continue
            if event.type == "mednet.CaseOpened.v1":
                opened[event.causationid] = event.data["firm_id"]
            elif event.type == "mednet.CaseRejected.v1" and event.data.get("reasons"):
                rejected.add(event.causationid)
            elif (event.type == "mednet.CommandRejected.v1" and event.data.get("reasons")
                  and not event.data.get("dead_letter_topic")):   # a dead letter's answer is counted as dead-lettered
                rejected.add(event.data.get("command_id"))
        letters = {(d.topic, d.partition, d.offset) for d in await dead_letters(self.bootstrap)}
        hostile = [s for s in sent if s.hostile]
        valid = [s for s in sent if not s.hostile]
        was_rejected = {n for n, s in enumerate(hostile) if s.event_id and s.event_id in rejected}
        was_dead = {n for n, s in enumerate(hostile) if (Topics.firm_inbound(s.firm), s.partition, s.offset) in letters}
        accounted = was_rejected | was_dead
        unaccounted = [s for n, s in enumerate(hostile) if n not in accounted]
        kinds = Counter(s.hostile.kind for s in hostile)
        return FuzzFigures(
            hostile_sent=len(hostile), hostile_rejected_with_reason=len(was_rejected),
            hostile_dead_lettered=len(was_dead), hostile_unaccounted=len(unaccounted),
            valid_sent=len(valid), valid_processed=sum(1 for s in valid if s.event_id in opened),
            valid_lost=sum(1 for s in valid if s.event_id not in opened),
            cases_opened_for_another_firm=sum(1 for s in valid if opened.get(s.event_id, s.firm) != s.firm),
            instance_crashes=crashes, seconds=round(seconds, 1), hostile_kinds=dict(kinds),
            unaccounted_examples=[f"{s.hostile.kind}: {s.hostile.value[:120]!r}" for s in unaccounted[:10]])


def _in_days(days: int):
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=9, minute=0, second=0, microsecond=0)


def save(figures: FuzzFigures, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures.as_dict(), indent=2))
