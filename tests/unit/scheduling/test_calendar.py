from datetime import timedelta

import pytest

from mednet_scheduling.domain import Booking, Calendar

from .factories import utc

BUFFER = timedelta(minutes=15)
TEN = utc(2026, 1, 12, 10)


def booking(call_id, start, minutes=45) -> Booking:
    return Booking(call_id, start, start + timedelta(minutes=minutes))


def call_ids(bookings) -> list[str]:
    return [booking.call_id for booking in bookings]


@pytest.mark.parametrize(
    ("start_minutes", "conflicts"),
    [(-60, False), (-59, True), (0, True), (59, True), (60, False)],
)
def test_a_conflict_includes_the_buffer_on_both_sides(start_minutes, conflicts):
    calendar = Calendar([booking("ten", TEN)])
    start = TEN + timedelta(minutes=start_minutes)
    assert call_ids(calendar.conflicts(start, start + timedelta(minutes=45), BUFFER)) == (["ten"] if conflicts else [])


def test_a_long_booking_is_found_among_many_short_ones():
    short_ones = [booking(f"short-{day}", TEN + timedelta(days=day)) for day in range(30)]
    retreat = Booking("retreat", utc(2026, 1, 1), utc(2026, 2, 1))
    calendar = Calendar([*short_ones, retreat])
    middle = utc(2026, 1, 20, 15)
    assert call_ids(calendar.conflicts(middle, middle + timedelta(minutes=45), BUFFER)) == ["retreat"]


def test_bookings_are_kept_sorted_and_removed_by_call_id():
    same_start = [booking(name, TEN) for name in ("a", "b", "c")]
    calendar = Calendar([booking("late", TEN + timedelta(hours=3)), *same_start])
    calendar.remove("b")
    assert call_ids(calendar) == ["a", "c", "late"]
    assert len(calendar) == 3
    with pytest.raises(KeyError):
        calendar.remove("b")


def test_adding_a_known_call_id_moves_the_booking():
    calendar = Calendar([booking("call", TEN)])
    calendar.add(booking("call", TEN + timedelta(days=1)))
    assert list(calendar) == [booking("call", TEN + timedelta(days=1))]
    assert calendar.conflicts(TEN, TEN + timedelta(minutes=45), BUFFER) == []


def test_removing_the_longest_booking_still_finds_the_others():
    calendar = Calendar([Booking("long", TEN, TEN + timedelta(hours=8)), booking("short", TEN + timedelta(days=1))])
    calendar.remove("long")
    start = TEN + timedelta(days=1, minutes=30)
    assert call_ids(calendar.conflicts(start, start + timedelta(minutes=45), BUFFER)) == ["short"]


def test_removing_a_short_booking_keeps_finding_a_long_one():
    calendar = Calendar([Booking("long", TEN, TEN + timedelta(hours=8)), booking("short", TEN - timedelta(days=1))])
    calendar.remove("short")
    start = TEN + timedelta(hours=6)
    assert call_ids(calendar.conflicts(start, start + timedelta(minutes=45), BUFFER)) == ["long"]


def test_a_booking_must_be_aware_and_end_after_it_starts():
    with pytest.raises(ValueError):
        Booking("bad", TEN, TEN)
    with pytest.raises(ValueError):
        Booking("naive", TEN.replace(tzinfo=None), TEN.replace(tzinfo=None) + timedelta(hours=1))
