"""The raw limit: the pipeline's Kafka records and MongoDB writes, moved by minimal loops and nothing else.

One process per service, as in the pipeline. Each reads the same topics with the same number of consumer
groups, forwards along the same hops with the same fan-out (inbound -> intake -> scheduling -> notes/notify
and the firms' outbound topics; the firm's outbound topic -> its choices on the inbound topic), writes records of the same mean size with the same durability (acks=all,
idempotent producer, offsets committed after the forward was acknowledged), and makes as many MongoDB write commands
as that service sent, carrying as many documents as it wrote (insert_one, or insert_many where the service's
commands carried several documents each).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
import uuid
from dataclasses import dataclass, field

from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.kafka import PRODUCER_DEFAULTS, ensure_topics

WRITERS_PER_PROCESS = 4


@dataclass(frozen=True)
class Emit:
    label: str
    count: int
    size: int


@dataclass(frozen=True)
class Role:
    source: str
    expected: int
    emits: tuple[Emit, ...] = ()
    basis: int | None = None  # after this many records every emit is due (the firm's submissions, not its choices)


@dataclass(frozen=True)
class RawProcess:
    name: str
    roles: tuple[Role, ...]
    writes: int
    documents: int = 0

    def batches(self) -> list[int]:
        """Documents per write command: as many commands as the service sent, carrying as many documents as it
        wrote (each command at least one)."""
        if self.writes <= 0:
            return []
        documents = max(self.documents, self.writes)
        return [documents // self.writes + (1 if n < documents % self.writes else 0) for n in range(self.writes)]


@dataclass(frozen=True)
class RawPlan:
    run: str
    bootstrap: str
    mongo_url: str
    seed: Emit
    processes: tuple[RawProcess, ...]
    replication: int = 1

    def topic(self, label: str) -> str:
        return f"bench.raw.{self.run}.{label}"

    @property
    def labels(self) -> list[str]:
        return sorted({self.seed.label} | {r.source for p in self.processes for r in p.roles}
                      | {e.label for p in self.processes for r in p.roles for e in r.emits})

    @property
    def messages(self) -> int:
        return self.seed.count + sum(e.count for p in self.processes for r in p.roles for e in r.emits)


def label_of(topic: str, inbound: str, outbound: str | None = None) -> str:
    names = {inbound: "inbound", outbound: "outbound", Topics.INTAKE: "intake", Topics.SCHEDULING: "scheduling", Topics.NOTES: "notes",
             Topics.NOTIFY: "notify"}
    return names.get(topic, "other")


def plan_like(run: str, bootstrap: str, mongo_url: str, inbound: str, records: dict[str, int],
              sizes: dict[str, float], writes: dict[str, int], replication: int = 1,
              documents: dict[str, int] | None = None, *, outbound: str | None = None,
              submissions: int | None = None) -> RawPlan:
    """The raw equivalent of what the pipeline did in one phase (records and sizes per topic, write commands and
    documents written per service). Of the inbound records, `submissions` are the seed and the rest the firm's
    choices, sent as it reads its outbound topic (all of them seed without `submissions`)."""
    count: dict[str, int] = {}
    volume: dict[str, float] = {}
    for topic, records_of_topic in records.items():
        label = label_of(topic, inbound, outbound)
        count[label] = count.get(label, 0) + records_of_topic
        volume[label] = volume.get(label, 0.0) + records_of_topic * sizes.get(topic, 1000.0)

    def emit(label: str) -> Emit:
        return Emit(label, count.get(label, 0), int(volume.get(label, 0) / max(1, count.get(label, 0))))

    def role(source: str, *emits: str, basis: int | None = None) -> Role:
        return Role(source, count.get(source, 0), tuple(e for e in map(emit, emits) if e.count), basis)

    seed = emit("inbound")
    seeded = seed.count if submissions is None else min(submissions, seed.count)
    choices = Emit("inbound", seed.count - seeded, seed.size)
    shapes = {"intake": [role("inbound", "intake", basis=seeded)],
              "scheduling": [role("intake", "scheduling"), role("inbound")],
              "notes": [role("intake"), role("scheduling", "notes"), role("inbound")],
              "notify": [role("intake"), role("scheduling", "notify", "outbound", "other"), role("notes")],
              "firm": [Role("outbound", count.get("outbound", 0), (choices,) if choices.count else ())]}
    processes = tuple(RawProcess(name, tuple(r for r in roles if r.expected), writes.get(name, 0),
                                 (documents or {}).get(name, 0))
                      for name, roles in shapes.items())
    return RawPlan(run, bootstrap, mongo_url, Emit("inbound", seeded, seed.size),
                   tuple(p for p in processes if p.roles or p.writes), replication)


@dataclass
class RawResult:
    seconds: float
    kafka_seconds: float
    mongo_seconds: float
    messages: int
    writes: int
    documents: int = 0
    per_process: dict[str, dict[str, float]] = field(default_factory=dict)


def measure(plan: RawPlan, timeout: float = 600.0) -> RawResult:
    asyncio.run(ensure_topics(plan.bootstrap, [plan.topic(label) for label in plan.labels],
                              replication=plan.replication))
    context = multiprocessing.get_context("spawn")
    go, results = context.Event(), context.Queue()
    readies, children = [], []
    for process in plan.processes:
        ready = context.Event()
        child = context.Process(target=run_process, args=(plan, process, ready, go, results), daemon=True,
                                name=f"raw-{process.name}")
        child.start()
        readies.append(ready)
        children.append(child)
    try:
        for ready, child in zip(readies, children, strict=True):
            if not ready.wait(120):
                raise RuntimeError(f"the raw {child.name} loop did not get ready within 120s")
        started = asyncio.run(_seed(plan, go))
        finished = [results.get(timeout=timeout) for _ in children]
    finally:
        for child in children:
            child.join(10)
            if child.is_alive():
                child.kill()
    by_name = {f["name"]: {"kafka": f["kafka_done"] - started, "mongo": f["mongo_done"] - started}
               for f in finished}
    kafka = max(f["kafka_done"] for f in finished) - started
    mongo = max(f["mongo_done"] for f in finished) - started
    return RawResult(max(kafka, mongo), kafka, mongo, plan.messages, sum(p.writes for p in plan.processes),
                     sum(sum(p.batches()) for p in plan.processes), by_name)


def run_process(plan: RawPlan, process: RawProcess, ready, go, results) -> None:
    results.put(asyncio.run(_process(plan, process, ready, go)))


async def _process(plan: RawPlan, process: RawProcess, ready, go) -> dict:
    from aiokafka import AIOKafkaProducer
    from pymongo import AsyncMongoClient

    producer = AIOKafkaProducer(bootstrap_servers=plan.bootstrap, **PRODUCER_DEFAULTS)
    await producer.start()
    mongo = AsyncMongoClient(plan.mongo_url, tz_aware=True)
    await mongo.admin.command("ping")
    consumers = [await _assigned_consumer(plan, process, role) for role in process.roles]
    collection = mongo[f"bench_raw_{plan.run}"][process.name]
    ready.set()
    while not go.is_set():
        await asyncio.sleep(0.002)
    done: dict[str, float] = {}

    async def kafka() -> None:
        await asyncio.gather(*(_relay(plan, role, consumer, producer)
                               for role, consumer in zip(process.roles, consumers, strict=True)))
        done["kafka_done"] = time.time()

    async def writes() -> None:
        batches = process.batches()
        await asyncio.gather(*(_write(collection, process.name, worker, batches)
                               for worker in range(WRITERS_PER_PROCESS)))
        done["mongo_done"] = time.time()

    try:
        await asyncio.gather(kafka(), writes())
    finally:
        for consumer in consumers:
            await consumer.stop()
        await producer.stop()
        await mongo.close()
    return {"name": process.name, **done}


async def _assigned_consumer(plan: RawPlan, process: RawProcess, role: Role):
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(plan.topic(role.source), bootstrap_servers=plan.bootstrap,
                                group_id=f"bench-raw-{plan.run}-{process.name}-{role.source}",
                                enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=500)
    await consumer.start()
    while not consumer.assignment():
        await asyncio.sleep(0.05)
    return consumer


async def _relay(plan: RawPlan, role: Role, consumer, producer) -> None:
    """Consume, forward the share of records this many consumed records call for, wait for the acks, commit."""
    consumed, emitted = 0, {emit.label: 0 for emit in role.emits}
    while consumed < role.expected:
        batches = await consumer.getmany(timeout_ms=100)
        consumed += sum(len(records) for records in batches.values())
        sends = []
        basis = role.basis or role.expected
        for emit in role.emits:
            due = emit.count if consumed >= basis else emit.count * consumed // basis
            for _ in range(due - emitted[emit.label]):
                sends.append(await producer.send(plan.topic(emit.label), os.urandom(emit.size // 2).hex().encode(),
                                                 key=uuid.uuid4().bytes))
            emitted[emit.label] = due
        if sends:
            await asyncio.gather(*sends)
        if batches:
            await consumer.commit()


async def _write(collection, name: str, worker: int, batches: list[int]) -> None:
    for n in range(worker, len(batches), WRITERS_PER_PROCESS):
        documents = [{"_id": f"{name}-{n}-{k}", "payload": "x" * 512, "n": n} for k in range(batches[n])]
        if len(documents) == 1:
            await collection.insert_one(documents[0])
        else:
            await collection.insert_many(documents)


async def _seed(plan: RawPlan, go) -> float:
    """Start every loop at once and send the firms' records as fast as possible; returns the start time."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=plan.bootstrap, **PRODUCER_DEFAULTS)
    await producer.start()
    try:
        started = time.time()
        go.set()
        sends = [await producer.send(plan.topic(plan.seed.label), os.urandom(plan.seed.size // 2).hex().encode(),
                                     key=uuid.uuid4().bytes) for _ in range(plan.seed.count)]
        await asyncio.gather(*sends)
        return started
    finally:
        await producer.stop()
