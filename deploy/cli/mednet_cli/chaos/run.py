"""A chaos run: the whole flow for many cases on a three-broker cluster while service instances are SIGKILLed
and a broker dies, then the verdict: nothing lost, nothing doubled, everything drained."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.kafka import PRODUCER_DEFAULTS, ensure_topics

from ..fleet import NO_INHERITED_KEY_SET, PLAYED_MEDIATOR, local_secrets
from ..tokens import Issuer
from ..processes import free_port
from ..stack import Stack
from . import inspect, workload
from .chooser import Chooser
from .instances import Instance, instances
from .ledger import Ledger, follow
from ..smtp_sink import Mailbox, SmtpSink
from .mediator import Mediators
from .monkey import Monkey
from .verdict import Figures, judge, missing_for

SERVICES = ("intake", "scheduling", "notes", "notify")


@dataclass
class Plan:
    cases: int = 2000
    poison: int = 40
    per_service: int = 2
    firms: int = 8
    mediators: int = 0
    submit_seconds: float = 120.0
    kill_every: tuple[float, float] = (2.0, 5.0)
    restart_after: tuple[float, float] = (0.5, 2.0)
    broker_kill: bool = True
    broker_down_seconds: float = 15.0
    drain_timeout: float = 900.0
    mediator_workers: int = 16
    seed: int = 0

    @property
    def mediator_count(self) -> int:
        return self.mediators or max(4, self.cases // 8)


class ChaosRun:
    def __init__(self, plan: Plan, data_dir: Path, console: Console) -> None:
        self.plan, self.data_dir, self.console = plan, data_dir, console
        self.run_id = uuid.uuid4().hex[:6]
        self.rng = random.Random(plan.seed or None)
        self.stack = Stack(data_dir / "stack", brokers=3, mongo_port=free_port(),
                           kafka_ports=[(free_port(), free_port()) for _ in range(3)])
        self.instances: list[Instance] = instances({s: plan.per_service for s in SERVICES}, data_dir)
        self.firms = workload.firm_ids(self.run_id, plan.firms)
        self.ledger = Ledger(firms=frozenset(self.firms))
        self.queue: asyncio.Queue = asyncio.Queue()
        self.ledger.on_scheduled = self.queue.put_nowait
        self.chooser = Chooser(self.stack.bootstrap, self.ledger, random.Random(self.rng.getrandbits(32)))
        self.ledger.on_offered = self.chooser.offered
        seed = self.rng.getrandbits(32)
        self.submissions = workload.submissions(self.run_id, plan.cases, self.firms,
                                                workload.mediator_ids(self.run_id, plan.mediator_count), seed)
        self.poison = workload.poison(self.firms, plan.poison, seed)
        self.poison_positions: list[tuple[workload.Poison, int, int]] = []
        self.submitted = 0

    async def run(self) -> Figures:
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
        self.console.log(f"chaos run {self.run_id}: {self.plan.cases} cases, {self.plan.poison} poison records, "
                         f"{self.plan.per_service} instances per service, 3 Kafka brokers")
        await asyncio.to_thread(self.stack.up, lambda step: self.console.log(step))
        try:
            # summaries only: aiosmtpd reads every property of its handler on each connection, and
            # Mailbox.messages parses every message kept, so a long run's sink would stop answering
            with SmtpSink(free_port(), Mailbox(keep=False)) as sink:
                return await self._run_with(sink)
        finally:
            await asyncio.to_thread(self._tear_down)

    async def _run_with(self, sink: SmtpSink) -> Figures:
        environment = self._environment(sink.port)
        await ensure_topics(self.stack.bootstrap, [*Topics.service_topics(),
                                                   *(Topics.firm_inbound(f) for f in self.firms),
                                                   *(Topics.firm_outbound(f) for f in self.firms)],
                            replication=3, timeout=60)
        await self._start_services(environment)
        monkey = Monkey(self.instances, environment, self.plan.kill_every, self.plan.restart_after, self.rng,
                        on_fault=lambda what: self.console.log(f"[red]fault[/red] {what}"))
        stopped, faults_over = asyncio.Event(), asyncio.Event()
        async with httpx.AsyncClient(timeout=10) as http:
            mediators = Mediators(self.instances, Issuer(self.data_dir), http)
            background = [asyncio.create_task(follow(self.stack.bootstrap, self.ledger, stopped)),
                          asyncio.create_task(self.chooser.work()),
                          *(asyncio.create_task(mediators.work(self.queue)) for _ in range(self.plan.mediator_workers))]
            try:
                with self._progress(sink, mediators) as progress:
                    faults = [asyncio.create_task(monkey.kill_services(faults_over))]
                    if self.plan.broker_kill:
                        faults.append(asyncio.create_task(monkey.kill_broker(
                            self.stack, self.plan.submit_seconds / 3, self.plan.broker_down_seconds, faults_over)))
                    await self._submit()
                    faults_over.set()
                    await asyncio.gather(*faults)
                    await monkey.revive_all()
                    self.console.log(f"faults over ({len(monkey.faults)} injected); draining")
                    drained = await self._drain(sink, progress)
                figures = judge(self.submissions, self.poison_positions, self.ledger, sink.mailbox,
                                await inspect.dead_letters(self.stack.bootstrap),
                                await inspect.outbox_backlog(self.stack.mongo.url),
                                await inspect.consumer_lag(self.stack.bootstrap), len(monkey.faults), drained,
                                choices_resent=self.chooser.resent)
            finally:
                faults_over.set()
                stopped.set()
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
        return figures

    def _environment(self, smtp_port: int) -> dict[str, str]:
        return {**NO_INHERITED_KEY_SET, **PLAYED_MEDIATOR, **self.stack.environment, **local_secrets(self.data_dir),
                "MEDNET_NOTIFY_SMTP_PORT": str(smtp_port),
                "MEDNET_LOG_LEVEL": "INFO"}

    async def _start_services(self, environment: dict[str, str]) -> None:
        for instance in self.instances:
            instance.start(environment)
        deadline = time.monotonic() + 120
        while not all(instance.ready() for instance in self.instances):
            if time.monotonic() > deadline:
                raise RuntimeError("service instances not ready after 120 s: " + ", ".join(
                    f"{i.name}: {i.process.tail(5)}" for i in self.instances if not i.ready()))
            await asyncio.sleep(0.5)
        self.console.log(f"{len(self.instances)} service instances ready")

    async def _submit(self) -> None:
        records = [(s.record, None) for s in self.submissions] + [(p.record, p) for p in self.poison]
        self.rng.shuffle(records)
        pause = self.plan.submit_seconds / max(1, len(records))
        producer = AIOKafkaProducer(bootstrap_servers=self.stack.bootstrap, **PRODUCER_DEFAULTS)
        await producer.start()
        try:
            started = time.monotonic()
            for n, (record, poison) in enumerate(records):
                headers = [(k, v.encode()) for k, v in record.headers.items()]
                sent = await producer.send_and_wait(record.topic, record.value, key=record.key, headers=headers)
                if poison is not None:
                    self.poison_positions.append((poison, sent.partition, sent.offset))
                else:
                    self.submitted += 1
                await asyncio.sleep(max(0.0, started + (n + 1) * pause - time.monotonic()))
        finally:
            await producer.stop()

    async def _drain(self, sink: SmtpSink, progress) -> float | None:
        started = time.monotonic()
        while time.monotonic() - started < self.plan.drain_timeout:
            await asyncio.sleep(2)
            if any(missing_for(s, self.ledger, sink.mailbox) for s in self.submissions):
                continue
            if await self._quiet() and await self._quiet(after=2.0):
                return round(time.monotonic() - started, 1)
        return None

    async def _quiet(self, after: float = 0.0) -> bool:
        """No alert due and unsent, no outbox entry, no consumer lag: twice, 2 s apart, so that an alert sent just
        now (and the NotificationSent it leaves in the outbox) is not missed."""
        await asyncio.sleep(after)
        if await inspect.alerts_due(self.stack.mongo.url):
            return False
        backlog = await inspect.outbox_backlog(self.stack.mongo.url)
        return not sum(backlog.values()) and not sum((await inspect.consumer_lag(self.stack.bootstrap)).values())

    def _progress(self, sink: SmtpSink, mediators: Mediators):
        return LiveProgress(self, sink, mediators)

    def _tear_down(self) -> None:
        for instance in self.instances:
            instance.stop()
        self.stack.down()


class LiveProgress:
    """A rich progress display refreshed from the ledger, the mailbox and the mediators."""

    def __init__(self, run: ChaosRun, sink: SmtpSink, mediators: Mediators) -> None:
        self.run, self.sink, self.mediators = run, sink, mediators
        self.progress = Progress(TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=run.console)
        calls = sum(s.parties for s in run.submissions)
        cases = len(run.submissions)
        self.tasks = {name: self.progress.add_task(name, total=total) for name, total in (
            ("cases submitted", cases), ("cases opened", cases), ("slots offered", calls), ("offers chosen", calls),
            ("calls booked", calls),
            ("calls completed + notes", calls), ("briefs ready", cases))}
        self._refresher: asyncio.Task | None = None

    def __enter__(self) -> LiveProgress:
        self.progress.start()
        self._refresher = asyncio.get_running_loop().create_task(self._refresh())
        return self

    def __exit__(self, *exc) -> None:
        self._refresher.cancel()
        self._update()
        self.progress.stop()

    async def _refresh(self) -> None:
        while True:
            self._update()
            await asyncio.sleep(0.5)

    def _update(self) -> None:
        ledger = self.run.ledger
        for name, value in (("cases submitted", self.run.submitted), ("cases opened", len(ledger.opened)),
                            ("slots offered", len(ledger.offers)), ("offers chosen", len(ledger.choices)),
                            ("calls booked", len(ledger.calls)), ("calls completed + notes", self.mediators.recorded),
                            ("briefs ready", len(ledger.briefs))):
            self.progress.update(self.tasks[name], completed=value)


def report(figures: Figures, console: Console) -> None:
    table = Table(title="chaos run: the verdict", show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("expected", justify="right")
    expected = {"cases_lost": 0, "duplicate_alerts": 0, "double_bookings": 0, "outbox_backlog": 0,
                "consumer_lag": 0, "unexpected_dead_letters": 0, "choices_refused": 0, "choices_lost": 0,
                "calls_offered_twice": 0, "calls_booked_twice": 0, "bookings_without_choice": 0,
                "dead_letters_distinct": figures.poison_injected, "dead_letters_matching_poison": figures.poison_injected}
    for name, value in figures.as_dict().items():
        if name in ("lost_examples", "duplicate_examples", "consent_examples", "passed"):
            continue
        want = expected.get(name)
        style = "" if want is None else ("green" if value == want else "bold red")
        table.add_row(name.replace("_", " "), f"[{style}]{value}[/{style}]" if style else str(value),
                      "" if want is None else str(want))
    console.print(table)
    for example in figures.lost_examples:
        console.print(f"  lost: {example}")
    for example in figures.duplicate_examples:
        console.print(f"  duplicate: {example}")
    for example in figures.consent_examples:
        console.print(f"  {example}")
    console.print("[bold green]PASSED[/]" if figures.passed else "[bold red]FAILED[/]")


def save(figures: Figures, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures.as_dict(), indent=2))
