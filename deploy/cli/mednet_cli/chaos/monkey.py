"""The faults: SIGKILL a random service instance every few seconds and start it again; kill one Kafka broker
of the three and bring it back."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..stack import Stack
from .instances import Instance

BROKER_RESTART_TIMEOUT = 300.0
"""A restarted broker recovers every partition it holds; on two busy cores that can take minutes."""


@dataclass
class Fault:
    at: float
    what: str


@dataclass
class Monkey:
    instances: list[Instance]
    environment: dict[str, str]
    kill_every: tuple[float, float] = (2.0, 5.0)
    restart_after: tuple[float, float] = (0.5, 2.0)
    rng: random.Random = field(default_factory=random.Random)
    faults: list[Fault] = field(default_factory=list)
    on_fault: Callable[[str], None] = lambda what: None
    _starting: asyncio.Lock = field(default_factory=asyncio.Lock)

    def record(self, what: str) -> None:
        self.faults.append(Fault(time.time(), what))
        self.on_fault(what)

    async def kill_services(self, stopped: asyncio.Event) -> None:
        while not stopped.is_set():
            await _sleep_unless(stopped, self.rng.uniform(*self.kill_every))
            if stopped.is_set():
                return
            victim = self.rng.choice(self.instances)
            await asyncio.to_thread(victim.kill)
            self.record(f"SIGKILL {victim.name}")
            asyncio.get_running_loop().create_task(self._restart(victim, self.rng.uniform(*self.restart_after)))

    async def _restart(self, instance: Instance, after: float) -> None:
        await asyncio.sleep(after)
        await self._start_if_dead(instance)

    async def _start_if_dead(self, instance: Instance) -> None:
        async with self._starting:
            if not instance.alive():
                await asyncio.to_thread(instance.start, self.environment)
                self.record(f"restarted {instance.name}")

    async def kill_broker(self, stack: Stack, after: float, down_for: float, stopped: asyncio.Event) -> None:
        await _sleep_unless(stopped, after)
        node = self.rng.choice(stack.kafka_nodes)
        await asyncio.to_thread(node.process.kill)
        self.record(f"SIGKILL Kafka broker {node.node_id}")
        await asyncio.sleep(down_for)
        await asyncio.to_thread(node.start, stack.cluster_id)
        await asyncio.to_thread(node.wait_ready, BROKER_RESTART_TIMEOUT)
        self.record(f"restarted Kafka broker {node.node_id}")

    async def revive_all(self) -> None:
        for instance in self.instances:
            await self._start_if_dead(instance)


async def _sleep_unless(stopped: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopped.wait(), seconds)
    except TimeoutError:
        pass
