"""The full pipeline under load: the four services as processes on their own databases, groups and ports, a
firm of its own (its inbound and outbound topics; it chooses every offered slot at once), and an SMTP sink that
notes when each invitation arrives."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.kafka import PRODUCER_DEFAULTS, ensure_topics

from .. import fleet
from ..processes import ManagedProcess, free_port, port_answers
from . import measure
from .firm import Chooser
from ..smtp_sink import Receipts, command as sink_command
from .workload import BenchCase

SERVICES = ("intake", "scheduling", "notes", "notify")
READS = {"scheduling": [Topics.INTAKE], "notes": [Topics.INTAKE, Topics.SCHEDULING],
         "notify": [Topics.INTAKE, Topics.SCHEDULING, Topics.NOTES]}


class PipelineStalled(RuntimeError):
    pass


@dataclass
class PhaseResult:
    name: str
    cases: int
    invitations: int
    target_rate: float | None
    started: float
    seconds: float
    submitted: dict[str, float]
    first_invitation: dict[str, float]
    records: dict[str, int]
    sizes: dict[str, float]
    cpu_seconds: dict[str, float]
    writes: dict[str, int]
    documents: dict[str, int] = field(default_factory=dict)
    commands: dict[str, dict[str, int]] = field(default_factory=dict)
    instances: dict[str, int] = field(default_factory=dict)
    stages: dict[str, list[float]] = field(default_factory=dict)
    consent: dict[str, list[float]] = field(default_factory=dict)
    choices: int = 0

    @property
    def cases_per_second(self) -> float:
        return self.cases / self.seconds

    @property
    def events(self) -> int:
        return sum(self.records.values())

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds

    @property
    def latencies_ms(self) -> list[tuple[float, float]]:
        """(seconds since the phase started, milliseconds from submission to the case's first invitation)."""
        return sorted((self.submitted[ref] - self.started, (at - self.submitted[ref]) * 1000)
                      for ref, at in self.first_invitation.items())


class Pipeline:
    def __init__(self, run: str, data_dir: Path, bootstrap: str, mongo_url: str, replication: int = 1) -> None:
        self.run, self.data_dir = run, data_dir
        self.bootstrap, self.mongo_url, self.replication = bootstrap, mongo_url, replication
        self.firm = f"bench-{run}"
        self.inbound, self.outbound = Topics.firm_inbound(self.firm), Topics.firm_outbound(self.firm)
        self.sink_port = free_port()
        self.sink = ManagedProcess("bench-smtp-sink", data_dir / "run", data_dir / "logs")
        self.receipts = Receipts(data_dir / "receipts.jsonl")
        self.instances: dict[str, list[fleet.ServiceProcess]] = {name: [] for name in SERVICES}

    def environment(self, name: str) -> dict[str, str]:
        prefix = f"MEDNET_{name.upper()}_"
        own = {f"{prefix}MONGODB_DATABASE": f"bench_{self.run}_{name}",
               f"{prefix}CONSUMER_GROUP_ID": f"bench-{self.run}-{name}",
               f"{prefix}INBOUND_TOPIC_PATTERN": rf"mednet\.firm\.{self.firm}\.inbound$"}
        return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "MONGODB_URL": self.mongo_url,
                "MEDNET_TOPIC_REPLICATION": str(self.replication), "MEDNET_NOTIFY_SMTP_PORT": str(self.sink_port),
                **fleet.NO_INHERITED_KEY_SET, **fleet.local_secrets(self.data_dir), **own}

    async def prepare(self) -> None:
        """Topics exist; every new group starts at the current end, not at other runs' history."""
        await ensure_topics(self.bootstrap, [*Topics.service_topics(), self.inbound, self.outbound], 3, self.replication)
        for name, topics in READS.items():
            await _start_at_end(self.bootstrap, f"bench-{self.run}-{name}", topics)

    def start(self) -> None:
        self.sink.start([sys.executable, "-X", self.sink.marker, "-m", "mednet_cli.smtp_sink",
                         *sink_command("127.0.0.1", self.sink_port, receipts=self.receipts.path)])
        self.sink.wait_until(lambda: port_answers(self.sink_port), 30, "listening")
        for name in SERVICES:
            self.add_instance(name, wait=False)
        for processes in self.instances.values():
            processes[0].wait_ready(120)

    def add_instance(self, name: str, wait: bool = True) -> fleet.ServiceProcess:
        service = fleet.ServiceProcess(name, free_port(), self.data_dir, instance=len(self.instances[name]))
        service.start(self.environment(name))
        self.instances[name].append(service)
        if wait:
            service.wait_ready(120)
        return service

    async def settled(self, name: str, timeout: float = 60.0) -> None:
        """Wait until the service's consumer group is stable with every instance in it."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for response in await admin.describe_consumer_groups([f"bench-{self.run}-{name}"]):
                    if any(g[2] == "Stable" and len(g[5]) >= len(self.instances[name]) for g in response.groups):
                        return
                await asyncio.sleep(0.5)
            raise PipelineStalled(f"the {name} group did not settle with {len(self.instances[name])} members")
        finally:
            await admin.close()

    def stop(self) -> None:
        for processes in self.instances.values():
            for service in processes:
                service.process.stop(timeout=15)
        self.sink.stop()

    def pids(self) -> dict[str, int]:
        return {_label(s): s.process.pid() or 0 for processes in self.instances.values() for s in processes}

    def commands(self) -> dict[str, dict[str, int]]:
        """MongoDB commands by name per service, over its instances (see measure.mongo_commands)."""
        totals: dict[str, dict[str, int]] = {}
        for name, processes in self.instances.items():
            totals[name] = {}
            for service in processes:
                for command, count in measure.mongo_commands(f"{service.url}/metrics").items():
                    totals[name][command] = totals[name].get(command, 0) + count
        return totals

    def logs_tail(self) -> str:
        return "\n".join(f"--- {_label(s)}\n{s.process.tail(8)}" for ps in self.instances.values() for s in ps)


def _label(service: fleet.ServiceProcess) -> str:
    return service.name + (f"#{service.instance + 1}" if service.instance else "")


async def _start_at_end(bootstrap: str, group: str, topics: list[str]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        for _ in range(20):
            await consumer._client.force_metadata_update()
            if all(consumer.partitions_for_topic(t) for t in topics):
                break
            await asyncio.sleep(0.25)
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        if not partitions:
            return
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def drive(pipeline: Pipeline, name: str, cases: list[BenchCase], rate: float | None,
                extra_pids: dict[str, int], on_progress=lambda received, expected: None,
                stall_seconds: float = 90.0) -> PhaseResult:
    """Submit every case (as fast as possible, or paced at `rate` per second), choose every offered slot at once,
    and wait for every invitation."""
    pids = {**pipeline.pids(), **extra_pids}
    offsets, cpu, commands = await measure.end_offsets(pipeline.bootstrap), measure.cpu_seconds(pids), pipeline.commands()
    owner = {address: case.reference for case in cases for address in case.addresses}
    expected = sum(case.invitations for case in cases)
    submitted: dict[str, float] = {}
    first: dict[str, float] = {}
    received, last_receipt = 0, 0.0
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.bootstrap, **PRODUCER_DEFAULTS)
    await producer.start()
    pipeline.receipts.poll()
    firm = Chooser(pipeline.bootstrap, pipeline.firm, producer)
    choosing = asyncio.create_task(firm.run(offsets))
    started = time.time()
    sending = asyncio.create_task(_submit(producer, pipeline, cases, rate, submitted))
    try:
        progress_at = time.monotonic()
        while received < expected:
            await asyncio.sleep(0.05)
            ours = [r for r in pipeline.receipts.poll() if r["calendar"] == "REQUEST"
                    and (r["to"] in owner or r["to"].startswith(f"med-{name}-"))]
            for receipt in ours:
                reference = owner.get(receipt["to"])
                if reference and receipt["at"] < first.get(reference, float("inf")):
                    first[reference] = receipt["at"]
                last_receipt = max(last_receipt, receipt["at"])
            if ours:
                received += len(ours)
                progress_at = time.monotonic()
                on_progress(received, expected)
            for task in (sending, choosing):
                if task.done() and task.exception():
                    raise task.exception()
            if time.monotonic() - progress_at > stall_seconds:
                raise PipelineStalled(f"{name}: {received} of {expected} invitations after {stall_seconds:.0f}s "
                                      f"without progress\n{pipeline.logs_tail()}")
        await sending
    finally:
        for task in (sending, choosing):
            task.cancel()
        await asyncio.gather(sending, choosing, return_exceptions=True)
        await producer.stop()
    await asyncio.sleep(1.0)
    after = await measure.end_offsets(pipeline.bootstrap)
    cpu_after, commands_after = measure.cpu_seconds(pids), pipeline.commands()
    sent = {service: {command: count - commands.get(service, {}).get(command, 0) for command, count in after.items()}
            for service, after in commands_after.items()}
    events = await measure.events_between(pipeline.bootstrap, [Topics.INTAKE, Topics.SCHEDULING], offsets, after)
    return PhaseResult(
        name=name, cases=len(cases), invitations=received, target_rate=rate, started=started,
        seconds=last_receipt - min(submitted.values()), submitted=submitted, first_invitation=first,
        records=measure.records_per_topic(offsets, after),
        sizes=await measure.average_sizes(pipeline.bootstrap, offsets, after),
        cpu_seconds={label: cpu_after[label] - cpu.get(label, 0.0) for label in cpu_after},
        writes={service: measure.writes_of(counts)[0] for service, counts in sent.items()},
        documents={service: measure.writes_of(counts)[1] for service, counts in sent.items()},
        commands=sent,
        instances={service: len(processes) for service, processes in pipeline.instances.items()},
        stages=stages(submitted, first, events), consent=consent(firm.chosen, events), choices=firm.choices)


STAGES = ("submitted -> CaseOpened", "CaseOpened -> first CallScheduled", "first CallScheduled -> first invitation")
CONSENT = ("CaseOpened -> first CallSlotsOffered", "first CallSlotsOffered -> first choice sent",
           "first choice sent -> first CallScheduled")


def stages(submitted: dict[str, float], invited: dict[str, float], events: list[dict]) -> dict[str, list[float]]:
    """Where the time goes, per case, in milliseconds: from the events' own timestamps (when each service
    created them) and the SMTP receipt."""
    opened, scheduled = _opened(events), _first(events, "mednet.CallScheduled.v1")
    return _spans(STAGES, {case_id: (submitted.get(reference), at, scheduled.get(case_id), invited.get(reference))
                           for case_id, (reference, at) in opened.items()})


def consent(chosen: dict[str, float], events: list[dict]) -> dict[str, list[float]]:
    """Inside "CaseOpened -> first CallScheduled", per case: scheduling's offer, the firm seeing it on its
    outbound topic and choosing (notify's relay included), scheduling booking the choice."""
    opened = _opened(events)
    offered, scheduled = _first(events, "mednet.CallSlotsOffered.v1"), _first(events, "mednet.CallScheduled.v1")
    return _spans(CONSENT, {case_id: (at, offered.get(case_id), chosen.get(case_id), scheduled.get(case_id))
                            for case_id, (_, at) in opened.items()})


def _opened(events: list[dict]) -> dict[str, tuple[str, float]]:
    return {e["data"]["case_id"]: (e["data"]["external_ref"], datetime.fromisoformat(e["time"]).timestamp())
            for e in events if e["type"] == "mednet.CaseOpened.v1"}


def _first(events: list[dict], event_type: str) -> dict[str, float]:
    first: dict[str, float] = {}
    for event in events:
        if event["type"] == event_type:
            at, case_id = datetime.fromisoformat(event["time"]).timestamp(), event["data"]["case_id"]
            first[case_id] = min(at, first.get(case_id, at))
    return first


def _spans(names: tuple[str, ...], moments: dict[str, tuple]) -> dict[str, list[float]]:
    """Milliseconds between consecutive moments of each case that has them all."""
    result: dict[str, list[float]] = {name: [] for name in names}
    for times in moments.values():
        if None not in times:
            for name, (earlier, later) in zip(names, zip(times, times[1:]), strict=True):
                result[name].append((later - earlier) * 1000)
    return result


async def _submit(producer: AIOKafkaProducer, pipeline: Pipeline, cases: list[BenchCase], rate: float | None,
                  submitted: dict[str, float]) -> None:
    began = time.monotonic()
    sends = []
    for n, case in enumerate(cases):
        if rate:
            await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
        event = case.command(pipeline.firm)
        record = event.to_record(pipeline.inbound)
        submitted[case.reference] = event.time.timestamp()
        sends.append(await producer.send(pipeline.inbound, record.value, key=record.key,
                                         headers=[(k, v.encode()) for k, v in record.headers.items()]))
    await asyncio.gather(*sends)
