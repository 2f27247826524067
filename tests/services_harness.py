"""The services in-process on the real broker and database, each test with its own databases and groups."""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
import warnings
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from urllib.parse import urlparse

import httpx
from fastapi import FastAPI

from mednet_shared.contracts.topics import Topics
from mednet_shared.platform.auth import Role, TokenPolicy, issue_token


TEST_NOTES_KEY = "bWVkbmV0LXRlc3Qta2V5LW9mLTMyLWJ5dGVzLWxvbiE="
TEST_SECRET_KEYS = '{"s1": "bWVkbmV0LXRlc3Qtd2ViaG9vay1zZWNyZXRzLWtleSE="}'
TEST_JWT_KEYS = json.dumps({"test-1": secrets.token_urlsafe(32)})
TEST_JWT_ENVIRONMENT = {"MEDNET_JWT_KEYS": TEST_JWT_KEYS, "MEDNET_JWT_ACTIVE_KID": "test-1"}


TEST_LINK_KEYS = '{"l1": "tests-only-offer-link-key-0123456789abcdef"}'


def link_settings(public_url: str = "http://scheduling.test") -> dict[str, str]:
    """What scheduling refuses to start without: the offer links' key set, its active key, the links' base URL."""
    return {"link_keys": TEST_LINK_KEYS, "link_active_kid": "l1", "public_url": public_url}


def console_settings(base: str = "http://127.0.0.1:1") -> dict:
    """What the console refuses to start without: its public URL, the services' addresses, a way to sign in."""
    return {"public_url": "http://console.test", "login_links": True,
            **{f"{name}_url": base for name in ("intake", "scheduling", "notes", "notify")}}


def settings_for(service: str, infrastructure, unique: str, **overrides):
    """Own databases and groups; firm inbound topics limited to the test's own firms (ids containing unique)."""
    config = importlib.import_module(f"mednet_{service}.config")
    if "encryption_key" in config.Settings.model_fields:
        overrides.setdefault("encryption_key", TEST_NOTES_KEY)
    if "smtp_port" in config.Settings.model_fields:
        overrides.setdefault("poll_seconds", 0.3)
        overrides.setdefault("secret_keys", TEST_SECRET_KEYS)
    if "link_keys" in config.Settings.model_fields:
        overrides = {**link_settings(), **overrides}
    if "login_links" in config.Settings.model_fields:
        overrides = {**console_settings(), **overrides}
    if "inbound_topic_pattern" in config.Settings.model_fields:
        overrides.setdefault("inbound_topic_pattern", rf"mednet\.firm\.[a-z0-9-]*{unique}[a-z0-9-]*\.inbound$")
    jwt = {"jwt_jwks_url": "", "jwt_secret": ""} if "jwt_keys" in overrides else \
        jwt_settings(overrides.get("jwt_jwks_url", ""))
    overrides = {**jwt, **overrides}
    return config.Settings(
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        mongodb_url=infrastructure.mongodb_url,
        mongodb_database=f"t_{unique}_{service}",
        consumer_group_id=f"t-{unique}-{service}",
        outbox_sweep_seconds=1.0,
        retry_backoff_seconds=0.05,
        **overrides,
    )


async def skip_history(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit the topics' current end offsets for a new group, so a test's services start from now and do not
    replay every earlier test's events (a new group otherwise starts from the earliest offset)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from mednet_shared.platform.kafka import ensure_topics

    await ensure_topics(bootstrap, topics)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await consumer.stop()


@asynccontextmanager
async def running(service: str, settings, from_now: bool = True) -> AsyncIterator[FastAPI]:
    module = importlib.import_module(f"mednet_{service}.app")
    if from_now and getattr(module, "CONSUMES", None):
        await skip_history(settings.kafka_bootstrap_servers, settings.consumer_group, module.CONSUMES)
        if service == "scheduling":   # its second subscription, to notify's InvitationReplied
            await skip_history(settings.kafka_bootstrap_servers, f"{settings.consumer_group}-replies",
                               [Topics.NOTIFY])
    app = module.build(settings)
    runtime = app.state.runtime
    await runtime.start()
    try:
        await asyncio.wait_for(runtime.connected.wait(), 60)
        yield app
    finally:
        await stopped(service, runtime)


STOP_SECONDS = 45.0


async def stopped(service: str, runtime) -> None:
    """The runtime's shutdown, bounded: a step hung past STOP_SECONDS (its name is in the log) is abandoned with a
    warning, as the deployed process's shutdown deadline would, instead of holding the test until its timeout."""
    try:
        await asyncio.wait_for(runtime.stop(), STOP_SECONDS)
    except TimeoutError:
        warnings.warn(f"{service}: shutdown did not finish within {STOP_SECONDS:.0f}s (see the log for the step)",
                      stacklevel=2)


@asynccontextmanager
async def services(infrastructure, unique: str, *names: str, instances: dict[str, int] | None = None,
                   overrides: dict[str, dict] | None = None):
    """Start the named services; `instances` runs several copies of one (same group, same database); `overrides`
    are settings per service."""
    async with AsyncExitStack() as stack:
        apps: dict[str, list[FastAPI]] = {}
        for name in names:
            for copy in range((instances or {}).get(name, 1)):
                settings = settings_for(name, infrastructure, unique, **(overrides or {}).get(name, {}))
                app = await stack.enter_async_context(running(name, settings, from_now=copy == 0))
                apps.setdefault(name, []).append(app)
        yield apps


def jwt_settings(jwks_url: str = "") -> dict[str, str]:
    """The tests' HS256 key set; or a JWKS (with no key set), e.g. the one a local stack's issuer publishes."""
    if jwks_url:
        return {"jwt_jwks_url": jwks_url, "jwt_keys": "", "jwt_active_kid": "", "jwt_secret": ""}
    return {"jwt_keys": TEST_JWT_KEYS, "jwt_active_kid": "test-1", "jwt_jwks_url": "", "jwt_secret": ""}


def token_for(app: FastAPI, role: Role, **claims) -> str:
    """A token the in-process app accepts: from the tests' key set, or from the local issuer whose JWKS file the
    app reads (a firm new to that issuer gets a key, and the app reads the JWKS again at once)."""
    runtime = app.state.runtime
    settings = runtime.settings
    if not settings.jwt_jwks_url:
        return issue_token(TokenPolicy.of(settings), role, **claims)
    from mednet_cli.tokens import Issuer

    parsed = urlparse(settings.jwt_jwks_url)
    assert parsed.scheme == "file", f"the tests can only issue for a local issuer's JWKS file: {parsed.geturl()}"
    issuer = Issuer(Path(parsed.path).parent)
    if role is Role.FIRM and issuer.ensure_firm(claims["firm_id"]):
        runtime.token_policy = None
    return issuer.issue(role, **claims)


def client(app: FastAPI, role: Role, **claims) -> httpx.AsyncClient:
    token = token_for(app, role, **claims)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service",
                             headers={"Authorization": f"Bearer {token}"})


@asynccontextmanager
async def all_four(infrastructure, unique: str, smtp_port: int) -> AsyncIterator[dict[str, FastAPI]]:
    """intake, scheduling, notes and notify in this process, notify sending to the given SMTP port and allowed to
    call a loopback webhook receiver."""
    notify = {"smtp_port": smtp_port, "webhook_allow_loopback_http": True}
    async with AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(running(name, settings_for(
            name, infrastructure, unique, **(notify if name == "notify" else {}))))
               for name in ("intake", "scheduling", "notes", "notify")}


async def register_webhooks(notify: FastAPI, url: str, firms) -> dict[str, str]:
    """Each firm registers `<url>/ok/<firm>`; returns each firm's signing secret."""
    secrets_of = {}
    for firm in firms:
        async with client(notify, Role.FIRM, firm_id=firm) as firm_client:
            registered = await firm_client.post("/v1/webhooks", json={"url": f"{url}/ok/{firm}"})
            assert registered.status_code == 201, registered.text
            secrets_of[firm] = registered.json()["secret"]
    return secrets_of
