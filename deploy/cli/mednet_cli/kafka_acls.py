"""The local secured stack's Kafka principals: the admin's, the controller's and each service's password, made once
(kafka-credentials.json in the data directory, 0600), and the services' users, topics and ACLs applied when the
plan derived from the services' wiring changes. The ACL table itself is ops.acls, the admin client
ops.kafka_admin; a stack is passed in, never imported."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from .files import read_json, write_private
from .ops import kafka_admin
from .ops.acls import SERVICES, service_acls, service_topics, service_user
from .ops.cluster import Cluster

MODES = ("plaintext", "scram")


def credentials_file(data_dir: Path) -> Path:
    return data_dir / "kafka-credentials.json"


def credentials(data_dir: Path) -> dict[str, str]:
    """The admin's, the controller's and each service's password, made once for the stack."""
    path = credentials_file(data_dir)
    if not path.exists():
        names = ["admin", "controller", *(service_user(s) for s in SERVICES)]
        write_private(path, {name: secrets.token_urlsafe(24) for name in names})
    return read_json(path)


def cluster(stack) -> Cluster:
    """The local stack as an operator's cluster: its bootstrap, its admin, its replication."""
    return Cluster(stack.bootstrap, stack.admin_security, stack.brokers, stack.data_dir / "logs" / "kafka-admin.log")


def run_admin(stack, operations: list[str]) -> list[list[str]]:
    kafka_admin.require_secure(cluster(stack), f"the stack in {stack.data_dir}")
    return kafka_admin.run_admin(cluster(stack), operations)


def service_operations(stack) -> list[str]:
    passwords = credentials(stack.data_dir)
    operations = [f"user-upsert\t{service_user(s)}\t{passwords[service_user(s)]}" for s in SERVICES]
    operations += kafka_admin.topic_lines(service_topics(), cluster(stack))
    return operations + [acl.line() for service in SERVICES for acl in service_acls(service)]


def provisioned_file(data_dir: Path) -> Path:
    return data_dir / "kafka-provisioned.json"


def _fingerprint(operations: list[str]) -> str:
    return hashlib.sha256("\n".join(operations).encode()).hexdigest()


def needs_provisioning(stack) -> bool:
    """True until this plan of users, topics and ACLs has been applied to the stack's cluster."""
    recorded = read_json(provisioned_file(stack.data_dir)).get("plan")
    return recorded != _fingerprint(service_operations(stack))


def provision_services(stack) -> None:
    """Each service's SCRAM user, the network's topics and the services' ACLs (idempotent)."""
    operations = service_operations(stack)
    run_admin(stack, operations)
    write_private(provisioned_file(stack.data_dir), {"plan": _fingerprint(operations)})
