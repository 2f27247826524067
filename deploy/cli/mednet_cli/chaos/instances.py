"""Service instances as processes that can be started, SIGKILLed and started again."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..fleet import probe
from ..processes import ManagedProcess, free_port


@dataclass
class Instance:
    service: str
    index: int
    port: int
    run_dir: Path

    @property
    def name(self) -> str:
        return f"{self.service}-{self.index}"

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess(f"chaos-{self.name}", self.run_dir / "run", self.run_dir / "logs")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, environment: dict[str, str]) -> None:
        prefix = f"MEDNET_{self.service.upper()}_"
        command = [sys.executable, "-X", self.process.marker, "-m", f"mednet_{self.service}"]
        self.process.start(command, env={**environment, f"{prefix}HTTP_PORT": str(self.port)})

    def alive(self) -> bool:
        return self.process.pid() is not None

    def ready(self) -> bool:
        return probe(f"{self.url}/readyz", timeout=2)[0] == 200

    def kill(self) -> None:
        self.process.kill()

    def stop(self) -> None:
        self.process.stop(timeout=15)


def instances(services: dict[str, int], run_dir: Path) -> list[Instance]:
    return [Instance(service, n, free_port(), run_dir) for service, count in services.items() for n in range(count)]
