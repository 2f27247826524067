"""Slot search for pre-mediation calls: the earliest time a mediator and one party can talk.

Candidate starts lie on a 15-minute grid of UTC (every quarter hour since the Unix epoch). Every current zone
offset is a whole number of quarter hours (Asia/Kolkata +5:30, Pacific/Chatham +12:45 included), so these are
local quarter hours on both sides as well.

Local wall times become instants with zoneinfo: an ambiguous wall time (the repeated hour when clocks fall back)
means its first occurrence; a wall time inside a spring-forward gap does not exist, so a window edge inside the
gap moves to the end of the gap. A window on a switch day is therefore shorter or longer than its wall-clock span.

A call fits the mediator's hours, the party's availability and, when the party has an attorney, the attorney's
availability and unavailable periods in the attorney's own zone (the party's when the attorney names none; no weekly
availability: any time the party can). Public holidays are those of each side's country, or of its subdivision
(holiday_subdivision: England, a US state) when it names one the holidays library knows.

`find_slots` searches several slots for an offer: non-overlapping (buffers included), at most one per day of the
mediator first, then filled in, inside an optional set of proposed windows and away from slots to avoid.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import NamedTuple
from zoneinfo import ZoneInfo

import holidays

from mednet_shared.contracts.values import Mediator, Party, SchedulingPolicy, Session, Weekday, WeeklyWindow

GRID = timedelta(minutes=15)

Hours = tuple[tuple[time, time], ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_DAY = timedelta(days=1)
_SMALLEST_STEP = timedelta(microseconds=1)
_WEEKDAYS = tuple(Weekday)
_SATURDAY, _SUNDAY = 5, 6


@dataclass(frozen=True)
class Booking:
    call_id: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"booking {self.call_id!r} needs time-zone-aware start and end")
        if self.end <= self.start:
            raise ValueError(f"booking {self.call_id!r} must end after it starts")


class Calendar:
    """A mediator's bookings sorted by start; overlap queries cost O(log n) plus the bookings near the query."""

    def __init__(self, bookings: Iterable[Booking] = ()) -> None:
        self._by_call_id = {booking.call_id: booking for booking in bookings}
        self._bookings = sorted(self._by_call_id.values(), key=lambda booking: booking.start)
        self._starts = [booking.start for booking in self._bookings]
        self._durations = sorted(booking.end - booking.start for booking in self._bookings)

    def add(self, booking: Booking) -> None:
        if booking.call_id in self._by_call_id:
            self.remove(booking.call_id)
        index = bisect_right(self._starts, booking.start)
        self._starts.insert(index, booking.start)
        self._bookings.insert(index, booking)
        insort(self._durations, booking.end - booking.start)
        self._by_call_id[booking.call_id] = booking

    def remove(self, call_id: str) -> None:
        booking = self._by_call_id.pop(call_id)
        index = bisect_left(self._starts, booking.start)
        while self._bookings[index].call_id != call_id:
            index += 1
        del self._starts[index]
        del self._bookings[index]
        del self._durations[bisect_left(self._durations, booking.end - booking.start)]

    def conflicts(self, start: datetime, end: datetime, buffer: timedelta) -> list[Booking]:
        if not self._bookings:
            return []
        first = bisect_right(self._starts, start - buffer - self._durations[-1])
        last = bisect_left(self._starts, end + buffer)
        return [booking for booking in self._bookings[first:last] if start < booking.end + buffer]

    def __len__(self) -> int:
        return len(self._bookings)

    def __iter__(self) -> Iterator[Booking]:
        return iter(tuple(self._bookings))


@dataclass(frozen=True)
class MediatorAvailability:
    weekly: tuple[WeeklyWindow, ...] | None = None
    date_overrides: Mapping[date, Hours] = field(default_factory=dict)
    blackout_days: frozenset[date] = frozenset()


@dataclass(frozen=True)
class SlotRequest:
    call_id: str
    mediator: Mediator
    party: Party
    session: Session
    policy: SchedulingPolicy
    now: datetime
    not_before: datetime | None = None
    availability: MediatorAvailability = field(default_factory=MediatorAvailability)
    not_after: datetime | None = None
    """The end of the offer window: no call ends after it (the preparation lead still applies)."""

    def __post_init__(self) -> None:
        moments = (self.now, self.not_before, self.not_after)
        if any(moment is not None and moment.tzinfo is None for moment in moments):
            raise ValueError("now, not_before and not_after must be time-zone aware")


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class NoSlot:
    reason: str


def find_slot(request: SlotRequest, calendar: Calendar) -> Slot | NoSlot:
    search = _Search(request, calendar)
    problem = search.window_problem()
    if problem:
        return NoSlot(problem)
    return search.first_slot() or NoSlot(search.why_nothing_fits())


def find_slots(request: SlotRequest, calendar: Calendar, count: int,
               within: Sequence[tuple[datetime, datetime]] | None = None,
               avoid: Iterable[Slot] = ()) -> list[Slot] | NoSlot:
    """Up to `count` slots that each satisfy every rule of find_slot and do not overlap one another (buffers
    included), earliest first: at most one per day of the mediator, then filled in from the earliest. `within`:
    only inside these windows (proposals); `avoid`: no slot overlapping one of these (declined ones)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    search = _Search(request, calendar)
    problem = search.window_problem()
    if problem:
        return NoSlot(problem)
    avoided = tuple(sorted(_Interval(slot.start, slot.end) for slot in avoid))
    windows = None if within is None else _merged(_Interval(start.astimezone(UTC), end.astimezone(UTC))
                                                  for start, end in within if start < end)
    taken, chosen, days = Calendar(), [], set()

    def fits(slot: Slot) -> bool:
        return not taken.conflicts(slot.start, slot.end, search.buffer)

    def take(slot: Slot) -> None:
        chosen.append(slot)
        taken.add(Booking(f"chosen-{len(chosen)}", slot.start, slot.end))
        days.add(search.mediator.local_date(slot.start))

    for slot in search.free_slots(windows, avoided):
        if len(chosen) == count:
            break
        if search.mediator.local_date(slot.start) not in days and fits(slot):
            take(slot)
    if len(chosen) < count:
        for slot in search.free_slots(windows, avoided):
            if len(chosen) == count:
                break
            if fits(slot):
                take(slot)
    if not chosen:
        if windows is not None and not _is_empty(search.free_slots(None, avoided)):
            spans = ", ".join(f"{_text(window.start)} - {_text(window.end)}" for window in windows) or "none"
            return NoSlot(f"no slot fits inside the proposed windows ({spans}): {search.why_nothing_fits()}")
        return NoSlot(search.why_nothing_fits())
    return sorted(chosen, key=lambda slot: slot.start)


def violations(request: SlotRequest, calendar: Calendar, slot: Slot) -> list[str]:
    return _Search(request, calendar).rules_broken_by(slot)


def holiday_country_of_zone(zone: str) -> str | None:
    return _countries_by_zone().get(zone)


class _Interval(NamedTuple):
    start: datetime
    end: datetime


@dataclass(frozen=True)
class _Side:
    role: str
    hours_name: str
    zone_name: str
    zone: ZoneInfo
    weekly: tuple[Hours, ...]
    policy: SchedulingPolicy
    holiday_country: str | None
    date_overrides: Mapping[date, Hours]
    blackout_days: frozenset[date]
    unavailable: tuple[_Interval, ...]
    holiday_subdivision: str | None = None
    always_open: bool = False
    """No weekly hours: every instant is open except the unavailable periods (an attorney without availability)."""

    @property
    def description(self) -> str:
        return f"the {self.role}'s {self.hours_name} ({self.zone_name})"

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def hours_on(self, day: date) -> Hours:
        if self.always_open:
            return ((time(0), time(0)),)
        if day in self.blackout_days:
            return ()
        if day in self.date_overrides:
            return self.date_overrides[day]
        return self.weekly[day.weekday()]

    def hour_intervals_on(self, day: date) -> list[_Interval]:
        zone = self.zone
        if self.always_open:
            return [_Interval(_instant(day, time(0), zone), _instant(day + _ONE_DAY, time(0), zone))]
        spans = (_Interval(_instant(day, start, zone), _instant(day, end, zone)) for start, end in self.hours_on(day))
        return _merged(span for span in spans if span.start < span.end)

    def reasons_day_is_off(self, day: date) -> list[str]:
        reasons: list[str] = []
        if self.always_open:
            return reasons
        if not self.policy.allow_weekends and day.weekday() in (_SATURDAY, _SUNDAY):
            reasons.append(f"{day} is a weekend day in the {self.role}'s zone ({self.zone_name})")
        holiday = _holiday_name(self.holiday_country, self.holiday_subdivision, day)
        if not self.policy.allow_holidays and holiday:
            country = f"{self.holiday_region} (the {self.role}'s country)"
            reasons.append(f"{day} is {holiday}, a public holiday in {country}")
        return reasons

    @property
    def holiday_region(self) -> str:
        """The country, or country-subdivision when the holidays library knows the subdivision."""
        if self.holiday_country and self.holiday_subdivision and _holidays_of(
                self.holiday_country, self.holiday_subdivision, None) is not None:
            return f"{self.holiday_country}-{self.holiday_subdivision}"
        return self.holiday_country or ""

    def open_intervals_on(self, day: date) -> list[_Interval]:
        if not self.hours_on(day) or self.reasons_day_is_off(day):
            return []
        return _without(self.hour_intervals_on(day), self.unavailable)

    def open_intervals_between(self, earliest: datetime, latest: datetime) -> Iterator[_Interval]:
        day, last_day = self.local_date(earliest), self.local_date(latest)
        while day <= last_day:
            for interval in self.open_intervals_on(day):
                start, end = max(interval.start, earliest), min(interval.end, latest)
                if start < end:
                    yield _Interval(start, end)
            day += _ONE_DAY

    def hours_cover(self, start: datetime, end: datetime) -> bool:
        if self.always_open:
            return True
        intervals = self.hour_intervals_on(self.local_date(start))
        return any(interval.start <= start and end <= interval.end for interval in intervals)

    def rules_broken_by(self, start: datetime, end: datetime) -> list[str]:
        broken = [] if self.hours_cover(start, end) else [f"it is outside {self.description}"]
        for day in sorted({self.local_date(start), self.local_date(end - _SMALLEST_STEP)}):
            broken += self.reasons_day_is_off(day)
        broken += [
            f"it overlaps the {self.role}'s unavailable period {_text(hole.start)} - {_text(hole.end)}"
            for hole in self.unavailable
            if hole.start < end and start < hole.end
        ]
        return broken


class _Search:
    def __init__(self, request: SlotRequest, calendar: Calendar) -> None:
        policy = request.policy
        self.request = request
        self.calendar = calendar
        self.duration = timedelta(minutes=policy.call_minutes)
        self.buffer = timedelta(minutes=request.mediator.buffer_minutes)
        self.notice_start = (request.now + timedelta(hours=policy.minimum_notice_hours)).astimezone(UTC)
        self.earliest = max(self.notice_start, request.not_before or self.notice_start).astimezone(UTC)
        self.prepared_by = (request.session.start - timedelta(hours=policy.preparation_lead_hours)).astimezone(UTC)
        self.latest = min(self.prepared_by, request.not_after or self.prepared_by).astimezone(UTC)
        self.mediator = _mediator_side(request)
        self.party = _party_side(request)
        self.attorney = _attorney_side(request)
        self.sides = [side for side in (self.mediator, self.party, self.attorney) if side is not None]

    def window_problem(self) -> str | None:
        request, minutes = self.request, self.request.policy.call_minutes
        if request.now >= request.session.start:
            return f"the session already started at {_text(request.session.start)}"
        if self.earliest + self.duration <= self.latest:
            return None
        if self.latest < self.prepared_by:
            return (f"the offer window ({_text(self.earliest)} - {_text(self.latest)}) leaves no room "
                    f"for a {minutes}-minute call")
        deadline = (
            f"{_text(self.latest)} (the session at {_text(request.session.start)} "
            f"minus the {request.policy.preparation_lead_hours} h preparation lead)"
        )
        if self.earliest > self.notice_start:
            return (
                f"the requested earliest start {_text(self.earliest)} leaves no room "
                f"for a {minutes}-minute call before {deadline}"
            )
        return (
            f"the session is too close: the minimum notice of {request.policy.minimum_notice_hours} h "
            f"(earliest start {_text(self.earliest)}) leaves no room for a {minutes}-minute call before {deadline}"
        )

    def common_intervals(self) -> Iterator[_Interval]:
        intervals = self.mediator.open_intervals_between(self.earliest, self.latest)
        for side in self.sides[1:]:
            intervals = _intersection(intervals, side.open_intervals_between(self.earliest, self.latest))
        return intervals

    def free_slots(self, windows: list[_Interval] | None, avoided: tuple[_Interval, ...]) -> Iterator[Slot]:
        """Every slot on the grid that satisfies every rule, earliest first."""
        intervals = self.common_intervals()
        if windows is not None:
            intervals = _intersection(intervals, iter(windows))
        for interval in intervals:
            start = _on_grid(interval.start)
            while start + self.duration <= interval.end:
                end = start + self.duration
                blocking = self.conflicts(start, end)
                if blocking:
                    start = _on_grid(max(booking.end for booking in blocking) + self.buffer)
                    continue
                clash = [hole for hole in avoided if hole.start < end and start < hole.end]
                if clash:
                    start = _on_grid(max(hole.end for hole in clash))
                    continue
                yield Slot(start, end)
                start += GRID

    def first_slot(self) -> Slot | None:
        for interval in self.common_intervals():
            slot = self.first_free_slot_in(interval)
            if slot:
                return slot
        return None

    def first_free_slot_in(self, interval: _Interval) -> Slot | None:
        start = _on_grid(interval.start)
        while start + self.duration <= interval.end:
            blocking = self.conflicts(start, start + self.duration)
            if not blocking:
                return Slot(start, start + self.duration)
            start = _on_grid(max(booking.end for booking in blocking) + self.buffer)
        return None

    def conflicts(self, start: datetime, end: datetime) -> list[Booking]:
        found = self.calendar.conflicts(start, end, self.buffer)
        return [booking for booking in found if booking.call_id != self.request.call_id]

    def why_nothing_fits(self) -> str:
        between = f"between {_text(self.earliest)} and {_text(self.latest)}"
        days_off = self.days_off_note()
        if _is_empty(self.mediator.open_intervals_between(self.earliest, self.latest)):
            return f"the mediator has no working hours ({self.mediator.zone_name}) {between}{days_off}"
        if _is_empty(self.party.open_intervals_between(self.earliest, self.latest)):
            return (
                f"the party has no availability ({self.party.zone_name}) {between}{self.unavailable_note()}{days_off}"
            )
        attorney = self.attorney
        if attorney is not None and _is_empty(attorney.open_intervals_between(self.earliest, self.latest)):
            return f"the attorney has no availability ({attorney.zone_name}) {between}{days_off}"
        both = f"{self.mediator.description} and {self.party.description}"
        if attorney is not None:
            both = f"{self.mediator.description}, {self.party.description} and {attorney.description}"
        common = list(self.common_intervals())
        if not common:
            return f"{both} never overlap {between}{self.unavailable_note()}{days_off}"
        if not any(_on_grid(interval.start) + self.duration <= interval.end for interval in common):
            return (
                f"{both} overlap {between} only in stretches too short for a {self.request.policy.call_minutes}-minute "
                f"call starting on a quarter hour{self.unavailable_note()}{days_off}"
            )
        return (
            f"no slot {between} fits {self.mediator.description}, {self.party.description}, "
            f"{len(self.conflicts(self.earliest, self.latest))} existing bookings with "
            f"{self.request.mediator.buffer_minutes} min buffers{self.unavailable_note()}{days_off}"
        )

    def days_off_note(self) -> str:
        policy, excluded = self.request.policy, []
        if not policy.allow_weekends:
            excluded.append("weekends")
        countries = sorted({side.holiday_region for side in self.sides if side.holiday_region})
        if not policy.allow_holidays and countries:
            excluded.append(f"public holidays of {', '.join(countries)}")
        return f", {' and '.join(excluded)} excluded" if excluded else ""

    def unavailable_note(self) -> str:
        count = len(self.party.unavailable)
        return f", outside the party's {count} unavailable periods" if count else ""

    def rules_broken_by(self, slot: Slot) -> list[str]:
        request, policy = self.request, self.request.policy
        broken = []
        minutes = (slot.end - slot.start) / timedelta(minutes=1)
        if slot.end - slot.start != self.duration:
            broken.append(f"it lasts {minutes:g} minutes, not {policy.call_minutes}")
        if slot.start < self.notice_start:
            notice = f"{policy.minimum_notice_hours} h ({_text(self.notice_start)})"
            broken.append(f"it starts before the minimum notice of {notice}")
        if request.not_before and slot.start < request.not_before:
            broken.append(f"it starts before the requested earliest start {_text(request.not_before)}")
        if slot.end > self.prepared_by:
            lead = f"{policy.preparation_lead_hours} h preparation lead"
            broken.append(f"it ends after {_text(self.prepared_by)}, within the {lead}")
        elif slot.end > self.latest:
            broken.append(f"it ends after the end of the offer window {_text(self.latest)}")
        for side in self.sides:
            broken += side.rules_broken_by(slot.start, slot.end)
        broken += [
            f"it conflicts with call {booking.call_id} ({_text(booking.start)} - {_text(booking.end)}) "
            f"given the {request.mediator.buffer_minutes}-minute buffer"
            for booking in self.conflicts(slot.start, slot.end)
        ]
        return broken


def _mediator_side(request: SlotRequest) -> _Side:
    mediator, availability = request.mediator, request.availability
    weekly = mediator.working_hours if availability.weekly is None else availability.weekly
    return _Side(
        role="mediator",
        hours_name="working hours",
        zone_name=mediator.time_zone,
        zone=ZoneInfo(mediator.time_zone),
        weekly=_hours_by_weekday(weekly),
        policy=request.policy,
        holiday_country=mediator.holiday_country or holiday_country_of_zone(mediator.time_zone),
        date_overrides=availability.date_overrides,
        blackout_days=availability.blackout_days,
        unavailable=(),
        holiday_subdivision=mediator.holiday_subdivision,
    )


def _party_side(request: SlotRequest) -> _Side:
    party = request.party
    return _Side(
        role="party",
        hours_name="availability",
        zone_name=party.time_zone,
        zone=ZoneInfo(party.time_zone),
        weekly=_hours_by_weekday(party.availability),
        policy=request.policy,
        holiday_country=party.holiday_country or holiday_country_of_zone(party.time_zone),
        date_overrides={},
        blackout_days=frozenset(),
        unavailable=tuple(sorted(_Interval(window.start, window.end) for window in party.unavailable)),
        holiday_subdivision=party.holiday_subdivision,
    )


def _attorney_side(request: SlotRequest) -> _Side | None:
    """The party's attorney as a constraint; None when there is no attorney or nothing it constrains."""
    party = request.party
    attorney = party.attorney
    if attorney is None or not (attorney.availability or attorney.unavailable):
        return None
    zone_name = attorney.time_zone or party.time_zone
    return _Side(
        role="attorney",
        hours_name="availability",
        zone_name=zone_name,
        zone=ZoneInfo(zone_name),
        weekly=_hours_by_weekday(attorney.availability),
        policy=request.policy,
        holiday_country=holiday_country_of_zone(zone_name) if attorney.availability else None,
        date_overrides={},
        blackout_days=frozenset(),
        unavailable=tuple(sorted(_Interval(window.start, window.end) for window in attorney.unavailable)),
        always_open=not attorney.availability,
    )


def _hours_by_weekday(windows: Iterable[WeeklyWindow]) -> tuple[Hours, ...]:
    windows = list(windows)
    return tuple(
        tuple((window.start, window.end) for window in windows if window.day == weekday) for weekday in _WEEKDAYS
    )


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    local = datetime.combine(day, wall, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    return _end_of_gap_around(local)


def _end_of_gap_around(local: datetime) -> datetime:
    zone = local.tzinfo
    before, after = int(local.replace(fold=1).timestamp()), int(local.timestamp())
    offset_after_gap = datetime.fromtimestamp(after, zone).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset_after_gap:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def _merged(spans: Iterable[_Interval]) -> list[_Interval]:
    merged: list[_Interval] = []
    for span in sorted(spans):
        if merged and span.start <= merged[-1].end:
            merged[-1] = _Interval(merged[-1].start, max(merged[-1].end, span.end))
        else:
            merged.append(span)
    return merged


def _without(spans: list[_Interval], holes: Iterable[_Interval]) -> list[_Interval]:
    for hole in holes:
        spans = [piece for span in spans for piece in _minus(span, hole)]
    return spans


def _minus(span: _Interval, hole: _Interval) -> list[_Interval]:
    if hole.end <= span.start or span.end <= hole.start:
        return [span]
    pieces = (_Interval(span.start, hole.start), _Interval(hole.end, span.end))
    return [piece for piece in pieces if piece.start < piece.end]


def _intersection(first: Iterator[_Interval], second: Iterator[_Interval]) -> Iterator[_Interval]:
    one, other = next(first, None), next(second, None)
    while one is not None and other is not None:
        start, end = max(one.start, other.start), min(one.end, other.end)
        if start < end:
            yield _Interval(start, end)
        if one.end <= other.end:
            one = next(first, None)
        else:
            other = next(second, None)


def _on_grid(moment: datetime) -> datetime:
    overshoot = (moment - _EPOCH) % GRID
    rounded_up = moment + (GRID - overshoot) if overshoot else moment
    return rounded_up.astimezone(UTC)


def _is_empty(intervals: Iterator[_Interval]) -> bool:
    return next(intervals, None) is None


def _text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _holiday_name(country: str | None, subdivision: str | None, day: date) -> str | None:
    if not country:
        return None
    found = _holidays_of(country, subdivision, day.year) if subdivision else None
    return (found if found is not None else _holidays_of(country, None, day.year) or {}).get(day)


@lru_cache(maxsize=None)
def _holidays_of(country: str, subdivision: str | None, year: int | None) -> Mapping[date, str] | None:
    """The holidays of a country (or of one of its subdivisions) in a year; None: the library does not know the
    country or subdivision (an unknown subdivision means the country's holidays, an unknown country none)."""
    try:
        return MappingProxyType(dict(holidays.country_holidays(country, subdiv=subdivision, years=year or [])))
    except NotImplementedError:
        return None


@lru_cache(maxsize=1)
def _countries_by_zone() -> Mapping[str, str]:
    tables = resources.files("tzdata").joinpath("zoneinfo")
    countries = {}
    for table in ("zone1970.tab", "zone.tab"):
        for line in tables.joinpath(table).read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                codes, _coordinates, zone = line.split("\t")[:3]
                countries[zone] = codes.split(",")[0]
    return MappingProxyType(countries)
