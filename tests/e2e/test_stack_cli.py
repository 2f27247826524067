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
