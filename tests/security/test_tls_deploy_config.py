"""deploy/security/kafka-sasl-ssl.properties on a real broker: SCRAM over TLS with the private CA works (for
aiokafka and for FastStream, as the services connect); SASL without TLS, and TLS with another CA, fail."""

from __future__ import annotations

import asyncio
import importlib.util
import secrets
import string
import subprocess
from pathlib import Path

import pytest

from mednet_cli.processes import ManagedProcess, free_port
from mednet_cli.provision import LOCAL_DIR, kafka_jars, require_tool
from mednet_cli.stack import _kafka_cluster_id, kafka_answers
from mednet_shared.platform.kafka import ensure_topics, make_broker
from mednet_shared.platform.kafka_security import KafkaSecurity

SECURITY_DIR = LOCAL_DIR.parent / "security"
pytestmark = pytest.mark.timeout(300)


def make_certs():
    spec = importlib.util.spec_from_file_location("make_certs", SECURITY_DIR / "make_certs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def java(*args: str, log: Path, marker: str) -> list[str]:
    return [require_tool("java", "run Kafka"), "-Xmx512m", "-XX:+UseSerialGC", f"-D{marker}",
            f"-Dlog4j2.configurationFile={LOCAL_DIR / 'log4j2.properties'}", f"-Dmednet.log.file={log}",
            "-cp", kafka_jars().resolve() and kafka_jars().classpath(), *args]


async def test_the_deploy_tls_configuration_admits_only_scram_over_tls(tmp_path):
    certs = make_certs().write(tmp_path / "certs", ["kafka-test"], loopback=True)
    other_ca = make_certs().write(tmp_path / "other", ["elsewhere"], loopback=True)["ca"]
    port, controller, password = free_port(), free_port(), secrets.token_urlsafe(16)
    properties = tmp_path / "server.properties"
    properties.write_text(string.Template((SECURITY_DIR / "kafka-sasl-ssl.properties").read_text()).substitute(
        node_id=1, voters=f"1@127.0.0.1:{controller}", listen_host="127.0.0.1", host="127.0.0.1", port=port,
        controller_port=controller, log_dir=tmp_path / "data", replication=1, min_isr=1,
        keystore=certs["kafka-test"], truststore=certs["ca"], admin_password=password,
        super_users="User:kafka-test"))
    log = tmp_path / "logs" / "kafka.log"
    broker = ManagedProcess("kafka-tls", tmp_path / "run", tmp_path / "logs")
    formatted = subprocess.run(java("kafka.tools.StorageTool", "format", "-t", _kafka_cluster_id(), "-c",
                                    str(properties), "--add-scram", f"SCRAM-SHA-512=[name=admin,password={password}]",
                                    log=log, marker=broker.marker), capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    broker.start(java("kafka.Kafka", str(properties), log=log, marker=broker.marker))
    bootstrap = f"127.0.0.1:{port}"
    over_tls = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "admin", password, str(certs["ca"]))
    try:
        await asyncio.to_thread(broker.wait_until, lambda: kafka_answers(bootstrap, 3.0, over_tls), 120,
                                "ready over SASL_SSL")
        await ensure_topics(bootstrap, ["tls-check"], partitions=1, replication=1, security=over_tls)
        faststream = make_broker(bootstrap, "tls-test", security=over_tls)
        await faststream.start()
        try:
            await faststream.publish(b"over tls", topic="tls-check")
        finally:
            await faststream.stop()
        without_tls = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "admin", password)
        assert not await asyncio.to_thread(kafka_answers, bootstrap, 5.0, without_tls)
        wrong_ca = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "admin", password, str(other_ca))
        assert not await asyncio.to_thread(kafka_answers, bootstrap, 5.0, wrong_ca)
        wrong_password = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "admin", password + "x", str(certs["ca"]))
        assert not await asyncio.to_thread(kafka_answers, bootstrap, 5.0, wrong_password)
    finally:
        broker.stop()
