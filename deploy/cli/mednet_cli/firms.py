"""Firms on the local secured stack: ops.firms with the stack's cluster, its issuer and firms.json in its data
directory."""

from __future__ import annotations

from pathlib import Path

from mednet_shared.platform.auth import TokenPolicy

from . import kafka_acls
from .ops import firms
from .ops.firms import FirmAccess
from .tokens import Issuer


def registry_file(data_dir: Path) -> Path:
    return Path(data_dir) / "firms.json"


def registry(data_dir: Path) -> dict[str, dict]:
    return firms.registry(registry_file(data_dir))


def add(stack, firm_id: str, token_days: int = 30, webhook_url: str | None = None,
        notify_url: str = "http://127.0.0.1:8104") -> FirmAccess:
    return firms.add(kafka_acls.cluster(stack), Issuer(stack.data_dir), registry_file(stack.data_dir), firm_id,
                     token_days, webhook_url, notify_url)


def revoke(stack, firm_id: str) -> list[str]:
    return firms.revoke(kafka_acls.cluster(stack), Issuer(stack.data_dir), registry_file(stack.data_dir), firm_id)


def token_policy(data_dir: Path) -> TokenPolicy:
    """How the local stack's services verify the tokens its issuer signs (the JWKS it publishes)."""
    return Issuer(data_dir).verifier()
