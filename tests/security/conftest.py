"""A secured stack of the security tests' own (SASL/SCRAM-SHA-512, StandardAuthorizer, no ACL = denied) on free
ports in a temporary directory, with two firms provisioned the way `mednet firms add` does it. The plaintext
session stack of the rest of the suite is not touched."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from mednet_cli import firms
from mednet_cli.firms import FirmAccess
from mednet_cli.processes import free_port
from mednet_cli.stack import Stack


@dataclass
class SecureStack:
    stack: Stack
    firm_a: FirmAccess
    firm_b: FirmAccess

    @property
    def bootstrap(self) -> str:
        return self.stack.bootstrap


@pytest.fixture(scope="session")
def secure() -> SecureStack:
    data_dir = Path(tempfile.mkdtemp(prefix="mednet-secure-stack-"))
    stack = Stack(data_dir, kafka_port=free_port(), kafka_controller_port=free_port(), mongo_port=free_port(),
                  brokers=1, security="scram")
    try:
        stack.up(on_step=lambda step: print(f"[secure stack] {step}", flush=True))
        suffix = uuid.uuid4().hex[:6]
        yield SecureStack(stack, firms.add(stack, f"alpha-{suffix}"), firms.add(stack, f"beta-{suffix}"))
    finally:
        stack.down()
        shutil.rmtree(data_dir, ignore_errors=True)
