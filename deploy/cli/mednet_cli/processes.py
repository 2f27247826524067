"""Background processes recorded by PID file: start, find, stop, never orphaned."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .provision import StackError


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def port_frees(port: int, within: float = 5.0) -> bool:
    """Whether the port is free now or within a few seconds: a process just killed, or a client's connection
    attempt to a port nobody listens on (the kernel may connect it to itself), holds it for a moment."""
    deadline = time.monotonic() + within
    while not port_is_free(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class ManagedProcess:
    """One long-running process whose PID lives in run_dir/<name>.pid and output in log_dir/<name>.log."""

    name: str
    run_dir: Path
    log_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    @property
    def marker(self) -> str:
        return f"mednet.process={self.run_dir.resolve()}/{self.name}"

    def pid(self) -> int | None:
        """The recorded PID if that process is alive and is still ours (not a reused PID)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        for _ in range(10):  # a process in the middle of exec() briefly shows an empty or foreign command line
            if not self._alive(pid):
                return None
            if self.marker in self._cmdline(pid):
                return pid
            time.sleep(0.05)
        return None

    @staticmethod
    def _cmdline(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""

    def start(self, command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        """Start command with the marker in its environment-visible command line."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        return process.pid

    def wait_until(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        started = int(self.pid_file.read_text())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive(started):
                raise StackError(f"{self.name} exited while starting; last lines of {self.log_file}:\n{self.tail()}")
            if ready():
                return
            time.sleep(0.2)
        raise StackError(f"{self.name} did not become {what} within {timeout:.0f}s; see {self.log_file}:\n{self.tail()}")

    def stop(self, timeout: float = 20.0) -> bool:
        """SIGTERM the process group, SIGKILL after timeout. True if something was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self._signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.1)
        if self._alive(pid):
            self._signal_group(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True

    def kill(self) -> None:
        """SIGKILL at once, as a crash would."""
        pid = self.pid()
        if pid is not None:
            self._signal_group(pid, signal.SIGKILL)
            while self._alive(pid):
                time.sleep(0.05)

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    @staticmethod
    def _signal_group(pid: int, sig: int) -> None:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return not stat.split(") ", 1)[-1].startswith("Z")
