"""Firms on a secured stack: provision (SCRAM user, topics, ACLs, HTTP token, webhook), list, revoke.

The registry is firms.json in the stack's data directory (0600): which firms exist and when they were added or
revoked; it never holds a password. A firm's Kafka password and token are printed once, by `firms add`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform.auth import MAX_LIFETIME, Role, TokenPolicy
from mednet_shared.platform.kafka_security import KafkaSecurity

from . import kafka_acls
from .fleet import write_private
from .provision import StackError
from .stack import Stack, kafka_answers
from .tokens import Issuer

MAX_TOKEN_DAYS = int(MAX_LIFETIME[Role.FIRM].days)


@dataclass(frozen=True)
class FirmAccess:
    firm_id: str
    bootstrap: str
    username: str
    password: str = field(repr=False)
    token: str = field(repr=False)
    webhook: dict | None = field(default=None, repr=False)

    @property
    def kafka_security(self) -> KafkaSecurity:
        return KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", self.username, self.password)

    def settings(self) -> dict[str, str]:
        shown = {"bootstrap.servers": self.bootstrap, "security.protocol": "SASL_PLAINTEXT",
                 "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": self.username, "sasl.password": self.password,
                 "produce to": Topics.firm_inbound(self.firm_id), "consume from": Topics.firm_outbound(self.firm_id),
                 "consumer group prefix": kafka_acls.group_prefix(self.firm_id), "HTTP bearer token": self.token}
        if self.webhook:
            shown |= {"webhook endpoint": self.webhook["endpoint_id"], "webhook url": self.webhook["url"],
                      "webhook signing secret": self.webhook["secret"]}
        return shown


def registry_file(data_dir: Path) -> Path:
    return data_dir / "firms.json"


def registry(data_dir: Path) -> dict[str, dict]:
    path = registry_file(data_dir)
    return json.loads(path.read_text()) if path.exists() else {}


def token_policy(data_dir: Path) -> TokenPolicy:
    """How the local stack's services verify the tokens its issuer signs (the JWKS it publishes)."""
    return Issuer(data_dir).verifier()


def add(stack: Stack, firm_id: str, token_days: int = 30, webhook_url: str | None = None,
        notify_url: str = "http://127.0.0.1:8104") -> FirmAccess:
    """Running it again for the same firm gives it a new password and a new token signing key: that is how a
    firm's credentials are rotated (its earlier tokens fail once the services refresh the JWKS, within a minute)."""
    Topics.firm_inbound(firm_id)
    kafka_acls.require_secure(stack)
    if not 1 <= token_days <= MAX_TOKEN_DAYS:
        raise StackError(f"a firm token lives 1 to {MAX_TOKEN_DAYS} days, not {token_days}")
    username, password = kafka_acls.firm_user(firm_id), secrets.token_urlsafe(24)
    issuer = Issuer(stack.data_dir)
    issuer.add_firm(firm_id)
    token = issuer.issue(Role.FIRM, firm_id=firm_id, ttl=timedelta(days=token_days))
    webhook = _register_webhook(token, webhook_url, notify_url) if webhook_url else None
    kafka_acls.run_admin(stack, [f"user-upsert\t{username}\t{password}",
                                 *kafka_acls.topic_lines(kafka_acls.firm_topics(firm_id), stack),
                                 *(acl.line() for acl in kafka_acls.firm_acls(firm_id))])
    access = FirmAccess(firm_id, stack.bootstrap, username, password, token, webhook)
    _wait_until_login_works(access)
    entries = registry(stack.data_dir)
    entries[firm_id] = {"firm_id": firm_id, "kafka_user": username, "added_at": utc_now().isoformat(),
                        "token_expires_in_days": token_days, "webhook_url": webhook_url, "revoked_at": None}
    write_private(registry_file(stack.data_dir), entries)
    return access


def revoke(stack: Stack, firm_id: str) -> list[str]:
    """Drop the firm's token signing key from the JWKS (its tokens fail within a minute), delete its SCRAM user
    and every ACL naming it or its topics; the topics and their data stay."""
    Topics.firm_inbound(firm_id)
    Issuer(stack.data_dir).revoke_firm(firm_id)
    principal = f"User:{kafka_acls.firm_user(firm_id)}"
    operations = [f"user-delete\t{kafka_acls.firm_user(firm_id)}", f"acl-delete-principal\t{principal}"]
    operations += [f"acl-delete\t{a.resource}\t{a.pattern}\t{a.name}\tUser:{a.user}"
                   for a in kafka_acls.firm_acls(firm_id) if a.user != kafka_acls.firm_user(firm_id)]
    done = ["\t".join(row) for row in kafka_acls.run_admin(stack, operations)]
    entries = registry(stack.data_dir)
    if firm_id in entries:
        entries[firm_id]["revoked_at"] = utc_now().isoformat()
        write_private(registry_file(stack.data_dir), entries)
    return done


def _wait_until_login_works(access: FirmAccess, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not kafka_answers(access.bootstrap, 3.0, access.kafka_security):
        if time.monotonic() > deadline:
            raise StackError(f"the new Kafka user {access.username} cannot log in after {timeout:.0f}s")
        time.sleep(0.5)


def _register_webhook(token: str, url: str, notify_url: str) -> dict:
    import httpx

    async def register() -> httpx.Response:
        """Notify may not know the firm's new key yet: it looks again for an unknown kid after a few seconds."""
        deadline = time.monotonic() + 10
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                response = await http.post(f"{notify_url}/v1/webhooks", json={"url": url},
                                           headers={"Authorization": f"Bearer {token}"})
                if response.status_code != 401 or "unknown key id" not in response.text or time.monotonic() > deadline:
                    return response
                await asyncio.sleep(1)

    try:
        response = asyncio.run(register())
    except httpx.HTTPError as error:
        raise StackError(f"notify at {notify_url} did not answer ({error}); start it (`mednet up`) or leave out "
                         f"--webhook-url and register later with POST /v1/webhooks") from None
    if response.status_code != 201:
        raise StackError(f"notify refused the webhook ({response.status_code}): {response.text}")
    return response.json()
