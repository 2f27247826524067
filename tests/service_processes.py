"""The services as real processes on the tests' broker and database, each with its own port, database and group."""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mednet_cli.fleet import probe
from mednet_cli.processes import free_port
from services_harness import TEST_JWT_ENVIRONMENT, TEST_NOTES_KEY, link_settings, skip_history


OWN_SECRETS = {"scheduling": lambda port: link_settings(f"http://127.0.0.1:{port}"),
               "notes": lambda port: {k: v for k, v in link_settings().items() if k != "public_url"}}
"""What a service refuses to start without (it fails closed), beyond what every one needs."""


def start_service(name: str, kafka: str, mongodb_url: str, log: Path, jwt: dict[str, str] | None = None,
                  port: int | None = None, **settings: str) -> tuple[subprocess.Popen, str]:
    """`settings` are extra MEDNET_<NAME>_* variables, e.g. inbound_topic_pattern=...; `jwt` the MEDNET_JWT_*
    variables (default: the tests' HS256 key set; {} for none at all); `port` one chosen beforehand (another
    service's settings name it)."""
    port = port or free_port()
    prefix = f"MEDNET_{name.upper()}_"
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("MEDNET_JWT_")},
        **(TEST_JWT_ENVIRONMENT if jwt is None else jwt),
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "MONGODB_URL": mongodb_url,
        f"{prefix}HTTP_PORT": str(port),
        f"{prefix}READY_TIMEOUT_SECONDS": "1",
        f"{prefix}MONGODB_DATABASE": f"mednet_{name}_{port}",
        "MEDNET_NOTES_ENCRYPTION_KEY": TEST_NOTES_KEY,
        f"{prefix}CONSUMER_GROUP_ID": f"test-{name}-{port}",
        **{f"{prefix}{key.upper()}": value for key, value in OWN_SECRETS.get(name, lambda _: {})(port).items()},
        **{f"{prefix}{key.upper()}": value for key, value in settings.items()},
    }
    consumes = getattr(importlib.import_module(f"mednet_{name}.app"), "CONSUMES", [])
    if consumes:
        asyncio.run(skip_history(kafka, f"test-{name}-{port}", consumes))
    process = subprocess.Popen([sys.executable, "-m", f"mednet_{name}"], env=env, stdout=log.open("wb"),
                               stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def wait_status(url: str, expected: int, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    code, body = 0, {}
    while time.monotonic() < deadline:
        code, body = probe(f"{url}/readyz", timeout=5)
        if code == expected:
            return body
        time.sleep(0.2)
    raise AssertionError(f"{url}/readyz stayed {code} {body}, expected {expected}")


def terminate(process: subprocess.Popen) -> tuple[int, float]:
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=15)
    return code, time.monotonic() - started
