"""Notify's CPU per case, in process: each case's whole event sequence as notify receives it (CaseOpened, then for
each side its CallSlotsOffered and, once chosen, its CallScheduled), parsed from the record's bytes, through the
real handler, and every due email built and flattened to bytes as the mailer sends it.

    .venv/bin/python services/notify/bench_cpu.py [--cases 100] [--rounds 3] [--parties 2/4] [--store memory|mongo]
                                                  [--profile]

--store mongo uses the MongoDB adapter on MONGODB_URL, in a scratch database dropped at the end (its outbox is not
relayed). Each round is new cases; the least CPU of the rounds is reported (the others are noise of a shared
machine). --profile prints cProfile's top functions by cumulative time. Not part of the image (only the
mednet_notify package is installed)."""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "cli"))

from mednet_cli import samples  # noqa: E402
from mednet_notify.dispatch import Dispatcher  # noqa: E402
from mednet_notify.handlers import Notifier  # noqa: E402
from mednet_notify.memory import MemoryStore  # noqa: E402
from mednet_shared.contracts.envelope import CloudEvent, new_event  # noqa: E402
from mednet_shared.contracts.events import CallScheduled, CallSlotsOffered, CaseOpened, Message  # noqa: E402
from mednet_shared.platform.consumer import Incoming  # noqa: E402

FIRM = "bench-cpu"
SENDER = "mednet <no-reply@mednet.example.org>"


class Flattening:
    """The mailer's work short of the socket: the MIME message of each email, as bytes."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, email, alert_id: str | None = None) -> None:
        email.to_message(SENDER, alert_id).as_bytes()
        self.sent += 1

    async def close(self) -> None:
        return None


def case_events(reference: str, parties: int, now: datetime) -> list[Message]:
    document = samples.submission(reference, parties=parties, mediator_id=f"med-{reference}", now=now,
                                  represented_by=FIRM, tag=reference, title=f"Benchmark dispute {reference}")
    case_id = f"case-{reference}"
    sides = [{"party_id": p["party_id"], "role": p["role"], "firm_id": FIRM, "status": "confirmed", "since": now,
              "confirmed_by": "submitter"} for p in document["parties"]]
    opened = CaseOpened.model_validate({**document, "case_id": case_id, "firm_id": FIRM, "participant_firms": [FIRM],
                                        "sides": sides})
    mediator = {"kind": "mediator", "name": opened.mediator.name, "email": opened.mediator.email,
                "time_zone": opened.mediator.time_zone}
    offers, calls = [], []
    for n, party in enumerate(opened.parties):
        call_id = f"{case_id}:{party.party_id}"
        attendees = [{"kind": "party", "name": party.contact.name, "email": party.contact.email,
                      "time_zone": party.time_zone, "firm_id": FIRM},
                     {"kind": "attorney", "name": party.attorney.name, "email": party.attorney.email,
                      "time_zone": party.time_zone, "firm_id": FIRM}, mediator]
        common = {"call_id": call_id, "case_id": case_id, "party_id": party.party_id,
                  "mediator_id": opened.mediator.mediator_id, "attendees": attendees, "participant_firms": [FIRM],
                  "side_firm_id": FIRM}
        first = opened.session.start - timedelta(days=7, hours=-n)
        slots = [{"slot_id": f"s{k}", "start": first + timedelta(days=k), "end": first + timedelta(days=k, minutes=45),
                  "choose_url": f"https://scheduling.example.org/v1/offers/o-{call_id}/choose?slot=s{k}&sig={'x' * 86}"}
                 for k in range(3)]
        offers.append(CallSlotsOffered.model_validate(
            {**common, "sequence": 0, "offer_id": f"o-{reference}-{party.party_id}", "slots": slots,
             "expires_at": now + timedelta(days=2),
             "decline_url": f"https://scheduling.example.org/v1/offers/o-{call_id}/decline?sig={'y' * 86}"}))
        calls.append(CallScheduled.model_validate(
            {**common, "sequence": 0, "start": slots[0]["start"], "end": slots[0]["end"], "booked_by": "choice",
             "place": {"kind": "video", "url": f"https://video.example.org/{call_id}", "text": "Video call"}}))
    return [opened, *offers, *calls]


def records(messages: list[Message]) -> list[bytes]:
    return [new_event(message, source="/mednet/bench").to_record(message.topic).value for message in messages]


async def make_store(kind: str):
    if kind == "memory":
        return MemoryStore(), None
    from mednet_notify.store import MongoStore
    from pymongo import AsyncMongoClient

    if not os.environ.get("MONGODB_URL"):
        raise SystemExit("--store mongo needs MONGODB_URL")
    client = AsyncMongoClient(os.environ["MONGODB_URL"])
    name = f"bench_cpu_{uuid.uuid4().hex[:8]}"

    class Unrelayed:
        def wake(self, *_args) -> None:
            return None

    store = MongoStore(client[name], Unrelayed())
    await store.ensure_indexes()
    return store, (client, name)


async def run(cases: int, rounds: int, mix: tuple[int, ...], store_kind: str, profile: bool) -> None:
    store, scratch = await make_store(store_kind)
    mailer = Flattening()
    dispatcher = Dispatcher(store, mailer, None, poll_seconds=3600, max_attempts=3, backoff_seconds=1,
                            backoff_max_seconds=60, disable_after=3, concurrency=4, webhook_concurrency=1)
    notifier = Notifier(store, dispatcher, "https://notes.example.org/v1/cases/{case_id}/brief")
    now = datetime.now(UTC)
    workload = [records(case_events(f"b{uuid.uuid4().hex[:6]}-{n:04d}", mix[n % len(mix)], now))
                for n in range(cases * rounds + 5)]
    profiler = cProfile.Profile() if profile else None
    measured: list[float] = []
    await dispatcher.start()
    try:
        for values in workload[:5]:  # warm up: imports, caches, zone definitions
            await handle_all(notifier, dispatcher, values)
        sent_before = mailer.sent
        for round_ in range(rounds):
            started = time.process_time()
            if profiler:
                profiler.enable()
            for values in workload[5 + round_ * cases:5 + (round_ + 1) * cases]:
                await handle_all(notifier, dispatcher, values)
            if profiler:
                profiler.disable()
            measured.append(time.process_time() - started)
    finally:
        await dispatcher.stop()
        if scratch:
            client, name = scratch
            await client.drop_database(name)
            await client.close()
    events = sum(len(values) for values in workload[5:]) / rounds
    print(f"store={store_kind} cases={cases}x{rounds} parties={'/'.join(map(str, mix))} events per round={events:.0f} "
          f"emails={mailer.sent - sent_before}")
    print(f"notify CPU per case: {min(measured) / cases * 1000:.1f} ms  (rounds: "
          f"{', '.join(f'{cpu / cases * 1000:.1f}' for cpu in measured)})")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


async def handle_all(notifier: Notifier, dispatcher: Dispatcher, values: list[bytes]) -> None:
    for value in values:
        event = CloudEvent.model_validate_json(value)
        message = event.payload()
        await notifier.handle(Incoming(event=event, message=message, topic=message.topic, partition=0, offset=0))
    await dispatcher.idle()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parties", default="2/4")
    parser.add_argument("--store", choices=("memory", "mongo"), default="memory")
    parser.add_argument("--profile", action="store_true")
    arguments = parser.parse_args()
    mix = tuple(int(n) for n in arguments.parties.split("/"))
    asyncio.run(run(arguments.cases, arguments.rounds, mix, arguments.store, arguments.profile))


if __name__ == "__main__":
    main()
