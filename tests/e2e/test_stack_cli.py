"""`mednet stack up|down|status` as a new user runs them, on ports and a data directory of the test's own."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mednet_cli.processes import free_port, port_is_free


def mednet(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mednet_cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.slow
def test_stack_up_twice_is_fast_and_changes_nothing_and_down_leaves_no_process(tmp_path):
    ports = {"MEDNET_KAFKA_PORT": free_port(), "MEDNET_KAFKA_CONTROLLER_PORT": free_port(),
             "MEDNET_MONGO_PORT": free_port()}
    env = {**os.environ, "MEDNET_DATA_DIR": str(tmp_path / "stack"), "COLUMNS": "200",
           **{key: str(value) for key, value in ports.items()}}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    try:
        first = mednet("stack", "up", env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "kafka started" in first.stdout and "mongo-wire started" in first.stdout
        pids = sorted(int(p.read_text()) for p in (tmp_path / "stack" / "run").glob("*.pid"))

        started = time.monotonic()
        second = mednet("stack", "up", env=env)
        second_seconds = time.monotonic() - started
        assert second.returncode == 0, second.stdout + second.stderr
        assert "kafka already running" in second.stdout and "mongo-wire already running" in second.stdout
        assert sorted(int(p.read_text()) for p in (tmp_path / "stack" / "run").glob("*.pid")) == pids
        assert second_seconds < 10, f"second start took {second_seconds:.1f}s"
        assert f"KAFKA_BOOTSTRAP_SERVERS='127.0.0.1:{ports['MEDNET_KAFKA_PORT']}'" in second.stdout

        status = mednet("stack", "status", env=env)
        assert status.returncode == 0 and status.stdout.count("ready") >= 2, status.stdout
    finally:
        down = mednet("stack", "down", env=env)
    assert down.returncode == 0 and "kafka stopped" in down.stdout, down.stdout + down.stderr
    assert processes_with(str(tmp_path / "stack")) == []
    assert all(port_is_free(port) for port in ports.values())
    assert mednet("stack", "status", env=env).returncode == 1


def test_a_taken_port_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        env = {**os.environ, "MEDNET_DATA_DIR": str(tmp_path / "stack"), "MEDNET_KAFKA_PORT": str(taken),
               "MEDNET_KAFKA_CONTROLLER_PORT": str(free_port()), "MEDNET_MONGO_PORT": str(free_port())}
        result = mednet("stack", "up", env=env)
    assert result.returncode == 1
    assert f"port {taken}" in result.stdout and "taken by another process" in result.stdout
    mednet("stack", "down", env=env)
    assert processes_with(str(tmp_path / "stack")) == []


def test_missing_java_is_named(tmp_path):
    env = {**os.environ, "PATH": str(Path(sys.executable).parent), "MEDNET_DATA_DIR": str(tmp_path / "stack")}
    result = mednet("stack", "up", env=env)
    assert result.returncode == 1
    assert "'java' was not found on PATH" in result.stdout


@pytest.mark.slow
def test_a_three_broker_cluster_keeps_accepting_acks_all_writes_with_one_broker_down(tmp_path):
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    from kafka_helpers import produce, read
    from mednet_cli.stack import Stack
    from mednet_shared.platform.kafka import ensure_topics

    stack = Stack(tmp_path / "cluster", kafka_ports=[(free_port(), free_port()) for _ in range(3)],
                  mongo_port=free_port(), brokers=3)
    try:
        stack.up()
        assert len(stack.bootstrap.split(",")) == 3 and stack.environment["MEDNET_TOPIC_REPLICATION"] == "3"
        for node in stack.kafka_nodes:
            properties = (tmp_path / "cluster" / "run" / f"kafka-{node.node_id}.properties").read_text()
            assert "min.insync.replicas=2" in properties and "default.replication.factor=3" in properties

        async def scenario() -> None:
            await ensure_topics(stack.bootstrap, ["chaos.probe"], partitions=3, replication=3)
            admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
            await admin.start()
            try:
                description = (await admin.describe_topics(["chaos.probe"]))[0]
                assert all(len(p["replicas"]) == 3 for p in description["partitions"])
            finally:
                await admin.close()
            await produce(stack.bootstrap, "chaos.probe", [(b"k", b"before", [])])
            stack.kafka_nodes[1].process.kill()
            await produce(stack.bootstrap, "chaos.probe", [(b"k", b"while-one-is-down", [])])
            values = [r.value for r in await read(stack.bootstrap, "chaos.probe", 2, timeout=30)]
            assert values == [b"before", b"while-one-is-down"]

        asyncio.run(scenario())
        rows = {row["component"]: row["ready"] for row in stack.status()}
        assert rows == {"kafka-1": True, "kafka-2": False, "kafka-3": True, "mongo-wire": True}
    finally:
        stack.down()
    assert processes_with(str(tmp_path / "cluster")) == []
