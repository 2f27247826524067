"""Where the operator's Kafka cluster is and how the admin logs in: options, environment or a client properties
file (Kafka's own keys: bootstrap.servers, security.protocol, sasl.mechanism, sasl.username / sasl.password or
sasl.jaas.config, ssl.truststore.location for a PEM CA)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

from mednet_shared.platform.kafka_security import PLAINTEXT, KafkaSecurity


@dataclass(frozen=True)
class Cluster:
    bootstrap: str
    security: KafkaSecurity = PLAINTEXT
    replication: int | None = None      # None: the brokers' default.replication.factor
    admin_log: Path | None = None

    @property
    def secure(self) -> bool:
        return self.security.uses_sasl


def read_properties(path: Path) -> dict[str, str]:
    """A Java-style client properties file: key=value lines, # comments."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _from_jaas(jaas: str, field: str) -> str:
    match = re.search(rf'{field}="([^"]*)"', jaas)
    return match.group(1) if match else ""


def cluster_from(bootstrap: str | None, protocol: str | None, mechanism: str | None, username: str | None,
                 password: str | None, ca_file: str | None, properties: Path | None,
                 replication: int | None = None) -> Cluster:
    """Options win over the properties file; nothing is guessed: no bootstrap address is an error."""
    given = read_properties(properties) if properties else {}
    jaas = given.get("sasl.jaas.config", "")
    bootstrap = bootstrap or given.get("bootstrap.servers")
    if not bootstrap:
        raise ValueError("no Kafka cluster given: pass --bootstrap-servers (KAFKA_BOOTSTRAP_SERVERS) or "
                         "--command-config with bootstrap.servers")
    security = KafkaSecurity(
        protocol or given.get("security.protocol", "PLAINTEXT"),
        mechanism or given.get("sasl.mechanism", "SCRAM-SHA-512"),
        username or given.get("sasl.username") or _from_jaas(jaas, "username"),
        password or given.get("sasl.password") or _from_jaas(jaas, "password"),
        ca_file or given.get("ssl.truststore.location", ""))
    return Cluster(bootstrap, security, replication)


def kafka_answers(bootstrap: str, timeout: float = 3.0, security: KafkaSecurity = PLAINTEXT) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000),
                                    **security.client_options())
        try:
            await asyncio.wait_for(admin.start(), timeout)
            await asyncio.wait_for(admin.describe_cluster(), timeout)
            return True
        except Exception:
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())
