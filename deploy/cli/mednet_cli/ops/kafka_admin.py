"""Kafka's Admin client as the cluster's admin (deploy/local/KafkaSecurityAdmin.java): users, ACLs and topics,
one JVM start per batch of operations."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from ..provision import LOCAL_DIR, StackError, kafka_jars, require_tool
from .cluster import Cluster


def require_secure(cluster: Cluster, where: str) -> None:
    if not cluster.secure:
        raise StackError(f"{where} runs without security; start one with `mednet stack up --security` "
                         f"(MEDNET_KAFKA_SECURITY=scram) in another data directory, or give the cluster's "
                         f"--security-protocol and admin credentials")


def topic_lines(topics: list[str], cluster: Cluster, partitions: int = 3) -> list[str]:
    replication = cluster.replication if cluster.replication else -1
    return [f"topic-create\t{topic}\t{partitions}\t{replication}" for topic in topics]


def run_admin(cluster: Cluster, operations: list[str]) -> list[list[str]]:
    """Run the operations in one JVM as the cluster's admin; each output line split on tabs."""
    require_secure(cluster, f"the cluster at {cluster.bootstrap}")
    admin = cluster.security
    log = cluster.admin_log or Path(tempfile.gettempdir()) / "mednet-kafka-admin.log"
    command = [require_tool("java", "run Kafka's admin client"), "-Xmx256m", "-XX:+UseSerialGC",
               f"-Dlog4j2.configurationFile={LOCAL_DIR / 'log4j2.properties'}", f"-Dmednet.log.file={log}",
               "-cp", kafka_jars().classpath(), str(LOCAL_DIR / "KafkaSecurityAdmin.java"),
               cluster.bootstrap, admin.protocol, admin.mechanism, *([admin.cafile] if admin.cafile else [])]
    stdin = "\n".join([admin.username, admin.password, *operations]) + "\n"
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise StackError(f"the Kafka admin client failed (exit {result.returncode}):\n"
                         + (result.stderr or result.stdout)[-2000:])
    return [line.split("\t") for line in result.stdout.splitlines() if line.strip()]
