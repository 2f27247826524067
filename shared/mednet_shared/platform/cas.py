"""One compare-and-set loop for every store: read, decide, write only if the document is unchanged, else again.

A store's conditional write raises `Conflict` when the document changed since it was read; `compare_and_set`
runs the whole read-decide-write attempt again under one retry policy, counts every conflict, and when the
retries run out raises `ConflictsExhausted` (a transient fault: the consumer retries the event later with its
backoff, an HTTP caller gets 409). It never gives up silently.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import Counter

T = TypeVar("T")

CONFLICTS = Counter("mednet_cas_conflicts_total", "Compare-and-set attempts that found the document changed",
                    ["service", "what"])
EXHAUSTED = Counter("mednet_cas_exhausted_total", "Compare-and-sets that ran out of retries", ["service", "what"])


class Conflict(Exception):
    """The document changed between its read and the conditional write."""


class ConflictsExhausted(RuntimeError):
    """Every attempt of a compare-and-set met a concurrent change."""


@dataclass(frozen=True)
class CasPolicy:
    attempts: int = 50
    backoff_seconds: float = 0.001
    backoff_max_seconds: float = 0.05

    def delay(self, attempt: int) -> float:
        """Full jitter: contenders that met once do not meet again in lockstep."""
        return random.uniform(0, min(self.backoff_max_seconds, self.backoff_seconds * 2 ** attempt))


DEFAULT_POLICY = CasPolicy()


async def compare_and_set(attempt: Callable[[], Awaitable[T]], *, service: str, what: str, key: str,
                          policy: CasPolicy = DEFAULT_POLICY) -> T:
    """`attempt` reads, decides and writes conditionally (raising Conflict on a lost race); its result is returned.
    `what` names the kind of document (a fixed word: it is a metric label), `key` the document (errors only)."""
    for number in range(1, policy.attempts + 1):
        try:
            return await attempt()
        except Conflict:
            CONFLICTS.labels(service, what).inc()
            if number < policy.attempts:
                await asyncio.sleep(policy.delay(number))
    EXHAUSTED.labels(service, what).inc()
    raise ConflictsExhausted(f"{what} {key!r} changed concurrently on each of {policy.attempts} attempts")
