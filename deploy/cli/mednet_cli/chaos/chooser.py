"""The firms' side of the consent flow: each offered slot is chosen at once by the side's firm, ChooseCallSlot on
its own inbound topic. Some choices are sent twice (a firm's retry: the same command, the same id), which must
change nothing; a send that fails is sent again until the broker takes it."""

from __future__ import annotations

import asyncio
import random
import uuid

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from mednet_shared.platform.kafka import PRODUCER_DEFAULTS

from .ledger import Choice, Ledger, Offer
from .workload import command_record


class Chooser:
    def __init__(self, bootstrap: str, ledger: Ledger, rng: random.Random, resend_every: int = 5) -> None:
        self.bootstrap, self.ledger, self.rng, self.resend_every = bootstrap, ledger, rng, resend_every
        self.queue: asyncio.Queue[Offer] = asyncio.Queue()
        self.sent = 0
        self.resent = 0
        self.send_failures = 0

    def offered(self, offer: Offer) -> None:
        """The ledger's hook: an offer seen for the first time."""
        if offer.firm is not None:
            self.queue.put_nowait(offer)

    async def work(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, **PRODUCER_DEFAULTS)
        await producer.start()
        try:
            while True:
                offer = await self.queue.get()
                await self.choose(producer, offer)
        finally:
            await producer.stop()

    async def choose(self, producer: AIOKafkaProducer, offer: Offer) -> None:
        slot_id = self.rng.choice(sorted(offer.slots))
        choice = Choice(offer.offer_id, slot_id, str(uuid.uuid5(uuid.NAMESPACE_URL, f"choice/{offer.offer_id}")))
        record = command_record(offer.firm, "mednet.ChooseCallSlot.v1",
                                {"case_id": offer.case_id, "party_id": offer.party_id, "offer_id": offer.offer_id,
                                 "slot_id": slot_id}, choice.command_id, offer.case_id)
        self.ledger.chose(choice)
        times = 2 if self.resend_every and (self.sent + 1) % self.resend_every == 0 else 1
        for _ in range(times):
            await self._send(producer, record)
        self.sent += 1
        self.resent += times - 1

    async def _send(self, producer: AIOKafkaProducer, record) -> None:
        headers = [(key, value.encode()) for key, value in record.headers.items()]
        while True:
            try:
                await producer.send_and_wait(record.topic, record.value, key=record.key, headers=headers)
                return
            except KafkaError:
                self.send_failures += 1
                await asyncio.sleep(1.0)
