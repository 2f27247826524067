"""One benchmark run: warm up, the maximum rate, its raw limit right after it (same machine load, services idle),
half of the maximum rate, and the slowest service doubled."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..processes import free_port
from ..provision import cache_dir
from ..stack import Stack
from . import raw, report
from .pipeline import SERVICES, PhaseResult, Pipeline, drive
from .workload import cases, parties_mix


SETTLE_SECONDS = 3.0  # before each phase: what the previous phase (or the raw loops) left behind settles first


@dataclass(frozen=True)
class BenchOptions:
    cases: int = 200
    parties: str = "2/4"
    out: Path = field(default_factory=lambda: cache_dir() / "bench")
    quick: bool = False
    kafka: str | None = None
    mongodb: str | None = None

    def __post_init__(self) -> None:
        if self.cases < 2:
            raise ValueError(f"--cases must be at least 2, not {self.cases}")
        parties_mix(self.parties)
        if bool(self.kafka) != bool(self.mongodb):
            raise ValueError("give both a Kafka bootstrap and a MongoDB URL, or neither (the bench starts its own)")


@dataclass(frozen=True)
class Infrastructure:
    bootstrap: str
    mongo_url: str
    replication: int
    pids: dict[str, int]


@contextmanager
def infrastructure(options: BenchOptions, data_dir: Path) -> Iterator[Infrastructure]:
    if options.kafka and options.mongodb:
        yield Infrastructure(options.kafka, options.mongodb, int(os.environ.get("MEDNET_TOPIC_REPLICATION", "1")), {})
        return
    stack = Stack(data_dir / "stack", kafka_port=free_port(), kafka_controller_port=free_port(),
                  mongo_port=free_port(), brokers=1)
    try:
        stack.up()
        pids = {"kafka (java)": stack.kafka.process.pid() or 0, "mongo-wire (java)": stack.mongo.process.pid() or 0}
        yield Infrastructure(stack.bootstrap, stack.mongo.url, 1, pids)
    finally:
        stack.down()


def run(options: BenchOptions, console: Console) -> dict:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    mix = parties_mix(options.parties)
    count = options.cases
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:4]
    data_dir = Path(tempfile.mkdtemp(prefix="mednet-bench-"))
    phases: dict[str, PhaseResult] = {}
    try:
        with infrastructure(options, data_dir) as infra:
            pipeline = Pipeline(run_id.replace("-", ""), data_dir, infra.bootstrap, infra.mongo_url, infra.replication)
            try:
                with console.status("starting the four services and the SMTP sink"):
                    asyncio.run(pipeline.prepare())
                    pipeline.start()
                with _progress(console) as progress:
                    def phase(name: str, rate: float | None, size: int = count) -> PhaseResult:
                        time.sleep(SETTLE_SECONDS)
                        task = progress.add_task(name, total=sum(c.invitations for c in cases(name, size, mix)))
                        update = lambda received, _: progress.update(task, completed=received)  # noqa: E731
                        return asyncio.run(drive(pipeline, name, cases(name, size, mix), rate, infra.pids, update))

                    phase("warmup", None, max(4, min(20, count // 5)))
                    phases["max"] = phase("max", None)
                    progress.console.print("raw limit: the same records and writes with minimal loops, right away")
                    limit = raw.measure(raw.plan_like(pipeline.run, infra.bootstrap, infra.mongo_url,
                                                      pipeline.inbound, phases["max"].records, phases["max"].sizes,
                                                      phases["max"].writes, infra.replication,
                                                      phases["max"].documents, outbound=pipeline.outbound,
                                                      submissions=phases["max"].cases))
                    phases["half"] = phase("half", phases["max"].cases_per_second / 2)
                    slowest = _slowest(phases["max"])
                    progress.console.print(f"slowest service by CPU: {slowest}; starting a second instance")
                    pipeline.add_instance(slowest)
                    asyncio.run(pipeline.settled(slowest))
                    phases["max-2x"] = phase("max-2x", None)
            finally:
                pipeline.stop()
    except BaseException:
        console.print(f"the services' and the stack's logs are kept in {data_dir / 'logs'}")
        raise
    shutil.rmtree(data_dir, ignore_errors=True)
    options_record = {**asdict(options), "out": str(options.out)}
    result = report.figures(run_id, options_record, phases, limit, slowest)
    report.show(console, result)
    data, picture = report.save(result, options.out)
    console.print(f"saved {data} and {picture}")
    return result


def _slowest(phase: PhaseResult) -> str:
    return max(SERVICES, key=lambda name: phase.cpu_seconds.get(name, 0.0))


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    columns = (TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(), TextColumn("invitations"),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        yield progress
