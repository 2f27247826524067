"""Operator commands: firms, dlq, timeline, notes purge / rewrap, catalog, issuer. Each takes the cluster's
bootstrap address and admin credentials (options, the environment, or a client properties file) and the token
issuer's key file; with none of them it asks the dev layer for the local stack (`LOCAL`), so `mednet firms add x`
on a running local stack needs no option. `--data-dir` (MEDNET_DATA_DIR) names a local stack and wins."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Protocol

import typer
from rich.table import Table

from ..console import console, fail
from ..provision import StackError
from . import firms, notes
from .cluster import Cluster, cluster_from
from .tokens import SECTION, Issuer


class Local(Protocol):
    """What the dev layer knows about a local stack in a data directory (None: the default one)."""

    def cluster(self, data_dir: Path | None) -> Cluster: ...

    def issuer(self, data_dir: Path | None) -> Issuer: ...

    def registry_file(self, data_dir: Path | None) -> Path: ...


LOCAL: Local | None = None


def _local() -> Local:
    if LOCAL is None:
        raise ValueError("no cluster given and no local stack here: pass --bootstrap-servers and the admin's "
                         "credentials, and --issuer-keys for tokens")
    return LOCAL


DataDir = Annotated[Path | None, typer.Option("--data-dir", envvar="MEDNET_DATA_DIR",
                                              help="A local stack's data directory: every other setting from it")]
Bootstrap = Annotated[str | None, typer.Option("--bootstrap-servers", "--kafka", envvar="KAFKA_BOOTSTRAP_SERVERS",
                                               help="The cluster; default: the local stack")]
Protocol_ = Annotated[str | None, typer.Option("--security-protocol", envvar="KAFKA_SECURITY_PROTOCOL",
                                               help="PLAINTEXT, SASL_PLAINTEXT or SASL_SSL")]
Mechanism = Annotated[str | None, typer.Option("--sasl-mechanism", envvar="KAFKA_SASL_MECHANISM",
                                               help="SCRAM-SHA-512 (default) or SCRAM-SHA-256")]
Username = Annotated[str | None, typer.Option("--username", envvar="KAFKA_SASL_USERNAME", help="The admin's user")]
Password = Annotated[str | None, typer.Option("--password", envvar="KAFKA_SASL_PASSWORD", help="The admin's password")]
CaFile = Annotated[str | None, typer.Option("--ca-file", envvar="KAFKA_SSL_CAFILE", help="The cluster's CA (PEM)")]
Properties = Annotated[Path | None, typer.Option("--command-config", envvar="MEDNET_KAFKA_CLIENT_PROPERTIES",
                                                 exists=True, dir_okay=False,
                                                 help="A Kafka client properties file (bootstrap, security, SASL)")]
IssuerKeys = Annotated[Path | None, typer.Option("--issuer-keys", envvar="MEDNET_ISSUER_KEY_FILE",
                                                 help="The token issuer's key file (JSON, 0600)")]
JwksFile = Annotated[Path | None, typer.Option("--jwks-file", envvar="MEDNET_ISSUER_JWKS_FILE",
                                               help="Where the issuer's JWKS is written; default: jwks.json beside "
                                                    "the key file (serve it at MEDNET_JWT_JWKS_URL)")]
Replication = Annotated[int | None, typer.Option("--replication", envvar="MEDNET_TOPIC_REPLICATION", min=1,
                                                 help="Replication of a firm's topics; default: the cluster's")]


@dataclass
class Target:
    """The cluster and the issuer one command works with."""

    data_dir: Path | None = None
    bootstrap: str | None = None
    protocol: str | None = None
    mechanism: str | None = None
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None
    properties: Path | None = None
    issuer_keys: Path | None = None
    jwks_file: Path | None = None
    replication: int | None = None

    def cluster(self) -> Cluster:
        if self.data_dir is None and (self.bootstrap or self.properties):
            return cluster_from(self.bootstrap, self.protocol, self.mechanism, self.username, self.password,
                                self.ca_file, self.properties, self.replication)
        return _local().cluster(self.data_dir)

    def issuer(self) -> Issuer:
        if self.data_dir is None and self.issuer_keys:
            if SECTION not in _read(self.issuer_keys):
                raise ValueError(f"{self.issuer_keys} holds no token issuer keys; make them once with "
                                 f"`mednet issuer init --issuer-keys {self.issuer_keys}`")
            return Issuer(self.issuer_keys, self.jwks_file or self.issuer_keys.with_name("jwks.json"))
        return _local().issuer(self.data_dir)

    def registry_file(self) -> Path:
        if self.data_dir is None and self.issuer_keys:
            return self.issuer_keys.with_name("firms.json")
        return _local().registry_file(self.data_dir)


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None


def _cluster(data_dir, bootstrap, protocol, mechanism, username, password, ca_file, properties) -> Cluster:
    try:
        return Target(data_dir, bootstrap, protocol, mechanism, username, password, ca_file, properties).cluster()
    except (ValueError, StackError) as error:
        fail(error)


firms_app = typer.Typer(help="Firms on a secured cluster: Kafka user, topics, ACLs, HTTP token, webhook.",
                        no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: <topic>.dlq with the error; list, show and replay after a fix.",
                      no_args_is_help=True)
notes_app = typer.Typer(help="Operator actions on the notes service.", no_args_is_help=True)
catalog_app = typer.Typer(help="The contracts: JSON Schemas, AsyncAPI documents, the canvases' wiring.",
                          no_args_is_help=True)
issuer_app = typer.Typer(help="The token issuer's keys (for a cluster other than the local stack).",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(catalog_app, name="catalog")
    app.add_typer(dlq_app, name="dlq")
    app.add_typer(firms_app, name="firms")
    app.add_typer(notes_app, name="notes")
    app.add_typer(issuer_app, name="issuer")
    app.command("timeline")(timeline)


def timeline(case_id: str, data_dir: DataDir = None, bootstrap: Bootstrap = None, protocol: Protocol_ = None,
             mechanism: Mechanism = None, username: Username = None, password: Password = None,
             ca_file: CaFile = None, properties: Properties = None) -> None:
    """Every event of a case across the network's topics, in order."""
    from .. import records

    cluster = _cluster(data_dir, bootstrap, protocol, mechanism, username, password, ca_file, properties)
    entries = asyncio.run(records.timeline(cluster.bootstrap, case_id, cluster.security))
    table = Table(title=f"timeline of {case_id}")
    for column in ("time (UTC)", "topic", "event", "id", "caused by"):
        table.add_column(column)
    for entry in entries:
        table.add_row(entry.time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3], entry.topic, entry.type, entry.id,
                      entry.causation or "")
    console.print(table)
    raise typer.Exit(0 if entries else 1)


@dlq_app.command("list")
def dlq_list(data_dir: DataDir = None, bootstrap: Bootstrap = None, protocol: Protocol_ = None,
             mechanism: Mechanism = None, username: Username = None, password: Password = None,
             ca_file: CaFile = None, properties: Properties = None) -> None:
    """Every dead-letter topic and how many records it holds."""
    from .. import records

    cluster = _cluster(data_dir, bootstrap, protocol, mechanism, username, password, ca_file, properties)
    table = Table(title="dead-letter topics")
    table.add_column("topic")
    table.add_column("records", justify="right")
    for topic, count in sorted(asyncio.run(records.dead_letter_topics(cluster.bootstrap, cluster.security)).items()):
        table.add_row(topic, str(count))
    console.print(table)


@dlq_app.command("show")
def dlq_show(topic: str, data_dir: DataDir = None, bootstrap: Bootstrap = None, protocol: Protocol_ = None,
             mechanism: Mechanism = None, username: Username = None, password: Password = None,
             ca_file: CaFile = None, properties: Properties = None) -> None:
    """The dead letters of a topic: where each came from and why it failed."""
    from .. import records

    cluster = _cluster(data_dir, bootstrap, protocol, mechanism, username, password, ca_file, properties)
    table = Table(title=topic)
    for column in ("dlq offset", "from", "reason", "attempts", "error"):
        table.add_column(column)
    for letter in asyncio.run(records.dead_letters(cluster.bootstrap, topic, cluster.security)):
        h = letter.headers
        table.add_row(str(letter.offset), f"{letter.original_topic}:{h.get('x-mednet-dlq-partition', '?')}"
                      f"@{h.get('x-mednet-dlq-offset', '?')}", h.get("x-mednet-dlq-reason", ""),
                      h.get("x-mednet-dlq-attempts", ""), h.get("x-mednet-dlq-error", ""))
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    topic: str,
    offsets: Annotated[list[int] | None, typer.Option("--offset", help="Replay only these dlq offsets")] = None,
    data_dir: DataDir = None, bootstrap: Bootstrap = None, protocol: Protocol_ = None, mechanism: Mechanism = None,
    username: Username = None, password: Password = None, ca_file: CaFile = None, properties: Properties = None,
) -> None:
    """Publish dead letters again to the topic they came from (after the fix); consumers stay idempotent."""
    from .. import records

    cluster = _cluster(data_dir, bootstrap, protocol, mechanism, username, password, ca_file, properties)
    letters = asyncio.run(records.dead_letters(cluster.bootstrap, topic, cluster.security))
    chosen = [letter for letter in letters if offsets is None or letter.offset in offsets]
    missing = sorted(set(offsets or ()) - {letter.offset for letter in letters})
    if missing:
        fail(ValueError(f"{topic} has no record at offset(s) {missing}"))
    replayed = asyncio.run(records.replay(cluster.bootstrap, chosen, cluster.security))
    console.print(f"replayed {replayed} dead letter(s) from {topic}")


@firms_app.command("add")
def firms_add(
    firm_id: str,
    token_days: Annotated[int, typer.Option(min=1, max=30, help="Lifetime of the firm's HTTP token (days)")] = 30,
    webhook_url: Annotated[str | None, typer.Option(help="Register this webhook endpoint with notify")] = None,
    notify_url: Annotated[str, typer.Option(envvar="MEDNET_NOTIFY_URL", help="Where notify answers")]
    = "http://127.0.0.1:8104",
    data_dir: DataDir = None, bootstrap: Bootstrap = None, protocol: Protocol_ = None, mechanism: Mechanism = None,
    username: Username = None, password: Password = None, ca_file: CaFile = None, properties: Properties = None,
    issuer_keys: IssuerKeys = None, jwks_file: JwksFile = None, replication: Replication = None,
) -> None:
    """Provision a firm: SCRAM user, its topics and ACLs, an HTTP token (and a webhook); print its settings once."""
    target = Target(data_dir, bootstrap, protocol, mechanism, username, password, ca_file, properties,
                    issuer_keys, jwks_file, replication)
    try:
        access = firms.add(target.cluster(), target.issuer(), target.registry_file(), firm_id, token_days,
                           webhook_url, notify_url)
    except (StackError, ValueError) as error:
        fail(error)
    table = Table(title=f"connection settings of {firm_id} (shown once: keep them safe)")
    table.add_column("setting")
    table.add_column("value", overflow="fold")
    for key, value in access.settings().items():
        table.add_row(key, value)
    console.print(table)


@firms_app.command("list")
def firms_list(data_dir: DataDir = None, issuer_keys: IssuerKeys = None) -> None:
    """The firms provisioned on this cluster, and whether each was revoked."""
    try:
        entries = firms.registry(Target(data_dir, issuer_keys=issuer_keys).registry_file())
    except ValueError as error:
        fail(error)
    table = Table(title="firms")
    for column in ("firm", "kafka user", "added", "revoked", "webhook"):
        table.add_column(column)
    for entry in entries.values():
        table.add_row(entry["firm_id"], entry["kafka_user"], entry["added_at"], entry["revoked_at"] or "-",
                      entry["webhook_url"] or "-")
    console.print(table)


@firms_app.command("revoke")
def firms_revoke(
    firm_id: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask")] = False,
    data_dir: DataDir = None, bootstrap: Bootstrap = None, protocol: Protocol_ = None, mechanism: Mechanism = None,
    username: Username = None, password: Password = None, ca_file: CaFile = None, properties: Properties = None,
    issuer_keys: IssuerKeys = None, jwks_file: JwksFile = None,
) -> None:
    """Revoke the firm's HTTP tokens (its key leaves the JWKS), delete its Kafka user and every ACL for it or its
    topics (the topics' data stays)."""
    if not yes and not typer.confirm(f"revoke {firm_id}'s Kafka access and HTTP tokens?"):
        raise typer.Exit(1)
    target = Target(data_dir, bootstrap, protocol, mechanism, username, password, ca_file, properties,
                    issuer_keys, jwks_file)
    try:
        done = firms.revoke(target.cluster(), target.issuer(), target.registry_file(), firm_id)
    except (StackError, ValueError) as error:
        fail(error)
    for line in done:
        console.print(line.replace("\t", " "))
    console.print(f"[green]{firm_id} revoked[/]; its HTTP tokens fail once the services refresh the JWKS "
                  f"(within a minute)")


NotesUrl = Annotated[str, typer.Option(envvar="MEDNET_NOTES_URL", help="Where notes answers")]


@notes_app.command("purge")
def notes_purge(
    case: Annotated[str, typer.Option("--case", help="The case whose notes are destroyed")],
    notes_url: NotesUrl = "http://127.0.0.1:8103",
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask")] = False,
    data_dir: DataDir = None, issuer_keys: IssuerKeys = None, jwks_file: JwksFile = None,
) -> None:
    """Crypto-shred one case's notes: its data key is deleted, so they can never be read again."""
    if not yes and not typer.confirm(f"destroy every note of case {case} for good?"):
        raise typer.Exit(1)
    try:
        purged = notes.purge_notes(notes_url, case, Target(data_dir, issuer_keys=issuer_keys,
                                                           jwks_file=jwks_file).issuer())
    except (RuntimeError, ValueError, StackError) as error:
        fail(error)
    legacy = f", {purged['deleted_legacy_notes']} note(s) sealed before per-case keys deleted" \
        if purged.get("deleted_legacy_notes") else ""
    console.print(f"[green]purged[/] case {purged['case_id']} at {purged['purged_at']}: its data key is gone, "
                  f"{purged['unreadable_notes']} sealed note(s) can no longer be read{legacy}; "
                  f"other cases are untouched")


@notes_app.command("rewrap")
def notes_rewrap(notes_url: NotesUrl = "http://127.0.0.1:8103", data_dir: DataDir = None,
                 issuer_keys: IssuerKeys = None, jwks_file: JwksFile = None) -> None:
    """After adding a new active master key: wrap every case's data key with it, so the old one can go."""
    try:
        done = notes.rewrap_notes_keys(notes_url, Target(data_dir, issuer_keys=issuer_keys,
                                                         jwks_file=jwks_file).issuer())
    except (RuntimeError, ValueError, StackError) as error:
        fail(error)
    console.print(f"rewrapped {done['rewrapped']} case key(s) with master key {done['master_key_id']}")


@issuer_app.command("init")
def issuer_init(issuer_keys: Annotated[Path, typer.Option("--issuer-keys", envvar="MEDNET_ISSUER_KEY_FILE",
                                                          help="The key file to create (0600)")],
                jwks_file: JwksFile = None) -> None:
    """Make the token issuer's keys once, and write its JWKS (publish that file at the services'
    MEDNET_JWT_JWKS_URL)."""
    if SECTION in _read(issuer_keys):
        fail(ValueError(f"{issuer_keys} already holds issuer keys; they are kept"))
    issuer = Issuer(issuer_keys, jwks_file or issuer_keys.with_name("jwks.json"))
    issuer.publish()
    console.print(f"issuer keys in {issuer.key_file} (0600); JWKS in {issuer.jwks_file}")


@catalog_app.command("export")
def catalog_export(
    directory: Annotated[Path | None, typer.Option(help="Target directory; default: shared/schemas")] = None,
) -> None:
    """Write the JSON Schema of every event and command, the AsyncAPI documents (each service's and the firms')
    and the wiring section of each service's CANVAS.md, all from the models and the services' wiring."""
    from mednet_shared.contracts import canvas, catalog

    written = catalog.export(directory or catalog.SCHEMA_DIR)
    console.print(f"wrote {len(written)} schemas to {written[0].parent}")
    documents = catalog.export_asyncapi()
    console.print(f"wrote {len(documents)} AsyncAPI documents to {documents[0].parent}")
    console.print(f"wrote the wiring section of {len(canvas.export())} CANVAS.md files")


@catalog_app.command("check")
def catalog_check() -> None:
    """Compare the models with the checked-in schemas; exit 1 on a backward-incompatible change."""
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
