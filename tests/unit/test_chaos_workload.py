"""The chaos workload's cases can all be scheduled whenever the run is made: no session, and no window for its
calls, falls in the year-end holidays (a run made on 1 December put calls of a busy mediator into a window of four
working days, and a side got SchedulingFailed, which the chaos run does not expect)."""

import json
from datetime import datetime, timedelta

import pytest

from mednet_cli.chaos import workload


@pytest.mark.parametrize("today", ["2026-12-01", "2026-12-20", "2027-01-03", "2026-11-20", "2026-06-01"])
def test_no_session_or_call_window_of_a_run_falls_in_the_holidays(today):
    now = datetime.fromisoformat(f"{today}T08:00:00+00:00")
    made = workload.submissions("t", 200, workload.firm_ids("t", 3), workload.mediator_ids("t", 6), seed=7, now=now)
    for submission in made:
        start = datetime.fromisoformat(submission_start(submission))
        assert start > now + timedelta(days=13)
        for day in range(15):
            assert not workload.in_holidays(start - timedelta(days=day)), (today, start)


def submission_start(submission: workload.Submission) -> str:
    return json.loads(submission.record.value)["data"]["session"]["start"]
