"""mednet: the local stack, the services on it, and the contract catalog."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from . import fleet
from .provision import StackError, cache_dir
from .stack import Stack, default_data_dir

app = typer.Typer(help="mednet: pre-mediation calls across firms, on Kafka and MongoDB.", no_args_is_help=True)
stack_app = typer.Typer(help="The local Kafka broker and MongoDB-wire server (no Docker).", no_args_is_help=True)
catalog_app = typer.Typer(help="The contracts: JSON Schemas of every event and command.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(catalog_app, name="catalog")
dlq_app = typer.Typer(help="Dead letters: <topic>.dlq with the error; list, show and replay after a fix.",
                      no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
firms_app = typer.Typer(help="Firms on a secured stack: Kafka user, topics, ACLs, HTTP token, webhook.",
                        no_args_is_help=True)
app.add_typer(firms_app, name="firms")
notes_app = typer.Typer(help="Operator actions on the notes service.", no_args_is_help=True)
app.add_typer(notes_app, name="notes")
console = Console()

DataDir = Annotated[
    Path, typer.Option("--data-dir", envvar="MEDNET_DATA_DIR", help="Where the stack keeps data, logs and PIDs.")
]


def _fail(error: Exception) -> None:
    console.print(f"[bold red]error:[/] {error}")
    raise typer.Exit(1)


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
        from .kafka_acls import credentials_file

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


@app.command("up")
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


@app.command("demo")
def demo(data_dir: DataDir = default_data_dir()) -> None:
    """Tell the whole story on the local stack: two firms, calls, notes, the brief, every alert."""
    from . import demo as story

    up(data_dir, brokers=None, security=False, hints=False)
    console.rule("the demo")
    try:
        story.run(Stack(data_dir).data_dir, console)
    except RuntimeError as error:
        _fail(error)
    console.print("\nThe stack keeps running. Metrics: " + ", ".join(f"{s.url}/metrics" for s in fleet.fleet(data_dir)))
    console.print(f"Mail caught by the SMTP sink: {fleet.mail_dir(Stack(data_dir).data_dir)}")
    console.print("Stop everything with: [bold]make down[/] (or .venv/bin/mednet down)")


@app.command("down")
def down(data_dir: DataDir = default_data_dir()) -> None:
    """Stop the four services, then the local stack."""
    stopped = {**fleet.stop_all(data_dir), **Stack(data_dir).down()}
    console.print(", ".join(f"{name} {'stopped' if was else 'was not running'}" for name, was in stopped.items()))


@app.command("status")
def status(data_dir: DataDir = default_data_dir()) -> None:
    """Readiness of the stack and of every service; exit 1 if anything is not ready."""
    ready = _show_all(Stack(data_dir))
    raise typer.Exit(0 if ready else 1)


def _show_all(stack: Stack) -> bool:
    rows = stack.status() + [service.status() for service in fleet.fleet(stack.data_dir)]
    console.print(_table("mednet", rows))
    return all(row["ready"] for row in rows)


@catalog_app.command("export")
def catalog_export(
    directory: Annotated[Path | None, typer.Option(help="Target directory; default: shared/schemas")] = None,
) -> None:
    """Write the JSON Schema of every event and command (the checked-in catalog)."""
    from mednet_shared.contracts import catalog

    written = catalog.export(directory or catalog.SCHEMA_DIR)
    console.print(f"wrote {len(written)} schemas to {written[0].parent}")
    documents = catalog.export_asyncapi()
    console.print(f"wrote {len(documents)} AsyncAPI documents to {documents[0].parent}")


@catalog_app.command("check")
def catalog_check() -> None:
    """Compare the models with the checked-in schemas; exit 1 on a backward-incompatible change."""
    import json

    from mednet_shared.contracts import catalog

    problems = []
    for name, schema in catalog.generated_schemas().items():
        path = catalog.SCHEMA_DIR / f"{name}.json"
        if path.exists():
            problems += [f"{name}: {p}" for p in catalog.incompatibilities(json.loads(path.read_text()), schema)]
    for problem in problems:
        console.print(f"[red]{problem}[/]")
    console.print("[green]compatible[/]" if not problems else f"[red]{len(problems)} incompatible change(s)[/]")
    raise typer.Exit(1 if problems else 0)


@app.command("bench")
def bench(
    cases: Annotated[int | None, typer.Option("--cases", help="Cases per phase (default 200; 8 with --quick)")] = None,
    parties: Annotated[str, typer.Option("--parties", help="Parties per case, alternating: 2/4, 2 or 4")] = "2/4",
    out: Annotated[Path, typer.Option("--out", help="Where bench.json and latency.png go (outside the repo)")] = cache_dir() / "bench",
    quick: Annotated[bool, typer.Option("--quick", help="A few cases: checks the bench itself in seconds")] = False,
) -> None:
    """Measure the pipeline on its own local stack (or KAFKA_BOOTSTRAP_SERVERS + MONGODB_URL) against the raw
    limit of the same records and writes: cases/s, events/s, latency p50/p95/p99, CPU per service, scaling."""
    import os

    from . import bench as benchmark

    try:
        options = benchmark.BenchOptions(cases or (8 if quick else 200), parties, out, quick,
                                         os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URL"))
        benchmark.run(options, console)
    except (ValueError, StackError, RuntimeError) as error:
        _fail(error)


Kafka = Annotated[str | None, typer.Option("--kafka", envvar="KAFKA_BOOTSTRAP_SERVERS",
                                           help="Bootstrap servers; default: the local stack")]


def _bootstrap(kafka: str | None) -> str:
    return kafka or Stack(default_data_dir()).environment["KAFKA_BOOTSTRAP_SERVERS"]


def _security():
    """KAFKA_SECURITY_PROTOCOL and KAFKA_SASL_* when set, else the local stack's admin on a secured stack."""
    import os

    from mednet_shared.platform.kafka_security import KafkaSecurity

    if os.environ.get("KAFKA_SECURITY_PROTOCOL"):
        env = os.environ
        return KafkaSecurity(env["KAFKA_SECURITY_PROTOCOL"], env.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
                             env.get("KAFKA_SASL_USERNAME", ""), env.get("KAFKA_SASL_PASSWORD", ""),
                             env.get("KAFKA_SSL_CAFILE", ""))
    return Stack(default_data_dir()).admin_security


@app.command("timeline")
def timeline(case_id: str, kafka: Kafka = None) -> None:
    """Every event of a case across the network's topics, in order."""
    import asyncio

    from . import records

    entries = asyncio.run(records.timeline(_bootstrap(kafka), case_id, _security()))
    table = Table(title=f"timeline of {case_id}")
    for column in ("time (UTC)", "topic", "event", "id", "caused by"):
        table.add_column(column)
    for entry in entries:
        table.add_row(entry.time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], entry.topic, entry.type, entry.id,
                      entry.causation or "")
    console.print(table)
    raise typer.Exit(0 if entries else 1)


@dlq_app.command("list")
def dlq_list(kafka: Kafka = None) -> None:
    """Every dead-letter topic and how many records it holds."""
    import asyncio

    from . import records

    table = Table(title="dead-letter topics")
    table.add_column("topic")
    table.add_column("records", justify="right")
    for topic, count in sorted(asyncio.run(records.dead_letter_topics(_bootstrap(kafka), _security())).items()):
        table.add_row(topic, str(count))
    console.print(table)


@dlq_app.command("show")
def dlq_show(topic: str, kafka: Kafka = None) -> None:
    """The dead letters of a topic: where each came from and why it failed."""
    import asyncio

    from . import records

    table = Table(title=topic)
    for column in ("dlq offset", "from", "reason", "attempts", "error"):
        table.add_column(column)
    for letter in asyncio.run(records.dead_letters(_bootstrap(kafka), topic, _security())):
        h = letter.headers
        table.add_row(str(letter.offset), f"{letter.original_topic}:{h.get('x-mednet-dlq-partition', '?')}"
                      f"@{h.get('x-mednet-dlq-offset', '?')}", h.get("x-mednet-dlq-reason", ""),
                      h.get("x-mednet-dlq-attempts", ""), h.get("x-mednet-dlq-error", ""))
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    topic: str,
    offsets: Annotated[list[int] | None, typer.Option("--offset", help="Replay only these dlq offsets")] = None,
    kafka: Kafka = None,
) -> None:
    """Publish dead letters again to the topic they came from (after the fix); consumers stay idempotent."""
    import asyncio

    from . import records

    bootstrap = _bootstrap(kafka)
    letters = asyncio.run(records.dead_letters(bootstrap, topic, _security()))
    chosen = [letter for letter in letters if offsets is None or letter.offset in offsets]
    missing = sorted(set(offsets or ()) - {letter.offset for letter in letters})
    if missing:
        _fail(ValueError(f"{topic} has no record at offset(s) {missing}"))
    replayed = asyncio.run(records.replay(bootstrap, chosen, _security()))
    console.print(f"replayed {replayed} dead letter(s) from {topic}")


@firms_app.command("add")
def firms_add(
    firm_id: str,
    data_dir: DataDir = default_data_dir(),
    token_days: Annotated[int, typer.Option(min=1, max=30, help="Lifetime of the firm's HTTP token (days)")] = 30,
    webhook_url: Annotated[str | None, typer.Option(help="Register this webhook endpoint with notify")] = None,
    notify_url: Annotated[str, typer.Option(help="Where notify answers")] = "http://127.0.0.1:8104",
) -> None:
    """Provision a firm: SCRAM user, its topics and ACLs, an HTTP token (and a webhook); print its settings once."""
    from . import firms

    try:
        access = firms.add(Stack(data_dir), firm_id, token_days, webhook_url, notify_url)
    except (StackError, ValueError) as error:
        _fail(error)
    table = Table(title=f"connection settings of {firm_id} (shown once: keep them safe)")
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    for key, value in access.settings().items():
        table.add_row(key, value)
    console.print(table)


@firms_app.command("list")
def firms_list(data_dir: DataDir = default_data_dir()) -> None:
    """The firms provisioned on this stack, and whether each was revoked."""
    from . import firms

    table = Table(title="firms")
    for column in ("firm", "kafka user", "added", "revoked", "webhook"):
        table.add_column(column)
    for entry in firms.registry(Stack(data_dir).data_dir).values():
        table.add_row(entry["firm_id"], entry["kafka_user"], entry["added_at"], entry["revoked_at"] or "-",
                      entry["webhook_url"] or "-")
    console.print(table)


@firms_app.command("revoke")
def firms_revoke(firm_id: str, data_dir: DataDir = default_data_dir(),
                 yes: Annotated[bool, typer.Option("--yes", help="Do not ask")] = False) -> None:
    """Revoke the firm's HTTP tokens (its key leaves the JWKS), delete its Kafka user and every ACL for it or its
    topics (the topics' data stays)."""
    from . import firms

    if not yes and not typer.confirm(f"revoke {firm_id}'s Kafka access and HTTP tokens?"):
        raise typer.Exit(1)
    try:
        done = firms.revoke(Stack(data_dir), firm_id)
    except (StackError, ValueError) as error:
        _fail(error)
    for line in done:
        console.print(line.replace("\t", " "))
    console.print(f"[green]{firm_id} revoked[/]; its HTTP tokens fail once the services refresh the JWKS "
                  f"(within a minute)")


@notes_app.command("purge")
def notes_purge(
    case: Annotated[str, typer.Option("--case", help="The case whose notes are destroyed")],
    data_dir: DataDir = default_data_dir(),
    notes_url: Annotated[str, typer.Option(envvar="MEDNET_NOTES_URL", help="Where notes answers")]
    = "http://127.0.0.1:8103",
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask")] = False,
) -> None:
    """Crypto-shred one case's notes: its data key is deleted, so they can never be read again."""
    from . import operator

    if not yes and not typer.confirm(f"destroy every note of case {case} for good?"):
        raise typer.Exit(1)
    try:
        purged = operator.purge_notes(notes_url, case, data_dir)
    except (RuntimeError, ValueError) as error:
        _fail(error)
    legacy = f", {purged['deleted_legacy_notes']} note(s) sealed before per-case keys deleted" \
        if purged.get("deleted_legacy_notes") else ""
    console.print(f"[green]purged[/] case {purged['case_id']} at {purged['purged_at']}: its data key is gone, "
                  f"{purged['unreadable_notes']} sealed note(s) can no longer be read{legacy}; "
                  f"other cases are untouched")


@notes_app.command("rewrap")
def notes_rewrap(
    data_dir: DataDir = default_data_dir(),
    notes_url: Annotated[str, typer.Option(envvar="MEDNET_NOTES_URL", help="Where notes answers")]
    = "http://127.0.0.1:8103",
) -> None:
    """After adding a new active master key: wrap every case's data key with it, so the old one can go."""
    from . import operator

    try:
        done = operator.rewrap_notes_keys(notes_url, data_dir)
    except (RuntimeError, ValueError) as error:
        _fail(error)
    console.print(f"rewrapped {done['rewrapped']} case key(s) with master key {done['master_key_id']}")


from .chaos.cli import chaos_command, fuzz_command  # noqa: E402

app.command("chaos")(chaos_command)
app.command("fuzz")(fuzz_command)
