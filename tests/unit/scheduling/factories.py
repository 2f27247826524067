from datetime import UTC, datetime, time, timedelta

from mednet_scheduling.domain import MediatorAvailability, SlotRequest
from mednet_shared.contracts.values import (
    Contact,
    DateWindow,
    Mediator,
    Party,
    PartyRole,
    SchedulingPolicy,
    Session,
    Weekday,
    WeeklyWindow,
)

WORKDAYS = (Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI)
EVERY_DAY = tuple(Weekday)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def weekly(start: str, end: str, days=WORKDAYS) -> list[WeeklyWindow]:
    return [WeeklyWindow(day=day, start=time.fromisoformat(start), end=time.fromisoformat(end)) for day in days]


def a_mediator(zone="Europe/London", hours=None, buffer_minutes=15, holiday_country=None) -> Mediator:
    return Mediator(
        mediator_id="med-1",
        name="Mia Mediator",
        email="mia@example.org",
        time_zone=zone,
        working_hours=hours or weekly("09:00", "17:00"),
        buffer_minutes=buffer_minutes,
        holiday_country=holiday_country,
    )


def a_party(zone="Europe/London", availability=None, unavailable=(), holiday_country=None) -> Party:
    return Party(
        party_id="party-1",
        role=PartyRole.CLAIMANT,
        contact=Contact(name="Pat Party", email="pat@example.org"),
        time_zone=zone,
        availability=availability or weekly("09:00", "17:00"),
        unavailable=[DateWindow(start=start, end=end) for start, end in unavailable],
        holiday_country=holiday_country,
    )


def a_request(
    now: datetime,
    session_start: datetime,
    *,
    mediator: Mediator | None = None,
    party: Party | None = None,
    call_id="call-1",
    not_before=None,
    availability=None,
    **policy,
) -> SlotRequest:
    policy = {"call_minutes": 45, "minimum_notice_hours": 0, "preparation_lead_hours": 0} | policy
    return SlotRequest(
        call_id=call_id,
        mediator=mediator or a_mediator(),
        party=party or a_party(),
        session=Session(start=session_start, end=session_start + timedelta(hours=3), time_zone="UTC"),
        policy=SchedulingPolicy(**policy),
        now=now,
        not_before=not_before,
        availability=availability or MediatorAvailability(),
    )
