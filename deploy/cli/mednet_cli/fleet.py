"""The four services run as local processes against the local stack, each recorded by PID."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .processes import ManagedProcess, port_is_free
from .provision import StackError

SERVICES = {"intake": 8101, "scheduling": 8102, "notes": 8103, "notify": 8104}


def probe(url: str, timeout: float = 3.0) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except (OSError, ValueError):
        return 0, {}


@dataclass
class ServiceProcess:
    name: str
    port: int
    data_dir: Path

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess(f"service-{self.name}", self.data_dir / "run", self.data_dir / "logs")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, environment: dict[str, str]) -> bool:
        if self.process.pid() is not None:
            return False
        if not port_is_free(self.port):
            raise StackError(f"port {self.port} for the {self.name} service is taken by another process")
        prefix = f"MEDNET_{self.name.upper()}_"
        command = [sys.executable, "-X", self.process.marker, "-m", f"mednet_{self.name}"]
        self.process.start(command, env={**environment, f"{prefix}HTTP_PORT": str(self.port)})
        return True

    def wait_ready(self, timeout: float = 60.0) -> None:
        self.process.wait_until(lambda: probe(f"{self.url}/readyz")[0] == 200, timeout, "ready")

    def status(self) -> dict:
        code, body = probe(f"{self.url}/readyz", timeout=5)
        return {"component": self.name, "pid": self.process.pid(), "port": self.port, "ready": code == 200,
                "detail": body, "log": str(self.process.log_file)}


def fleet(data_dir: Path) -> list[ServiceProcess]:
    return [ServiceProcess(name, port, data_dir) for name, port in SERVICES.items()]


def start_all(data_dir: Path, environment: dict[str, str], timeout: float = 60.0) -> dict[str, bool]:
    services = fleet(data_dir)
    started = {service.name: service.start(environment) for service in services}
    deadline = time.monotonic() + timeout
    for service in services:
        service.wait_ready(max(1.0, deadline - time.monotonic()))
    return started


def stop_all(data_dir: Path) -> dict[str, bool]:
    return {service.name: service.process.stop(timeout=15) for service in fleet(data_dir)}
