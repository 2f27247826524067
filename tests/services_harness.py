"""The services in-process on the real broker and database, each test with its own databases and groups."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI

from mednet_shared.platform.auth import Role, issue_token


def settings_for(service: str, infrastructure, unique: str, **overrides):
    """Own databases and groups; firm inbound topics limited to the test's own firms (ids containing unique)."""
    config = importlib.import_module(f"mednet_{service}.config")
    if "inbound_topic_pattern" in config.Settings.model_fields:
        overrides.setdefault("inbound_topic_pattern", rf"mednet\.firm\.[a-z0-9-]*{unique}[a-z0-9-]*\.inbound$")
    return config.Settings(
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
        mongodb_url=infrastructure.mongodb_url,
        mongodb_database=f"t_{unique}_{service}",
        consumer_group_id=f"t-{unique}-{service}",
        outbox_sweep_seconds=1.0,
        retry_backoff_seconds=0.05,
        **overrides,
    )


@asynccontextmanager
async def running(service: str, settings) -> AsyncIterator[FastAPI]:
    app = importlib.import_module(f"mednet_{service}.app").build(settings)
    runtime = app.state.runtime
    await runtime.start()
    try:
        await asyncio.wait_for(runtime.connected.wait(), 60)
        yield app
    finally:
        await runtime.stop()


@asynccontextmanager
async def services(infrastructure, unique: str, *names: str, instances: dict[str, int] | None = None):
    """Start the named services; `instances` runs several copies of one (same group, same database)."""
    async with AsyncExitStack() as stack:
        apps: dict[str, list[FastAPI]] = {}
        for name in names:
            for _ in range((instances or {}).get(name, 1)):
                settings = settings_for(name, infrastructure, unique)
                apps.setdefault(name, []).append(await stack.enter_async_context(running(name, settings)))
        yield apps


def client(app: FastAPI, role: Role, **claims) -> httpx.AsyncClient:
    token = issue_token(app.state.runtime.settings.jwt_secret, role, **claims)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service",
                             headers={"Authorization": f"Bearer {token}"})
