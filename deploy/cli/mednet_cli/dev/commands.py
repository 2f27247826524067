"""Dev commands on the local stack: stack up/down/status, up, down, status, demo, bench, chaos, fuzz."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .. import fleet
from ..chaos.cli import chaos_command, fuzz_command
from ..console import console
from ..console import fail as _fail
from ..kafka_acls import credentials_file
from ..provision import StackError, cache_dir
from ..stack import Stack, default_data_dir

stack_app = typer.Typer(help="The local Kafka broker and MongoDB-wire server (no Docker).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from .console_login import console_app

    app.add_typer(stack_app, name="stack")
    app.add_typer(console_app, name="console")
    for name, command in (("up", up), ("demo", demo), ("down", down), ("status", status), ("bench", bench),
                          ("chaos", chaos_command), ("fuzz", fuzz_command)):
        app.command(name)(command)


DataDir = Annotated[
    Path, typer.Option("--data-dir", envvar="MEDNET_DATA_DIR", help="Where the stack keeps data, logs and PIDs.")
]


def _table(title: str, rows: list[dict]) -> Table:
    table = Table(title=title)
    for column in ("component", "pid", "port", "ready", "log"):
        table.add_column(column)
    for row in rows:
        ready = "[green]ready[/]" if row["ready"] else "[red]not ready[/]"
        table.add_row(row["component"], str(row["pid"] or "-"), str(row["port"]), ready, row["log"])
    return table


Brokers = Annotated[int | None, typer.Option("--brokers", envvar="MEDNET_KAFKA_BROKERS",
                                             help="1, or 3 for a cluster (replication 3, min.insync.replicas 2)")]
Security = Annotated[bool, typer.Option("--security", help="SASL/SCRAM-SHA-512 and ACLs (MEDNET_KAFKA_SECURITY=scram)")]


def _stack_up(data_dir: Path, brokers: int | None = None, security: bool = False) -> Stack:
    stack = Stack(data_dir, **({"brokers": brokers} if brokers else {}), **({"security": "scram"} if security else {}))
    if brokers and stack.brokers != brokers:
        raise StackError(f"the stack in {stack.data_dir} was created with {stack.brokers} broker(s); "
                         f"run `mednet stack down` and use another --data-dir for {brokers}")
    if security and not stack.secure:
        raise StackError(f"the stack in {stack.data_dir} was created without security; "
                         f"run `mednet stack down` and use another --data-dir for --security")
    started_at = time.monotonic()
    with console.status("starting the local stack") as status:
        started = stack.up(on_step=lambda step: status.update(step))
    verb = ", ".join(f"{name} {'started' if was else 'already running'}" for name, was in started.items())
    console.print(f"[green]stack up[/] in {time.monotonic() - started_at:.1f}s: {verb}")
    return stack


@stack_app.command("up")
def stack_up(data_dir: DataDir = default_data_dir(), brokers: Brokers = None, security: Security = False) -> None:
    """Start Kafka (KRaft) and the MongoDB-wire server; a second call changes nothing."""
    try:
        stack = _stack_up(data_dir, brokers, security)
    except StackError as error:
        _fail(error)
    console.print(_table("local stack", stack.status()))
    for key, value in stack.environment.items():
        console.print(f"export {key}='{value}'")
    if stack.secure:
        console.print(f"Kafka users and passwords (admin, each service): {credentials_file(stack.data_dir)} (0600); "
                      f"add a firm with: mednet firms add <firm_id>")


@stack_app.command("down")
def stack_down(data_dir: DataDir = default_data_dir()) -> None:
    """Stop the stack's processes (SIGTERM, then SIGKILL after 20 s). Data stays in the data directory."""
    stopped = Stack(data_dir).down()
    console.print(", ".join(f"{name} {'stopped' if was else 'was not running'}" for name, was in stopped.items()))


@stack_app.command("status")
def stack_status(data_dir: DataDir = default_data_dir()) -> None:
    """Show each component's PID, port and readiness; exit 1 if any is not ready."""
    rows = Stack(data_dir).status()
    console.print(_table("local stack", rows))
    raise typer.Exit(0 if all(row["ready"] for row in rows) else 1)


def up(data_dir: DataDir = default_data_dir(), brokers: Brokers = None, security: Security = False,
       hints: Annotated[bool, typer.Option(hidden=True)] = True) -> None:
    """Bring up the local stack and all four services, and show them healthy."""
    try:
        stack = _stack_up(data_dir, brokers, security)
        with console.status("starting intake, scheduling, notes and notify; waiting for /readyz"):
            started = fleet.start_all(stack.data_dir, stack.environment)
    except StackError as error:
        _fail(error)
    console.print(", ".join(f"{name} {'started' if was else 'already running'}" for name, was in started.items()))
    _show_all(stack)
    if hints:
        console.print("\nMetrics: " + ", ".join(f"{s.url}/metrics" for s in fleet.fleet(stack.data_dir)))
        console.print("Stop everything with: [bold]make down[/] (or .venv/bin/mednet down)")


def demo(data_dir: DataDir = default_data_dir()) -> None:
    """Tell the whole story on the local stack: two firms, calls, notes, the brief, every alert."""
    from .. import demo as story

    up(data_dir, brokers=None, security=False, hints=False)
    console.rule("the demo")
    try:
        story.run(Stack(data_dir).data_dir, console)
    except RuntimeError as error:
        _fail(error)
    console.print("\nThe stack keeps running. Metrics: " + ", ".join(f"{s.url}/metrics" for s in fleet.fleet(data_dir)))
    console.print(f"Mail caught by the SMTP sink: {fleet.mail_dir(Stack(data_dir).data_dir)}")
    console.print("Stop everything with: [bold]make down[/] (or .venv/bin/mednet down)")


def down(data_dir: DataDir = default_data_dir()) -> None:
    """Stop the four services, then the local stack."""
    stopped = {**fleet.stop_all(data_dir), **Stack(data_dir).down()}
    console.print(", ".join(f"{name} {'stopped' if was else 'was not running'}" for name, was in stopped.items()))


def status(data_dir: DataDir = default_data_dir()) -> None:
    """Readiness of the stack and of every service; exit 1 if anything is not ready."""
    ready = _show_all(Stack(data_dir))
    raise typer.Exit(0 if ready else 1)


def _show_all(stack: Stack) -> bool:
    rows = stack.status() + [service.status() for service in fleet.fleet(stack.data_dir)]
    console.print(_table("mednet", rows))
    return all(row["ready"] for row in rows)


def bench(
    cases: Annotated[int | None, typer.Option("--cases", help="Cases per phase (default 200; 8 with --quick)")] = None,
    parties: Annotated[str, typer.Option("--parties", help="Parties per case, alternating: 2/4, 2 or 4")] = "2/4",
    out: Annotated[Path, typer.Option("--out", help="Where bench.json and latency.png go (outside the repo)")] = cache_dir() / "bench",
    quick: Annotated[bool, typer.Option("--quick", help="A few cases: checks the bench itself in seconds")] = False,
) -> None:
    """Measure the pipeline on its own local stack (or KAFKA_BOOTSTRAP_SERVERS + MONGODB_URL) against the raw
    limit of the same records and writes: cases/s, events/s, latency p50/p95/p99, CPU per service, scaling."""
    import os

    from .. import bench as benchmark

    try:
        options = benchmark.BenchOptions(cases or (8 if quick else 200), parties, out, quick,
                                         os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URL"))
        benchmark.run(options, console)
    except (ValueError, StackError, RuntimeError) as error:
        _fail(error)
