"""10,000 hostile records from hypothesis, interleaved with 1,000 valid submissions, on firms' inbound topics read
by two intake processes: each hostile one is rejected with a reason or dead-lettered, each valid one becomes a
case of the topic's firm, and no instance crashes."""

import sys

import pytest
from rich.console import Console

from mednet_cli.chaos.cli import fuzz_report
from mednet_cli.chaos.fuzz import FuzzRun


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_every_hostile_record_is_rejected_or_dead_lettered_and_every_valid_one_processed(infrastructure,
                                                                                              tmp_path):
    console = Console(file=sys.stdout, width=120)
    run = FuzzRun(infrastructure.kafka_bootstrap_servers, infrastructure.mongodb_url, tmp_path, console,
                  hostile=10_000, valid=1_000)
    figures = await run.run()
    fuzz_report(figures, console)
    assert figures.hostile_sent == 10_000 and figures.valid_sent == 1_000
    assert figures.hostile_unaccounted == 0, figures.unaccounted_examples
    assert figures.hostile_rejected_with_reason + figures.hostile_dead_lettered == 10_000
    assert figures.hostile_rejected_with_reason > 0 and figures.hostile_dead_lettered > 0
    assert figures.valid_processed == 1_000 and figures.cases_opened_for_another_firm == 0
    assert figures.instance_crashes == 0
