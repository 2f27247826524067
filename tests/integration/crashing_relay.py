"""Writes a state change with its event, publishes it, and is SIGKILLed before marking it published."""

import asyncio
import os
import signal
import sys

from mednet_shared.platform import outbox
from mednet_shared.platform.kafka import BrokerPublisher, make_broker
from mednet_shared.platform.mongo import make_client
from sample_events import completed_event


class RelayKilledBeforeMarking(outbox.OutboxRelay):
    async def mark_published(self, store, document_id, event_ids):
        os.kill(os.getpid(), signal.SIGKILL)


async def main(kafka: str, mongodb_url: str, database: str, topic: str) -> None:
    db = make_client(mongodb_url, app_name="crashing-relay")[database]
    event = completed_event("case-9")
    await db["cases"].update_one(
        {"_id": "case-9"}, outbox.with_events({"$set": {"status": "completed"}}, [(topic, event)]), upsert=True
    )
    print(event.id, flush=True)
    broker = make_broker(kafka, client_id="crashing-relay")
    await broker.start()
    await RelayKilledBeforeMarking("crashing", BrokerPublisher(broker), [db["cases"]]).relay_document("cases", "case-9")
    raise SystemExit("the relay was expected to die before this line")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
