"""The console's forms as the services' bodies, and times in the reader's zone, named."""

from datetime import UTC, datetime

import pytest

from mednet_console import times
from mednet_console.domain import forms


def test_weekly_hours_overrides_and_blackouts_become_scheduling_s_availability():
    body = forms.availability({"hours_mon": "09:00-12:00, 13:00-17:30", "hours_tue": "8:30 - 16:00", "hours_wed": "",
                               "date_overrides": "2026-03-31 10:00-12:00\n\n2026-04-02 14:00-15:00, 16:00-17:00",
                               "blackout_days": "2026-04-01\n"})
    assert body["weekly"] == [{"day": "mon", "start": "09:00", "end": "12:00"},
                              {"day": "mon", "start": "13:00", "end": "17:30"},
                              {"day": "tue", "start": "08:30", "end": "16:00"}]
    assert body["date_overrides"] == {"2026-03-31": [{"start": "10:00", "end": "12:00"}],
                                      "2026-04-02": [{"start": "14:00", "end": "15:00"},
                                                     {"start": "16:00", "end": "17:00"}]}
    assert body["blackout_days"] == ["2026-04-01"]


def test_every_mistake_in_the_hours_form_is_named_with_its_field():
    with pytest.raises(forms.FormError) as refused:
        forms.availability({"hours_mon": "9 to 5", "hours_fri": "17:00-09:00", "date_overrides": "31/03 10:00-12:00",
                            "blackout_days": "tomorrow"})
    assert refused.value.problems == ["Monday: '9 to 5' is not hours like 09:00-17:00",
                                      "Friday: 17:00-09:00 ends before it starts",
                                      "Date overrides, line 1: '31/03' is not a date like 2026-03-31",
                                      "Blackout days, line 1: 'tomorrow' is not a date like 2026-03-31"]


def test_the_hours_form_shows_what_scheduling_holds():
    view = {"weekly": [{"day": "mon", "start": "09:00:00", "end": "12:00:00"},
                       {"day": "mon", "start": "13:00:00", "end": "17:00:00"}],
            "date_overrides": {"2026-03-31": [["10:00:00", "12:00:00"]]}, "blackout_days": ["2026-04-01"]}
    fields = forms.availability_fields(view)
    assert fields["hours_mon"] == "09:00-12:00, 13:00-17:00" and fields["hours_tue"] == ""
    assert fields["date_overrides"] == "2026-03-31 10:00-12:00" and fields["blackout_days"] == "2026-04-01"
    assert forms.availability(fields)["weekly"][1] == {"day": "mon", "start": "13:00", "end": "17:00"}


def test_objectives_are_the_rows_given_a_priority_on_the_shared_vocabulary():
    rows = forms.objectives({"payment_amount.priority": "1", "payment_amount.wants": "Full refund",
                             "payment_amount.stance": "wants", "apology.priority": "", "apology.wants": "ignored",
                             "other.priority": "3", "other.wants": "A plaque", "other.free_issue": "Memorial",
                             "other.stance": "willing", "other.shareable": "on"})
    assert rows == [{"issue": "payment_amount", "wants": "Full refund", "stance": "wants", "shareable": False,
                     "priority": 1},
                    {"issue": "other", "wants": "A plaque", "stance": "willing", "shareable": True, "priority": 3,
                     "free_issue": "Memorial"}]
    assert forms.objectives(forms.objective_fields(rows)) == rows


def test_an_objective_without_its_words_priority_or_name_is_refused_in_plain_words():
    with pytest.raises(forms.FormError) as refused:
        forms.objectives({"costs.priority": "11", "costs.wants": "x", "apology.priority": "2",
                          "other.priority": "1", "other.wants": "y", "reference.priority": "4",
                          "reference.wants": "z", "reference.stance": "demands"})
    assert refused.value.problems == ["Apology: say what the party wants on it",
                                      "Reference: choose what the party's stance is",
                                      "Costs: the priority must be a number from 1 (highest) to 10",
                                      "Other: name the issue"]


def test_conferencing_and_reschedule_dates():
    assert forms.conferencing({"kind": "video", "url_template": " https://meet.example/{room} "}) == \
        {"kind": "video", "url_template": "https://meet.example/{room}"}
    assert forms.conferencing({"kind": "callback", "phone": "+44 20 7946 0000"})["phone"] == "+44 20 7946 0000"
    with pytest.raises(forms.FormError, match="choose video, phone bridge or callback"):
        forms.conferencing({"kind": "carrier pigeon"})
    assert forms.not_before("", "Europe/Paris") is None
    assert forms.not_before("2026-03-31", "Asia/Kolkata") == "2026-03-31T00:00:00+05:30"
    with pytest.raises(forms.FormError, match="Not before"):
        forms.not_before("soon", "UTC")


def test_times_are_shown_in_the_reader_s_zone_with_the_zone_named():
    start, end = datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 3, 29, 1, 15, tzinfo=UTC)
    assert times.when(start, "Europe/Berlin") == "Sunday 29 March 2026, 01:30 (Europe/Berlin, CET)"
    assert times.span(start.isoformat(), end.isoformat(), "Europe/Berlin") == \
        "Sunday 29 March 2026, 01:30–03:15 (Europe/Berlin, CET)"  # DST begins at 02:00 that night
    assert times.when(start, "Asia/Kolkata") == "Sunday 29 March 2026, 06:00 (Asia/Kolkata, IST)"
    assert times.when(start, "Not/AZone").endswith("(UTC, UTC)")


def test_calls_are_grouped_by_their_day_in_the_reader_s_zone():
    calls = [{"id": "late", "start": "2026-03-30T23:30:00+00:00"}, {"id": "early", "start": "2026-03-30T08:00:00Z"}]
    assert [(day, [c["id"] for c in group]) for day, group in times.by_day(calls, "UTC")] == \
        [("Monday 30 March 2026", ["early", "late"])]
    assert [(day, [c["id"] for c in group]) for day, group in times.by_day(calls, "Asia/Tokyo")] == \
        [("Monday 30 March 2026", ["early"]), ("Tuesday 31 March 2026", ["late"])]
