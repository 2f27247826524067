"""What a chaos run sends: firms' case submissions and poison, each traceable by event id and offset."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mednet_shared.contracts.envelope import KafkaRecord
from mednet_shared.contracts.topics import Topics

from .. import samples

ZONES = ["Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/St_Johns", "UTC",
         "Asia/Kathmandu", "Europe/Berlin"]


@dataclass(frozen=True)
class Submission:
    firm: str
    event_id: str
    external_ref: str
    mediator_id: str
    parties: int
    record: KafkaRecord


@dataclass(frozen=True)
class Poison:
    kind: str
    firm: str
    record: KafkaRecord


def firm_ids(run: str, count: int) -> list[str]:
    return [f"chaos-{run}-f{n}" for n in range(count)]


def mediator_ids(run: str, count: int) -> list[str]:
    return [f"chaos-{run}-m{n}" for n in range(count)]


def case_document(reference: str, mediator_id: str, parties: int, firms: list[str], session_start: datetime,
                  rng: random.Random) -> dict:
    """Each party represented by one of `firms`, in its own zone; addresses unique to the case."""
    return samples.case(
        reference, [samples.party(f"p{n + 1}", samples.ROLES[n], rng.choice(ZONES), rng.choice(firms), tag=reference)
                    for n in range(parties)],
        mediator=samples.mediator(mediator_id, f"Mediator {mediator_id}"), start=session_start)


def command_record(firm: str, event_type: str, data: object, event_id: str, subject: str) -> KafkaRecord:
    return samples.record(samples.command(firm, event_type, data, event_id=event_id, subject=subject), firm)


def in_holidays(day: datetime) -> bool:
    """Mid-December to early January: few working days in most countries, so few slots for the calls."""
    return (day.month == 12 and day.day >= 18) or (day.month == 1 and day.day <= 8)


def near_holidays(session_start: datetime) -> bool:
    """The session or its calls' window (the two weeks before) in the holidays."""
    return in_holidays(session_start) or in_holidays(session_start - timedelta(days=14))


def session_start(today: datetime, rng: random.Random) -> datetime:
    """14 to 60 days ahead; one near the holidays is drawn again from 14 to 120 days ahead, so that a run made in
    December neither asks busy mediators for calls in a window of four working days nor crowds every session into
    the weeks just after (both left sides in far zones without a slot: SchedulingFailed, which runs do not expect)."""
    start = today + timedelta(days=rng.randint(14, 60), hours=rng.choice([0, 2, 4]))
    while near_holidays(start):
        start = today + timedelta(days=rng.randint(14, 120), hours=rng.choice([0, 2, 4]))
    return start


def submissions(run: str, cases: int, firms: list[str], mediators: list[str], seed: int,
                now: datetime | None = None) -> list[Submission]:
    rng = random.Random(seed)
    today = (now or datetime.now(UTC)).replace(hour=9, minute=0, second=0, microsecond=0)
    made = []
    for n in range(cases):
        firm, mediator = rng.choice(firms), rng.choice(mediators)
        reference, parties = f"c{n}-{run}", rng.choice([2, 2, 2, 3, 4])
        start = session_start(today, rng)
        # the submitting firm represents every party itself: every side is confirmed at once
        document = case_document(reference, mediator, parties, [firm], start, rng)
        event_id = str(uuid.UUID(int=rng.getrandbits(128)))
        made.append(Submission(firm, event_id, reference, mediator, parties,
                               command_record(firm, "mednet.SubmitCase.v1", document, event_id, reference)))
    return made


def poison(firms: list[str], count: int, seed: int) -> list[Poison]:
    """Records that can never be processed; each must end up dead-lettered exactly once."""
    rng = random.Random(seed ^ 0x5EED)
    made = []
    for n in range(count):
        firm = rng.choice(firms)
        topic = Topics.firm_inbound(firm)
        kind = ["not-json", "not-a-cloudevent", "unknown-type", "truncated"][n % 4]
        if kind == "unknown-type":
            record = command_record(firm, "mednet.LaunchMissiles.v1", {"n": n}, str(uuid.uuid4()), f"poison-{n}")
        elif kind == "not-json":
            record = KafkaRecord(topic, f"poison-{n}".encode(), b"\x00\xffnot json " + str(n).encode(), {})
        elif kind == "not-a-cloudevent":
            record = KafkaRecord(topic, f"poison-{n}".encode(), json.dumps({"hello": n}).encode(), {})
        else:
            whole = command_record(firm, "mednet.SubmitCase.v1", {"external_ref": f"p{n}"}, str(uuid.uuid4()), "x")
            record = KafkaRecord(topic, whole.key, whole.value[: len(whole.value) // 2], {})
        made.append(Poison(kind, firm, record))
    return made
