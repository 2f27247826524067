"""A firm's webhook cannot reach the network notify runs in: every forbidden address class is refused when the
endpoint is registered and again at each delivery (after a DNS change too), before any connection is made; a
delivery connects to the address it vetted, with TLS verified on the hostname; redirects are not followed.

Every TCP connect of the HTTP client is instrumented: a connect to anything but loopback is recorded and
stopped before a packet leaves (traffic to private ranges is forbidden on this machine). DNS is a patched
resolver, never the real one."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl

import httpcore
import pytest

from kafka_helpers import as_record, produce, wait_for
from mednet_notify.dispatch import DeliveryError, WebhookSender
from mednet_shared.contracts.envelope import new_event
from mednet_shared.contracts.events import CaseRejected
from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role
from receivers import WebhookReceiver, self_signed
from services_harness import client, running, settings_for

FORBIDDEN = {
    "loopback": "127.0.0.1", "loopback elsewhere in 127/8": "127.8.9.10", "loopback v6": "::1",
    "10/8": "10.1.2.3", "172.16/12": "172.20.0.5", "192.168/16": "192.168.1.10",
    "cloud metadata": "169.254.169.254", "CGNAT 100.64/10": "100.64.1.1", "unique-local fc00::/7": "fd12:3456::1",
    "link-local fe80::/10": "fe80::1", "multicast v4": "224.0.0.251", "multicast v6": "ff02::1",
    "unspecified": "0.0.0.0", "unspecified v6": "::", "IPv4-mapped loopback": "::ffff:127.0.0.1",
    "IPv4-mapped private": "::ffff:10.0.0.1", "NAT64 of private": "64:ff9b::a00:1",
    "6to4 of private": "2002:a00:1::1", "broadcast": "255.255.255.255", "reserved 240/4": "240.0.0.1",
}
PUBLIC = "8.8.8.8"


def url_of(address: str, scheme: str = "https") -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}/hook"


class Connects:
    """Every connect_tcp of httpcore: recorded; anything but loopback stopped before it is made."""

    def __init__(self, monkeypatch) -> None:
        self.seen: list[str] = []
        original = httpcore.AnyIOBackend.connect_tcp

        async def connect_tcp(backend, host, port, *args, **kwargs):
            self.seen.append(host)
            if not loopback(host):
                raise httpcore.ConnectError(f"test: stopped a connect to {host} before it was made")
            return await original(backend, host, port, *args, **kwargs)

        monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", connect_tcp)


class Dns:
    """The patched resolver: names to the addresses the test says."""

    def __init__(self, **names: str) -> None:
        self.names = dict(names)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host in self.names:
            return [self.names[host]]
        ipaddress.ip_address(host)
        return [host]


def loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def connects(monkeypatch) -> Connects:
    return Connects(monkeypatch)


def notify_settings(infrastructure, unique, **overrides):
    return settings_for("notify", infrastructure, unique, webhook_max_endpoints_per_firm=100, **overrides)


async def test_registration_refuses_every_forbidden_address_class_without_connecting(infrastructure, unique,
                                                                                     connects):
    dns = Dns(**{"internal.example.test": "10.0.0.7", "localhost.example.test": "127.0.0.1",
                 "mapped.example.test": "::ffff:169.254.169.254"})
    async with running("notify", notify_settings(infrastructure, unique)) as notify:
        notify.state.notifier.dispatcher.webhooks.resolver = dns
        async with client(notify, Role.FIRM, firm_id=f"firm-{unique}") as firm:
            answers = {name: await firm.post("/v1/webhooks", json={"url": url_of(address)})
                       for name, address in FORBIDDEN.items()}
            for name in dns.names:
                answers[name] = await firm.post("/v1/webhooks", json={"url": f"https://{name}/hook"})
            answers["http to a public host"] = await firm.post("/v1/webhooks", json={"url": url_of(PUBLIC, "http")})
            answers["http to loopback, local setting off"] = await firm.post(
                "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"})
            listed = (await firm.get("/v1/webhooks")).json()
    accepted = {name: answer.status_code for name, answer in answers.items() if answer.status_code != 422}
    assert accepted == {}, f"accepted: {accepted}"
    assert listed == []
    assert "private" in answers["internal.example.test"].text and "https" in answers["http to a public host"].text
    assert connects.seen == [], "registration never connects"


async def test_delivery_to_every_forbidden_address_class_is_refused_before_connecting(infrastructure, unique,
                                                                                     connects):
    async with running("notify", notify_settings(infrastructure, unique)) as notify:
        store, sender = notify.state.notifier.store, notify.state.notifier.dispatcher.webhooks
        sender.resolver = Dns(**{"internal.example.test": "192.168.0.1"})
        outcomes = {}
        for name, url in [*((n, url_of(a)) for n, a in FORBIDDEN.items()),
                          ("name of a private address", "https://internal.example.test/hook")]:
            endpoint = await store.endpoints.find_one(
                {"_id": (await store.register_endpoint(f"firm-{unique}", url))["_id"]})
            with pytest.raises(DeliveryError) as refused:
                await sender.send(endpoint, store.signing_secret(endpoint), "msg-1", "{}")
            outcomes[name] = str(refused.value)
    assert {name: outcome for name, outcome in outcomes.items() if outcome != "refused address"} == {}
    assert connects.seen == [], "no forbidden address was connected to"


async def test_a_dns_change_after_registration_is_caught_at_delivery(infrastructure, kafka, unique, connects):
    firm_id = f"firm-{unique}"
    dns = Dns(**{"hooks.example.test": PUBLIC})
    settings = notify_settings(infrastructure, unique, delivery_max_attempts=1)
    async with running("notify", settings) as notify:
        notify.state.notifier.dispatcher.webhooks.resolver = dns
        store = notify.state.notifier.store
        async with client(notify, Role.FIRM, firm_id=firm_id) as firm:
            registered = await firm.post("/v1/webhooks", json={"url": "https://hooks.example.test/hook"})
            assert registered.status_code == 201, registered.text
            dns.names["hooks.example.test"] = "10.9.8.7"
            rebound = new_event(case_rejected(unique, firm_id), source="/tests")
            await produce(kafka, Topics.INTAKE, [as_record(rebound)])
            job = await finished_job(store, rebound.id)
            dns.names["hooks.example.test"] = PUBLIC
            await produce(kafka, Topics.INTAKE, [as_record(new_event(case_rejected(f"{unique}b", firm_id),
                                                                     source="/tests"))])
            await wait_for(lambda: connects.seen, timeout=20)
            listed = (await firm.get("/v1/webhooks")).json()
    assert job["status"] == "failed" and [a["error"] for a in job["attempts"]] == ["refused address"]
    assert set(connects.seen) == {PUBLIC}, "only the vetted public address was ever connected to (and stopped here)"
    assert dns.asked.count("hooks.example.test") >= 3, "resolved at registration and at each delivery"
    assert set(listed[0]) == {"endpoint_id", "firm_id", "url", "enabled", "consecutive_failures"}, "no error text"


async def test_redirects_are_not_followed_and_count_as_failures(infrastructure, unique, connects):
    with WebhookReceiver() as hooks:
        settings = notify_settings(infrastructure, unique, webhook_allow_loopback_http=True)
        async with running("notify", settings) as notify:
            store, sender = notify.state.notifier.store, notify.state.notifier.dispatcher.webhooks
            created = await store.register_endpoint(f"firm-{unique}", f"{hooks.url}/redirect/169.254.169.254")
            endpoint = await store.endpoint(created["_id"])
            with pytest.raises(DeliveryError, match="HTTP 307"):
                await sender.send(endpoint, store.signing_secret(endpoint), "msg-1", "{}")
    assert len(hooks.to("/redirect/")) == 1 and connects.seen == ["127.0.0.1"]


async def test_loopback_http_works_only_behind_the_local_setting(infrastructure, unique, connects):
    with WebhookReceiver() as hooks:
        settings = notify_settings(infrastructure, unique, webhook_allow_loopback_http=True)
        async with running("notify", settings) as notify:
            notify.state.notifier.dispatcher.webhooks.resolver = Dns(**{"private.example.test": "10.0.0.1"})
            async with client(notify, Role.FIRM, firm_id=f"firm-{unique}") as firm:
                local = await firm.post("/v1/webhooks", json={"url": f"{hooks.url}/ok/a"})
                elsewhere = await firm.post("/v1/webhooks", json={"url": url_of("10.0.0.1", "http")})
                named = await firm.post("/v1/webhooks", json={"url": "http://private.example.test/hook"})
                mapped = await firm.post("/v1/webhooks", json={"url": url_of("::ffff:10.0.0.1", "http")})
    assert local.status_code == 201, local.text
    assert (elsewhere.status_code, named.status_code, mapped.status_code) == (422, 422, 422)
    assert connects.seen == []


async def test_the_vetted_address_is_used_with_sni_and_certificate_checked_on_the_hostname(tmp_path, connects):
    certificate = self_signed(tmp_path, dns_names=["hooks.example.test"])
    with WebhookReceiver(tls=certificate) as hooks:
        port = hooks.server.server_address[1]
        trusted = ssl.create_default_context(cafile=str(certificate[0]))
        sender = WebhookSender(allow_loopback_http=True, verify=trusted,
                               resolver=Dns(**{"hooks.example.test": "127.0.0.1", "other.example.test": "127.0.0.1"}))
        endpoint = {"_id": "ep-1", "url": f"https://hooks.example.test:{port}/ok/a"}
        assert await sender.send(endpoint, "whsec_" + "A" * 32, "msg-1", "{}") == 200
        with pytest.raises(DeliveryError, match="^connection failed$"):
            await sender.send({"_id": "ep-2", "url": f"https://other.example.test:{port}/ok/b"},
                              "whsec_" + "A" * 32, "msg-2", "{}")
        await sender.aclose()
    assert connects.seen == ["127.0.0.1", "127.0.0.1"], "connected to the vetted address, not by name"
    assert hooks.server_names[:2] == ["hooks.example.test", "other.example.test"], "SNI carries the hostname"
    assert [(d.path, d.headers["host"]) for d in hooks.deliveries] == [("/ok/a", f"hooks.example.test:{port}")]


def case_rejected(unique: str, firm_id: str) -> CaseRejected:
    """A firm's event the scheduling service ignores (other tests' services share the broker)."""
    return CaseRejected(case_id=f"case-{unique}", firm_id=firm_id, external_ref=f"hook-{unique}",
                        reasons=[{"field": "", "message": "test"}])


async def finished_job(store, source_event_id: str, timeout: float = 20.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            job = await store.jobs.find_one({"source_event_id": source_event_id, "channel": "webhook",
                                             "status": {"$in": ["sent", "failed"]}})
            if job:
                return job
            await asyncio.sleep(0.1)
