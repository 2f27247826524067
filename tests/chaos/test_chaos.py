"""The chaos run in the suite: 200 cases through the whole flow on a three-broker cluster while service instances
are SIGKILLed every few seconds and one broker dies; nothing may be lost, doubled or left behind."""

import sys

import pytest
from rich.console import Console

from mednet_cli.chaos.run import ChaosRun, Plan, report


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_nothing_is_lost_doubled_or_left_behind_when_instances_and_a_broker_are_killed(tmp_path):
    plan = Plan(cases=200, poison=12, submit_seconds=50, kill_every=(3.0, 6.0), broker_down_seconds=10,
                drain_timeout=900)
    console = Console(file=sys.stdout, width=120)
    figures = await ChaosRun(plan, tmp_path, console).run()
    report(figures, console)
    assert figures.faults_injected >= 8, "a few instances and one broker were killed"
    assert figures.cases_lost == 0, figures.lost_examples
    assert figures.duplicate_alerts == 0, figures.duplicate_examples
    assert figures.double_bookings == 0
    assert figures.outbox_backlog == 0 and figures.consumer_lag == 0
    assert figures.dead_letters_distinct == figures.dead_letters_matching_poison == plan.poison
    assert figures.unexpected_dead_letters == 0
    assert figures.seconds_to_drain is not None
