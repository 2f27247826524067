"""What the outbox relay counts: each event published, or each attempt the broker refused, by type."""

import asyncio

from prometheus_client import REGISTRY

from mednet_shared.platform import outbox
from sample_events import completed_event


def settled(error: Exception | None = None) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    future.set_exception(error) if error else future.set_result(None)
    return future


class RefusingPublisher:
    async def send(self, record) -> asyncio.Future:
        return settled(ConnectionError("broker unavailable"))


class AcceptingPublisher:
    def __init__(self) -> None:
        self.records = []

    async def send(self, record) -> asyncio.Future:
        self.records.append(record)
        return settled()


def published(service: str, outcome: str) -> float:
    labels = {"service": service, "type": "mednet.CallCompleted.v1", "outcome": outcome}
    return REGISTRY.get_sample_value("mednet_events_published_total", labels) or 0.0


async def test_a_refused_publication_counts_as_failed_and_the_event_stays_until_it_is_published(db, unique):
    service = f"test-{unique}"
    await db["calls"].insert_one({"_id": "c1", outbox.FIELD: outbox.entries([("t", completed_event("case-1"))])})

    assert await outbox.OutboxRelay(service, RefusingPublisher(), [db["calls"]]).relay_document("calls", "c1") == 0
    assert (published(service, "failed"), published(service, "published")) == (1.0, 0.0)

    accepting = AcceptingPublisher()
    assert await outbox.OutboxRelay(service, accepting, [db["calls"]]).relay_document("calls", "c1") == 1
    assert (published(service, "failed"), published(service, "published")) == (1.0, 1.0)
    assert len(accepting.records) == 1
