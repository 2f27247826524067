"""`mednet bench --quick` on the real stack, on the consent flow: the bench firm chooses every side's offered slot
from its outbound topic; it runs every phase and the raw limit, prints its figures and saves them as JSON and PNG. Nothing here judges the figures' size: performance claims come from the benchmark's
printed output (docs/performance.md), not from timed tests."""

import json

import pytest

from rich.console import Console

from mednet_cli.bench import BenchOptions, run

PHASES = {"max", "half", "max-2x"}
SERVICES = {"intake", "scheduling", "notes", "notify"}
BOOKED = "CaseOpened -> first CallScheduled"
CONSENT = ("CaseOpened -> first CallSlotsOffered", "first CallSlotsOffered -> first choice sent",
           "first choice sent -> first CallScheduled")


@pytest.mark.timeout(600)  # three phases of the consent flow's round trip on a shared 2-core machine
def test_the_quick_benchmark_prints_its_figures_and_saves_them_as_json_and_png(infrastructure, tmp_path):
    console = Console(record=True, width=160)
    options = BenchOptions(cases=6, parties="2/4", out=tmp_path, quick=True,
                           kafka=infrastructure.kafka_bootstrap_servers, mongodb=infrastructure.mongodb_url)

    result = run(options, console)

    saved = json.loads((tmp_path / "bench.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert (tmp_path / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(saved["phases"]) == PHASES
    for name, phase in saved["phases"].items():
        assert phase["invitations"] == 3 * (2 + 4) * 3, f"{name}: every party, attorney and mediator is invited"
        assert phase["cases_per_second"] > 0 and phase["events_per_second"] > 0
        latency = phase["latency_ms"]
        assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
        assert len(saved["latency_over_time"][name]) == 6
        assert phase["choices"] >= 3 * (2 + 4), f"{name}: the firm chose for every side"
        inbound = f"mednet.firm.bench-{saved['run'].replace('-', '')}.inbound"
        assert phase["records_per_topic"][inbound] == 6 + phase["choices"], "its submissions and its choices"
        assert list(phase["consent_stages_ms"]) == list(CONSENT)
        for part in CONSENT:
            assert 0 < phase["consent_stages_ms"][part]["p50"] <= phase["stages_ms"][BOOKED]["p50"], (name, part)
        assert SERVICES <= set(phase["cpu_seconds"]) and all(phase["cpu_seconds"][s] > 0 for s in SERVICES)
    assert saved["phases"]["max-2x"]["instances"][saved["slowest_service"]] == 2
    half_rate = saved["phases"]["half"]["target_cases_per_second"]
    assert half_rate == pytest.approx(saved["phases"]["max"]["cases_per_second"] / 2, abs=0.01)
    raw = saved["raw_limit"]
    assert raw["messages"] == saved["phases"]["max"]["events"]
    assert raw["mongodb_writes"] == sum(saved["phases"]["max"]["mongodb_writes"].values()) > 0
    documents = saved["phases"]["max"]["mongodb_documents_written"]
    assert raw["mongodb_documents_written"] == sum(max(documents[s], writes)
                                                   for s, writes in saved["phases"]["max"]["mongodb_writes"].items())
    assert documents["notify"] > saved["phases"]["max"]["mongodb_writes"]["notify"], "an event's jobs are one command"
    assert raw["per_process_seconds"]["firm"]["kafka"] > 0, "the raw firm answers its outbound topic too"
    assert raw["seconds"] > 0 and saved["pipeline_to_raw_ratio"] > 0
    printed = console.export_text()
    for figure in ("cases/s", "events/s", "p99", "pipeline / raw limit", "CPU per process", "two instances",
                   BOOKED, *CONSENT):
        assert figure in printed
