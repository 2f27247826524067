from datetime import date, time, timedelta

import pytest

from mednet_scheduling.domain import (
    Booking,
    Calendar,
    MediatorAvailability,
    NoSlot,
    Slot,
    find_slot,
    holiday_country_of_zone,
    violations,
)
from mednet_shared.contracts.values import Weekday

from .factories import EVERY_DAY, a_mediator, a_party, a_request, utc, weekly

SUNDAY_BEFORE, MONDAY, FRIDAY_BEFORE = utc(2026, 1, 11), utc(2026, 1, 12), utc(2026, 1, 9)
FAR_SESSION = utc(2026, 3, 2)


def booking(call_id, start, minutes=45) -> Booking:
    return Booking(call_id, start, start + timedelta(minutes=minutes))


def slot_at(start, minutes=45) -> Slot:
    return Slot(start, start + timedelta(minutes=minutes))


def found(request, calendar=None) -> Slot:
    calendar = Calendar() if calendar is None else calendar
    result = find_slot(request, calendar)
    assert isinstance(result, Slot), result
    assert violations(request, calendar, result) == []
    return result


def not_found(request, calendar=None) -> str:
    result = find_slot(request, Calendar() if calendar is None else calendar)
    assert isinstance(result, NoSlot), result
    return result.reason


def test_earliest_slot_on_a_simple_monday():
    request = a_request(SUNDAY_BEFORE.replace(hour=9), FAR_SESSION, minimum_notice_hours=24)
    assert found(request) == slot_at(MONDAY.replace(hour=9))


def test_the_start_is_rounded_up_to_the_next_quarter_hour():
    request = a_request(MONDAY.replace(hour=10, minute=7), FAR_SESSION)
    assert found(request) == slot_at(MONDAY.replace(hour=10, minute=15))


def test_a_booking_and_the_buffer_after_it_push_the_call_later():
    calendar = Calendar([booking("other", MONDAY.replace(hour=9))])
    assert found(a_request(MONDAY, FAR_SESSION), calendar) == slot_at(MONDAY.replace(hour=10))


def test_without_a_buffer_the_call_follows_right_after_a_booking():
    calendar = Calendar([booking("other", MONDAY.replace(hour=9))])
    request = a_request(MONDAY, FAR_SESSION, mediator=a_mediator(buffer_minutes=0))
    assert found(request, calendar) == slot_at(MONDAY.replace(hour=9, minute=45))


def test_the_buffer_before_a_booking_counts_too_and_off_grid_bookings_round_up():
    calendar = Calendar([booking("other", MONDAY.replace(hour=9, minute=50))])
    assert found(a_request(MONDAY, FAR_SESSION), calendar) == slot_at(MONDAY.replace(hour=11))


def test_the_call_being_rescheduled_does_not_block_itself():
    calendar = Calendar([booking("call-1", MONDAY.replace(hour=9))])
    assert found(a_request(MONDAY, FAR_SESSION), calendar) == slot_at(MONDAY.replace(hour=9))


def test_a_busy_morning_is_jumped_over_booking_by_booking():
    calendar = Calendar([booking(f"other-{hour}", MONDAY.replace(hour=hour)) for hour in range(9, 16)])
    assert found(a_request(MONDAY, FAR_SESSION), calendar) == slot_at(MONDAY.replace(hour=16))


@pytest.mark.parametrize("second_window_start", ["10:00", "09:45"])
def test_touching_or_overlapping_windows_form_one_stretch(second_window_start):
    hours = weekly("09:00", "10:00") + weekly(second_window_start, "11:00")
    calendar = Calendar([booking("other", MONDAY.replace(hour=9), minutes=30)])
    request = a_request(MONDAY, FAR_SESSION, mediator=a_mediator(hours=hours, buffer_minutes=0), call_minutes=60)
    assert found(request, calendar) == slot_at(MONDAY.replace(hour=9, minute=30), minutes=60)


def every_day_request(now, **policy):
    hours = weekly("09:00", "17:00", EVERY_DAY)
    return a_request(now, FAR_SESSION, mediator=a_mediator(hours=hours), party=a_party(availability=hours), **policy)


def test_weekends_are_skipped():
    assert found(every_day_request(FRIDAY_BEFORE.replace(hour=16, minute=30))) == slot_at(MONDAY.replace(hour=9))


def test_weekends_are_allowed_when_the_policy_says_so():
    request = every_day_request(FRIDAY_BEFORE.replace(hour=16, minute=30), allow_weekends=True)
    assert found(request) == slot_at(utc(2026, 1, 10, 9))


def tokyo_mediator_and_los_angeles_party(**policy):
    return a_request(
        utc(2026, 1, 9, 3),
        FAR_SESSION,
        mediator=a_mediator("Asia/Tokyo", weekly("07:00", "11:00", EVERY_DAY)),
        party=a_party("America/Los_Angeles", weekly("14:00", "18:00", EVERY_DAY)),
        **policy,
    )


def test_a_weekend_on_either_side_of_the_date_line_is_skipped():
    assert found(tokyo_mediator_and_los_angeles_party()) == slot_at(utc(2026, 1, 12, 22))


def test_the_weekend_of_the_mediator_is_allowed_when_the_policy_says_so():
    assert found(tokyo_mediator_and_los_angeles_party(allow_weekends=True)) == slot_at(utc(2026, 1, 9, 22))


def christmas_request(mediator=None, **policy):
    return a_request(utc(2026, 12, 24, 17), utc(2027, 2, 1), mediator=mediator, **policy)


def test_british_christmas_weekend_and_boxing_day_observed_are_skipped():
    assert found(christmas_request()) == slot_at(utc(2026, 12, 29, 9))


def test_holidays_are_allowed_when_the_policy_says_so():
    assert found(christmas_request(allow_holidays=True)) == slot_at(utc(2026, 12, 25, 9))


def test_an_explicit_holiday_country_overrides_the_zone():
    utc_mediator = a_mediator("UTC")
    assert found(christmas_request(utc_mediator, allow_holidays=True)) == slot_at(utc(2026, 12, 25, 9))
    gb_mediator_in_utc = a_mediator("UTC", holiday_country="GB")
    utc_party = a_party("UTC")
    request = a_request(utc(2026, 12, 24, 17), utc(2027, 2, 1), mediator=gb_mediator_in_utc, party=utc_party)
    assert found(request) == slot_at(utc(2026, 12, 29, 9))


def test_without_a_holiday_country_there_are_no_holidays():
    request = a_request(utc(2026, 12, 24, 17), utc(2027, 2, 1), mediator=a_mediator("UTC"), party=a_party("UTC"))
    assert found(request) == slot_at(utc(2026, 12, 25, 9))


def thanksgiving_request(**policy):
    return a_request(utc(2026, 11, 25, 22), utc(2027, 1, 4), party=a_party("America/New_York"), **policy)


def test_the_party_s_thanksgiving_is_skipped_although_the_mediator_works():
    assert found(thanksgiving_request()) == slot_at(utc(2026, 11, 27, 14))


def test_thanksgiving_is_allowed_when_the_policy_says_so():
    assert found(thanksgiving_request(allow_holidays=True)) == slot_at(utc(2026, 11, 26, 14))


def test_minimum_notice():
    request = a_request(MONDAY.replace(hour=9), FAR_SESSION, minimum_notice_hours=48)
    assert found(request) == slot_at(utc(2026, 1, 14, 9))


def test_not_before_delays_the_call():
    request = a_request(MONDAY.replace(hour=9), FAR_SESSION, not_before=utc(2026, 1, 15, 13, 10))
    assert found(request) == slot_at(utc(2026, 1, 15, 13, 15))


def test_the_preparation_lead_leaves_no_room_after_a_long_booking():
    calendar = Calendar([booking("other", MONDAY.replace(hour=9), minutes=150)])
    session = utc(2026, 1, 13, 12)
    assert found(a_request(MONDAY.replace(hour=9), session), calendar) == slot_at(MONDAY.replace(hour=11, minute=45))
    reason = not_found(a_request(MONDAY.replace(hour=9), session, preparation_lead_hours=24), calendar)
    assert reason == (
        "no slot between 2026-01-12 09:00 UTC and 2026-01-12 12:00 UTC fits the mediator's working hours "
        "(Europe/London), the party's availability (Europe/London), 1 existing bookings with 15 min buffers, "
        "weekends and public holidays of GB excluded"
    )


def test_a_session_that_already_started_is_named_as_the_cause():
    reason = not_found(a_request(MONDAY.replace(hour=10), MONDAY.replace(hour=9)))
    assert reason == "the session already started at 2026-01-12 09:00 UTC"


def test_a_session_too_close_for_notice_and_preparation_is_named_as_the_cause():
    reason = not_found(
        a_request(MONDAY.replace(hour=9), utc(2026, 1, 13, 9), minimum_notice_hours=12, preparation_lead_hours=12)
    )
    assert reason.startswith(
        "the session is too close: the minimum notice of 12 h (earliest start 2026-01-12 21:00 UTC)"
    )
    assert "before 2026-01-12 21:00 UTC (the session at 2026-01-13 09:00 UTC minus the 12 h preparation lead)" in reason


def test_a_too_late_requested_start_is_named_as_the_cause():
    late_start = MONDAY.replace(hour=11, minute=30)
    reason = not_found(
        a_request(MONDAY.replace(hour=9), utc(2026, 1, 13, 12), preparation_lead_hours=24, not_before=late_start)
    )
    assert reason.startswith("the requested earliest start 2026-01-12 11:30 UTC leaves no room for a 45-minute call")


def test_a_mediator_on_blackout_days_is_named_as_the_cause():
    blackout = MediatorAvailability(blackout_days=frozenset({date(2026, 1, 12), date(2026, 1, 13)}))
    reason = not_found(a_request(MONDAY, utc(2026, 1, 14), availability=blackout))
    assert reason.startswith(
        "the mediator has no working hours (Europe/London) between 2026-01-12 00:00 UTC and 2026-01-14 00:00 UTC"
    )


def test_an_unavailable_party_is_named_as_the_cause():
    away = a_party(unavailable=[(utc(2026, 1, 11), utc(2026, 1, 20))])
    reason = not_found(a_request(MONDAY, utc(2026, 1, 14), party=away))
    assert reason.startswith("the party has no availability (Europe/London) between 2026-01-12 00:00 UTC")
    assert "outside the party's 1 unavailable periods" in reason


def test_hours_that_never_overlap_are_named_as_the_cause():
    request = a_request(MONDAY, utc(2026, 1, 14), mediator=a_mediator("Asia/Kolkata", weekly("09:00", "12:00")))
    assert not_found(request).startswith(
        "the mediator's working hours (Asia/Kolkata) and the party's availability (Europe/London) never overlap"
    )


def test_an_overlap_shorter_than_the_call_is_named_as_the_cause():
    request = a_request(
        MONDAY,
        utc(2026, 1, 14),
        mediator=a_mediator(hours=weekly("09:00", "10:00")),
        party=a_party(availability=weekly("09:30", "11:00")),
    )
    assert "only in stretches too short for a 45-minute call" in not_found(request)


def kolkata_and_st_johns(now, call_minutes=45):
    return a_request(
        now,
        now + timedelta(days=1),
        mediator=a_mediator("Asia/Kolkata", weekly("19:15", "21:00")),
        party=a_party("America/St_Johns", weekly("10:00", "12:00")),
        call_minutes=call_minutes,
    )


def test_kolkata_and_st_johns_in_winter_overlap_from_13_45_to_15_30_utc():
    request = kolkata_and_st_johns(MONDAY)
    assert found(request) == slot_at(utc(2026, 1, 12, 13, 45))
    one_booking = Calendar([booking("other", utc(2026, 1, 12, 13, 45))])
    assert found(request, one_booking) == slot_at(utc(2026, 1, 12, 14, 45))
    two_bookings = Calendar([booking("other", utc(2026, 1, 12, 13, 45)), booking("more", utc(2026, 1, 12, 14, 45))])
    assert "2 existing bookings" in not_found(request, two_bookings)


def test_kolkata_and_st_johns_in_summer_overlap_from_13_45_to_14_30_utc():
    assert found(kolkata_and_st_johns(utc(2026, 6, 1))) == slot_at(utc(2026, 6, 1, 13, 45))
    assert "too short for a 60-minute call" in not_found(kolkata_and_st_johns(utc(2026, 6, 1), call_minutes=60))


def switch_day_request(zone, day, start, end, call_minutes, calendar_buffer=15):
    sunday_hours = [weekly(start, end, [Weekday.SUN])[0]]
    return a_request(
        utc(day.year, day.month, day.day) - timedelta(days=2),
        utc(day.year, day.month, day.day) + timedelta(days=2),
        mediator=a_mediator(zone, sunday_hours, buffer_minutes=calendar_buffer),
        party=a_party(zone, weekly("00:00", "23:59", EVERY_DAY)),
        call_minutes=call_minutes,
        allow_weekends=True,
        allow_holidays=True,
    )


@pytest.mark.parametrize(
    ("zone", "day", "start", "end", "minutes", "expected_start"),
    [
        ("America/New_York", date(2026, 3, 8), "02:30", "04:00", 60, utc(2026, 3, 8, 7)),
        ("America/New_York", date(2026, 3, 8), "01:00", "03:30", 90, utc(2026, 3, 8, 6)),
        ("America/New_York", date(2026, 3, 8), "01:00", "02:30", 60, utc(2026, 3, 8, 6)),
        ("America/New_York", date(2026, 11, 1), "01:00", "01:45", 45, utc(2026, 11, 1, 5)),
        ("America/New_York", date(2026, 11, 1), "00:30", "02:00", 150, utc(2026, 11, 1, 4, 30)),
        ("Europe/London", date(2026, 3, 29), "01:00", "03:00", 60, utc(2026, 3, 29, 1)),
        ("Europe/London", date(2026, 10, 25), "00:30", "02:00", 150, utc(2026, 10, 24, 23, 30)),
        ("Australia/Lord_Howe", date(2026, 10, 4), "02:00", "03:00", 30, utc(2026, 10, 3, 15, 30)),
        ("Australia/Lord_Howe", date(2026, 4, 5), "01:00", "02:00", 90, utc(2026, 4, 4, 14)),
        ("America/St_Johns", date(2026, 3, 8), "01:30", "03:00", 30, utc(2026, 3, 8, 5)),
    ],
)
def test_a_window_on_a_switch_day_lasts_exactly_its_real_duration(zone, day, start, end, minutes, expected_start):
    assert found(switch_day_request(zone, day, start, end, minutes)) == slot_at(expected_start, minutes)
    assert isinstance(find_slot(switch_day_request(zone, day, start, end, minutes + 15), Calendar()), NoSlot)


def test_an_ambiguous_hour_means_its_first_occurrence_only():
    request = switch_day_request("America/New_York", date(2026, 11, 1), "01:00", "01:45", 45, calendar_buffer=0)
    first_occurrence_taken = Calendar([booking("other", utc(2026, 11, 1, 5))])
    assert isinstance(find_slot(request, first_occurrence_taken), NoSlot)
    assert violations(request, Calendar(), slot_at(utc(2026, 11, 1, 6))) == [
        "it is outside the mediator's working hours (America/New_York)"
    ]


def test_weekly_availability_of_the_mediator_replaces_the_case_s_working_hours():
    availability = MediatorAvailability(weekly=tuple(weekly("13:00", "14:00")))
    assert found(a_request(MONDAY, FAR_SESSION, availability=availability)) == slot_at(MONDAY.replace(hour=13))


def test_a_date_override_replaces_the_weekly_hours_of_that_date():
    afternoon = MediatorAvailability(date_overrides={date(2026, 1, 12): ((time(15), time(16)),)})
    assert found(a_request(MONDAY, FAR_SESSION, availability=afternoon)) == slot_at(MONDAY.replace(hour=15))
    day_off = MediatorAvailability(date_overrides={date(2026, 1, 12): ()})
    assert found(a_request(MONDAY, FAR_SESSION, availability=day_off)) == slot_at(utc(2026, 1, 13, 9))


def test_a_blackout_day_has_no_calls():
    blackout = MediatorAvailability(blackout_days=frozenset({date(2026, 1, 12)}))
    assert found(a_request(MONDAY, FAR_SESSION, availability=blackout)) == slot_at(utc(2026, 1, 13, 9))


def test_the_party_s_unavailable_period_is_avoided():
    party = a_party(unavailable=[(MONDAY.replace(hour=8), MONDAY.replace(hour=12, minute=10))])
    assert found(a_request(MONDAY, FAR_SESSION, party=party)) == slot_at(MONDAY.replace(hour=12, minute=15))


def test_violations_name_every_broken_rule():
    party = a_party(unavailable=[(utc(2026, 1, 10, 7), utc(2026, 1, 10, 8))])
    request = a_request(
        MONDAY.replace(hour=9), utc(2026, 1, 13), party=party, preparation_lead_hours=24, minimum_notice_hours=1
    )
    calendar = Calendar([booking("other", utc(2026, 1, 10, 8))])
    saturday_early = Slot(utc(2026, 1, 10, 7, 30), utc(2026, 1, 10, 8, 30))
    assert violations(request, calendar, saturday_early) == [
        "it lasts 60 minutes, not 45",
        "it starts before the minimum notice of 1 h (2026-01-12 10:00 UTC)",
        "it is outside the mediator's working hours (Europe/London)",
        "2026-01-10 is a weekend day in the mediator's zone (Europe/London)",
        "it is outside the party's availability (Europe/London)",
        "2026-01-10 is a weekend day in the party's zone (Europe/London)",
        "it overlaps the party's unavailable period 2026-01-10 07:00 UTC - 2026-01-10 08:00 UTC",
        "it conflicts with call other (2026-01-10 08:00 UTC - 2026-01-10 08:45 UTC) given the 15-minute buffer",
    ]


def test_violations_name_the_preparation_lead_and_a_holiday():
    request = a_request(utc(2026, 12, 20), utc(2026, 12, 26, 9), preparation_lead_hours=24)
    assert violations(request, Calendar(), slot_at(utc(2026, 12, 25, 9))) == [
        "it ends after 2026-12-25 09:00 UTC, within the 24 h preparation lead",
        "2026-12-25 is Christmas Day, a public holiday in GB (the mediator's country)",
        "2026-12-25 is Christmas Day, a public holiday in GB (the party's country)",
    ]


def test_violations_name_the_weekend_a_late_slot_runs_into():
    friday_night = slot_at(utc(2026, 1, 9, 23, 30))
    assert "2026-01-10 is a weekend day in the party's zone (Europe/London)" in violations(
        a_request(utc(2026, 1, 9), FAR_SESSION), Calendar(), friday_night
    )


def test_a_valid_slot_has_no_violations():
    assert violations(a_request(MONDAY, FAR_SESSION), Calendar(), slot_at(MONDAY.replace(hour=16, minute=15))) == []


@pytest.mark.parametrize(
    ("zone", "country"),
    [("Europe/London", "GB"), ("Asia/Kolkata", "IN"), ("America/St_Johns", "CA"), ("Pacific/Chatham", "NZ"),
     ("Australia/Lord_Howe", "AU"), ("Europe/Zurich", "CH"), ("Europe/Oslo", "NO"), ("America/Nassau", "BS"),
     ("UTC", None), ("Nowhere/Atlantis", None)],
)
def test_holiday_country_of_zone(zone, country):
    assert holiday_country_of_zone(zone) == country
