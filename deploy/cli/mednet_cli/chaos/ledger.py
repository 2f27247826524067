"""What the network said on its topics, followed from the first offset: cases, offers, the firms' choices,
bookings, briefs, refusals and failures. `firms` limits it to a run's own firms (a shared broker carries others')."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from mednet_shared.contracts.envelope import CloudEvent, EnvelopeError
from mednet_shared.contracts.topics import Topics

log = logging.getLogger("mednet.chaos")
LIVE = ("scheduled", "completed")


@dataclass
class Call:
    call_id: str
    case_id: str
    party_id: str
    mediator_id: str
    start: datetime
    end: datetime
    attendees: list[str]
    status: str = "scheduled"
    booked_by: str = "system"


@dataclass(frozen=True)
class Offer:
    offer_id: str
    call_id: str
    case_id: str
    party_id: str
    firm: str | None
    slots: dict[str, tuple[datetime, datetime]]


@dataclass(frozen=True)
class Choice:
    offer_id: str
    slot_id: str
    command_id: str


@dataclass
class Ledger:
    firms: frozenset[str] = frozenset()
    opened: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, list] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    calls_by_case: dict[str, set[str]] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)
    offers_by_call: dict[str, set[str]] = field(default_factory=dict)
    offers_by_case: dict[str, list[str]] = field(default_factory=dict)
    choices: dict[str, Choice] = field(default_factory=dict)
    bookings: dict[str, set[str]] = field(default_factory=dict)
    refused: dict[str, list] = field(default_factory=dict)
    premediation_completed: set[str] = field(default_factory=set)
    briefs: set[str] = field(default_factory=set)
    scheduling_failures: list[dict] = field(default_factory=list)
    events_seen: int = 0
    on_offered: Callable[[Offer], None] = lambda offer: None
    on_scheduled: Callable[[Call], None] = lambda call: None

    def calls_of(self, case_id: str) -> list[Call]:
        return [self.calls[call_id] for call_id in self.calls_by_case.get(case_id, ())]

    def offers_of(self, case_id: str) -> list[Offer]:
        return [self.offers[offer_id] for offer_id in self.offers_by_case.get(case_id, ())]

    def chose(self, choice: Choice) -> None:
        """A firm's choice, as it is sent."""
        self.choices[choice.offer_id] = choice

    def ours(self, data: dict) -> bool:
        if not self.firms:
            return True
        if "participant_firms" in data:
            return bool(self.firms.intersection(data["participant_firms"]))
        if "firm_id" in data:
            return data["firm_id"] in self.firms
        return data.get("case_id") in self.calls_by_case or data.get("case_id") in self.offers_by_case

    def apply(self, event: CloudEvent) -> None:
        data, kind = event.data, event.type.split(".")[1]
        if not isinstance(data, dict) or not self.ours(data):
            return
        self.events_seen += 1
        if kind == "CaseOpened":
            self.opened[event.causationid or ""] = data["case_id"]
        elif kind == "CaseRejected":
            self.rejected[event.causationid or ""] = data["reasons"]
        elif kind == "CallSlotsOffered":
            self._offered(data)
        elif kind in ("CallScheduled", "CallRescheduled"):
            self._scheduled(event.id, data, booking=kind == "CallScheduled")
        elif kind in ("CallCancelled", "CallCompleted") and data["call_id"] in self.calls:
            self.calls[data["call_id"]].status = "cancelled" if kind == "CallCancelled" else "completed"
        elif kind == "CommandRejected":
            self.refused[data["command_id"]] = data["reasons"]
        elif kind == "PreMediationCompleted":
            self.premediation_completed.add(data["case_id"])
        elif kind == "BriefReady":
            self.briefs.add(data["case_id"])
        elif kind == "SchedulingFailed":
            self.scheduling_failures.append(data)

    def _offered(self, data: dict) -> None:
        if data["offer_id"] in self.offers:
            return
        offer = Offer(data["offer_id"], data["call_id"], data["case_id"], data["party_id"], data.get("side_firm_id"),
                      {slot["slot_id"]: (datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"]))
                       for slot in data["slots"]})
        self.offers[offer.offer_id] = offer
        self.offers_by_call.setdefault(offer.call_id, set()).add(offer.offer_id)
        self.offers_by_case.setdefault(offer.case_id, []).append(offer.offer_id)
        self.on_offered(offer)

    def _scheduled(self, event_id: str, data: dict, booking: bool) -> None:
        known = self.calls.get(data["call_id"])
        call = Call(data["call_id"], data["case_id"], data["party_id"], data["mediator_id"],
                    datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]),
                    [a["email"] for a in data["attendees"]], booked_by=data.get("booked_by", "system"))
        if known and known.status == "completed":
            call.status = "completed"
        if booking:
            self.bookings.setdefault(call.call_id, set()).add(event_id)
        self.calls[call.call_id] = call
        self.calls_by_case.setdefault(call.case_id, set()).add(call.call_id)
        if known is None:
            self.on_scheduled(call)


async def follow(bootstrap: str, ledger: Ledger, stopped: asyncio.Event,
                 start: dict[TopicPartition, int] | None = None) -> None:
    """From the first offset; with `start` (the topics' end offsets, `records.end_offsets`, taken before the run
    begins), from there: a shared broker's history is not the run's."""
    topics = [Topics.INTAKE, Topics.SCHEDULING, Topics.NOTES]
    consumer = AIOKafkaConsumer(*([] if start else topics), bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", metadata_max_age_ms=5000, request_timeout_ms=30000)
    await consumer.start()
    try:
        if start:
            consumer.assign(list(start))
            for partition, offset in start.items():
                consumer.seek(partition, offset)
        while not stopped.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            for records in batches.values():
                for record in records:
                    with contextlib.suppress(EnvelopeError):
                        ledger.apply(CloudEvent.from_bytes(record.value))
    finally:
        await consumer.stop()
