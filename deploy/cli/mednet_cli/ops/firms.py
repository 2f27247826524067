"""Firms on a secured cluster: provision (SCRAM user, topics, ACLs, HTTP token, webhook), list, revoke.

The registry (firms.json, 0600, next to the issuer's key file) says which firms exist and when they were added or
revoked; it never holds a password. A firm's Kafka password and token are printed once, by `firms add`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from mednet_shared.contracts.topics import Topics
from mednet_shared.contracts.values import utc_now
from mednet_shared.platform.auth import MAX_LIFETIME, Role
from mednet_shared.platform.kafka_security import KafkaSecurity

from ..files import read_json, write_private
from ..provision import StackError
from . import acls, kafka_admin
from .cluster import Cluster, kafka_answers
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
    protocol: str = "SASL_PLAINTEXT"
    mechanism: str = "SCRAM-SHA-512"

    @property
    def kafka_security(self) -> KafkaSecurity:
        return KafkaSecurity(self.protocol, self.mechanism, self.username, self.password)

    def settings(self) -> dict[str, str]:
        shown = {"bootstrap.servers": self.bootstrap, "security.protocol": self.protocol,
                 "sasl.mechanism": self.mechanism, "sasl.username": self.username, "sasl.password": self.password,
                 "produce to": Topics.firm_inbound(self.firm_id), "consume from": Topics.firm_outbound(self.firm_id),
                 "consumer group prefix": acls.group_prefix(self.firm_id), "HTTP bearer token": self.token}
        if self.webhook:
            shown |= {"webhook endpoint": self.webhook["endpoint_id"], "webhook url": self.webhook["url"],
                      "webhook signing secret": self.webhook["secret"]}
        return shown


def registry(path: Path) -> dict[str, dict]:
    return read_json(path)


def add(cluster: Cluster, issuer: Issuer, registry_file: Path, firm_id: str, token_days: int = 30,
        webhook_url: str | None = None, notify_url: str = "http://127.0.0.1:8104") -> FirmAccess:
    """Running it again for the same firm gives it a new password and a new token signing key: that is how a
    firm's credentials are rotated (its earlier tokens fail once the services refresh the JWKS, within a minute)."""
    Topics.firm_inbound(firm_id)
    kafka_admin.require_secure(cluster, f"the cluster at {cluster.bootstrap}")
    if not 1 <= token_days <= MAX_TOKEN_DAYS:
        raise StackError(f"a firm token lives 1 to {MAX_TOKEN_DAYS} days, not {token_days}")
    username, password = acls.firm_user(firm_id), secrets.token_urlsafe(24)
    issuer.add_firm(firm_id)
    token = issuer.issue(Role.FIRM, firm_id=firm_id, ttl=timedelta(days=token_days))
    webhook = _register_webhook(token, webhook_url, notify_url) if webhook_url else None
    kafka_admin.run_admin(cluster, [f"user-upsert\t{username}\t{password}",
                                    *kafka_admin.topic_lines(acls.firm_topics(firm_id), cluster),
                                    *(acl.line() for acl in acls.firm_acls(firm_id))])
    access = FirmAccess(firm_id, cluster.bootstrap, username, password, token, webhook,
                        cluster.security.protocol, cluster.security.mechanism)
    _wait_until_login_works(access, cluster.security.cafile)
    entries = registry(registry_file)
    entries[firm_id] = {"firm_id": firm_id, "kafka_user": username, "added_at": utc_now().isoformat(),
                        "token_expires_in_days": token_days, "webhook_url": webhook_url, "revoked_at": None}
    write_private(registry_file, entries)
    return access


def revoke(cluster: Cluster, issuer: Issuer, registry_file: Path, firm_id: str) -> list[str]:
    """Drop the firm's token signing key from the JWKS (its tokens fail within a minute), delete its SCRAM user
    and every ACL naming it or its topics; the topics and their data stay."""
    Topics.firm_inbound(firm_id)
    kafka_admin.require_secure(cluster, f"the cluster at {cluster.bootstrap}")
    issuer.revoke_firm(firm_id)
    principal = f"User:{acls.firm_user(firm_id)}"
    operations = [f"user-delete\t{acls.firm_user(firm_id)}", f"acl-delete-principal\t{principal}"]
    operations += [f"acl-delete\t{a.resource}\t{a.pattern}\t{a.name}\tUser:{a.user}"
                   for a in acls.firm_acls(firm_id) if a.user != acls.firm_user(firm_id)]
    done = ["\t".join(row) for row in kafka_admin.run_admin(cluster, operations)]
    entries = registry(registry_file)
    if firm_id in entries:
        entries[firm_id]["revoked_at"] = utc_now().isoformat()
        write_private(registry_file, entries)
    return done


def _wait_until_login_works(access: FirmAccess, cafile: str = "", timeout: float = 20.0) -> None:
    security = KafkaSecurity(access.protocol, access.mechanism, access.username, access.password, cafile)
    deadline = time.monotonic() + timeout
    while not kafka_answers(access.bootstrap, 3.0, security):
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
