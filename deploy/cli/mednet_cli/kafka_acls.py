"""Principals and ACLs of a secured cluster: one SCRAM user per service and per firm, each with the least rights.

The users, ACLs and topics are made by deploy/local/KafkaSecurityAdmin.java (Kafka's Admin client), one JVM
start per batch. Passwords live only in the stack's data directory (kafka-credentials.json, mode 0600) and,
for a firm, in what `mednet firms add` prints once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mednet_shared.contracts.topics import Topics

from .provision import LOCAL_DIR, StackError, kafka_jars, require_tool

if TYPE_CHECKING:
    from .stack import Stack

MODES = ("plaintext", "scram")
SERVICES = ("intake", "scheduling", "notes", "notify")
FIRM_COMMAND_READERS = ("intake", "scheduling")
CONSUMES = {"intake": [], "scheduling": [Topics.INTAKE], "notes": [Topics.INTAKE, Topics.SCHEDULING],
            "notify": [Topics.INTAKE, Topics.SCHEDULING, Topics.NOTES]}


def credentials_file(data_dir: Path) -> Path:
    return data_dir / "kafka-credentials.json"


def credentials(data_dir: Path) -> dict[str, str]:
    """The admin's, the controller's and each service's password, made once for the stack."""
    from .fleet import write_private

    path = credentials_file(data_dir)
    if not path.exists():
        names = ["admin", "controller", *(service_user(s) for s in SERVICES)]
        write_private(path, {name: secrets.token_urlsafe(24) for name in names})
    return json.loads(path.read_text())


def service_user(service: str) -> str:
    return f"mednet-{service}"


def firm_user(firm_id: str) -> str:
    return f"firm-{firm_id}"


def group_prefix(firm_id: str) -> str:
    return f"mednet.firm.{firm_id}."


@dataclass(frozen=True)
class Acl:
    resource: str        # topic | group | cluster
    pattern: str         # literal | prefixed
    name: str
    user: str
    operation: str       # read | write | describe | create ...

    def line(self) -> str:
        return "\t".join(("acl-add", self.resource, self.pattern, self.name, f"User:{self.user}", self.operation))


def service_acls(service: str) -> list[Acl]:
    """Write its own events, read what it consumes and dead-letter into that topic's .dlq, use its own groups."""
    user = service_user(service)
    own = f"mednet.{service}.events"
    acls = [Acl("topic", "literal", own, user, "write"),
            Acl("group", "prefixed", f"mednet-{service}", user, "read")]
    for topic in CONSUMES[service]:
        acls += [Acl("topic", "literal", topic, user, "read"),
                 Acl("topic", "literal", Topics.dead_letter(topic), user, "write")]
    return acls


def firm_acls(firm_id: str) -> list[Acl]:
    """The firm writes its inbound topic, reads its outbound topic, and uses groups named mednet.firm.<id>.*;
    intake and scheduling (RequestReschedule) read and dead-letter that inbound topic, notify writes the
    outbound topic."""
    user, inbound, outbound = firm_user(firm_id), Topics.firm_inbound(firm_id), Topics.firm_outbound(firm_id)
    readers = [service_user(service) for service in FIRM_COMMAND_READERS]
    return [Acl("topic", "literal", inbound, user, "write"),
            Acl("topic", "literal", outbound, user, "read"),
            Acl("group", "prefixed", group_prefix(firm_id), user, "read"),
            *(Acl("topic", "literal", inbound, reader, "read") for reader in readers),
            *(Acl("topic", "literal", Topics.dead_letter(inbound), reader, "write") for reader in readers),
            Acl("topic", "literal", outbound, service_user("notify"), "write")]


def firm_topics(firm_id: str) -> list[str]:
    inbound = Topics.firm_inbound(firm_id)
    return [inbound, Topics.dead_letter(inbound), Topics.firm_outbound(firm_id)]


def require_secure(stack: Stack) -> None:
    if not stack.secure:
        raise StackError(f"the stack in {stack.data_dir} runs without security; start one with "
                         f"`mednet stack up --security` (MEDNET_KAFKA_SECURITY=scram) in another data directory")


def run_admin(stack: Stack, operations: list[str]) -> list[list[str]]:
    """Run the operations in one JVM as the cluster's admin; each output line split on tabs."""
    require_secure(stack)
    admin = stack.admin_security
    command = [require_tool("java", "run Kafka's admin client"), "-Xmx256m", "-XX:+UseSerialGC",
               f"-Dlog4j2.configurationFile={LOCAL_DIR / 'log4j2.properties'}",
               f"-Dmednet.log.file={stack.data_dir / 'logs' / 'kafka-admin.log'}",
               "-cp", kafka_jars().classpath(), str(LOCAL_DIR / "KafkaSecurityAdmin.java"),
               stack.bootstrap, admin.protocol, admin.mechanism]
    stdin = "\n".join([admin.username, admin.password, *operations]) + "\n"
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise StackError(f"the Kafka admin client failed (exit {result.returncode}):\n"
                         + (result.stderr or result.stdout)[-2000:])
    return [line.split("\t") for line in result.stdout.splitlines() if line.strip()]


def topic_lines(topics: list[str], stack: Stack, partitions: int = 3) -> list[str]:
    return [f"topic-create\t{topic}\t{partitions}\t{stack.brokers}" for topic in topics]


def service_operations(stack: Stack) -> list[str]:
    passwords = credentials(stack.data_dir)
    topics = [name for topic in Topics.service_topics() for name in (topic, Topics.dead_letter(topic))]
    operations = [f"user-upsert\t{service_user(s)}\t{passwords[service_user(s)]}" for s in SERVICES]
    operations += topic_lines(topics, stack)
    return operations + [acl.line() for service in SERVICES for acl in service_acls(service)]


def provisioned_file(data_dir: Path) -> Path:
    return data_dir / "kafka-provisioned.json"


def _fingerprint(operations: list[str]) -> str:
    return hashlib.sha256("\n".join(operations).encode()).hexdigest()


def needs_provisioning(stack: Stack) -> bool:
    """True until this plan of users, topics and ACLs has been applied to the stack's cluster."""
    path = provisioned_file(stack.data_dir)
    recorded = json.loads(path.read_text()).get("plan") if path.exists() else None
    return recorded != _fingerprint(service_operations(stack))


def provision_services(stack: Stack) -> None:
    """Each service's SCRAM user, the network's topics and the services' ACLs (idempotent)."""
    from .fleet import write_private

    operations = service_operations(stack)
    run_admin(stack, operations)
    write_private(provisioned_file(stack.data_dir), {"plan": _fingerprint(operations)})
