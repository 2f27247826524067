"""The four services and the console run as local processes against the local stack, each recorded by PID."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import smtp_sink as smtp_sink_module
from .files import read_json, write_private
from .kafka_acls import credentials, service_user
from .processes import ManagedProcess, port_answers, port_is_free
from .provision import StackError
from .tokens import Issuer, secrets_file

SERVICES = {"intake": 8101, "scheduling": 8102, "notes": 8103, "notify": 8104}
CONSOLE_PORT = 8105
"""The console: web pages over the four services' HTTP APIs (no Kafka, so not among SERVICES)."""
SMTP_SINK_PORT = 2525


# what a service started here verifies is the local issuer's JWKS, never an HS256 key set the caller's
# environment holds (a service refuses to start with both)
NO_INHERITED_KEY_SET = {"MEDNET_JWT_KEYS": "", "MEDNET_JWT_ACTIVE_KID": ""}
# the local runs (demo, chaos) play a mediator who completes each call at once, before the time it was booked for
PLAYED_MEDIATOR = {"MEDNET_SCHEDULING_COMPLETE_BEFORE_START": "true"}


def _new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def local_secrets(data_dir: Path) -> dict[str, str]:
    """The services' settings from the local stack's secrets, made once and kept (mode 0600) in the data directory:
    the notes master key set and notify's key for webhook secrets (each with its active id, so either can be
    rotated by editing the file), and where the JWKS of the stack's token issuer is. The issuer's private keys
    are in the same file (section jwt_issuer) and never in what this returns."""
    path = secrets_file(data_dir)
    values = read_json(path)
    made = {"MEDNET_NOTES_MASTER_KEYS": lambda: json.dumps({"m1": _new_key()}), "MEDNET_NOTES_MASTER_KEY_ID": "m1",
            "MEDNET_NOTIFY_SECRET_KEYS": lambda: json.dumps({"s1": _new_key()}), "MEDNET_NOTIFY_SECRET_KEY_ID": "s1",
            "MEDNET_SCHEDULING_LINK_KEYS": lambda: json.dumps({"l1": _new_key()}),
            "MEDNET_SCHEDULING_LINK_ACTIVE_KID": "l1"}
    changed = False
    if not any(key.startswith("MEDNET_") for key in values):
        values |= {key: value() if callable(value) else value for key, value in made.items()}
        changed = True
    if "MEDNET_SCHEDULING_LINK_KEYS" not in values:   # a file from before offers' signed links gets their key
        values |= {key: value() if callable(value) else value for key, value in made.items()
                   if key.startswith("MEDNET_SCHEDULING_LINK_")}
        changed = True
    for retired in ("MEDNET_JWT_KEYS", "MEDNET_JWT_ACTIVE_KID", "MEDNET_JWT_SECRET"):
        changed = values.pop(retired, None) is not None or changed
    if changed:
        write_private(path, values)
    policy = Issuer(data_dir).verifier()
    service = {key: value for key, value in values.items() if key.startswith("MEDNET_")}
    sides = {"MEDNET_NOTES_LINK_KEYS": values["MEDNET_SCHEDULING_LINK_KEYS"],   # notes verifies a side's link
             "MEDNET_NOTES_LINK_ACTIVE_KID": values["MEDNET_SCHEDULING_LINK_ACTIVE_KID"]}
    return service | sides | {"MEDNET_JWT_JWKS_URL": policy.jwks_url, "MEDNET_SCHEDULING_CONSOLE_URL": console_url(),
                      "MEDNET_SCHEDULING_PUBLIC_URL": os.environ.get("MEDNET_SCHEDULING_PUBLIC_URL",
                                                                     "http://127.0.0.1:8102")}


def console_url() -> str:
    return os.environ.get("MEDNET_CONSOLE_PUBLIC_URL", f"http://127.0.0.1:{CONSOLE_PORT}")


def console_environment() -> dict[str, str]:
    """The local console: the local services' addresses, and one-time sign-in links (`mednet console login`)."""
    return {"MEDNET_CONSOLE_PUBLIC_URL": console_url(), "MEDNET_CONSOLE_LOGIN_LINKS": "true",
            **{f"MEDNET_CONSOLE_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in SERVICES.items()}}


def mail_dir(data_dir: Path) -> Path:
    return data_dir / "mail"


def smtp_sink(data_dir: Path) -> ManagedProcess:
    return ManagedProcess("smtp-sink", data_dir / "run", data_dir / "logs")


def start_smtp_sink(data_dir: Path, port: int = SMTP_SINK_PORT) -> bool:
    sink = smtp_sink(data_dir)
    if sink.pid() is not None:
        return False
    if not port_is_free(port):
        raise StackError(f"port {port} for the local SMTP sink is taken by another process")
    sink.start([sys.executable, "-X", sink.marker, "-m", "mednet_cli.smtp_sink",
                *smtp_sink_module.command("127.0.0.1", port, mail_dir=mail_dir(data_dir))])
    sink.wait_until(lambda: port_answers(port), 20, "listening")
    return True


def service_environment(data_dir: Path, stack_environment: dict[str, str]) -> dict[str, str]:
    environment = {**NO_INHERITED_KEY_SET, **PLAYED_MEDIATOR, **stack_environment, **local_secrets(data_dir),
                   "MEDNET_NOTIFY_SMTP_PORT": str(SMTP_SINK_PORT), "MEDNET_NOTIFY_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
                   **console_environment()}
    if stack_environment.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT") != "PLAINTEXT":
        passwords = credentials(data_dir)
        for name in SERVICES:
            environment[f"MEDNET_{name.upper()}_KAFKA_SASL_USERNAME"] = service_user(name)
            environment[f"MEDNET_{name.upper()}_KAFKA_SASL_PASSWORD"] = passwords[service_user(name)]
    return environment


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
    instance: int = 0

    @property
    def process(self) -> ManagedProcess:
        suffix = f"-{self.instance}" if self.instance else ""
        return ManagedProcess(f"service-{self.name}{suffix}", self.data_dir / "run", self.data_dir / "logs")

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
    return [ServiceProcess(name, port, data_dir) for name, port in {**SERVICES, "console": CONSOLE_PORT}.items()]


def start_all(data_dir: Path, stack_environment: dict[str, str], timeout: float = 60.0) -> dict[str, bool]:
    services = fleet(data_dir)
    started = {"smtp-sink": start_smtp_sink(data_dir)}
    environment = service_environment(data_dir, stack_environment)
    started |= {service.name: service.start(environment) for service in services}
    deadline = time.monotonic() + timeout
    for service in services:
        service.wait_ready(max(1.0, deadline - time.monotonic()))
    return started


def stop_all(data_dir: Path) -> dict[str, bool]:
    stopped = {service.name: service.process.stop(timeout=15) for service in fleet(data_dir)}
    return stopped | {"smtp-sink": smtp_sink(data_dir).stop()}
