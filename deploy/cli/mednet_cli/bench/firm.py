"""The bench firm on the consent flow: it reads its own outbound topic, as a firm does, and for every
CallSlotsOffered there chooses the first slot at once (ChooseCallSlot on its inbound topic)."""

from __future__ import annotations

import asyncio
import json
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from mednet_shared.contracts.topics import Topics

from .. import samples

OFFERED = "mednet.CallSlotsOffered.v1"
CHOOSE = "mednet.ChooseCallSlot.v1"


def choice(firm: str, offer: dict):
    """ChooseCallSlot for the offer's first slot, as the firm sends it."""
    return samples.command(firm, CHOOSE, {"case_id": offer["case_id"], "party_id": offer["party_id"],
                                          "offer_id": offer["offer_id"], "slot_id": offer["slots"][0]["slot_id"]},
                           subject=offer["case_id"])


class Chooser:
    """Chooses for every offer on the firm's outbound topic after the given offsets; `chosen` holds, per case id,
    when its first choice was sent."""

    def __init__(self, bootstrap: str, firm: str, producer: AIOKafkaProducer) -> None:
        self.bootstrap, self.firm, self.producer = bootstrap, firm, producer
        self.outbound, self.inbound = Topics.firm_outbound(firm), Topics.firm_inbound(firm)
        self.chosen: dict[str, float] = {}
        self.choices = 0

    async def run(self, start: dict[TopicPartition, int]) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(self.outbound, p) for p in await _partitions(consumer, self.outbound)]
            consumer.assign(partitions)
            for partition in partitions:
                consumer.seek(partition, start.get(partition, 0))
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                offers = [json.loads(r.value) for records in batches.values() for r in records]
                await self.choose([o["data"] for o in offers if o["type"] == OFFERED])
        finally:
            await consumer.stop()

    async def choose(self, offers: list[dict]) -> None:
        sends = []
        for offer in offers:
            record = choice(self.firm, offer).to_record(self.inbound)
            sends.append(await self.producer.send(self.inbound, record.value, key=record.key,
                                                  headers=[(k, v.encode()) for k, v in record.headers.items()]))
            self.chosen.setdefault(offer["case_id"], time.time())
        await asyncio.gather(*sends)
        self.choices += len(sends)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(40):
        await consumer._client.force_metadata_update()
        if found := consumer.partitions_for_topic(topic):
            return found
        await asyncio.sleep(0.25)
    raise RuntimeError(f"the bench firm's outbound topic {topic} does not exist")
