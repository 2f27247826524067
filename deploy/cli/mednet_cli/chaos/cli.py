"""`mednet chaos`: the chaos run from the command line."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .run import ChaosRun, Plan, report, save


def chaos_command(
    cases: Annotated[int, typer.Option(min=1, help="Cases pushed through the whole flow")] = 2000,
    poison: Annotated[int, typer.Option(min=0, help="Unprocessable records injected among them")] = 40,
    instances: Annotated[int, typer.Option(min=1, max=4, help="Instances of each service")] = 2,
    submit_seconds: Annotated[float, typer.Option(min=1, help="Submissions are spread over this long")] = 240.0,
    kill_every: Annotated[tuple[float, float], typer.Option(help="Seconds between SIGKILLs: min max")] = (2.0, 5.0),
    broker_kill: Annotated[bool, typer.Option(help="Kill one Kafka broker of three, then restart it")] = True,
    drain_timeout: Annotated[float, typer.Option(min=10, help="Give up draining after this many seconds")] = 900.0,
    seed: Annotated[int, typer.Option(help="0 for a random run")] = 0,
    out: Annotated[Path | None, typer.Option(help="Write the figures as JSON here")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where the run keeps its stack and logs (default: temp)")] = None,
) -> None:
    """Push cases through the whole flow on a three-broker cluster while SIGKILLing service instances and one
    broker, then print cases lost, duplicate alerts, double bookings, outbox backlog, dead letters against the
    injected poison and the time to drain. Exit 1 unless every figure is as it must be."""
    console = Console()
    plan = Plan(cases=cases, poison=poison, per_service=instances, submit_seconds=submit_seconds,
                kill_every=kill_every, broker_kill=broker_kill, drain_timeout=drain_timeout, seed=seed)
    directory = data_dir or Path(tempfile.mkdtemp(prefix="mednet-chaos-"))
    console.print(f"run data and logs: {directory}")
    figures = asyncio.run(ChaosRun(plan, directory, console).run())
    report(figures, console)
    if out:
        save(figures, out)
    raise typer.Exit(0 if figures.passed else 1)
