"""The figures: computed from the phases and the raw limit, printed, saved as JSON and plotted."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .pipeline import PhaseResult
from .raw import RawResult

RATIO_TARGET, P99_TARGET_MS = 0.5, 150.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def spread(stages: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {stage: {"p50": round(percentile(values, 50), 1), "p95": round(percentile(values, 95), 1)}
            for stage, values in stages.items()}


def phase_figures(phase: PhaseResult) -> dict:
    latencies = [ms for _, ms in phase.latencies_ms]
    return {
        "cases": phase.cases, "invitations": phase.invitations, "instances": phase.instances,
        "target_cases_per_second": phase.target_rate, "seconds": round(phase.seconds, 3),
        "cases_per_second": round(phase.cases_per_second, 2), "events": phase.events,
        "events_per_second": round(phase.events_per_second, 1),
        "latency_ms": {name: round(percentile(latencies, q), 1) for name, q in
                       (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))},
        "stages_ms": spread(phase.stages), "consent_stages_ms": spread(phase.consent), "choices": phase.choices,
        "cpu_seconds": {name: round(seconds, 3) for name, seconds in phase.cpu_seconds.items()},
        "cpu_ms_per_case": {name: round(1000 * seconds / phase.cases, 2) for name, seconds in phase.cpu_seconds.items()},
        "mongodb_writes": phase.writes, "mongodb_documents_written": phase.documents,
        "mongodb_commands_per_case": {service: {command: round(count / phase.cases, 2)
                                                for command, count in sorted(counts.items()) if count}
                                      for service, counts in phase.commands.items()},
        "records_per_topic": phase.records,
        "mean_record_bytes": {topic: round(size) for topic, size in phase.sizes.items()},
    }


def figures(run: str, options: dict, phases: dict[str, PhaseResult], raw: RawResult, slowest: str) -> dict:
    maximum, half, scaled = phases["max"], phases["half"], phases["max-2x"]
    raw_cases = maximum.cases / raw.seconds
    ratio = maximum.cases_per_second / raw_cases
    half_p99 = percentile([ms for _, ms in half.latencies_ms], 99)
    return {
        "run": run, "options": options,
        "phases": {name: phase_figures(phase) for name, phase in phases.items()},
        "raw_limit": {"seconds": round(raw.seconds, 3), "kafka_seconds": round(raw.kafka_seconds, 3),
                      "mongodb_seconds": round(raw.mongo_seconds, 3), "messages": raw.messages,
                      "mongodb_writes": raw.writes, "mongodb_documents_written": raw.documents,
                      "cases_per_second": round(raw_cases, 2),
                      "events_per_second": round(raw.messages / raw.seconds, 1),
                      "per_process_seconds": raw.per_process},
        "pipeline_to_raw_ratio": round(ratio, 3),
        "slowest_service": slowest,
        "scaling": {"one_instance_cases_per_second": round(maximum.cases_per_second, 2),
                    "two_instances_cases_per_second": round(scaled.cases_per_second, 2),
                    "gain": round(scaled.cases_per_second / maximum.cases_per_second, 3)},
        "targets": {"pipeline_at_least_half_of_raw": ratio >= RATIO_TARGET,
                    "p99_at_half_rate_under_150_ms": half_p99 < P99_TARGET_MS,
                    "second_instance_raises_throughput": scaled.cases_per_second > maximum.cases_per_second},
        "latency_over_time": {name: [[round(t, 3), round(ms, 1)] for t, ms in phase.latencies_ms]
                              for name, phase in phases.items()},
    }


def show(console: Console, result: dict) -> None:
    table = Table(title=f"mednet bench {result['run']}: throughput, and submission to first invitation (ms)")
    for column in ("phase", "cases", "doubled", "rate", "s", "cases/s", "events/s", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="right" if column != "phase" else "left")
    for name, phase in result["phases"].items():
        doubled = ", ".join(s for s, n in phase["instances"].items() if n > 1) or "-"
        target = f"{phase['target_cases_per_second']:.1f}" if phase["target_cases_per_second"] else "max"
        latency = phase["latency_ms"]
        table.add_row(name, str(phase["cases"]), doubled, target, f"{phase['seconds']:.2f}",
                      f"{phase['cases_per_second']:.2f}", f"{phase['events_per_second']:.1f}", f"{latency['p50']:.0f}",
                      f"{latency['p95']:.0f}", f"{latency['p99']:.0f}", f"{latency['max']:.0f}")
    console.print(table)
    console.print(stage_table(result, "stages_ms", "where the time goes: p50 / p95 ms per stage (event timestamps, "
                                                   "SMTP receipt)"))
    console.print(stage_table(result, "consent_stages_ms", "inside CaseOpened -> first CallScheduled: the offer, "
                                                           "the firm's choice (p50 / p95 ms)"))
    raw = result["raw_limit"]
    console.print(f"raw limit (same {raw['messages']} records over the same hops, acks=all + idempotence; "
                  f"{raw['mongodb_writes']} MongoDB write commands carrying {raw['mongodb_documents_written']} documents): "
                  f"{raw['seconds']:.2f}s = {raw['cases_per_second']:.2f} "
                  f"cases/s, {raw['events_per_second']:.1f} events/s (Kafka alone {raw['kafka_seconds']:.2f}s, "
                  f"MongoDB alone {raw['mongodb_seconds']:.2f}s)")
    console.print(f"pipeline / raw limit: [bold]{result['pipeline_to_raw_ratio']:.1%}[/]")
    cpu = Table(title="CPU per process during the max-rate phase")
    for column in ("process", "CPU s", "CPU % of phase", "CPU ms per case"):
        cpu.add_column(column, justify="right" if column != "process" else "left")
    maximum = result["phases"]["max"]
    for name, seconds in sorted(maximum["cpu_seconds"].items(), key=lambda item: -item[1]):
        cpu.add_row(name, f"{seconds:.2f}", f"{100 * seconds / maximum['seconds']:.0f}",
                    f"{maximum['cpu_ms_per_case'][name]:.1f}")
    console.print(cpu)
    commands = Table(title="MongoDB commands per case during the max-rate phase")
    for column in ("service", "find", "insert", "update", "findAndModify", "delete", "documents written"):
        commands.add_column(column, justify="right" if column != "service" else "left")
    for name, counts in maximum["mongodb_commands_per_case"].items():
        commands.add_row(name, *(f"{counts.get(c, 0):.1f}" for c in
                                 ("find", "insert", "update", "findAndModify", "delete", "documents written")))
    console.print(commands)
    scaling = result["scaling"]
    console.print(f"slowest service: {result['slowest_service']}; one instance "
                  f"{scaling['one_instance_cases_per_second']:.2f} cases/s, two instances "
                  f"{scaling['two_instances_cases_per_second']:.2f} cases/s (x{scaling['gain']:.2f})")
    for target, met in result["targets"].items():
        console.print(f"target {target.replace('_', ' ')}: {'[green]met[/]' if met else '[red]not met[/]'}")


def stage_table(result: dict, key: str, title: str) -> Table:
    table = Table(title=title)
    table.add_column("phase")
    names = list(next(iter(result["phases"].values()))[key])
    for name in names:
        table.add_column(name, justify="right")
    for phase_name, phase in result["phases"].items():
        table.add_row(phase_name, *(f"{phase[key][n]['p50']:.0f} / {phase[key][n]['p95']:.0f}" for n in names))
    return table


def save(result: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    data = out / "bench.json"
    data.write_text(json.dumps(result, indent=2))
    return data, plot(result, out / "latency.png")


def plot(result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(10, 5))
    for name, points in result["latency_over_time"].items():
        if points:
            axes.plot([t for t, _ in points], [ms for _, ms in points], ".", markersize=3, label=name)
    axes.axhline(P99_TARGET_MS, color="grey", linestyle="--", linewidth=0.8, label="150 ms")
    axes.set_xlabel("seconds since the phase started (submission time)")
    axes.set_ylabel("submission to first invitation (ms)")
    axes.set_yscale("log")
    axes.set_title(f"mednet bench {result['run']}: latency over time")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
    return path
