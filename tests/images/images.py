"""The service images built by `make images`, and containers run from them with buildah (chroot isolation, the
host's network), configured by environment alone."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(path.parent.name for path in (ROOT / "services").glob("*/Dockerfile"))
BUILD_HINT = "run `make images` (deploy/images/build.sh)"


def image(service: str) -> str:
    return f"localhost/mednet-{service}:local"


def buildah(*arguments: str, timeout: float = 120) -> str:
    found = shutil.which("buildah")
    assert found, "buildah is not installed: run `make tools` (deploy/tools/install-tools.sh)"
    done = subprocess.run([found, *arguments], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"buildah {' '.join(arguments)}: {done.stderr.strip()}"
    return done.stdout


def inspect(service: str) -> dict:
    found = subprocess.run(["buildah", "inspect", "--type", "image", image(service)], capture_output=True, text=True)
    assert found.returncode == 0, f"no image {image(service)}: {BUILD_HINT}"
    return json.loads(found.stdout)


def config(service: str) -> dict:
    """The image's Docker config: User, Env, Cmd, ExposedPorts, Healthcheck, Labels."""
    return inspect(service)["Docker"]["config"]


@contextmanager
def mounted(service: str):
    """The image's root filesystem, read through a throwaway working container."""
    container = buildah("from", "--pull-never", "--name", f"mednet-test-{service}-{uuid.uuid4().hex[:8]}",
                        image(service)).strip()
    try:
        yield Path(buildah("mount", container).strip())
    finally:
        subprocess.run(["buildah", "umount", container], capture_output=True)
        subprocess.run(["buildah", "rm", container], capture_output=True)


class Container:
    """`buildah run` of the image's own CMD with only `environment` set. buildah answers SIGTERM by killing its
    child, so stop() signals the service's process itself, as a container runtime does with PID 1."""

    def __init__(self, service: str, environment: dict[str, str], log: Path) -> None:
        self.service, self.log = service, log
        self.name = buildah("from", "--pull-never", "--name", f"mednet-test-{service}-{uuid.uuid4().hex[:8]}",
                            image(service)).strip()
        variables = [argument for name, value in environment.items() for argument in ("--env", f"{name}={value}")]
        self.buildah = subprocess.Popen(
            ["buildah", "run", "--isolation", "chroot", "--network", "host", *variables, self.name, "--",
             *config(service)["Cmd"]], stdout=log.open("wb"), stderr=subprocess.STDOUT)

    def process(self, timeout: float = 20) -> psutil.Process:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for child in psutil.Process(self.buildah.pid).children(recursive=True):
                try:
                    if f"mednet_{self.service}" in child.cmdline() and "python" in child.name():
                        return child
                except psutil.NoSuchProcess:
                    continue
            assert self.buildah.poll() is None, f"{self.service} exited {self.buildah.returncode}: {self.output()}"
            time.sleep(0.1)
        raise AssertionError(f"no mednet_{self.service} process under buildah run: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self, timeout: float = 15) -> tuple[int, float]:
        started = time.monotonic()
        if self.buildah.poll() is None:
            self.process().send_signal(signal.SIGTERM)
        code = self.buildah.wait(timeout=timeout)
        return code, time.monotonic() - started

    def remove(self) -> None:
        if self.buildah.poll() is None:
            for child in psutil.Process(self.buildah.pid).children(recursive=True):
                child.kill()
            self.buildah.kill()
            self.buildah.wait(timeout=10)
        subprocess.run(["buildah", "rm", self.name], capture_output=True)
