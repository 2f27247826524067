"""Slot rules issue 17 added: the attorney's own zone and availability, holiday subdivisions, and the search for
several spread-out slots inside an offer window (holds included)."""

from datetime import date, timedelta

import pytest

from mednet_scheduling.domain import Booking, Calendar, NoSlot, Slot, find_slot, violations
from mednet_scheduling.domain.slots import find_slots
from mednet_shared.contracts.values import Attorney, DateWindow

from .factories import EVERY_DAY, a_mediator, a_party, a_request, utc, weekly

MONDAY = utc(2026, 1, 12)          # Monday 12 January 2026
SESSION = utc(2026, 1, 30, 14)


def attorney(zone=None, availability=(), unavailable=()) -> Attorney:
    return Attorney(firm_id="firm-b", name="Ada Attorney", email="ada@firm-b.example", time_zone=zone,
                    availability=list(availability),
                    unavailable=[DateWindow(start=start, end=end) for start, end in unavailable])


def with_attorney(party, lawyer):
    return party.model_copy(update={"attorney": lawyer})


# -- the attorney -------------------------------------------------------------------------------------------


def test_an_attorney_in_chicago_is_not_invited_before_their_working_day():
    """Attack from the issue: London mediator and party at 09:00 London = 03:00 Chicago for the attorney."""
    party = with_attorney(a_party(), attorney("America/Chicago", weekly("09:00", "17:00")))
    found = find_slot(a_request(MONDAY, SESSION, party=party), Calendar())
    # Chicago 09:00 in January is 15:00 UTC = 15:00 London; the call must fit by 17:00 London
    assert found == Slot(utc(2026, 1, 12, 15), utc(2026, 1, 12, 15, 45))


def test_an_attorney_whose_hours_never_meet_the_mediator_s_is_named_as_the_cause():
    party = with_attorney(a_party(), attorney("Australia/Sydney", weekly("09:00", "17:00")))
    found = find_slot(a_request(MONDAY, SESSION, party=party), Calendar())
    assert isinstance(found, NoSlot) and "attorney" in found.reason


def test_an_attorney_without_availability_adds_no_constraint():
    party = with_attorney(a_party(), attorney("Asia/Tokyo"))
    assert find_slot(a_request(MONDAY, SESSION, party=party), Calendar()) == Slot(utc(2026, 1, 12, 9),
                                                                                  utc(2026, 1, 12, 9, 45))


def test_an_attorney_without_a_zone_uses_the_party_s_zone():
    party = with_attorney(a_party("America/New_York", weekly("00:00", "23:45")),
                          attorney(None, weekly("10:00", "11:00")))
    found = find_slot(a_request(MONDAY, SESSION, party=party), Calendar())
    assert found == Slot(utc(2026, 1, 12, 15), utc(2026, 1, 12, 15, 45))   # 10:00 New York


def test_the_attorney_s_unavailable_period_is_avoided_even_without_weekly_hours():
    party = with_attorney(a_party(), attorney(unavailable=[(utc(2026, 1, 12), utc(2026, 1, 13, 12))]))
    found = find_slot(a_request(MONDAY, SESSION, party=party), Calendar())
    assert found == Slot(utc(2026, 1, 13, 12), utc(2026, 1, 13, 12, 45))


def test_violations_name_the_attorney():
    party = with_attorney(a_party(), attorney("America/Chicago", weekly("09:00", "17:00")))
    broken = violations(a_request(MONDAY, SESSION, party=party), Calendar(),
                        Slot(utc(2026, 1, 12, 9), utc(2026, 1, 12, 9, 45)))
    assert broken == ["it is outside the attorney's availability (America/Chicago)"]


def test_an_attorney_on_a_weekend_in_their_zone_is_skipped():
    mediator = a_mediator("Asia/Tokyo", weekly("06:00", "10:00"))
    party = with_attorney(a_party("Asia/Tokyo", weekly("06:00", "10:00")),
                          attorney("Pacific/Honolulu", weekly("00:00", "23:45", days=EVERY_DAY)))
    found = find_slot(a_request(utc(2026, 1, 11), SESSION, mediator=mediator, party=party), Calendar())
    # Monday 06:00 Tokyo is Sunday 11:00 Honolulu: a weekend day for the attorney; Tuesday 06:00 Tokyo is Monday
    assert found == Slot(utc(2026, 1, 12, 21), utc(2026, 1, 12, 21, 45))


# -- holiday subdivisions ---------------------------------------------------------------------------------------


def test_a_scottish_mediator_does_not_work_on_the_scottish_summer_bank_holiday():
    monday = utc(2026, 8, 3)   # Summer Bank Holiday in Scotland only
    mediator = a_mediator(holiday_country="GB").model_copy(update={"holiday_subdivision": "SCT"})
    found = find_slot(a_request(monday, utc(2026, 8, 20), mediator=mediator), Calendar())
    assert found == Slot(utc(2026, 8, 4, 8), utc(2026, 8, 4, 8, 45))   # 09:00 London (BST)
    assert find_slot(a_request(monday, utc(2026, 8, 20)), Calendar()).start == utc(2026, 8, 3, 8)


def test_a_californian_party_s_state_holiday_is_skipped():
    tuesday = utc(2026, 3, 31)  # Cesar Chavez Day in California
    party = a_party("America/Los_Angeles", holiday_country="US").model_copy(update={"holiday_subdivision": "CA"})
    anytime = a_mediator("UTC", weekly("00:00", "23:45"))
    found = find_slot(a_request(tuesday, utc(2026, 4, 20), party=party, mediator=anytime), Calendar())
    assert found.start.date() == date(2026, 4, 1)
    broken = violations(a_request(tuesday, utc(2026, 4, 20), party=party,
                                  mediator=a_mediator("UTC", weekly("00:00", "23:45"))),
                        Calendar(), Slot(utc(2026, 3, 31, 17), utc(2026, 3, 31, 17, 45)))
    assert broken == ["2026-03-31 is Cesar Chavez Day, a public holiday in US-CA (the party's country)"]


def test_an_unknown_subdivision_falls_back_to_the_country_s_holidays():
    mediator = a_mediator(holiday_country="GB").model_copy(update={"holiday_subdivision": "ZZZ"})
    found = find_slot(a_request(utc(2026, 12, 24, 17), utc(2027, 1, 20), mediator=mediator), Calendar())
    assert found.start == utc(2026, 12, 29, 9)


# -- several slots ---------------------------------------------------------------------------------------------


def search(count=3, *, calendar=None, within=None, avoid=(), not_before=MONDAY, not_after=None, now=MONDAY, **kw):
    request = a_request(now, SESSION, not_before=not_before, **kw)
    if not_after is not None:
        request = request.__class__(**{**request.__dict__, "not_after": not_after})
    return find_slots(request, calendar or Calendar(), count, within=within, avoid=avoid)


def test_three_slots_go_on_three_different_days_first():
    slots = search()
    assert [slot.start for slot in slots] == [utc(2026, 1, 12, 9), utc(2026, 1, 13, 9), utc(2026, 1, 14, 9)]


def test_when_days_run_out_the_remaining_slots_fill_in_with_buffers():
    slots = search(3, not_after=utc(2026, 1, 13, 17))
    assert [slot.start for slot in slots] == [utc(2026, 1, 12, 9), utc(2026, 1, 12, 10), utc(2026, 1, 13, 9)]


def test_slots_skip_bookings_and_holds_and_never_start_before_the_minimum_notice():
    blocked = Calendar([Booking("other-call", utc(2026, 1, 13, 9), utc(2026, 1, 13, 12)),
                        Booking("hold:x", utc(2026, 1, 14, 9), utc(2026, 1, 14, 16, 30))])
    slots = search(3, calendar=blocked, minimum_notice_hours=4, now=utc(2026, 1, 12, 10))
    assert [slot.start for slot in slots] == [utc(2026, 1, 12, 14), utc(2026, 1, 13, 12, 15), utc(2026, 1, 15, 9)]


def test_slots_stay_inside_the_proposed_windows_and_avoid_declined_ones():
    within = [(utc(2026, 1, 20, 10), utc(2026, 1, 20, 12)), (utc(2026, 1, 22, 14), utc(2026, 1, 22, 15))]
    avoid = [Slot(utc(2026, 1, 20, 10), utc(2026, 1, 20, 10, 45))]
    slots = search(3, within=within, avoid=avoid)
    assert [slot.start for slot in slots] == [utc(2026, 1, 20, 10, 45), utc(2026, 1, 22, 14)]


def test_fewer_slots_than_asked_is_what_fits_and_none_is_a_reason():
    assert len(search(3, not_after=utc(2026, 1, 12, 10))) == 1
    nothing = search(3, within=[(utc(2026, 1, 17, 9), utc(2026, 1, 17, 12))])   # a Saturday
    assert isinstance(nothing, NoSlot) and "proposed" in nothing.reason


def test_a_window_that_ends_before_it_starts_is_named_as_the_cause():
    nothing = search(3, not_before=utc(2026, 1, 12, 9), not_after=utc(2026, 1, 12, 9, 30))
    assert isinstance(nothing, NoSlot) and "offer window" in nothing.reason


def test_violations_name_a_slot_after_the_window_end():
    request = a_request(MONDAY, SESSION)
    request = request.__class__(**{**request.__dict__, "not_after": utc(2026, 1, 20)})
    broken = violations(request, Calendar(), Slot(utc(2026, 1, 21, 9), utc(2026, 1, 21, 9, 45)))
    assert broken == ["it ends after the end of the offer window 2026-01-20 00:00 UTC"]


@pytest.mark.parametrize("count", [1, 2, 5, 10])
def test_slots_never_overlap_one_another_with_the_buffer(count):
    slots = search(count, not_after=utc(2026, 1, 13, 17))
    for one, other in zip(slots, slots[1:]):
        assert one.end + timedelta(minutes=15) <= other.start
