"""Signed webhooks (Standard Webhooks) that cannot be turned against the network notify runs in.

At registration and again at every delivery the host is resolved and every address it resolves to is vetted:
loopback, private, link-local, CGNAT, unique-local, multicast, reserved, unspecified and the IPv6 forms that
embed such an IPv4 address (mapped, NAT64, 6to4, Teredo) are refused. The request then goes to the vetted
address itself, with TLS SNI and certificate verification on the hostname, so a DNS answer that changes
between the check and the connect is never followed. https only; http (to loopback only) behind a local
setting. No redirects, one deadline for the whole delivery, and at most max_response_bytes of the answer read.
The firm learns only "delivered", "HTTP <status>", "refused address", "timed out" or "connection failed".
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from standardwebhooks import Webhook

from mednet_shared.contracts.envelope import CONTENT_TYPE
from mednet_shared.contracts.values import utc_now

from .errors import DeliveryError

log = logging.getLogger("mednet.notify.webhooks")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedWebhook(ValueError):
    """The URL or an address its host resolves to may not be delivered to; the message says why."""


async def resolve(host: str, port: int) -> list[str]:
    """The host's addresses, usable ones first (an address family this machine has no address of is left out)."""
    with contextlib.suppress(ValueError):
        return [str(ipaddress.ip_address(host))]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_ADDRCONFIG)
    return list(dict.fromkeys(info[4][0] for info in infos))


def refusal(address: Address, allow_loopback: bool = False) -> str | None:
    """Why this address may not be delivered to, or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None,
                    ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None]
        for inner in filter(None, embedded):
            if (reason := refusal(inner)) is not None:
                return f"{reason} (embedded in IPv6)"
        if address.scope_id:
            return "scoped"
    if address.is_loopback:
        return None if allow_loopback else "loopback"
    for reason in ("unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{reason}"):
            return reason.replace("_", "-")
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if not address.is_global:
        return "not globally routable"
    return None


class WebhookSender:
    def __init__(self, *, allow_loopback_http: bool = False, deadline_seconds: float = 10.0,
                 max_response_bytes: int = 64 * 1024, resolver: Resolver = resolve,
                 verify: ssl.SSLContext | bool = True) -> None:
        self.allow_loopback_http = allow_loopback_http
        self.deadline_seconds, self.max_response_bytes = deadline_seconds, max_response_bytes
        self.resolver = resolver
        self.client = httpx.AsyncClient(
            timeout=deadline_seconds, follow_redirects=False, trust_env=False, verify=verify,
            limits=httpx.Limits(max_keepalive_connections=0))

    async def aclose(self) -> None:
        await self.client.aclose()

    async def vet(self, url: str) -> tuple[httpx.URL, str]:
        """The URL and the address to deliver it to; RefusedWebhook if there is none allowed."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as error:
            raise RefusedWebhook(f"not a URL: {error}") from None
        local_http = parsed.scheme == "http" and self.allow_loopback_http
        if parsed.scheme != "https" and not local_http:
            raise RefusedWebhook("only https:// webhook URLs are accepted")
        host = parsed.raw_host.decode("ascii")
        if not host:
            raise RefusedWebhook("the URL has no host")
        try:
            found = await self.resolver(host, parsed.port or (443 if parsed.scheme == "https" else 80))
        except (OSError, UnicodeError) as error:
            raise RefusedWebhook(f"{host} does not resolve") from error
        if not found:
            raise RefusedWebhook(f"{host} does not resolve")
        for text in found:
            address = ipaddress.ip_address(text)
            reason = refusal(address, allow_loopback=self.allow_loopback_http)
            if reason is None and local_http and not address.is_loopback:
                reason = "not loopback (http is accepted only to loopback, on a local stack; use https)"
            if reason is not None:
                raise RefusedWebhook(f"{host} resolves to a {reason} address, which webhooks may not reach")
        return parsed, found[0]

    async def send(self, endpoint: dict[str, Any], secret: str, message_id: str, payload: str) -> int:
        timestamp = utc_now()
        headers = {"webhook-id": message_id, "webhook-timestamp": str(int(timestamp.timestamp())),
                   "webhook-signature": Webhook(secret).sign(message_id, timestamp, payload),
                   "content-type": CONTENT_TYPE}  # a structured CloudEvent, per the CloudEvents HTTP binding
        try:
            async with asyncio.timeout(self.deadline_seconds):
                url, address = await self.vet(endpoint["url"])
                status = await self._post(url, address, headers, payload)
        except RefusedWebhook as error:
            log.warning("webhook %s refused: %s", endpoint["_id"], error)
            raise DeliveryError("refused address") from None
        except TimeoutError:
            raise DeliveryError(f"timed out after {self.deadline_seconds:g} s") from None
        except httpx.HTTPError as error:
            log.info("webhook %s: %s: %s", endpoint["_id"], type(error).__name__, error)
            raise DeliveryError("connection failed") from None
        if 300 <= status < 400:
            raise DeliveryError(f"HTTP {status} (redirects are not followed)")
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status}")
        return status

    async def _post(self, url: httpx.URL, address: str, headers: dict[str, str], payload: str) -> int:
        """POST to the vetted address; the Host header, SNI and certificate check keep the hostname. At most
        max_response_bytes of the answer are read; the connection is closed after."""
        headers = {**headers, "host": url.netloc.decode("ascii")}
        extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
        request = self.client.build_request("POST", url.copy_with(host=address), content=payload,
                                            headers=headers, extensions=extensions)
        response = await self.client.send(request, stream=True)
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= self.max_response_bytes:
                    break
        finally:
            await response.aclose()
        return response.status_code
