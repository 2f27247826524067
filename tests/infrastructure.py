"""Where the tests' Kafka and MongoDB come from: explicit environment, else testcontainers where a Docker
engine answers, else the project's native local stack. A missing prerequisite fails the run; it never skips."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Infrastructure:
    kafka_bootstrap_servers: str
    mongodb_url: str
    origin: str
    data_dir: Path | None = None


class InfrastructureMissing(RuntimeError):
    pass


def docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def provide() -> Iterator[Infrastructure]:
    kafka, mongo = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("MONGODB_URL")
    if kafka or mongo:
        if not (kafka and mongo):
            raise InfrastructureMissing("set both KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL, or neither")
        yield Infrastructure(kafka, mongo, "environment")
    elif docker_engine_answers() and os.environ.get("MEDNET_TESTS_NATIVE") != "1":
        with _containers() as infrastructure:
            yield infrastructure
    else:
        with _native_stack() as infrastructure:
            yield infrastructure


@contextmanager
def _containers() -> Iterator[Infrastructure]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.mongodb import MongoDbContainer

    with KafkaContainer().with_kraft() as kafka, MongoDbContainer("mongo:7") as mongo:
        yield Infrastructure(kafka.get_bootstrap_server(), mongo.get_connection_url(), "testcontainers")


@contextmanager
def _native_stack() -> Iterator[Infrastructure]:
    from mednet_cli.processes import free_port
    from mednet_cli.provision import StackError
    from mednet_cli.stack import Stack, default_data_dir

    existing = Stack(default_data_dir())
    if existing.settings_file.exists() and not existing.secure and existing.is_running():
        env = existing.environment
        yield Infrastructure(env["KAFKA_BOOTSTRAP_SERVERS"], env["MONGODB_URL"], f"native stack in {existing.data_dir}",
                             existing.data_dir)
        return
    data_dir = Path(tempfile.mkdtemp(prefix="mednet-test-stack-"))
    stack = Stack(data_dir, kafka_port=free_port(), kafka_controller_port=free_port(), mongo_port=free_port())
    try:
        stack.up(on_step=lambda step: print(f"[infrastructure] {step}", flush=True))
    except StackError as error:
        stack.down()
        raise InfrastructureMissing(f"the native local stack could not start: {error}") from error
    try:
        env = stack.environment
        yield Infrastructure(env["KAFKA_BOOTSTRAP_SERVERS"], env["MONGODB_URL"], f"native stack in {data_dir}",
                             data_dir)
    finally:
        stack.down()
        shutil.rmtree(data_dir, ignore_errors=True)
