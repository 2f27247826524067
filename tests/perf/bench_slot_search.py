"""How long placing one call takes as a busy mediator's calendar grows.

The mediator (Europe/London, Mon-Fri 08:00-18:00) meets a party in America/New_York (Mon-Fri 09:00-17:00), so
they share 14:00-18:00 London time. Calls last 45 minutes and sit on the hour, 15-minute buffers between them.
The 4 weeks after now are fully booked; further out, in both directions, 8 of 10 hourly slots are taken, so a
calendar of n bookings reaches further into the past and the future as n grows. "session in 4 weeks" times a
session whose whole window is booked (from 1,000 bookings on): the search walks every booking of the window and
then explains why nothing fits. "offer of 3" times what the consent flow searches for an offer: the policy's
3 slots (find_slots, at most one per day of the mediator), the first of them the slot find_slot places.

Run: /tmp/venv/bin/python tests/perf/bench_slot_search.py
"""

import random
from dataclasses import replace
from itertools import chain, islice
import statistics
import time as clock
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from mednet_scheduling.domain import Booking, Calendar, SlotRequest, find_slot
from mednet_scheduling.domain.slots import find_slots
from mednet_shared.contracts.values import (
    Contact,
    Mediator,
    Party,
    PartyRole,
    SchedulingPolicy,
    Session,
    Weekday,
    WeeklyWindow,
)

SIZES = (0, 1_000, 10_000, 100_000)
RUNS = 9
NOW = datetime(2026, 6, 1, 6, tzinfo=UTC)
SESSION_START = NOW + timedelta(days=120)
FULL_WEEKS_AFTER_NOW = 4
LONDON = ZoneInfo("Europe/London")
WORKDAYS = (Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI)
CALL = timedelta(minutes=45)
BOOKED_SHARE_FURTHER_OUT = 0.8

REQUEST = SlotRequest(
    call_id="new-call",
    mediator=Mediator(
        mediator_id="busy",
        name="Busy Mediator",
        email="busy@example.org",
        time_zone="Europe/London",
        working_hours=[WeeklyWindow(day=day, start=time(8), end=time(18)) for day in WORKDAYS],
        buffer_minutes=15,
    ),
    party=Party(
        party_id="party",
        role=PartyRole.RESPONDENT,
        contact=Contact(name="Pat Party", email="pat@example.org"),
        time_zone="America/New_York",
        availability=[WeeklyWindow(day=day, start=time(9), end=time(17)) for day in WORKDAYS],
    ),
    session=Session(start=SESSION_START, end=SESSION_START + timedelta(hours=6), time_zone="Europe/London"),
    policy=SchedulingPolicy(call_minutes=45, minimum_notice_hours=24, preparation_lead_hours=24),
    now=NOW,
)

close_session_start = NOW + timedelta(weeks=FULL_WEEKS_AFTER_NOW)
CLOSE_SESSION_REQUEST = replace(
    REQUEST, session=Session(start=close_session_start, end=close_session_start + timedelta(hours=6), time_zone="UTC")
)


def hourly_slots_on(day: date) -> list[datetime]:
    if day.weekday() >= 5:
        return []
    return [datetime.combine(day, time(hour), LONDON).astimezone(UTC) for hour in range(8, 18)]


def fully_booked_days(first: date, count: int) -> Iterator[datetime]:
    for offset in range(count):
        yield from hourly_slots_on(first + timedelta(days=offset))


def mostly_booked_days(after: date, before: date, rng: random.Random) -> Iterator[datetime]:
    for offset in range(1, 100_000):
        for day in (after + timedelta(days=offset), before - timedelta(days=offset)):
            yield from (start for start in hourly_slots_on(day) if rng.random() < BOOKED_SHARE_FURTHER_OUT)


def busy_calendar(size: int) -> Calendar:
    first_day, full_days = NOW.date(), FULL_WEEKS_AFTER_NOW * 7
    starts = fully_booked_days(first_day, full_days)
    further_out = mostly_booked_days(first_day + timedelta(days=full_days - 1), first_day, random.Random(7))
    chosen = islice(chain(starts, further_out), size)
    return Calendar(Booking(f"call-{number}", start, start + CALL) for number, start in enumerate(chosen))


def median_seconds_to_place_one_call(calendar: Calendar) -> tuple[float, str]:
    timings = []
    for _ in range(RUNS):
        started = clock.perf_counter()
        result = find_slot(REQUEST, calendar)
        calendar.add(Booking(REQUEST.call_id, result.start, result.start + CALL))
        timings.append(clock.perf_counter() - started)
        calendar.remove(REQUEST.call_id)
    return statistics.median(timings), f"{result.start:%Y-%m-%d %H:%M} UTC"


def median_seconds_to_offer(calendar: Calendar, placed: str) -> float:
    timings = []
    for _ in range(RUNS):
        started = clock.perf_counter()
        offer = find_slots(REQUEST, calendar, REQUEST.policy.offer_slots)
        timings.append(clock.perf_counter() - started)
    assert len(offer) == REQUEST.policy.offer_slots and f"{offer[0].start:%Y-%m-%d %H:%M} UTC" == placed, offer
    return statistics.median(timings)


def median_seconds_to_find_no_slot(calendar: Calendar) -> float:
    timings = []
    for _ in range(RUNS):
        started = clock.perf_counter()
        find_slot(CLOSE_SESSION_REQUEST, calendar)
        timings.append(clock.perf_counter() - started)
    return statistics.median(timings)


def span_of(calendar: Calendar) -> str:
    bookings = list(calendar)
    return f"{bookings[0].start:%Y-%m-%d} .. {bookings[-1].start:%Y-%m-%d}" if bookings else "-"


def main() -> None:
    print(__doc__.split("\n\nRun:")[0])
    header = f"{'bookings':>9}  {'calendar span':<24}  {f'median of {RUNS}':>12}  {'slot found':<20}"
    print(f"\n{header}  session in 4 weeks  offer of {REQUEST.policy.offer_slots}")
    medians = {}
    for size in SIZES:
        calendar = busy_calendar(size)
        medians[size], slot = median_seconds_to_place_one_call(calendar)
        no_slot = median_seconds_to_find_no_slot(calendar)
        offer = median_seconds_to_offer(calendar, slot)
        print(
            f"{len(calendar):>9,}  {span_of(calendar):<24}  {medians[size] * 1000:>9.3f} ms  {slot:<20}  "
            f"{no_slot * 1000:>9.3f} ms  {offer * 1000:>9.3f} ms"
        )
    print()
    for smaller, larger in zip(SIZES, SIZES[1:]):
        print(f"growth {smaller:>7,} -> {larger:>7,}: x{medians[larger] / medians[smaller]:.2f}")
    ratio = medians[10_000] / medians[1_000]
    verdict = "sub-linear" if ratio < 10 else "NOT sub-linear"
    print(f"growth from 1,000 to 10,000 bookings is {verdict} (ratio {ratio:.2f} {'<' if ratio < 10 else '>='} 10)")


if __name__ == "__main__":
    main()
