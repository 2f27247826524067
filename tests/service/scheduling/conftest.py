"""The scheduling service on its in-memory store: handlers called directly, the HTTP API through ASGI; no Kafka,
no MongoDB."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI
from scheduling_kit import MEDIATOR, Clock

from mednet_scheduling import api
from mednet_scheduling.config import Settings
from mednet_scheduling.handlers import SchedulingHandlers
from mednet_scheduling.links import Links
from mednet_scheduling.memory_store import MemorySchedulingStore
from mednet_scheduling.usecases import Scheduler
from mednet_shared.platform import http
from mednet_shared.platform.auth import Role, runtime_policy
from mednet_shared.platform.cas import CasPolicy
from mednet_shared.platform.keyset import KeySet
from services_harness import client, jwt_settings


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> MemorySchedulingStore:
    return MemorySchedulingStore()


LINK_KEYS = KeySet.secrets('{"l1": "a-test-link-key-of-at-least-32-characters"}', "l1", "MEDNET_SCHEDULING_LINK_KEYS")


@pytest.fixture
def scheduler(store, clock) -> Scheduler:
    return Scheduler(store, clock, CasPolicy(attempts=5, backoff_seconds=0, backoff_max_seconds=0),
                     links=Links(LINK_KEYS, "https://scheduling.test"))


@pytest.fixture
def handlers(scheduler) -> SchedulingHandlers:
    return SchedulingHandlers(scheduler)


@pytest.fixture
def app(scheduler) -> FastAPI:
    application = FastAPI()
    application.state.runtime = SimpleNamespace(settings=Settings(**jwt_settings()), token_policy=None)
    application.state.scheduler = scheduler
    application.include_router(api.router)
    http.install(application, "scheduling", runtime_policy, 256 * 1024)
    return application


@pytest.fixture
def as_mediator(app):
    def make(mediator_id: str = MEDIATOR, role: Role = Role.MEDIATOR, **claims) -> httpx.AsyncClient:
        return client(app, role, **({"mediator_id": mediator_id} if role is Role.MEDIATOR else claims))
    return make

