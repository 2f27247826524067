from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mednet_scheduling.domain import (
    Booking,
    Calendar,
    MediatorAvailability,
    NoSlot,
    Slot,
    SlotRequest,
    find_slot,
    holiday_country_of_zone,
    violations,
)
from mednet_scheduling.domain.slots import find_slots
from mednet_shared.contracts.values import SchedulingPolicy, Session, Weekday, WeeklyWindow

from .factories import a_mediator, a_party

ZONES = [
    "Asia/Kolkata",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "America/New_York",
    "Europe/London",
    "UTC",
    "Asia/Tokyo",
    "Pacific/Chatham",
]
SWITCH_DAYS = [
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2026, 3, 29),
    date(2026, 10, 25),
    date(2026, 4, 5),
    date(2026, 10, 4),
    date(2026, 9, 27),
]
GRID = timedelta(minutes=15)
CALLS_PLACED = 3
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def five_minute_time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


@st.composite
def sparse_weekly_windows(draw) -> list[WeeklyWindow]:
    windows = []
    for day in Weekday:
        for _ in range(draw(st.integers(0, 2))):
            start = draw(st.integers(0, 23 * 12)) * 5
            end = min(start + draw(st.integers(3, 14 * 12)) * 5, 24 * 60 - 5)
            if start < end:
                windows.append(WeeklyWindow(day=day, start=five_minute_time(start), end=five_minute_time(end)))
    return windows or [WeeklyWindow(day=Weekday.MON, start=time(9), end=time(17))]


@st.composite
def broad_weekly_windows(draw) -> list[WeeklyWindow]:
    windows = []
    for day in Weekday:
        start = draw(st.integers(0, 8 * 12)) * 5
        end = min(start + draw(st.integers(10 * 12, 16 * 12)) * 5, 24 * 60 - 5)
        windows.append(WeeklyWindow(day=day, start=five_minute_time(start), end=five_minute_time(end)))
    return windows


def weekly_windows():
    return st.one_of(broad_weekly_windows(), sparse_weekly_windows())


@st.composite
def daily_hours(draw) -> tuple[tuple[time, time], ...]:
    hours = []
    for _ in range(draw(st.integers(0, 2))):
        start = draw(st.integers(0, 22 * 12)) * 5
        end = min(start + draw(st.integers(3, 12 * 12)) * 5, 24 * 60 - 5)
        hours.append((five_minute_time(start), five_minute_time(end)))
    return tuple(hours)


instants_around_switch_days = st.builds(
    lambda day, minutes: datetime.combine(day, time(), UTC) + timedelta(minutes=minutes * 5),
    st.sampled_from(SWITCH_DAYS),
    st.integers(-72 * 12, 24 * 12),
)
instants_in_2026 = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC)).map(
    lambda moment: moment.replace(second=0, microsecond=0)
)
holiday_countries = st.one_of(st.none(), st.sampled_from(["GB", "US", "IN", "NZ", "AU", "JP", "CA"]))


@st.composite
def slot_requests(draw) -> tuple[SlotRequest, list[Booking]]:
    now = draw(st.one_of(instants_around_switch_days, instants_in_2026))
    policy = SchedulingPolicy(
        call_minutes=draw(st.sampled_from([15, 30, 45, 60, 90, 120])),
        minimum_notice_hours=draw(st.integers(0, 24)),
        preparation_lead_hours=draw(st.integers(0, 24)),
        allow_weekends=draw(st.booleans()),
        allow_holidays=draw(st.booleans()),
    )
    window = timedelta(hours=draw(st.integers(1, 72)))
    earliest = now + timedelta(hours=policy.minimum_notice_hours)
    session_start = earliest + window + timedelta(hours=policy.preparation_lead_hours)
    mediator = a_mediator(
        draw(st.sampled_from(ZONES)),
        draw(weekly_windows()),
        buffer_minutes=draw(st.integers(0, 6)) * 5,
        holiday_country=draw(holiday_countries),
    )
    party = a_party(
        draw(st.sampled_from(ZONES)),
        draw(weekly_windows()),
        unavailable=draw(st.lists(unavailable_periods(earliest), max_size=2)),
        holiday_country=draw(holiday_countries),
    )
    request = SlotRequest(
        call_id="placed-0",
        mediator=mediator,
        party=party,
        session=Session(start=session_start, end=session_start + timedelta(hours=4), time_zone=party.time_zone),
        policy=policy,
        now=now.astimezone(ZoneInfo(draw(st.sampled_from(ZONES)))),
        not_before=draw(st.one_of(st.none(), st.integers(0, 36).map(lambda hours: now + timedelta(hours=hours)))),
        availability=draw(mediator_availabilities(earliest.astimezone(ZoneInfo(mediator.time_zone)).date())),
    )
    return request, draw(existing_bookings(earliest - timedelta(hours=12), timedelta(minutes=mediator.buffer_minutes)))


def unavailable_periods(earliest: datetime):
    return st.tuples(st.integers(-12 * 12, 48 * 12), st.integers(3, 24 * 12)).map(
        lambda offsets: (earliest + timedelta(minutes=offsets[0] * 5), earliest + timedelta(minutes=sum(offsets) * 5))
    )


@st.composite
def mediator_availabilities(draw, first_day: date) -> MediatorAvailability:
    near_days = st.integers(-1, 3).map(lambda offset: first_day + timedelta(days=offset))
    return MediatorAvailability(
        weekly=tuple(draw(weekly_windows())) if draw(st.integers(0, 3)) == 0 else None,
        date_overrides=draw(st.dictionaries(near_days, daily_hours(), max_size=1)),
        blackout_days=draw(st.frozensets(near_days, max_size=1)),
    )


@st.composite
def existing_bookings(draw, start: datetime, buffer: timedelta) -> list[Booking]:
    bookings = []
    for number in range(draw(st.integers(0, 12))):
        start += buffer + timedelta(minutes=draw(st.integers(0, 60)) * 5)
        end = start + timedelta(minutes=draw(st.integers(3, 24)) * 5)
        bookings.append(Booking(f"existing-{number}", start, end))
        start = end
    return bookings


def placing(request: SlotRequest, number: int) -> SlotRequest:
    return replace(request, call_id=f"placed-{number}")


def search_window(request: SlotRequest) -> tuple[datetime, datetime]:
    earliest = request.now + timedelta(hours=request.policy.minimum_notice_hours)
    if request.not_before:
        earliest = max(earliest, request.not_before)
    return earliest, request.session.start - timedelta(hours=request.policy.preparation_lead_hours)


def grid_starts(request: SlotRequest, until: datetime | None = None):
    earliest, latest = search_window(request)
    duration = timedelta(minutes=request.policy.call_minutes)
    start = datetime.fromtimestamp(-(-earliest.timestamp() // GRID.total_seconds()) * GRID.total_seconds(), UTC)
    while start + duration <= latest and (until is None or start < until):
        yield Slot(start, start + duration)
        start += GRID


def valid_by_brute_force(request: SlotRequest, calendar: Calendar, until: datetime | None = None) -> list[Slot]:
    return [slot for slot in grid_starts(request, until) if violations(request, calendar, slot) == []]


def calendar_overlaps(calendar: Calendar, buffer: timedelta) -> list[tuple[Booking, Booking]]:
    overlaps, previous = [], None
    for booking in calendar:
        if previous and booking.start < previous.end + buffer:
            overlaps.append((previous, booking))
        if previous is None or booking.end > previous.end:
            previous = booking
    return overlaps


@given(slot_requests())
@PROPERTY_SETTINGS
def test_placed_calls_obey_every_rule_are_the_earliest_and_never_overlap(drawn):
    first_request, bookings = drawn
    calendar = Calendar(bookings)
    buffer = timedelta(minutes=first_request.mediator.buffer_minutes)
    for number in range(CALLS_PLACED):
        request = placing(first_request, number)
        result = find_slot(request, calendar)
        if isinstance(result, NoSlot):
            event(f"calls placed before no slot was left: {number}")
            assert result.reason
            assert valid_by_brute_force(request, calendar) == []
            return
        assert violations(request, calendar, result) == []
        assert obeys_every_rule_by_wall_clock(request, calendar, result)
        assert valid_by_brute_force(request, calendar, until=result.start) == []
        calendar.add(Booking(request.call_id, result.start, result.end))
        assert calendar_overlaps(calendar, buffer) == []
    event(f"calls placed: {CALLS_PLACED}")


@given(slot_requests(), st.lists(st.integers(0, 48 * 4), min_size=1, max_size=8))
@PROPERTY_SETTINGS
def test_violations_agree_with_the_rules_read_off_the_wall_clock(drawn, quarter_hours):
    request, bookings = drawn
    calendar = Calendar(bookings)
    candidates = list(grid_starts(request))
    for quarter_hour in quarter_hours:
        if candidates:
            slot = candidates[quarter_hour % len(candidates)]
            valid = obeys_every_rule_by_wall_clock(request, calendar, slot)
            event("a valid candidate was checked" if valid else "an invalid candidate was checked")
            assert (violations(request, calendar, slot) == []) == valid


def obeys_every_rule_by_wall_clock(request: SlotRequest, calendar: Calendar, slot: Slot) -> bool:
    earliest, latest = search_window(request)
    buffer = timedelta(minutes=request.mediator.buffer_minutes)
    mediator, party = request.mediator, request.party
    return (
        slot.end - slot.start == timedelta(minutes=request.policy.call_minutes)
        and earliest <= slot.start
        and slot.end <= latest
        and covered_by(slot, ZoneInfo(mediator.time_zone), lambda day: mediator_hours_on(request, day))
        and covered_by(slot, ZoneInfo(party.time_zone), lambda day: weekly_hours_on(party.availability, day))
        and not touches_a_day_off(slot, mediator.time_zone, mediator.holiday_country, request.policy)
        and not touches_a_day_off(slot, party.time_zone, party.holiday_country, request.policy)
        and not any(window.start < slot.end and slot.start < window.end for window in party.unavailable)
        and not any(
            booking.start < slot.end + buffer and slot.start < booking.end + buffer
            for booking in calendar
            if booking.call_id != request.call_id
        )
    )


def mediator_hours_on(request: SlotRequest, day: date) -> list[tuple[time, time]]:
    availability = request.availability
    if day in availability.blackout_days:
        return []
    if day in availability.date_overrides:
        return list(availability.date_overrides[day])
    weekly = request.mediator.working_hours if availability.weekly is None else availability.weekly
    return weekly_hours_on(weekly, day)


def weekly_hours_on(windows, day: date) -> list[tuple[time, time]]:
    return [(window.start, window.end) for window in windows if list(Weekday).index(window.day) == day.weekday()]


def covered_by(slot: Slot, zone: ZoneInfo, hours_on) -> bool:
    day = slot.start.astimezone(zone).date()
    spans = [
        (first_instant_showing(day, start, zone), first_instant_showing(day, end, zone)) for start, end in hours_on(day)
    ]
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(span for span in spans if span[0] < span[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return any(start <= slot.start and slot.end <= end for start, end in merged)


def first_instant_showing(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first instant the local clock shows the wall time or later: the earlier one of a repeated time,
    and the end of the gap for a time that clocks skip."""
    target = datetime.combine(day, wall)
    scan_start = (target - zone.utcoffset(target) - timedelta(hours=2)).replace(tzinfo=UTC)
    for step in range(49):
        instant = scan_start + timedelta(minutes=5 * step)
        if instant.astimezone(zone).replace(tzinfo=None) >= target:
            return instant
    raise AssertionError(f"the clock of {zone} never shows {target}")


def touches_a_day_off(slot: Slot, zone_name: str, country: str | None, policy: SchedulingPolicy) -> bool:
    zone, country = ZoneInfo(zone_name), country or holiday_country_of_zone(zone_name)
    days = {slot.start.astimezone(zone).date(), (slot.end - timedelta(microseconds=1)).astimezone(zone).date()}
    weekend = not policy.allow_weekends and any(day.weekday() >= 5 for day in days)
    holiday = not policy.allow_holidays and any(day in public_holidays(country, day.year) for day in days)
    return weekend or holiday


@lru_cache(maxsize=None)
def public_holidays(country: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, years=year)) if country else frozenset()


def mediator_day(request: SlotRequest, slot: Slot) -> date:
    return slot.start.astimezone(ZoneInfo(request.mediator.time_zone)).date()


def clash(one: Slot, other: Slot, buffer: timedelta) -> bool:
    return one.start < other.end + buffer and other.start < one.end + buffer


@given(slot_requests(), st.integers(0, 4), st.integers(1, 5),
       st.one_of(st.none(), st.none(), st.lists(st.tuples(st.integers(0, 120 * 4), st.integers(4, 24 * 4)),
                                                min_size=1, max_size=3)))
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_several_slots_are_each_valid_apart_spread_over_days_and_as_many_as_fit(drawn, longer, count, proposals):
    request, bookings = drawn
    session = request.session.model_copy(update={"start": request.session.start + timedelta(days=longer),
                                                 "end": request.session.end + timedelta(days=longer)})
    request = replace(request, session=session)
    calendar = Calendar(bookings)
    buffer = timedelta(minutes=request.mediator.buffer_minutes)
    base = request.now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    within = None if proposals is None else [(base + GRID * start, base + GRID * (start + length))
                                             for start, length in proposals]
    result = find_slots(request, calendar, count, within=within)
    valid = [slot for slot in valid_by_brute_force(request, calendar)
             if within is None or any(start <= slot.start and slot.end <= end for start, end in within)]
    if isinstance(result, NoSlot):
        event("no slot")
        assert result.reason and valid == []
        return
    event(f"slots found: {len(result)} of {count}")
    assert 1 <= len(result) <= count and result == sorted(result, key=lambda slot: slot.start)
    for slot in result:
        assert slot in valid
    for one, other in zip(result, result[1:]):
        assert not clash(one, other, buffer)
    if len(result) < count:
        assert all(any(clash(slot, chosen, buffer) for chosen in result) for slot in valid), "as many as fit"
    days = {mediator_day(request, slot) for slot in result}
    if len(days) < len(result):
        event("a day holds two slots")
        for slot in valid:
            if mediator_day(request, slot) not in days:
                assert any(clash(slot, chosen, buffer) for chosen in result), "one per day first"
