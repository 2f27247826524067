"""What the network said on its topics, followed from the first offset: cases, calls, briefs, failures."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer

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
    scheduled_times: int = 1


@dataclass
class Ledger:
    opened: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, list] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    calls_by_case: dict[str, set[str]] = field(default_factory=dict)
    premediation_completed: set[str] = field(default_factory=set)
    briefs: set[str] = field(default_factory=set)
    scheduling_failures: list[dict] = field(default_factory=list)
    events_seen: int = 0
    on_scheduled: Callable[[Call], None] = lambda call: None

    def calls_of(self, case_id: str) -> list[Call]:
        return [self.calls[call_id] for call_id in self.calls_by_case.get(case_id, ())]

    def apply(self, event: CloudEvent) -> None:
        self.events_seen += 1
        data, kind = event.data, event.type.split(".")[1]
        if kind == "CaseOpened":
            self.opened[event.causationid or ""] = data["case_id"]
        elif kind == "CaseRejected":
            self.rejected[event.causationid or ""] = data["reasons"]
        elif kind in ("CallScheduled", "CallRescheduled"):
            self._scheduled(data)
        elif kind in ("CallCancelled", "CallCompleted") and data["call_id"] in self.calls:
            self.calls[data["call_id"]].status = "cancelled" if kind == "CallCancelled" else "completed"
        elif kind == "PreMediationCompleted":
            self.premediation_completed.add(data["case_id"])
        elif kind == "BriefReady":
            self.briefs.add(data["case_id"])
        elif kind == "SchedulingFailed":
            self.scheduling_failures.append(data)

    def _scheduled(self, data: dict) -> None:
        known = self.calls.get(data["call_id"])
        call = Call(data["call_id"], data["case_id"], data["party_id"], data["mediator_id"],
                    datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"]),
                    [a["email"] for a in data["attendees"]], scheduled_times=known.scheduled_times + 1 if known else 1)
        if known and known.status == "completed":
            call.status = "completed"
        self.calls[call.call_id] = call
        self.calls_by_case.setdefault(call.case_id, set()).add(call.call_id)
        if known is None:
            self.on_scheduled(call)


async def follow(bootstrap: str, ledger: Ledger, stopped: asyncio.Event) -> None:
    topics = [Topics.INTAKE, Topics.SCHEDULING, Topics.NOTES]
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                metadata_max_age_ms=5000, request_timeout_ms=30000)
    await consumer.start()
    try:
        while not stopped.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            for records in batches.values():
                for record in records:
                    with contextlib.suppress(EnvelopeError):
                        ledger.apply(CloudEvent.from_bytes(record.value))
    finally:
        await consumer.stop()
